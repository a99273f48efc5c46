//! Changes to `config.toml` made from the tray (and any other edge): one
//! budget at a time, written back with the user's comments, order and
//! formatting kept (`toml_edit`). The new text must pass the same strict
//! loader as `serve` before it replaces the file, so an edit can't leave a
//! config that refuses to start; the file is replaced atomically
//! (`write`).

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table, value};

use super::write::write_atomically;
use super::{Config, ConfigError};
use crate::agents::AgentName;
use crate::budget::Period;
use crate::tools::ToolName;

/// Which budget table an edit changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BudgetTable {
    /// `[limits.agent]`: every agent's own budgets.
    EveryAgent,
    /// `[limits.tool]`: every tool's shared budgets.
    EveryTool,
    /// `[limits.agents."N"]`: one agent's own budgets.
    Agent(String),
    /// `[limits.tools."T"]`: one tool's shared budgets.
    Tool(String),
    /// `[limits.agents."N".tools."T"]`: one agent's budgets on one tool.
    AgentTool(String, String),
}

impl BudgetTable {
    /// The table from its parts as the tray sends them: `kind` is
    /// `every_agent`, `every_tool`, `agent`, `tool` or `agent_tool`; agent
    /// names and tool names are checked as everywhere else.
    pub fn parse(kind: &str, agent: Option<&str>, tool: Option<&str>) -> Result<Self, EditError> {
        let bad = |why: String| EditError::BadRequest(why);
        let agent = || -> Result<String, EditError> {
            let a = agent.ok_or_else(|| bad("name the agent".into()))?;
            Ok(AgentName::parse(a.trim())
                .map_err(|e| bad(e.to_string()))?
                .to_string())
        };
        let tool = || -> Result<String, EditError> {
            let t = tool.ok_or_else(|| bad("name the tool".into()))?;
            Ok(ToolName::parse(t.trim())
                .map_err(|e| bad(e.to_string()))?
                .to_string())
        };
        Ok(match kind {
            "every_agent" => BudgetTable::EveryAgent,
            "every_tool" => BudgetTable::EveryTool,
            "agent" => BudgetTable::Agent(agent()?),
            "tool" => BudgetTable::Tool(tool()?),
            "agent_tool" => BudgetTable::AgentTool(agent()?, tool()?),
            other => {
                return Err(bad(format!(
                    "\"{other}\" is not a budget table: use every_agent, every_tool, agent, tool or agent_tool"
                )));
            }
        })
    }

    /// The table's path of keys, e.g. `["limits", "agents", "claude"]`.
    fn path(&self) -> Vec<&str> {
        match self {
            BudgetTable::EveryAgent => vec!["limits", "agent"],
            BudgetTable::EveryTool => vec!["limits", "tool"],
            BudgetTable::Agent(a) => vec!["limits", "agents", a],
            BudgetTable::Tool(t) => vec!["limits", "tools", t],
            BudgetTable::AgentTool(a, t) => vec!["limits", "agents", a, "tools", t],
        }
    }
}

/// One budget to set, or (with `capacity: None`) to remove so the level below applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BudgetEdit {
    /// The table.
    pub table: BudgetTable,
    /// Which of its periods.
    pub period: Period,
    /// The new capacity; `None` removes the key.
    pub capacity: Option<NonZeroU32>,
}

/// Why the config file could not be changed. The file is left as it was.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The file exists but can't be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The edit itself makes no sense (an unknown table or period, a bad name).
    #[error("{0}")]
    BadRequest(String),
    /// The file is broken already; the user must fix it first (nothing is guessed).
    #[error("the config file is broken, so it was not changed; fix it first: {0}")]
    Broken(ConfigError),
    /// The edit would make a config the loader refuses.
    #[error("that change would make the config invalid, so it was not made: {0}")]
    Invalid(ConfigError),
    /// The new file could not be written.
    #[error("cannot write config file {path}: {source}")]
    Write {
        /// The config file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
}

impl BudgetEdit {
    /// An edit from the parts the tray sends; `period` is `second`, `minute`, `hour` or `day`.
    pub fn parse(
        table: BudgetTable,
        period: &str,
        capacity: Option<u32>,
    ) -> Result<Self, EditError> {
        let period = Period::from_name(period).ok_or_else(|| {
            EditError::BadRequest(format!(
                "\"{period}\" is not a period: use second, minute, hour or day"
            ))
        })?;
        let capacity = match capacity {
            None => None,
            Some(n) => Some(NonZeroU32::new(n).ok_or_else(|| {
                EditError::BadRequest(
                    "a budget must be at least 1; to stop an agent calling a tool, deny the tool instead".into(),
                )
            })?),
        };
        Ok(Self {
            table,
            period,
            capacity,
        })
    }
}

/// The first lines of a config file this module creates.
const NEW_FILE_HEADER: &str = "# Gatehouse configuration: see docs/configuration.md for every key.\n\
# Budgets changed in the tray app are written here; your comments are kept.\n";

/// Applies `edit` to the config file at `path` (created when missing) and
/// returns the configuration now in force.
pub fn set_budget(path: &Path, edit: &BudgetEdit) -> Result<Config, EditError> {
    let mut header = "";
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            header = NEW_FILE_HEADER;
            String::new()
        }
        Err(source) => {
            return Err(EditError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    Config::parse(path, &text).map_err(EditError::Broken)?;
    let new_text = edited(&text, edit)
        .map(|t| format!("{header}{t}"))
        .map_err(|problem| {
            EditError::Broken(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: 1,
                column: 1,
                key: edit.table.path().join("."),
                problem,
            })
        })?;
    let config = Config::parse(path, &new_text).map_err(EditError::Invalid)?;
    write_atomically(path, &new_text).map_err(|source| EditError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(config)
}

/// `text` with `edit` applied; `Err` says why the document can't take it
/// (a key that should be a table is something else).
fn edited(text: &str, edit: &BudgetEdit) -> Result<String, String> {
    let mut doc: DocumentMut = text.parse().map_err(|e| format!("{e}"))?;
    let path = edit.table.path();
    let key = edit.period.config_key();
    match edit.capacity {
        Some(n) => {
            let table = table_at(doc.as_table_mut(), &path)?;
            table[key] = value(i64::from(n.get()));
        }
        None => {
            if let Some(table) = existing_table(doc.as_table_mut(), &path) {
                table.remove(key);
            }
            prune_empty(doc.as_table_mut(), &path);
        }
    }
    Ok(doc.to_string())
}

/// The table at `path`, created (parents implicit, so no empty `[limits]`
/// header appears) where missing.
fn table_at<'a>(root: &'a mut Table, path: &[&str]) -> Result<&'a mut Table, String> {
    let mut t = root;
    for (i, k) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        let entry = t.entry(k).or_insert_with(|| {
            let mut new = Table::new();
            new.set_implicit(!last);
            Item::Table(new)
        });
        t = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{}` is not a table", path[..=i].join(".")))?;
    }
    Ok(t)
}

fn existing_table<'a>(root: &'a mut Table, path: &[&str]) -> Option<&'a mut Table> {
    let mut t = root;
    for k in path {
        t = t.get_mut(k)?.as_table_mut()?;
    }
    Some(t)
}

/// Removes tables along `path` left with no keys and no sub-tables, deepest
/// first, so removing the last override leaves no empty header behind.
fn prune_empty(root: &mut Table, path: &[&str]) {
    for depth in (1..=path.len()).rev() {
        let (parent_path, name) = (&path[..depth - 1], path[depth - 1]);
        let Some(parent) = existing_table(root, parent_path) else {
            continue;
        };
        let empty = parent
            .get(name)
            .and_then(Item::as_table)
            .is_some_and(|t| t.is_empty());
        if empty {
            parent.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(table: BudgetTable, period: Period, n: Option<u32>) -> BudgetEdit {
        BudgetEdit {
            table,
            period,
            capacity: n.map(|n| NonZeroU32::new(n).unwrap()),
        }
    }

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn a_new_budget_keeps_the_users_comments_and_order() {
        let before = "# my settings\n[approval]\nwait_seconds = 30 # long enough\n\n\
                      [limits.tools.\"x__send\"] # careful\nper_minute = 3\n";
        let (_d, path) = file(before);
        let t = BudgetTable::Tool("x__send".into());
        let config = set_budget(&path, &edit(t, Period::Hour, Some(20))).unwrap();
        let after = std::fs::read_to_string(&path).unwrap();
        assert!(after.starts_with("# my settings\n[approval]\nwait_seconds = 30 # long enough\n"));
        assert!(
            after.contains("[limits.tools.\"x__send\"] # careful\nper_minute = 3\nper_hour = 20\n")
        );
        let got: Vec<String> = config
            .limits
            .tool_budgets("x__send")
            .budgets()
            .map(|b| b.to_string())
            .collect();
        assert_eq!(got, ["3/minute", "20/hour"]);
    }

    #[test]
    fn a_missing_file_is_created_with_only_the_table_needed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let t = BudgetTable::AgentTool("claude desktop".into(), "gmail__send".into());
        set_budget(&path, &edit(t, Period::Day, Some(5))).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(NEW_FILE_HEADER), "{text}");
        assert!(
            text.contains("[limits.agents.\"claude desktop\".tools.gmail__send]\nper_day = 5\n"),
            "{text}"
        );
        assert!(!text.contains("[limits]\n"), "{text}");
    }

    #[test]
    fn removing_the_last_override_removes_its_empty_table() {
        let (_d, path) =
            file("[limits.agents.bot]\nper_minute = 9\n[approval]\nwait_seconds = 5\n");
        let t = BudgetTable::Agent("bot".into());
        let config = set_budget(&path, &edit(t, Period::Minute, None)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("bot"), "{text}");
        assert!(text.contains("wait_seconds = 5"));
        assert_eq!(
            config
                .limits
                .agent_budgets("bot")
                .budgets()
                .next()
                .unwrap()
                .to_string(),
            "60/minute"
        );
    }

    #[test]
    fn edits_from_the_tray_are_checked() {
        let t = BudgetTable::parse("agent_tool", Some("claude"), Some("gmail__send")).unwrap();
        assert_eq!(
            t,
            BudgetTable::AgentTool("claude".into(), "gmail__send".into())
        );
        assert!(BudgetTable::parse("tool", None, Some("no-prefix")).is_err());
        assert!(BudgetTable::parse("agent", Some("a|b"), None).is_err());
        assert!(BudgetTable::parse("everything", None, None).is_err());
        assert!(BudgetEdit::parse(BudgetTable::EveryAgent, "week", Some(1)).is_err());
        assert!(BudgetEdit::parse(BudgetTable::EveryAgent, "minute", Some(0)).is_err());
        let e = BudgetEdit::parse(BudgetTable::EveryAgent, "hour", None).unwrap();
        assert_eq!((e.period, e.capacity), (Period::Hour, None));
    }

    #[test]
    fn a_broken_file_is_refused_and_left_untouched() {
        let broken = "[limits.tool]\nper_minute = 0\n";
        let (_d, path) = file(broken);
        let err = set_budget(
            &path,
            &edit(BudgetTable::EveryTool, Period::Minute, Some(5)),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("fix it first") && err.contains(":2:"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);
    }

    #[test]
    fn a_key_that_is_not_a_table_is_refused_and_left_untouched() {
        let odd = "[limits]\nagent = {}\n";
        let (_d, path) = file(odd);
        let before = std::fs::read_to_string(&path).unwrap();
        // An inline table is not a `[table]`: the edit says so instead of guessing.
        let r = set_budget(
            &path,
            &edit(BudgetTable::EveryAgent, Period::Minute, Some(5)),
        );
        assert!(r.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    }
}
