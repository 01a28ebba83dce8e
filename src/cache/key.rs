//! Cache keys: the namespace (the resource, unless `cacheNamespace` says otherwise), the HTTP
//! method and the values of the integration's `cacheKeyParameters`, nothing else (reference
//! §7.2): other query strings and headers, `Authorization` included, do not vary the key.

use crate::mapping::{Location, Values};

/// The compiled key of one method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    pub namespace: String,
    /// `method.request.{location}.{name}` of each `cacheKeyParameters` entry, in order.
    pub params: Vec<(Location, String)>,
}

impl KeySpec {
    /// Parses `cacheKeyParameters`; entries that name no method request parameter are
    /// skipped.
    pub fn new(namespace: &str, cache_key_parameters: &[String]) -> KeySpec {
        let params = cache_key_parameters
            .iter()
            .filter_map(|p| {
                let (loc, name) = p.strip_prefix("method.request.")?.split_once('.')?;
                Some((Location::parse(loc)?, name.to_string()))
            })
            .filter(|(_, n)| !n.is_empty())
            .collect();
        KeySpec {
            namespace: namespace.to_string(),
            params,
        }
    }

    /// The key of a request: every part length-prefixed, an absent parameter distinct from an
    /// empty one.
    pub fn key(&self, http_method: &str, values: &dyn Values) -> Vec<u8> {
        let mut k = Vec::with_capacity(64);
        put(&mut k, self.namespace.as_bytes());
        put(&mut k, http_method.as_bytes());
        for (loc, name) in &self.params {
            match values.request_param(*loc, name) {
                Some(v) => {
                    k.push(1);
                    put(&mut k, v.as_bytes());
                }
                None => k.push(0),
            }
        }
        k
    }
}

fn put(k: &mut Vec<u8>, part: &[u8]) {
    k.extend_from_slice(&(part.len() as u32).to_le_bytes());
    k.extend_from_slice(part);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::TestParams as Req;

    #[test]
    fn only_key_parameters_vary_the_key() {
        let spec = KeySpec::new(
            "res1",
            &[
                "method.request.querystring.type".into(),
                "integration.request.header.x".into(),
            ],
        );
        assert_eq!(spec.params, vec![(Location::QueryString, "type".into())]);
        let a = Req(vec![
            (Location::QueryString, "type", "admin"),
            (Location::QueryString, "department", "A"),
            (Location::Header, "authorization", "token-1"),
        ]);
        let b = Req(vec![
            (Location::QueryString, "type", "admin"),
            (Location::QueryString, "department", "B"),
            (Location::Header, "authorization", "token-2"),
        ]);
        let c = Req(vec![(Location::QueryString, "type", "user")]);
        assert_eq!(spec.key("GET", &a), spec.key("GET", &b));
        assert_ne!(spec.key("GET", &a), spec.key("GET", &c));
        assert_ne!(spec.key("GET", &a), spec.key("POST", &a));
        let empty = Req(vec![(Location::QueryString, "type", "")]);
        assert_ne!(spec.key("GET", &Req(vec![])), spec.key("GET", &empty));
        let other_ns = KeySpec::new("res2", &["method.request.querystring.type".into()]);
        assert_ne!(spec.key("GET", &a), other_ns.key("GET", &a));
    }
}
