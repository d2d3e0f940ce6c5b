//! A result set as text for `courier query`: an aligned table, CSV, or one
//! JSON object per row.

use crate::backend::ResultSet;

/// Columns padded to their widest value (in characters); numbers align right.
pub fn aligned(rs: &ResultSet) -> String {
    let cell = |v: &Option<String>| v.clone().unwrap_or_else(|| "NULL".into());
    let mut widths: Vec<usize> = rs.columns.iter().map(|c| c.chars().count()).collect();
    for row in &rs.rows {
        for (w, v) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell(v).chars().count());
        }
    }
    let numeric = numeric_columns(rs);
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .zip(&numeric)
            .map(
                |((c, w), num)| {
                    if *num { format!("{c:>w$}") } else { format!("{c:<w$}") }
                },
            )
            .collect();
        parts.join(" | ").trim_end().to_string()
    };
    let mut out = String::new();
    out.push_str(&line(rs.columns.clone()));
    out.push('\n');
    out.push_str(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("-+-"));
    out.push('\n');
    for row in &rs.rows {
        out.push_str(&line(row.iter().map(cell).collect()));
        out.push('\n');
    }
    out.push_str(&format!(
        "({} row{})\n",
        rs.rows.len(),
        if rs.rows.len() == 1 { "" } else { "s" }
    ));
    out
}

/// Columns whose every non-NULL value is a number.
pub fn numeric_columns(rs: &ResultSet) -> Vec<bool> {
    (0..rs.columns.len())
        .map(|i| {
            !rs.rows.is_empty()
                && rs
                    .rows
                    .iter()
                    .all(|r| r[i].as_deref().is_none_or(|v| v.parse::<f64>().is_ok()))
        })
        .collect()
}

/// CSV with a header row; NULL as an empty field.
pub fn csv(rs: &ResultSet) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(&rs.columns);
    for row in &rs.rows {
        let _ = w.write_record(row.iter().map(|v| v.as_deref().unwrap_or("")));
    }
    String::from_utf8_lossy(&w.into_inner().unwrap_or_default()).into_owned()
}

/// One JSON object per row (JSON lines); numeric columns as numbers, NULL
/// as null.
pub fn json_lines(rs: &ResultSet) -> String {
    let numeric = numeric_columns(rs);
    let mut out = String::new();
    for row in &rs.rows {
        let obj: serde_json::Map<String, serde_json::Value> = rs
            .columns
            .iter()
            .zip(row)
            .zip(&numeric)
            .map(|((c, v), num)| {
                let value = match v {
                    None => serde_json::Value::Null,
                    Some(s) if *num => serde_json::from_str::<serde_json::Number>(s)
                        .map_or_else(|_| serde_json::Value::String(s.clone()), serde_json::Value::Number),
                    Some(s) => serde_json::Value::String(s.clone()),
                };
                (c.clone(), value)
            })
            .collect();
        out.push_str(&serde_json::Value::Object(obj).to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_text_left_and_numbers_right() {
        let rs = ResultSet {
            columns: vec!["name".into(), "orders".into()],
            rows: vec![
                vec![Some("Kim Bistro".into()), Some("7".into())],
                vec![Some("Bo".into()), None],
            ],
        };
        assert_eq!(
            aligned(&rs),
            "name       | orders\n-----------+-------\nKim Bistro |      7\nBo         |   NULL\n(2 rows)\n"
        );
    }
}
