//! DuckDB helpers both the warehouse and the fact load use: how a DuckDB
//! error maps to a warehouse error (passing or not), and a transaction that
//! survives a connection left inside an aborted one.

use duckdb::{Connection, Transaction};

use crate::backend::WarehouseError;

/// A DuckDB error that passes (the file locked, I/O, out of memory): retry.
pub(super) fn is_unavailable(msg: &str) -> bool {
    ["Could not set lock", "Conflicting lock", "IO Error", "Out of Memory"]
        .iter()
        .any(|m| msg.contains(m))
}

pub(super) fn sql_err(e: duckdb::Error) -> WarehouseError {
    let msg = e.to_string();
    if is_unavailable(&msg) {
        WarehouseError::Unavailable(msg)
    } else {
        WarehouseError::Sql(msg)
    }
}

/// Begin a transaction on the writer. One left open and aborted — its
/// ROLLBACK failed too, e.g. out of memory — would refuse every BEGIN from
/// then on, so it is rolled back first and the BEGIN retried.
pub(super) fn begin(conn: &Connection) -> Result<Transaction<'_>, duckdb::Error> {
    match Transaction::new_unchecked(conn) {
        Ok(tx) => Ok(tx),
        Err(e) if e.to_string().contains("transaction") => {
            let _ = conn.execute_batch("ROLLBACK");
            Transaction::new_unchecked(conn)
        }
        Err(e) => Err(e),
    }
}
