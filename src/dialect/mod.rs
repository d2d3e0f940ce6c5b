//! Redshift SQL on the embedded DuckDB warehouse.
//!
//! [`translate`] parses Redshift SQL with sqlparser's Redshift dialect,
//! rewrites the tree where Redshift and DuckDB differ (functions, `TOP`,
//! `APPROXIMATE COUNT`, `WITHIN GROUP`, `SUPER` casts, format strings), and
//! prints DuckDB SQL with Redshift's meaning. [`install`] adds the macros the
//! translation relies on where a function maps directly. SQL that can't be
//! translated is an error naming the construct. The AWS backend sends SQL to
//! Redshift untouched; only the embedded warehouse calls this.

mod ast;
mod formats;
mod functions;
mod rewrite;
mod scalars;
pub mod timezone;

use sqlparser::dialect::RedshiftSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

/// Why Redshift SQL could not be translated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TranslateError {
    /// The SQL does not parse as Redshift SQL. `line` and `column` are
    /// 1-based (0 when the parser gave no position, e.g. at the end).
    #[error("SQL syntax error at line {line}, column {column}: {message}")]
    Parse { message: String, line: u64, column: u64 },
    /// Valid Redshift SQL that the embedded warehouse cannot run with
    /// Redshift's meaning; `construct` names it (`SOUNDEX`,
    /// `TOP … PERCENT`, `the COPY statement` …).
    #[error("{construct} is not supported on the embedded warehouse: {why}")]
    Unsupported { construct: String, why: String },
}

impl TranslateError {
    /// A parser or tokenizer error, with the position sqlparser reports at the
    /// end of its message (`… at Line: 1, Column: 8`) taken out into fields.
    pub(crate) fn parse(e: impl std::fmt::Display) -> Self {
        let text = e.to_string();
        let text = text
            .strip_prefix("sql parser error: ")
            .or_else(|| text.strip_prefix("sql tokenizer error: "))
            .unwrap_or(&text)
            .to_string();
        match position(&text) {
            Some((at, line, column)) => TranslateError::Parse {
                message: text[..at].trim_end().to_string(),
                line,
                column,
            },
            None => TranslateError::Parse {
                message: text,
                line: 0,
                column: 0,
            },
        }
    }

    pub(crate) fn unsupported(construct: impl Into<String>, why: impl Into<String>) -> Self {
        TranslateError::Unsupported {
            construct: construct.into(),
            why: why.into(),
        }
    }
}

/// DuckDB macros for Redshift functions that map directly. Temporary: they
/// live on the connection, not in the warehouse file; [`prepare`] creates
/// the ones a statement calls (creating all of them on every connection
/// cost ~0.2 s in a debug build).
pub const MACROS: &[&str] = &[
    "CREATE OR REPLACE TEMP MACRO getdate() AS date_trunc('second', CAST(current_timestamp AS TIMESTAMP))",
    "CREATE OR REPLACE TEMP MACRO nvl(a, b) AS coalesce(a, b)",
    "CREATE OR REPLACE TEMP MACRO nvl2(e, a, b) AS CASE WHEN e IS NOT NULL THEN a ELSE b END",
    "CREATE OR REPLACE TEMP MACRO len(s) AS length(CAST(s AS VARCHAR))",
    "CREATE OR REPLACE TEMP MACRO charindex(sub, s) AS strpos(CAST(s AS VARCHAR), CAST(sub AS VARCHAR))",
    "CREATE OR REPLACE TEMP MACRO courier_char(s, n) AS rtrim(left(CAST(s AS VARCHAR), n), ' ')",
    // ADD_MONTHS: a month end stays a month end (DATEADD keeps the day).
    "CREATE OR REPLACE TEMP MACRO add_months(d, n) AS CASE \
       WHEN CAST(d AS DATE) = last_day(CAST(d AS DATE)) \
       THEN CAST(last_day(CAST(d AS TIMESTAMP) + to_months(CAST(n AS INTEGER))) AS TIMESTAMP) \
            + (CAST(d AS TIMESTAMP) - date_trunc('day', CAST(d AS TIMESTAMP))) \
       ELSE CAST(d AS TIMESTAMP) + to_months(CAST(n AS INTEGER)) END",
    // MONTHS_BETWEEN: whole months when the days match or both are month
    // ends, else the day (and time) difference over a 31-day month.
    "CREATE OR REPLACE TEMP MACRO months_between(a, b) AS CAST( \
       (year(CAST(a AS TIMESTAMP)) - year(CAST(b AS TIMESTAMP))) * 12 \
       + month(CAST(a AS TIMESTAMP)) - month(CAST(b AS TIMESTAMP)) AS DOUBLE) \
       + CASE WHEN day(CAST(a AS TIMESTAMP)) = day(CAST(b AS TIMESTAMP)) \
              OR (CAST(a AS DATE) = last_day(CAST(a AS DATE)) AND CAST(b AS DATE) = last_day(CAST(b AS DATE))) THEN 0.0 \
         ELSE ((day(CAST(a AS TIMESTAMP)) + epoch(CAST(a AS TIMESTAMP) - date_trunc('day', CAST(a AS TIMESTAMP))) / 86400.0) \
             - (day(CAST(b AS TIMESTAMP)) + epoch(CAST(b AS TIMESTAMP) - date_trunc('day', CAST(b AS TIMESTAMP))) / 86400.0)) / 31.0 END",
    "CREATE OR REPLACE TEMP MACRO courier_weekday(name) AS CASE \
       WHEN lower(trim(name)) IN ('su', 'sun', 'sunday') THEN 0 \
       WHEN lower(trim(name)) IN ('m', 'mo', 'mon', 'monday') THEN 1 \
       WHEN lower(trim(name)) IN ('tu', 'tue', 'tues', 'tuesday') THEN 2 \
       WHEN lower(trim(name)) IN ('w', 'we', 'wed', 'wednesday') THEN 3 \
       WHEN lower(trim(name)) IN ('th', 'thu', 'thur', 'thurs', 'thursday') THEN 4 \
       WHEN lower(trim(name)) IN ('f', 'fr', 'fri', 'friday') THEN 5 \
       WHEN lower(trim(name)) IN ('sa', 'sat', 'saturday') THEN 6 \
       ELSE error('NEXT_DAY: invalid day name ' || name) END",
    // NEXT_DAY: the first such weekday after the date (a week on if it is one).
    "CREATE OR REPLACE TEMP MACRO next_day(d, name) AS CAST(CAST(d AS TIMESTAMP) AS DATE) \
       + CAST((courier_weekday(name) - dayofweek(CAST(d AS TIMESTAMP)) + 6) % 7 + 1 AS INTEGER)",
    "CREATE OR REPLACE TEMP MACRO date_cmp(a, b) AS sign(date_diff('day', CAST(b AS DATE), CAST(a AS DATE)))",
    "CREATE OR REPLACE TEMP MACRO timestamp_cmp(a, b) AS CASE WHEN CAST(a AS TIMESTAMP) < CAST(b AS TIMESTAMP) THEN -1 \
       WHEN CAST(a AS TIMESTAMP) > CAST(b AS TIMESTAMP) THEN 1 WHEN a IS NULL OR b IS NULL THEN NULL ELSE 0 END",
    "CREATE OR REPLACE TEMP MACRO date_cmp_timestamp(a, b) AS timestamp_cmp(CAST(a AS DATE), b)",
    "CREATE OR REPLACE TEMP MACRO timestamp_cmp_date(a, b) AS timestamp_cmp(a, CAST(b AS DATE))",
    "CREATE OR REPLACE TEMP MACRO interval_cmp(a, b) AS CASE WHEN CAST(a AS INTERVAL) < CAST(b AS INTERVAL) THEN -1 \
       WHEN CAST(a AS INTERVAL) > CAST(b AS INTERVAL) THEN 1 WHEN a IS NULL OR b IS NULL THEN NULL ELSE 0 END",
    "CREATE OR REPLACE TEMP MACRO timeofday() AS strftime(CAST(current_timestamp AS TIMESTAMP), '%a %b %d %H:%M:%S.%f %Y UTC')",
    // INITCAP: every character after a non-alphanumeric one starts a word.
    "CREATE OR REPLACE TEMP MACRO initcap(s) AS array_to_string(list_transform(range(1, length(CAST(s AS VARCHAR)) + 1), \
       lambda i: CASE WHEN i = 1 OR NOT regexp_matches(substr(CAST(s AS VARCHAR), i - 1, 1), '[[:alnum:]]') \
       THEN upper(substr(CAST(s AS VARCHAR), i, 1)) ELSE lower(substr(CAST(s AS VARCHAR), i, 1)) END), '')",
    "CREATE OR REPLACE TEMP MACRO replicate(s, n) AS repeat(CAST(s AS VARCHAR), CAST(n AS BIGINT))",
    "CREATE OR REPLACE TEMP MACRO quote_ident(s) AS CASE WHEN regexp_full_match(CAST(s AS VARCHAR), '[a-z_][a-z0-9_$]*') \
       THEN CAST(s AS VARCHAR) ELSE '\"' || replace(CAST(s AS VARCHAR), '\"', '\"\"') || '\"' END",
    "CREATE OR REPLACE TEMP MACRO quote_literal(s) AS '''' || replace(CAST(s AS VARCHAR), '''', '''''') || ''''",
    "CREATE OR REPLACE TEMP MACRO dexp(x) AS exp(CAST(x AS DOUBLE))",
    "CREATE OR REPLACE TEMP MACRO dlog1(x) AS ln(CAST(x AS DOUBLE))",
    "CREATE OR REPLACE TEMP MACRO dlog10(x) AS log10(CAST(x AS DOUBLE))",
    // STRTOL: a base-2..36 string (an optional sign, 0x for base 16) to BIGINT.
    "CREATE OR REPLACE TEMP MACRO courier_strtol_digits(s, base) AS CASE WHEN s = '' THEN 0 ELSE CAST(list_sum(list_transform( \
       range(length(s)), lambda i: CAST(CASE WHEN strpos(substr('0123456789abcdefghijklmnopqrstuvwxyz', 1, base), substr(s, i + 1, 1)) = 0 \
       THEN error('STRTOL: invalid digit ' || substr(s, i + 1, 1) || ' for base ' || base) \
       ELSE strpos('0123456789abcdefghijklmnopqrstuvwxyz', substr(s, i + 1, 1)) - 1 END AS HUGEINT) \
       * CAST(CAST(base AS DOUBLE) ** (length(s) - 1 - i) AS HUGEINT))) AS BIGINT) END",
    "CREATE OR REPLACE TEMP MACRO strtol(s, base) AS CASE WHEN s IS NULL OR base IS NULL THEN NULL \
       WHEN base < 2 OR base > 36 THEN error('STRTOL: base must be 2 to 36') \
       ELSE (CASE WHEN ltrim(CAST(s AS VARCHAR)) LIKE '-%' THEN -1 ELSE 1 END) * courier_strtol_digits( \
         CASE WHEN base = 16 THEN regexp_replace(lower(ltrim(ltrim(CAST(s AS VARCHAR)), '+-')), '^0x', '') \
         ELSE lower(ltrim(ltrim(CAST(s AS VARCHAR)), '+-')) END, CAST(base AS INTEGER)) END",
    // REGEXP_INSTR's position of an occurrence: the pieces before it and
    // the matches between them, counted from `pos` (0: no such occurrence).
    "CREATE OR REPLACE TEMP MACRO courier_regexp_instr(s, p, pos, occ, opt) AS CASE WHEN s IS NULL OR p IS NULL THEN NULL \
       WHEN array_length(regexp_extract_all(substr(s, pos), p)) < occ THEN 0 \
       ELSE pos - 1 + coalesce(list_sum(list_transform(string_split_regex(substr(s, pos), p)[1:occ], lambda x: length(x))), 0) \
         + coalesce(list_sum(list_transform(regexp_extract_all(substr(s, pos), p)[1:occ - 1], lambda x: length(x))), 0) + 1 \
         + CASE WHEN opt = 1 THEN length(regexp_extract_all(substr(s, pos), p)[occ]) ELSE 0 END END",
    "CREATE OR REPLACE TEMP MACRO is_valid_json(s) AS coalesce(courier_json_valid(CAST(s AS VARCHAR)) AND ltrim(CAST(s AS VARCHAR)) LIKE '{%', false)",
    "CREATE OR REPLACE TEMP MACRO is_valid_json_array(s) AS coalesce(courier_json_valid(CAST(s AS VARCHAR)) AND ltrim(CAST(s AS VARCHAR)) LIKE '[%', false)",
    "CREATE OR REPLACE TEMP MACRO json_typeof(j) AS CASE WHEN j IS NULL THEN NULL ELSE CASE json_type(CAST(j AS JSON)) WHEN 'ARRAY' THEN 'array' \
       WHEN 'OBJECT' THEN 'object' WHEN 'VARCHAR' THEN 'string' WHEN 'BOOLEAN' THEN 'boolean' WHEN 'NULL' THEN 'null' \
       ELSE 'number' END END",
];

/// Session settings that give DuckDB Redshift's arithmetic: an integer
/// divided by an integer is an integer (truncated toward zero), `7 / 2` = 3.
/// They apply to this connection only.
pub const SETTINGS: &[&str] = &["SET integer_division = true"];

/// Install the macros, the session settings and the time zone function on a
/// connection (idempotent).
pub fn install(conn: &duckdb::Connection) -> duckdb::Result<()> {
    // Connections of one database share the catalog: once is enough. The
    // functions come first: macros call them.
    let once = |r: duckdb::Result<()>| match r {
        Err(e) if e.to_string().contains("already exists") => Ok(()),
        other => other,
    };
    once(conn.register_scalar_function::<timezone::ConvertTimezone>(timezone::FUNCTION))?;
    once(conn.register_scalar_function::<scalars::JsonValid>(scalars::JSON_VALID))?;
    once(conn.register_scalar_function::<scalars::ToCharNumber>(scalars::TO_CHAR_NUMBER))?;
    for m in SETTINGS {
        conn.execute_batch(m)?;
    }
    Ok(())
}

/// A macro's name, from its `CREATE OR REPLACE TEMP MACRO name(…)`.
fn macro_name(m: &str) -> &str {
    let rest = m.split_once(" MACRO ").map_or("", |(_, r)| r);
    rest.split('(').next().unwrap_or("").trim()
}

/// Does `sql` call `name(`, as a whole word?
fn calls(sql: &str, name: &str) -> bool {
    let pattern = format!("{name}(");
    sql.match_indices(&pattern).any(|(at, _)| {
        sql[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
    })
}

/// Create on `conn` the macros the translated `statements` call, and the
/// macros those call, before they run.
pub fn prepare(conn: &duckdb::Connection, statements: &[String]) -> duckdb::Result<()> {
    let text: String = statements
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("\n");
    let mut needed: Vec<&str> = MACROS.iter().copied().filter(|m| calls(&text, macro_name(m))).collect();
    // Macros that call macros: until nothing new is found.
    let mut i = 0;
    while i < needed.len() {
        let body = needed[i].to_ascii_lowercase();
        for m in MACROS {
            if !needed.contains(m) && calls(&body, macro_name(m)) {
                needed.push(m);
            }
        }
        i += 1;
    }
    // Callees first.
    for m in needed.iter().rev() {
        conn.execute_batch(m)?;
    }
    Ok(())
}

/// Translate Redshift SQL (one or more statements) to DuckDB SQL, one string
/// per statement.
pub fn translate_statements(sql: &str) -> Result<Vec<String>, TranslateError> {
    let sql = approximate_count(sql)?;
    let mut statements = Parser::parse_sql(&RedshiftSqlDialect {}, &sql)
        .map_err(TranslateError::parse)
        .map_err(|e| place(e, &sql))?;
    statements.iter_mut().map(rewrite::statement).collect()
}

/// What `courier emulate` runs for a Data API client: queries and the DML
/// and DDL a Redshift application sends. Anything else — DuckDB's own SET,
/// PRAGMA, ATTACH, INSTALL/LOAD, EXPORT, CALL, functions and macros — is
/// refused, naming the statement. (File-reading table functions inside a
/// query are stopped by the emulator's DuckDB settings.)
pub fn data_api_statement_allowed(sql: &str) -> Result<(), TranslateError> {
    use sqlparser::ast::Statement as S;
    let sql = approximate_count(sql)?;
    let statements = Parser::parse_sql(&RedshiftSqlDialect {}, &sql)
        .map_err(TranslateError::parse)
        .map_err(|e| place(e, &sql))?;
    for s in &statements {
        let allowed = matches!(
            s,
            S::Query(_)
                | S::Insert(_)
                | S::Update(_)
                | S::Delete(_)
                | S::Merge(_)
                | S::Truncate(_)
                | S::Analyze(_)
                | S::CreateTable(_)
                | S::CreateView(_)
                | S::CreateSchema { .. }
                | S::AlterTable(_)
                | S::Drop { .. }
                | S::StartTransaction { .. }
                | S::Commit { .. }
                | S::Rollback { .. }
                | S::Explain { .. }
                | S::ExplainTable { .. }
                | S::ShowTables { .. }
                | S::ShowColumns { .. }
                | S::Comment { .. }
        );
        if !allowed {
            let text = s.to_string();
            let head: String = text.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
            return Err(TranslateError::Unsupported {
                construct: head,
                why: "courier emulate runs queries, DML and table DDL for a Data API client, not DuckDB's own \
                      statements"
                    .into(),
            });
        }
    }
    Ok(())
}

/// Whether every statement of `sql` only reads: queries, EXPLAIN, SHOW and
/// the like. `courier query` refuses anything else unless given `--write`.
pub fn is_read_only(sql: &str) -> Result<bool, TranslateError> {
    use sqlparser::ast::Statement;
    let sql = approximate_count(sql)?;
    let statements = Parser::parse_sql(&RedshiftSqlDialect {}, &sql)
        .map_err(TranslateError::parse)
        .map_err(|e| place(e, &sql))?;
    // SELECT … INTO creates a table; EXPLAIN ANALYZE runs its statement.
    let creates =
        |q: &sqlparser::ast::Query| matches!(q.body.as_ref(), sqlparser::ast::SetExpr::Select(s) if s.into.is_some());
    Ok(statements.iter().all(|s| {
        matches!(s, Statement::Query(q) if !creates(q))
            || matches!(
                s,
                Statement::Explain { analyze: false, .. }
                    | Statement::ExplainTable { .. }
                    | Statement::ShowTables { .. }
                    | Statement::ShowColumns { .. }
                    | Statement::ShowVariable { .. }
                    | Statement::ShowVariables { .. }
                    | Statement::ShowFunctions { .. }
                    | Statement::ShowCollation { .. }
                    | Statement::ShowSchemas { .. }
                    | Statement::ShowViews { .. }
                    | Statement::ShowCreate { .. }
                    | Statement::ShowDatabases { .. }
            )
    }))
}

/// Translate Redshift SQL to DuckDB SQL (statements joined with `;`).
pub fn translate(sql: &str) -> Result<String, TranslateError> {
    Ok(translate_statements(sql)?.join(";\n"))
}

/// The name `APPROXIMATE PERCENTILE_DISC` parses as.
pub(crate) const APPROX_PERCENTILE: &str = "courier_approximate_percentile_disc";

/// `APPROXIMATE COUNT(DISTINCT x)` and `APPROXIMATE PERCENTILE_DISC` are
/// Redshift-only syntax the parser does not know: on the token stream (not
/// text), turn the first into `APPROX_COUNT_DISTINCT(x)` and the second into
/// a function name of ours before parsing.
fn approximate_count(sql: &str) -> Result<String, TranslateError> {
    let tokens = Tokenizer::new(&RedshiftSqlDialect {}, sql)
        .tokenize()
        .map_err(TranslateError::parse)?;
    let is_word = |t: &Token, w: &str| matches!(t, Token::Word(word) if word.value.eq_ignore_ascii_case(w) && word.quote_style.is_none());
    if !tokens.iter().any(|t| is_word(t, "APPROXIMATE")) {
        return Ok(sql.to_string());
    }
    let significant = |from: usize| (from..tokens.len()).find(|&i| !matches!(tokens[i], Token::Whitespace(_)));
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if is_word(&tokens[i], "APPROXIMATE") {
            // APPROXIMATE PERCENTILE_DISC(p) WITHIN GROUP (ORDER BY x): a
            // function name of ours the rewrite turns into approx_quantile.
            if let Some(j) = significant(i + 1).filter(|&j| is_word(&tokens[j], "PERCENTILE_DISC")) {
                out.push(Token::make_word(APPROX_PERCENTILE, None));
                i = j + 1;
                continue;
            }
            let count = significant(i + 1).filter(|&j| is_word(&tokens[j], "COUNT"));
            let paren = count
                .and_then(|j| significant(j + 1))
                .filter(|&j| tokens[j] == Token::LParen);
            let distinct = paren
                .and_then(|j| significant(j + 1))
                .filter(|&j| is_word(&tokens[j], "DISTINCT"));
            let Some(d) = distinct else {
                return Err(TranslateError::unsupported(
                    "APPROXIMATE",
                    "Redshift has APPROXIMATE COUNT(DISTINCT expr) and APPROXIMATE PERCENTILE_DISC(p) WITHIN GROUP (ORDER BY expr)",
                ));
            };
            out.push(Token::make_word("APPROX_COUNT_DISTINCT", None));
            out.push(Token::LParen);
            i = d + 1;
            continue;
        }
        out.push(tokens[i].clone());
        i += 1;
    }
    Ok(out.iter().map(|t| t.to_string()).collect())
}

/// A few parser messages carry no position (`Expected an expression, found:
/// FROM`): place them at the first token that is what was found (or at the
/// end of the input for `EOF`).
fn place(e: TranslateError, sql: &str) -> TranslateError {
    let TranslateError::Parse {
        message,
        line: 0,
        column: 0,
    } = e
    else {
        return e;
    };
    let Some((_, found)) = message.rsplit_once("found: ") else {
        return TranslateError::Parse {
            message,
            line: 0,
            column: 0,
        };
    };
    let tokens = Tokenizer::new(&RedshiftSqlDialect {}, sql)
        .tokenize_with_location()
        .unwrap_or_default();
    let at = if found == "EOF" {
        tokens.last().map(|t| (t.span.end.line, t.span.end.column))
    } else {
        tokens
            .iter()
            .find(|t| t.token.to_string().eq_ignore_ascii_case(found))
            .map(|t| (t.span.start.line, t.span.start.column))
    };
    let (line, column) = at.unwrap_or((0, 0));
    TranslateError::Parse { message, line, column }
}

/// `… at Line: L, Column: C` at the end of a sqlparser message: (where the
/// suffix starts, L, C).
fn position(text: &str) -> Option<(usize, u64, u64)> {
    let at = text.rfind(" at Line: ")?;
    let (line, column) = text[at + " at Line: ".len()..].split_once(", Column: ")?;
    Some((at, line.trim().parse().ok()?, column.trim().parse().ok()?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_reading_sql_is_read_only() {
        for sql in [
            "SELECT 1",
            "WITH a AS (SELECT 1) SELECT * FROM a",
            "EXPLAIN SELECT 1",
            "SELECT 1; SELECT 2",
        ] {
            assert_eq!(super::is_read_only(sql).ok(), Some(true), "{sql}");
        }
        for sql in [
            "INSERT INTO t VALUES (1)",
            "SELECT 1; DELETE FROM t",
            "CREATE TABLE t (x INT)",
            "SELECT * INTO t2 FROM t",
            "EXPLAIN ANALYZE DELETE FROM t",
            "DROP TABLE t",
        ] {
            assert_eq!(super::is_read_only(sql).ok(), Some(false), "{sql}");
        }
        assert!(super::is_read_only("SELEC 1").is_err());
    }

    use super::*;

    #[test]
    fn unsupported_constructs_are_named() {
        let construct = |sql: &str| match translate(sql) {
            Err(TranslateError::Unsupported { construct, .. }) => construct,
            other => panic!("{sql}: {other:?}"),
        };
        assert_eq!(
            construct("SELECT TOP 10 PERCENT OrderID FROM factOrders"),
            "TOP … PERCENT / WITH TIES"
        );
        assert_eq!(
            construct("COPY factOrders FROM 's3://bucket/orders' IAM_ROLE 'arn:aws:iam::1:role/r' CSV"),
            "the COPY statement"
        );
        assert_eq!(
            construct("SELECT FNV_HASH(CustomerEmail) FROM dimCustomers"),
            "FNV_HASH"
        );
        assert_eq!(
            construct("SELECT DATEDIFF(fortnight, OrderDate, GETDATE()) FROM factOrders"),
            "DATEDIFF date part fortnight"
        );
        assert_eq!(
            construct("SELECT CONVERT_TIMEZONE('Mars/Olympus', OrderDate) FROM factOrders"),
            "CONVERT_TIMEZONE zone 'Mars/Olympus'"
        );
        let e = translate("SELECT SOUNDEX(CustomerName) FROM dimCustomers").unwrap_err();
        assert!(e.to_string().starts_with("SOUNDEX is not supported"), "{e}");
        let e = translate("SELECT TO_CHAR(OrderValue, '99V9') FROM factOrders").unwrap_err();
        assert!(e.to_string().contains("TO_CHAR"), "{e}");
        let e = translate("UNLOAD ('select 1') TO 's3://b/x' IAM_ROLE 'r'").unwrap_err();
        assert!(
            matches!(e, TranslateError::Parse { .. } | TranslateError::Unsupported { .. }),
            "{e}"
        );
        let e = translate("SELECT APPROXIMATE 1").unwrap_err();
        assert!(e.to_string().starts_with("APPROXIMATE is not supported"), "{e}");
    }

    #[test]
    fn syntax_errors_say_where() {
        let e = translate("SELECT FROM WHERE").unwrap_err();
        let TranslateError::Parse { line, column, message } = &e else {
            panic!("{e:?}")
        };
        assert_eq!((*line, *column), (1, 13), "{e}");
        assert!(message.contains("FROM"), "{message}");
        assert!(
            e.to_string().starts_with("SQL syntax error at line 1, column 13: "),
            "{e}"
        );
        let e = translate("SELECT OrderID FROM factOrders WHERE").unwrap_err();
        assert!(
            matches!(
                e,
                TranslateError::Parse {
                    line: 1,
                    column: 37,
                    ..
                }
            ),
            "{e:?}"
        );
        // The second line's error is placed on the second line.
        let e = translate("SELECT OrderID\nFROM factOrders WHERE (").unwrap_err();
        assert!(matches!(e, TranslateError::Parse { line: 2, .. }), "{e:?}");
        // A tokenizer error (an unterminated string) too.
        let e = translate("SELECT 'abc").unwrap_err();
        assert!(matches!(e, TranslateError::Parse { line: 1, column: 8, .. }), "{e:?}");
    }

    #[test]
    fn garbage_never_panics() {
        for s in [
            "",
            ";",
            "(((",
            "SELECT '",
            "DATEADD(",
            "SELECT DATEADD()",
            "SELECT DECODE(1)",
            "\u{0}",
            "SELECT TO_CHAR(x)",
            "SELECT TO_CHAR(OrderDate, '\"')",
            "SELECT TO_CHAR(OrderDate, 'FM')",
            "SELECT TO_DATE('x', '')",
            "SELECT DATEADD(day, 1)",
            "SELECT DATEDIFF('', a, b)",
            "SELECT DECODE(*, *, *)",
            "SELECT LISTAGG() WITHIN GROUP (ORDER BY 1)",
            "SELECT PERCENTILE_CONT() WITHIN GROUP (ORDER BY)",
            "SELECT JSON_EXTRACT_PATH_TEXT(x)",
            "SELECT CONVERT_TIMEZONE()",
            "SELECT CONVERT_TIMEZONE('', '', '')",
            "SELECT APPROXIMATE",
            "APPROXIMATE COUNT(DISTINCT",
            "SELECT TOP 18446744073709551615 1",
            "SELECT TOP 99999999999999999999999 1",
            "SELECT 1::VARCHAR(99999999999999999999)",
            "SELECT 'a'::SUPER::SUPER::TIMESTAMPTZ",
            "SELECT \"",
            "SELECT [",
            "SELECT $1, $$ abc",
            "SELECT /* unterminated",
            "SELECT 'ünïcødé' AS \"ÄÖ\", GETDATE(1, 2, 3)",
            "\u{feff}SELECT 1",
            "🦀🦀🦀",
            "SELECT * FROM t WHERE x = 'it''s'; ;; SELECT",
            "SELECT REGEXP_INSTR(",
            "SELECT REGEXP_SUBSTR('a', 'b', 1, 1, 1)",
            "SELECT REGEXP_COUNT('a', '(?=', 1, 'p')",
            "SELECT TO_CHAR(1, '')",
            "SELECT TO_CHAR(1, 'FMFMFM')",
            "SELECT TO_NUMBER('1', '')",
            "SELECT INTERVAL ''",
            "SELECT INTERVAL '1w,'",
            "SELECT INTERVAL ',,,'",
            "SELECT INTERVAL '1 1 1'",
            "SELECT INTERVAL '1e999 days'",
            "SELECT 'a' SIMILAR TO '\\'",
            "SELECT 'a' SIMILAR TO 'a' ESCAPE ''",
            "SELECT SUBSTRING('a' FROM)",
            "SELECT SUBSTRING('a', 1, 2, 3)",
            "SELECT CAST('a' AS CHAR(0))",
            "SELECT CONVERT(datetime)",
            "SELECT TRUNC()",
            "SELECT DATE_TRUNC('century')",
            "SELECT TIMESTAMP '2001' AT TIME ZONE",
            "SELECT TIMESTAMP '99999999 00:00' AT TIME ZONE 'UTC'",
            "SELECT DATE '2024'",
            "SELECT LAG(x) IGNORE NULLS",
            "SELECT JSON_EXTRACT_ARRAY_ELEMENT_TEXT()",
        ] {
            let _ = translate(s);
        }
        // Deep nesting and very long operator chains.
        let _ = translate(&format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000)));
        let _ = translate(&format!("SELECT {}1", "1 + ".repeat(20000)));
        let _ = translate(&format!("SELECT {}", "NVL(".repeat(2000)));
        // Every prefix of a realistic query.
        let q = "SELECT TOP 3 LISTAGG(DISTINCT r.CuisineType, ', ') WITHIN GROUP (ORDER BY r.CuisineType), \
                 DATEDIFF(week, MIN(o.OrderDate), GETDATE()), TO_CHAR(MAX(o.OrderDate), 'FMDay, DD Mon YYYY') \
                 FROM factOrders o JOIN dimRestaurants r ON r.RestaurantID = o.RestaurantID GROUP BY o.CustomerID";
        for end in 0..=q.len() {
            if q.is_char_boundary(end) {
                let _ = translate(&q[..end]);
            }
        }
    }
}
