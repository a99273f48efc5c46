//! Alert rows and their evaluation. An alert is one episode: opened when its
//! rule first fires, kept `open` while the rule holds, `resolved` when it
//! clears. At most one open alert per kind and subject (a unique index). One
//! evaluation reads the history and applies its findings in one `BEGIN
//! IMMEDIATE` transaction, and only the process holding the evaluation slot
//! (a `meta` row) evaluates, so processes never interleave or take turns.

use std::time::Duration;

use rusqlite::{OptionalExtension, params};

use super::alert_reads::HistoryReads;
use super::{Store, StoreError};
use crate::clock::UnixMillis;

/// One alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRow {
    /// Row id.
    pub id: i64,
    /// `error_rate`, `latency_spike`, `budget_exhausted` or `auth_failures`.
    pub kind: String,
    /// What it is about: a tool, or the source of auth failures.
    pub subject: String,
    /// `open` or `resolved`.
    pub state: String,
    /// When it fired.
    pub opened: UnixMillis,
    /// When its condition cleared.
    pub resolved: Option<UnixMillis>,
    /// Why it fired, with the numbers.
    pub why: String,
}

/// A rule that holds now.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// The alert kind.
    pub kind: &'static str,
    /// Its subject.
    pub subject: String,
    /// Why, with the numbers.
    pub why: String,
}

/// What one evaluation changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertChanges {
    /// Alerts opened now.
    pub opened: Vec<AlertRow>,
    /// Alerts resolved now.
    pub resolved: Vec<AlertRow>,
}

/// The `meta` row of the evaluation slot, shared by every process: when
/// alerts were last evaluated, and by which `serve` (`MS HOLDER`).
const CHECKED: &str = "alerts_checked";

/// A `serve` that evaluated lately keeps the slot until it has been silent
/// for this many of its periods (it stopped, or hangs); then another takes over.
const TAKEOVER_PERIODS: i64 = 3;

/// Who asks to evaluate alerts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evaluator {
    /// A long-running process evaluating in the background (`serve`, the
    /// tray), by an id unique to the process. It claims the slot and keeps it
    /// while it evaluates, so processes whose `[alerts]` thresholds differ
    /// don't take turns opening and resolving one alert.
    Background(String),
    /// `gatehouse alerts`: evaluates now unless a background evaluator holds
    /// the slot (then that one's result is current), and claims nothing.
    OnDemand,
}

impl Evaluator {
    /// This process as a background evaluator (one id for its lifetime).
    pub fn this_process() -> &'static Evaluator {
        static ME: std::sync::OnceLock<Evaluator> = std::sync::OnceLock::new();
        ME.get_or_init(|| {
            let mut b = [0u8; 4];
            getrandom::fill(&mut b).expect("the OS has a random source");
            Evaluator::Background(format!("{}-{}", std::process::id(), hex::encode(b)))
        })
    }

    /// The id a background evaluator holds the slot by.
    pub fn holder(&self) -> Option<&str> {
        match self {
            Evaluator::Background(id) => Some(id),
            Evaluator::OnDemand => None,
        }
    }
}

/// The evaluation slot as the `meta` row has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertsChecked {
    /// When alerts were last evaluated.
    pub at: UnixMillis,
    /// The `serve` that holds the slot, if one does.
    pub holder: Option<String>,
}

impl AlertsChecked {
    fn parse(value: &str) -> Option<Self> {
        let (at, holder) = value.split_once(' ').unwrap_or((value, ""));
        Some(Self {
            at: UnixMillis(at.parse().ok()?),
            holder: Some(holder.to_string()).filter(|h| !h.is_empty()),
        })
    }
}

/// Whether `who` may evaluate at `now`, the slot being `slot`: not while
/// another background evaluator holds it (unless it has been silent for
/// [`TAKEOVER_PERIODS`]), and a background one at most once per `check_every`.
pub fn may_evaluate(
    slot: Option<&AlertsChecked>,
    who: &Evaluator,
    now: UnixMillis,
    check_every: Duration,
) -> bool {
    let Some(slot) = slot else { return true };
    let age = now.saturating_since(slot.at);
    let every = i64::try_from(check_every.as_millis()).unwrap_or(i64::MAX);
    let held_by_another = match (&slot.holder, who) {
        (None, _) => false,
        (Some(h), Evaluator::Background(me)) => h != me,
        (Some(_), Evaluator::OnDemand) => true,
    };
    if held_by_another && age < every.saturating_mul(TAKEOVER_PERIODS) {
        return false;
    }
    match who {
        Evaluator::OnDemand => true,
        Evaluator::Background(_) => age >= every,
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AlertRow> {
    Ok(AlertRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        subject: r.get(2)?,
        state: r.get(3)?,
        opened: UnixMillis(r.get(4)?),
        resolved: r.get::<_, Option<i64>>(5)?.map(UnixMillis),
        why: r.get(6)?,
    })
}

const COLUMNS: &str = "id, kind, subject, state, opened_ms, resolved_ms, why";

impl Store {
    /// The evaluation slot now: a plain read, for a cheap "is it my turn?"
    /// (`evaluate_alerts` decides again inside its transaction).
    pub fn alerts_checked(&self) -> Result<Option<AlertsChecked>, StoreError> {
        self.with(|c| {
            c.query_row("SELECT value FROM meta WHERE key = ?1", [CHECKED], |r| {
                r.get::<_, String>(0)
            })
            .optional()
            .map(|v| v.and_then(|v| AlertsChecked::parse(&v)))
        })
    }

    /// Evaluates and applies alerts in one `BEGIN IMMEDIATE` transaction, if
    /// it is `who`'s turn at `now` ([`may_evaluate`]): `findings` reads the
    /// history on the transaction's connection, so no other process's
    /// evaluation can come between reading and applying. A finding with no
    /// open alert opens one; an open alert with no finding is resolved.
    /// `None`: not its turn.
    pub fn evaluate_alerts(
        &self,
        who: &Evaluator,
        check_every: Duration,
        now: UnixMillis,
        findings: impl FnOnce(&HistoryReads<'_>) -> Result<Vec<Finding>, StoreError>,
    ) -> Result<Option<AlertChanges>, StoreError> {
        let busy = self.0.busy_wait;
        let map = move |e: rusqlite::Error| StoreError::from_sqlite(e, busy);
        self.immediate(|tx| {
            let slot: Option<AlertsChecked> = tx
                .query_row("SELECT value FROM meta WHERE key = ?1", [CHECKED], |r| {
                    r.get::<_, String>(0)
                })
                .optional()
                .map_err(map)?
                .and_then(|v| AlertsChecked::parse(&v));
            if !may_evaluate(slot.as_ref(), who, now, check_every) {
                return Ok(None);
            }
            let found = findings(&HistoryReads::new(tx, busy))?;
            let changes = apply(tx, &found, now).map_err(map)?;
            let holder = who.holder().unwrap_or_default();
            tx.execute(
                "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![CHECKED, format!("{} {holder}", now.0)],
            )
            .map_err(map)?;
            Ok(Some(changes))
        })
    }

    /// Gives up the evaluation slot `holder` holds (a `serve` stopping), so
    /// another process takes over at its next look.
    pub fn release_alerts_slot(&self, holder: &str) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE meta SET value = substr(value, 1, instr(value, ' ')) WHERE key = ?1 AND value LIKE '% ' || ?2",
                params![CHECKED, holder],
            )
            .map(|_| ())
        })
    }

    /// Open alerts, and those resolved at or after `since`; newest first.
    pub fn alerts(&self, since: UnixMillis) -> Result<Vec<AlertRow>, StoreError> {
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM alerts WHERE state = 'open' OR resolved_ms >= ?1
                 ORDER BY opened_ms DESC, id DESC"
            ))?
            .query_map([since.0], row)?
            .collect()
        })
    }

    /// Deletes alerts resolved before `cutoff`; returns how many.
    pub fn prune_alerts(&self, cutoff: UnixMillis) -> Result<usize, StoreError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM alerts WHERE state = 'resolved' AND resolved_ms < ?1",
                [cutoff.0],
            )
        })
    }
}

/// Brings the alerts table in line with `findings` inside `tx`.
fn apply(
    tx: &rusqlite::Transaction<'_>,
    findings: &[Finding],
    now: UnixMillis,
) -> rusqlite::Result<AlertChanges> {
    let open: Vec<AlertRow> = tx
        .prepare(&format!(
            "SELECT {COLUMNS} FROM alerts WHERE state = 'open'"
        ))?
        .query_map([], row)?
        .collect::<rusqlite::Result<_>>()?;
    let mut changes = AlertChanges::default();
    for a in &open {
        if !findings
            .iter()
            .any(|f| f.kind == a.kind && f.subject == a.subject)
        {
            tx.execute(
                "UPDATE alerts SET state = 'resolved', resolved_ms = ?1, updated_ms = ?1 WHERE id = ?2",
                params![now.0, a.id],
            )?;
            changes.resolved.push(AlertRow {
                state: "resolved".into(),
                resolved: Some(now),
                ..a.clone()
            });
        }
    }
    for f in findings {
        if open
            .iter()
            .any(|a| a.kind == f.kind && a.subject == f.subject)
        {
            tx.execute(
                "UPDATE alerts SET updated_ms = ?1 WHERE state = 'open' AND kind = ?2 AND subject = ?3",
                params![now.0, f.kind, f.subject],
            )?;
            continue;
        }
        tx.execute(
            "INSERT INTO alerts (kind, subject, state, opened_ms, updated_ms, why) VALUES (?1, ?2, 'open', ?3, ?3, ?4)",
            params![f.kind, f.subject, now.0, f.why],
        )?;
        changes.opened.push(AlertRow {
            id: tx.last_insert_rowid(),
            kind: f.kind.into(),
            subject: f.subject.clone(),
            state: "open".into(),
            opened: now,
            resolved: None,
            why: f.why.clone(),
        });
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::temp_store;

    /// Applies `found` as an on-demand evaluation would.
    fn apply_alerts(store: &Store, found: &[Finding], now: UnixMillis) -> AlertChanges {
        let found = found.to_vec();
        store
            .evaluate_alerts(&Evaluator::OnDemand, Duration::from_secs(10), now, |_| {
                Ok(found)
            })
            .unwrap()
            .unwrap()
    }

    fn finding(subject: &str) -> Finding {
        Finding {
            kind: "budget_exhausted",
            subject: subject.into(),
            why: format!("{subject} ran dry"),
        }
    }

    #[test]
    fn an_episode_opens_once_stays_open_and_resolves() {
        let t = temp_store();
        let s = &t.store;
        let c = apply_alerts(s, &[finding("x__y")], UnixMillis(1_000));
        assert_eq!(c.opened.len(), 1);
        let c = apply_alerts(s, &[finding("x__y")], UnixMillis(2_000));
        assert_eq!(c, AlertChanges::default(), "still the same episode");
        let c = apply_alerts(s, &[], UnixMillis(3_000));
        assert_eq!(c.resolved.len(), 1);
        assert_eq!(c.resolved[0].resolved, Some(UnixMillis(3_000)));
        // The next episode is a new alert.
        let c = apply_alerts(s, &[finding("x__y")], UnixMillis(4_000));
        assert_eq!(c.opened.len(), 1);
        let all = s.alerts(UnixMillis(0)).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].state, "open");
        assert_eq!(all[1].state, "resolved");
        assert_eq!(
            s.alerts_checked().unwrap(),
            Some(AlertsChecked {
                at: UnixMillis(4_000),
                holder: None
            })
        );
        assert_eq!(s.prune_alerts(UnixMillis(3_500)).unwrap(), 1);
        assert_eq!(s.alerts(UnixMillis(0)).unwrap().len(), 1);
    }

    #[test]
    fn a_serve_holds_the_slot_until_it_is_silent_or_releases_it() {
        let t = temp_store();
        let s = &t.store;
        let every = Duration::from_secs(10);
        let (a, b) = (
            Evaluator::Background("a".into()),
            Evaluator::Background("b".into()),
        );
        let eval = |who: &Evaluator, at: i64| {
            s.evaluate_alerts(who, every, UnixMillis(at), |_| Ok(Vec::new()))
                .unwrap()
                .is_some()
        };
        assert!(eval(&a, 0), "a free slot");
        assert!(!eval(&a, 5_000), "at most once per check_every");
        assert!(!eval(&b, 10_000), "a holds it");
        assert!(
            !eval(&Evaluator::OnDemand, 10_000),
            "the CLI defers to a running serve"
        );
        assert!(eval(&a, 10_000));
        assert!(
            !eval(&b, 39_999),
            "a was silent for less than three periods"
        );
        assert!(eval(&b, 40_000), "a went silent: b takes over");
        assert!(!eval(&a, 50_000));
        s.release_alerts_slot("b").unwrap();
        assert_eq!(s.alerts_checked().unwrap().unwrap().holder, None);
        assert!(
            eval(&Evaluator::OnDemand, 40_001),
            "a released slot: the CLI evaluates at once"
        );
        assert!(!eval(&a, 45_000), "but a serve waits check_every after it");
        assert!(eval(&a, 50_001));
        assert_eq!(
            s.alerts_checked().unwrap().unwrap().holder.as_deref(),
            Some("a")
        );
    }
}
