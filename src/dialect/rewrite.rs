//! The tree rewrite: each Redshift construct becomes its DuckDB equivalent.
//! Replacements are built from the (already rewritten) argument trees and
//! parsed back into expressions, so the result is always a tree again.

use std::ops::ControlFlow;

use sqlparser::ast::{
    CharacterLength, DataType, Expr, Ident, LimitClause, Query, Select, SelectItem, SetExpr, Statement, TopQuantity,
    Value, VisitMut, VisitorMut,
};

use super::TranslateError;
use super::ast::{name_of, parse_expr};
use super::functions;

pub fn statement(s: &mut Statement) -> Result<String, TranslateError> {
    match s {
        Statement::Query(_)
        | Statement::Insert(_)
        | Statement::Update { .. }
        | Statement::Delete(_)
        | Statement::CreateTable(_)
        | Statement::CreateSchema { .. }
        | Statement::Truncate { .. }
        | Statement::CreateView { .. }
        | Statement::Drop { .. }
        | Statement::Set(_)
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Explain { .. } => {}
        other => {
            let name = other
                .to_string()
                .split_whitespace()
                .next()
                .unwrap_or("statement")
                .to_uppercase();
            return Err(TranslateError::unsupported(
                format!("the {name} statement"),
                "only queries, DML and simple DDL run on DuckDB",
            ));
        }
    }
    match s.visit(&mut Rewriter) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(s.to_string()),
    }
}

struct Rewriter;

impl VisitorMut for Rewriter {
    type Break = TranslateError;

    /// Redshift folds identifiers, quoted or not, to lower case (its default,
    /// `enable_case_sensitive_identifier` off): names compare without regard
    /// to case and result columns come back in lower case. DuckDB already
    /// compares names without regard to case; folding every name here gives
    /// the lower-case result column names too (`SELECT OrderID` → `orderid`).
    fn pre_visit_ident(&mut self, ident: &mut Ident) -> ControlFlow<TranslateError> {
        if ident.value.chars().any(|c| c.is_ascii_uppercase()) {
            ident.value = ident.value.to_ascii_lowercase();
        }
        ControlFlow::Continue(())
    }

    /// Result columns named as Redshift names them (in lower case): a bare
    /// column by its name (DuckDB would give the table's spelling), a
    /// function call by the function's name (DuckDB would give the rewritten
    /// expression's text).
    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<TranslateError> {
        for item in &mut select.projection {
            if let SelectItem::UnnamedExpr(expr) = item
                && let Some(name) = column_name(expr)
            {
                *item = SelectItem::ExprWithAlias {
                    expr: expr.clone(),
                    alias: Ident::with_quote('"', name),
                };
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, q: &mut Query) -> ControlFlow<TranslateError> {
        // TOP n → LIMIT n
        if let SetExpr::Select(select) = q.body.as_mut()
            && let Err(e) = top_to_limit(select, &mut q.limit_clause)
        {
            return ControlFlow::Break(e);
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<TranslateError> {
        match rewrite_expr(expr) {
            Ok(Some(new)) => {
                *expr = new;
                ControlFlow::Continue(())
            }
            Ok(None) => ControlFlow::Continue(()),
            Err(e) => ControlFlow::Break(e),
        }
    }
}

/// The name Redshift gives an unaliased result column, where courier knows it.
fn column_name(expr: &Expr) -> Option<String> {
    let name = match expr {
        Expr::Identifier(i) => i.value.clone(),
        Expr::CompoundIdentifier(parts) => parts.last()?.value.clone(),
        Expr::Cast { expr, .. } => return column_name(expr),
        Expr::Function(f) if f.over.is_none() => match name_of(&f.name).as_str() {
            "dateadd" => "date_add".to_string(),
            "date_part" => "pgdate_part".to_string(),
            other => other.to_string(),
        },
        _ => return None,
    };
    Some(name.to_ascii_lowercase())
}

fn top_to_limit(select: &mut Select, limit: &mut Option<LimitClause>) -> Result<(), TranslateError> {
    let Some(top) = select.top.take() else { return Ok(()) };
    if top.percent || top.with_ties {
        return Err(TranslateError::unsupported("TOP … PERCENT / WITH TIES", "use TOP n"));
    }
    let n = match top.quantity {
        Some(TopQuantity::Constant(n)) => Expr::value(Value::Number(n.to_string(), false)),
        Some(TopQuantity::Expr(e)) => e,
        None => return Err(TranslateError::unsupported("TOP without a number", "write TOP n")),
    };
    if limit.is_some() {
        return Err(TranslateError::unsupported(
            "TOP together with LIMIT",
            "use one of them",
        ));
    }
    *limit = Some(LimitClause::LimitOffset {
        limit: Some(n),
        offset: None,
        limit_by: vec![],
    });
    Ok(())
}

fn rewrite_expr(expr: &Expr) -> Result<Option<Expr>, TranslateError> {
    match expr {
        // SYSDATE / GETDATE written without parentheses.
        Expr::Identifier(i) if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("sysdate") => {
            Ok(Some(parse_expr("CAST(current_timestamp AS TIMESTAMP)")?))
        }
        Expr::Cast {
            kind,
            expr: inner,
            data_type,
            format,
        } => {
            if let DataType::Custom(name, _) = data_type
                && name_of(name) == "super"
            {
                // A value cast to SUPER is a SUPER scalar of that value: a
                // string stays a string (JSON_PARSE is what parses JSON
                // text), printed as JSON: `'abc'::SUPER` → `"abc"`.
                return Ok(Some(parse_expr(&format!("to_json({inner})"))?));
            }
            if let Some(n) = varchar_length(data_type) {
                // Redshift truncates a string cast to a shorter VARCHAR(n) /
                // CHAR(n); DuckDB ignores the length.
                return Ok(Some(parse_expr(&format!("left(CAST({inner} AS VARCHAR), {n})"))?));
            }
            if is_timestamptz(data_type) {
                // Redshift sessions default to UTC: a TIMESTAMPTZ is its UTC
                // instant, which DuckDB (without a time zone database) holds
                // best as a plain TIMESTAMP.
                return Ok(Some(parse_expr(&format!(
                    "CAST(CAST({inner} AS TIMESTAMPTZ) AS TIMESTAMP)"
                ))?));
            }
            if let DataType::Char(len) | DataType::Character(len) = data_type {
                // CHAR(n): at most n characters, trailing blanks not
                // significant (LEN and comparisons ignore them); its
                // OCTET_LENGTH is n (see `functions`).
                let n = match len {
                    None => 1,
                    Some(CharacterLength::IntegerLength { length, .. }) => *length,
                    Some(CharacterLength::Max) => 4096,
                };
                return Ok(Some(parse_expr(&format!("{}({inner}, {n})", functions::CHAR))?));
            }
            let Some(new_type) = redshift_type(data_type) else {
                return Ok(None);
            };
            Ok(Some(Expr::Cast {
                kind: kind.clone(),
                expr: inner.clone(),
                data_type: new_type,
                format: format.clone(),
            }))
        }
        // 'YYYYMMDD …' is a date Redshift reads; DuckDB wants dashes.
        Expr::TypedString(t) if matches!(t.data_type, DataType::Date | DataType::Timestamp(..)) => {
            let Value::SingleQuotedString(v) = &t.value.value else {
                return Ok(None);
            };
            let digits = v.len() >= 8 && v.as_bytes()[..8].iter().all(u8::is_ascii_digit);
            if !digits || v.as_bytes().get(8).is_some_and(|b| b.is_ascii_digit()) {
                return Ok(None);
            }
            let fixed = format!("{}-{}-{}{}", &v[..4], &v[4..6], &v[6..8], &v[8..]);
            let mut t = t.clone();
            t.value.value = Value::SingleQuotedString(fixed);
            Ok(Some(Expr::TypedString(t)))
        }
        Expr::Interval(i) => interval(i),
        Expr::Convert {
            expr: inner,
            data_type: Some(t),
            charset: None,
            ..
        } => {
            let cast = Expr::Cast {
                kind: sqlparser::ast::CastKind::Cast,
                expr: inner.clone(),
                data_type: t.clone(),
                format: None,
            };
            Ok(Some(rewrite_expr(&cast)?.unwrap_or(cast)))
        }
        Expr::SimilarTo {
            negated,
            expr: inner,
            pattern,
            escape_char,
        } => {
            let Expr::Value(v) = pattern.as_ref() else {
                return Err(TranslateError::unsupported(
                    "SIMILAR TO with a computed pattern",
                    "give the pattern as a string literal",
                ));
            };
            let Value::SingleQuotedString(p) = &v.value else {
                return Err(TranslateError::unsupported(
                    "SIMILAR TO pattern",
                    "give it as a string literal",
                ));
            };
            let escape = match escape_char.as_deref() {
                None => Some('\\'),
                Some(Expr::Value(v)) => match &v.value {
                    Value::SingleQuotedString(e) if e.chars().count() == 1 => e.chars().next(),
                    Value::SingleQuotedString(e) if e.is_empty() => None,
                    _ => return Err(TranslateError::unsupported("SIMILAR TO … ESCAPE", "give one character")),
                },
                Some(_) => return Err(TranslateError::unsupported("SIMILAR TO … ESCAPE", "give one character")),
            };
            let re = similar_to_regex(p, escape).replace('\'', "''");
            let not = if *negated { "NOT " } else { "" };
            Ok(Some(parse_expr(&format!(
                "({not}regexp_full_match(CAST({inner} AS VARCHAR), '{re}'))"
            ))?))
        }
        Expr::Substring {
            expr: inner,
            substring_from: Some(from),
            substring_for,
            ..
        } => Ok(Some(parse_expr(&functions::substring(
            &inner.to_string(),
            &from.to_string(),
            substring_for.as_ref().map(|e| e.to_string()).as_deref(),
        ))?)),
        Expr::AtTimeZone { timestamp, time_zone } => {
            // The session is UTC. A TIMESTAMP at a zone is that zone's wall
            // time as a UTC instant; a TIMESTAMPTZ (held as its UTC
            // instant) at a zone is the wall time there.
            if let Expr::Value(v) = time_zone.as_ref()
                && let Value::SingleQuotedString(z) = &v.value
            {
                super::timezone::Zone::parse(z)
                    .map_err(|why| TranslateError::unsupported(format!("AT TIME ZONE '{z}'"), why.to_string()))?;
            }
            let tz_input = matches!(timestamp.as_ref(), Expr::TypedString(t) if is_timestamptz(&t.data_type))
                || matches!(timestamp.as_ref(), Expr::Cast { expr, .. } if matches!(expr.as_ref(), Expr::Cast { data_type, .. } if is_timestamptz(data_type)));
            let f = super::timezone::FUNCTION;
            let sql = if tz_input {
                format!("{f}('UTC', {time_zone}, CAST({timestamp} AS TIMESTAMP))")
            } else {
                format!("{f}({time_zone}, 'UTC', CAST({timestamp} AS TIMESTAMP))")
            };
            Ok(Some(parse_expr(&sql)?))
        }
        Expr::Function(f) if f.null_treatment.is_some() => {
            // IGNORE NULLS goes inside the parentheses in DuckDB.
            let mut f = f.clone();
            let treatment = f.null_treatment.take().expect("matched");
            if let sqlparser::ast::FunctionArguments::List(l) = &mut f.args {
                l.clauses
                    .push(sqlparser::ast::FunctionArgumentClause::IgnoreOrRespectNulls(treatment));
            }
            Ok(Some(functions::function(&f)?.unwrap_or(Expr::Function(f))))
        }
        Expr::Function(f) => functions::function(f),
        _ => Ok(None),
    }
}

/// Redshift types DuckDB spells differently.
fn redshift_type(t: &DataType) -> Option<DataType> {
    use sqlparser::ast::ExactNumberInfo as N;
    match t {
        // FLOAT is double precision in Redshift (DuckDB's is 4 bytes).
        DataType::Float(N::None) => return Some(DataType::Double(N::None)),
        DataType::Float(N::Precision(p)) if *p > 24 => return Some(DataType::Double(N::None)),
        // DECIMAL without (p, s) is DECIMAL(18, 0) in Redshift.
        DataType::Decimal(N::None) => return Some(DataType::Decimal(N::PrecisionAndScale(18, 0))),
        DataType::Numeric(N::None) => return Some(DataType::Numeric(N::PrecisionAndScale(18, 0))),
        _ => {}
    }
    let DataType::Custom(name, _) = t else { return None };
    match name_of(name).as_str() {
        "varbyte" | "varbinary" => Some(DataType::Blob(None)),
        _ => None,
    }
}

/// The `n` of `VARCHAR(n)`, `CHARACTER VARYING(n)`, `NVARCHAR(n)`, `TEXT(n)`.
fn varchar_length(t: &DataType) -> Option<u64> {
    match t {
        DataType::Varchar(Some(CharacterLength::IntegerLength { length, .. }))
        | DataType::CharacterVarying(Some(CharacterLength::IntegerLength { length, .. }))
        | DataType::CharVarying(Some(CharacterLength::IntegerLength { length, .. }))
        | DataType::Nvarchar(Some(CharacterLength::IntegerLength { length, .. })) => Some(*length),
        _ => None,
    }
}

fn is_timestamptz(t: &DataType) -> bool {
    use sqlparser::ast::TimezoneInfo;
    match t {
        DataType::Timestamp(_, tz) => matches!(tz, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz),
        DataType::Custom(name, _) => name_of(name) == "timestamptz",
        _ => false,
    }
}

/// A Redshift interval literal as DuckDB reads it: Redshift's unit
/// abbreviations (`1w, 1h, 1m, 1s`, `52 weeks`, `2 qtrs`) spelled out.
fn interval(i: &sqlparser::ast::Interval) -> Result<Option<Expr>, TranslateError> {
    let Expr::Value(v) = i.value.as_ref() else {
        return Ok(None);
    };
    let Value::SingleQuotedString(text) = &v.value else {
        return Ok(None);
    };
    if i.leading_field.is_some() {
        if text.trim().parse::<f64>().is_ok() {
            return Ok(None);
        }
        return Err(TranslateError::unsupported(
            format!("INTERVAL '{text}' with a field qualifier"),
            "the qualifier's truncation is not kept; write the interval without it",
        ));
    }
    // Split "1w, 1h" / "1 day 2 hours" / "-3 months" into (number, unit).
    let spaced: String = text
        .chars()
        .fold((String::new(), None::<bool>), |(mut out, prev_digit), ch| {
            let digit = ch.is_ascii_digit() || ch == '.';
            if ch.is_alphabetic() && prev_digit == Some(true) {
                out.push(' ');
            }
            out.push(if ch == ',' { ' ' } else { ch });
            (
                out,
                if ch.is_whitespace() || ch == ',' {
                    prev_digit
                } else {
                    Some(digit)
                },
            )
        })
        .0;
    let words: Vec<&str> = spaced.split_whitespace().collect();
    let mut out = Vec::new();
    let mut k = 0;
    while k < words.len() {
        let n = words[k];
        if n.parse::<f64>().is_err() {
            return Ok(None); // a form DuckDB reads itself ('1 day 02:00:00')
        }
        let Some(unit) = words.get(k + 1) else {
            out.push(format!("{n} second"));
            break;
        };
        let lower = unit.to_ascii_lowercase();
        let lower = match lower.as_str() {
            "ms" | "msec" | "msecs" | "milliseconds" => "millisecond",
            "us" | "usec" | "usecs" | "microseconds" => "microsecond",
            other => other.trim_end_matches('s'),
        };
        let (factor, unit) = match lower {
            "millennium" | "millennia" | "mil" => (1000.0, "year"),
            "century" | "centurie" | "c" | "cent" => (100.0, "year"),
            "decade" | "dec" => (10.0, "year"),
            "year" | "y" | "yr" => (1.0, "year"),
            "quarter" | "qtr" | "q" => (3.0, "month"),
            "month" | "mon" => (1.0, "month"),
            "week" | "w" | "wk" => (1.0, "week"),
            "day" | "d" => (1.0, "day"),
            "hour" | "h" | "hr" => (1.0, "hour"),
            "minute" | "m" | "min" => (1.0, "minute"),
            "second" | "" | "sec" => (1.0, "second"),
            "millisecond" => (1.0, "millisecond"),
            "microsecond" => (1.0, "microsecond"),
            other => {
                return Err(TranslateError::unsupported(
                    format!("INTERVAL unit {other:?}"),
                    "use year, month, week, day, hour, minute, second (or their abbreviations)",
                ));
            }
        };
        let value: f64 = n.parse().expect("checked");
        out.push(format!("{} {unit}", value * factor));
        k += 2;
    }
    Ok(Some(parse_expr(&format!("INTERVAL '{}'", out.join(" ")))?))
}

/// A SIMILAR TO pattern as a regular expression for a full match: `%` and
/// `_` are SQL's wildcards, `| * + ? {m,n} ( ) [ ]` mean what they mean in
/// a regex, every other character (`.` too) is itself.
fn similar_to_regex(p: &str, escape: Option<char>) -> String {
    let mut out = String::new();
    let mut chars = p.chars();
    while let Some(ch) = chars.next() {
        if Some(ch) == escape {
            if let Some(next) = chars.next() {
                out.push_str(&regex_literal(next));
            }
            continue;
        }
        match ch {
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            '|' | '*' | '+' | '?' | '{' | '}' | '(' | ')' | '[' | ']' => out.push(ch),
            other => out.push_str(&regex_literal(other)),
        }
    }
    out
}

fn regex_literal(ch: char) -> String {
    if ch.is_alphanumeric() || ch == ' ' || ch == '_' {
        ch.to_string()
    } else {
        format!("\\{ch}")
    }
}
