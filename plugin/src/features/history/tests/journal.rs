//! The crash journal: journaled sends, lost answers, crashed runs, refusals.

use super::*;

#[test]
fn each_batch_is_journaled_before_its_post_and_cleared_after() {
    let t = Trakt::new();
    let mut env = t.env(Options { history_chunk_size: 1, ..Options::default() });
    let mem = env.mem.clone();
    t.0.borrow_mut().on_add = Some(Box::new(move || mem.text(HISTORY_JOURNAL)));
    let items = vec![at(movie("603"), "2026-06-01T18:00:00Z"), at(bb(1, 2), "2026-06-02T21:00:00Z")];
    History::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    let seen = t.0.borrow().seen_at_add.clone();
    assert_eq!(seen.len(), 2);
    let first: Value = serde_json::from_str(seen[0].as_deref().expect("journaled before the first POST")).unwrap();
    assert_eq!(first["schema"], 1);
    assert_eq!(first["batches"].as_array().unwrap().len(), 1);
    let play = &first["batches"][0]["plays"][0];
    assert_eq!(
        (play["key"].as_str(), play["kind"].as_str(), play["watched_at"].as_str()),
        (Some("tmdb:603@1780336800"), Some("movie"), Some("2026-06-01T18:00:00.000Z"))
    );
    assert_eq!(play["item"]["ids"], json!({"tmdb": "603"}));
    let second: Value = serde_json::from_str(seen[1].as_deref().unwrap()).unwrap();
    assert_eq!(second["batches"].as_array().unwrap().len(), 1, "the first batch was cleared after its answer");
    assert_eq!(second["batches"][0]["plays"][0]["key"], "tvdb:81189#s01e02@1780434000");
    assert_eq!(env.mem.text(HISTORY_JOURNAL), None, "cleared at the end");
}

#[test]
fn an_answer_lost_after_trakt_recorded_the_batch_is_reconciled_in_the_same_call() {
    let t = Trakt::new();
    t.fault(Fault::ApplyThenTimeout);
    let mut env = t.env(Options::default());
    take_lines();
    let items = vec![
        at(movie("272"), "2026-05-01T21:10:00Z"),
        at(movie("272"), "2026-05-03T20:00:00Z"),
        at(Item { ids: raw(&[("trakt", "16")]), ..bb(1, 1) }, "2026-05-02T01:30:00Z"),
    ];
    let mut h = History::default();
    let r = h.write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed.len(), 3, "{r:?}");
    assert_eq!(posts(&env, "/sync/history").len(), 1, "nothing resent");
    assert_eq!(t.plays().len(), 3, "no duplicate");
    assert_eq!(env.mem.text(HISTORY_JOURNAL), None);
    let sent = env.sent();
    let reads: Vec<&String> = sent.iter().filter(|s| s.contains("start_at")).collect();
    assert_eq!(
        reads,
        vec![
            &format!(
                "GET /sync/history/movies?start_at={}&end_at={}&page=1&limit=250",
                iso(m("2026-05-01T21:10:00Z")).replace(':', "%3A"),
                iso(m("2026-05-01T21:10:00Z") + 59).replace(':', "%3A")
            ),
            &format!(
                "GET /sync/history/movies?start_at={}&end_at={}&page=1&limit=250",
                iso(m("2026-05-03T20:00:00Z")).replace(':', "%3A"),
                iso(m("2026-05-03T20:00:00Z") + 59).replace(':', "%3A")
            ),
            &format!(
                "GET /sync/history/episodes?start_at={}&end_at={}&page=1&limit=250",
                iso(m("2026-05-02T01:30:00Z")).replace(':', "%3A"),
                iso(m("2026-05-02T01:30:00Z") + 59).replace(':', "%3A")
            ),
        ]
    );
    assert!(take_lines()
        .iter()
        .any(|l| l.contains("[TRAKT:history] INFO journal_reconcile batches=1 landed=3 resent=0")));
    // The plays read back carry their history ids: an add of the same plays sends nothing.
    let n = env.fakes.requests().len();
    let again = h.write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(again.skipped.len(), 3);
    assert_eq!(env.fakes.requests().len(), n);
}

#[test]
fn a_batch_lost_before_trakt_saw_it_is_sent_once_more() {
    let t = Trakt::new();
    t.fault(Fault::TimeoutUnapplied);
    let mut env = t.env(Options::default());
    let items = vec![at(movie("272"), "2026-05-01T21:10:00Z"), at(bb(1, 2), "2026-06-02T21:00:00Z")];
    let r = History::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed.len(), 2);
    let bodies = posts(&env, "/sync/history");
    assert_eq!(bodies.len(), 2, "the lost POST and one resend");
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(t.plays().len(), 2);
    assert_eq!(env.mem.text(HISTORY_JOURNAL), None);

    // Lost twice: unresolved, later chunks not sent, the journal clear (nothing landed).
    let t = Trakt::new();
    t.fault(Fault::TimeoutUnapplied);
    t.fault(Fault::TimeoutUnapplied);
    let mut env = t.env(Options { history_chunk_size: 1, ..Options::default() });
    let r = History::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(
        unresolved(&r),
        vec![
            ("tmdb:272@1777669800".to_string(), Hint::Transport),
            ("tvdb:81189#s01e02@1780434000".to_string(), Hint::Transport),
        ]
    );
    assert_eq!(posts(&env, "/sync/history").len(), 2);
    assert!(t.plays().is_empty());
    assert_eq!(env.mem.text(HISTORY_JOURNAL), None);
    assert_eq!(
        cache_doc(&env.mem)["counts"],
        json!({"movies": 0, "episodes": 0}),
        "read back: known, so the cache stays"
    );

    // A 503 after Trakt recorded the batch: read back, confirmed, not resent.
    let t = Trakt::new();
    t.fault(Fault::ApplyThen503);
    let mut env = t.env(Options::default());
    let r = History::default().write(Op::Add, &items[..1], false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed.len(), 1);
    assert_eq!((posts(&env, "/sync/history").len(), t.plays().len()), (1, 1));
}

#[test]
fn a_batch_left_by_a_crashed_run_is_reconciled_before_anything_is_sent() {
    let t = Trakt::new();
    // The earlier run sent three plays; Trakt recorded two of them (the third is lost).
    t.seed(true, 1, "2026-05-01T21:10:00Z", 5_000_000_010).seed(false, 16, "2026-05-02T01:30:00Z", 5_000_000_011);
    let mut env = t.env(Options::default());
    let journal = json!({"schema": 1, "batches": [{"id": "1-1", "created_at": "2026-05-04T00:00:00Z", "plays": [
        {"key": "tmdb:272@1777669800", "kind": "movie", "watched_at": "2026-05-01T21:10:00.000Z",
         "item": {"type": "movie", "title": null, "year": null, "ids": {"tmdb": "272"}, "watched_at": "2026-05-01T21:10:00.000Z"}},
        {"key": "tmdb:272@1777838400", "kind": "movie", "watched_at": "2026-05-03T20:00:00.000Z",
         "item": {"type": "movie", "title": null, "year": null, "ids": {"tmdb": "272"}}},
        {"key": "tvdb:81189#s01e01@1777685400", "kind": "episode", "watched_at": "2026-05-02T01:30:00.000Z",
         "item": {"type": "episode", "title": null, "year": null, "ids": {"trakt": "16"}, "show_ids": {"tvdb": "81189"}, "season": 1, "episode": 1}}
    ]}]});
    env.mem.put(HISTORY_JOURNAL, &journal.to_string());
    take_lines();
    // The rerun with the same three plays and a new one.
    let items = vec![
        at(movie("272"), "2026-05-01T21:10:00Z"),
        at(movie("272"), "2026-05-03T20:00:00Z"),
        at(Item { ids: raw(&[("trakt", "16")]), ..bb(1, 1) }, "2026-05-02T01:30:00Z"),
        at(movie("603"), "2026-05-05T20:00:00Z"),
    ];
    let r = History::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(
        sorted(&r.confirmed),
        strings(&["tmdb:272@1777669800", "tmdb:272@1777838400", "tvdb:81189#s01e01@1777685400", "tmdb:603@1778011200"])
    );
    let sent = env.sent();
    let first_post = sent.iter().position(|s| s.starts_with("POST")).unwrap();
    assert!(sent[..first_post].iter().filter(|s| s.contains("start_at")).count() >= 2, "read back first: {sent:?}");
    assert_eq!(
        posts(&env, "/sync/history"),
        vec![json!({"movies": [
            {"ids": {"tmdb": 272}, "watched_at": "2026-05-03T20:00:00.000Z"},
            {"ids": {"tmdb": 603}, "watched_at": "2026-05-05T20:00:00.000Z"}
        ]})],
        "only the lost play and the new one"
    );
    assert_eq!(t.times(true, 1), vec!["2026-05-01T21:10:00Z", "2026-05-03T20:00:00Z"]);
    assert_eq!(t.times(false, 16).len(), 1);
    assert_eq!(env.mem.text(HISTORY_JOURNAL), None);
    assert!(take_lines().iter().any(|l| l.contains("INFO journal_reconcile batches=1 landed=2 resent=1")));
}

#[test]
fn a_lost_play_no_caller_asks_for_again_is_sent_by_the_next_index() {
    let t = Trakt::new();
    let mut env = t.env(Options::default());
    let journal = json!({"schema": 1, "batches": [{"id": "1-1", "created_at": "2026-05-04T00:00:00Z", "plays": [
        {"key": "tmdb:603@1777838400", "kind": "movie", "watched_at": "2026-05-03T20:00:00.000Z",
         "item": {"type": "movie", "title": "The Matrix", "year": 1999, "ids": {"tmdb": "603"}}}
    ]}]});
    env.mem.put(HISTORY_JOURNAL, &journal.to_string());
    let entries = History::default().build_index(&mut env.ctx()).unwrap();
    assert_eq!(keys_of(&entries), vec!["tmdb:603@1777838400"]);
    assert_eq!(entries[0].1.history_id.as_deref(), Some(FIRST_ID.to_string().as_str()));
    assert_eq!(posts(&env, "/sync/history").len(), 1);
    assert_eq!(env.mem.text(HISTORY_JOURNAL), None);
}

#[test]
fn a_refused_batch_is_not_resent_and_a_420_stops_the_rest() {
    let t = Trakt::new();
    t.fault(Fault::Status(422));
    let mut env = t.env(Options { history_chunk_size: 1, ..Options::default() });
    let items = vec![at(movie("603"), "2026-06-01T18:00:00Z"), at(movie("272"), "2026-06-01T18:00:00Z")];
    let r = History::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:272@1780336800"]);
    assert_eq!(unresolved(&r), vec![("tmdb:603@1780336800".to_string(), Hint::Http(422))]);
    assert_eq!(posts(&env, "/sync/history").len(), 2, "no read back, no resend");
    assert!(!env.sent().iter().any(|s| s.contains("start_at")));
    assert_eq!(env.mem.text(HISTORY_JOURNAL), None);

    let t = Trakt::new();
    t.fault(Fault::Status(420));
    let mut env = t.env(Options { history_chunk_size: 1, ..Options::default() });
    History::default().build_index(&mut env.ctx()).unwrap();
    let mut h = History::default();
    let r = h.write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(
        unresolved(&r),
        vec![
            ("tmdb:603@1780336800".to_string(), Hint::TraktLimit),
            ("tmdb:272@1780336800".to_string(), Hint::TraktLimit),
        ]
    );
    assert_eq!(posts(&env, "/sync/history").len(), 1);
    assert!(t.plays().is_empty());
}

#[test]
fn no_journal_no_send() {
    let t = Trakt::new();
    let mut env = t.env(Options::default());
    History::default().build_index(&mut env.ctx()).unwrap();
    env.mem.fail_writes(true);
    let r = History::default()
        .write(
            Op::Add,
            &[at(movie("603"), "2026-06-01T18:00:00Z"), at(movie("272"), "2026-06-01T18:00:00Z")],
            false,
            &mut env.ctx(),
        )
        .unwrap();
    assert_eq!(
        unresolved(&r),
        vec![
            ("tmdb:603@1780336800".to_string(), Hint::JournalUnavailable),
            ("tmdb:272@1780336800".to_string(), Hint::JournalUnavailable),
        ]
    );
    assert!(posts(&env, "/sync/history").is_empty());
}

#[test]
fn a_batch_that_cannot_be_read_back_stays_journaled_for_the_next_run() {
    let t = Trakt::new();
    t.fault(Fault::ApplyThenTimeout);
    let mut env = t.env(Options { max_retries: 1, ..Options::default() });
    let mut h = History::default();
    h.build_index(&mut env.ctx()).unwrap();
    t.0.borrow_mut().fail_reads = true;
    let items = vec![at(movie("603"), "2026-06-01T18:00:00Z")];
    let r = h.write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(unresolved(&r), vec![("tmdb:603@1780336800".to_string(), Hint::Unconfirmed)]);
    assert_eq!(env.mem.json(HISTORY_JOURNAL).unwrap()["batches"][0]["plays"][0]["key"], "tmdb:603@1780336800");
    assert_eq!(env.mem.text(HISTORY_INDEX), None);

    // The next run: reads back first, finds the play, sends nothing.
    t.0.borrow_mut().fail_reads = false;
    let r = History::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:603@1780336800"]);
    assert_eq!(posts(&env, "/sync/history").len(), 1);
    assert_eq!(t.plays().len(), 1);
    assert_eq!(env.mem.text(HISTORY_JOURNAL), None);
}
