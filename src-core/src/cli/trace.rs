//! `gatehouse trace TRACE_ID`: one trace's spans from the local span files,
//! as a tree with offsets and durations (or, with `--json`, the tree itself).

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args as ClapArgs;
use gatehouse::telemetry::trace_tree::{SpanNode, TraceView, read_trace};

use super::{Ctx, print_json};

#[derive(Debug, ClapArgs)]
pub struct TraceArgs {
    /// The trace id (32 hex digits), as `gatehouse history` shows it.
    trace_id: String,
    /// Print one JSON document instead of a tree.
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, a: TraceArgs) -> Result<ExitCode> {
    let dir = &ctx.home.traces_dir;
    let Some(trace) = read_trace(dir, &a.trace_id)? else {
        bail!(
            "no spans of trace {} in {}: spans appear about a second after a call, are kept \
             as long as the history, and are not written with [traces] local_files = false",
            a.trace_id.trim(),
            dir.display()
        );
    };
    if a.json {
        print_json(&trace)?;
    } else {
        println!("{}", render(&trace));
    }
    Ok(ExitCode::SUCCESS)
}

/// The attributes worth a glance in the tree (all of them are in `--json`).
const SHOWN: [(&str, &str); 5] = [
    ("gatehouse.agent.name", "agent"),
    ("gatehouse.outcome", "outcome"),
    ("gatehouse.code", "code"),
    ("error.type", "error.type"),
    ("gatehouse.upstream", "upstream"),
];

fn render(t: &TraceView) -> String {
    let mut out = vec![
        format!(
            "trace {}  {} spans  {:.3} ms  from {}",
            t.trace_id, t.span_count, t.duration_ms, t.start
        ),
        String::new(),
        format!("{:>10}  {:>10}  SPAN", "OFFSET MS", "MS"),
    ];
    for root in &t.roots {
        line(root, "", "", &mut out);
    }
    out.join("\n")
}

fn line(s: &SpanNode, lead: &str, branch: &str, out: &mut Vec<String>) {
    let mut text = format!("{}  [{}", s.name, s.kind);
    if let Some(service) = &s.service {
        text.push_str(&format!(", {service}"));
    }
    text.push(']');
    if s.status == "error" {
        text.push_str("  ERROR");
    }
    for (key, label) in SHOWN {
        if let Some(v) = s.attributes.get(key) {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            text.push_str(&format!("  {label}={v}"));
        }
    }
    if branch.is_empty()
        && let Some(p) = &s.parent_span_id
    {
        text.push_str(&format!("  (parent {p} is in another process)"));
    }
    out.push(format!(
        "{:>10.3}  {:>10.3}  {lead}{branch}{text}",
        s.offset_ms, s.duration_ms
    ));
    let child_lead = format!(
        "{lead}{}",
        match branch {
            "" => "",
            "├─ " => "│  ",
            _ => "   ",
        }
    );
    for (i, c) in s.children.iter().enumerate() {
        let b = if i + 1 == s.children.len() {
            "└─ "
        } else {
            "├─ "
        };
        line(c, &child_lead, b, out);
    }
}
