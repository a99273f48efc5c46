//! Stage 2, policy: may this agent call this tool? Two lists apply, the
//! config file's `[agents."N"]` and the one set from the CLI or tray; each
//! allow list that is non-empty must match, and any deny match refuses.
//! The same rule filters `tools/list`, so agents only see what they may call.

use super::outcome::{DenyReason, Refusal};
use crate::config::ToolPolicy;
use crate::store::AgentRow;
use crate::tools::ToolPattern;

fn any_match(patterns: impl IntoIterator<Item = ToolPattern>, tool: &str) -> bool {
    patterns.into_iter().any(|p| p.matches(tool))
}

fn parsed(list: &[String]) -> Vec<ToolPattern> {
    list.iter()
        .filter_map(|p| ToolPattern::parse(p).ok())
        .collect()
}

/// Whether `agent` may call `tool` under `config` (the file's policy for it).
pub fn allows(config: &ToolPolicy, agent: &AgentRow, tool: &str) -> bool {
    let denied =
        any_match(config.deny.iter().cloned(), tool) || any_match(parsed(&agent.deny_tools), tool);
    let file_ok = config.allow.is_empty() || any_match(config.allow.iter().cloned(), tool);
    let stored_allow = parsed(&agent.allow_tools);
    // A stored allow list whose patterns all failed to parse allows nothing (fail closed).
    let stored_ok = agent.allow_tools.is_empty() || any_match(stored_allow, tool);
    !denied && file_ok && stored_ok
}

/// The policy stage: `Ok` or a `denied` refusal naming agent and tool.
pub fn check(config: &ToolPolicy, agent: &AgentRow, tool: &str) -> Result<(), Refusal> {
    if allows(config, agent, tool) {
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

    fn agent(allow: &[&str], deny: &[&str]) -> AgentRow {
        AgentRow {
            id: "1".into(),
            name: "a".into(),
            status: AgentStatus::Approved,
            verified: true,
            parent_exe: None,
            allow_tools: allow.iter().map(|s| s.to_string()).collect(),
            deny_tools: deny.iter().map(|s| s.to_string()).collect(),
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
}
