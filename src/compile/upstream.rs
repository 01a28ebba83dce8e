//! A resolved HTTP_PROXY upstream: the endpoint of one stage and the Pingora peer to reach it.

use super::Resolver;
use crate::integrations::http::{Endpoint, HttpProxy};
use pingora::upstreams::peer::HttpPeer;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// Upstream connections idle longer than this are closed (below common backend keep-alives).
const POOL_IDLE: Duration = Duration::from_secs(55);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A host name looked up while compiling: (host, port, address), re-checked periodically.
pub type HostLookup = (String, u16, SocketAddr);

pub struct Upstream {
    pub endpoint: Endpoint,
    /// Cloned for each request; every timeout set.
    pub peer: HttpPeer,
    /// The `Host` header for the backend, validated once.
    pub host: http::HeaderValue,
    pub addr: SocketAddr,
    /// `timeoutInMillis`.
    pub timeout: Duration,
}

impl Upstream {
    /// Builds the upstream for a stage. Returns the host lookup made, if the host was a name.
    pub fn new(
        proxy: &HttpProxy,
        variables: &BTreeMap<String, String>,
        resolve: Resolver,
    ) -> Result<(Upstream, Option<HostLookup>), String> {
        let endpoint = proxy.endpoint(variables)?;
        Upstream::to(
            endpoint,
            proxy.timeout,
            proxy.insecure_skip_verification,
            resolve,
        )
    }

    /// The upstream for an endpoint: its address resolved and every timeout set.
    pub fn to(
        endpoint: Endpoint,
        timeout: Duration,
        insecure_skip_verification: bool,
        resolve: Resolver,
    ) -> Result<(Upstream, Option<HostLookup>), String> {
        let (addr, lookup) = match endpoint.host.parse::<std::net::IpAddr>() {
            Ok(ip) => (SocketAddr::new(ip, endpoint.port), None),
            Err(_) => {
                let a = resolve(&endpoint.host, endpoint.port)?;
                (a, Some((endpoint.host.clone(), endpoint.port, a)))
            }
        };
        let mut peer = HttpPeer::new(addr, endpoint.tls, endpoint.host.clone());
        let o = &mut peer.options;
        o.connection_timeout = Some(CONNECT_TIMEOUT.min(timeout));
        o.total_connection_timeout = Some(CONNECT_TIMEOUT.min(timeout));
        o.read_timeout = Some(timeout);
        o.write_timeout = Some(timeout);
        o.idle_timeout = Some(POOL_IDLE);
        if insecure_skip_verification {
            o.verify_cert = false;
            o.verify_hostname = false;
        }
        let host = http::HeaderValue::from_str(&endpoint.authority)
            .map_err(|_| format!("`{}` is not a valid Host header", endpoint.authority))?;
        Ok((
            Upstream {
                endpoint,
                peer,
                host,
                addr,
                timeout,
            },
            lookup,
        ))
    }
}
