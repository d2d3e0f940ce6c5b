//! Checks a dimension CSV against its table before COPY, so a bad file fails
//! with a reason naming the file, line and column, and the table keeps its
//! previous rows.

use std::path::Path;

/// Why a dimension CSV can't be loaded, with where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadCsv {
    #[error("{label}: no such object")]
    NotFound { label: String },
    #[error("{label}: cannot read: {why}")]
    Unreadable { label: String, why: String },
    #[error("{label} line {line}: {why}")]
    At { label: String, line: u64, why: String },
}

/// Why one field does not hold a value of its column's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadValue {
    #[error("is not an integer")]
    NotInteger,
    #[error("is not a date (YYYY-MM-DD)")]
    NotDate,
    #[error("is not a number (DECIMAL({0},{1}))")]
    NotNumber(usize, usize),
    #[error("does not fit DECIMAL({0},{1})")]
    TooWide(usize, usize),
}

/// Validate `path` (shown to users as `label`) against `columns` (name,
/// DuckDB type). Returns the number of data rows.
pub fn validate_file(path: &Path, label: &str, columns: &[(String, String)]) -> Result<u64, BadCsv> {
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => BadCsv::NotFound {
            label: label.to_string(),
        },
        _ => BadCsv::Unreadable {
            label: label.to_string(),
            why: e.to_string(),
        },
    })?;
    validate(file, label, columns)
}

pub fn validate(input: impl std::io::Read, label: &str, columns: &[(String, String)]) -> Result<u64, BadCsv> {
    let at = |line: u64, why: String| BadCsv::At {
        label: label.to_string(),
        line,
        why,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(input);
    let header = rdr
        .headers()
        .map_err(|e| at(1, format!("cannot read the header: {e}")))?
        .clone();
    let expected: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let matches = header.len() == expected.len()
        && header
            .iter()
            .zip(&expected)
            .all(|(h, e)| h.trim().eq_ignore_ascii_case(e));
    if !matches {
        return Err(at(
            1,
            format!(
                "header is [{}], expected [{}]",
                header.iter().collect::<Vec<_>>().join(", "),
                expected.join(", ")
            ),
        ));
    }
    let mut rows = 0u64;
    let mut record = csv::StringRecord::new();
    loop {
        let more = rdr.read_record(&mut record).map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            at(line, e.to_string())
        })?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != columns.len() {
            let hint = if record.iter().any(|f| f.contains('\n')) {
                " (an unterminated quote?)"
            } else {
                ""
            };
            return Err(at(
                line,
                format!("{} fields, expected {}{hint}", record.len(), columns.len()),
            ));
        }
        for (value, (name, ty)) in record.iter().zip(columns) {
            // No dimension column spans lines: a line break inside a field is
            // a quote that was opened and never closed where it should be.
            if value.contains(['\n', '\r']) {
                return Err(at(
                    line,
                    format!("column {name} runs across lines (an unterminated quote?)"),
                ));
            }
            check_value(value, ty).map_err(|why| at(line, format!("column {name}: {value:?} {why}")))?;
        }
        rows += 1;
    }
    Ok(rows)
}

fn check_value(v: &str, ty: &str) -> Result<(), BadValue> {
    let ty = ty.to_ascii_uppercase();
    if v.is_empty() {
        return Ok(()); // NULL
    }
    if ty == "INTEGER" || ty == "INT" {
        v.parse::<i32>().map(|_| ()).map_err(|_| BadValue::NotInteger)
    } else if ty == "BIGINT" {
        v.parse::<i64>().map(|_| ()).map_err(|_| BadValue::NotInteger)
    } else if ty == "DATE" {
        chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(|_| ())
            .map_err(|_| BadValue::NotDate)
    } else if let Some(spec) = ty.strip_prefix("DECIMAL(") {
        let (p, s) = spec.trim_end_matches(')').split_once(',').unwrap_or((spec, "0"));
        let (p, s): (usize, usize) = (p.trim().parse().unwrap_or(18), s.trim().parse().unwrap_or(0));
        let digits = v.trim_start_matches(['-', '+']);
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let numeric = !int.is_empty() && int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit());
        if !numeric {
            Err(BadValue::NotNumber(p, s))
        } else if int.trim_start_matches('0').len() > p - s || frac.len() > s {
            Err(BadValue::TooWide(p, s))
        } else {
            Ok(())
        }
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols() -> Vec<(String, String)> {
        [
            ("RiderID", "INTEGER"),
            ("RiderName", "VARCHAR"),
            ("Joined", "DATE"),
            ("RiderRating", "DECIMAL(3,1)"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
    }

    fn check(csv: &str) -> Result<u64, BadCsv> {
        validate(csv.as_bytes(), "s3://b/dims/x.csv", &cols())
    }

    #[test]
    fn good_file_counts_rows() {
        assert_eq!(
            check("RiderID,RiderName,Joined,RiderRating\n1,\"Lee, Ann\",2024-01-02,4.5\n2,Bo,2024-02-03,5.0\n"),
            Ok(2)
        );
    }

    #[test]
    fn each_defect_names_file_line_and_problem() {
        let h = "RiderID,RiderName,Joined,RiderRating\n";
        let cases = [
            (
                "RiderId,Name,Joined,RiderRating\n1,a,2024-01-02,4.5\n",
                "line 1: header is",
            ),
            (
                &format!("{h}1,a,2024-01-02,4.5\n2,b,2024-01-02\n") as &str,
                "line 3: 3 fields, expected 4",
            ),
            (
                &format!("{h}1,a,2024-13-02,4.5\n"),
                "line 2: column Joined: \"2024-13-02\" is not a date",
            ),
            (
                &format!("{h}1,a,2024-01-02,4.5\n2,\"b,2024-01-02,4.5\n3,c,2024-01-02,1.0\n"),
                "line 3: 2 fields, expected 4 (an unterminated quote?)",
            ),
            (
                &format!("{h}x,a,2024-01-02,4.5\n"),
                "column RiderID: \"x\" is not an integer",
            ),
            (&format!("{h}1,a,2024-01-02,145.5\n"), "does not fit DECIMAL(3,1)"),
        ];
        for (csv, want) in cases {
            let err = check(csv).unwrap_err().to_string();
            assert!(err.starts_with("s3://b/dims/x.csv"), "{err}");
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
        let missing = validate_file(Path::new("/nonexistent/x.csv"), "s3://b/dims/x.csv", &cols()).unwrap_err();
        assert_eq!(missing.to_string(), "s3://b/dims/x.csv: no such object");
    }
}
