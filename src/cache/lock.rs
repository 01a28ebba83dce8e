//! The cache lock: concurrent misses on one key reach the integration once. The first
//! becomes the filler; the others wait until it stores the response (or gives up), then look
//! again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How long a request waits in all for fillers of its key before calling the integration
/// itself: API Gateway's 29 s integration timeout and a second for the filler to store.
pub const WAIT: Duration = Duration::from_secs(30);

const SHARDS: usize = 16;

/// Keys being filled, each with the receiver its waiters clone.
type Filling = Mutex<HashMap<Box<[u8]>, watch::Receiver<()>>>;

#[derive(Default)]
pub struct FillLocks {
    shards: [Filling; SHARDS],
}

/// The outcome of asking for a key's lock.
pub enum Fill {
    /// This request fills the entry; waiters are released when the guard drops.
    Filler(FillGuard),
    /// Another request is filling it.
    Wait(watch::Receiver<()>),
}

/// Held by the filling request.
pub struct FillGuard {
    locks: Arc<FillLocks>,
    key: Box<[u8]>,
    _done: watch::Sender<()>,
}

impl Drop for FillGuard {
    fn drop(&mut self) {
        if let Ok(mut shard) = self.locks.shard(&self.key).lock() {
            shard.remove(&self.key);
        }
        // Dropping the sender wakes every waiter.
    }
}

impl FillLocks {
    fn shard(&self, key: &[u8]) -> &Filling {
        let h = key
            .iter()
            .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(*b as usize));
        &self.shards[h % SHARDS]
    }

    pub fn acquire(self: &Arc<Self>, key: &[u8]) -> Fill {
        let Ok(mut shard) = self.shard(key).lock() else {
            // A poisoned lock map only loses the collapsing of misses.
            let (tx, _) = watch::channel(());
            return Fill::Filler(FillGuard {
                locks: self.clone(),
                key: Box::from(&[][..]),
                _done: tx,
            });
        };
        if let Some(rx) = shard.get(key) {
            return Fill::Wait(rx.clone());
        }
        let (tx, rx) = watch::channel(());
        shard.insert(key.into(), rx);
        Fill::Filler(FillGuard {
            locks: self.clone(),
            key: key.into(),
            _done: tx,
        })
    }
}

/// Waits until the filler is done (true) or `deadline` has passed (false).
pub async fn wait(mut rx: watch::Receiver<()>, deadline: Instant) -> bool {
    tokio::time::timeout_at(deadline, async { while rx.changed().await.is_ok() {} })
        .await
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_filler_per_key_waiters_released_on_drop() {
        let locks = Arc::new(FillLocks::default());
        let Fill::Filler(guard) = locks.acquire(b"k") else {
            panic!("first is the filler")
        };
        let Fill::Wait(rx) = locks.acquire(b"k") else {
            panic!("second waits")
        };
        assert!(matches!(locks.acquire(b"other"), Fill::Filler(_)));
        let waiter = tokio::spawn(wait(rx, Instant::now() + WAIT));
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(guard);
        let done = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert!(done, "released by the filler, not the deadline");
        assert!(matches!(locks.acquire(b"k"), Fill::Filler(_)));
    }
}
