//! OAuth over HTTP: refresh-token rotation, the authorization code, and the device flow.

mod common;

use common::{agent_with, control, err, send, start, Api, Resp};
use serde_json::json;
use trakt_emulator::{Emulator, EmulatorConfig, Library};

#[test]
fn oauth_refresh_rotation() {
    let emu = Emulator::start(EmulatorConfig {
        seed: Library::sample(1, 0),
        access_token_ttl_secs: 3600,
        ..Default::default()
    })
    .unwrap();
    let old = emu.credentials();
    assert_eq!(old.client_id, "emulator-client-id");
    assert_eq!(old.access_token, "emulator-access-token");
    assert_eq!(old.refresh_token, "emulator-refresh-token");
    let api = Api::new(&emu);
    let refresh = |token: &str, secret: &str| {
        api.oauth(
            "/oauth/token",
            &json!({ "refresh_token": token, "client_id": old.client_id, "client_secret": secret,
                     "redirect_uri": "urn:ietf:wg:oauth:2.0:oob", "grant_type": "refresh_token" }),
        )
    };
    let r = refresh(&old.refresh_token, "wrong-secret");
    assert_eq!((r.status, err(&r).as_str()), (401, "invalid_client"));

    let r = refresh(&old.refresh_token, &old.client_secret);
    assert_eq!(r.status, 200);
    let t = r.json();
    assert_eq!(t["token_type"], "bearer");
    assert_eq!(t["expires_in"], 3600);
    assert_eq!(t["scope"], "public");
    let created = t["created_at"].as_i64().unwrap();
    assert!((created - emu.now().secs()).abs() <= 2);
    let access = t["access_token"].as_str().unwrap().to_string();
    let new_refresh = t["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(access.len(), 64);
    assert_ne!(access, old.access_token);
    assert_ne!(new_refresh, old.refresh_token);
    assert_ne!(access, new_refresh);
    let now = emu.credentials();
    assert_eq!((now.access_token.as_str(), now.refresh_token.as_str()), (access.as_str(), new_refresh.as_str()));
    assert_eq!(now.expires_at, created + 3600);

    // Reusing the old refresh token: invalid_grant.
    let r = refresh(&old.refresh_token, &old.client_secret);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({ "error": "invalid_grant", "error_description": "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client." })
    );
    // The old access token is dead, the new one works.
    let r = api.get("/sync/last_activities");
    assert_eq!((r.status, err(&r).as_str()), (401, "invalid_token"));
    let api2 = Api::new(&emu);
    assert_eq!(api2.get("/sync/last_activities").status, 200);
    assert_eq!(emu.credentials().access_token, access);

    // Expiry.
    emu.advance_clock(3601);
    let r = api2.get("/sync/last_activities");
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error_description"], "The access token expired");
    let r = refresh(&new_refresh, &old.client_secret);
    assert_eq!(r.status, 200);
    let api3 = Api::new(&emu);
    assert_eq!(api3.get("/sync/last_activities").status, 200);

    // Grant errors.
    let r = api.oauth("/oauth/token", &json!({ "client_id": old.client_id }));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({ "error": "invalid_request", "error_description": "missing required parameter: grant_type" })
    );
    let r = api.oauth(
        "/oauth/token",
        &json!({ "grant_type": "password", "client_id": old.client_id, "client_secret": old.client_secret }),
    );
    assert_eq!((r.status, err(&r).as_str()), (400, "unsupported_grant_type"));

    // Authorization code: any non-empty code.
    let r = api.oauth(
        "/oauth/token",
        &json!({ "code": "abc", "client_id": old.client_id, "client_secret": old.client_secret,
                 "redirect_uri": "urn:ietf:wg:oauth:2.0:oob", "grant_type": "authorization_code" }),
    );
    assert_eq!(r.status, 200);
    let code_token = r.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(emu.credentials().access_token, code_token);
    let r = api.oauth(
        "/oauth/token",
        &json!({ "code": "", "client_id": old.client_id, "client_secret": old.client_secret, "grant_type": "authorization_code" }),
    );
    assert_eq!((r.status, err(&r).as_str()), (400, "invalid_request"));

    // Form-encoded bodies work too.
    let form = format!(
        "grant_type=refresh_token&client_id={}&client_secret={}&refresh_token={}",
        old.client_id,
        old.client_secret,
        emu.credentials().refresh_token
    );
    let r = send(
        &agent_with(true, 0),
        "POST",
        &format!("{}/oauth/token", emu.url()),
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(&form),
    );
    assert_eq!(r.status, 200);

    // Revoke.
    let current = Api::new(&emu);
    let r = current.oauth(
        "/oauth/revoke",
        &json!({ "token": current.token, "client_id": old.client_id, "client_secret": old.client_secret }),
    );
    assert_eq!((r.status, r.json()), (200, json!({})));
    assert_eq!(current.get("/sync/last_activities").status, 401);
    let r = refresh(&emu.credentials().refresh_token, &old.client_secret);
    assert_eq!((r.status, err(&r).as_str()), (400, "invalid_grant"));
}

#[test]
fn oauth_authorize() {
    let emu = start(Library::default());
    let a = agent_with(true, 0);
    let r = send(
        &a,
        "GET",
        &format!("{}/oauth/authorize?response_type=code&client_id=emulator-client-id&redirect_uri=http%3A%2F%2Flocalhost%2Fcb&state=a%20b", emu.url()),
        &[],
        None,
    );
    assert_eq!(r.status, 302);
    let loc = r.h("location");
    assert!(loc.starts_with("http://localhost/cb?code="), "{loc}");
    assert!(loc.ends_with("&state=a%20b"), "{loc}");
    let r = send(
        &a,
        "GET",
        &format!(
            "{}/oauth/authorize?response_type=code&client_id=emulator-client-id&redirect_uri=urn:ietf:wg:oauth:2.0:oob",
            emu.url()
        ),
        &[],
        None,
    );
    assert_eq!(r.status, 200);
    assert!(r.text.contains("<code id=\"code\">"));
    let r = send(
        &a,
        "GET",
        &format!("{}/oauth/authorize?response_type=code&client_id=x&redirect_uri=y", emu.url()),
        &[],
        None,
    );
    assert_eq!(r.status, 401);
}

fn device_emulator() -> Emulator {
    Emulator::start(EmulatorConfig {
        seed: Library::sample(1, 0),
        device_interval_secs: 1,
        device_expires_in_secs: 600,
        ..Default::default()
    })
    .unwrap()
}

impl Api {
    fn device_code(&self) -> (String, String) {
        let r = self.oauth("/oauth/device/code", &json!({ "client_id": self.client_id }));
        assert_eq!(r.status, 200);
        let v = r.json();
        (v["device_code"].as_str().unwrap().to_string(), v["user_code"].as_str().unwrap().to_string())
    }

    fn poll(&self, code: &str, secret: &str) -> Resp {
        self.oauth(
            "/oauth/device/token",
            &json!({ "code": code, "client_id": self.client_id, "client_secret": secret }),
        )
    }
}

#[test]
fn device_flow_approve() {
    let emu = device_emulator();
    let old = emu.credentials();
    let api = Api::new(&emu);
    let secret = old.client_secret.as_str();
    let r = api.oauth("/oauth/device/code", &json!({ "client_id": old.client_id }));
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["verification_url"], "https://trakt.tv/activate");
    assert_eq!((v["expires_in"].clone(), v["interval"].clone()), (json!(600), json!(1)));
    let code = v["device_code"].as_str().unwrap().to_string();
    let user_code = v["user_code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 64);
    assert_eq!(user_code.len(), 8);
    assert!(user_code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
    assert_eq!(emu.pending_device_codes(), vec![user_code.clone()]);

    let r = api.poll(&code, secret);
    assert_eq!((r.status, r.text.as_str()), (400, ""), "pending");
    assert_eq!(api.poll(&code, secret).status, 429, "polled too fast");
    emu.advance_clock(1);
    assert_eq!(api.poll(&code, secret).status, 400);
    assert_eq!(api.poll(&code, "wrong").status, 401);
    assert_eq!(api.poll("no-such-code", secret).status, 404);

    assert!(emu.approve_device(&user_code.to_lowercase()));
    assert!(emu.pending_device_codes().is_empty());
    assert!(!emu.approve_device(&user_code), "no longer pending");
    emu.advance_clock(1);
    let r = api.poll(&code, secret);
    assert_eq!(r.status, 200);
    let t = r.json();
    assert_eq!((t["token_type"].clone(), t["scope"].clone()), (json!("bearer"), json!("public")));
    let now = emu.credentials();
    assert_eq!(t["access_token"].as_str(), Some(now.access_token.as_str()));
    assert_eq!(t["refresh_token"].as_str(), Some(now.refresh_token.as_str()));
    assert_ne!(now.access_token, old.access_token);
    assert_eq!(api.get("/sync/last_activities").status, 401, "old token dead");
    assert_eq!(Api::new(&emu).get("/sync/last_activities").status, 200);
    emu.advance_clock(1);
    assert_eq!(api.poll(&code, secret).status, 409, "already used");
    emu.advance_clock(1);
    assert_eq!(api.poll(&code, secret).status, 409);

    // Bad requests for a code.
    let r = api.oauth("/oauth/device/code", &json!({ "client_id": "someone-else" }));
    assert_eq!((r.status, err(&r).as_str()), (403, "invalid_client"));
    let r = api.oauth("/oauth/device/code", &json!({}));
    assert_eq!((r.status, err(&r).as_str()), (400, "invalid_request"));
    let log: Vec<(String, u16)> =
        emu.requests().iter().filter(|l| l.path == "/oauth/device/token").map(|l| (l.path.clone(), l.status)).collect();
    assert_eq!(log.iter().map(|(_, s)| *s).collect::<Vec<_>>(), vec![400, 429, 400, 401, 404, 200, 409, 409]);
}

#[test]
fn device_flow_deny_expire_and_control() {
    let emu = device_emulator();
    let api = Api::new(&emu);
    let secret = emu.credentials().client_secret;
    let (denied, denied_user) = api.device_code();
    let (expiring, expiring_user) = api.device_code();
    let (by_control, control_user) = api.device_code();
    assert_ne!(denied_user, expiring_user);
    assert_eq!(emu.pending_device_codes(), vec![denied_user.clone(), expiring_user.clone(), control_user.clone()]);

    assert!(emu.deny_device(&denied_user));
    assert_eq!(api.poll(&denied, &secret).status, 418);
    assert!(!emu.approve_device(&denied_user));

    // Control endpoints.
    let r = control(&emu, "GET", "/_emulator/device", None);
    assert_eq!(r.json(), json!({ "pending": [expiring_user.clone(), control_user.clone()] }));
    let r = control(&emu, "POST", &format!("/_emulator/device/{control_user}/approve"), None);
    assert_eq!((r.status, r.json()), (200, json!({ "user_code": control_user, "status": "approved" })));
    let r = control(&emu, "POST", &format!("/_emulator/device/{control_user}/deny"), None);
    assert_eq!(r.status, 404);
    assert_eq!(api.poll(&by_control, &secret).status, 200);

    // Expiry on the emulator clock.
    assert_eq!(api.poll(&expiring, &secret).status, 400);
    emu.advance_clock(601);
    assert_eq!(api.poll(&expiring, &secret).status, 410);
    assert!(emu.pending_device_codes().is_empty());
    assert!(!emu.deny_device(&expiring_user));
    let (fresh, fresh_user) = api.device_code();
    let r = control(&emu, "POST", &format!("/_emulator/device/{fresh_user}/deny"), None);
    assert_eq!(r.json()["status"], "denied");
    assert_eq!(api.poll(&fresh, &secret).status, 418);
    assert_eq!(control(&emu, "POST", "/_emulator/device/NOPE0000/approve", None).status, 404);
}
