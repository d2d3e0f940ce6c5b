//! Validated SQL identifiers: every name from config passes through here
//! before it reaches SQL text.

use std::fmt;

/// A plain SQL identifier: ASCII letter or `_` first, then letters, digits,
/// `_`; at most 127 bytes (Redshift's limit). Such a name needs no quoting
/// and can't carry an injection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ident(String);

impl Ident {
    pub fn parse(what: &str, s: &str) -> Result<Self, BadIdent> {
        let ok_first = s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        let ok_rest = s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok_first && ok_rest && s.len() <= 127 {
            Ok(Ident(s.to_string()))
        } else {
            Err(BadIdent {
                what: what.to_string(),
                name: s.to_string(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A name from config or a request that is not a plain SQL identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} {name:?} is not a plain SQL identifier (letters, digits and _, not starting with a digit, at most 127 characters)"
)]
pub struct BadIdent {
    pub what: String,
    pub name: String,
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A SQL string literal for values courier produces (paths, validated names,
/// sequence numbers): quotes doubled.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `schema.table`, both validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableName {
    pub schema: Ident,
    pub table: Ident,
}

impl TableName {
    pub fn new(schema: &Ident, table: &str) -> Result<Self, BadIdent> {
        Ok(TableName {
            schema: schema.clone(),
            table: Ident::parse("table", table)?,
        })
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_names_and_rejects_injection() {
        assert!(Ident::parse("schema", "food_delivery_datamart").is_ok());
        assert!(Ident::parse("table", "dimCustomers").is_ok());
        for bad in ["", "1abc", "a b", "x;drop table y", "a\"b", "a.b", "é"] {
            let err = Ident::parse("table", bad).unwrap_err().to_string();
            assert!(err.contains("not a plain SQL identifier"), "{err}");
        }
    }
}
