//! Redshift datetime format strings (`YYYY-MM-DD HH24:MI:SS`, `Mon DD`,
//! `FMDay`) as DuckDB `strftime` / `strptime` patterns, keeping Redshift's
//! case rules (`MON` → `JAN`, `Mon` → `Jan`) and blank padding of `Month`
//! and `Day` (dropped under `FM`).

use super::TranslateError;

#[derive(Debug, PartialEq)]
enum Piece {
    /// A strftime pattern fragment.
    Pattern(String),
    /// A SQL expression (already built around the timestamp).
    Sql(String),
}

/// Case of a name element, taken from how the pattern was written.
fn case_of(written: &str) -> Option<&'static str> {
    if written.chars().all(|c| !c.is_ascii_lowercase()) {
        Some("upper")
    } else if written.chars().all(|c| !c.is_ascii_uppercase()) {
        Some("lower")
    } else {
        None // capitalised, as strftime gives it
    }
}

fn looks_numeric(fmt: &str) -> bool {
    fmt.chars().any(|c| c == '9' || c == '0')
        && fmt
            .chars()
            .all(|c| "90.,DGSLPRMI$ VEBCFL".contains(c.to_ascii_uppercase()))
}

/// Patterns in match order (longest first). (Redshift, strftime, kind)
const ELEMENTS: &[(&str, &str)] = &[
    ("HH24", "%H"),
    ("HH12", "%I"),
    ("YYYY", "%Y"),
    ("MONTH", "%B"),
    ("A.M.", "%p"),
    ("P.M.", "%p"),
    ("DDD", "%j"),
    ("DAY", "%A"),
    ("MON", "%b"),
    ("YY", "%y"),
    ("MM", "%m"),
    ("DD", "%d"),
    ("DY", "%a"),
    ("HH", "%I"),
    ("MI", "%M"),
    ("SS", "%S"),
    ("MS", "%g"),
    ("US", "%f"),
    ("AM", "%p"),
    ("PM", "%p"),
    ("IW", "%V"),
    ("Q", ""),
    ("D", ""),
];

fn tokens(fmt: &str) -> Result<Vec<(String, &'static str, bool)>, TranslateError> {
    // (text as written, strftime code or "" for special / "lit" for literal, fill-mode)
    let mut out = Vec::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    let mut fm = false;
    while i < chars.len() {
        if chars[i] == '"' {
            let end = chars[i + 1..]
                .iter()
                .position(|&c| c == '"')
                .map(|p| i + 1 + p)
                .ok_or_else(|| {
                    TranslateError::unsupported(format!("format '{fmt}'"), "it has an unterminated \"literal\"")
                })?;
            out.push((chars[i + 1..end].iter().collect(), "lit", false));
            i = end + 1;
            continue;
        }
        let rest: String = chars[i..].iter().collect();
        let upper = rest.to_ascii_uppercase();
        if upper.starts_with("FM") {
            fm = true;
            i += 2;
            continue;
        }
        if let Some((pat, code)) = ELEMENTS.iter().find(|(p, _)| upper.starts_with(p)) {
            let written: String = chars[i..i + pat.len()].iter().collect();
            out.push((written, code, fm));
            fm = false;
            i += pat.len();
            continue;
        }
        out.push((chars[i].to_string(), "lit", false));
        i += 1;
    }
    Ok(out)
}

/// `TO_CHAR(ts, fmt)` as a DuckDB expression over `ts_sql`.
pub fn to_char(ts_sql: &str, fmt: &str) -> Result<String, TranslateError> {
    if looks_numeric(fmt) {
        return super::scalars::to_char_sql(ts_sql, fmt);
    }
    let ts = format!("CAST({ts_sql} AS TIMESTAMP)");
    let mut pieces: Vec<Piece> = Vec::new();
    let push_pattern = |pieces: &mut Vec<Piece>, p: &str| match pieces.last_mut() {
        Some(Piece::Pattern(s)) => s.push_str(p),
        _ => pieces.push(Piece::Pattern(p.to_string())),
    };
    for (written, code, fm) in tokens(fmt)? {
        let upper = written.to_ascii_uppercase();
        match code {
            "lit" => push_pattern(&mut pieces, &written.replace('%', "%%")),
            "" if upper == "Q" => pieces.push(Piece::Sql(format!("CAST(quarter({ts}) AS VARCHAR)"))),
            "" => pieces.push(Piece::Sql(format!("CAST(dayofweek({ts}) + 1 AS VARCHAR)"))),
            "%B" | "%A" | "%b" | "%a" => {
                let mut e = format!("strftime({ts}, '{code}')");
                if let Some(f) = case_of(&written) {
                    e = format!("{f}({e})");
                }
                if !fm && (code == "%B" || code == "%A") {
                    e = format!("rpad({e}, 9, ' ')");
                }
                pieces.push(Piece::Sql(e));
            }
            "%p" => {
                let e = format!("strftime({ts}, '%p')");
                let e = if written.contains('.') {
                    format!("replace(replace({e}, 'AM', 'A.M.'), 'PM', 'P.M.')")
                } else {
                    e
                };
                pieces.push(Piece::Sql(if case_of(&written) == Some("lower") {
                    format!("lower({e})")
                } else {
                    e
                }));
            }
            code => {
                // FM drops leading zeros of numbers: %-d, %-m, %-H …
                let c = if fm && matches!(code, "%d" | "%m" | "%H" | "%I" | "%M" | "%S" | "%j") {
                    code.replacen('%', "%-", 1)
                } else {
                    code.to_string()
                };
                push_pattern(&mut pieces, &c);
            }
        }
    }
    let parts: Vec<String> = pieces
        .into_iter()
        .map(|p| match p {
            Piece::Pattern(s) => format!("strftime({ts}, '{}')", s.replace('\'', "''")),
            Piece::Sql(s) => s,
        })
        .collect();
    Ok(match parts.len() {
        0 => "''".to_string(),
        1 => parts.into_iter().next().expect("one"),
        _ => format!("({})", parts.join(" || ")),
    })
}

/// A Redshift format as a DuckDB `strptime` pattern (TO_DATE / TO_TIMESTAMP).
pub fn strptime_format(fmt: &str) -> Result<String, TranslateError> {
    let mut out = String::new();
    for (written, code, _) in tokens(fmt)? {
        match code {
            "lit" => out.push_str(&written.replace('%', "%%")),
            "" => {
                return Err(TranslateError::unsupported(
                    format!("the format element {written} in TO_DATE/TO_TIMESTAMP"),
                    "it can't be parsed back",
                ));
            }
            c => out.push_str(c),
        }
    }
    Ok(out)
}

/// TO_NUMBER(string, format): the digits of `string` read as the format's
/// number (its scale is the digits after `D` / `.`); a `-` anywhere, or the
/// angle brackets of `PR`, make it negative. A string without digits is an
/// error, as in Redshift.
pub fn to_number(s_sql: &str, fmt: &str) -> Result<String, TranslateError> {
    let upper = fmt.to_ascii_uppercase();
    if !upper.chars().any(|c| c == '9' || c == '0') {
        return Err(TranslateError::unsupported(
            format!("TO_NUMBER format '{fmt}'"),
            "a numeric format has 9 or 0 digit positions",
        ));
    }
    let scale = upper
        .find(['D', '.'])
        .map_or(0, |at| upper[at..].chars().filter(|c| *c == '9' || *c == '0').count());
    Ok(format!(
        "(CASE WHEN ({s}) IS NULL THEN NULL \
         WHEN NOT regexp_matches(CAST({s} AS VARCHAR), '[0-9]') \
         THEN error('TO_NUMBER: ' || CAST({s} AS VARCHAR) || ' does not match the format {f}') \
         ELSE (CASE WHEN regexp_matches(CAST({s} AS VARCHAR), '[-<]') THEN -1 ELSE 1 END) \
         * CAST(regexp_replace(CAST({s} AS VARCHAR), '[^0-9.]', '', 'g') AS DECIMAL(38, {scale})) END)",
        s = s_sql,
        f = fmt.replace('\'', "''")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_translate() {
        assert_eq!(strptime_format("YYYY-MM-DD HH24:MI:SS").unwrap(), "%Y-%m-%d %H:%M:%S");
        assert_eq!(
            to_char("x", "YYYY-MM-DD").unwrap(),
            "strftime(CAST(x AS TIMESTAMP), '%Y-%m-%d')"
        );
        let mon = to_char("x", "MON DD").unwrap();
        assert!(mon.contains("upper(strftime(CAST(x AS TIMESTAMP), '%b'))"), "{mon}");
        let day = to_char("x", "FMDay").unwrap();
        assert_eq!(day, "strftime(CAST(x AS TIMESTAMP), '%A')");
        assert!(to_char("x", "99V9").is_err());
    }
}
