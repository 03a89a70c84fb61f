//! Several Trakt accounts on one emulator: routing by token, per-account state, tokens, rate
//! limits and the request log's `account`.

mod common;

use common::{agent_with, control, err, last_logged, start, Api};
use serde_json::{json, Value};
use trakt_emulator::{Auth, Emulator, EmulatorConfig, Library, RateLimitConfig, User};

/// Alice (primary: movie 1 on the watchlist, one play of movie 1) and Bob (`accounts[0]`: movie
/// 2 on the watchlist, no plays), with Bob's app credentials `bob_app`.
fn two_accounts_seed(bob_app: (&str, &str)) -> Library {
    let seed = json!({
        "auth": { "client_id": "app-a", "client_secret": "secret-a",
                  "access_token": "token-alice", "refresh_token": "refresh-alice" },
        "user": { "username": "alice" },
        "catalog": { "movies": [
            { "title": "One", "year": 2001, "ids": { "trakt": 1, "tmdb": 101 } },
            { "title": "Two", "year": 2002, "ids": { "trakt": 2, "tmdb": 102 } },
            { "title": "Three", "year": 2003, "ids": { "trakt": 3, "tmdb": 103 } }
        ] },
        "watchlist": [ { "type": "movie", "trakt": 1 } ],
        "history": [ { "type": "movie", "trakt": 1, "watched_at": "2026-01-01T10:00:00Z" } ],
        "accounts": [ {
            "auth": { "client_id": bob_app.0, "client_secret": bob_app.1,
                      "access_token": "token-bob", "refresh_token": "refresh-bob" },
            "user": { "username": "bob", "vip": true },
            "watchlist": [ { "type": "movie", "trakt": 2 } ]
        } ]
    });
    Library::from_json(&seed.to_string()).unwrap()
}

/// Both apps: one shared Trakt application, and one application per account.
const APPS: [(&str, &str); 2] = [("app-a", "secret-a"), ("app-b", "secret-b")];

fn api_for(emu: &Emulator, username: &str) -> Api {
    let c = emu.credentials_of(username).expect("a known account");
    Api { agent: agent_with(true, 0), base: emu.url(), client_id: c.client_id, token: c.access_token }
}

fn watchlist_movies(api: &Api) -> Vec<u64> {
    let r = api.get("/sync/watchlist");
    assert_eq!(r.status, 200, "{}", r.text);
    r.json().as_array().unwrap().iter().map(|row| row["movie"]["ids"]["trakt"].as_u64().unwrap()).collect()
}

fn history_len(api: &Api) -> usize {
    let r = api.get("/sync/history");
    assert_eq!(r.status, 200, "{}", r.text);
    r.json().as_array().unwrap().len()
}

fn dumped_movies(emu: &Emulator, username: &str, key: &str) -> Vec<u64> {
    emu.dump_account(username).unwrap()[key].as_array().unwrap().iter().map(|e| e["trakt"].as_u64().unwrap()).collect()
}

#[test]
fn each_token_reads_and_writes_its_own_account() {
    for bob_app in APPS {
        let emu = start(two_accounts_seed(bob_app));
        assert_eq!(emu.usernames(), ["alice", "bob"]);
        let (alice, bob) = (api_for(&emu, "alice"), api_for(&emu, "bob"));
        assert_eq!(bob.client_id, bob_app.0);

        assert_eq!(watchlist_movies(&alice), [1]);
        assert_eq!(watchlist_movies(&bob), [2]);
        assert_eq!((history_len(&alice), history_len(&bob)), (1, 0));
        assert_eq!(alice.get("/users/settings").json()["user"]["username"], "alice");
        let settings = bob.get("/users/settings").json();
        assert_eq!(settings["user"]["username"], "bob");
        assert_eq!(settings["user"]["vip"], true);

        // A write lands only in the account that signed it.
        let three = json!({ "movies": [ { "ids": { "tmdb": 103 } } ] });
        assert_eq!(bob.post("/sync/watchlist", &three).status, 201);
        assert_eq!(dumped_movies(&emu, "bob", "watchlist"), [2, 3]);
        assert_eq!(dumped_movies(&emu, "alice", "watchlist"), [1]);
        let play = json!({ "movies": [ { "ids": { "trakt": 2 }, "watched_at": "2026-02-01T10:00:00Z" } ] });
        assert_eq!(alice.post("/sync/history", &play).status, 201);
        assert_eq!(dumped_movies(&emu, "alice", "history"), [2, 1]);
        assert!(dumped_movies(&emu, "bob", "history").is_empty());
        assert_eq!(watchlist_movies(&alice), [1]);
        assert_eq!(watchlist_movies(&bob), [2, 3]);
        // The primary dump is Alice's library, Bob's under `accounts`.
        let dump = emu.dump();
        assert_eq!(dump["user"]["username"], "alice");
        assert_eq!(dump["watchlist"].as_array().unwrap().len(), 1);
        assert_eq!(dump["accounts"][0], emu.dump_account("bob").unwrap());
        assert!(dump["accounts"][0].get("accounts").is_none());
    }
}

#[test]
fn request_log_names_the_signing_account() {
    for bob_app in APPS {
        let emu = start(two_accounts_seed(bob_app));
        let (alice, bob) = (api_for(&emu, "alice"), api_for(&emu, "bob"));
        alice.get("/sync/watchlist");
        bob.post("/sync/watchlist", &json!({ "movies": [ { "ids": { "trakt": 3 } } ] }));
        let stranger = api_for(&emu, "bob").with_token("no-such-token");
        let r = stranger.get("/sync/watchlist");
        // An unknown token with Bob's app key is Bob's app's 401 (not a 403 from Alice's app).
        assert_eq!((r.status, err(&r).as_str()), (401, "invalid_token"));
        emu.with_account("bob", |l| l.auth.expires_at = Some(0)).unwrap();
        let r = bob.get("/sync/watchlist");
        assert_eq!(r.status, 401);
        assert_eq!(r.json()["error_description"], "The access token expired");
        assert_eq!(watchlist_movies(&alice), [1]);

        let log = emu.requests();
        let accounts: Vec<Option<&str>> = log.iter().map(|r| r.account.as_deref()).collect();
        assert_eq!(accounts, [Some("alice"), Some("bob"), None, None, Some("alice")]);
        assert_eq!(log[1].path, "/sync/watchlist");
        // The control endpoint serves the same field.
        let served = control(&emu, "GET", "/_emulator/requests", None).json();
        assert_eq!(served[1]["account"], "bob");
        assert_eq!(served[2]["account"], Value::Null);
    }
    // Different apps: Bob's token with Alice's app key is refused (token of another app).
    let emu = start(two_accounts_seed(APPS[1]));
    let mut bob = api_for(&emu, "bob");
    bob.client_id = "app-a".into();
    let r = bob.get("/sync/watchlist");
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(last_logged(&emu).account, None);
}

#[test]
fn refresh_rotates_only_that_account() {
    for bob_app in APPS {
        let emu = start(two_accounts_seed(bob_app));
        let alice_before = emu.credentials_of("alice").unwrap();
        let bob_before = emu.credentials_of("bob").unwrap();
        let alice = api_for(&emu, "alice");
        let refresh = |token: &str, app: (&str, &str)| {
            alice.oauth(
                "/oauth/token",
                &json!({ "grant_type": "refresh_token", "refresh_token": token,
                         "client_id": app.0, "client_secret": app.1,
                         "redirect_uri": "urn:ietf:wg:oauth:2.0:oob" }),
            )
        };
        let r = refresh("refresh-bob", bob_app);
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(last_logged(&emu).account.as_deref(), Some("bob"));
        let t = r.json();
        let bob_now = emu.credentials_of("bob").unwrap();
        assert_eq!(t["access_token"], bob_now.access_token.as_str());
        assert_eq!(t["refresh_token"], bob_now.refresh_token.as_str());
        assert_ne!(bob_now.access_token, bob_before.access_token);
        assert_eq!(emu.credentials_of("alice").unwrap(), alice_before);
        assert_eq!(emu.credentials(), alice_before);

        assert_eq!(watchlist_movies(&alice), [1]);
        let old_bob = api_for(&emu, "bob").with_token(&bob_before.access_token);
        let r = old_bob.get("/sync/watchlist");
        assert_eq!((r.status, err(&r).as_str()), (401, "invalid_token"));
        assert_eq!(watchlist_movies(&api_for(&emu, "bob")), [2]);

        // The spent refresh token: invalid_grant (whichever app presents it).
        let r = refresh("refresh-bob", bob_app);
        assert_eq!((r.status, err(&r).as_str()), (400, "invalid_grant"));
        assert_eq!(last_logged(&emu).account, None);
        // Alice's refresh token with Bob's app: only the same app may spend it.
        let r = refresh("refresh-alice", bob_app);
        if bob_app == APPS[0] {
            assert_eq!(r.status, 200);
            assert_eq!(last_logged(&emu).account.as_deref(), Some("alice"));
            // Two accounts rotated once each never share a token.
            let a = emu.credentials_of("alice").unwrap();
            assert_ne!(a.access_token, bob_now.access_token);
            assert_ne!(a.refresh_token, bob_now.refresh_token);
            assert_eq!(emu.credentials_of("bob").unwrap(), bob_now);
        } else {
            assert_eq!((r.status, err(&r).as_str()), (401, "invalid_client"));
            assert_eq!(emu.credentials_of("alice").unwrap(), alice_before);
        }
    }
    assert_eq!(start(two_accounts_seed(APPS[0])).credentials_of("carol"), None);
}

#[test]
fn state_control_endpoint_by_account() {
    let emu = start(two_accounts_seed(APPS[1]));
    let bob = control(&emu, "GET", "/_emulator/state?account=bob", None);
    assert_eq!(bob.status, 200);
    assert_eq!(bob.json(), emu.dump_account("bob").unwrap());
    assert_eq!(bob.json()["user"]["username"], "bob");
    assert_eq!(bob.json()["auth"]["client_id"], "app-b");
    // Bob's seed had no catalogue: he sees Alice's.
    assert_eq!(bob.json()["catalog"], emu.dump()["catalog"]);
    let alice = control(&emu, "GET", "/_emulator/state?account=alice", None);
    assert_eq!(alice.json()["watchlist"].as_array().unwrap().len(), 1);
    assert_eq!(alice.json(), emu.dump_account("alice").unwrap());
    let r = control(&emu, "GET", "/_emulator/state?account=carol", None);
    assert_eq!(r.status, 404);
    assert!(r.json()["error_description"].as_str().unwrap().contains("\"carol\""), "{}", r.text);
    assert_eq!(emu.dump_account("carol"), None);
    let primary = control(&emu, "GET", "/_emulator/state", None).json();
    assert_eq!(primary, emu.dump());
    assert_eq!(primary["accounts"][0]["user"]["username"], "bob");

    // The dump reads back as the same seed, every account included.
    assert_eq!(start(emu.library()).dump(), primary);
    let emu2 = start(Library::from_json(&primary.to_string()).unwrap());
    assert_eq!(emu2.dump(), primary);
    assert_eq!(emu2.credentials_of("bob"), emu.credentials_of("bob"));
}

#[test]
fn accounts_built_in_rust_and_their_rate_limits() {
    let mut seed = Library::sample(3, 0);
    seed.accounts.push(Library {
        auth: Auth { access_token: "bob-token".into(), refresh_token: "bob-refresh".into(), ..Auth::default() },
        user: User { username: "bob".into(), ..User::default() },
        ..Library::default()
    });
    let emu = Emulator::start(EmulatorConfig {
        seed: seed.clone(),
        rate_limit: Some(RateLimitConfig::default()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(emu.usernames(), ["emulator", "bob"]);
    // No catalogue of its own: the primary's; `expires_at` defaults as for the primary.
    let bob = emu.library().accounts.remove(0);
    assert_eq!(bob.catalog, emu.library().catalog);
    assert_eq!(bob.auth.expires_at, emu.library().auth.expires_at);
    assert!(emu.credentials_of("bob").unwrap().expires_at > emu.now().secs());

    // One write per second per account: Bob's bucket is his own.
    let body = json!({ "movies": [ { "ids": { "trakt": 1 } } ] });
    let (primary, bob) = (Api::new(&emu), api_for(&emu, "bob"));
    assert_eq!(primary.post("/sync/watchlist/remove", &body).status, 200);
    assert_eq!(primary.post("/sync/watchlist/remove", &body).status, 429);
    assert_eq!(bob.post("/sync/watchlist", &body).status, 201);
    assert_eq!(bob.post("/sync/watchlist", &body).status, 429);
    assert_eq!(emu.with_account("bob", |l| l.watchlist.len()), Some(1));
    assert_eq!(emu.with_account("carol", |_| ()), None);

    // The same tokens twice refuse to start.
    seed.accounts[0].auth = Auth::default();
    let e = Emulator::start(EmulatorConfig { seed, ..Default::default() }).err().unwrap();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(e.to_string().starts_with("accounts[0].auth.access_token:"), "{e}");
}

#[test]
fn seed_errors_name_the_account_entry() {
    let e = |accounts: Value| {
        let seed = json!({
            "catalog": { "movies": [ { "title": "M", "ids": { "trakt": 1 } } ] },
            "accounts": accounts
        });
        Library::from_json(&seed.to_string()).unwrap_err()
    };
    let bob = |extra: Value| {
        let mut v = json!({ "user": { "username": "bob" },
                            "auth": { "access_token": "tb", "refresh_token": "rb" } });
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        v
    };
    assert_eq!(e(json!({})), "accounts: expected an array of accounts, found an object");
    assert!(e(json!([5])).starts_with("accounts[0]: expected an object"));
    let msg = e(json!([bob(json!({})), bob(json!({ "auth": { "access_token": 5 } }))]));
    assert!(msg.starts_with("accounts[1].auth.access_token: invalid type: integer `5`"), "{msg}");
    let msg = e(json!([bob(json!({ "watchlists": [] }))]));
    assert!(msg.starts_with("accounts[0]: unknown field `watchlists`"), "{msg}");
    assert_eq!(
        e(json!([bob(json!({ "watchlist": [ { "type": "movie", "trakt": 9 } ] }))])),
        "accounts[0].watchlist: movie with trakt id 9 is not in the catalogue"
    );
    assert_eq!(
        e(json!([bob(json!({ "watchlist": [ { "type": "movie" } ] }))])),
        "accounts[0].watchlist[0]: missing field `trakt`"
    );
    let msg = e(json!([bob(json!({ "user": { "username": "bob", "vip": "yes" } }))]));
    assert!(msg.starts_with("accounts[0].user.vip: invalid type"), "{msg}");
    assert_eq!(e(json!([bob(json!({ "accounts": [ {} ] }))])), "accounts[0].accounts: accounts cannot be nested");
    assert_eq!(
        e(json!([{ "user": { "username": "bob" } }])),
        "accounts[0].auth.access_token: the same access token as the primary account (every account needs its own)"
    );
    assert_eq!(
        e(json!([bob(json!({})), bob(json!({ "auth": { "access_token": "tc", "refresh_token": "rc" } }))])),
        "accounts[1].user.username: the same username \"bob\" as accounts[0] (every account needs its own)"
    );
    assert_eq!(e(json!([bob(json!({ "user": { "username": "" } }))])), "accounts[0].user.username: must not be empty");
    // The top-level check still names unknown keys, and lists `accounts`.
    let msg = Library::from_json(r#"{"acounts":[]}"#).unwrap_err();
    assert!(msg.starts_with("unknown top-level field `acounts`"), "{msg}");
    assert!(msg.ends_with("last_activities, accounts)"), "{msg}");
}
