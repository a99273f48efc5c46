//! Reloading against real files: what applies at once, what waits for a
//! restart, and a broken edit that keeps the running config.

use super::*;

struct H {
    dir: tempfile::TempDir,
    home: Home,
}

impl H {
    fn new(text: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::in_dir(dir.path());
        let h = Self { dir, home };
        h.write(text);
        h
    }

    /// Replaces the file as editors do (a new file renamed over it), so
    /// every write is a new version even within one clock tick.
    fn write(&self, text: &str) {
        let tmp = self.dir.path().join("next.toml");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &self.home.config_file).unwrap();
    }
}

fn agent_minute(c: &Config) -> String {
    c.limits
        .agent_budgets("bot")
        .budgets()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn budgets_policies_approval_and_alerts_apply_at_once() {
    let h = H::new("[limits.agent]\nper_minute = 60\n");
    let (live, mut r) = Reloader::load(&h.home).unwrap();
    let before = live.snapshot();
    assert_eq!(r.check(), Reloaded::Unchanged);
    h.write(
        "[limits.agent]\nper_minute = 5\n[agents.bot]\ndeny_tools = [\"x__*\"]\n\
         [approval]\nwait_seconds = 3\n[alerts]\nbudget_min_refusals = 4\n",
    );
    assert_eq!(
        r.check(),
        Reloaded::Loaded {
            applied: true,
            at_next_start: vec![]
        }
    );
    let now = live.snapshot();
    assert_eq!(agent_minute(&now), "5/minute");
    assert_eq!(now.policy_for("bot").deny.len(), 1);
    assert_eq!(now.approval_wait, Duration::from_secs(3));
    assert_eq!(now.alerts.budget_min_refusals, 4);
    assert_eq!(
        agent_minute(&before),
        "60/minute",
        "a snapshot taken before stays whole"
    );
    assert_eq!(r.check(), Reloaded::Unchanged);
}

#[test]
fn start_only_settings_keep_their_running_values_until_restart() {
    let h = H::new("[server]\nupstream_call_seconds = 30\n");
    let (live, mut r) = Reloader::load(&h.home).unwrap();
    let up = "[[upstream]]\nname = \"u\"\ncommand = \"x\"\n";
    h.write(&format!("[server]\nupstream_call_seconds = 31\n{up}"));
    assert_eq!(
        r.check(),
        Reloaded::Loaded {
            applied: false,
            at_next_start: vec!["[[upstream]]", "[server]"]
        }
    );
    let now = live.snapshot();
    assert!(now.upstreams.is_empty());
    assert_eq!(now.server.upstream_call, Duration::from_secs(30));
    // A budget edit beside them applies; they still wait.
    h.write(&format!(
        "[server]\nupstream_call_seconds = 31\n{up}[limits.agent]\nper_minute = 7\n"
    ));
    let Reloaded::Loaded {
        applied,
        at_next_start,
    } = r.check()
    else {
        panic!("loads")
    };
    assert!(applied);
    assert_eq!(at_next_start.len(), 2);
    assert_eq!(agent_minute(&live.snapshot()), "7/minute");
    assert!(live.snapshot().upstreams.is_empty());
}

#[test]
fn a_broken_edit_keeps_the_running_config_and_is_reported_once() {
    let h = H::new("[limits.agent]\nper_minute = 9\n");
    let (live, mut r) = Reloader::load(&h.home).unwrap();
    h.write("[limits.agent]\nper_minute = 0\n");
    let Reloaded::Failed { error, first } = r.check() else {
        panic!("a zero budget fails")
    };
    assert!(first);
    let file = h.home.config_file.display().to_string();
    assert!(
        error.starts_with(&format!("{file}:2:14: key `limits.agent.per_minute`")),
        "{error}"
    );
    assert_eq!(agent_minute(&live.snapshot()), "9/minute");
    // Saved again with the same mistake: not reported again.
    h.write("[limits.agent]\nper_minute = 0\n");
    assert!(matches!(r.check(), Reloaded::Failed { first: false, .. }));
    h.write("[limits.agent]\nper_minute = 8\n");
    assert!(matches!(r.check(), Reloaded::Loaded { applied: true, .. }));
    assert_eq!(agent_minute(&live.snapshot()), "8/minute");
}

#[test]
fn a_removed_file_means_the_defaults_unless_it_was_named() {
    let h = H::new("[limits.agent]\nper_minute = 9\n");
    let (live, mut r) = Reloader::load(&h.home).unwrap();
    std::fs::remove_file(&h.home.config_file).unwrap();
    assert!(matches!(r.check(), Reloaded::Loaded { applied: true, .. }));
    assert_eq!(agent_minute(&live.snapshot()), "60/minute");

    let mut named = h.home.clone();
    named.config_named_by = Some("GATEHOUSE_CONFIG");
    h.write("[limits.agent]\nper_minute = 9\n");
    let (live, mut r) = Reloader::load(&named).unwrap();
    std::fs::remove_file(&named.config_file).unwrap();
    let Reloaded::Failed { error, .. } = r.check() else {
        panic!("a named file that is gone is an error")
    };
    assert!(error.contains("GATEHOUSE_CONFIG"), "{error}");
    assert_eq!(agent_minute(&live.snapshot()), "9/minute");
}
