//! The pacer's unit tests on a clock whose sleeps advance time at once.

use super::*;
use crate::log::take_lines;

/// A clock whose sleep advances time at once and records the sleep.
struct TestClock {
    now: u64,
    sleeps: Vec<u64>,
}

impl Clock for TestClock {
    fn now_ms(&self) -> u64 {
        self.now
    }
    fn sleep_ms(&mut self, ms: u64) {
        self.sleeps.push(ms);
        self.now += ms;
    }
    fn wall_unix_secs(&self) -> i64 {
        1_700_000_000 + (self.now / 1000) as i64
    }
}

fn clock() -> TestClock {
    TestClock { now: 0, sleeps: Vec::new() }
}

/// One request: take a token, spend `latency` ms on the wire, complete.
fn request(p: &mut Pacer, b: Bucket, c: &mut TestClock, latency: u64) -> u64 {
    let w = p.acquire(b, c, u64::MAX).unwrap();
    c.now += latency;
    p.complete(b, c.now);
    w
}

#[test]
fn never_more_than_the_limit_in_any_window() {
    // 1000 per 300 s: the first 1000 reads go at once; the 1001st waits until the first
    // one is 300 s old, then they flow at the pace the first ones finished.
    let mut c = clock();
    let mut p = Pacer::new(&RateLimit::default());
    for _ in 0..1000 {
        assert_eq!(request(&mut p, Bucket::Read, &mut c, 0), 0);
    }
    assert_eq!(request(&mut p, Bucket::Read, &mut c, 0), 300_000);
    assert_eq!(request(&mut p, Bucket::Read, &mut c, 0), 0, "the 2nd token came back with the 1st");
    assert_eq!(c.sleeps, vec![300_000]);

    // Spread over time: 4 per 2 s with 100 ms per request; count the sends in every 2 s span.
    let mut c = clock();
    let cfg = RateLimit { read_limit: 4, read_window_secs: 2, ..RateLimit::default() };
    let mut p = Pacer::new(&cfg);
    let mut sends = Vec::new();
    for _ in 0..20 {
        p.acquire(Bucket::Read, &mut c, u64::MAX).unwrap();
        sends.push(c.now);
        c.now += 100;
        p.complete(Bucket::Read, c.now);
    }
    for (i, t) in sends.iter().enumerate() {
        let in_window = sends[i..].iter().filter(|s| **s < t + 2000).count();
        assert!(in_window <= 4, "{in_window} sends in the 2 s after {t}: {sends:?}");
    }
    // The 5th send waits for the 1st completion (100 ms) + 2 s.
    assert_eq!(sends[4], 2100);
    assert_eq!(sends[..4], [0, 100, 200, 300]);
}

#[test]
fn read_limit_500() {
    let mut c = clock();
    let cfg = RateLimit { read_limit: 500, ..RateLimit::default() };
    let mut p = Pacer::new(&cfg);
    for i in 0..500 {
        c.now = i * 10;
        assert_eq!(request(&mut p, Bucket::Read, &mut c, 0), 0);
    }
    c.now = 5000;
    // The oldest read was at 0: the 501st waits until 300 s.
    assert_eq!(request(&mut p, Bucket::Read, &mut c, 0), 295_000);
    assert_eq!(request(&mut p, Bucket::Read, &mut c, 0), 10, "the next frees 10 ms later");
}

#[test]
fn writes_are_spaced_by_one_second_from_completion() {
    let mut c = clock();
    let mut p = Pacer::new(&RateLimit::default());
    take_lines();
    assert_eq!(request(&mut p, Bucket::Write, &mut c, 0), 0);
    c.now += 250;
    assert_eq!(request(&mut p, Bucket::Write, &mut c, 0), 750);
    // A slow write: the next one waits a full second after it finished.
    assert_eq!(request(&mut p, Bucket::Write, &mut c, 400), 1000);
    assert_eq!(c.now, 2400);
    assert_eq!(request(&mut p, Bucket::Write, &mut c, 0), 1000);
    // Reads do not touch the write bucket.
    assert_eq!(request(&mut p, Bucket::Read, &mut c, 0), 0);
    // write_per_sec 2 -> 500 ms spacing.
    let mut p = Pacer::new(&RateLimit { write_per_sec: 2.0, ..RateLimit::default() });
    request(&mut p, Bucket::Write, &mut c, 0);
    assert_eq!(request(&mut p, Bucket::Write, &mut c, 0), 500);
    let lines = take_lines();
    assert_eq!(lines[0], "[TRAKT:ratelimit] DEBUG throttle waited_ms=750 bucket=write");
    assert_eq!(lines.len(), 4, "{lines:?}");
}

#[test]
fn throttle_events_are_rate_limited() {
    // 100 ms waits are reported once 1 s of waiting has accumulated.
    let mut c = clock();
    let mut p = Pacer::new(&RateLimit { write_per_sec: 10.0, ..RateLimit::default() });
    take_lines();
    for _ in 0..21 {
        request(&mut p, Bucket::Write, &mut c, 0);
    }
    assert_eq!(c.sleeps, vec![100; 20]);
    assert_eq!(take_lines(), vec!["[TRAKT:ratelimit] DEBUG throttle waited_ms=1000 bucket=write"; 2]);
}

#[test]
fn disabled_buckets_never_wait() {
    let mut c = clock();
    for cfg in [
        RateLimit { enabled: false, ..RateLimit::default() },
        RateLimit { read_enabled: false, write_per_sec: 0.0, ..RateLimit::default() },
    ] {
        let mut p = Pacer::new(&cfg);
        for _ in 0..5000 {
            assert_eq!(request(&mut p, Bucket::Read, &mut c, 0), 0);
            assert_eq!(request(&mut p, Bucket::Write, &mut c, 0), 0);
        }
        p.observe(
            r#"{"name":"AUTHED_API_GET_LIMIT","remaining":0,"until":"2030-01-01T00:00:00Z"}"#,
            Bucket::Read,
            c.now,
            c.wall_unix_secs(),
        );
        assert_eq!(request(&mut p, Bucket::Read, &mut c, 0), 0);
    }
    assert!(c.sleeps.is_empty());
}

#[test]
fn x_ratelimit_remaining_is_a_budget_until_the_reset() {
    // wall now = 1_700_000_000 = 2023-11-14T22:13:20Z; Trakt's window ends 45 s later.
    let mut c = clock();
    let mut p = Pacer::new(&RateLimit::default());
    p.observe(
        r#"{"name":"AUTHED_API_GET_LIMIT","period":300,"limit":1000,"remaining":2,"until":"2023-11-14T22:14:05Z"}"#,
        Bucket::Read,
        c.now,
        c.wall_unix_secs(),
    );
    assert_eq!(request(&mut p, Bucket::Read, &mut c, 0), 0);
    assert_eq!(request(&mut p, Bucket::Read, &mut c, 0), 0);
    assert_eq!(request(&mut p, Bucket::Read, &mut c, 0), 45_000, "the budget of 2 is spent: wait for the reset");
    assert_eq!(request(&mut p, Bucket::Read, &mut c, 0), 0, "after the reset our own bucket rules again");
}

#[test]
fn x_ratelimit_remaining_zero_blocks_until_the_reset() {
    let mut c = clock();
    let mut p = Pacer::new(&RateLimit::default());
    assert_eq!(parse_utc("2023-11-14T22:13:20Z"), Some(1_700_000_000));
    p.observe(
        r#"{"name":"AUTHED_API_GET_LIMIT","period":300,"limit":1000,"remaining":0,"until":"2023-11-14T22:14:05Z"}"#,
        Bucket::Write,
        c.now,
        c.wall_unix_secs(),
    );
    assert_eq!(request(&mut p, Bucket::Write, &mut c, 0), 0, "the GET header names the read bucket");
    assert_eq!(p.acquire(Bucket::Read, &mut c, 120_000), Ok(45_000));
    assert_eq!(c.now, 45_000);
    // A reset beyond the cap is not slept through.
    p.observe(
        r#"{"name":"AUTHED_API_GET_LIMIT","period":300,"remaining":0,"until":"2023-11-14T22:19:00Z"}"#,
        Bucket::Read,
        c.now,
        c.wall_unix_secs(),
    );
    let before = c.sleeps.len();
    assert_eq!(p.acquire(Bucket::Read, &mut c, 120_000), Err(295_000));
    assert_eq!(c.sleeps.len(), before);
    // A reset further away than one period (clock skew) is clamped to the period.
    let mut c = clock();
    let mut p = Pacer::new(&RateLimit::default());
    p.observe(
        r#"{"name":"AUTHED_API_POST_LIMIT","period":1,"limit":1,"remaining":0,"until":"2030-01-01T00:00:00Z"}"#,
        Bucket::Read,
        c.now,
        c.wall_unix_secs(),
    );
    assert_eq!(p.acquire(Bucket::Write, &mut c, 120_000), Ok(1000));
    // A reset already past changes nothing.
    p.observe(
        r#"{"name":"AUTHED_API_POST_LIMIT","remaining":0,"until":"2000-01-01T00:00:00Z"}"#,
        Bucket::Read,
        c.now,
        c.wall_unix_secs(),
    );
    p.complete(Bucket::Write, c.now);
    c.now += 1000;
    assert_eq!(p.acquire(Bucket::Write, &mut c, 120_000), Ok(0));
}

#[test]
fn reconfiguring_keeps_unchanged_buckets() {
    let mut c = clock();
    let mut p = Pacer::new(&RateLimit::default());
    request(&mut p, Bucket::Write, &mut c, 0);
    p.configure(&RateLimit { read_limit: 10, ..RateLimit::default() });
    assert_eq!(request(&mut p, Bucket::Write, &mut c, 0), 1000, "the write bucket kept its state");
}

#[test]
fn parses_iso_8601_utc() {
    assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(parse_utc("2026-05-02T18:45:00Z"), Some(1_777_747_500));
    assert_eq!(parse_utc("2026-05-02T18:45:00.000Z"), Some(1_777_747_500));
    assert_eq!(parse_utc("2026-05-02T20:45:00+02:00"), Some(1_777_747_500));
    assert_eq!(parse_utc("2000-02-29T00:00:00Z"), Some(951_782_400));
    for bad in ["", "2026-05-02", "2026-13-02T00:00:00Z", "2026-05-02T18:45:00X", "yyyy-05-02T18:45:00Z"] {
        assert_eq!(parse_utc(bad), None, "{bad}");
    }
}
