//! Shard leases: which courier instance reads which shard, kept in the
//! warehouse beside the checkpoints (`courier_leases`), so several
//! instances (hosts) share one stream as the KCL's workers do.
//!
//! A lease is one row per shard: its owner, a counter that every change
//! bumps (renewal, takeover, release), when it expires by the warehouse's
//! own clock (`GETDATE()`, so instances' clocks never meet), whether the
//! shard was read to its end, and how often it was taken from a live or
//! dead owner. Taking a free or expired lease is a compare-and-set on the
//! counter seen, stealing a live one on the owner seen; a
//! commit of rows and checkpoint carries a fence statement that fails the
//! transaction unless its instance still holds the shard's lease.
//!
//! The statements are Redshift SQL: the Data API runs them as they are,
//! the embedded warehouse through the same dialect translation as queries.

use std::time::Duration;

use super::ident::{Ident, literal};

/// The text the fence's error carries, whichever warehouse raised it.
pub const LEASE_LOST: &str = "courier lease lost";

/// One shard's lease as the warehouse holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    pub shard_id: String,
    /// `None`: released, or never taken.
    pub owner: Option<String>,
    pub counter: i64,
    /// Milliseconds until it expires by the warehouse's clock (≤ 0: expired).
    pub expires_in_ms: i64,
    /// The shard was read to its end (a closed parent): its children may start.
    pub ended: bool,
    /// Times the lease was taken from another owner.
    pub takeovers: i64,
}

impl LeaseRow {
    /// Held by someone, and not expired.
    pub fn live(&self) -> bool {
        self.owner.is_some() && self.expires_in_ms > 0 && !self.ended
    }
}

/// A take: the shard, and the counter it was seen with (`None`: no row yet).
/// A steal from a live instance (`from`) is conditional on that owner
/// instead: its renewals bump the counter every round, and a steal
/// conditional on the counter would lose that race again and again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Take {
    pub shard_id: String,
    pub seen_counter: Option<i64>,
    pub from: Option<String>,
}

/// One round trip to the lease table: renew what `owner` holds, take,
/// release, mark ended, then read every lease of `stream`. One transaction.
#[derive(Debug, Clone)]
pub struct LeaseRound {
    pub stream: String,
    pub owner: String,
    pub duration: Duration,
    pub renew: bool,
    pub take: Vec<Take>,
    pub release: Vec<String>,
    pub end: Vec<String>,
}

impl LeaseRound {
    pub fn new(stream: &str, owner: &str, duration: Duration) -> Self {
        LeaseRound {
            stream: stream.to_string(),
            owner: owner.to_string(),
            duration,
            renew: false,
            take: Vec::new(),
            release: Vec::new(),
            end: Vec::new(),
        }
    }

    /// The round's statements (Redshift SQL); the last one reads the leases.
    pub fn statements(&self, schema: &Ident) -> Vec<String> {
        let table = format!("{schema}.courier_leases");
        let (stream, owner) = (literal(&self.stream), literal(&self.owner));
        let ms = self.duration.as_millis().max(1);
        let expires = format!("DATEADD(ms, {ms}, GETDATE())");
        let shards = |ids: &[String]| ids.iter().map(|s| literal(s)).collect::<Vec<_>>().join(", ");
        let mut out = Vec::new();
        if self.renew {
            out.push(format!(
                "UPDATE {table} SET Counter = Counter + 1, ExpiresAt = {expires} \
                 WHERE StreamName = {stream} AND Owner = {owner} AND NOT Ended"
            ));
        }
        for t in &self.take {
            let shard = literal(&t.shard_id);
            out.push(match (&t.from, t.seen_counter) {
                (Some(victim), _) => format!(
                    "UPDATE {table} SET Takeovers = Takeovers + 1, Owner = {owner}, Counter = Counter + 1, \
                     ExpiresAt = {expires} \
                     WHERE StreamName = {stream} AND ShardId = {shard} AND Owner = {} AND NOT Ended",
                    literal(victim)
                ),
                (None, Some(counter)) => format!(
                    "UPDATE {table} SET Takeovers = Takeovers + CASE WHEN Owner IS NULL OR Owner = {owner} THEN 0 ELSE 1 END, \
                     Owner = {owner}, Counter = Counter + 1, ExpiresAt = {expires} \
                     WHERE StreamName = {stream} AND ShardId = {shard} AND Counter = {counter} AND NOT Ended"
                ),
                (None, None) => format!(
                    "INSERT INTO {table} SELECT {stream}, {shard}, {owner}, 1, {expires}, FALSE, 0 \
                     WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE StreamName = {stream} AND ShardId = {shard})"
                ),
            });
        }
        if !self.release.is_empty() {
            out.push(format!(
                "UPDATE {table} SET Owner = NULL, Counter = Counter + 1, ExpiresAt = GETDATE() \
                 WHERE StreamName = {stream} AND Owner = {owner} AND ShardId IN ({})",
                shards(&self.release)
            ));
        }
        if !self.end.is_empty() {
            // A shard read to its end stays ended, whoever holds it.
            out.push(format!(
                "UPDATE {table} SET Owner = NULL, Ended = TRUE, Counter = Counter + 1, ExpiresAt = GETDATE() \
                 WHERE StreamName = {stream} AND ShardId IN ({})",
                shards(&self.end)
            ));
            for shard in &self.end {
                let shard = literal(shard);
                out.push(format!(
                    "INSERT INTO {table} SELECT {stream}, {shard}, NULL, 1, GETDATE(), TRUE, 0 \
                     WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE StreamName = {stream} AND ShardId = {shard})"
                ));
            }
        }
        out.push(format!(
            "SELECT ShardId, Owner, Counter, DATEDIFF(ms, GETDATE(), ExpiresAt), Ended, Takeovers \
             FROM {table} WHERE StreamName = {stream} ORDER BY ShardId, Counter DESC"
        ));
        out
    }
}

/// A statement that fails its transaction, with `LEASE_LOST` in the
/// error, unless `owner` holds `shard`'s lease and it has not expired.
pub fn fence_sql(schema: &Ident, stream: &str, shard: &str, owner: &str) -> String {
    format!(
        "SELECT CAST(CASE WHEN (SELECT COUNT(*) FROM {schema}.courier_leases WHERE StreamName = {} AND ShardId = {} \
         AND Owner = {} AND ExpiresAt > GETDATE()) > 0 THEN '1' ELSE {} END AS INT)",
        literal(stream),
        literal(shard),
        literal(owner),
        literal(&format!("{LEASE_LOST}: {owner} no longer holds {shard}"))
    )
}

/// The rows of a lease read (`LeaseRound::statements`' last), one per
/// shard (should a race have left two, the one with the higher counter).
pub fn parse_rows(rows: Vec<Vec<Option<String>>>) -> Vec<LeaseRow> {
    let mut out: Vec<LeaseRow> = Vec::with_capacity(rows.len());
    for r in rows {
        let cell = |i: usize| r.get(i).cloned().flatten();
        let Some(shard_id) = cell(0) else { continue };
        if out.last().is_some_and(|l| l.shard_id == shard_id) {
            continue;
        }
        let int = |i: usize| cell(i).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
        out.push(LeaseRow {
            shard_id,
            owner: cell(1).filter(|o| !o.is_empty()),
            counter: int(2),
            expires_in_ms: cell(3).and_then(|v| v.parse::<i64>().ok()).unwrap_or(i64::MIN),
            ended: cell(4).is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "t" | "1")),
            takeovers: int(5),
        });
    }
    out
}

/// What one instance should take next, given every lease of the stream:
/// the shards it may read (`ready`: listed, not ended, parents ended) that
/// no one holds, up to its share — ceil(ready / live instances) — and, when
/// it still holds less than that, shards stolen from the instance holding
/// the most, down to no less than the share (conditional on that owner
/// still holding them; the loser's next commit is refused by the fence).
pub fn plan_takes(owner: &str, ready: &[String], leases: &[LeaseRow]) -> Vec<Take> {
    use std::collections::{BTreeMap, BTreeSet};
    let by_shard: BTreeMap<&str, &LeaseRow> = leases.iter().map(|l| (l.shard_id.as_str(), l)).collect();
    let mut held: BTreeMap<&str, Vec<&LeaseRow>> = BTreeMap::new();
    for s in ready {
        if let Some(l) = by_shard.get(s.as_str()).filter(|l| l.live())
            && let Some(o) = &l.owner
        {
            held.entry(o.as_str()).or_default().push(l);
        }
    }
    let mut instances: BTreeSet<&str> = leases
        .iter()
        .filter(|l| l.live())
        .filter_map(|l| l.owner.as_deref())
        .collect();
    instances.insert(owner);
    let share = ready.len().div_ceil(instances.len().max(1));
    let mine = held.get(owner).map_or(0, Vec::len);
    let mut want = share.saturating_sub(mine);
    let mut takes = Vec::new();
    for s in ready {
        if want == 0 {
            break;
        }
        match by_shard.get(s.as_str()) {
            None => takes.push(Take {
                shard_id: s.clone(),
                seen_counter: None,
                from: None,
            }),
            Some(l) if !l.live() && !l.ended => takes.push(Take {
                shard_id: s.clone(),
                seen_counter: Some(l.counter),
                from: None,
            }),
            _ => continue,
        }
        want -= 1;
    }
    if want > 0
        && let Some((victim, theirs)) = held
            .iter()
            .filter(|(o, _)| **o != owner)
            .max_by_key(|(o, v)| (v.len(), std::cmp::Reverse(**o)))
        && theirs.len() > share
    {
        let spare = theirs.len() - share;
        for l in theirs.iter().rev().take(want.min(spare)) {
            takes.push(Take {
                shard_id: l.shard_id.clone(),
                seen_counter: Some(l.counter),
                from: Some(victim.to_string()),
            });
        }
    }
    takes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(shard: &str, owner: Option<&str>, expires_in_ms: i64) -> LeaseRow {
        LeaseRow {
            shard_id: shard.into(),
            owner: owner.map(str::to_string),
            counter: 7,
            expires_in_ms,
            ended: false,
            takeovers: 0,
        }
    }

    fn shards(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("s{i}")).collect()
    }

    #[test]
    fn a_first_instance_takes_every_shard_and_later_ones_steal_down_to_their_share() {
        let ready = shards(8);
        let takes = plan_takes("a", &ready, &[]);
        assert_eq!(takes.len(), 8);
        assert!(takes.iter().all(|t| t.seen_counter.is_none()));
        let all_a: Vec<LeaseRow> = ready.iter().map(|s| lease(s, Some("a"), 5000)).collect();
        // b joins: the share of 2 is 4, stolen from a.
        let b = plan_takes("b", &ready, &all_a);
        assert_eq!(b.len(), 4);
        assert!(b.iter().all(|t| t.from.as_deref() == Some("a")));
        // c joins a 4 / b 4: the share of 3 is 3; a and b hold 4 each: one from the larger (a, by name).
        let mut split = all_a.clone();
        for l in split.iter_mut().skip(4) {
            l.owner = Some("b".into());
        }
        let c = plan_takes("c", &ready, &split);
        assert_eq!(c.len(), 1, "{c:?}");
        // a holds its share: nothing to do.
        assert!(plan_takes("a", &ready, &split).is_empty());
    }

    #[test]
    fn expired_and_released_leases_are_taken_before_anything_is_stolen() {
        let ready = shards(4);
        let leases = vec![
            lease("s0", Some("a"), 5000),
            lease("s1", Some("a"), -10),
            lease("s2", None, -10),
            lease("s3", Some("b"), 5000),
        ];
        let takes = plan_takes("b", &ready, &leases);
        // Live: a (s0), b (s3): share 2; b holds 1 and takes one free lease.
        assert_eq!(
            takes,
            vec![Take {
                shard_id: "s1".into(),
                seen_counter: Some(7),
                from: None,
            }]
        );
        // An ended shard is never taken.
        let mut ended = lease("s0", None, -10);
        ended.ended = true;
        assert!(plan_takes("z", &["s0".to_string()], &[ended]).is_empty());
    }

    #[test]
    fn rows_parse_with_duplicates_and_nulls() {
        let row = |v: [&str; 6]| v.iter().map(|c| (!c.is_empty()).then(|| c.to_string())).collect();
        let rows = parse_rows(vec![
            row(["s0", "a", "9", "1500", "false", "1"]),
            row(["s0", "b", "3", "0", "false", "0"]),
            row(["s1", "", "4", "-20", "true", "0"]),
        ]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].owner.as_deref(), Some("a"));
        assert!(rows[0].live());
        assert!(rows[1].ended && rows[1].owner.is_none() && !rows[1].live());
    }
}
