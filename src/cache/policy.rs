//! `Cache-Control: max-age=0` from a client: refresh the entry when the caller may invalidate
//! it, otherwise apply the method's `unauthorizedCacheControlHeaderStrategy` (reference §7.2).

/// `unauthorizedCacheControlHeaderStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnauthorizedStrategy {
    FailWith403,
    SucceedWithResponseHeader,
    SucceedWithoutResponseHeader,
}

impl UnauthorizedStrategy {
    /// AWS's names; `SUCCEED_WITH_RESPONSE_HEADER` is the default.
    pub fn parse(s: Option<&str>) -> UnauthorizedStrategy {
        match s {
            Some("FAIL_WITH_403") => UnauthorizedStrategy::FailWith403,
            Some("SUCCEED_WITHOUT_RESPONSE_HEADER") => {
                UnauthorizedStrategy::SucceedWithoutResponseHeader
            }
            _ => UnauthorizedStrategy::SucceedWithResponseHeader,
        }
    }
}

/// The warning added to a response when the caller's `Cache-Control` was ignored under
/// `SUCCEED_WITH_RESPONSE_HEADER`.
pub const IGNORED_CACHE_CONTROL_WARNING: &str =
    "199 Cache-control headers were ignored because the caller was unauthorized.";

/// What the cache step does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Serve from the cache when the entry is there.
    Serve,
    /// Skip the cache, call the integration and replace the entry.
    Refresh,
    /// Serve normally (`Cache-Control` ignored) and add the `Warning` header.
    ServeWithWarning,
    /// Refuse with 403.
    Refuse,
}

/// True when the request's `Cache-Control` asks for a fresh response (`max-age=0`).
pub fn wants_refresh<'a>(cache_control: impl IntoIterator<Item = &'a str>) -> bool {
    cache_control.into_iter().any(|v| {
        v.split(',').any(|d| {
            let d = d.trim();
            d.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("max-age") && v.trim().trim_matches('"') == "0"
            })
        })
    })
}

/// The decision for a request to a cached method. `may_invalidate` is the access-control
/// step's verdict (`execute-api:InvalidateCache` allowed); it only matters when
/// `requireAuthorizationForCacheControl` is true.
pub fn decide(
    refresh_requested: bool,
    require_authorization: bool,
    may_invalidate: bool,
    strategy: UnauthorizedStrategy,
) -> Lookup {
    if !refresh_requested {
        return Lookup::Serve;
    }
    if !require_authorization || may_invalidate {
        return Lookup::Refresh;
    }
    match strategy {
        UnauthorizedStrategy::FailWith403 => Lookup::Refuse,
        UnauthorizedStrategy::SucceedWithResponseHeader => Lookup::ServeWithWarning,
        UnauthorizedStrategy::SucceedWithoutResponseHeader => Lookup::Serve,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use UnauthorizedStrategy as S;

    #[test]
    fn max_age_zero_is_a_refresh_request() {
        assert!(wants_refresh(["max-age=0"]));
        assert!(wants_refresh(["no-transform, MAX-AGE = \"0\""]));
        assert!(wants_refresh(["public", "max-age=0"]));
        assert!(!wants_refresh(["max-age=10"]));
        assert!(!wants_refresh(["no-cache"]));
        assert!(!wants_refresh([]));
    }

    #[test]
    fn strategies() {
        assert_eq!(decide(false, true, false, S::FailWith403), Lookup::Serve);
        assert_eq!(decide(true, true, true, S::FailWith403), Lookup::Refresh);
        assert_eq!(decide(true, false, false, S::FailWith403), Lookup::Refresh);
        assert_eq!(decide(true, true, false, S::FailWith403), Lookup::Refuse);
        assert_eq!(
            decide(true, true, false, S::SucceedWithResponseHeader),
            Lookup::ServeWithWarning
        );
        assert_eq!(
            decide(true, true, false, S::SucceedWithoutResponseHeader),
            Lookup::Serve
        );
        assert_eq!(S::parse(None), S::SucceedWithResponseHeader);
        assert_eq!(S::parse(Some("FAIL_WITH_403")), S::FailWith403);
    }
}
