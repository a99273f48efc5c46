//! `gatehouse agents ...`: list, add, approve, deny, revoke, rotate, tools.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args as ClapArgs, Subcommand};
use gatehouse::agents::snippets::Launch;
use gatehouse::agents::{AgentName, Agents, Issued, ToolsUpdate};
use gatehouse::tools::ToolPattern;
use gatehouse::views::{AgentView, IssuedView};

use super::{Ctx, print_json, table};

#[derive(Debug, ClapArgs)]
pub struct Json {
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, ClapArgs)]
pub struct Named {
    /// The agent's name.
    name: String,
    #[command(flatten)]
    out: Json,
}

#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// List every agent: status, verified (token) or not, last seen.
    List(Json),
    /// Create an approved agent; prints its token once, with client config.
    Add(Named),
    /// Let an agent call tools.
    Approve(Named),
    /// Refuse an agent's calls.
    Deny(Named),
    /// Withdraw an agent's approval and token, at once.
    Revoke(Named),
    /// Give an agent a new token (the old one stops working at once) and approve it.
    Rotate(Named),
    /// Set which tools an agent may call (patterns with `*`); deny wins.
    /// Only the lists given change; with none, the agent is shown.
    Tools {
        /// The agent's name.
        name: String,
        /// Allow only tools matching these patterns (repeatable); replaces the allow list.
        #[arg(long = "allow", value_name = "PATTERN", conflicts_with = "clear_allow")]
        allow: Vec<String>,
        /// Refuse tools matching these patterns (repeatable); replaces the deny list.
        #[arg(long = "deny", value_name = "PATTERN", conflicts_with = "clear_deny")]
        deny: Vec<String>,
        /// Empty the allow list (every tool not denied is allowed again).
        #[arg(long)]
        clear_allow: bool,
        /// Empty the deny list.
        #[arg(long)]
        clear_deny: bool,
        #[command(flatten)]
        out: Json,
    },
}

fn agents(ctx: &Ctx) -> Result<Agents> {
    Ok(Agents::new(ctx.store()?, ctx.clock.clone()))
}

pub fn run(ctx: &Ctx, cmd: AgentsCommand) -> Result<ExitCode> {
    let a = agents(ctx)?;
    match cmd {
        AgentsCommand::List(out) => {
            let views: Vec<AgentView> = a.list()?.iter().map(AgentView::from).collect();
            if out.json {
                print_json(&views)?;
            } else if views.is_empty() {
                println!(
                    "No agents yet. Add one with `gatehouse agents add NAME`, or connect a client: it appears here as pending."
                );
            } else {
                let rows: Vec<Vec<String>> = views
                    .iter()
                    .map(|v| {
                        vec![
                            v.name.clone(),
                            v.status.clone(),
                            if v.verified {
                                "token".into()
                            } else {
                                "unverified".into()
                            },
                            v.last_seen_at.clone().unwrap_or_else(|| "never".into()),
                            v.parent_exe.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    table::render(
                        &["NAME", "STATUS", "IDENTITY", "LAST SEEN", "LAUNCHED BY"],
                        &rows
                    )
                );
            }
        }
        AgentsCommand::Add(n) => issued(
            ctx,
            a.add(&AgentName::parse(&n.name)?)?,
            n.out.json,
            "Added",
        )?,
        AgentsCommand::Rotate(n) => issued(
            ctx,
            a.rotate(&AgentName::parse(&n.name)?)?,
            n.out.json,
            "Rotated",
        )?,
        AgentsCommand::Approve(n) => show(
            &a.approve(&AgentName::parse(&n.name)?)?.into_view(),
            n.out.json,
        )?,
        AgentsCommand::Deny(n) => show(
            &a.deny(&AgentName::parse(&n.name)?)?.into_view(),
            n.out.json,
        )?,
        AgentsCommand::Revoke(n) => show(
            &a.revoke(&AgentName::parse(&n.name)?)?.into_view(),
            n.out.json,
        )?,
        AgentsCommand::Tools {
            name,
            allow,
            deny,
            clear_allow,
            clear_deny,
            out,
        } => {
            let list = |given: &[String], clear: bool| -> Result<Option<Vec<ToolPattern>>> {
                if clear {
                    return Ok(Some(Vec::new()));
                }
                if given.is_empty() {
                    return Ok(None);
                }
                Ok(Some(
                    given
                        .iter()
                        .map(|p| ToolPattern::parse(p))
                        .collect::<Result<Vec<_>, _>>()?,
                ))
            };
            let update = ToolsUpdate {
                allow: list(&allow, clear_allow)?,
                deny: list(&deny, clear_deny)?,
            };
            let name = AgentName::parse(&name)?;
            let row = if update == ToolsUpdate::default() {
                a.get(&name)?
            } else {
                a.update_tools(&name, &update)?
            };
            show(&row.into_view(), out.json)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

trait IntoView {
    fn into_view(self) -> AgentView;
}

impl IntoView for gatehouse::store::AgentRow {
    fn into_view(self) -> AgentView {
        AgentView::from(&self)
    }
}

fn show(v: &AgentView, json: bool) -> Result<()> {
    if json {
        return print_json(v);
    }
    let tools = match (v.allow_tools.is_empty(), v.deny_tools.is_empty()) {
        (true, true) => String::new(),
        _ => format!(
            " (allow: [{}], deny: [{}])",
            v.allow_tools.join(", "),
            v.deny_tools.join(", ")
        ),
    };
    println!("Agent \"{}\" is {}{tools}.", v.name, v.status);
    if let Some(problem) = &v.tools_error {
        println!("Its calls are refused: {problem}.");
    }
    Ok(())
}

fn issued(ctx: &Ctx, i: Issued, json: bool, verb: &str) -> Result<()> {
    let exe = std::env::current_exe()?.display().to_string();
    let launch = Launch {
        command: &exe,
        token: i.token.expose(),
        home: ctx
            .env
            .get("GATEHOUSE_HOME")
            .map(String::as_str)
            .filter(|h| !h.is_empty()),
    };
    if json {
        return print_json(&IssuedView::new(&i, &launch));
    }
    println!(
        "{verb} agent \"{}\" ({}).",
        i.agent.name,
        i.agent.status.name()
    );
    println!(
        "\nIts token, shown this once (only a hash is kept):\n\n  {}\n",
        i.token.expose()
    );
    println!("{}", launch.human());
    Ok(())
}
