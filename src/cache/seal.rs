//! AES-256-GCM for `cacheDataEncrypted` entries, with a key generated when the cache is
//! created (it never leaves the process).

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use std::sync::atomic::{AtomicU64, Ordering};

/// The tag AES-GCM appends to each entry.
pub const TAG_BYTES: usize = 16;

pub struct Sealer {
    key: LessSafeKey,
    /// Nonces are a random prefix and a counter: unique for the key's life.
    prefix: [u8; 4],
    counter: AtomicU64,
}

/// An encrypted entry.
pub struct Sealed {
    nonce: [u8; NONCE_LEN],
    bytes: Vec<u8>,
}

impl Sealed {
    /// Bytes held: the ciphertext and its tag.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }
}

impl Sealer {
    /// A sealer with a fresh random key; None if the system has no randomness.
    pub fn generate() -> Option<Sealer> {
        let rng = SystemRandom::new();
        let mut key = [0u8; 32];
        let mut prefix = [0u8; 4];
        rng.fill(&mut key).ok()?;
        rng.fill(&mut prefix).ok()?;
        let unbound = UnboundKey::new(&AES_256_GCM, &key).ok()?;
        key.fill(0);
        Some(Sealer {
            key: LessSafeKey::new(unbound),
            prefix,
            counter: AtomicU64::new(0),
        })
    }

    /// Encrypts `plain` in place (the buffer becomes the ciphertext).
    pub fn seal(&self, mut plain: Vec<u8>) -> Option<Sealed> {
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..4].copy_from_slice(&self.prefix);
        nonce[4..].copy_from_slice(&self.counter.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut plain,
            )
            .ok()?;
        Some(Sealed {
            nonce,
            bytes: plain,
        })
    }

    /// Decrypts a copy of the entry.
    pub fn open(&self, sealed: &Sealed) -> Option<Vec<u8>> {
        let mut buf = sealed.bytes.clone();
        let n = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(sealed.nonce),
                Aad::empty(),
                &mut buf,
            )
            .ok()?
            .len();
        buf.truncate(n);
        Some(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_no_plaintext() {
        let s = Sealer::generate().unwrap();
        let a = s.seal(b"secret-marker-body".to_vec()).unwrap();
        let b = s.seal(b"secret-marker-body".to_vec()).unwrap();
        assert_eq!(a.size(), 18 + TAG_BYTES);
        assert!(!a.bytes.windows(6).any(|w| w == b"secret"));
        assert_ne!(a.bytes, b.bytes, "nonces differ");
        assert_eq!(s.open(&a).unwrap(), b"secret-marker-body");
        let other = Sealer::generate().unwrap();
        assert!(other.open(&a).is_none());
    }
}
