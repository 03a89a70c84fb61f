//! Body sizes of history adds: 250 plays by default, halved after a 5xx or timeout on a large
//! body (read back first: never a duplicate, never a lost play), grown back after answers.

use super::*;

/// `n` plays of The Matrix, one a minute from 2026-05-01.
fn plays(n: usize) -> Vec<Item> {
    (0..n).map(|i| at(movie("603"), &iso(m("2026-05-01T00:00:00Z") + 60 * i as i64))).collect()
}

fn body_sizes(env: &Env) -> Vec<usize> {
    posts(env, "/sync/history").iter().map(super::super::fake::plays_in).collect()
}

/// Every input play is on the fake Trakt exactly once.
fn each_once(t: &Trakt, n: usize) {
    let mut at: Vec<i64> = t.plays().iter().map(|p| p.at).collect();
    at.sort();
    let want: Vec<i64> = (0..n).map(|i| m("2026-05-01T00:00:00Z") + 60 * i as i64).collect();
    assert_eq!(at, want);
}

#[test]
fn a_thousand_plays_go_in_four_bodies_of_250() {
    let t = Trakt::new();
    let mut env = t.env(Options::default());
    let r = History::default().write(Op::Add, &plays(1000), false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed.len(), 1000);
    assert_eq!(body_sizes(&env), vec![250, 250, 250, 250]);
    assert_eq!(env.fakes.sleeps(), vec![1000, 1000, 1000], "one write a second");
    each_once(&t, 1000);

    // A dry run plans the same bodies.
    let t = Trakt::new();
    let mut env = t.env(quiet());
    let r = History::default().write(Op::Add, &plays(600), true, &mut env.ctx()).unwrap();
    let planned: Vec<usize> =
        r.planned.iter().map(|p| super::super::fake::plays_in(&serde_json::from_str(&p.body).unwrap())).collect();
    assert_eq!(planned, vec![250, 250, 100]);
}

#[test]
fn bodies_lost_above_120_plays_are_resent_halved_and_grow_back() {
    let t = Trakt::new();
    t.0.borrow_mut().large_body = Some((120, Fault::TimeoutUnapplied));
    let mut env = t.env(quiet());
    take_lines();
    let r = History::default().write(Op::Add, &plays(1000), false, &mut env.ctx()).unwrap();
    assert_eq!((r.confirmed.len(), r.unresolved.len()), (1000, 0), "{:?}", unresolved(&r));
    let grow = [62, 62, 62, 62, 124];
    let mut want = vec![250, 125];
    for _ in 0..3 {
        want.extend(grow);
    }
    want.extend([62, 62, 62, 62, 8]);
    assert_eq!(body_sizes(&env), want);
    each_once(&t, 1000);
    assert_eq!(env.mem.text(HISTORY_JOURNAL), None, "every batch decided");
    let lines = take_lines();
    let shrunk: Vec<&String> = lines.iter().filter(|l| l.contains("chunk_shrunk")).collect();
    assert_eq!(shrunk[0], "[TRAKT:history] WARN chunk_shrunk from=250 to=125 failed_body=250");
    assert_eq!(shrunk[1], "[TRAKT:history] WARN chunk_shrunk from=125 to=62 failed_body=125");
    assert_eq!(shrunk.len(), 5);
    assert_eq!(lines.iter().filter(|l| l.contains("INFO chunk_grown from=62 to=124 answered=4")).count(), 4);
    // Each lost body was read back before its plays went again.
    assert!(lines.iter().any(|l| l.contains("INFO journal_reconcile batches=1 landed=0 resent=250")));
}

#[test]
fn bodies_recorded_before_a_503_are_confirmed_not_resent_and_the_size_still_shrinks() {
    let t = Trakt::new();
    t.0.borrow_mut().large_body = Some((120, Fault::ApplyThen503));
    let mut env = t.env(quiet());
    take_lines();
    let r = History::default().write(Op::Add, &plays(1000), false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed.len(), 1000);
    assert_eq!(body_sizes(&env), vec![250, 125, 62, 62, 62, 62, 124, 62, 62, 62, 62, 5]);
    each_once(&t, 1000);
    assert_eq!(env.mem.text(HISTORY_JOURNAL), None);
    let lines = take_lines();
    assert!(lines.iter().any(|l| l.contains("INFO journal_reconcile batches=1 landed=250 resent=0")));
    // The plays read back carry their ids: nothing is sent for them again.
    let n = posts(&env, "/sync/history").len();
    let again = History::default().write(Op::Add, &plays(1000), false, &mut env.ctx()).unwrap();
    assert_eq!(again.skipped.len(), 1000);
    assert_eq!(posts(&env, "/sync/history").len(), n);
}

#[test]
fn at_the_floor_a_lost_body_goes_once_more_then_the_call_stops() {
    let t = Trakt::new();
    t.0.borrow_mut().large_body = Some((0, Fault::TimeoutUnapplied));
    let mut env = t.env(quiet());
    let r = History::default().write(Op::Add, &plays(100), false, &mut env.ctx()).unwrap();
    assert_eq!(body_sizes(&env), vec![100, 50, 25, 25]);
    assert_eq!(r.confirmed.len(), 0);
    assert_eq!(r.unresolved.len(), 100);
    assert!(r.unresolved.iter().all(|u| u.hint == Hint::Transport), "{:?}", unresolved(&r));
    assert!(t.plays().is_empty());
    assert_eq!(env.mem.text(HISTORY_JOURNAL), None, "read back: nothing landed, nothing pending");
}

#[test]
fn a_refused_large_body_does_not_change_the_size() {
    let t = Trakt::new();
    t.0.borrow_mut().large_body = Some((120, Fault::Status(422)));
    let mut env = t.env(quiet());
    take_lines();
    let r = History::default().write(Op::Add, &plays(600), false, &mut env.ctx()).unwrap();
    assert_eq!(body_sizes(&env), vec![250, 250, 100]);
    assert_eq!(r.confirmed.len(), 100);
    assert!(r.unresolved.iter().all(|u| u.hint == Hint::Http(422)));
    assert!(!take_lines().iter().any(|l| l.contains("chunk_shrunk") || l.contains("chunk_grown")));
    assert!(!env.sent().iter().any(|s| s.contains("start_at")), "no read back");
}
