//! Agent identity and its lifecycle: names, tokens, and the user's decisions
//! (approve, deny, revoke, rotate, tool lists, pause all). The CLI and the tray call
//! these; every change is one write to the shared store, so running `serve`
//! processes see it on their next call.

pub mod snippets;
pub mod token;

use std::fmt;

use crate::clock::{SharedClock, UnixMillis};
use crate::store::{AgentRow, AgentStatus, Store, StoreError};
use crate::telemetry::Redacted;
use crate::tools::ToolPattern;

/// An agent's name: 1-64 characters, letters, digits, space, `.`, `_`, `-`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentName(String);

impl AgentName {
    /// Checks a name given on the command line or in the tray.
    pub fn parse(s: &str) -> Result<Self, AgentsError> {
        let ok = (1..=64).contains(&s.chars().count())
            && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || " ._-".contains(c))
            && !s.ends_with(' ');
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(AgentsError::BadName(s.chars().take(80).collect()))
        }
    }

    /// A name from what a client calls itself (`clientInfo.name` or the parent
    /// executable): other characters become `-`, cut to 64. `None` if nothing usable is left.
    pub fn from_client(raw: &str) -> Option<Self> {
        let cleaned: String = raw
            .trim()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || " ._-".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .take(64)
            .collect();
        let cleaned = cleaned
            .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
            .trim_end();
        Self::parse(cleaned).ok()
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AgentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why an agent operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentsError {
    /// The name can't be used.
    #[error(
        "\"{0}\" is not a valid agent name: use 1-64 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit"
    )]
    BadName(String),
    /// The agent was revoked; only a new token brings it back.
    #[error(
        "agent \"{0}\" was revoked; give it a new token with `gatehouse agents rotate {0}` instead of approving the old one"
    )]
    Revoked(String),
    /// The OS random source failed.
    #[error("cannot make a random token: {0}")]
    Random(String),
    /// The store failed or the agent doesn't exist.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The agent operations the CLI and the tray offer.
#[derive(Clone, Debug)]
pub struct Agents {
    store: Store,
    clock: SharedClock,
}

/// A token shown once, with the agent it belongs to.
pub struct Issued {
    /// The agent.
    pub agent: AgentRow,
    /// Its token: print it once and forget it.
    pub token: Redacted<String>,
}

impl Agents {
    /// Agent operations on `store`.
    pub fn new(store: Store, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    /// Every agent, by name.
    pub fn list(&self) -> Result<Vec<AgentRow>, AgentsError> {
        Ok(self.store.list_agents()?)
    }

    /// The agents waiting for the user's approval, by name.
    pub fn pending(&self) -> Result<Vec<AgentRow>, AgentsError> {
        let mut all = self.list()?;
        all.retain(|a| a.status == AgentStatus::Pending);
        Ok(all)
    }

    /// One agent.
    pub fn get(&self, name: &AgentName) -> Result<AgentRow, AgentsError> {
        self.store
            .agent_by_name(name.as_str())?
            .ok_or_else(|| StoreError::NoSuchAgent(name.to_string()).into())
    }

    /// Creates an approved token agent and returns its token.
    pub fn add(&self, name: &AgentName) -> Result<Issued, AgentsError> {
        let token = token::generate().map_err(|e| AgentsError::Random(e.to_string()))?;
        let hash = token::hash(&token);
        let agent = self.store.insert_agent(
            &crate::store::NewAgent {
                name: name.as_str(),
                status: AgentStatus::Approved,
                token_hash: Some(&hash),
                parent_exe: None,
            },
            self.clock.now(),
        )?;
        Ok(Issued { agent, token })
    }

    /// Lets the agent call tools. A revoked agent needs `rotate` instead.
    pub fn approve(&self, name: &AgentName) -> Result<AgentRow, AgentsError> {
        let current = self.get(name)?;
        if current.status == AgentStatus::Revoked && current.verified {
            return Err(AgentsError::Revoked(name.to_string()));
        }
        Ok(self
            .store
            .set_agent_status(name.as_str(), AgentStatus::Approved, self.clock.now())?)
    }

    /// Refuses the agent's calls from now on.
    pub fn deny(&self, name: &AgentName) -> Result<AgentRow, AgentsError> {
        self.get(name)?;
        Ok(self
            .store
            .set_agent_status(name.as_str(), AgentStatus::Denied, self.clock.now())?)
    }

    /// Withdraws the agent's approval and its token, at once.
    pub fn revoke(&self, name: &AgentName) -> Result<AgentRow, AgentsError> {
        self.get(name)?;
        Ok(self
            .store
            .set_agent_status(name.as_str(), AgentStatus::Revoked, self.clock.now())?)
    }

    /// Gives the agent a new token (the old one stops working at once) and
    /// approves it. A tokenless agent becomes a token agent.
    pub fn rotate(&self, name: &AgentName) -> Result<Issued, AgentsError> {
        self.get(name)?;
        let token = token::generate().map_err(|e| AgentsError::Random(e.to_string()))?;
        let now = self.clock.now();
        self.store
            .set_token_hash(name.as_str(), &token::hash(&token), now)?;
        let agent = self
            .store
            .set_agent_status(name.as_str(), AgentStatus::Approved, now)?;
        Ok(Issued { agent, token })
    }

    /// Pauses every agent at once: from their next call, all are refused
    /// `denied`/`paused` until `resume`. Returns since when they are paused.
    pub fn pause(&self) -> Result<UnixMillis, AgentsError> {
        self.store.set_paused(Some(self.clock.now()))?;
        Ok(self
            .store
            .paused_since()?
            .unwrap_or_else(|| self.clock.now()))
    }

    /// Lets calls through again after `pause`.
    pub fn resume(&self) -> Result<(), AgentsError> {
        Ok(self.store.set_paused(None)?)
    }

    /// Since when every agent is paused; `None` when calls go through.
    pub fn paused_since(&self) -> Result<Option<UnixMillis>, AgentsError> {
        Ok(self.store.paused_since()?)
    }

    /// Sets which tools the agent may call (on top of the config file's
    /// lists): both lists, replaced.
    pub fn set_tools(
        &self,
        name: &AgentName,
        allow: &[ToolPattern],
        deny: &[ToolPattern],
    ) -> Result<AgentRow, AgentsError> {
        self.update_tools(
            name,
            &ToolsUpdate {
                allow: Some(allow.to_vec()),
                deny: Some(deny.to_vec()),
            },
        )
    }

    /// Changes the lists `update` names and keeps the others: setting a
    /// deny list leaves the allow list as it was.
    pub fn update_tools(
        &self,
        name: &AgentName,
        update: &ToolsUpdate,
    ) -> Result<AgentRow, AgentsError> {
        let text = |v: &Option<Vec<ToolPattern>>| {
            v.as_ref()
                .map(|v| v.iter().map(|p| p.as_str().to_string()).collect::<Vec<_>>())
        };
        let (allow, deny) = (text(&update.allow), text(&update.deny));
        Ok(self.store.set_agent_tools(
            name.as_str(),
            allow.as_deref(),
            deny.as_deref(),
            self.clock.now(),
        )?)
    }
}

/// Which of an agent's tool lists to change. `None` keeps a list as it is;
/// `Some(vec![])` empties it (an empty allow list allows every tool).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolsUpdate {
    /// The new allow list.
    pub allow: Option<Vec<ToolPattern>>,
    /// The new deny list.
    pub deny: Option<Vec<ToolPattern>>,
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::FakeClock;
    use crate::store::testing::temp_store;

    fn agents() -> (Agents, crate::store::testing::TempStore) {
        let t = temp_store();
        (
            Agents::new(t.store.clone(), Arc::new(FakeClock::new(UnixMillis(1000)))),
            t,
        )
    }

    #[test]
    fn names_are_checked_and_client_names_cleaned() {
        assert!(AgentName::parse("claude-desktop").is_ok());
        assert!(AgentName::parse("Claude Desktop").is_ok());
        assert!(AgentName::parse("").is_err());
        assert!(AgentName::parse("a|b").is_err());
        assert!(AgentName::parse(&"x".repeat(65)).is_err());
        assert_eq!(
            AgentName::from_client("  Visual Studio Code ")
                .unwrap()
                .as_str(),
            "Visual Studio Code"
        );
        assert_eq!(
            AgentName::from_client("my/agent|v2").unwrap().as_str(),
            "my-agent-v2"
        );
        assert_eq!(
            AgentName::from_client("@scope/x").unwrap().as_str(),
            "scope-x"
        );
        assert!(AgentName::from_client("\u{0}\u{1}").is_none());
    }

    #[test]
    fn add_issues_a_token_that_finds_the_agent() {
        let (a, t) = agents();
        let issued = a.add(&AgentName::parse("claude").unwrap()).unwrap();
        assert_eq!(issued.agent.status, AgentStatus::Approved);
        let found = t
            .store
            .agent_by_token_hash(&token::hash(&issued.token))
            .unwrap()
            .unwrap();
        assert_eq!(found.name, "claude");
    }

    #[test]
    fn pause_keeps_its_first_time_until_resumed() {
        let (a, _t) = agents();
        assert_eq!(a.paused_since().unwrap(), None);
        assert_eq!(a.pause().unwrap(), UnixMillis(1000));
        assert_eq!(a.paused_since().unwrap(), Some(UnixMillis(1000)));
        a.resume().unwrap();
        assert_eq!(a.paused_since().unwrap(), None);
    }

    #[test]
    fn rotate_invalidates_the_old_token_and_revoke_needs_rotate_to_undo() {
        let (a, t) = agents();
        let name = AgentName::parse("claude").unwrap();
        let first = a.add(&name).unwrap();
        a.revoke(&name).unwrap();
        assert!(matches!(a.approve(&name), Err(AgentsError::Revoked(_))));
        let second = a.rotate(&name).unwrap();
        assert_eq!(second.agent.status, AgentStatus::Approved);
        assert!(
            t.store
                .agent_by_token_hash(&token::hash(&first.token))
                .unwrap()
                .is_none()
        );
        assert!(
            t.store
                .agent_by_token_hash(&token::hash(&second.token))
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn updating_one_tool_list_keeps_the_other() {
        let (a, _t) = agents();
        let name = AgentName::parse("bot").unwrap();
        a.add(&name).unwrap();
        let p = |s: &str| vec![ToolPattern::parse(s).unwrap()];
        a.update_tools(
            &name,
            &ToolsUpdate {
                allow: Some(p("github__*")),
                deny: None,
            },
        )
        .unwrap();
        let row = a
            .update_tools(
                &name,
                &ToolsUpdate {
                    allow: None,
                    deny: Some(p("gmail__send")),
                },
            )
            .unwrap();
        assert_eq!(
            row.allow_tools.patterns(),
            ["github__*"],
            "the allow list stays"
        );
        assert_eq!(row.deny_tools.patterns(), ["gmail__send"]);
        let row = a
            .update_tools(
                &name,
                &ToolsUpdate {
                    allow: Some(vec![]),
                    deny: None,
                },
            )
            .unwrap();
        assert!(
            row.allow_tools.patterns().is_empty(),
            "cleared on request only"
        );
        assert_eq!(row.deny_tools.patterns(), ["gmail__send"]);
    }
}
