//! `tollgate`: Amazon API Gateway semantics on Pingora. The command line only; see `server`.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tollgate::metrics::Metrics;
use tollgate::server;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Amazon API Gateway, on your own machines"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the configuration.
    Run {
        #[arg(short, long)]
        config: PathBuf,
        /// Run in the background.
        #[arg(long)]
        daemon: bool,
        /// Take the listeners over from a running instance (then send it SIGQUIT).
        #[arg(long)]
        upgrade: bool,
    },
    /// Validate the configuration: exit 0 if valid, else 1 with one `FILE:LINE:COL: message` per problem.
    Check {
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Print the route table.
    Routes {
        #[arg(short, long)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run {
            config,
            daemon,
            upgrade,
        } => server::run(config, daemon, upgrade),
        Command::Check { config } => match server::load(&config, &Metrics::new()) {
            Ok(_) => {
                println!("{}: ok", config.display());
                0
            }
            Err(diags) => {
                for d in diags {
                    println!("{d}");
                }
                1
            }
        },
        Command::Routes { config } => match server::load(&config, &Metrics::new()) {
            Ok((_, snapshot)) => {
                print!("{}", snapshot.routes());
                0
            }
            Err(diags) => {
                for d in diags {
                    eprintln!("{d}");
                }
                1
            }
        },
    };
    ExitCode::from(code as u8)
}
