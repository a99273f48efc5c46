//! Stage 2, policy: may this agent call this tool? Two lists apply, the
//! config file's `[agents."N"]` and the one set from the CLI or tray; each
//! allow list that is non-empty must match, and any deny match refuses.
//! The same rule filters `tools/list`, so agents only see what they may call.
//! A stored list that can't be read (damaged JSON, a pattern that doesn't
//! parse) refuses every call of the agent: guessing would widen access.

use super::outcome::{DenyReason, Refusal};
use crate::config::ToolPolicy;
use crate::store::{AgentRow, StoredList};
use crate::tools::ToolPattern;

/// The rules for one agent: the config file's lists and its stored ones, parsed.
#[derive(Debug)]
pub struct Rules<'a> {
    config: &'a ToolPolicy,
    allow: Vec<ToolPattern>,
    deny: Vec<ToolPattern>,
}

fn any_match<'p>(patterns: impl IntoIterator<Item = &'p ToolPattern>, tool: &str) -> bool {
    patterns.into_iter().any(|p| p.matches(tool))
}

/// The patterns of `list`, or why it can't be used (every one must parse).
fn parsed(list: &StoredList, which: &str, agent: &str) -> Result<Vec<ToolPattern>, String> {
    let unusable = || {
        format!(
            "the {which} list stored for agent \"{agent}\" is damaged (not a list of tool patterns), \
             so every call of this agent is refused rather than guessed at; the user can set it \
             again with `gatehouse agents tools {agent} --{which} PATTERN` or `--clear-{which}`"
        )
    };
    match list {
        StoredList::Patterns(p) => p
            .iter()
            .map(|p| ToolPattern::parse(p).map_err(|_| unusable()))
            .collect(),
        StoredList::Unreadable => Err(unusable()),
    }
}

/// Both stored lists of `agent`, parsed, or why one can't be used.
fn stored(agent: &AgentRow) -> Result<(Vec<ToolPattern>, Vec<ToolPattern>), String> {
    Ok((
        parsed(&agent.allow_tools, "allow", &agent.name)?,
        parsed(&agent.deny_tools, "deny", &agent.name)?,
    ))
}

impl<'a> Rules<'a> {
    /// `agent`'s rules under `config` (the file's policy for it); a refusal
    /// (`system_error`) when its stored lists can't be read.
    pub fn new(config: &'a ToolPolicy, agent: &AgentRow) -> Result<Self, Refusal> {
        let (allow, deny) = stored(agent).map_err(Refusal::Unavailable)?;
        Ok(Self {
            config,
            allow,
            deny,
        })
    }

    /// Whether the agent may call `tool`.
    pub fn allows(&self, tool: &str) -> bool {
        let denied = any_match(&self.config.deny, tool) || any_match(&self.deny, tool);
        let file_ok = self.config.allow.is_empty() || any_match(&self.config.allow, tool);
        let stored_ok = self.allow.is_empty() || any_match(&self.allow, tool);
        !denied && file_ok && stored_ok
    }
}

/// Why `agent`'s stored tool lists can't be used, if they can't.
pub fn stored_problem(agent: &AgentRow) -> Option<String> {
    stored(agent).err()
}

/// The policy stage: `Ok`, a `denied` refusal naming agent and tool, or
/// `system_error` when the agent's stored lists can't be read.
pub fn check(config: &ToolPolicy, agent: &AgentRow, tool: &str) -> Result<(), Refusal> {
    if Rules::new(config, agent)?.allows(tool) {
        Ok(())
    } else {
        Err(Refusal::Denied(DenyReason::ToolForbidden {
            agent: agent.name.clone(),
            tool: crate::telemetry::redact::truncate(tool, 100),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::UnixMillis;
    use crate::store::AgentStatus;

    fn list(v: &[&str]) -> StoredList {
        StoredList::Patterns(v.iter().map(|s| s.to_string()).collect())
    }

    fn agent(allow: &[&str], deny: &[&str]) -> AgentRow {
        AgentRow {
            id: "1".into(),
            name: "a".into(),
            status: AgentStatus::Approved,
            verified: true,
            parent_exe: None,
            allow_tools: list(allow),
            deny_tools: list(deny),
            created: UnixMillis(0),
            last_seen: None,
        }
    }

    fn policy(allow: &[&str], deny: &[&str]) -> ToolPolicy {
        let p = |v: &[&str]| v.iter().map(|s| ToolPattern::parse(s).unwrap()).collect();
        ToolPolicy {
            allow: p(allow),
            deny: p(deny),
        }
    }

    fn allows(config: &ToolPolicy, agent: &AgentRow, tool: &str) -> bool {
        Rules::new(config, agent).unwrap().allows(tool)
    }

    #[test]
    fn no_lists_allow_everything() {
        assert!(allows(&policy(&[], &[]), &agent(&[], &[]), "x__y"));
    }

    #[test]
    fn deny_wins_over_allow_from_either_source() {
        assert!(!allows(
            &policy(&["gmail__*"], &["gmail__send"]),
            &agent(&[], &[]),
            "gmail__send"
        ));
        assert!(!allows(
            &policy(&["gmail__*"], &[]),
            &agent(&[], &["gmail__send"]),
            "gmail__send"
        ));
        assert!(allows(
            &policy(&["gmail__*"], &[]),
            &agent(&[], &["gmail__send"]),
            "gmail__search"
        ));
    }

    #[test]
    fn both_allow_lists_must_match() {
        let p = policy(&["github__*", "gmail__*"], &[]);
        let a = agent(&["github__*"], &[]);
        assert!(allows(&p, &a, "github__search"));
        assert!(!allows(&p, &a, "gmail__search"));
        assert!(!allows(&p, &agent(&[], &[]), "everything__echo"));
    }

    #[test]
    fn refusal_is_denied_tool_forbidden() {
        let r = check(&policy(&[], &["*"]), &agent(&[], &[]), "x__y").unwrap_err();
        assert!(matches!(
            r,
            Refusal::Denied(DenyReason::ToolForbidden { .. })
        ));
    }

    #[test]
    fn a_stored_list_that_cannot_be_read_refuses_instead_of_widening() {
        let mut damaged = agent(&["github__*"], &[]);
        damaged.allow_tools = StoredList::Unreadable;
        let bad_pattern = agent(&[], &["not a pattern!"]);
        let half_bad = agent(&["github__*", "bad pattern"], &[]);
        for a in [&damaged, &bad_pattern, &half_bad] {
            let r = check(&policy(&[], &[]), a, "gatehouse__budgets").unwrap_err();
            let Refusal::Unavailable(why) = r else {
                panic!("{r:?}")
            };
            assert!(
                why.contains("agent \"a\"") && why.contains("gatehouse agents tools a"),
                "{why}"
            );
            assert!(stored_problem(a).is_some());
        }
        assert!(stored_problem(&agent(&["x__*"], &["y__z"])).is_none());
    }
}
