//! The tree rewrite: each Redshift construct becomes its DuckDB equivalent.
//! Replacements are built from the (already rewritten) argument trees and
//! parsed back into expressions, so the result is always a tree again.

use std::ops::ControlFlow;

use sqlparser::ast::{
    CharacterLength, DataType, Expr, Ident, LimitClause, ObjectName, Query, Select, SelectItem, SetExpr, Statement,
    TopQuantity, Value, VisitMut, VisitorMut,
};
use sqlparser::dialect::DuckDbDialect;
use sqlparser::parser::Parser;

use super::TranslateError;
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

pub(super) fn parse_expr(sql: &str) -> Result<Expr, TranslateError> {
    Parser::new(&DuckDbDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| {
            TranslateError::unsupported(
                format!("the rewritten expression {sql}"),
                format!("DuckDB's parser rejects it: {e}"),
            )
        })
}

pub(super) fn name_of(name: &ObjectName) -> String {
    name.0
        .last()
        .map(|p| p.to_string().trim_matches('"').to_ascii_lowercase())
        .unwrap_or_default()
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
        Expr::Function(f) => functions::function(f),
        _ => Ok(None),
    }
}

/// Redshift types DuckDB spells differently.
fn redshift_type(t: &DataType) -> Option<DataType> {
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
