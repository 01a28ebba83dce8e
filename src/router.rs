//! Resource-tree route matching with Amazon API Gateway (REST API) semantics.
//!
//! A [`Router`] is built once from the configured resources and is then
//! immutable (and `Send + Sync`), so it can be shared by every request without
//! locks. A lookup walks the tree one path segment at a time, preferring a
//! literal child over a `{param}` child over a `{proxy+}` child, and backtracks
//! when the resource reached has no method for the request. Each tree node is
//! visited at most once per lookup, so the cost follows the path depth and not
//! the number of resources; with at most four path parameters a lookup does not
//! allocate.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasher, Hasher};

/// The seven HTTP methods API Gateway knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    Delete,
    Get,
    Head,
    Options,
    Patch,
    Post,
    Put,
}

impl HttpMethod {
    /// Every method, in the order of their upper-case names.
    pub const ALL: [HttpMethod; 7] = [
        HttpMethod::Delete,
        HttpMethod::Get,
        HttpMethod::Head,
        HttpMethod::Options,
        HttpMethod::Patch,
        HttpMethod::Post,
        HttpMethod::Put,
    ];

    /// Parses an exact upper-case method name (`"GET"`, not `"get"`).
    pub fn parse(s: &str) -> Option<HttpMethod> {
        Some(match s {
            "DELETE" => HttpMethod::Delete,
            "GET" => HttpMethod::Get,
            "HEAD" => HttpMethod::Head,
            "OPTIONS" => HttpMethod::Options,
            "PATCH" => HttpMethod::Patch,
            "POST" => HttpMethod::Post,
            "PUT" => HttpMethod::Put,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Delete => "DELETE",
            HttpMethod::Get => "GET",
            HttpMethod::Head => "HEAD",
            HttpMethod::Options => "OPTIONS",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
        }
    }

    /// Index of this method's slot in a node's method table.
    fn slot(self) -> usize {
        self as usize
    }
}

impl fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A method key as written in config: a concrete method or `ANY`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MethodKey {
    Any,
    Method(HttpMethod),
}

impl MethodKey {
    /// Parses `"ANY"` or an exact upper-case method name.
    pub fn parse(s: &str) -> Option<MethodKey> {
        if s == "ANY" {
            Some(MethodKey::Any)
        } else {
            HttpMethod::parse(s).map(MethodKey::Method)
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MethodKey::Any => "ANY",
            MethodKey::Method(m) => m.as_str(),
        }
    }

    /// Index of this key's slot in a node's method table (`ANY` is last).
    fn slot(self) -> usize {
        match self {
            MethodKey::Any => ANY_SLOT,
            MethodKey::Method(m) => m.slot(),
        }
    }

    fn from_slot(slot: usize) -> MethodKey {
        HttpMethod::ALL
            .get(slot)
            .map_or(MethodKey::Any, |&m| MethodKey::Method(m))
    }
}

impl fmt::Display for MethodKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const ANY_SLOT: usize = 7;
const ROOT: u32 = 0;

/// A configuration error found by [`Router::build`]. Every variant names the
/// offending resource path; the wording follows API Gateway's CreateResource
/// errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouterError {
    /// The path is malformed: no leading `/`, an empty segment, a character
    /// that is not allowed, or a parameter that is not a whole segment.
    InvalidPath { path: String, reason: String },
    /// The same resource path was given twice.
    DuplicateResource { path: String },
    /// The same method key was given twice for one resource.
    DuplicateMethod { path: String, method: String },
    /// Two different variable segments (`sibling` is the one seen first)
    /// under the same parent.
    VariableSibling { path: String, sibling: String },
    /// A greedy segment (`greedy`, e.g. `{proxy+}`) that is not the last one.
    GreedyNotLast { path: String, greedy: String },
}

impl fmt::Display for RouterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouterError::InvalidPath { path, reason } => {
                write!(f, "Invalid resource path '{path}': {reason}")
            }
            RouterError::DuplicateResource { path } => write!(
                f,
                "Invalid resource path '{path}': Another resource with the same parent already has this name"
            ),
            RouterError::DuplicateMethod { path, method } => write!(
                f,
                "Invalid method {method} on resource '{path}': Method already exists for this resource"
            ),
            RouterError::VariableSibling { path, sibling } => write!(
                f,
                "Invalid resource path '{path}': A sibling ({sibling}) of this resource already has a variable path part -- only one is allowed"
            ),
            RouterError::GreedyNotLast { path, greedy } => write!(
                f,
                "Invalid resource path '{path}': Cannot create a child of a resource with a greedy path variable: {greedy}"
            ),
        }
    }
}

impl std::error::Error for RouterError {}

/// Path parameters of a match as `(name, raw value)` pairs in path order.
/// Values are slices of the request path, never percent-decoded. Up to four
/// pairs are stored inline; more spill to the heap.
#[derive(Clone, Debug, Default)]
pub struct PathParams<'r, 'p> {
    len: usize,
    inline: [(&'r str, &'p str); INLINE_PARAMS],
    spill: Vec<(&'r str, &'p str)>,
}

const INLINE_PARAMS: usize = 4;

impl<'r, 'p> PathParams<'r, 'p> {
    /// The raw value of parameter `name` (without braces or `+`).
    pub fn get(&self, name: &str) -> Option<&'p str> {
        self.iter().find(|&(n, _)| n == name).map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'r str, &'p str)> + '_ {
        self.inline[..self.len.min(INLINE_PARAMS)]
            .iter()
            .chain(self.spill.iter())
            .copied()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn push(&mut self, pair: (&'r str, &'p str)) {
        if self.len < INLINE_PARAMS {
            self.inline[self.len] = pair;
        } else {
            self.spill.push(pair);
        }
        self.len += 1;
    }

    fn pop(&mut self) {
        self.len -= 1;
        if self.len >= INLINE_PARAMS {
            self.spill.pop();
        } else {
            self.inline[self.len] = ("", "");
        }
    }
}

impl PartialEq for PathParams<'_, '_> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for PathParams<'_, '_> {}

/// The result of a successful [`Router::find`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteMatch<'r, 'p> {
    /// The id given to [`Router::build`] for the selected method.
    pub method_id: usize,
    /// The matched resource's template, e.g. `/pets/{petId}`.
    pub resource_path: &'r str,
    pub params: PathParams<'r, 'p>,
    /// The bytes of the searched path the resource matched: the path as routed, without
    /// its leading slashes and one trailing slash (`pets/42` for `//pets/42/`).
    pub matched: std::ops::Range<usize>,
}

/// An immutable API Gateway resource tree; see the module docs.
#[derive(Debug)]
pub struct Router {
    /// Node 0 is the root `/`; children always have larger indices.
    nodes: Vec<Node>,
    /// `(node, key, method id)` for every configured method, in path order.
    listing: Vec<(u32, MethodKey, usize)>,
}

#[derive(Debug)]
struct Node {
    /// The resource template, e.g. `/pets/{petId}` (also for implicit nodes).
    template: Box<str>,
    /// For a variable node, the parameter name without braces or `+`.
    name: Box<str>,
    literals: Literals,
    var: VarChild,
    /// One slot per [`HttpMethod`] followed by `ANY`.
    methods: [Option<usize>; 8],
}

impl Node {
    /// The method id for `slot`, falling back to `ANY`.
    fn method(&self, slot: usize) -> Option<usize> {
        self.methods[slot].or(self.methods[ANY_SLOT])
    }
}

#[derive(Debug, Clone, Copy)]
enum VarChild {
    None,
    Param(u32),
    Greedy(u32),
}

/// Literal children keyed by their exact segment text.
#[derive(Debug)]
enum Literals {
    /// A short list scanned linearly; cheaper than hashing for a few entries.
    Few(Box<[(Box<str>, u32)]>),
    Many(HashMap<Box<str>, u32, SegmentHash>),
}

/// Above this many literal children a node uses a hash map.
const FEW_LITERALS: usize = 8;

impl Literals {
    fn get(&self, segment: &str) -> Option<u32> {
        match self {
            Literals::Few(list) => list
                .iter()
                .find(|(text, _)| &**text == segment)
                .map(|&(_, child)| child),
            Literals::Many(map) => map.get(segment).copied(),
        }
    }
}

/// A word-at-a-time multiplicative hash with a final avalanche step. The keys are fixed when the router is
/// built, so request paths cannot grow the table or its collision chains and a
/// keyed (DoS-resistant) hash would buy nothing on this hot path.
#[derive(Debug, Clone, Copy, Default)]
struct SegmentHash;

struct SegmentHasher(u64);

impl BuildHasher for SegmentHash {
    type Hasher = SegmentHasher;

    fn build_hasher(&self) -> SegmentHasher {
        SegmentHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl SegmentHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for SegmentHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.mix(u64::from_le_bytes(word.try_into().expect("8 bytes")));
        }
        let tail = words.remainder();
        let mut last = [0u8; 8];
        last[..tail.len()].copy_from_slice(tail);
        // The length keeps zero padding from colliding with real zero bytes.
        self.mix(u64::from_le_bytes(last) ^ ((bytes.len() as u64) << 56));
    }

    fn write_u8(&mut self, b: u8) {
        self.mix(u64::from(b));
    }

    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }
}

/// One parsed segment of a resource template: its text as written and kind.
struct Segment<'a> {
    text: &'a str,
    kind: SegmentKind<'a>,
}

enum SegmentKind<'a> {
    Literal,
    /// `{name}`, holding the name.
    Param(&'a str),
    /// `{name+}`, holding the name.
    Greedy(&'a str),
}

/// A node while the tree is being built.
struct Draft {
    template: String,
    name: String,
    literals: BTreeMap<String, usize>,
    /// `(greedy, segment text as written, child index)`.
    var: Option<(bool, String, usize)>,
    methods: [Option<usize>; 8],
    explicit: bool,
}

impl Draft {
    fn new(template: String, name: String) -> Draft {
        Draft {
            template,
            name,
            literals: BTreeMap::new(),
            var: None,
            methods: [None; 8],
            explicit: false,
        }
    }
}

impl Router {
    /// Builds the tree from `(resource path, [(method key, method id)])`.
    ///
    /// Intermediate resources that are not listed (e.g. `/a` when only `/a/b`
    /// is) exist implicitly and have no methods.
    pub fn build(resources: &[(String, Vec<(MethodKey, usize)>)]) -> Result<Router, RouterError> {
        let mut drafts = vec![Draft::new("/".to_owned(), String::new())];
        for (path, methods) in resources {
            let segments = parse_path(path)?;
            let mut at = 0;
            for (i, segment) in segments.iter().enumerate() {
                let text = segment.text;
                at = match segment.kind {
                    SegmentKind::Literal => {
                        if let Some(&child) = drafts[at].literals.get(text) {
                            child
                        } else {
                            let child = drafts.len();
                            let template = join_template(&drafts[at].template, text);
                            drafts.push(Draft::new(template, String::new()));
                            drafts[at].literals.insert(text.to_owned(), child);
                            child
                        }
                    }
                    SegmentKind::Param(name) | SegmentKind::Greedy(name) => {
                        let greedy = matches!(segment.kind, SegmentKind::Greedy(_));
                        if greedy && i + 1 != segments.len() {
                            return Err(RouterError::GreedyNotLast {
                                path: path.clone(),
                                greedy: text.to_owned(),
                            });
                        }
                        match &drafts[at].var {
                            Some((_, existing, child)) if existing == text => *child,
                            Some((_, existing, _)) => {
                                return Err(RouterError::VariableSibling {
                                    path: path.clone(),
                                    sibling: existing.clone(),
                                });
                            }
                            None => {
                                let child = drafts.len();
                                let template = join_template(&drafts[at].template, text);
                                drafts.push(Draft::new(template, name.to_owned()));
                                drafts[at].var = Some((greedy, text.to_owned(), child));
                                child
                            }
                        }
                    }
                };
            }
            let node = &mut drafts[at];
            if node.explicit {
                return Err(RouterError::DuplicateResource { path: path.clone() });
            }
            node.explicit = true;
            for &(key, id) in methods {
                let slot = &mut node.methods[key.slot()];
                if slot.is_some() {
                    return Err(RouterError::DuplicateMethod {
                        path: path.clone(),
                        method: key.as_str().to_owned(),
                    });
                }
                *slot = Some(id);
            }
        }

        let nodes: Vec<Node> = drafts
            .into_iter()
            .map(|d| {
                let literals: Vec<(Box<str>, u32)> = d
                    .literals
                    .into_iter()
                    .map(|(text, child)| (text.into_boxed_str(), index(child)))
                    .collect();
                let literals = if literals.len() > FEW_LITERALS {
                    Literals::Many(literals.into_iter().collect())
                } else {
                    Literals::Few(literals.into_boxed_slice())
                };
                let var = match d.var {
                    None => VarChild::None,
                    Some((false, _, child)) => VarChild::Param(index(child)),
                    Some((true, _, child)) => VarChild::Greedy(index(child)),
                };
                Node {
                    template: d.template.into_boxed_str(),
                    name: d.name.into_boxed_str(),
                    literals,
                    var,
                    methods: d.methods,
                }
            })
            .collect();

        let mut listing: Vec<(u32, MethodKey, usize)> = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            for (slot, id) in node.methods.iter().enumerate() {
                if let Some(id) = *id {
                    listing.push((index(i), MethodKey::from_slot(slot), id));
                }
            }
        }
        // Segment-wise order keeps every resource right after its parent.
        listing.sort_by(|a, b| {
            let (ta, tb) = (&nodes[a.0 as usize].template, &nodes[b.0 as usize].template);
            ta.split('/').cmp(tb.split('/'))
        });
        Ok(Router { nodes, listing })
    }

    /// Finds the resource and method for a request. `path` is the request
    /// path after the stage segment was removed (`"/pets/42"`, `""`, ...).
    ///
    /// Leading slashes are ignored, as is one trailing slash; inner empty
    /// segments are kept (they match only inside a greedy value). Nothing is
    /// percent-decoded. A `{param}` never matches an empty segment and a greedy
    /// parameter needs at least one more segment, so only the root resource
    /// matches `/`.
    pub fn find<'r, 'p>(&'r self, method: HttpMethod, path: &'p str) -> Option<RouteMatch<'r, 'p>> {
        let start = path.bytes().position(|b| b != b'/').unwrap_or(path.len());
        let path = &path[start..];
        let path = path.strip_suffix('/').unwrap_or(path);
        let rest = if path.is_empty() { None } else { Some(path) };
        let mut params = PathParams::default();
        let (node, method_id) = self.walk(ROOT, rest, method.slot(), &mut params)?;
        Some(RouteMatch {
            method_id,
            resource_path: &self.nodes[node as usize].template,
            params,
            matched: start..start + path.len(),
        })
    }

    /// Depth-first search below `node`; `rest` is the unmatched remainder of
    /// the path (`None` once every segment is consumed).
    fn walk<'r, 'p>(
        &'r self,
        node: u32,
        rest: Option<&'p str>,
        slot: usize,
        params: &mut PathParams<'r, 'p>,
    ) -> Option<(u32, usize)> {
        let here = &self.nodes[node as usize];
        let Some(rest) = rest else {
            return here.method(slot).map(|id| (node, id));
        };
        // A byte scan: segments are short, so this beats `str::find`'s memchr.
        let (segment, next) = match rest.bytes().position(|b| b == b'/') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        if let Some(child) = here.literals.get(segment) {
            if let Some(found) = self.walk(child, next, slot, params) {
                return Some(found);
            }
        }
        match here.var {
            VarChild::None => None,
            VarChild::Param(child) => {
                if segment.is_empty() {
                    return None;
                }
                params.push((&self.nodes[child as usize].name, segment));
                let found = self.walk(child, next, slot, params);
                if found.is_none() {
                    params.pop();
                }
                found
            }
            VarChild::Greedy(child) => {
                if rest.is_empty() {
                    return None;
                }
                let target = &self.nodes[child as usize];
                let id = target.method(slot)?;
                params.push((&target.name, rest));
                Some((child, id))
            }
        }
    }

    /// Every configured `(resource path, method key, method id)`, in path
    /// order (a parent before its children) and, per resource, in the order
    /// of [`HttpMethod::ALL`] with `ANY` last.
    pub fn resources(&self) -> impl Iterator<Item = (&str, MethodKey, usize)> + '_ {
        self.listing
            .iter()
            .map(|&(node, key, id)| (&*self.nodes[node as usize].template, key, id))
    }
}

fn index(i: usize) -> u32 {
    u32::try_from(i).expect("more than u32::MAX resources")
}

fn join_template(parent: &str, segment: &str) -> String {
    if parent == "/" {
        format!("/{segment}")
    } else {
        format!("{parent}/{segment}")
    }
}

/// Splits and validates a resource template; the root `/` has no segments.
fn parse_path(path: &str) -> Result<Vec<Segment<'_>>, RouterError> {
    let invalid = |reason: String| RouterError::InvalidPath {
        path: path.to_owned(),
        reason,
    };
    let Some(body) = path.strip_prefix('/') else {
        return Err(invalid("a resource path must start with '/'".to_owned()));
    };
    if body.is_empty() {
        return Ok(Vec::new());
    }
    body.split('/')
        .map(|segment| {
            if segment.is_empty() {
                return Err(invalid(
                    "a resource path must not contain an empty path part".to_owned(),
                ));
            }
            if let Some(inner) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let (name, greedy) = match inner.strip_suffix('+') {
                    Some(name) => (name, true),
                    None => (inner, false),
                };
                if name.is_empty() || !name.bytes().all(is_param_name_byte) {
                    return Err(invalid(format!(
                        "path parameter '{segment}' must be named with one or more of a-zA-Z0-9._-"
                    )));
                }
                let kind = if greedy {
                    SegmentKind::Greedy(name)
                } else {
                    SegmentKind::Param(name)
                };
                return Ok(Segment {
                    text: segment,
                    kind,
                });
            }
            if segment.contains(['{', '}']) {
                return Err(invalid(format!(
                    "path part '{segment}' is invalid: a path parameter must be a whole path part, \
                     like {{name}} or {{name+}}"
                )));
            }
            if let Some(bad) = segment.chars().find(|&c| !is_literal_char(c)) {
                return Err(invalid(format!(
                    "path part '{segment}' contains the invalid character {bad:?}; only a-zA-Z0-9 \
                     and _-.,:@!$&'()*+;=~% are allowed"
                )));
            }
            Ok(Segment {
                text: segment,
                kind: SegmentKind::Literal,
            })
        })
        .collect()
}

fn is_param_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

fn is_literal_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-.,:@!$&'()*+;=~%".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    use HttpMethod::{Delete, Get, Head, Options, Patch, Post, Put};

    const ANY: MethodKey = MethodKey::Any;

    fn key(m: HttpMethod) -> MethodKey {
        MethodKey::Method(m)
    }

    /// Builds a router from `(path, [(key, id)])` literals.
    fn router(spec: &[(&str, &[(MethodKey, usize)])]) -> Router {
        try_router(spec).expect("valid config")
    }

    fn try_router(spec: &[(&str, &[(MethodKey, usize)])]) -> Result<Router, RouterError> {
        let owned: Vec<(String, Vec<(MethodKey, usize)>)> = spec
            .iter()
            .map(|(p, ms)| (p.to_string(), ms.to_vec()))
            .collect();
        Router::build(&owned)
    }

    /// `(resource path, method id, params)` of a lookup, for compact asserts.
    type Hit<'r, 'p> = (&'r str, usize, Vec<(&'r str, &'p str)>);

    fn hit<'r, 'p>(r: &'r Router, m: HttpMethod, path: &'p str) -> Option<Hit<'r, 'p>> {
        r.find(m, path)
            .map(|h| (h.resource_path, h.method_id, h.params.iter().collect()))
    }

    #[test]
    fn literal_beats_greedy_with_backtracking() {
        let r = router(&[
            ("/part1", &[(key(Get), 1)]),
            ("/part1/hardcoded-value", &[(key(Get), 2)]),
            ("/{param+}", &[(key(Get), 3)]),
        ]);
        assert_eq!(
            hit(&r, Get, "/part1/random-value"),
            Some(("/{param+}", 3, vec![("param", "part1/random-value")]))
        );
        assert_eq!(hit(&r, Get, "/part1"), Some(("/part1", 1, vec![])));
        assert_eq!(
            hit(&r, Get, "/part1/hardcoded-value"),
            Some(("/part1/hardcoded-value", 2, vec![]))
        );
    }

    #[test]
    fn method_aware_fallback() {
        let r = router(&[
            ("/test", &[(key(Post), 1)]),
            ("/{proxy+}", &[(key(Options), 2)]),
        ]);
        assert_eq!(
            hit(&r, Options, "/test"),
            Some(("/{proxy+}", 2, vec![("proxy", "test")]))
        );
        assert_eq!(hit(&r, Post, "/test"), Some(("/test", 1, vec![])));
        assert_eq!(hit(&r, Get, "/test"), None);
    }

    #[test]
    fn explicit_method_beats_any() {
        let r = router(&[("/foo", &[(key(Get), 1), (ANY, 2)])]);
        assert_eq!(hit(&r, Get, "/foo"), Some(("/foo", 1, vec![])));
        assert_eq!(hit(&r, Delete, "/foo"), Some(("/foo", 2, vec![])));
        for m in HttpMethod::ALL {
            let want = if m == Get { 1 } else { 2 };
            assert_eq!(r.find(m, "/foo").unwrap().method_id, want);
        }
    }

    #[test]
    fn resource_without_fitting_method_backtracks() {
        let r = router(&[
            ("/foo", &[(key(Post), 1)]),
            ("/{id}", &[(key(Put), 2)]),
            ("/{id}/x", &[(key(Get), 3)]),
        ]);
        // The literal has no PUT: fall back to the parameter.
        assert_eq!(
            hit(&r, Put, "/foo"),
            Some(("/{id}", 2, vec![("id", "foo")]))
        );
        assert_eq!(hit(&r, Post, "/foo"), Some(("/foo", 1, vec![])));
        // `/foo/x` only exists below the parameter; the literal is a dead end.
        assert_eq!(
            hit(&r, Get, "/foo/x"),
            Some(("/{id}/x", 3, vec![("id", "foo")]))
        );
        assert_eq!(hit(&r, Get, "/foo"), None);
    }

    #[test]
    fn param_beats_greedy_and_greedy_is_last_resort() {
        let r = router(&[
            ("/a/{id}", &[(key(Get), 1)]),
            ("/a/lit", &[(key(Get), 2)]),
            ("/{proxy+}", &[(ANY, 3)]),
        ]);
        assert_eq!(hit(&r, Get, "/a/lit"), Some(("/a/lit", 2, vec![])));
        assert_eq!(
            hit(&r, Get, "/a/7"),
            Some(("/a/{id}", 1, vec![("id", "7")]))
        );
        assert_eq!(
            hit(&r, Post, "/a/7"),
            Some(("/{proxy+}", 3, vec![("proxy", "a/7")]))
        );
        assert_eq!(
            hit(&r, Get, "/a/7/8"),
            Some(("/{proxy+}", 3, vec![("proxy", "a/7/8")]))
        );
        // A param's own greedy sibling is not allowed, but a greedy child of
        // the parameter is.
        let r = router(&[
            ("/a/{id}", &[(key(Get), 1)]),
            ("/a/{id}/{rest+}", &[(key(Get), 2)]),
        ]);
        assert_eq!(
            hit(&r, Get, "/a/7/x/y"),
            Some(("/a/{id}/{rest+}", 2, vec![("id", "7"), ("rest", "x/y")]))
        );
    }

    #[test]
    fn head_and_options_are_not_implied() {
        let r = router(&[("/g", &[(key(Get), 1)])]);
        assert_eq!(hit(&r, Head, "/g"), None);
        assert_eq!(hit(&r, Options, "/g"), None);
        let r = router(&[
            ("/g", &[(key(Get), 1), (key(Head), 2)]),
            ("/any", &[(ANY, 3)]),
        ]);
        assert_eq!(hit(&r, Head, "/g"), Some(("/g", 2, vec![])));
        assert_eq!(hit(&r, Head, "/any"), Some(("/any", 3, vec![])));
        assert_eq!(hit(&r, Options, "/any"), Some(("/any", 3, vec![])));
    }

    #[test]
    fn greedy_does_not_match_root() {
        let r = router(&[("/{proxy+}", &[(ANY, 1)])]);
        for root in ["", "/", "//", "///"] {
            assert_eq!(hit(&r, Get, root), None, "{root:?}");
        }
        let r = router(&[("/", &[(key(Get), 0)]), ("/{proxy+}", &[(ANY, 1)])]);
        for root in ["", "/", "//", "///"] {
            assert_eq!(hit(&r, Get, root), Some(("/", 0, vec![])), "{root:?}");
        }
        assert_eq!(
            hit(&r, Get, "/x"),
            Some(("/{proxy+}", 1, vec![("proxy", "x")]))
        );
    }

    #[test]
    fn root_matches_only_root_resource() {
        let r = router(&[("/", &[(key(Get), 0)]), ("/a", &[(key(Get), 1)])]);
        assert_eq!(hit(&r, Get, "/"), Some(("/", 0, vec![])));
        assert_eq!(hit(&r, Get, "/b"), None);
        let r = router(&[("/a", &[(key(Get), 1)])]);
        assert_eq!(hit(&r, Get, "/"), None);
    }

    #[test]
    fn nested_greedy() {
        let r = router(&[
            ("/proxy/bar/{param}", &[(ANY, 1)]),
            ("/proxy/{proxy+}", &[(ANY, 2)]),
        ]);
        assert_eq!(
            hit(&r, Get, "/proxy/bar/foobar"),
            Some(("/proxy/bar/{param}", 1, vec![("param", "foobar")]))
        );
        assert_eq!(
            hit(&r, Get, "/proxy/test2/a/b"),
            Some(("/proxy/{proxy+}", 2, vec![("proxy", "test2/a/b")]))
        );
        // Deeper than `{param}` allows: backtrack to the greedy sibling of `bar`.
        assert_eq!(
            hit(&r, Get, "/proxy/bar/foobar/x"),
            Some(("/proxy/{proxy+}", 2, vec![("proxy", "bar/foobar/x")]))
        );
        assert_eq!(hit(&r, Get, "/proxy"), None);
    }

    #[test]
    fn param_matches_exactly_one_segment() {
        let r = router(&[("/pets/{petId}", &[(key(Get), 1)])]);
        assert_eq!(
            hit(&r, Get, "/pets/1"),
            Some(("/pets/{petId}", 1, vec![("petId", "1")]))
        );
        assert_eq!(hit(&r, Get, "/pets"), None);
        assert_eq!(hit(&r, Get, "/pets/1/2"), None);
        // An empty segment is not a parameter value.
        assert_eq!(hit(&r, Get, "/pets//"), None);
    }

    #[test]
    fn slash_handling() {
        let r = router(&[("/{proxy+}", &[(ANY, 1)]), ("/hardcoded", &[(ANY, 2)])]);
        let proxy = |v| Some(("/{proxy+}", 1, vec![("proxy", v)]));
        assert_eq!(hit(&r, Get, "//proxy-value"), proxy("proxy-value"));
        assert_eq!(hit(&r, Get, "//hardcoded"), Some(("/hardcoded", 2, vec![])));
        assert_eq!(hit(&r, Get, "/proxy-value/"), proxy("proxy-value"));
        assert_eq!(hit(&r, Get, "/hardcoded/"), Some(("/hardcoded", 2, vec![])));
        assert_eq!(
            hit(&r, Get, "/proxy-value//double-slash"),
            proxy("proxy-value//double-slash")
        );
        // Only one trailing slash is ignored.
        assert_eq!(hit(&r, Get, "/hardcoded//"), proxy("hardcoded/"));
        // Inner empty segments are kept, so a literal path does not match.
        let r = router(&[("/a/b", &[(ANY, 1)])]);
        assert_eq!(hit(&r, Get, "/a/b"), Some(("/a/b", 1, vec![])));
        assert_eq!(hit(&r, Get, "/a//b"), None);
        assert_eq!(hit(&r, Get, "//a/b/"), Some(("/a/b", 1, vec![])));
        // Inner empty segments inside a nested greedy value.
        let r = router(&[("/a/{rest+}", &[(ANY, 1)])]);
        assert_eq!(
            hit(&r, Get, "/a//b"),
            Some(("/a/{rest+}", 1, vec![("rest", "/b")]))
        );
    }

    #[test]
    fn no_percent_decoding_and_case_sensitive_literals() {
        let r = router(&[("/{proxy+}", &[(ANY, 1)]), ("/Pets", &[(key(Get), 2)])]);
        let path = "/u/test%2Balias@gmail.com/plus/test+alias@gmail.com";
        assert_eq!(
            hit(&r, Get, path),
            Some((
                "/{proxy+}",
                1,
                vec![(
                    "proxy",
                    "u/test%2Balias@gmail.com/plus/test+alias@gmail.com"
                )]
            ))
        );
        assert_eq!(hit(&r, Get, "/Pets"), Some(("/Pets", 2, vec![])));
        assert_eq!(hit(&r, Get, "/pets").unwrap().0, "/{proxy+}");
        assert_eq!(hit(&r, Get, "/%50ets").unwrap().0, "/{proxy+}");
        let r = router(&[("/a%20b", &[(key(Get), 1)])]);
        assert_eq!(hit(&r, Get, "/a%20b"), Some(("/a%20b", 1, vec![])));
        assert_eq!(hit(&r, Get, "/a b"), None);
    }

    #[test]
    fn values_borrow_from_the_request_path() {
        let r = router(&[("/x/{id}/{rest+}", &[(ANY, 1)])]);
        let path = String::from("/x/42/a/b/");
        let m = r.find(Get, &path).unwrap();
        let rest = m.params.get("rest").unwrap();
        assert_eq!(rest, "a/b");
        assert_eq!(rest.as_ptr(), path[6..].as_ptr());
        assert_eq!(m.params.get("id"), Some("42"));
        assert_eq!(m.params.get("nope"), None);
    }

    #[test]
    fn path_params_inline_and_spilled() {
        let r = router(&[
            ("/{a}/{b}/{c}/{d}/{e}/{f}", &[(key(Get), 1)]),
            ("/{a}", &[(key(Get), 2)]),
        ]);
        let m = r.find(Get, "/1/2/3/4/5/6").unwrap();
        assert_eq!(m.params.len(), 6);
        assert!(!m.params.is_empty());
        assert_eq!(
            m.params.iter().collect::<Vec<_>>(),
            [
                ("a", "1"),
                ("b", "2"),
                ("c", "3"),
                ("d", "4"),
                ("e", "5"),
                ("f", "6")
            ]
        );
        assert_eq!(m.params.get("f"), Some("6"));
        // A failed deep attempt leaves no stale parameters behind.
        assert_eq!(m.params.spill.len(), 2);
        assert_eq!(r.find(Get, "/1/2/3/4/5").map(|m| m.method_id), None);
        let m = r.find(Get, "/1").unwrap();
        assert_eq!(m.params.iter().collect::<Vec<_>>(), [("a", "1")]);
        let root = router(&[("/", &[(key(Get), 0)])]);
        let m = root.find(Get, "/").unwrap();
        assert!(m.params.is_empty());
        assert_eq!(m.params.len(), 0);
    }

    #[test]
    fn matched_is_the_path_as_routed() {
        let r = router(&[
            ("/", &[(key(Get), 0)]),
            ("/secret", &[(key(Get), 1)]),
            ("/{proxy+}", &[(key(Get), 2)]),
        ]);
        for (path, matched) in [
            ("/secret", "secret"),
            ("/secret/", "secret"),
            ("//secret", "secret"),
            ("///secret/", "secret"),
            ("/", ""),
            ("//", ""),
            ("", ""),
            ("/a//b/", "a//b"),
        ] {
            let m = r.find(Get, path).unwrap();
            assert_eq!(&path[m.matched], matched, "{path}");
        }
    }

    #[test]
    fn backtracking_pops_spilled_params() {
        let r = router(&[
            ("/p/{a}/{b}/{c}/{d}/{e}/{f}/x", &[(key(Get), 1)]),
            ("/{proxy+}", &[(key(Get), 2)]),
        ]);
        assert_eq!(r.find(Get, "/p/1/2/3/4/5/6/x").unwrap().params.len(), 6);
        let m = r.find(Get, "/p/1/2/3/4/5/6/y").unwrap();
        assert_eq!(m.resource_path, "/{proxy+}");
        assert_eq!(
            m.params.iter().collect::<Vec<_>>(),
            [("proxy", "p/1/2/3/4/5/6/y")]
        );
        assert!(m.params.spill.is_empty());
    }

    #[test]
    fn implicit_intermediate_resources_have_no_methods() {
        let r = router(&[("/a/b", &[(key(Get), 1)])]);
        assert_eq!(hit(&r, Get, "/a"), None);
        assert!(HttpMethod::ALL.iter().all(|&m| r.find(m, "/a").is_none()));
        // An implicit node can still be declared later.
        let r = router(&[("/a/b", &[(key(Get), 1)]), ("/a", &[(key(Put), 2)])]);
        assert_eq!(hit(&r, Put, "/a"), Some(("/a", 2, vec![])));
    }

    #[test]
    fn resource_without_methods_is_not_a_match() {
        let r = router(&[("/a", &[]), ("/{proxy+}", &[(ANY, 1)])]);
        assert_eq!(
            hit(&r, Get, "/a"),
            Some(("/{proxy+}", 1, vec![("proxy", "a")]))
        );
    }

    #[test]
    fn many_literal_children_use_the_hash_map() {
        let paths: Vec<String> = (0..100).map(|i| format!("/svc{i}/items/{{id}}")).collect();
        let spec: Vec<(String, Vec<(MethodKey, usize)>)> = paths
            .iter()
            .enumerate()
            .map(|(i, p)| (p.clone(), vec![(key(Get), i)]))
            .collect();
        let r = Router::build(&spec).unwrap();
        assert!(matches!(r.nodes[0].literals, Literals::Many(_)));
        for (i, template) in paths.iter().enumerate() {
            let path = format!("/svc{i}/items/{i}");
            let m = r.find(Get, &path).unwrap();
            assert_eq!(m.method_id, i);
            assert_eq!(m.resource_path, template);
            assert_eq!(m.params.get("id"), Some(i.to_string().as_str()));
        }
        assert!(r.find(Get, "/svc100/items/1").is_none());
        assert!(r.find(Get, "/svc1/items").is_none());
    }

    #[test]
    fn resources_lists_every_method_in_path_order() {
        let r = router(&[
            ("/pets/{petId}", &[(ANY, 3), (key(Get), 2)]),
            ("/pets-x", &[(key(Get), 5)]),
            ("/", &[(key(Get), 0)]),
            ("/pets", &[(key(Post), 1)]),
            ("/pets/{petId}/toys", &[(key(Get), 4)]),
        ]);
        let listed: Vec<_> = r.resources().collect();
        assert_eq!(
            listed,
            [
                ("/", key(Get), 0),
                ("/pets", key(Post), 1),
                ("/pets/{petId}", key(Get), 2),
                ("/pets/{petId}", ANY, 3),
                ("/pets/{petId}/toys", key(Get), 4),
                ("/pets-x", key(Get), 5),
            ]
        );
    }

    #[test]
    fn method_names() {
        for m in HttpMethod::ALL {
            assert_eq!(HttpMethod::parse(m.as_str()), Some(m));
            assert_eq!(MethodKey::parse(m.as_str()), Some(key(m)));
            assert_eq!(m.to_string(), m.as_str());
        }
        assert_eq!(
            HttpMethod::ALL.map(HttpMethod::as_str).join(","),
            "DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT"
        );
        assert_eq!(HttpMethod::parse("get"), None);
        assert_eq!(HttpMethod::parse("ANY"), None);
        assert_eq!(HttpMethod::parse("CONNECT"), None);
        assert_eq!(MethodKey::parse("ANY"), Some(ANY));
        assert_eq!(MethodKey::parse("any"), None);
        assert_eq!(ANY.as_str(), "ANY");
        assert_eq!(key(Patch).to_string(), "PATCH");
        for slot in 0..8 {
            assert_eq!(MethodKey::from_slot(slot).slot(), slot);
        }
    }

    #[test]
    fn router_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Router>();
        check::<RouteMatch<'static, 'static>>();
    }

    fn invalid_reason(path: &str) -> String {
        match try_router(&[(path, &[(key(Get), 1)])]) {
            Err(RouterError::InvalidPath { path: p, reason }) => {
                assert_eq!(p, path);
                reason
            }
            other => panic!("{path:?}: expected InvalidPath, got {other:?}"),
        }
    }

    #[test]
    fn invalid_paths() {
        assert!(invalid_reason("resource{p}").contains("start with '/'"));
        assert!(invalid_reason("").contains("start with '/'"));
        assert!(invalid_reason("/resource{p}").contains("whole path part"));
        assert!(invalid_reason("/{p}x").contains("whole path part"));
        assert!(invalid_reason("/{p").contains("whole path part"));
        assert!(invalid_reason("/a//b").contains("empty path part"));
        assert!(invalid_reason("/a/").contains("empty path part"));
        assert!(invalid_reason("//").contains("empty path part"));
        assert!(invalid_reason("/a b").contains("invalid character ' '"));
        assert!(invalid_reason("/a?b").contains("invalid character '?'"));
        assert!(invalid_reason("/a#b").contains("invalid character"));
        assert!(invalid_reason("/é").contains("invalid character"));
        assert!(invalid_reason("/{}").contains("must be named"));
        assert!(invalid_reason("/{+}").contains("must be named"));
        assert!(invalid_reason("/{a b}").contains("must be named"));
        assert!(invalid_reason("/{a+b}").contains("must be named"));
        assert!(invalid_reason("/{a++}").contains("must be named"));
        assert!(invalid_reason("/{{a}}").contains("must be named"));
        // Every allowed character is accepted.
        let ok = "/aZ09_-.,:@!$&'()*+;=~%/{a.B_c-9}/{x.y-Z_0+}";
        assert!(try_router(&[(ok, &[(key(Get), 1)])]).is_ok());
        let err = try_router(&[("/a b", &[])]).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("Invalid resource path '/a b': "));
    }

    #[test]
    fn duplicate_resource() {
        let err = try_router(&[("/a/{id}", &[(key(Get), 1)]), ("/a/{id}", &[(key(Put), 2)])])
            .unwrap_err();
        assert_eq!(
            err,
            RouterError::DuplicateResource {
                path: "/a/{id}".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "Invalid resource path '/a/{id}': Another resource with the same parent already has this name"
        );
        assert!(try_router(&[("/", &[]), ("/", &[])]).is_err());
    }

    #[test]
    fn duplicate_method() {
        let err = try_router(&[("/a", &[(key(Get), 1), (ANY, 2), (key(Get), 3)])]).unwrap_err();
        assert_eq!(
            err,
            RouterError::DuplicateMethod {
                path: "/a".into(),
                method: "GET".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "Invalid method GET on resource '/a': Method already exists for this resource"
        );
        let err = try_router(&[("/a", &[(ANY, 1), (ANY, 2)])]).unwrap_err();
        assert!(matches!(err, RouterError::DuplicateMethod { method, .. } if method == "ANY"));
    }

    #[test]
    fn variable_sibling() {
        let err = try_router(&[("/{proxy+}", &[(ANY, 1)]), ("/{id}", &[(ANY, 2)])]).unwrap_err();
        assert_eq!(
            err,
            RouterError::VariableSibling {
                path: "/{id}".into(),
                sibling: "{proxy+}".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "Invalid resource path '/{id}': A sibling ({proxy+}) of this resource already has a \
             variable path part -- only one is allowed"
        );
        // Different names for a single-segment parameter conflict too, also
        // when the first one was only implied by a deeper resource.
        let err = try_router(&[("/a/{id}/b", &[]), ("/a/{petId}", &[])]).unwrap_err();
        assert_eq!(
            err,
            RouterError::VariableSibling {
                path: "/a/{petId}".into(),
                sibling: "{id}".into()
            }
        );
        let err = try_router(&[("/a/{id}", &[]), ("/a/{id+}", &[])]).unwrap_err();
        assert!(matches!(err, RouterError::VariableSibling { sibling, .. } if sibling == "{id}"));
    }

    #[test]
    fn greedy_not_last() {
        let err =
            try_router(&[("/{proxy+}", &[(ANY, 1)]), ("/{proxy+}/x", &[(ANY, 2)])]).unwrap_err();
        assert_eq!(
            err,
            RouterError::GreedyNotLast {
                path: "/{proxy+}/x".into(),
                greedy: "{proxy+}".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "Invalid resource path '/{proxy+}/x': Cannot create a child of a resource with a \
             greedy path variable: {proxy+}"
        );
        let err = try_router(&[("/a/{p+}/{q}", &[])]).unwrap_err();
        assert!(matches!(err, RouterError::GreedyNotLast { greedy, .. } if greedy == "{p+}"));
    }

    #[test]
    fn error_is_std_error() {
        let err: Box<dyn std::error::Error> =
            Box::new(RouterError::DuplicateResource { path: "/x".into() });
        assert!(err.to_string().contains("'/x'"));
    }
}
