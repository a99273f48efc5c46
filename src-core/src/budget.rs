//! Budgets as token buckets: the pure arithmetic, with no storage and no clock.
//! A bucket holds up to `capacity` tokens and refills continuously at
//! `capacity/period` per millisecond, fractions kept. Time going backwards
//! never mints tokens.

use std::fmt;
use std::num::NonZeroU32;

use serde::Serialize;

use crate::clock::UnixMillis;

/// Tokens short of a whole one by less than this count as whole, so float
/// rounding can't make a caller who waited exactly `retry_after_ms` wait again.
const EPSILON: f64 = 1e-9;

/// The length of time over which a budget refills completely.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// One second.
    Second,
    /// One minute.
    Minute,
    /// One hour.
    Hour,
    /// One day (24 hours, not a calendar day).
    Day,
}

impl Period {
    /// Every period, shortest first.
    pub const ALL: [Period; 4] = [Period::Second, Period::Minute, Period::Hour, Period::Day];

    /// The period's length.
    pub fn millis(self) -> i64 {
        match self {
            Period::Second => 1_000,
            Period::Minute => 60_000,
            Period::Hour => 3_600_000,
            Period::Day => 86_400_000,
        }
    }

    /// `second`, `minute`, `hour` or `day`.
    pub fn name(self) -> &'static str {
        match self {
            Period::Second => "second",
            Period::Minute => "minute",
            Period::Hour => "hour",
            Period::Day => "day",
        }
    }

    /// The config key: `per_second`, `per_minute`, ...
    pub fn config_key(self) -> &'static str {
        match self {
            Period::Second => "per_second",
            Period::Minute => "per_minute",
            Period::Hour => "per_hour",
            Period::Day => "per_day",
        }
    }

    /// Parses a period name as stored in the database.
    pub fn from_name(name: &str) -> Option<Period> {
        Period::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// `capacity` tokens refilled evenly over `period`. Zero can't be built: a tool
/// no one may call is a policy deny, not an empty budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Budget {
    capacity: NonZeroU32,
    period: Period,
}

impl Budget {
    /// A budget of `capacity` per `period`.
    pub fn new(capacity: NonZeroU32, period: Period) -> Self {
        Self { capacity, period }
    }

    /// How many tokens the bucket holds when full.
    pub fn capacity(self) -> u32 {
        self.capacity.get()
    }

    /// Over how long the bucket refills from empty.
    pub fn period(self) -> Period {
        self.period
    }

    fn per_ms(self) -> f64 {
        f64::from(self.capacity.get()) / self.period.millis() as f64
    }

    /// The bucket's tokens at `now`, given the stored level (`None`: never
    /// used, so full). Clamped to capacity so a lowered limit applies at once.
    pub fn balance(self, level: Option<Level>, now: UnixMillis) -> f64 {
        let cap = f64::from(self.capacity.get());
        match level {
            None => cap,
            Some(level) => {
                let elapsed = now.saturating_since(level.updated) as f64;
                (level.tokens + elapsed * self.per_ms()).min(cap)
            }
        }
    }

    /// Milliseconds until a bucket holding `tokens` holds one whole token.
    pub fn wait_for_one(self, tokens: f64) -> i64 {
        if has_one(tokens) {
            return 0;
        }
        // Multiply before dividing, and forgive float noise below a microsecond,
        // so whole answers stay whole (1/hour waits 3600000 ms, not 3600001).
        let exact = (1.0 - tokens) * self.period.millis() as f64 / f64::from(self.capacity.get());
        (exact - 1e-6).ceil().max(1.0) as i64
    }

    /// When a bucket holding `tokens` at `now` will be full again.
    pub fn full_at(self, tokens: f64, now: UnixMillis) -> UnixMillis {
        let missing = (f64::from(self.capacity.get()) - tokens).max(0.0);
        now.plus((missing / self.per_ms()).ceil() as i64)
    }
}

/// `5/minute`: how budgets are named in errors, `--json` and the docs.
impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.capacity, self.period.name())
    }
}

/// Whether `tokens` is at least one whole token (within float rounding).
pub fn has_one(tokens: f64) -> bool {
    tokens >= 1.0 - EPSILON
}

/// A bucket's stored state: its tokens at the time it was last written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Level {
    /// Tokens at `updated`, fractions kept.
    pub tokens: f64,
    /// When `tokens` was computed.
    pub updated: UnixMillis,
}

impl Level {
    /// The level after taking one token at `now`. `updated` never moves
    /// backwards: a clock that jumped back can't later count the same time twice.
    pub fn after_take(budget: Budget, before: Option<Level>, now: UnixMillis) -> Level {
        let tokens = budget.balance(before, now) - 1.0;
        let updated = before.map_or(now, |b| b.updated.max(now));
        Level {
            tokens: tokens.max(0.0),
            updated,
        }
    }
}

/// Whose bucket it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// One agent's own budget, across all tools.
    Agent,
    /// One tool's budget, shared by all agents (it protects the upstream).
    Tool,
    /// One agent's budget on one tool.
    AgentTool,
}

impl Scope {
    /// `agent`, `tool` or `agent_tool`.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Agent => "agent",
            Scope::Tool => "tool",
            Scope::AgentTool => "agent_tool",
        }
    }

    /// Parses a scope name as stored in the database.
    pub fn from_name(name: &str) -> Option<Scope> {
        [Scope::Agent, Scope::Tool, Scope::AgentTool]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// Names one bucket: a scope, the agent and/or tool it belongs to, a period.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BucketKey {
    /// Whose bucket.
    pub scope: Scope,
    /// The agent, for `agent` and `agent_tool` buckets.
    pub agent: Option<String>,
    /// The tool, for `tool` and `agent_tool` buckets.
    pub tool: Option<String>,
    /// Which of the scope's budgets.
    pub period: Period,
}

impl BucketKey {
    /// The row key in the database: `scope|agent|tool|period`. Agent and tool
    /// names can't contain `|`, so keys never collide.
    pub fn id(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.scope.name(),
            self.agent.as_deref().unwrap_or(""),
            self.tool.as_deref().unwrap_or(""),
            self.period.name()
        )
    }
}

/// A bucket with the budget that applies to it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Which bucket.
    pub key: BucketKey,
    /// Its capacity and period, from the merged config.
    pub budget: Budget,
}

/// The limit stage's refusal, carrying the answer to "when can I retry?".
#[derive(Clone, Debug, PartialEq)]
pub struct NotUntil {
    /// The bucket that takes longest to hold a whole token again.
    pub limit: Limit,
    /// Milliseconds until every empty bucket of the call holds one whole token.
    pub retry_after_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(n: u32, p: Period) -> Budget {
        Budget::new(NonZeroU32::new(n).unwrap(), p)
    }

    #[test]
    fn an_unused_bucket_is_full() {
        assert_eq!(b(5, Period::Minute).balance(None, UnixMillis(0)), 5.0);
    }

    #[test]
    fn refill_is_continuous_and_keeps_fractions() {
        let budget = b(60, Period::Minute); // one token per second
        let level = Level {
            tokens: 0.0,
            updated: UnixMillis(0),
        };
        assert!((budget.balance(Some(level), UnixMillis(500)) - 0.5).abs() < 1e-9);
        assert!((budget.balance(Some(level), UnixMillis(1500)) - 1.5).abs() < 1e-9);
    }

    #[test]
    fn refill_stops_at_capacity() {
        let budget = b(5, Period::Second);
        let level = Level {
            tokens: 4.0,
            updated: UnixMillis(0),
        };
        assert_eq!(budget.balance(Some(level), UnixMillis(1_000_000)), 5.0);
    }

    #[test]
    fn a_lowered_capacity_applies_at_once() {
        let level = Level {
            tokens: 80.0,
            updated: UnixMillis(0),
        };
        assert_eq!(b(10, Period::Day).balance(Some(level), UnixMillis(0)), 10.0);
    }

    #[test]
    fn time_going_backwards_mints_nothing() {
        let budget = b(60, Period::Minute);
        let after = Level::after_take(
            budget,
            Some(Level {
                tokens: 1.0,
                updated: UnixMillis(10_000),
            }),
            UnixMillis(4_000), // the clock jumped back 6 s
        );
        assert_eq!(after.tokens, 0.0);
        assert_eq!(after.updated, UnixMillis(10_000));
        // Back at the original time, still empty: the 6 s are not counted twice.
        assert_eq!(budget.balance(Some(after), UnixMillis(10_000)), 0.0);
        assert_eq!(budget.balance(Some(after), UnixMillis(4_000)), 0.0);
    }

    #[test]
    fn wait_for_one_is_exact_and_enough() {
        let budget = b(5, Period::Minute); // a token every 12 s
        assert_eq!(budget.wait_for_one(0.0), 12_000);
        assert_eq!(budget.wait_for_one(0.5), 6_000);
        assert_eq!(budget.wait_for_one(1.0), 0);
        // After waiting exactly that long, a token is there.
        let level = Level {
            tokens: 0.3,
            updated: UnixMillis(0),
        };
        let wait = budget.wait_for_one(0.3);
        assert!(has_one(budget.balance(Some(level), UnixMillis(wait))));
        assert!(!has_one(budget.balance(Some(level), UnixMillis(wait - 1))));
    }

    #[test]
    fn thirds_round_up_not_down() {
        let budget = b(3, Period::Second); // 333.33 ms per token
        let wait = budget.wait_for_one(0.0);
        assert_eq!(wait, 334);
        let level = Level {
            tokens: 0.0,
            updated: UnixMillis(0),
        };
        assert!(has_one(budget.balance(Some(level), UnixMillis(wait))));
    }

    #[test]
    fn budgets_print_as_count_per_period() {
        assert_eq!(b(5, Period::Minute).to_string(), "5/minute");
        assert_eq!(b(2000, Period::Day).to_string(), "2000/day");
    }

    #[test]
    fn full_at_counts_the_missing_tokens() {
        let budget = b(60, Period::Minute);
        assert_eq!(budget.full_at(59.0, UnixMillis(0)), UnixMillis(1000));
        assert_eq!(budget.full_at(60.0, UnixMillis(0)), UnixMillis(0));
    }

    #[test]
    fn bucket_ids_are_distinct_per_scope() {
        let k = |scope, agent: Option<&str>, tool: Option<&str>| BucketKey {
            scope,
            agent: agent.map(String::from),
            tool: tool.map(String::from),
            period: Period::Minute,
        };
        assert_eq!(k(Scope::Agent, Some("a"), None).id(), "agent|a||minute");
        assert_eq!(k(Scope::Tool, None, Some("t")).id(), "tool||t|minute");
        assert_eq!(
            k(Scope::AgentTool, Some("a"), Some("t")).id(),
            "agent_tool|a|t|minute"
        );
    }
}
