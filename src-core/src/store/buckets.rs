//! Bucket rows and the one atomic budget decision: every bucket of a call is
//! read, refilled and taken inside one `BEGIN IMMEDIATE` transaction, so all
//! `serve` processes together let through exactly what the budgets allow, and
//! a refusal writes nothing.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::budget::{BucketKey, Level, Limit, NotUntil, Period, Scope, has_one};
use crate::clock::UnixMillis;

/// One stored bucket, for listings.
#[derive(Clone, Debug, PartialEq)]
pub struct BucketRow {
    /// Which bucket.
    pub key: BucketKey,
    /// Its state when last written.
    pub level: Level,
}

fn read_level(tx: &rusqlite::Connection, id: &str) -> rusqlite::Result<Option<Level>> {
    tx.prepare_cached("SELECT tokens, updated_ms FROM buckets WHERE id = ?1")?
        .query_row([id], |r| {
            Ok(Level {
                tokens: r.get(0)?,
                updated: UnixMillis(r.get(1)?),
            })
        })
        .optional()
}

impl Store {
    /// Takes one token from every bucket in `limits`, or from none. The outer
    /// `Err` means no decision could be made (the caller must refuse); the
    /// inner `Err` is a refusal saying when to retry.
    pub fn take(
        &self,
        limits: &[Limit],
        now: UnixMillis,
    ) -> Result<Result<(), NotUntil>, StoreError> {
        let busy = self.0.busy_wait;
        let map = |e| StoreError::from_sqlite(e, busy);
        self.immediate(|tx| {
            let mut levels = Vec::with_capacity(limits.len());
            let mut refusal: Option<NotUntil> = None;
            for limit in limits {
                let level = read_level(tx, &limit.key.id()).map_err(map)?;
                let balance = limit.budget.balance(level, now);
                if !has_one(balance) {
                    let wait = limit.budget.wait_for_one(balance);
                    if refusal.as_ref().is_none_or(|r| wait > r.retry_after_ms) {
                        refusal = Some(NotUntil {
                            limit: limit.clone(),
                            retry_after_ms: wait,
                        });
                    }
                }
                levels.push(level);
            }
            if let Some(refusal) = refusal {
                return Ok(Err(refusal));
            }
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO buckets (id, scope, agent, tool, period, tokens, updated_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT(id) DO UPDATE SET tokens = excluded.tokens, updated_ms = excluded.updated_ms",
                )
                .map_err(map)?;
            for (limit, before) in limits.iter().zip(levels) {
                let after = Level::after_take(limit.budget, before, now);
                upsert
                    .execute(params![
                        limit.key.id(),
                        limit.key.scope.name(),
                        limit.key.agent,
                        limit.key.tool,
                        limit.key.period.name(),
                        after.tokens,
                        after.updated.0
                    ])
                    .map_err(map)?;
            }
            Ok(Ok(()))
        })
    }

    /// The stored level of each bucket in `limits` (`None`: never used).
    pub fn levels(&self, limits: &[Limit]) -> Result<Vec<Option<Level>>, StoreError> {
        self.with(|c| limits.iter().map(|l| read_level(c, &l.key.id())).collect())
    }

    /// Every bucket row, for `gatehouse limits`.
    pub fn list_buckets(&self) -> Result<Vec<BucketRow>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT scope, agent, tool, period, tokens, updated_ms FROM buckets ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, f64>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (scope, agent, tool, period, tokens, updated) = row?;
                // Rows this build can't read are skipped rather than guessed at.
                let (Some(scope), Some(period)) =
                    (Scope::from_name(&scope), Period::from_name(&period))
                else {
                    continue;
                };
                out.push(BucketRow {
                    key: BucketKey {
                        scope,
                        agent,
                        tool,
                        period,
                    },
                    level: Level {
                        tokens,
                        updated: UnixMillis(updated),
                    },
                });
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;
    use crate::budget::Budget;
    use crate::store::testing::temp_store;

    fn limit(
        scope: Scope,
        agent: Option<&str>,
        tool: Option<&str>,
        n: u32,
        period: Period,
    ) -> Limit {
        Limit {
            key: BucketKey {
                scope,
                agent: agent.map(String::from),
                tool: tool.map(String::from),
                period,
            },
            budget: Budget::new(NonZeroU32::new(n).unwrap(), period),
        }
    }

    #[test]
    fn takes_until_empty_then_says_when_to_retry() {
        let t = temp_store();
        let limits = [limit(Scope::Tool, None, Some("echo"), 5, Period::Minute)];
        for _ in 0..5 {
            t.store.take(&limits, UnixMillis(0)).unwrap().unwrap();
        }
        let refused = t.store.take(&limits, UnixMillis(0)).unwrap().unwrap_err();
        assert_eq!(refused.retry_after_ms, 12_000);
        assert_eq!(refused.limit.key.scope, Scope::Tool);
        // Exactly at retry_after_ms a token is there again.
        t.store.take(&limits, UnixMillis(12_000)).unwrap().unwrap();
    }

    #[test]
    fn a_refusal_deducts_nothing_from_any_bucket() {
        let t = temp_store();
        let agent = limit(Scope::Agent, Some("a"), None, 10, Period::Minute);
        let tool = limit(Scope::Tool, None, Some("t"), 1, Period::Minute);
        let both = [agent.clone(), tool.clone()];
        t.store.take(&both, UnixMillis(0)).unwrap().unwrap();
        for _ in 0..3 {
            let refused = t.store.take(&both, UnixMillis(0)).unwrap().unwrap_err();
            assert_eq!(refused.limit.key.scope, Scope::Tool);
        }
        // The agent bucket lost only the one token that went through.
        let levels = t.store.levels(&[agent]).unwrap();
        assert_eq!(levels[0].unwrap().tokens, 9.0);
    }

    #[test]
    fn the_slowest_empty_bucket_sets_retry_after() {
        let t = temp_store();
        let fast = limit(Scope::Agent, Some("a"), None, 1, Period::Second);
        let slow = limit(Scope::AgentTool, Some("a"), Some("t"), 1, Period::Hour);
        t.store
            .take(&[fast.clone(), slow.clone()], UnixMillis(0))
            .unwrap()
            .unwrap();
        let refused = t
            .store
            .take(&[fast, slow], UnixMillis(0))
            .unwrap()
            .unwrap_err();
        assert_eq!(refused.limit.key.scope, Scope::AgentTool);
        assert_eq!(refused.retry_after_ms, 3_600_000);
    }

    #[test]
    fn balances_survive_reopening_the_database() {
        let t = temp_store();
        let limits = [limit(Scope::Tool, None, Some("x"), 2, Period::Day)];
        t.store.take(&limits, UnixMillis(0)).unwrap().unwrap();
        t.store.take(&limits, UnixMillis(0)).unwrap().unwrap();
        let reopened = Store::open(t.store.path()).unwrap();
        assert!(reopened.take(&limits, UnixMillis(1)).unwrap().is_err());
        assert_eq!(reopened.list_buckets().unwrap().len(), 1);
    }

    #[test]
    fn threads_sharing_the_file_get_exactly_the_capacity() {
        let t = temp_store();
        let limits = [limit(Scope::Tool, None, Some("shared"), 50, Period::Day)];
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let store = Store::open(t.store.path()).unwrap();
                let limits = limits.clone();
                std::thread::spawn(move || {
                    (0..40)
                        .filter(|_| store.take(&limits, UnixMillis(0)).unwrap().is_ok())
                        .count()
                })
            })
            .collect();
        let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(total, 50);
    }
}
