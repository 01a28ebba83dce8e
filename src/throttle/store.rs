//! Durable usage counts: every (usage plan, API key) counter lives here for the life of the
//! process, so reloads keep them, and is written to `{stateDir}/usage.json` (at most once a
//! second, off the request path; write to a temporary file, fsync, rename), so restarts and
//! crashes keep them too, losing at most the last second of counts.

use super::quota::{Period, QuotaCounter};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const FILE: &str = "usage.json";

#[derive(Serialize, Deserialize, Default)]
struct Saved {
    counters: Vec<SavedCounter>,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
struct SavedCounter {
    plan: String,
    key: String,
    period: String,
    first: u64,
    number: u64,
    used: u64,
}

type Name = (String, String, &'static str);

/// The process-wide usage counters.
#[derive(Default)]
pub struct Usage {
    path: Option<PathBuf>,
    counters: Mutex<BTreeMap<Name, Arc<QuotaCounter>>>,
    /// What the file holds, to skip writes when nothing changed.
    written: Mutex<Vec<SavedCounter>>,
    /// Counts shared through Redis (`server.redis`).
    pub shared: Option<Arc<super::Shared>>,
}

impl Usage {
    /// Counters kept in memory only.
    pub fn ephemeral() -> Usage {
        Usage::default()
    }

    /// Counters stored under `state_dir`, restored from its file if there is one.
    pub fn open(state_dir: Option<&Path>) -> Usage {
        let Some(dir) = state_dir else {
            return Usage::default();
        };
        if let Err(e) = fs::create_dir_all(dir) {
            log::error!("state directory {}: {e}", dir.display());
        }
        let path = dir.join(FILE);
        let mut counters = BTreeMap::new();
        let mut written = Vec::new();
        match fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<Saved>(&bytes) {
                Ok(saved) => {
                    for c in saved.counters {
                        let Some(p) = Period::parse(&c.period) else {
                            continue;
                        };
                        counters.insert(
                            (c.plan.clone(), c.key.clone(), p.as_str()),
                            Arc::new(QuotaCounter::restored(c.first, c.number, c.used)),
                        );
                        written.push(c);
                    }
                }
                Err(e) => log::error!(
                    "{}: unreadable usage counts, starting at zero: {e}",
                    path.display()
                ),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => log::error!("{}: {e}", path.display()),
        }
        Usage {
            path: Some(path),
            counters: Mutex::new(counters),
            written: Mutex::new(written),
            shared: None,
        }
    }

    /// The counter of `key` in `plan` for quotas of `period` (made at load time, never on a
    /// request).
    pub fn counter(&self, plan: &str, key: &str, period: Period, now: u64) -> Arc<QuotaCounter> {
        let mut map = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        map.entry((plan.to_string(), key.to_string(), period.as_str()))
            .or_insert_with(|| Arc::new(QuotaCounter::new(now)))
            .clone()
    }

    /// Every counter with its Redis key for the current period, for reconciliation.
    pub fn pending(&self, now: std::time::SystemTime) -> Vec<(String, Period, Arc<QuotaCounter>)> {
        let map = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        map.iter()
            .filter(|(_, c)| c.unsynced() > 0)
            .filter_map(|((plan, key, unit), c)| {
                let p = Period::parse(unit)?;
                Some((
                    super::shared::redis_key(plan, key, p, p.number(now)),
                    p,
                    c.clone(),
                ))
            })
            .collect()
    }

    /// Writes the counts if they changed since the last write.
    pub fn flush(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let now: Vec<SavedCounter> = {
            let map = self.counters.lock().unwrap_or_else(|p| p.into_inner());
            map.iter()
                .map(|((plan, key, period), c)| {
                    let (number, used) = c.load();
                    SavedCounter {
                        plan: plan.clone(),
                        key: key.clone(),
                        period: (*period).to_string(),
                        first: c.first_period,
                        number,
                        used,
                    }
                })
                .collect()
        };
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        if *written == now {
            return Ok(());
        }
        let text = serde_json::to_vec(&Saved {
            counters: now.clone(),
        })
        .map_err(std::io::Error::other)?;
        let tmp = path.with_extension("json.tmp");
        {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, path)?;
        *written = now;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_survive_a_reopen() {
        let dir = std::env::temp_dir().join(format!("tollgate-usage-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let u = Usage::open(Some(&dir));
        let c = u.counter("basic", "partner", Period::Day, 100);
        assert!(c.try_take(100, 5));
        assert!(c.try_take(100, 5));
        // The same counter for the same plan, key and period unit.
        assert!(Arc::ptr_eq(
            &c,
            &u.counter("basic", "partner", Period::Day, 100)
        ));
        u.flush().unwrap();
        let again = Usage::open(Some(&dir));
        let c2 = again.counter("basic", "partner", Period::Day, 101);
        assert_eq!(c2.load(), (100, 2));
        assert_eq!(c2.first_period, 100);
        fs::write(dir.join(FILE), b"garbage").unwrap();
        let fresh = Usage::open(Some(&dir));
        assert_eq!(
            fresh.counter("basic", "partner", Period::Day, 7).load(),
            (7, 0)
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
