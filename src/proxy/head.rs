//! A response head as the gateway writes it: the status, the header lines in the order they
//! were added (names in the case given), and the body's framing. Lines are serialized as they
//! are added; `Content-Length` or `Transfer-Encoding: chunked` come from the framing, and the
//! client's session adds `Date` and `Connection`.

use std::ops::Range;

/// A header name or value that cannot be written (not a token; CR, LF or another control).
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidHeader;

impl std::fmt::Display for InvalidHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a valid HTTP header")
    }
}

/// How the body that follows is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body ends when the connection closes.
    Close,
}

pub struct ResponseHead {
    pub status: u16,
    pub framing: Framing,
    lines: Vec<u8>,
    fields: Vec<(Range<usize>, Range<usize>)>,
}

impl ResponseHead {
    pub fn new(status: u16, framing: Framing) -> ResponseHead {
        ResponseHead::with_capacity(status, framing, 256)
    }

    /// A head with room for `bytes` of header lines.
    pub fn with_capacity(status: u16, framing: Framing, bytes: usize) -> ResponseHead {
        ResponseHead {
            status,
            framing,
            lines: Vec::with_capacity(bytes),
            fields: Vec::with_capacity(8),
        }
    }

    /// Adds a header line; an invalid name or value is refused and nothing is added.
    pub fn append(&mut self, name: &str, value: &[u8]) -> Result<(), InvalidHeader> {
        if !is_valid(name, value) {
            return Err(InvalidHeader);
        }
        self.push(name, value);
        Ok(())
    }

    /// Adds a header line already known to be valid: one httparse accepted (its name and
    /// value byte sets are exactly [`Self::append`]'s), or the gateway's own.
    pub fn append_valid(&mut self, name: &str, value: &[u8]) {
        debug_assert!(is_valid(name, value), "{name}: {value:?}");
        self.push(name, value);
    }

    fn push(&mut self, name: &str, value: &[u8]) {
        self.lines.reserve(name.len() + value.len() + 4);
        let start = self.lines.len();
        self.lines.extend_from_slice(name.as_bytes());
        self.lines.extend_from_slice(b": ");
        let value_start = self.lines.len();
        self.lines.extend_from_slice(value);
        self.fields
            .push((start..start + name.len(), value_start..self.lines.len()));
        self.lines.extend_from_slice(b"\r\n");
    }

    /// The header lines as added: name (case kept) and value.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.fields.iter().map(|(n, v)| {
            // Names were checked to be ASCII tokens.
            let name = std::str::from_utf8(&self.lines[n.clone()]).unwrap_or("");
            (name, &self.lines[v.clone()])
        })
    }

    /// The serialized header lines, each ending in CRLF.
    pub fn lines(&self) -> &[u8] {
        &self.lines
    }
}

fn is_valid(name: &str, value: &[u8]) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| TOKEN[b as usize])
        && value.iter().all(|&b| VALUE[b as usize])
}

/// RFC 9110 `tchar`, by byte.
static TOKEN: [bool; 256] = byte_table(true);
/// What `http::HeaderValue` accepts (visible ASCII, space, tab and obs-text), by byte.
static VALUE: [bool; 256] = byte_table(false);

const fn byte_table(token: bool) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = if token {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        } else {
            (b >= 0x20 && b != 0x7f) || b == b'\t'
        };
        i += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_order_and_case() {
        let mut h = ResponseHead::new(200, Framing::Length(2));
        h.append("Content-Type", b"application/json").unwrap();
        h.append("x-amzn-RequestId", b"abc").unwrap();
        h.append("X-Multi", b"1").unwrap();
        h.append("X-Multi", b"2").unwrap();
        assert_eq!(
            h.lines(),
            b"Content-Type: application/json\r\nx-amzn-RequestId: abc\r\nX-Multi: 1\r\nX-Multi: 2\r\n"
        );
        let fields: Vec<_> = h.fields().collect();
        assert_eq!(fields[1], ("x-amzn-RequestId", &b"abc"[..]));
        assert_eq!(fields.len(), 4);
    }

    #[test]
    fn invalid_headers_are_refused_whole() {
        let mut h = ResponseHead::new(200, Framing::Close);
        assert_eq!(h.append("X-A", b"one\r\nInjected: yes"), Err(InvalidHeader));
        assert_eq!(h.append("X A", b"v"), Err(InvalidHeader));
        assert_eq!(h.append("", b"v"), Err(InvalidHeader));
        assert_eq!(h.append("X-Nul", b"a\0b"), Err(InvalidHeader));
        assert!(h.lines().is_empty());
        h.append("X-Tab", b"a\tb caf\xc3\xa9").unwrap();
        assert_eq!(h.fields().count(), 1);
    }
}
