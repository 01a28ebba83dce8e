//! `$context.requestOverride.*` and `$context.responseOverride.*` (AWS §6.6): what mapping
//! templates set, carried as plain data from one template to the next and applied after the
//! parameter mappings.

/// Overrides set by mapping templates. A list value gives a parameter several values.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Overrides {
    pub request_header: Vec<(String, Vec<String>)>,
    pub request_path: Vec<(String, String)>,
    pub request_querystring: Vec<(String, Vec<String>)>,
    pub response_header: Vec<(String, Vec<String>)>,
    /// Only a status of 100–599 is kept.
    pub response_status: Option<u16>,
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        self == &Overrides::default()
    }

    /// The path parameter override for `name`.
    pub fn path(&self, name: &str) -> Option<&str> {
        self.request_path
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Applies the response overrides to a method response: the status, then headers
    /// replacing any of the same name.
    pub fn apply_to_response(&self, status: &mut u16, headers: &mut Vec<(String, String)>) {
        if let Some(s) = self.response_status {
            *status = s;
        }
        apply_headers(&self.response_header, headers);
    }

    /// Applies the request header overrides to integration request headers.
    pub fn apply_to_request_headers(&self, headers: &mut Vec<(String, String)>) {
        apply_headers(&self.request_header, headers);
    }
}

/// Replaces (case-insensitively) or adds each overridden header; several values are joined
/// with `,` as one header, as the backend or client would read them.
fn apply_headers(overrides: &[(String, Vec<String>)], headers: &mut Vec<(String, String)>) {
    for (name, values) in overrides {
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        headers.push((name.clone(), values.join(",")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_overrides_replace_status_and_headers() {
        let o = Overrides {
            response_status: Some(444),
            response_header: vec![
                ("foo".into(), vec!["bar".into()]),
                ("Multi".into(), vec!["a".into(), "b".into()]),
            ],
            ..Default::default()
        };
        let mut status = 200;
        let mut headers = vec![("FOO".to_string(), "old".to_string())];
        o.apply_to_response(&mut status, &mut headers);
        assert_eq!(status, 444);
        assert_eq!(
            headers,
            vec![
                ("foo".to_string(), "bar".to_string()),
                ("Multi".to_string(), "a,b".to_string())
            ]
        );
        assert!(!o.is_empty());
        assert!(Overrides::default().is_empty());
    }
}
