//! Request identifiers (AWS §7.3) from a thread-local generator: no syscall per request.
//!
//! Each thread seeds a xoshiro256++ generator once, from 32 bytes of `/dev/urandom`
//! mixed with std's per-thread OS-seeded `RandomState` (which alone suffices where
//! `/dev/urandom` is missing). The output is statistically unique, not cryptographically
//! unpredictable: never use it for secrets. A process forked after a thread has drawn an
//! id would repeat that thread's sequence in the child; fork before serving.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::io::Read;

thread_local! {
    static RNG: Cell<[u64; 4]> = Cell::new(seed());
}

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn seed() -> [u64; 4] {
    let mut key = [0u64; 4];
    let mut buf = [0u8; 32];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        if f.read_exact(&mut buf).is_ok() {
            for (k, chunk) in key.iter_mut().zip(buf.chunks_exact(8)) {
                let mut b = [0u8; 8];
                b.copy_from_slice(chunk);
                *k = u64::from_le_bytes(b);
            }
        }
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let thread = std::thread::current().id();
    for (i, k) in key.iter_mut().enumerate() {
        // Each RandomState::new() has distinct OS-derived keys.
        let mut h = RandomState::new().build_hasher();
        i.hash(&mut h);
        nanos.hash(&mut h);
        thread.hash(&mut h);
        std::process::id().hash(&mut h);
        *k ^= h.finish();
    }
    let mut state = [0u64; 4];
    for (s, k) in state.iter_mut().zip(key) {
        let mut x = k;
        *s = splitmix64(&mut x);
    }
    if state == [0; 4] {
        state[0] = 1; // xoshiro's one forbidden state
    }
    state
}

/// xoshiro256++ step.
fn next_u64() -> u64 {
    RNG.with(|cell| {
        let mut s = cell.get();
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        cell.set(s);
        result
    })
}

/// A request id: a UUID string, `$context.requestId` / `x-amzn-RequestId`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId([u8; 36]);

impl RequestId {
    /// Accepts a client-supplied UUID (`8-4-4-4-12` hex digits, any case, any version),
    /// as AWS does for an incoming `x-amzn-RequestId`; kept as given.
    pub fn parse(s: &str) -> Option<RequestId> {
        let b = s.as_bytes();
        if b.len() != 36 {
            return None;
        }
        let ok = b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
        let mut out = [0u8; 36];
        out.copy_from_slice(b);
        ok.then_some(RequestId(out))
    }

    /// The 36-character string.
    pub fn as_str(&self) -> &str {
        // SAFETY: only ASCII is ever stored (generated hex or validated input).
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({})", self.as_str())
    }
}

impl AsRef<str> for RequestId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// A random UUID v4 string (lowercase hex, version 4, variant `10xx`).
pub fn request_id() -> RequestId {
    let high = (next_u64() & !0xf000) | 0x4000;
    let low = (next_u64() & !(0xc0 << 56)) | (0x80 << 56);
    let mut hex = [0u8; 32];
    hex[..16].copy_from_slice(&hex16(high));
    hex[16..].copy_from_slice(&hex16(low));
    let mut out = [b'-'; 36];
    out[..8].copy_from_slice(&hex[..8]);
    out[9..13].copy_from_slice(&hex[8..12]);
    out[14..18].copy_from_slice(&hex[12..16]);
    out[19..23].copy_from_slice(&hex[16..20]);
    out[24..].copy_from_slice(&hex[20..]);
    RequestId(out)
}

/// `v` as 16 lowercase hex digits, most significant first.
fn hex16(v: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&hex8((v >> 32) as u32));
    out[8..].copy_from_slice(&hex8(v as u32));
    out
}

/// `v` as 8 lowercase hex digits, most significant first: each nibble spread into a byte of
/// its own, then turned into a digit, all eight at once.
fn hex8(v: u32) -> [u8; 8] {
    let mut x = u64::from(v);
    x = ((x & 0xffff_0000) << 16) | (x & 0xffff);
    x = ((x & 0x0000_ff00_0000_ff00) << 8) | (x & 0x0000_00ff_0000_00ff);
    x = ((x & 0x00f0_00f0_00f0_00f0) << 4) | (x & 0x000f_000f_000f_000f);
    // Byte i holds nibble i; a nibble over 9 gets `'a' - '0' - 10` more.
    let letters = ((x + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    (x + 0x3030_3030_3030_3030 + letters * 39).to_be_bytes()
}

/// `x-amz-apigw-id` / `$context.extendedRequestId`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExtendedRequestId([u8; 16]);

impl ExtendedRequestId {
    /// The 16-character string.
    pub fn as_str(&self) -> &str {
        // SAFETY: only ASCII is ever stored (generated base64url and `=`).
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }
}

impl fmt::Display for ExtendedRequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ExtendedRequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExtendedRequestId({})", self.as_str())
    }
}

impl AsRef<str> for ExtendedRequestId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// A random extended request id shaped like AWS's (e.g. `S-D5rG9QFiAFnVg=`): 11 random
/// bytes in URL-safe base64 (`A-Za-z0-9-_`), so 15 characters and one `=`.
pub fn extended_request_id() -> ExtendedRequestId {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    // 88 random bits, big-endian in the top of a u128: 14 full sextets, then 4 bits.
    let bits = (((u128::from(next_u64()) << 64) | u128::from(next_u64())) >> 40) << 40;
    let mut out = [b'='; 16];
    for (i, c) in out.iter_mut().take(15).enumerate() {
        let sextet = (bits >> (122 - 6 * i)) & 0x3f;
        *c = B64[sextet as usize];
    }
    ExtendedRequestId(out)
}

/// An `X-Amzn-Trace-Id` value, `Root=1-<8 hex epoch seconds>-<24 hex random>`.
pub fn trace_id(epoch_secs: u64) -> String {
    let mut out = *b"Root=1-00000000-000000000000000000000000";
    out[7..15].copy_from_slice(&hex8(epoch_secs as u32));
    out[16..24].copy_from_slice(&hex8((next_u64() >> 32) as u32));
    out[24..].copy_from_slice(&hex16(next_u64()));
    // SAFETY: only ASCII was written.
    unsafe { String::from_utf8_unchecked(out.to_vec()) }
}

/// A short lower-case alphanumeric id (6 characters, like AWS's resource and deployment ids)
/// derived from `parts`: the same parts always give the same id.
pub fn stable_id(parts: &[&str]) -> String {
    // FNV-1a, with a separator so ("ab", "c") and ("a", "bc") differ.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    (0..6)
        .map(|_| {
            let d = DIGITS[(h % 36) as usize];
            h /= 36;
            char::from(d)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &[u8; 16] = b"0123456789abcdef";
    use std::collections::HashSet;

    fn assert_uuid_v4(s: &str) {
        assert_eq!(s.len(), 36, "{s}");
        for (i, c) in s.chars().enumerate() {
            match i {
                8 | 13 | 18 | 23 => assert_eq!(c, '-', "{s}"),
                _ => assert!(matches!(c, '0'..='9' | 'a'..='f'), "{s}"),
            }
        }
        assert_eq!(&s[14..15], "4", "version: {s}");
        assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"), "variant: {s}");
    }

    #[test]
    fn hex_digits_match_the_formatter() {
        for v in [
            0,
            1,
            9,
            10,
            15,
            0x1234_5678,
            0x9abc_def0,
            0xa0b1_c2d3,
            u32::MAX,
        ] {
            assert_eq!(hex8(v), format!("{v:08x}").as_bytes(), "{v:#x}");
        }
        let v = 0x0123_4567_89ab_cdef_u64;
        assert_eq!(hex16(v), format!("{v:016x}").as_bytes());
        for _ in 0..1000 {
            let v = next_u64();
            assert_eq!(hex16(v), format!("{v:016x}").as_bytes());
        }
    }

    #[test]
    fn request_ids_are_uuid_v4_and_unique() {
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let id = request_id();
            assert_uuid_v4(id.as_str());
            assert!(seen.insert(id), "duplicate {id}");
        }
        assert_eq!(
            RequestId::parse(request_id().as_str()).map(|r| r.0.len()),
            Some(36)
        );
    }

    #[test]
    fn request_ids_differ_across_threads() {
        let handles: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..1000).map(|_| request_id()).collect::<Vec<_>>()))
            .collect();
        let mut seen = HashSet::new();
        for h in handles {
            for id in h.join().unwrap() {
                assert!(seen.insert(id), "duplicate {id}");
            }
        }
        assert_eq!(seen.len(), 4000);
    }

    #[test]
    fn request_id_nibbles_look_random() {
        // Every hex digit shows up in every random position over enough draws.
        let mut seen = [[false; 16]; 36];
        for _ in 0..2000 {
            for (i, b) in request_id().as_str().bytes().enumerate() {
                if let Some(d) = HEX.iter().position(|&h| h == b) {
                    seen[i][d] = true;
                }
            }
        }
        for (i, row) in seen.iter().enumerate() {
            let count = row.iter().filter(|&&x| x).count();
            let expected = match i {
                8 | 13 | 18 | 23 => 0,
                14 => 1,
                19 => 4,
                _ => 16,
            };
            assert_eq!(count, expected, "position {i}");
        }
    }

    #[test]
    fn parse_client_request_id() {
        let s = "C0FFEE00-1234-5678-9abc-def012345678";
        assert_eq!(
            RequestId::parse(s).map(|r| r.to_string()),
            Some(s.to_string())
        );
        assert_eq!(RequestId::parse("not-a-uuid"), None);
        assert_eq!(
            RequestId::parse("c0ffee00-1234-5678-9abc-def01234567g"),
            None
        );
        assert_eq!(
            RequestId::parse("c0ffee00x1234-5678-9abc-def012345678"),
            None
        );
        assert_eq!(
            RequestId::parse("c0ffee00-1234-5678-9abc-def0123456789"),
            None
        );
        assert_eq!(
            RequestId::parse("é0ffee0-1234-5678-9abc-def012345678"),
            None
        );
    }

    #[test]
    fn extended_request_ids_look_like_aws() {
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let id = extended_request_id();
            let s = id.as_str();
            assert_eq!(s.len(), 16, "{s}");
            assert!(s.ends_with('='), "{s}");
            assert!(
                s[..15]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{s}"
            );
            // The 15th character carries 4 bits followed by two zero bits, as in real
            // base64 of 11 bytes.
            let last = s.as_bytes()[14];
            let value = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                .iter()
                .position(|&c| c == last)
                .unwrap();
            assert_eq!(value % 4, 0, "{s}");
            assert!(seen.insert(id), "duplicate {s}");
        }
    }

    #[test]
    fn trace_id_format() {
        let t = trace_id(0x5f3a_1b2c);
        assert_eq!(t.len(), 40, "{t}");
        assert!(t.starts_with("Root=1-5f3a1b2c-"), "{t}");
        assert!(t[16..].bytes().all(|b| HEX.contains(&b)), "{t}");
        assert_ne!(trace_id(1), trace_id(1));
        assert!(trace_id(1).starts_with("Root=1-00000001-"));
    }

    #[test]
    fn stable_ids() {
        assert_eq!(stable_id(&["a", "b"]), stable_id(&["a", "b"]));
        assert_ne!(stable_id(&["ab", "c"]), stable_id(&["a", "bc"]));
        assert_ne!(stable_id(&["api", "/x"]), stable_id(&["api", "/y"]));
    }
}
