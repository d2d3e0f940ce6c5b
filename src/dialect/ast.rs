//! Building blocks the rewrite and the function translations share: a
//! function's name as Redshift folds it, and DuckDB SQL parsed back into a
//! tree.

use sqlparser::ast::{Expr, ObjectName};
use sqlparser::dialect::DuckDbDialect;
use sqlparser::parser::Parser;

use super::TranslateError;

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
