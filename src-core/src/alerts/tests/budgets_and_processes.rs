//! Budgets per scope (an agent's own budget on a tool names that agent) and
//! several processes evaluating one database with different thresholds.

use super::*;
use crate::store::Store;

#[test]
fn an_agents_own_budget_on_a_tool_names_the_refused_agent_not_the_busiest() {
    let h = H::new();
    let tool = "gmail__send";
    // claude sends a lot; cursor's own budget for the tool (agent × tool) runs dry.
    h.calls(
        9,
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
        CallStatus::Ok,
        1_000,
        Why::Nothing,
    );
    h.calls(
        2,
        MIN,
        tool,
        Some("cursor"),
        CallStatus::RateLimited,
        100,
        Why::Budget("agent_tool"),
    );
    let c = h.evaluate();
    assert_eq!(c.opened.len(), 1, "{c:?}");
    let a = &c.opened[0];
    assert_eq!(a.subject, "gmail__send for agent \"cursor\"");
    assert!(
        a.why.contains("agent \"cursor\" used up its own budget")
            && a.why.contains("refused 2 calls")
            && a.why.contains("after 1 that passed")
            && !a.why.contains("claude"),
        "{}",
        a.why
    );
    // The tool's shared budget running dry too is a second, separate episode.
    h.calls(
        1,
        MIN,
        tool,
        Some("claude"),
        CallStatus::RateLimited,
        100,
        Why::Budget("tool"),
    );
    let c = h.evaluate();
    assert_eq!(c.opened.len(), 1, "{c:?}");
    assert_eq!(c.opened[0].subject, tool);
    assert!(
        c.opened[0].why.contains("agent \"claude\" drained it"),
        "{}",
        c.opened[0].why
    );
    assert_eq!(h.open().len(), 2);
}

#[test]
fn processes_with_different_thresholds_do_not_take_turns_opening_and_resolving() {
    let h = H::new();
    // A second process on the same file, whose config asks for 5 refusals.
    let other = Store::open(h.t.store.path()).unwrap();
    let mut strict = h.cfg.clone();
    strict.budget_min_refusals = 5;
    let (a, b) = (
        Evaluator::Background("a".into()),
        Evaluator::Background("b".into()),
    );
    let tool = "gmail__send";
    h.calls(
        2,
        MIN,
        tool,
        Some("x"),
        CallStatus::RateLimited,
        100,
        Why::Budget("tool"),
    );
    let step = h.cfg.check_every.as_millis() as i64;
    let mut seen = Vec::new();
    let mut count = |c: Option<AlertChanges>| seen.push(c.unwrap_or_default());
    for _ in 0..4 {
        count(evaluate_as(&h.t.store, &h.cfg, h.clock.now(), &a).unwrap());
        h.clock.advance(step / 2);
        count(evaluate_as(&other, &strict, h.clock.now(), &b).unwrap());
        h.clock.advance(step / 2);
    }
    let totals = |seen: &[AlertChanges]| {
        let opened: usize = seen.iter().map(|c| c.opened.len()).sum();
        (opened, seen.iter().map(|c| c.resolved.len()).sum::<usize>())
    };
    assert_eq!(totals(&seen), (1, 0), "one episode, no flapping");
    let mut count = |c: Option<AlertChanges>| seen.push(c.unwrap_or_default());
    // The first process stops: the second takes over, once, with its own thresholds.
    h.t.store.release_alerts_slot("a").unwrap();
    for _ in 0..4 {
        count(evaluate_as(&other, &strict, h.clock.now(), &b).unwrap());
        h.clock.advance(step / 2);
        count(evaluate_as(&h.t.store, &h.cfg, h.clock.now(), &a).unwrap());
        h.clock.advance(step / 2);
    }
    assert_eq!(totals(&seen), (1, 1), "handed over once, then steady");
}
