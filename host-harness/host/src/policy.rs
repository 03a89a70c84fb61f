//! The sandbox policy: which origins the component may reach, which requests the host signs,
//! and the resource limits of every call.

use std::fmt;
use std::time::Duration;

use ureq::http::Uri;

/// `scheme://host:port` of an allowed service, plus the base path requests are built on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
    /// Base path without a trailing slash ("" for none), e.g. "/trakt" for a proxy.
    pub base_path: String,
}

/// Why a URL was refused, in configuration or by the policy at request time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyError {
    NotAUrl {
        url: String,
        reason: String,
    },
    BadScheme(String),
    NoHost(String),
    UserInfo(String),
    Query(String),
    /// A request to the API (or OAuth) origin whose path is outside its configured base path (or that
    /// climbs out of it with a `.`/`..` segment, plain or percent-encoded).
    OutsideBasePath {
        path: String,
        base: String,
    },
    /// Origins as text (`https://host[:port]`), which keeps the error small.
    OriginNotAllowed {
        target: String,
        api: String,
        oauth: String,
    },
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::NotAUrl { url, reason } => {
                write!(f, "{url:?} is not a URL ({reason}); expected e.g. https://api.trakt.tv")
            }
            PolicyError::BadScheme(url) => write!(f, "{url:?} must start with http:// or https://"),
            PolicyError::NoHost(url) => write!(f, "{url:?} has no host"),
            PolicyError::UserInfo(url) => write!(f, "{url:?} must not carry user info"),
            PolicyError::Query(url) => write!(f, "{url:?} must not carry a query string"),
            PolicyError::OutsideBasePath { path, base } => {
                write!(
                    f,
                    "{path:?} is outside the configured base path {base} (only {base} and paths below it are allowed)"
                )
            }
            PolicyError::OriginNotAllowed { target, api, oauth } => {
                write!(f, "{target} is not an allowed origin (allowed: {api} and {oauth})")
            }
        }
    }
}

impl std::error::Error for PolicyError {}

impl Origin {
    /// Parse an `http(s)://host[:port][/base]` URL given in configuration. Anything else is
    /// a configuration error that names the bad value.
    pub fn parse(url: &str) -> Result<Origin, PolicyError> {
        let (origin, has_query) = Origin::of_url(url)?;
        if has_query {
            return Err(PolicyError::Query(url.into()));
        }
        Ok(origin)
    }

    /// The origin (and path) of any request URL; also reports whether it has a query.
    fn of_url(url: &str) -> Result<(Origin, bool), PolicyError> {
        let uri: Uri = url.trim().parse().map_err(|e: ureq::http::uri::InvalidUri| PolicyError::NotAUrl {
            url: url.into(),
            reason: e.to_string(),
        })?;
        let scheme = uri.scheme_str().map(str::to_ascii_lowercase).unwrap_or_default();
        let default_port = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return Err(PolicyError::BadScheme(url.into())),
        };
        let authority = uri.authority().ok_or_else(|| PolicyError::NoHost(url.into()))?;
        if authority.as_str().contains('@') {
            return Err(PolicyError::UserInfo(url.into()));
        }
        let host = authority.host().trim_matches(['[', ']']).to_ascii_lowercase();
        if host.is_empty() {
            return Err(PolicyError::NoHost(url.into()));
        }
        let base_path = uri.path().trim_end_matches('/').to_string();
        let origin = Origin { scheme, host, port: authority.port_u16().unwrap_or(default_port), base_path };
        Ok((origin, uri.query().is_some()))
    }

    /// The base URL handed to the component, e.g. `https://api.trakt.tv` or
    /// `http://127.0.0.1:8080/prefix`.
    pub fn base_url(&self) -> String {
        format!("{}{}", self, self.base_path)
    }

    fn same_origin(&self, other: &Origin) -> bool {
        self.scheme == other.scheme && self.host == other.host && self.port == other.port
    }

    /// Whether `path` (a request's path, as sent) lies at or below this origin's base path.
    /// With a base path, no segment may be `.` or `..` (also as `%2e`), and encoded slashes
    /// and backslashes count as separators, so a server that normalises cannot be walked out
    /// of the prefix. Without one, every path is inside.
    fn contains_path(&self, path: &str) -> bool {
        if self.base_path.is_empty() {
            return true;
        }
        let decoded =
            path.to_ascii_lowercase().replace("%2e", ".").replace("%2f", "/").replace("%5c", "/").replace('\\', "/");
        if decoded.split('/').any(|seg| seg == "." || seg == "..") {
            return false;
        }
        let base = self.base_path.to_ascii_lowercase();
        let path = path.to_ascii_lowercase();
        path == base || path.starts_with(&format!("{base}/"))
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let default = (self.scheme == "https" && self.port == 443) || (self.scheme == "http" && self.port == 80);
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if default {
            write!(f, "{}://{}", self.scheme, host)
        } else {
            write!(f, "{}://{}:{}", self.scheme, host, self.port)
        }
    }
}

/// Where an allowed request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    /// The Trakt API origin: the host signs the request.
    Api,
    /// The OAuth origin (when different from the API): passed through unsigned.
    OAuth,
}

/// Resource limits applied to every call into the component.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Linear memory cap of the instance.
    pub memory_bytes: usize,
    /// Guest instructions per call (wasmtime fuel), so a runaway loop stops.
    pub fuel_per_call: u64,
    /// Wall-clock bound per call, enforced by epoch interruption whenever guest code runs.
    pub call_timeout: Duration,
    /// Upper bound on any single HTTP request's deadline.
    pub http_timeout_cap: Duration,
    /// Total bytes the component may keep in its state directory.
    pub state_quota_bytes: u64,
    /// Files it may keep there (empty files count too); the adapter keeps fewer than ten.
    pub state_max_files: usize,
    /// Elements of any one table (each costs the host 8-16 bytes outside the memory cap).
    /// The real adapter's largest table holds 158 function references (measured by
    /// `tests/tests/hostile.rs`, which fails above a twentieth of the bound); 10,000 leaves
    /// room for growth and bounds a hostile `table.grow` at about 160 KiB per table.
    pub table_elements: usize,
}

/// Instances, tables and memories (counts) a store may create: the component model
/// instantiates a handful of core instances; wasmtime's own defaults are 10,000 each.
pub const MAX_INSTANCES: usize = 8;

pub const MAX_TABLES: usize = 32;
pub const MAX_MEMORIES: usize = 4;

/// Fuel every `crosswatch:sync` import call costs, and fuel per byte crossing it (arguments
/// and results), so host time counts against a call's CPU budget: under the default budget a
/// call can make about 50,000 import calls. The Python host charges the same
/// (host-harness/python/crosswatch_trakt_wasm/runtime.py).
pub const IMPORT_CALL_FUEL: u64 = 10_000_000;
pub const IMPORT_BYTE_FUEL: u64 = 1_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 512 << 20,
            fuel_per_call: 500_000_000_000,
            // Half an hour: even a 100,000-play history add (1,000 POSTs of 100 at Trakt's one
            // write a second) takes about 17 minutes; a call that runs longer is stuck, and
            // CrossWatch's whole sync waits on it.
            call_timeout: Duration::from_secs(30 * 60),
            http_timeout_cap: Duration::from_secs(120),
            state_quota_bytes: 512 << 20,
            state_max_files: crate::imports::state::DEFAULT_MAX_FILES,
            table_elements: 10_000,
        }
    }
}

/// Allowed origins and limits of one host.
#[derive(Clone, Debug)]
pub struct Policy {
    pub api: Origin,
    pub oauth: Origin,
    pub limits: Limits,
}

impl Policy {
    /// Decide whether `url` may be fetched, and how. On the API origin the path must also be
    /// inside the API's base path (`Origin::base_path`, e.g. `/trakt` for a proxy). The component sees the error as
    /// `http-error::denied("refused by host policy: <error>")`.
    pub fn check(&self, url: &str) -> Result<Destination, PolicyError> {
        let (target, _) = Origin::of_url(url)?;
        // `of_url` trims trailing slashes; the path as sent is what the base path must hold.
        let path = url.trim().parse::<Uri>().map(|u| u.path().to_string()).unwrap_or_default();
        if target.same_origin(&self.api) && self.api.contains_path(&path) {
            Ok(Destination::Api)
        } else if target.same_origin(&self.api) {
            // On the API's origin its base path holds for every request, even when the OAuth
            // origin shares the host (the component never needs OAuth: refreshes are the
            // host's); the Python and Node hosts apply the same rule (tests/conformance).
            Err(PolicyError::OutsideBasePath { path, base: self.api.base_path.clone() })
        } else if target.same_origin(&self.oauth) && self.oauth.contains_path(&path) {
            Ok(Destination::OAuth)
        } else if target.same_origin(&self.oauth) {
            Err(PolicyError::OutsideBasePath { path, base: self.oauth.base_path.clone() })
        } else {
            Err(PolicyError::OriginNotAllowed {
                target: target.to_string(),
                api: self.api.to_string(),
                oauth: self.oauth.to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            api: Origin::parse("https://api.trakt.tv").unwrap(),
            oauth: Origin::parse("https://auth.trakt.tv").unwrap(),
            limits: Limits::default(),
        }
    }

    #[test]
    fn origins_normalise_default_ports_and_case() {
        let o = Origin::parse("HTTPS://API.Trakt.tv:443/").unwrap();
        assert_eq!(o.to_string(), "https://api.trakt.tv");
        assert_eq!(o.base_url(), "https://api.trakt.tv");
        let o = Origin::parse("http://127.0.0.1:8080/prefix/").unwrap();
        assert_eq!(o.base_url(), "http://127.0.0.1:8080/prefix");
    }

    #[test]
    fn bad_origins_are_named() {
        assert_eq!(Origin::parse("ftp://x").unwrap_err(), PolicyError::BadScheme("ftp://x".into()));
        assert!(Origin::parse("ftp://x").unwrap_err().to_string().contains("http://"));
        assert!(Origin::parse("https://u:p@x").unwrap_err().to_string().contains("user info"));
        assert!(matches!(Origin::parse("not a url").unwrap_err(), PolicyError::NotAUrl { .. }));
        assert!(Origin::parse("not a url").unwrap_err().to_string().contains("not a URL"));
        assert!(Origin::parse("https://x/?a=1").unwrap_err().to_string().contains("query"));
    }

    #[test]
    fn only_the_two_origins_pass() {
        let p = policy();
        assert_eq!(p.check("https://api.trakt.tv/sync/watchlist?page=1").unwrap(), Destination::Api);
        assert_eq!(p.check("https://auth.trakt.tv/oauth/token").unwrap(), Destination::OAuth);
        assert!(p.check("https://api.trakt.tv:8443/x").is_err());
        assert!(p.check("http://api.trakt.tv/x").is_err());
        let e = p.check("https://evil.example/steal").unwrap_err();
        assert!(matches!(&e, PolicyError::OriginNotAllowed { target, .. } if target == "https://evil.example"));
        let e = e.to_string();
        assert!(e.contains("evil.example") && e.contains("not an allowed origin"), "{e}");
    }

    #[test]
    fn the_api_base_path_is_enforced() {
        let origin = Origin::parse("http://h:8080/trakt/").unwrap();
        let p = Policy { api: origin.clone(), oauth: origin, limits: Limits::default() };
        for ok in [
            "http://h:8080/trakt",
            "http://h:8080/trakt/",
            "http://h:8080/trakt/sync/x?page=2",
            "http://h:8080/TRAKT/a",
        ] {
            assert_eq!(p.check(ok).unwrap(), Destination::Api, "{ok}");
        }
        for bad in [
            "http://h:8080/",
            "http://h:8080/other-app/users",
            "http://h:8080/trakt-evil/x",
            "http://h:8080/trakt/../other",
            "http://h:8080/trakt/%2E%2e/other",
            "http://h:8080/trakt/..%2fother",
            "http://h:8080/trakt/./x",
        ] {
            let e = p.check(bad).unwrap_err();
            assert!(matches!(e, PolicyError::OutsideBasePath { .. }), "{bad}: {e:?}");
            assert!(e.to_string().contains("/trakt"), "{e}");
        }
        // One host for both: the API's base path holds for every request on it.
        for oauth in ["https://h", "https://h/auth"] {
            let shared = Policy {
                api: Origin::parse("https://h/trakt").unwrap(),
                oauth: Origin::parse(oauth).unwrap(),
                limits: Limits::default(),
            };
            assert_eq!(shared.check("https://h/trakt/x").unwrap(), Destination::Api);
            for bad in ["https://h/auth/oauth/token", "https://h/other/x"] {
                assert!(matches!(shared.check(bad), Err(PolicyError::OutsideBasePath { .. })), "{oauth}: {bad}");
            }
        }
        let separate = Policy {
            api: Origin::parse("https://api.example").unwrap(),
            oauth: Origin::parse("https://auth.example/auth").unwrap(),
            limits: Limits::default(),
        };
        assert_eq!(separate.check("https://auth.example/auth/oauth/token").unwrap(), Destination::OAuth);
        let e = separate.check("https://auth.example/elsewhere").unwrap_err();
        assert!(e.to_string().contains("/auth"), "{e}");
        // No base path: the whole origin is the API's.
        assert_eq!(policy().check("https://api.trakt.tv/../x").unwrap(), Destination::Api);
    }
}
