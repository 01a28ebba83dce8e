//! API keys, usage plans, throttling and quotas (reference aws-security-cache-ws.md §5–6).
//! Everything is resolved at load: each stage holds the API keys valid on it with their plan's
//! token buckets and quota counter, and its own per-method buckets from `methodSettings`. A
//! request takes tokens and counts with atomics only; with `server.redis`, from the node's
//! leases on the fleet's shared budgets ([`shared`], [`lease`], [`fleet`]), Redis being asked
//! only when a lease runs low.

pub mod bucket;
pub mod fleet;
pub mod lease;
pub mod plans;
pub mod quota;
pub mod shared;
pub mod store;

pub use plans::{admit, ApiKeyGrant, Limits, QuotaMode, Refusal, StageLimits};
pub use shared::Shared;
pub use store::Usage;
