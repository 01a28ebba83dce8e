//! A stage's cache storage: entries bounded in bytes (key, headers and body), each with its
//! own expiry. Entries of `cacheDataEncrypted` methods are held only as AES-256-GCM
//! ciphertext.
//!
//! Entries and their recency order are split into [`SHARDS`] shards by key hash, the same
//! index in both, so a hit locks one shard only. Each shard is a strict LRU; when a new entry
//! would exceed the budget, the least recently used entry of the longer of two random shards
//! goes first (pingora-lru's eviction), which approximates one global LRU.

use super::seal::{Sealed, Sealer};
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use pingora_lru::Lru;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Shards of the entry maps and of the recency order.
pub const SHARDS: usize = 16;
/// A hit on an entry among this many most recently used ones of its shard leaves the order
/// alone: hot entries cost a shared read of the order, not a write.
const PROMOTE_BELOW_TOP: usize = 4;
/// Per-entry bookkeeping counted against the budget besides key, headers and body.
const ENTRY_OVERHEAD: usize = 128;

/// A stored method response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedResponse {
    pub status: u16,
    /// Checked once when stored (see [`header`]): a hit writes them as they are.
    pub headers: Vec<(Bytes, HeaderValue)>,
    pub body: Bytes,
}

/// A response header to store: its name as written (case kept), when it is a valid header
/// name and `value` a valid value.
pub fn header(name: &str, value: &[u8]) -> Option<(Bytes, HeaderValue)> {
    HeaderName::from_bytes(name.as_bytes()).ok()?;
    let value = HeaderValue::from_bytes(value).ok()?;
    Some((Bytes::copy_from_slice(name.as_bytes()), value))
}

impl CachedResponse {
    fn encode(&self) -> Vec<u8> {
        let size = 8
            + self.body.len()
            + self
                .headers
                .iter()
                .map(|(k, v)| 8 + k.len() + v.len())
                .sum::<usize>();
        let mut out = Vec::with_capacity(size + super::seal::TAG_BYTES);
        out.extend_from_slice(&self.status.to_le_bytes());
        out.extend_from_slice(&(self.headers.len() as u32).to_le_bytes());
        for (k, v) in &self.headers {
            for part in [&k[..], v.as_bytes()] {
                out.extend_from_slice(&(part.len() as u32).to_le_bytes());
                out.extend_from_slice(part);
            }
        }
        out.extend_from_slice(&self.body);
        out
    }

    fn decode(mut b: &[u8]) -> Option<CachedResponse> {
        fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
            let (head, rest) = (b.get(..n)?, b.get(n..)?);
            *b = rest;
            Some(head)
        }
        fn u32_of(b: &mut &[u8]) -> Option<usize> {
            Some(u32::from_le_bytes(take(b, 4)?.try_into().ok()?) as usize)
        }
        let status = u16::from_le_bytes(take(&mut b, 2)?.try_into().ok()?);
        let count = u32_of(&mut b)?;
        let mut headers = Vec::with_capacity(count.min(256));
        for _ in 0..count {
            let k = u32_of(&mut b)?;
            let k = std::str::from_utf8(take(&mut b, k)?).ok()?;
            let v = u32_of(&mut b)?;
            headers.push(header(k, take(&mut b, v)?)?);
        }
        Some(CachedResponse {
            status,
            headers,
            body: Bytes::copy_from_slice(b),
        })
    }

    fn weight(&self) -> usize {
        self.body.len()
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len() + 16)
                .sum::<usize>()
    }
}

enum Data {
    Plain(Arc<CachedResponse>),
    /// Shared so a hit takes a reference under the shard lock and decrypts after it.
    Sealed(Arc<Sealed>),
}

struct Slot {
    key: Box<[u8]>,
    /// Distinguishes this insertion from an earlier one under the same hash.
    generation: u64,
    expires: Instant,
    data: Data,
}

pub struct Store {
    shards: Box<[Mutex<HashMap<u64, Slot>>]>,
    /// Recency order and weights, sharded like `shards`; the value is (hash, generation).
    lru: Lru<(u64, u64), SHARDS>,
    generation: AtomicU64,
    sealer: Option<Sealer>,
    capacity: usize,
}

fn hash_of(key: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

impl Store {
    /// A store holding at most `capacity` bytes.
    pub fn new(capacity: usize) -> Store {
        Store {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            lru: Lru::with_capacity(capacity, 64),
            generation: AtomicU64::new(1),
            sealer: Sealer::generate(),
            capacity,
        }
    }

    /// The entries of `hash`'s shard: the same index pingora-lru gives its order
    /// (`hash % SHARDS`).
    fn shard(&self, hash: u64) -> &Mutex<HashMap<u64, Slot>> {
        &self.shards[(hash % SHARDS as u64) as usize]
    }

    /// The fresh entry under `key`; an expired one is removed.
    pub fn get(&self, key: &[u8], now: Instant) -> Option<Arc<CachedResponse>> {
        let hash = hash_of(key);
        let found = {
            let mut shard = self.shard(hash).lock().ok()?;
            let slot = shard.get(&hash)?;
            if &*slot.key != key {
                return None;
            }
            if slot.expires <= now {
                shard.remove(&hash);
                self.lru.remove(hash);
                return None;
            }
            match &slot.data {
                Data::Plain(r) => Ok(r.clone()),
                Data::Sealed(s) => Err(s.clone()),
            }
        };
        self.lru.promote_top_n(hash, PROMOTE_BELOW_TOP);
        match found {
            Ok(r) => Some(r),
            Err(sealed) => {
                let mut plain = self.sealer.as_ref()?.open(&sealed)?;
                let r = CachedResponse::decode(&plain);
                plain.fill(0);
                r.map(Arc::new)
            }
        }
    }

    /// Stores `response` under `key` until `expires`, evicting least recently used entries
    /// while the budget is exceeded. With `encrypt`, only ciphertext is kept. False when the
    /// entry could not be stored (larger than the whole budget, or no key to encrypt with).
    pub fn put(
        &self,
        key: &[u8],
        response: CachedResponse,
        expires: Instant,
        encrypt: bool,
    ) -> bool {
        let hash = hash_of(key);
        let (data, weight) = if encrypt {
            let Some(sealer) = &self.sealer else {
                return false;
            };
            let mut plain = response.encode();
            drop(response);
            let sealed = sealer.seal(std::mem::take(&mut plain));
            let Some(sealed) = sealed else { return false };
            let w = sealed.size();
            (Data::Sealed(Arc::new(sealed)), w)
        } else {
            let w = response.weight();
            (Data::Plain(Arc::new(response)), w)
        };
        let weight = weight + key.len() + ENTRY_OVERHEAD;
        if weight > self.capacity {
            return false;
        }
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        {
            let Ok(mut shard) = self.shard(hash).lock() else {
                return false;
            };
            shard.insert(
                hash,
                Slot {
                    key: key.into(),
                    generation,
                    expires,
                    data,
                },
            );
            self.lru.admit(hash, (hash, generation), weight);
        }
        for ((h, g), _) in self.lru.evict_to_limit() {
            if let Ok(mut shard) = self.shard(h).lock() {
                if shard.get(&h).is_some_and(|s| s.generation == g) {
                    shard.remove(&h);
                }
            }
        }
        true
    }

    /// Removes every entry (FlushStageCache).
    pub fn flush(&self) {
        for shard in self.shards.iter() {
            if let Ok(mut shard) = shard.lock() {
                for (h, _) in shard.drain() {
                    self.lru.remove(h);
                }
            }
        }
    }
}

#[cfg(test)]
impl Store {
    fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes held (as counted against the budget).
    fn bytes(&self) -> usize {
        self.lru.weight()
    }

    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |s| s.len()))
            .sum()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn resp(body: &[u8]) -> CachedResponse {
        CachedResponse {
            status: 200,
            headers: vec![header("Content-Type", b"application/json").unwrap()],
            body: Bytes::copy_from_slice(body),
        }
    }

    #[test]
    fn get_put_expire_flush() {
        let s = Store::new(1 << 20);
        let now = Instant::now();
        assert!(s.get(b"a", now).is_none());
        assert!(s.put(b"a", resp(b"one"), now + Duration::from_secs(5), false));
        assert_eq!(s.get(b"a", now).unwrap().body, "one");
        assert!(
            s.get(b"a", now + Duration::from_secs(5)).is_none(),
            "expired"
        );
        assert!(s.is_empty());
        assert!(s.put(b"b", resp(b"two"), now + Duration::from_secs(5), true));
        let got = s.get(b"b", now).unwrap();
        assert_eq!(*got, resp(b"two"));
        s.flush();
        assert!(s.get(b"b", now).is_none());
        assert_eq!(s.bytes(), 0);
    }

    /// `n` keys whose hashes fall in shard `shard`.
    fn keys_in_shard(shard: usize, n: usize) -> Vec<Vec<u8>> {
        (0u32..)
            .map(|i| i.to_le_bytes().to_vec())
            .filter(|k| (hash_of(k) % SHARDS as u64) as usize == shard)
            .take(n)
            .collect()
    }

    #[test]
    fn bounded_in_bytes_evicting_least_recently_used_of_a_shard() {
        let entry = 10_000;
        let s = Store::new(10 * (entry + 300));
        let later = Instant::now() + Duration::from_secs(60);
        let keys = keys_in_shard(3, 13);
        for (i, k) in keys.iter().take(10).enumerate() {
            assert!(s.put(k, resp(&vec![i as u8; entry]), later, i % 2 == 0));
        }
        assert_eq!(s.len(), 10);
        // Touch entry 0 (the shard's oldest, so the hit moves it), then add more: 1, 2, ...
        // go first.
        assert!(s.get(&keys[0], Instant::now()).is_some());
        for k in &keys[10..] {
            assert!(s.put(k, resp(&vec![0; entry]), later, false));
        }
        assert!(s.bytes() <= s.capacity());
        assert!(s.get(&keys[0], Instant::now()).is_some());
        assert!(s.get(&keys[1], Instant::now()).is_none());
        assert!(s.get(&keys[3], Instant::now()).is_none());
        assert!(s.get(&keys[4], Instant::now()).is_some());
        assert!(s.get(&keys[12], Instant::now()).is_some());
        assert!(!s.put(b"huge", resp(&vec![0; 200_000]), later, false));
    }

    #[test]
    fn entries_and_their_order_share_a_shard_index() {
        let entry = 1_000;
        let s = Store::new(100 * (entry + 300));
        let later = Instant::now() + Duration::from_secs(60);
        for i in 0..300u32 {
            assert!(s.put(&i.to_le_bytes(), resp(&vec![0; entry]), later, i % 3 == 0));
            assert!(s.bytes() <= s.capacity());
        }
        let newest = 299u32.to_le_bytes();
        assert!(
            s.get(&newest, Instant::now()).is_some(),
            "the newest is kept"
        );
        for (i, shard) in s.shards.iter().enumerate() {
            assert_eq!(s.lru.shard_len(i), shard.lock().unwrap().len(), "shard {i}");
        }
        assert!(s.len() < 300 && s.len() > 50);
    }

    #[test]
    fn encoding_round_trips() {
        let r = CachedResponse {
            status: 404,
            headers: vec![
                header("a", b"").unwrap(),
                header("X-Y", b"z,w\xff").unwrap(),
            ],
            body: Bytes::from_static(b"\x00\xffbody"),
        };
        assert_eq!(CachedResponse::decode(&r.encode()).unwrap(), r);
        assert!(CachedResponse::decode(&r.encode()[..5]).is_none());
    }

    #[test]
    fn headers_are_checked_when_stored_and_keep_their_case() {
        let (name, value) = header("X-Backend", b"yes").unwrap();
        assert_eq!(
            (&name[..], value.as_bytes()),
            (&b"X-Backend"[..], &b"yes"[..])
        );
        assert!(header("bad name", b"v").is_none());
        assert!(header("", b"v").is_none());
        assert!(header("x", b"line\r\nbreak").is_none());
    }
}
