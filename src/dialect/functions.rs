//! Redshift function calls as DuckDB expressions: each is rebuilt as DuckDB
//! SQL from its (already rewritten) arguments and parsed back into a tree.

use sqlparser::ast::{
    DuplicateTreatment, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, OrderByExpr, Value,
};

use super::TranslateError;
use super::formats;
use super::rewrite::{name_of, parse_expr};

struct Call<'a> {
    name: String,
    distinct: bool,
    args: Vec<&'a Expr>,
}

fn call(f: &Function) -> Result<Call<'_>, TranslateError> {
    let name = name_of(&f.name);
    let (distinct, list) = match &f.args {
        FunctionArguments::List(l) => (
            matches!(l.duplicate_treatment, Some(DuplicateTreatment::Distinct)),
            l.args.as_slice(),
        ),
        _ => (false, &[][..]),
    };
    let mut args = Vec::new();
    for a in list {
        if let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = a {
            args.push(e);
        }
    }
    Ok(Call { name, distinct, args })
}

fn arity(c: &Call, ok: impl Fn(usize) -> bool, shape: &str) -> Result<(), TranslateError> {
    if ok(c.args.len()) {
        Ok(())
    } else {
        Err(TranslateError::unsupported(
            format!("{} with {} arguments", c.name.to_uppercase(), c.args.len()),
            format!("Redshift's form is {shape}"),
        ))
    }
}

/// A string literal argument, e.g. a format or a JSON path element.
fn literal<'a>(c: &Call, e: &'a Expr, what: &str) -> Result<&'a str, TranslateError> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Ok(s),
            _ => Err(TranslateError::unsupported(
                format!("{} {what}", c.name.to_uppercase()),
                "give it as a string literal",
            )),
        },
        _ => Err(TranslateError::unsupported(
            format!("{} with a computed {what}", c.name.to_uppercase()),
            "give it as a string literal",
        )),
    }
}

/// A date part given as `day`, `DAY` or `'day'`, normalised.
fn date_part(c: &Call, e: &Expr) -> Result<&'static str, TranslateError> {
    let raw = match e {
        Expr::Identifier(i) => i.value.to_ascii_lowercase(),
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => s.to_ascii_lowercase(),
            _ => String::new(),
        },
        _ => String::new(),
    };
    let part = match raw.as_str() {
        "millennium" | "millennia" | "mil" | "mils" => "millennium",
        "century" | "centuries" | "c" | "cent" | "cents" => "century",
        "decade" | "decades" | "dec" | "decs" => "decade",
        "year" | "years" | "y" | "yr" | "yrs" | "yy" | "yyyy" => "year",
        "quarter" | "quarters" | "qtr" | "qtrs" | "q" => "quarter",
        "month" | "months" | "mon" | "mons" | "mm" => "month",
        "week" | "weeks" | "w" | "wk" | "wks" => "week",
        "day" | "days" | "d" | "dd" => "day",
        "hour" | "hours" | "h" | "hr" | "hrs" | "hh" => "hour",
        "minute" | "minutes" | "m" | "min" | "mins" | "mi" => "minute",
        "second" | "seconds" | "s" | "sec" | "secs" => "second",
        "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" | "msecond" | "mseconds" | "millisec"
        | "millisecs" => "millisecond",
        "microsecond" | "microseconds" | "microsec" | "microsecs" | "usecond" | "useconds" | "us" | "usec"
        | "usecs" => "microsecond",
        _ => {
            return Err(TranslateError::unsupported(
                format!("{} date part {e}", c.name.to_uppercase()),
                "use year, quarter, month, week, day, hour, minute, second, millisecond or microsecond",
            ));
        }
    };
    Ok(part)
}

fn order_by_sql(items: &[OrderByExpr]) -> String {
    items.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(", ")
}

pub(super) fn function(f: &Function) -> Result<Option<Expr>, TranslateError> {
    let c = call(f)?;
    let a = |i: usize| c.args[i].to_string();
    let sql = match c.name.as_str() {
        "date_part" | "pgdate_part" => {
            // The date part may be written unquoted, as in DATEADD.
            arity(&c, |n| n == 2, "DATE_PART(datepart, {date | timestamp})")?;
            let part = match c.args[0] {
                Expr::Identifier(i) => Some(i.value.to_ascii_lowercase()),
                Expr::Value(v) => match &v.value {
                    Value::SingleQuotedString(s) => Some(s.to_ascii_lowercase()),
                    _ => None,
                },
                _ => None,
            };
            let part = match part.as_deref() {
                Some("dayofweek" | "dow" | "dw" | "weekday") => "dow",
                Some("dayofyear" | "doy" | "dy" | "yearday") => "doy",
                Some("epoch") => "epoch",
                _ => date_part(&c, c.args[0])?,
            };
            format!("date_part('{part}', CAST({} AS TIMESTAMP))", a(1))
        }
        "dateadd" => {
            arity(&c, |n| n == 3, "DATEADD(datepart, interval, timestamp)")?;
            let part = date_part(&c, c.args[0])?;
            let (n, unit) = match part {
                "quarter" => (format!("3 * ({})", a(1)), "month"),
                "week" => (format!("7 * ({})", a(1)), "day"),
                "decade" => (format!("10 * ({})", a(1)), "year"),
                "century" => (format!("100 * ({})", a(1)), "year"),
                "millennium" => (format!("1000 * ({})", a(1)), "year"),
                p => (format!("({})", a(1)), p),
            };
            format!("(CAST({} AS TIMESTAMP) + {n} * INTERVAL '1 {unit}')", a(2))
        }
        "datediff" => {
            arity(&c, |n| n == 3, "DATEDIFF(datepart, start, end)")?;
            let part = date_part(&c, c.args[0])?;
            if part == "week" {
                // Redshift counts the week boundaries (Mondays, as
                // DATE_TRUNC('week') has them) crossed between the two.
                format!(
                    "(date_diff('day', date_trunc('week', CAST({} AS TIMESTAMP)), \
                     date_trunc('week', CAST({} AS TIMESTAMP))) // 7)",
                    a(1),
                    a(2)
                )
            } else {
                format!(
                    "date_diff('{part}', CAST({} AS TIMESTAMP), CAST({} AS TIMESTAMP))",
                    a(1),
                    a(2)
                )
            }
        }
        "nvl2" => {
            arity(&c, |n| n == 3, "NVL2(expression, not_null_value, null_value)")?;
            format!("(CASE WHEN ({}) IS NOT NULL THEN {} ELSE {} END)", a(0), a(1), a(2))
        }
        "nvl" => {
            arity(&c, |n| n >= 2, "NVL(expression, expression, ...)")?;
            format!("COALESCE({})", (0..c.args.len()).map(a).collect::<Vec<_>>().join(", "))
        }
        "decode" => {
            arity(
                &c,
                |n| n >= 3,
                "DECODE(expression, search, result [, search, result]... [, default])",
            )?;
            let mut s = String::from("(CASE");
            let mut i = 1;
            while i + 1 < c.args.len() {
                // Redshift's DECODE matches NULL with NULL.
                s.push_str(&format!(
                    " WHEN ({}) IS NOT DISTINCT FROM ({}) THEN {}",
                    a(0),
                    a(i),
                    a(i + 1)
                ));
                i += 2;
            }
            if i < c.args.len() {
                s.push_str(&format!(" ELSE {}", a(i)));
            }
            s.push_str(" END)");
            s
        }
        "listagg" => {
            arity(
                &c,
                |n| n == 1 || n == 2,
                "LISTAGG([DISTINCT] expression [, delimiter]) WITHIN GROUP (ORDER BY …)",
            )?;
            let delim = if c.args.len() == 2 { a(1) } else { "''".into() };
            let distinct = if c.distinct { "DISTINCT " } else { "" };
            let order = if f.within_group.is_empty() {
                String::new()
            } else {
                format!(" ORDER BY {}", order_by_sql(&f.within_group))
            };
            // LISTAGG takes any type; string_agg wants text (kept as is under
            // DISTINCT, where DuckDB needs the ORDER BY to match the argument).
            let value = if c.distinct {
                a(0)
            } else {
                format!("CAST({} AS VARCHAR)", a(0))
            };
            format!("string_agg({distinct}{value}, {delim}{order}){}", over(f))
        }
        "percentile_cont" | "percentile_disc" | super::APPROX_PERCENTILE => {
            arity(
                &c,
                |n| n == 1,
                "PERCENTILE_CONT(fraction) WITHIN GROUP (ORDER BY expression)",
            )?;
            let [o] = f.within_group.as_slice() else {
                return Err(TranslateError::unsupported(
                    format!(
                        "{} without WITHIN GROUP (ORDER BY one expression)",
                        c.name.to_uppercase()
                    ),
                    "Redshift requires it",
                ));
            };
            let desc = matches!(o.options.sort, Some(sqlparser::ast::OrderBySort::Desc));
            let p = if desc { format!("1 - ({})", a(0)) } else { a(0) };
            // The approximate one (a t-digest) runs in bounded memory at
            // any number of rows; the exact ones keep every value.
            let func = match c.name.as_str() {
                "percentile_cont" => "quantile_cont",
                "percentile_disc" => "quantile_disc",
                _ => "approx_quantile",
            };
            format!("{func}({}, {p}){}", o.expr, over(f))
        }
        "avg" if f.within_group.is_empty() && f.null_treatment.is_none() => {
            // Redshift's AVG of integers is an integer (truncated); of
            // DECIMAL and floats, as DuckDB's. SUM / COUNT under the
            // integer division `install` sets gives both.
            arity(&c, |n| n == 1, "AVG([DISTINCT] expression)")?;
            let distinct = if c.distinct { "DISTINCT " } else { "" };
            let filter = f
                .filter
                .as_ref()
                .map_or(String::new(), |e| format!(" FILTER (WHERE {e})"));
            let tail = format!("{filter}{}", over(f));
            format!("(sum({distinct}{x}){tail} / count({distinct}{x}){tail})", x = a(0))
        }
        "median" if !f.within_group.is_empty() => {
            return Err(TranslateError::unsupported(
                "MEDIAN … WITHIN GROUP",
                "write MEDIAN(expression)",
            ));
        }
        "to_char" => {
            arity(&c, |n| n == 2, "TO_CHAR(timestamp, 'format')")?;
            let fmt = literal(&c, c.args[1], "format")?;
            formats::to_char(&a(0), fmt)?
        }
        "to_date" => {
            arity(&c, |n| n == 2, "TO_DATE(string, 'format')")?;
            let fmt = formats::strptime_format(literal(&c, c.args[1], "format")?)?;
            format!("CAST(strptime({}, '{}') AS DATE)", a(0), fmt.replace('\'', "''"))
        }
        "to_timestamp" => {
            arity(&c, |n| n == 2, "TO_TIMESTAMP(string, 'format')")?;
            let fmt = formats::strptime_format(literal(&c, c.args[1], "format")?)?;
            format!("strptime({}, '{}')", a(0), fmt.replace('\'', "''"))
        }
        "convert_timezone" => {
            arity(
                &c,
                |n| n == 2 || n == 3,
                "CONVERT_TIMEZONE(['source_zone',] 'target_zone', timestamp)",
            )?;
            let n = c.args.len();
            // Zones given as literals are checked now, so a typo names itself.
            for e in &c.args[..n - 1] {
                if let Ok(z) = literal(&c, e, "time zone") {
                    super::timezone::Zone::parse(z)
                        .map_err(|why| TranslateError::unsupported(format!("CONVERT_TIMEZONE zone '{z}'"), why))?;
                }
            }
            let src = if n == 3 { a(0) } else { "'UTC'".to_string() };
            format!(
                "{}({src}, {}, CAST({} AS TIMESTAMP))",
                super::timezone::FUNCTION,
                a(n - 2),
                a(n - 1)
            )
        }
        "json_extract_path_text" => {
            arity(
                &c,
                |n| n >= 2,
                "JSON_EXTRACT_PATH_TEXT(json_string, 'path_elem' [, ...] [, null_if_invalid])",
            )?;
            let mut path = String::from("$");
            for e in &c.args[1..] {
                if matches!(e, Expr::Value(v) if matches!(v.value, Value::Boolean(_))) {
                    continue; // null_if_invalid
                }
                let key = literal(&c, e, "path element")?;
                path.push_str(&format!(".\"{}\"", key.replace('"', "\\\"")));
            }
            // A path that is not there gives '' in Redshift; a NULL
            // document gives NULL.
            format!(
                "(CASE WHEN ({0}) IS NULL THEN NULL ELSE COALESCE(json_extract_string(CAST({0} AS JSON), '{1}'), '') END)",
                a(0),
                path.replace('\'', "''")
            )
        }
        "json_parse" => {
            arity(&c, |n| n == 1, "JSON_PARSE(json_string)")?;
            format!("json({})", a(0))
        }
        "json_serialize" => {
            arity(&c, |n| n == 1, "JSON_SERIALIZE(super_expression)")?;
            format!("CAST(to_json({}) AS VARCHAR)", a(0))
        }
        "ratio_to_report"
        | "pg_last_copy_id"
        | "pg_last_query_id"
        | "pg_last_copy_count"
        | "hll"
        | "hll_create_sketch"
        | "hll_cardinality"
        | "hll_combine"
        | "st_geomfromtext"
        | "st_distance"
        | "json_typeof"
        | "is_valid_json"
        | "is_valid_json_array"
        | "json_array_length"
        | "json_extract_array_element_text"
        | "fnv_hash"
        | "func_sha1"
        | "from_varbyte"
        | "to_varbyte"
        | "has_table_privilege"
        | "current_user_id"
        | "pg_backend_pid"
        | "slice_num"
        | "months_between"
        | "add_months"
        | "date_cmp"
        | "timestamp_cmp"
        | "interval_cmp"
        | "crc32"
        | "split_to_array"
        | "subarray"
        | "array_flatten"
        | "get_array_length" => {
            return Err(TranslateError::unsupported(
                c.name.to_uppercase(),
                "it has no DuckDB equivalent in courier yet",
            ));
        }
        _ => return Ok(None),
    };
    parse_expr(&sql).map(Some)
}

/// The `OVER (…)` of a window call, if any, to carry over.
fn over(f: &Function) -> String {
    f.over.as_ref().map_or(String::new(), |o| format!(" OVER {o}"))
}
