//! A bare Pingora proxy (only `upstream_peer`), the yardstick for what Tollgate adds on top of
//! Pingora. `bare_proxy LISTEN UPSTREAM`, one worker thread. Used by perf/run.sh.

use async_trait::async_trait;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;
use std::net::SocketAddr;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

struct Bare(SocketAddr);

#[async_trait]
impl ProxyHttp for Bare {
    type CTX = ();
    fn new_ctx(&self) {}
    async fn upstream_peer(&self, _s: &mut Session, _c: &mut ()) -> Result<Box<HttpPeer>> {
        let mut p = HttpPeer::new(self.0, false, String::new());
        p.options.idle_timeout = Some(std::time::Duration::from_secs(55));
        Ok(Box::new(p))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(listen), Some(up)) = (args.get(1), args.get(2).and_then(|u| u.parse().ok())) else {
        eprintln!("usage: bare_proxy LISTEN UPSTREAM_IP:PORT");
        std::process::exit(2);
    };
    let conf = ServerConf {
        threads: 1,
        work_stealing: std::env::var("WORK_STEALING").is_ok(),
        ..Default::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut svc = http_proxy_service(&server.configuration, Bare(up));
    svc.add_tcp(listen);
    server.add_service(svc);
    server.run_forever();
}
