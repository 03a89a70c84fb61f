//! Name resolution kept for the run. ureq resolves the host before every request, also one
//! that then reuses a pooled connection, and with a timeout set (always, here) does it in a
//! thread of its own (ureq 3.5 `run.rs` `connect`, `unversioned/resolver.rs`
//! `resolve_async`): a thread and a DNS lookup per Trakt request, 401 of them for a
//! 100,000-play history. The API and OAuth origins are fixed for a run, so each is looked up
//! once; a failed lookup is not kept (the next request tries again).

use std::collections::HashMap;
use std::sync::Mutex;

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

#[derive(Debug, Default)]
pub struct RunResolver {
    inner: DefaultResolver,
    /// `scheme://authority` -> its addresses.
    known: Mutex<HashMap<String, ResolvedSocketAddrs>>,
}

impl Resolver for RunResolver {
    fn resolve(&self, uri: &Uri, config: &Config, timeout: NextTimeout) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let key = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or_default(),
            uri.authority().map(|a| a.as_str()).unwrap_or_default()
        );
        if let Some(addrs) = self.known.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(addrs.clone());
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        self.known.lock().unwrap_or_else(|e| e.into_inner()).insert(key, addrs.clone());
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_origin_is_looked_up_once_and_kept() {
        let r = RunResolver::default();
        let config = Config::default();
        let uri: Uri = "http://127.0.0.1:9/sync/history?page=2".parse().unwrap();
        let first = r.resolve(&uri, &config, NextTimeout::default()).unwrap();
        assert_eq!(first.iter().map(|a| a.to_string()).collect::<Vec<_>>(), ["127.0.0.1:9"]);
        let again: Uri = "http://127.0.0.1:9/sync/watchlist".parse().unwrap();
        assert_eq!(r.resolve(&again, &config, NextTimeout::default()).unwrap().len(), 1);
        assert_eq!(r.known.lock().unwrap().len(), 1, "one origin, one entry");
        let other: Uri = "http://127.0.0.1:10/x".parse().unwrap();
        r.resolve(&other, &config, NextTimeout::default()).unwrap();
        assert_eq!(r.known.lock().unwrap().len(), 2);
    }
}
