//! Tollgate: Amazon API Gateway (REST APIs) re-implemented on Cloudflare Pingora.
//!
//! Data flows one way: configuration (`config`) → compiled snapshot (`compile`) → request
//! pipeline (`pipeline`, `integrations`, `responses`) → Pingora adapter (`proxy`, `server`).
//! Policy modules do not touch Pingora and are unit-tested without sockets.

pub mod access_log;
pub mod auth;
pub mod cache;
pub mod client;
pub mod compile;
pub mod config;
pub mod functions;
pub mod ids;
pub mod integrations;
pub mod mapping;
pub mod metrics;
pub mod pipeline;
pub mod proxy;
pub mod responses;
pub mod router;
pub mod server;
pub mod throttle;
pub mod utc;
pub mod validation;
pub mod vtl;
