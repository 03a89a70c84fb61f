//! Two Trakt accounts (CrossWatch profiles) on one Trakt application: `cw-host --instance`
//! signs every request with its own account's token, saves a rotated pair into its own block
//! of config.json only, keeps its state apart, and reads and writes CrossWatch's encrypted
//! config values (`enc:v1:`) with CrossWatch's key.

use e2e_tests::Harness;
use serde_json::{json, Value};
use trakt_emulator::{EmulatorConfig, Library, LoggedRequest};
use trakt_host::config_secrets::{ConfigKey, KEY_ENV, KEY_FILE};

const PAIR_A: &str = "one-way:TRAKT#default-PLEX#default:pa";
const PAIR_B: &str = "one-way:TRAKT#b-PLEX#default:pb";

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// alice (primary) and bob share the client id; bob's watchlist is shorter and his token
/// expires on the emulator at `bob_expires_at`.
fn two_accounts(bob_expires_at: Option<i64>) -> Harness {
    let mut alice = Library::sample(4, 1);
    alice.user.username = "alice".into();
    let mut bob = Library::sample(4, 1);
    bob.user.username = "bob".into();
    bob.watchlist.truncate(2);
    bob.auth.access_token = "bob-access-token".into();
    bob.auth.refresh_token = "bob-refresh-token".into();
    bob.auth.expires_at = bob_expires_at;
    alice.accounts = vec![bob];
    Harness::with_config(EmulatorConfig { seed: alice, ..EmulatorConfig::default() })
}

/// config.json with alice in `trakt` and bob in `trakt.instances.b` (his `expires_at` as the
/// config believes it).
fn write_two_account_config(h: &Harness, bob_config_expires_at: i64) {
    let bob = h.emulator.credentials_of("bob").expect("bob is seeded");
    h.write_config(json!({"instances": {"b": {
        "access_token": bob.access_token, "refresh_token": bob.refresh_token, "expires_at": bob_config_expires_at,
    }}}));
}

fn config(h: &Harness) -> Value {
    serde_json::from_str(&std::fs::read_to_string(h.config_path()).unwrap()).unwrap()
}

/// The config without bob's block: what must stay byte for byte as it was.
fn without_b(mut v: Value) -> String {
    v["trakt"]["instances"].as_object_mut().unwrap().remove("b");
    serde_json::to_string(&v).unwrap()
}

fn accounts_of(requests: &[LoggedRequest]) -> Vec<Option<String>> {
    requests.iter().map(|r| r.account.clone()).collect()
}

fn watchlist_len(h: &Harness, user: &str) -> usize {
    h.emulator.dump_account(user).unwrap()["watchlist"].as_array().unwrap().len()
}

fn run_as(h: &Harness, instance: &str, pair: &str, args: &[&str], stdin: &str) -> e2e_tests::Run {
    h.emulator.clear_requests();
    let mut argv = vec!["--instance", instance, "--pair-scope", pair];
    argv.extend_from_slice(args);
    h.cw_host(&argv, stdin)
}

#[test]
fn each_account_is_signed_with_its_own_token_and_keeps_its_own_state() {
    let h = two_accounts(None);
    // bob's token is inside the refresh margin: cw-host refreshes it before the first request.
    write_two_account_config(&h, now() + 60);
    let before = config(&h);

    let run = run_as(&h, "b", PAIR_B, &["index", "watchlist"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json().as_object().unwrap().len(), 2, "bob's watchlist, not alice's: {}", run.stdout);
    let reqs = h.requests();
    assert!(reqs.iter().any(|r| r.path == "/oauth/token"), "refreshed ahead: {reqs:#?}");
    assert!(accounts_of(&reqs).iter().all(|a| a.as_deref() == Some("bob")), "{reqs:#?}");

    // The rotated pair is bob's, in bob's block only.
    let bob_now = h.emulator.credentials_of("bob").unwrap();
    assert_ne!(bob_now.access_token, "bob-access-token");
    let after = config(&h);
    let b = &after["trakt"]["instances"]["b"];
    assert_eq!(
        (b["access_token"].as_str(), b["refresh_token"].as_str()),
        (Some(&*bob_now.access_token), Some(&*bob_now.refresh_token))
    );
    assert_eq!(without_b(after.clone()), without_b(before.clone()), "alice's block and everything else unchanged");

    // bob's write lands in bob's account.
    let movie4 = json!([{"type": "movie", "title": "Sample Movie 4", "ids": {"tmdb": 100004}}]);
    let alice_len = watchlist_len(&h, "alice");
    let run = run_as(&h, "b", PAIR_B, &["add", "watchlist"], &movie4.to_string());
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json()["confirmed_keys"], json!(["tmdb:100004"]), "{}", run.stdout);
    assert_eq!(watchlist_len(&h, "bob"), 3);
    assert_eq!(watchlist_len(&h, "alice"), alice_len);
    assert!(accounts_of(&h.requests()).iter().all(|a| a.as_deref() == Some("bob")));

    // alice, in her own pair, still reads her own library with her own token.
    let run = run_as(&h, "default", PAIR_A, &["index", "watchlist"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json().as_object().unwrap().len(), alice_len);
    assert!(accounts_of(&h.requests()).iter().all(|a| a.as_deref() == Some("alice")), "{:#?}", h.requests());
    assert_eq!(config(&h)["trakt"]["access_token"], before["trakt"]["access_token"]);

    // State: each account and pair in its own folder; alice's shadow is not bob's.
    let root = h.state_dir().join("trakt-wasm");
    let a_dir = root.join("one-way_TRAKT_default-PLEX_default_pa_TRAKT_default");
    let b_dir = root.join("one-way_TRAKT_b-PLEX_default_pb_TRAKT_b");
    let shadow = "trakt_watchlist.shadow.json";
    // The shadow is the index text, then a trailer line (plugin/src/state/text_cache.rs).
    let read = |d: &std::path::Path| -> Value {
        let text = std::fs::read_to_string(d.join(shadow)).unwrap();
        serde_json::from_str(text.rsplit_once('\n').unwrap().0).unwrap()
    };
    assert_eq!(read(&a_dir).as_object().unwrap().len(), alice_len);
    assert_eq!(read(&b_dir).as_object().unwrap().len(), 3);
    assert!(!h.state_dir().join(shadow).exists(), "nothing unscoped written inside a pair");
}

#[test]
fn a_401_for_the_second_account_refreshes_only_its_block() {
    // bob's token is already dead on Trakt while the config still believes it good for days.
    let h = two_accounts(Some(now() - 10));
    write_two_account_config(&h, now() + 10 * 86_400);
    let before = config(&h);
    let run = run_as(&h, "b", PAIR_B, &["index", "watchlist"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    let reqs = h.requests();
    let statuses: Vec<(u16, &str, Option<&str>)> =
        reqs.iter().map(|r| (r.status, r.path.as_str(), r.account.as_deref())).collect();
    assert_eq!(statuses.iter().filter(|s| s.0 == 401).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| s.2 != Some("alice")), "never alice's token: {statuses:?}");
    assert!(statuses.contains(&(200, "/oauth/token", Some("bob"))), "{statuses:?}");
    let bob_now = h.emulator.credentials_of("bob").unwrap();
    let after = config(&h);
    assert_eq!(after["trakt"]["instances"]["b"]["refresh_token"].as_str(), Some(&*bob_now.refresh_token));
    assert_eq!(without_b(after), without_b(before));
    assert_eq!(h.emulator.credentials_of("alice").unwrap().access_token, h.emulator.credentials().access_token);
}

fn key_in_env() -> bool {
    KEY_ENV.iter().any(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty()))
}

/// The emulator's single account, with its secrets stored as CrossWatch's save_config stores
/// them; `expires_at` as the config believes it.
fn encrypted_config(h: &Harness, key: &ConfigKey, expires_at: i64) {
    let c = h.emulator.credentials();
    let trakt = json!({
        "client_id": c.client_id, "client_secret": key.encrypt(&c.client_secret),
        "access_token": key.encrypt(&c.access_token), "refresh_token": key.encrypt(&c.refresh_token),
        "expires_at": expires_at, "api_url": h.emulator.url(), "auth_url": h.emulator.url(),
    });
    std::fs::write(h.config_path(), serde_json::to_vec_pretty(&json!({"version": "0.11.3", "trakt": trakt})).unwrap())
        .unwrap();
}

fn no_ciphertext_on_the_wire(reqs: &[LoggedRequest]) {
    for r in reqs {
        let body = r.body.as_ref().map(|b| b.to_string()).unwrap_or_default();
        assert!(!body.contains("enc:v1:"), "ciphertext sent: {r:#?}");
        assert!(r.path == "/oauth/token" || r.status != 401 || r.account.is_none(), "{r:#?}");
    }
}

#[test]
fn an_encrypted_crosswatch_config_survives_a_refresh_ahead_and_after_a_401() {
    if key_in_env() {
        return; // the test's key file would not be the one used
    }
    let h = Harness::new(Library::sample(3, 1));
    std::fs::write(h.config_path().with_file_name(KEY_FILE), "crosswatch-generated-key\n").unwrap();
    let key = ConfigKey::from_text("crosswatch-generated-key").unwrap();

    // Ahead of expiry.
    encrypted_config(&h, &key, now() + 60);
    let run = h.cw_host(&["index", "watchlist"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    let reqs = h.requests();
    no_ciphertext_on_the_wire(&reqs);
    assert!(
        reqs.iter().filter(|r| r.path != "/oauth/token").all(|r| r.status == 200 && r.account.is_some()),
        "{reqs:#?}"
    );
    let rotated = h.emulator.credentials();
    let disk = config(&h);
    for field in ["access_token", "refresh_token"] {
        let stored = disk["trakt"][field].as_str().unwrap();
        assert!(stored.starts_with("enc:v1:"), "{field} stays encrypted: {stored}");
    }
    assert_eq!(key.decrypt(disk["trakt"]["access_token"].as_str().unwrap()).unwrap(), rotated.access_token);
    assert_eq!(key.decrypt(disk["trakt"]["refresh_token"].as_str().unwrap()).unwrap(), rotated.refresh_token);

    // After a 401: Trakt has killed the token the config still believes good for days.
    h.emulator.clear_requests();
    encrypted_config(&h, &key, now() + 10 * 86_400);
    let live = h.emulator.credentials();
    h.emulator.with_library(|lib| lib.auth.expires_at = Some(now() - 5));
    let run = h.cw_host(&["index", "watchlist"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    let reqs = h.requests();
    no_ciphertext_on_the_wire(&reqs);
    assert_eq!(reqs.iter().filter(|r| r.status == 401).count(), 1, "{reqs:#?}");
    let after = h.emulator.credentials();
    assert_ne!(after.access_token, live.access_token);
    let disk = config(&h);
    assert_eq!(key.decrypt(disk["trakt"]["access_token"].as_str().unwrap()).unwrap(), after.access_token);
    assert_eq!(key.decrypt(disk["trakt"]["refresh_token"].as_str().unwrap()).unwrap(), after.refresh_token);
    assert_eq!(
        key.decrypt(disk["trakt"]["client_secret"].as_str().unwrap()).unwrap(),
        after.client_secret,
        "left as it was"
    );
}

#[test]
fn an_encrypted_config_without_its_key_is_refused_before_any_request() {
    if key_in_env() {
        return;
    }
    let h = Harness::new(Library::sample(2, 0));
    let key = ConfigKey::from_text("somewhere-else").unwrap();
    encrypted_config(&h, &key, now() + 86_400);
    let run = h.cw_host(&["index", "watchlist"], "");
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains(KEY_FILE) && run.stderr.contains("CW_CONFIG_KEY"), "{}", run.stderr);
    assert!(h.requests().is_empty(), "nothing reached Trakt: {:#?}", h.requests());
}
