//! Ready client configuration for a new agent: paste-able JSON for Claude
//! Desktop, Cursor and VS Code, and the `claude mcp add` line for Claude Code.

use serde_json::{Value, json};

/// What a client needs to launch Gatehouse as this agent.
pub struct Launch<'a> {
    /// The `gatehouse` executable.
    pub command: &'a str,
    /// The agent's token.
    pub token: &'a str,
    /// `GATEHOUSE_HOME`, when the install uses one (clients must pass it on).
    pub home: Option<&'a str>,
}

impl Launch<'_> {
    fn env(&self) -> Value {
        let mut env = json!({ "GATEHOUSE_TOKEN": self.token });
        if let Some(home) = self.home {
            env["GATEHOUSE_HOME"] = json!(home);
        }
        env
    }

    /// `{claude_desktop, cursor, vscode, claude_code}`.
    pub fn client_config(&self) -> Value {
        let server = json!({ "command": self.command, "args": ["serve"], "env": self.env() });
        let mut vscode = server.clone();
        vscode["type"] = json!("stdio");
        let mut claude_code = format!(
            "claude mcp add gatehouse --env GATEHOUSE_TOKEN={}",
            self.token
        );
        if let Some(home) = self.home {
            claude_code.push_str(&format!(" --env GATEHOUSE_HOME={}", shell_quote(home)));
        }
        claude_code.push_str(&format!(" -- {} serve", shell_quote(self.command)));
        json!({
            "claude_desktop": { "mcpServers": { "gatehouse": server } },
            "cursor": { "mcpServers": { "gatehouse": server } },
            "vscode": { "servers": { "gatehouse": vscode } },
            "claude_code": claude_code,
        })
    }

    /// The same, as text for a terminal.
    pub fn human(&self) -> String {
        let cfg = self.client_config();
        let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
        format!(
            "Claude Desktop (claude_desktop_config.json):\n{}\n\n\
             Cursor (~/.cursor/mcp.json):\n{}\n\n\
             VS Code (.vscode/mcp.json):\n{}\n\n\
             Claude Code:\n  {}\n",
            pretty(&cfg["claude_desktop"]),
            pretty(&cfg["cursor"]),
            pretty(&cfg["vscode"]),
            cfg["claude_code"].as_str().unwrap_or_default()
        )
    }
}

fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-=:".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_gets_the_command_and_token() {
        let l = Launch {
            command: "/usr/bin/gatehouse",
            token: "gth_x",
            home: Some("/tmp/my home"),
        };
        let c = l.client_config();
        assert_eq!(
            c["claude_desktop"]["mcpServers"]["gatehouse"]["env"]["GATEHOUSE_TOKEN"],
            "gth_x"
        );
        assert_eq!(c["cursor"]["mcpServers"]["gatehouse"]["args"][0], "serve");
        assert_eq!(c["vscode"]["servers"]["gatehouse"]["type"], "stdio");
        assert_eq!(
            c["claude_code"],
            "claude mcp add gatehouse --env GATEHOUSE_TOKEN=gth_x --env GATEHOUSE_HOME='/tmp/my home' -- /usr/bin/gatehouse serve"
        );
        assert!(l.human().contains("VS Code"));
    }
}
