//! What an agent can call: Gatehouse's built-in tools and every upstream's
//! tools under `<upstream>__<tool>`. The catalog lists and looks them up; the
//! guard decides who may call them.

pub mod account;
pub mod api;
pub mod budgets;
pub mod github;
pub mod gmail;
mod mime;
mod name;

use std::collections::BTreeSet;
use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde_json::Value;

pub use name::{BadName, RESERVED_PREFIXES, ToolName, ToolPattern, UpstreamName};

use crate::oauth::{Accounts, Provider};
use crate::telemetry::SafeFields;
use crate::upstream::{UpState, UpstreamError, Upstreams};

/// Where a tool runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolKind {
    /// `gatehouse__budgets`, answered from the store.
    Budgets,
    /// A tool of an upstream MCP server.
    Upstream(UpstreamName),
    /// A GitHub or Gmail tool on the user's connected account.
    Api(Provider),
}

/// The JSON schema of `T` as a tool's input schema (no `$schema`/title noise).
pub fn schema_of<T: JsonSchema>() -> JsonObject {
    let mut schema = serde_json::to_value(schemars::schema_for!(T))
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    for meta in ["$schema", "title", "description"] {
        schema.remove(meta);
    }
    schema
}

/// A built-in tool's entry, its schema from `T`.
pub fn builtin<T: JsonSchema>(
    name: &str,
    description: &str,
    read_only: bool,
    kind: ToolKind,
) -> ToolEntry {
    let schema = schema_of::<T>();
    let annotations = ToolAnnotations::new()
        .read_only(read_only)
        .destructive(false)
        .open_world(true);
    ToolEntry {
        name: ToolName::parse(name).expect("valid built-in name"),
        safe: Arc::new(safe_fields(&schema)),
        tool: Tool::new(name.to_string(), description.to_string(), Arc::new(schema))
            .with_annotations(annotations),
        kind,
    }
}

/// The tools a connected account brings.
fn account_tools(provider: Provider) -> Vec<ToolEntry> {
    match provider {
        Provider::GitHub => github::entries(),
        Provider::Google => gmail::entries(),
    }
}

/// One callable tool, as agents see it.
#[derive(Clone, Debug)]
pub struct ToolEntry {
    /// Its full name.
    pub name: ToolName,
    /// Its MCP definition, under the full name.
    pub tool: Tool,
    /// Argument values that may be kept as they are (from the schema's enums).
    pub safe: Arc<SafeFields>,
    /// Where it runs.
    pub kind: ToolKind,
}

/// The result of looking a name up.
#[derive(Debug)]
pub enum Lookup {
    /// The tool exists.
    Found(ToolEntry),
    /// Its upstream is configured but not serving.
    Unavailable(UpstreamError),
    /// No such tool.
    Unknown,
}

/// Enum values of top-level string properties: safe to keep in summaries.
pub fn safe_fields(schema: &JsonObject) -> SafeFields {
    let mut out = SafeFields::new();
    let Some(Value::Object(props)) = schema.get("properties") else {
        return out;
    };
    for (field, spec) in props {
        if let Some(Value::Array(values)) = spec.get("enum") {
            let set: BTreeSet<String> = values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            if !set.is_empty() {
                out.insert(field.clone(), set);
            }
        }
    }
    out
}

fn entry_for(prefix: &UpstreamName, tool: &Tool) -> Option<ToolEntry> {
    let name = ToolName::join(prefix.as_str(), &tool.name).ok()?;
    let mut t = tool.clone();
    t.name = name.as_str().to_string().into();
    Some(ToolEntry {
        safe: Arc::new(safe_fields(&tool.input_schema)),
        name,
        tool: t,
        kind: ToolKind::Upstream(prefix.clone()),
    })
}

/// Every tool this process can offer.
#[derive(Clone, Debug)]
pub struct Catalog {
    upstreams: Upstreams,
    builtins: Arc<Vec<ToolEntry>>,
    /// Connected accounts, whose GitHub and Gmail tools are listed while connected.
    accounts: Option<Accounts>,
}

impl Catalog {
    /// The built-ins plus the tools of `upstreams`.
    pub fn new(upstreams: Upstreams) -> Self {
        Self {
            upstreams,
            builtins: Arc::new(vec![budgets::entry()]),
            accounts: None,
        }
    }

    /// Adds the GitHub and Gmail tools of the accounts connected in `accounts`.
    pub fn with_accounts(mut self, accounts: Accounts) -> Self {
        self.accounts = Some(accounts);
        self
    }

    /// The connected accounts, if this catalog offers their tools.
    pub fn accounts(&self) -> Option<&Accounts> {
        self.accounts.as_ref()
    }

    /// Providers whose tools are listed now; a store that can't answer lists none.
    async fn connected(&self) -> Vec<Provider> {
        let Some(a) = &self.accounts else {
            return Vec::new();
        };
        match a.listed().await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "tools/list: connected accounts could not be read; their tools are left out");
                Vec::new()
            }
        }
    }

    /// The upstreams behind the catalog.
    pub fn upstreams(&self) -> &Upstreams {
        &self.upstreams
    }

    /// Every tool, waiting a bounded time for upstreams still starting;
    /// an upstream that is down or still starting is left out (and logged).
    pub async fn list(&self) -> Vec<ToolEntry> {
        self.upstreams
            .settled(self.upstreams.settings().upstream_start)
            .await;
        let mut out: Vec<ToolEntry> = self.builtins.to_vec();
        for p in self.connected().await {
            out.extend(account_tools(p));
        }
        for up in self.upstreams.all() {
            match up.state() {
                UpState::Up { tools, .. } => {
                    out.extend(tools.iter().filter_map(|t| entry_for(up.name(), t)))
                }
                UpState::Starting => {
                    tracing::warn!(upstream = %up.name(), "tools/list: upstream still starting, its tools are left out")
                }
                UpState::Down { reason, .. } => {
                    tracing::warn!(upstream = %up.name(), %reason, "tools/list: upstream is down, its tools are left out")
                }
            }
        }
        out
    }

    /// The tool called `name`.
    pub async fn lookup(&self, name: &str) -> Lookup {
        if let Some(b) = self.builtins.iter().find(|b| b.name.as_str() == name) {
            return Lookup::Found(b.clone());
        }
        let Ok(tool) = ToolName::parse(name) else {
            return Lookup::Unknown;
        };
        if let Some(p) = Provider::ALL
            .into_iter()
            .find(|p| p.tool_prefix() == tool.prefix())
        {
            if !self.connected().await.contains(&p) {
                return Lookup::Unknown;
            }
            return account_tools(p)
                .into_iter()
                .find(|t| t.name.as_str() == name)
                .map_or(Lookup::Unknown, Lookup::Found);
        }
        let Some(up) = self.upstreams.get(tool.prefix()) else {
            return Lookup::Unknown;
        };
        match up.settled(self.upstreams.settings().upstream_start).await {
            UpState::Up { tools, .. } => tools
                .iter()
                .find(|t| t.name == tool.local())
                .and_then(|t| entry_for(up.name(), t))
                .map_or(Lookup::Unknown, Lookup::Found),
            UpState::Starting => Lookup::Unavailable(UpstreamError::Unavailable {
                upstream: up.name().to_string(),
                reason: "it is still starting".into(),
                retry_after_ms: Some(1000),
            }),
            UpState::Down { reason, retry_at } => Lookup::Unavailable(UpstreamError::Unavailable {
                upstream: up.name().to_string(),
                reason,
                retry_after_ms: Some(
                    retry_at
                        .saturating_duration_since(std::time::Instant::now())
                        .as_millis() as i64,
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn account_tools_are_listed_only_while_connected() {
        use crate::clock::{SystemClock, UnixMillis};
        use crate::config::Config;
        use crate::secrets::Secrets;
        use crate::store::{ConnectionRow, ConnectionState};
        let t = crate::store::testing::temp_store();
        let config = Config::defaults();
        let accounts = Accounts::new(
            t.store.clone(),
            Secrets::mock(),
            Arc::new(config.oauth.clone()),
            Arc::new(SystemClock),
        );
        let catalog = Catalog::new(Upstreams::none(config.server.clone())).with_accounts(accounts);
        let names = |l: Vec<ToolEntry>| {
            l.into_iter()
                .map(|t| t.name.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(catalog.list().await), ["gatehouse__budgets"]);
        assert!(matches!(
            catalog.lookup("github__comment").await,
            Lookup::Unknown
        ));
        t.store
            .save_connection(&ConnectionRow {
                provider: "github".into(),
                client_id: "c".into(),
                scopes: vec![],
                expires: None,
                refreshable: false,
                state: ConnectionState::Connected,
                state_reason: None,
                secret_store: "mock".into(),
                secret_key: "github/k".into(),
                generation: 0,
                connected: UnixMillis(0),
                refreshed: None,
            })
            .unwrap();
        let listed = names(catalog.list().await);
        assert!(
            listed.contains(&"github__create_issue".to_string()),
            "{listed:?}"
        );
        assert!(
            !listed.iter().any(|n| n.starts_with("gmail__")),
            "{listed:?}"
        );
        match catalog.lookup("github__comment").await {
            Lookup::Found(t) => assert_eq!(t.kind, ToolKind::Api(Provider::GitHub)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            catalog.lookup("gmail__send").await,
            Lookup::Unknown
        ));
    }

    #[test]
    fn enum_properties_are_safe_fields() {
        let schema = json!({"type": "object", "properties": {
            "state": {"type": "string", "enum": ["open", "closed"]},
            "title": {"type": "string"}
        }});
        let safe = safe_fields(schema.as_object().unwrap());
        assert_eq!(safe.len(), 1);
        assert!(safe["state"].contains("open"));
    }
}
