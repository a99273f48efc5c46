//! The whole server in memory: `server::run` on one end of a duplex pipe,
//! rmcp's own client on the other, a real SQLite file and a fake clock.

use std::sync::Arc;

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use serde_json::{Value, json};

use super::{Deps, ProcessIdentity, run};
use crate::agents::{AgentName, Agents};
use crate::clock::{Clock, FakeClock, SharedClock, UnixMillis};
use crate::config::Config;
use crate::home::EnvMap;
use crate::store::testing::{TempStore, temp_store};
use crate::telemetry::{Redacted, Redactor};

struct Harness {
    t: TempStore,
    clock: Arc<FakeClock>,
}

impl Harness {
    fn new() -> Self {
        Self {
            t: temp_store(),
            clock: Arc::new(FakeClock::new(UnixMillis(1_800_000_000_000))),
        }
    }

    fn agents(&self) -> Agents {
        Agents::new(self.t.store.clone(), self.clock.clone() as SharedClock)
    }

    /// Starts a server for a client holding `token`; returns rmcp's client.
    async fn connect(
        &self,
        token: Option<String>,
        config: &str,
    ) -> rmcp::service::RunningService<rmcp::RoleClient, ()> {
        let config = Config::parse(std::path::Path::new("test.toml"), config).unwrap();
        let deps = Deps {
            store: self.t.store.clone(),
            clock: self.clock.clone(),
            config: config.into(),
            redactor: Redactor::with_key([1; 32]),
            identity: ProcessIdentity {
                token: token.map(Redacted::new),
                parent_exe: None,
            },
            env: EnvMap::new(),
            accounts: None,
        };
        let (server_io, client_io) = tokio::io::duplex(64 * 1024);
        let (read, write) = tokio::io::split(server_io);
        tokio::spawn(run(read, write, deps, std::future::pending()));
        ().serve(client_io).await.unwrap()
    }
}

fn code(r: &CallToolResult) -> Value {
    r.structured_content
        .as_ref()
        .map_or(Value::Null, |s| s["code"].clone())
}

fn budgets() -> CallToolRequestParams {
    CallToolRequestParams::new("gatehouse__budgets")
}

#[tokio::test]
async fn a_token_agent_calls_until_revoked_mid_session() {
    let h = Harness::new();
    let issued = h.agents().add(&AgentName::parse("bot").unwrap()).unwrap();
    let client = h.connect(Some(issued.token.expose().clone()), "").await;
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(
        tools.iter().map(|t| t.name.as_ref()).collect::<Vec<_>>(),
        ["gatehouse__budgets"]
    );
    let r = client.call_tool(budgets()).await.unwrap();
    assert_eq!(r.is_error, Some(false));
    h.agents()
        .revoke(&AgentName::parse("bot").unwrap())
        .unwrap();
    let r = client.call_tool(budgets()).await.unwrap();
    assert_eq!(code(&r), json!("denied"));
    assert_eq!(
        r.structured_content.unwrap()["reason"],
        json!("agent_revoked")
    );
}

#[tokio::test]
async fn budgets_refill_with_the_clock_and_never_from_it_going_back() {
    let h = Harness::new();
    let issued = h.agents().add(&AgentName::parse("bot").unwrap()).unwrap();
    let client = h.connect(Some(issued.token.expose().clone()), "").await;
    let balance = |r: CallToolResult| {
        let rows = r.structured_content.unwrap()["budgets"].clone();
        let minute = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["period"] == "minute")
            .unwrap()
            .clone();
        minute["balance"].as_f64().unwrap()
    };
    // Spend the agent's own minute budget directly through the store, as other processes would.
    let limits = crate::config::Config::defaults()
        .limits
        .limits_for("bot", "x__y");
    let minute: Vec<_> = limits
        .into_iter()
        .filter(|l| l.key.period == crate::budget::Period::Minute && l.key.tool.is_none())
        .collect();
    for _ in 0..60 {
        h.t.store.take(&minute, h.clock.now()).unwrap().unwrap();
    }
    assert_eq!(balance(client.call_tool(budgets()).await.unwrap()), 0.0);
    h.clock.advance(-30_000); // the system clock jumps back 30 s: nothing is minted
    assert_eq!(balance(client.call_tool(budgets()).await.unwrap()), 0.0);
    h.clock.advance(30_000 + 2_500); // back to where it was, then 2.5 s later
    assert_eq!(balance(client.call_tool(budgets()).await.unwrap()), 2.5);
}

#[tokio::test]
async fn a_pending_agent_waits_then_gets_approval_pending() {
    let h = Harness::new();
    let client = h.connect(None, "[approval]\nwait_seconds = 0\n").await;
    let r = client.call_tool(budgets()).await.unwrap();
    assert_eq!(code(&r), json!("approval_pending"));
    let agents = h.agents().list().unwrap();
    assert_eq!(agents[0].name, "rmcp", "named by rmcp's default clientInfo");
    assert!(!agents[0].verified);
}
