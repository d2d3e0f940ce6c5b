//! Scalar functions the translation calls where a DuckDB expression can't
//! give Redshift's answer: strict JSON validity (DuckDB's reader accepts
//! trailing commas, Redshift doesn't) and TO_CHAR with a numeric format.
//! Registered on each connection by [`super::install`].

use std::error::Error;

use duckdb::core::{DataChunkHandle, Inserter, LogicalTypeId};
use duckdb::ffi::duckdb_string_t;
use duckdb::types::DuckString;
use duckdb::vscalar::{ScalarFunctionSignature, VScalar};
use duckdb::vtab::arrow::WritableVector;

use super::TranslateError;

pub const JSON_VALID: &str = "courier_json_valid";
pub const TO_CHAR_NUMBER: &str = "courier_to_char_number";

/// `courier_json_valid(text VARCHAR) -> BOOLEAN`: text is one JSON value,
/// by the JSON standard (RFC 8259).
pub struct JsonValid;

impl VScalar for JsonValid {
    type State = ();

    fn invoke(_: &(), input: &mut DataChunkHandle, output: &mut dyn WritableVector) -> Result<(), Box<dyn Error>> {
        let n = input.len();
        let text = input.flat_vector(0);
        let values = unsafe { text.as_slice_with_len::<duckdb_string_t>(n) };
        let mut out = output.flat_vector();
        let mut nulls = Vec::new();
        let mut result = vec![false; n];
        for (i, v) in values.iter().enumerate() {
            if text.row_is_null(i as u64) {
                nulls.push(i);
                continue;
            }
            let mut v = *v;
            let s = DuckString::new(&mut v).as_str().to_string();
            result[i] = serde_json::from_str::<serde::de::IgnoredAny>(&s).is_ok();
        }
        unsafe { out.as_mut_slice_with_len::<bool>(n) }.copy_from_slice(&result);
        for i in nulls {
            out.set_null(i);
        }
        Ok(())
    }

    fn signatures() -> Vec<ScalarFunctionSignature> {
        vec![ScalarFunctionSignature::exact(
            vec![LogicalTypeId::Varchar.into()],
            LogicalTypeId::Boolean.into(),
        )]
    }
}

/// `courier_to_char_number(value DOUBLE, format VARCHAR) -> VARCHAR`.
pub struct ToCharNumber;

impl VScalar for ToCharNumber {
    type State = ();

    fn invoke(_: &(), input: &mut DataChunkHandle, output: &mut dyn WritableVector) -> Result<(), Box<dyn Error>> {
        let n = input.len();
        let (value, format) = (input.flat_vector(0), input.flat_vector(1));
        let values = unsafe { value.as_slice_with_len::<f64>(n) };
        let formats = unsafe { format.as_slice_with_len::<duckdb_string_t>(n) };
        let out = output.flat_vector();
        let mut out = out;
        for i in 0..n {
            if value.row_is_null(i as u64) || format.row_is_null(i as u64) {
                out.set_null(i);
                continue;
            }
            let mut f = formats[i];
            let f = DuckString::new(&mut f).as_str().to_string();
            let text = to_char(values[i], &f).map_err(|e| format!("TO_CHAR: {e}"))?;
            out.insert(i, text.as_str());
        }
        Ok(())
    }

    fn signatures() -> Vec<ScalarFunctionSignature> {
        vec![ScalarFunctionSignature::exact(
            vec![LogicalTypeId::Double.into(), LogicalTypeId::Varchar.into()],
            LogicalTypeId::Varchar.into(),
        )]
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Nine,
    Zero,
    Point,
    Group,
    Sign,
    Minus,
    Angle,
    Currency,
    Lit(char),
}

/// Why a numeric TO_CHAR format is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberFormatError {
    #[error("the format element {0} is not supported")]
    Unsupported(char),
    #[error("the format {0:?} has no digit position (9 or 0)")]
    NoDigit(String),
}

fn tokens(fmt: &str) -> Result<(bool, Vec<Tok>), NumberFormatError> {
    let upper: Vec<char> = fmt.to_ascii_uppercase().chars().collect();
    let raw: Vec<char> = fmt.chars().collect();
    let (mut fm, mut out, mut i) = (false, Vec::new(), 0);
    while i < upper.len() {
        let two: String = upper[i..(i + 2).min(upper.len())].iter().collect();
        let (t, len) = match (upper[i], two.as_str()) {
            (_, "FM") => {
                fm = true;
                i += 2;
                continue;
            }
            (_, "MI") => (Tok::Minus, 2),
            (_, "PR") => (Tok::Angle, 2),
            ('9', _) => (Tok::Nine, 1),
            ('0', _) => (Tok::Zero, 1),
            ('D' | '.', _) => (Tok::Point, 1),
            ('G' | ',', _) => (Tok::Group, 1),
            ('S', _) => (Tok::Sign, 1),
            ('L', _) => (Tok::Currency, 1),
            ('V' | 'E' | 'R', _) => return Err(NumberFormatError::Unsupported(raw[i])),
            _ => (Tok::Lit(raw[i]), 1),
        };
        out.push(t);
        i += len;
    }
    if !out.iter().any(|t| matches!(t, Tok::Nine | Tok::Zero)) {
        return Err(NumberFormatError::NoDigit(fmt.to_string()));
    }
    Ok((fm, out))
}

/// A number by a Redshift (PostgreSQL) numeric format: `9` a digit or a
/// blank, `0` a digit or a zero, `D`/`.` the point, `G`/`,` a separator,
/// `S` an anchored sign, `MI` a minus, `PR` angle brackets, `L` the
/// currency symbol, `FM` no padding; without a sign element one blank (or
/// `-`) goes left of the digits.
pub fn to_char(v: f64, fmt: &str) -> Result<String, NumberFormatError> {
    let (fm, toks) = tokens(fmt)?;
    let first_digit = toks
        .iter()
        .position(|t| matches!(t, Tok::Nine | Tok::Zero))
        .expect("checked");
    let last_digit = toks
        .iter()
        .rposition(|t| matches!(t, Tok::Nine | Tok::Zero))
        .expect("checked");
    let point = toks.iter().position(|t| *t == Tok::Point);
    let is_digit = |t: &Tok| matches!(t, Tok::Nine | Tok::Zero);
    let int_slots = toks[..point.unwrap_or(toks.len())]
        .iter()
        .filter(|t| is_digit(t))
        .count();
    // A point before the first digit position starts the body.
    let lead_point = point.is_some_and(|p| p < first_digit);
    let frac_slots = point.map_or(0, |p| toks[p..].iter().filter(|t| is_digit(t)).count());
    let negative = v < 0.0;
    let text = format!("{:.*}", frac_slots, v.abs());
    let (int_part, frac_part) = text.split_once('.').unwrap_or((&text, ""));
    let int_part = if int_part == "0" { "" } else { int_part };
    let overflow = int_part.len() > int_slots;
    // The body: digits, separators and the point, between the first and
    // the last digit position.
    let mut body = String::new();
    let int_digits: Vec<char> = int_part.chars().collect();
    let mut frac_digits = frac_part.chars();
    let mut slot = 0; // integer slot, from the left
    let mut started = false;
    let mut seen_point = lead_point;
    if lead_point {
        body.push('.');
    }
    for t in &toks[first_digit..=last_digit] {
        match t {
            Tok::Nine | Tok::Zero if !seen_point => {
                let from_right = int_slots - slot;
                slot += 1;
                if overflow {
                    body.push('#');
                } else if from_right >= 1 && from_right <= int_digits.len() {
                    body.push(int_digits[int_digits.len() - from_right]);
                    started = true;
                } else if *t == Tok::Zero || started {
                    body.push('0');
                    started = true;
                } else {
                    body.push(' ');
                }
            }
            Tok::Nine | Tok::Zero => body.push(if overflow {
                '#'
            } else {
                frac_digits.next().unwrap_or('0')
            }),
            Tok::Point => {
                seen_point = true;
                body.push('.')
            }
            Tok::Group => body.push(if started || overflow { ',' } else { ' ' }),
            Tok::Lit(c) => body.push(*c),
            Tok::Currency => body.push('$'),
            _ => {}
        }
    }
    if fm {
        body = body.trim_start().to_string();
        if point.is_some() && toks.iter().rev().find(|t| is_digit(t)) == Some(&Tok::Nine) {
            body = body.trim_end_matches('0').to_string();
        }
    }
    let lead_blanks = body.len() - body.trim_start().len();
    let (pad, digits) = body.split_at(lead_blanks);
    let sign_at = |tok: Tok| toks.iter().position(|t| *t == tok);
    let (before, after) = (&toks[..first_digit], &toks[last_digit + 1..]);
    let lit = |ts: &[Tok]| -> String {
        ts.iter()
            .filter_map(|t| match t {
                Tok::Lit(c) => Some(*c),
                Tok::Currency => Some('$'),
                _ => None,
            })
            .collect()
    };
    let mut out = lit(before);
    if let Some(at) = sign_at(Tok::Angle) {
        let _ = at;
        out.push_str(pad);
        out.push(if negative {
            '<'
        } else if fm {
            '\0'
        } else {
            ' '
        });
        out.push_str(digits);
        out.push(if negative {
            '>'
        } else if fm {
            '\0'
        } else {
            ' '
        });
        out.push_str(&lit(after));
    } else if let Some((at, sign, anchored)) = sign_at(Tok::Sign)
        .map(|at| (at, if negative { '-' } else { '+' }, true))
        .or_else(|| {
            sign_at(Tok::Minus).map(|at| {
                (
                    at,
                    if negative {
                        '-'
                    } else if fm {
                        '\0'
                    } else {
                        ' '
                    },
                    false,
                )
            })
        })
    {
        // S is anchored to the digits; MI stays where it is written.
        if at >= first_digit {
            out.push_str(pad);
            out.push_str(digits);
            out.push_str(&lit(after));
            out.push(sign);
        } else if anchored {
            out.push_str(pad);
            out.push(sign);
            out.push_str(digits);
            out.push_str(&lit(after));
        } else {
            out.push(sign);
            out.push_str(pad);
            out.push_str(digits);
            out.push_str(&lit(after));
        }
    } else {
        out.push_str(pad);
        if negative {
            out.push('-');
        } else if !fm {
            out.push(' ');
        }
        out.push_str(digits);
        out.push_str(&lit(after));
    }
    Ok(out.replace('\0', ""))
}

/// The SQL for TO_CHAR(number, 'format'), the format checked now.
pub fn to_char_sql(value_sql: &str, fmt: &str) -> Result<String, TranslateError> {
    tokens(fmt).map_err(|why| {
        TranslateError::unsupported(format!("TO_CHAR with the numeric format '{fmt}'"), why.to_string())
    })?;
    Ok(format!(
        "{TO_CHAR_NUMBER}(CAST({value_sql} AS DOUBLE), '{}')",
        fmt.replace('\'', "''")
    ))
}

#[cfg(test)]
mod tests {
    use super::to_char;

    #[test]
    fn numbers_are_formatted_as_redshift_documents() {
        for (v, f, want) in [
            (-125.8, "999D99S", "125.80-"),
            (-125.88, "$S999D99", "$-125.88"),
            (-125.88, "$999D99PR", "$<125.88>"),
            (618.80, "L99999D99", "$   618.80"),
            (125.0, "999", " 125"),
            (125.0, "FM999", "125"),
            (7.0, "000", " 007"),
            (1234567.891, "9,999,999.99", " 1,234,567.89"),
            (1234567.891, "9G999G999D99", " 1,234,567.89"),
            (-125.8, "MI999D99", "-125.80"),
            (-123.0, "FM9999PR", "<123>"),
            (12.5, "FM999D999", "12.5"),
            (12345.0, "999", " ###"),
        ] {
            assert_eq!(to_char(v, f).unwrap(), want, "{v} {f}");
        }
        assert!(to_char(1.0, "XYZ").is_err());
        // Odd values and formats never panic.
        for v in [f64::NAN, f64::INFINITY, -f64::INFINITY, 1e300, -0.0, 0.0, 0.004] {
            for f in [
                "9",
                "D9",
                ".9",
                "9D",
                "9PR",
                "S9",
                "9S",
                "MI9",
                "9MI",
                "FM9D99",
                "0G0",
                "L9",
                "9,9,9",
                "$9",
                "99\u{3000}9",
            ] {
                let _ = to_char(v, f);
            }
        }
    }
}
