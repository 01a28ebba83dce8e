//! Decoding a chunked body (RFC 9112 §7.1) one step at a time from a buffer, without I/O:
//! the client's session reads request bodies with it, the HTTP_PROXY exchange backend bodies.
//! Chunk extensions and trailer fields are dropped, as API Gateway drops them.

use bytes::{Bytes, BytesMut};
use pingora::prelude::*;

/// Where a chunked body's decoding stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
}

/// What one step of chunked decoding produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    Data(Bytes, Chunk),
    Next(Chunk),
    End,
    More,
}

/// The longest chunk-size line or trailer line accepted.
const MAX_CHUNK_LINE: usize = 4096;

/// One step of decoding a chunked body from `buf`.
pub fn decode_chunk(state: Chunk, buf: &mut BytesMut) -> Result<Decoded> {
    let bad = || Error::explain(ErrorType::InvalidHTTPHeader, "bad chunked encoding");
    match state {
        Chunk::Size => match httparse::parse_chunk_size(buf) {
            Ok(httparse::Status::Complete((used, size))) => {
                let _ = buf.split_to(used);
                Ok(Decoded::Next(if size == 0 {
                    Chunk::Trailers
                } else {
                    Chunk::Data(size)
                }))
            }
            Ok(httparse::Status::Partial) if buf.len() > MAX_CHUNK_LINE => Err(bad()),
            Ok(httparse::Status::Partial) => Ok(Decoded::More),
            Err(_) => Err(bad()),
        },
        Chunk::Data(left) => {
            if buf.is_empty() {
                return Ok(Decoded::More);
            }
            let take = (buf.len() as u64).min(left) as usize;
            let left = left - take as u64;
            let next = if left == 0 {
                Chunk::DataEnd
            } else {
                Chunk::Data(left)
            };
            Ok(Decoded::Data(buf.split_to(take).freeze(), next))
        }
        Chunk::DataEnd => match buf.first() {
            None => Ok(Decoded::More),
            Some(b'\r') if buf.len() < 2 => Ok(Decoded::More),
            Some(b'\r') if buf[1] == b'\n' => {
                let _ = buf.split_to(2);
                Ok(Decoded::Next(Chunk::Size))
            }
            Some(b'\n') => {
                let _ = buf.split_to(1);
                Ok(Decoded::Next(Chunk::Size))
            }
            Some(_) => Err(bad()),
        },
        // Trailer fields are dropped, as API Gateway drops them.
        Chunk::Trailers => match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let line = &buf[..i];
                let empty = line.is_empty() || line == b"\r";
                let _ = buf.split_to(i + 1);
                Ok(if empty {
                    Decoded::End
                } else {
                    Decoded::Next(Chunk::Trailers)
                })
            }
            None if buf.len() > MAX_CHUNK_LINE => Err(bad()),
            None => Ok(Decoded::More),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], step: usize) -> Result<Vec<u8>> {
        let mut buf = BytesMut::new();
        let mut fed = 0;
        let mut state = Chunk::Size;
        let mut body = Vec::new();
        loop {
            match decode_chunk(state, &mut buf)? {
                Decoded::Data(d, next) => {
                    body.extend_from_slice(&d);
                    state = next;
                }
                Decoded::Next(next) => state = next,
                Decoded::End => return Ok(body),
                Decoded::More => {
                    let end = (fed + step).min(input.len());
                    if fed == end {
                        return Error::e_explain(ErrorType::ConnectionClosed, "eof");
                    }
                    buf.extend_from_slice(&input[fed..end]);
                    fed = end;
                }
            }
        }
    }

    #[test]
    fn chunked_bodies_decode_in_any_split() {
        let input =
            b"5;ext=1\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: x\r\n\r\n";
        for step in [1, 2, 7, input.len()] {
            assert_eq!(
                decode_all(input, step).unwrap(),
                b"helloabcdefghijklmnopqrstuvwxyz"
            );
        }
        assert!(decode_all(b"5\r\nhelloXX0\r\n\r\n", 64).is_err());
        assert!(decode_all(b"zz\r\n", 64).is_err());
        assert!(decode_all(b"5\r\nhel", 64).is_err());
    }
}
