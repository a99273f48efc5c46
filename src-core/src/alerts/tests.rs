//! Each rule against a real SQLite history with time moved by hand: silent
//! before there is a baseline (or below its threshold), fires on the spike,
//! once per episode, and resolves when the condition clears.

use super::*;
use crate::clock::{Clock, FakeClock};
use crate::config::Config;
use crate::store::testing::{TempStore, temp_store};
use crate::store::{CallRecord, CallStatus, Evaluator};

mod budgets_and_processes;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

/// What a call's history row records beside its status, as the guard writes it.
#[derive(Clone, Copy)]
enum Why {
    /// Nothing more (a call that ran).
    Nothing,
    /// `rate_limited` by a budget of this scope.
    Budget(&'static str),
    /// `denied` for this reason (with the client, for a bad token).
    Denied(&'static str, Option<&'static str>),
}

struct H {
    t: TempStore,
    clock: FakeClock,
    cfg: AlertsConfig,
}

impl H {
    fn new() -> Self {
        Self {
            t: temp_store(),
            clock: FakeClock::new(UnixMillis(1_800_000_000_000)),
            cfg: Config::defaults().alerts,
        }
    }

    /// `n` calls spread evenly over the `over` ms before now.
    #[allow(clippy::too_many_arguments)] // one history row's fields, spelled out at each use
    fn calls(
        &self,
        n: i64,
        over: i64,
        tool: &str,
        agent: Option<&str>,
        status: CallStatus,
        latency_us: i64,
        why: Why,
    ) {
        let now = self.clock.now().0;
        for i in 0..n {
            self.t
                .store
                .insert_call(&CallRecord {
                    time: UnixMillis(now - over + over * i / n.max(1)),
                    trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
                    request_id: None,
                    agent: agent.map(str::to_string),
                    verified: Some(true),
                    tool: tool.into(),
                    status,
                    code: None,
                    latency_us,
                    args: "{}".into(),
                    // The rules read the facts below, never this text.
                    message: None,
                    refusal_scope: match why {
                        Why::Budget(scope) => Some(scope.into()),
                        _ => None,
                    },
                    deny_reason: match why {
                        Why::Denied(reason, _) => Some(reason.into()),
                        _ => None,
                    },
                    client: match why {
                        Why::Denied(_, client) => client.map(str::to_string),
                        _ => None,
                    },
                })
                .unwrap();
        }
    }

    /// An on-demand evaluation (`gatehouse alerts`; no serve holds the slot here).
    fn evaluate(&self) -> AlertChanges {
        evaluate(&self.t.store, &self.cfg, self.clock.now()).unwrap()
    }

    fn open(&self) -> Vec<AlertView> {
        list(&self.t.store, self.clock.now(), 7)
            .unwrap()
            .into_iter()
            .filter(|a| a.state == "open")
            .collect()
    }
}

#[test]
fn error_rate_is_silent_before_the_baseline_fires_once_and_resolves() {
    let h = H::new();
    let tool = "everything__echo";
    // Half the calls fail, but there is no history to compare with: silent.
    h.calls(
        20,
        5 * MIN,
        tool,
        Some("a"),
        CallStatus::Ok,
        1_000,
        Why::Nothing,
    );
    h.calls(
        20,
        5 * MIN,
        tool,
        Some("a"),
        CallStatus::SystemError,
        1_000,
        Why::Nothing,
    );
    assert_eq!(h.evaluate(), AlertChanges::default());
    // A day of history at 2% errors makes a baseline; the next spike fires.
    h.clock.advance(11 * MIN);
    h.calls(
        490,
        20 * HOUR,
        tool,
        Some("a"),
        CallStatus::Ok,
        1_000,
        Why::Nothing,
    );
    h.calls(
        10,
        20 * HOUR,
        tool,
        Some("a"),
        CallStatus::SystemError,
        1_000,
        Why::Nothing,
    );
    h.calls(
        30,
        5 * MIN,
        tool,
        Some("a"),
        CallStatus::Ok,
        1_000,
        Why::Nothing,
    );
    assert_eq!(
        h.evaluate(),
        AlertChanges::default(),
        "2% against ~6%: no rise"
    );
    h.calls(
        20,
        2 * MIN,
        tool,
        Some("a"),
        CallStatus::SystemError,
        1_000,
        Why::Nothing,
    );
    let c = h.evaluate();
    assert_eq!(c.opened.len(), 1, "{c:?}");
    assert_eq!(c.opened[0].kind, "error_rate");
    assert_eq!(c.opened[0].subject, tool);
    assert!(
        c.opened[0].why.contains("failed in the last 10 min"),
        "{}",
        c.opened[0].why
    );
    // Still failing a minute later: the same episode, nothing new.
    h.clock.advance(MIN);
    h.calls(
        5,
        MIN,
        tool,
        Some("a"),
        CallStatus::SystemError,
        1_000,
        Why::Nothing,
    );
    assert_eq!(h.evaluate(), AlertChanges::default());
    assert_eq!(h.open().len(), 1);
    // Healthy again for a window: resolved.
    h.clock.advance(11 * MIN);
    h.calls(
        40,
        9 * MIN,
        tool,
        Some("a"),
        CallStatus::Ok,
        1_000,
        Why::Nothing,
    );
    let c = h.evaluate();
    assert_eq!(c.resolved.len(), 1, "{c:?}");
    assert!(h.open().is_empty());
}

#[test]
fn latency_spike_is_silent_before_the_baseline_fires_once_and_resolves() {
    let h = H::new();
    let tool = "github__search";
    h.calls(
        40,
        5 * MIN,
        tool,
        Some("a"),
        CallStatus::Ok,
        900_000,
        Why::Nothing,
    );
    assert_eq!(h.evaluate(), AlertChanges::default(), "no baseline yet");
    h.clock.advance(11 * MIN);
    h.calls(
        300,
        20 * HOUR,
        tool,
        Some("a"),
        CallStatus::Ok,
        40_000,
        Why::Nothing,
    );
    h.calls(
        40,
        5 * MIN,
        tool,
        Some("a"),
        CallStatus::Ok,
        45_000,
        Why::Nothing,
    );
    assert_eq!(
        h.evaluate(),
        AlertChanges::default(),
        "normal latency (the first slow calls are in the baseline now)"
    );
    h.calls(
        10,
        2 * MIN,
        tool,
        Some("a"),
        CallStatus::Ok,
        5_000_000,
        Why::Nothing,
    );
    let c = h.evaluate();
    assert_eq!(c.opened.len(), 1, "{c:?}");
    assert_eq!(c.opened[0].kind, "latency_spike");
    assert!(
        c.opened[0].why.contains("p99 latency 5000.0 ms over"),
        "{}",
        c.opened[0].why
    );
    h.clock.advance(30_000);
    assert_eq!(h.evaluate(), AlertChanges::default(), "once per episode");
    h.clock.advance(11 * MIN);
    h.calls(
        40,
        9 * MIN,
        tool,
        Some("a"),
        CallStatus::Ok,
        40_000,
        Why::Nothing,
    );
    assert_eq!(h.evaluate().resolved.len(), 1);
}

#[test]
fn budget_exhaustion_names_the_agent_fires_once_and_resolves() {
    let h = H::new();
    let tool = "gmail__send";
    h.calls(
        2,
        3 * MIN,
        tool,
        Some("claude"),
        CallStatus::Ok,
        1_000,
        Why::Nothing,
    );
    h.calls(
        1,
        3 * MIN,
        tool,
        Some("cursor"),
        CallStatus::RateLimited,
        100,
        Why::Budget("agent"),
    );
    assert_eq!(
        h.evaluate(),
        AlertChanges::default(),
        "an agent's own budget is no tool's"
    );
    h.calls(
        2,
        MIN,
        tool,
        Some("cursor"),
        CallStatus::RateLimited,
        100,
        Why::Budget("tool"),
    );
    let c = h.evaluate();
    assert_eq!(c.opened.len(), 1, "{c:?}");
    let why = &c.opened[0].why;
    assert!(
        why.contains("refused 2 calls")
            && why.contains("agent \"claude\" drained it: 2 of the 2 calls"),
        "{why}"
    );
    h.clock.advance(MIN);
    h.calls(
        1,
        MIN,
        tool,
        Some("cursor"),
        CallStatus::RateLimited,
        100,
        Why::Budget("tool"),
    );
    assert_eq!(h.evaluate(), AlertChanges::default(), "once per episode");
    h.clock.advance(11 * MIN);
    assert_eq!(h.evaluate().resolved.len(), 1);
}

#[test]
fn auth_failures_name_the_source_fire_once_and_resolve() {
    let h = H::new();
    let bad = Why::Denied("bad_token", Some("cursor"));
    h.calls(
        4,
        5 * MIN,
        "gatehouse__budgets",
        None,
        CallStatus::Denied,
        100,
        bad,
    );
    h.calls(
        3,
        5 * MIN,
        "x__y",
        Some("bot"),
        CallStatus::Denied,
        100,
        Why::Denied("tool_forbidden", None),
    );
    assert_eq!(
        h.evaluate(),
        AlertChanges::default(),
        "below the threshold; policy denials are no auth failures"
    );
    h.calls(
        1,
        MIN,
        "gatehouse__budgets",
        None,
        CallStatus::Denied,
        100,
        bad,
    );
    let c = h.evaluate();
    assert_eq!(c.opened.len(), 1, "{c:?}");
    assert_eq!(c.opened[0].subject, "client \"cursor\" with a bad token");
    assert!(
        c.opened[0].why.contains("5 auth failures"),
        "{}",
        c.opened[0].why
    );
    h.calls(
        3,
        MIN,
        "gatehouse__budgets",
        None,
        CallStatus::Denied,
        100,
        bad,
    );
    assert_eq!(h.evaluate(), AlertChanges::default(), "once per episode");
    h.clock.advance(11 * MIN);
    assert_eq!(h.evaluate().resolved.len(), 1);
    assert!(h.open().is_empty());
}

#[test]
fn background_evaluation_waits_for_check_every_across_processes_and_open_lists_open_ones() {
    let h = H::new();
    let bad = Why::Denied("bad_token", Some("cursor"));
    h.calls(
        5,
        MIN,
        "gatehouse__budgets",
        None,
        CallStatus::Denied,
        100,
        bad,
    );
    let first = evaluate_if_due(&h.t.store, &h.cfg, h.clock.now()).unwrap();
    assert_eq!(
        first.map(|c| c.opened.len()),
        Some(1),
        "never evaluated: due"
    );
    let open_now = open(&h.t.store).unwrap();
    assert_eq!(open_now.len(), 1);
    assert_eq!(open_now[0].kind, "auth_failures");
    // Another process (or this one) evaluated a moment ago: not due yet.
    h.clock.advance(h.cfg.check_every.as_millis() as i64 - 1);
    assert_eq!(
        evaluate_if_due(&h.t.store, &h.cfg, h.clock.now()).unwrap(),
        None
    );
    h.clock.advance(11 * MIN);
    let later = evaluate_if_due(&h.t.store, &h.cfg, h.clock.now()).unwrap();
    assert_eq!(later.map(|c| c.resolved.len()), Some(1));
    assert!(open(&h.t.store).unwrap().is_empty());
}
