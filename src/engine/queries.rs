//! Live dashboard queries: `sql/queries/*.sql`, one query per file, with a
//! header comment giving its title and refresh interval:
//!
//! ```sql
//! -- title: Orders and revenue per minute
//! -- refresh: 5s
//! SELECT ...
//! ```
//!
//! The runner re-runs each query when due (or when asked) and puts the
//! result, its run time or its error in the snapshot.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::snapshot::{QueryResult, QueryView};
use super::state::Shared;
use crate::backend::Warehouse;

/// Rows kept from a result for the console.
pub const MAX_ROWS: usize = 1000;
const DEFAULT_REFRESH: Duration = Duration::from_secs(5);

/// The queries shipped in the binary, used when no `sql/queries` folder is found.
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        "01_orders_per_minute.sql",
        include_str!("../../sql/queries/01_orders_per_minute.sql"),
    ),
    (
        "02_top_restaurants.sql",
        include_str!("../../sql/queries/02_top_restaurants.sql"),
    ),
    (
        "03_rider_leaderboard.sql",
        include_str!("../../sql/queries/03_rider_leaderboard.sql"),
    ),
    (
        "04_delivery_time_by_cuisine.sql",
        include_str!("../../sql/queries/04_delivery_time_by_cuisine.sql"),
    ),
    (
        "05_order_status_mix.sql",
        include_str!("../../sql/queries/05_order_status_mix.sql"),
    ),
    (
        "06_dead_letters.sql",
        include_str!("../../sql/queries/06_dead_letters.sql"),
    ),
];

#[derive(Debug, Clone, PartialEq)]
pub struct QueryDef {
    pub name: String,
    pub title: String,
    pub refresh: Duration,
    pub sql: String,
}

/// Why a query file is not used, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum BadQueryFile {
    #[error("{file}: {error}")]
    Unreadable { file: String, error: std::io::Error },
    #[error("{file}: refresh {given:?} is not a duration like 5s: {why}")]
    Refresh { file: String, given: String, why: String },
    #[error("{0}: refresh must be at least 250ms")]
    RefreshTooShort(String),
    #[error("{0}: no SQL in the file")]
    NoSql(String),
}

/// Read the header comment of a query file.
pub fn parse_query(file_name: &str, text: &str) -> Result<QueryDef, BadQueryFile> {
    let name = file_name.trim_end_matches(".sql").to_string();
    let mut title = name.replace('_', " ");
    let mut refresh = DEFAULT_REFRESH;
    for line in text
        .lines()
        .map(str::trim)
        .take_while(|l| l.starts_with("--") || l.is_empty())
    {
        let body = line.trim_start_matches('-').trim();
        if let Some(t) = body.strip_prefix("title:") {
            title = t.trim().to_string();
        } else if let Some(r) = body.strip_prefix("refresh:") {
            refresh = humantime::parse_duration(r.trim()).map_err(|e| BadQueryFile::Refresh {
                file: file_name.to_string(),
                given: r.trim().to_string(),
                why: e.to_string(),
            })?;
            if refresh < Duration::from_millis(250) {
                return Err(BadQueryFile::RefreshTooShort(file_name.to_string()));
            }
        }
    }
    let has_sql = text
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"));
    if !has_sql {
        return Err(BadQueryFile::NoSql(file_name.to_string()));
    }
    Ok(QueryDef {
        name,
        title,
        refresh,
        sql: text.to_string(),
    })
}

/// Where queries come from: a folder, or the built-in set.
#[derive(Debug, Clone)]
pub enum QuerySource {
    Dir(PathBuf),
    BuiltIn,
}

impl QuerySource {
    /// The configured folder, else `./sql/queries` if present, else built-in.
    pub fn resolve(configured: Option<&Path>) -> Self {
        match configured {
            Some(d) => QuerySource::Dir(d.to_path_buf()),
            None if Path::new("sql/queries").is_dir() => QuerySource::Dir(PathBuf::from("sql/queries")),
            None => QuerySource::BuiltIn,
        }
    }

    /// Load every query, sorted by file name. Bad files are reported, not fatal.
    pub fn load(&self) -> (Vec<QueryDef>, Vec<String>) {
        let mut files: Vec<(String, Result<String, BadQueryFile>)> = match self {
            QuerySource::BuiltIn => BUILT_IN
                .iter()
                .map(|(n, t)| (n.to_string(), Ok(t.to_string())))
                .collect(),
            QuerySource::Dir(dir) => match std::fs::read_dir(dir) {
                Ok(entries) => entries
                    .filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "sql"))
                    .map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let text = std::fs::read_to_string(e.path()).map_err(|error| BadQueryFile::Unreadable {
                            file: name.clone(),
                            error,
                        });
                        (name, text)
                    })
                    .collect(),
                Err(e) => {
                    return (
                        Vec::new(),
                        vec![format!("cannot read query folder {}: {e}", dir.display())],
                    );
                }
            },
        };
        files.sort_by(|a, b| a.0.cmp(&b.0));
        let mut defs = Vec::new();
        let mut errors = Vec::new();
        for (name, text) in files {
            match text.and_then(|t| parse_query(&name, &t)) {
                Ok(d) => defs.push(d),
                Err(e) => errors.push(e.to_string()),
            }
        }
        (defs, errors)
    }
}

/// Runs the dashboard queries on their schedule.
pub struct QueryRunner {
    pub shared: Arc<Shared>,
    pub warehouse: Arc<dyn Warehouse>,
    pub source: QuerySource,
    defs: Vec<QueryDef>,
    due: Vec<Instant>,
    /// The data version and time of each query's last run, and whether the
    /// next run was asked for: with nothing new in the warehouse a due query
    /// is not re-run (an idle console stays idle) unless asked, or a minute passed.
    last_run: Vec<Option<(u64, Instant)>>,
    forced: Vec<bool>,
}

/// Longest a query result is kept without a re-run when nothing changed
/// (queries may depend on the clock, e.g. GETDATE()).
const UNCHANGED_RERUN: Duration = Duration::from_secs(60);

impl QueryRunner {
    pub fn new(shared: Arc<Shared>, warehouse: Arc<dyn Warehouse>, source: QuerySource) -> Self {
        let mut r = QueryRunner {
            shared,
            warehouse,
            source,
            defs: Vec::new(),
            due: Vec::new(),
            last_run: Vec::new(),
            forced: Vec::new(),
        };
        r.reload();
        r
    }

    /// Re-read the query files; results of queries that still exist are kept.
    pub fn reload(&mut self) {
        let (defs, errors) = self.source.load();
        for e in errors {
            self.shared.error("query", e);
        }
        self.shared.replace_queries(|old| {
            defs.iter()
                .map(|d| QueryView {
                    name: d.name.clone(),
                    title: d.title.clone(),
                    refresh: d.refresh,
                    running: false,
                    last: old.iter().find(|v| v.name == d.name).and_then(|v| v.last.clone()),
                })
                .collect()
        });
        self.due = vec![Instant::now(); defs.len()];
        self.last_run = vec![None; defs.len()];
        self.forced = vec![false; defs.len()];
        self.defs = defs;
    }

    /// Make query `i` due now.
    pub fn run_now(&mut self, i: usize) {
        if let Some(d) = self.due.get_mut(i) {
            *d = Instant::now();
            self.forced[i] = true;
        }
    }

    /// Run every query that is due, one after another.
    pub async fn run_due(&mut self) {
        for i in 0..self.defs.len() {
            if self.due[i] > Instant::now() {
                continue;
            }
            let def = self.defs[i].clone();
            let version = self.shared.counters().data_version();
            let unchanged = self.last_run[i].is_some_and(|(v, at)| v == version && at.elapsed() < UNCHANGED_RERUN);
            if unchanged && !self.forced[i] {
                self.due[i] = Instant::now() + def.refresh;
                continue;
            }
            self.forced[i] = false;
            self.set(i, |v| v.running = true);
            let started = Instant::now();
            let result = self.warehouse.query(&def.sql).await;
            let took = started.elapsed();
            let last = match result {
                Ok(mut rs) => {
                    rs.rows.truncate(MAX_ROWS);
                    QueryResult {
                        columns: rs.columns,
                        rows: rs
                            .rows
                            .into_iter()
                            .map(|r| r.into_iter().map(|v| v.unwrap_or_default()).collect())
                            .collect(),
                        ran_at: chrono::Utc::now(),
                        took,
                        error: None,
                    }
                }
                Err(e) => QueryResult {
                    columns: Vec::new(),
                    rows: Vec::new(),
                    ran_at: chrono::Utc::now(),
                    took,
                    error: Some(e.to_string()),
                },
            };
            self.set(i, |v| {
                v.running = false;
                v.last = Some(std::sync::Arc::new(last));
            });
            self.due[i] = Instant::now() + def.refresh;
            self.last_run[i] = Some((version, Instant::now()));
        }
    }

    /// When the next query is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.due.iter().min().copied()
    }

    fn set(&self, i: usize, f: impl FnOnce(&mut QueryView)) {
        self.shared.with_query(i, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_gives_title_and_refresh() {
        let q = parse_query("top.sql", "-- title: Top restaurants\n-- refresh: 10s\nSELECT 1").unwrap();
        assert_eq!(q.title, "Top restaurants");
        assert_eq!(q.refresh, Duration::from_secs(10));
        let q = parse_query("rider_board.sql", "SELECT 1").unwrap();
        assert_eq!(q.title, "rider board");
        assert!(
            parse_query("x.sql", "-- refresh: soon\nSELECT 1")
                .unwrap_err()
                .to_string()
                .contains("refresh \"soon\"")
        );
        assert!(
            parse_query("x.sql", "-- title: nothing\n")
                .unwrap_err()
                .to_string()
                .contains("no SQL")
        );
    }

    #[test]
    fn built_in_queries_all_parse() {
        let (defs, errors) = QuerySource::BuiltIn.load();
        assert!(errors.is_empty(), "{errors:?}");
        assert!(defs.len() >= 4);
    }
}
