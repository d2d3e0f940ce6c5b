//! Redshift function calls as DuckDB expressions: each is rebuilt as DuckDB
//! SQL from its (already rewritten) arguments and parsed back into a tree.

use sqlparser::ast::{
    DuplicateTreatment, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, OrderByExpr, Value,
};

use super::TranslateError;
use super::ast::{name_of, parse_expr};
use super::formats;

/// The macro a cast to CHAR(n) becomes: at most n characters, trailing
/// blanks dropped (they are not significant in a CHAR).
pub(super) const CHAR: &str = "courier_char";

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

/// Argument `i` as SQL, or `default` where the call leaves it out.
fn arg_or(c: &Call, i: usize, default: &str) -> String {
    c.args.get(i).map_or_else(|| default.to_string(), |e| e.to_string())
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

/// The argument counts of functions that DuckDB (or a macro of courier's)
/// runs as written, with Redshift's form for the error when a call has
/// another count.
const FORMS: &[(&str, &[usize], &str)] = &[
    ("add_months", &[2], "ADD_MONTHS({date | timestamp}, integer)"),
    ("months_between", &[2], "MONTHS_BETWEEN(date1, date2)"),
    ("next_day", &[2], "NEXT_DAY(date, 'day')"),
    ("date_cmp", &[2], "DATE_CMP(date1, date2)"),
    ("timestamp_cmp", &[2], "TIMESTAMP_CMP(timestamp1, timestamp2)"),
    ("date_cmp_timestamp", &[2], "DATE_CMP_TIMESTAMP(date, timestamp)"),
    ("timestamp_cmp_date", &[2], "TIMESTAMP_CMP_DATE(timestamp, date)"),
    ("interval_cmp", &[2], "INTERVAL_CMP(interval1, interval2)"),
    ("timeofday", &[0], "TIMEOFDAY()"),
    ("initcap", &[1], "INITCAP(string)"),
    ("replicate", &[2], "REPLICATE(string, integer)"),
    ("quote_ident", &[1], "QUOTE_IDENT(string)"),
    ("quote_literal", &[1], "QUOTE_LITERAL(string)"),
    ("dexp", &[1], "DEXP(number)"),
    ("dlog1", &[1], "DLOG1(number)"),
    ("dlog10", &[1], "DLOG10(number)"),
    ("strtol", &[2], "STRTOL(num_string, base)"),
    ("is_valid_json", &[1], "IS_VALID_JSON(json_string)"),
    ("is_valid_json_array", &[1], "IS_VALID_JSON_ARRAY(json_array)"),
    ("json_typeof", &[1], "JSON_TYPEOF(super_expression)"),
    ("len", &[1], "LEN(expression)"),
    ("charindex", &[2], "CHARINDEX(substring, string)"),
    ("getdate", &[0], "GETDATE()"),
    ("last_day", &[1], "LAST_DAY({date | timestamp})"),
    ("strpos", &[2], "STRPOS(string, substring)"),
    ("split_part", &[3], "SPLIT_PART(string, delimiter, position)"),
    (
        "translate",
        &[3],
        "TRANSLATE(expression, characters_to_replace, characters_to_substitute)",
    ),
    ("reverse", &[1], "REVERSE(expression)"),
    ("upper", &[1], "UPPER(string)"),
    ("lower", &[1], "LOWER(string)"),
    ("ascii", &[1], "ASCII(string)"),
    ("left", &[2], "LEFT(string, integer)"),
    ("right", &[2], "RIGHT(string, integer)"),
    ("replace", &[3], "REPLACE(string, old_chars, new_chars)"),
    ("ltrim", &[1, 2], "LTRIM(string [, trim_chars])"),
    ("rtrim", &[1, 2], "RTRIM(string [, trim_chars])"),
    ("median", &[1], "MEDIAN(median_expression)"),
    ("abs", &[1], "ABS(number)"),
    ("sqrt", &[1], "SQRT(expression)"),
    ("cbrt", &[1], "CBRT(number)"),
    ("ln", &[1], "LN(expression)"),
    ("exp", &[1], "EXP(expression)"),
    ("power", &[2], "POWER(base, exponent)"),
    ("pow", &[2], "POW(base, exponent)"),
    ("mod", &[2], "MOD(number1, number2)"),
    ("sign", &[1], "SIGN(number)"),
    ("pi", &[0], "PI()"),
    ("round", &[1, 2], "ROUND(number [, integer])"),
    ("trunc", &[1, 2], "TRUNC(number [, integer]) or TRUNC(timestamp)"),
    ("ceil", &[1], "CEIL(number)"),
    ("ceiling", &[1], "CEILING(number)"),
    ("floor", &[1], "FLOOR(number)"),
];

pub(super) fn function(f: &Function) -> Result<Option<Expr>, TranslateError> {
    let c = call(f)?;
    if let Some((_, counts, form)) = FORMS.iter().find(|(n, _, _)| *n == c.name) {
        arity(&c, |n| counts.contains(&n), form)?;
    }
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
            if part == "second" {
                // The seconds with their fraction.
                format!("(date_part('microsecond', CAST({} AS TIMESTAMP)) / 1000000.0)", a(1))
            } else if part == "microsecond" {
                // The fraction of the second only.
                format!("(date_part('microsecond', CAST({} AS TIMESTAMP)) % 1000000)", a(1))
            } else {
                format!("date_part('{part}', CAST({} AS TIMESTAMP))", a(1))
            }
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
            let time = |e: &Expr| {
                matches!(e, Expr::TypedString(t) if matches!(t.data_type, sqlparser::ast::DataType::Time(..)))
                    || matches!(
                        e,
                        Expr::Cast {
                            data_type: sqlparser::ast::DataType::Time(..),
                            ..
                        }
                    )
            };
            if time(c.args[2]) {
                // A TIME stays a TIME, wrapping at midnight.
                format!("(CAST({} AS TIME) + {n} * INTERVAL '1 {unit}')", a(2))
            } else if unit == "year" {
                // Redshift takes 29 February a year on to 1 March.
                format!(
                    "(CASE WHEN strftime(CAST({x} AS TIMESTAMP), '%m-%d') = '02-29' \
                     AND day(CAST({x} AS TIMESTAMP) + {n} * INTERVAL '1 year') = 28 \
                     THEN CAST({x} AS TIMESTAMP) + {n} * INTERVAL '1 year' + INTERVAL '1 day' \
                     ELSE CAST({x} AS TIMESTAMP) + {n} * INTERVAL '1 year' END)",
                    x = a(2)
                )
            } else {
                format!("(CAST({} AS TIMESTAMP) + {n} * INTERVAL '1 {unit}')", a(2))
            }
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
                    super::timezone::Zone::parse(z).map_err(|why| {
                        TranslateError::unsupported(format!("CONVERT_TIMEZONE zone '{z}'"), why.to_string())
                    })?;
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
            let invalid_ok = matches!(c.args.last(), Some(Expr::Value(v)) if matches!(v.value, Value::Boolean(true)));
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
            let value = format!(
                "(CASE WHEN ({0}) IS NULL THEN NULL ELSE COALESCE(json_extract_string(CAST({0} AS JSON), '{1}'), '') END)",
                a(0),
                path.replace('\'', "''")
            );
            null_if_invalid(&c, if invalid_ok { c.args.len() - 1 } else { usize::MAX }, &a(0), value)
        }
        "json_parse" => {
            arity(&c, |n| n == 1, "JSON_PARSE(json_string)")?;
            format!("json({})", a(0))
        }
        "json_serialize" => {
            arity(&c, |n| n == 1, "JSON_SERIALIZE(super_expression)")?;
            format!("CAST(to_json({}) AS VARCHAR)", a(0))
        }
        "trunc" if c.args.len() == 1 && temporal(c.args[0]) => {
            // TRUNC of a timestamp is its date.
            format!("CAST(date_trunc('day', CAST({} AS TIMESTAMP)) AS DATE)", a(0))
        }
        "date_trunc" if c.args.len() == 2 => {
            // Redshift's centuries and millennia start in years ending in 1.
            let Ok(part) = literal(&c, c.args[0], "date part") else {
                return Ok(None);
            };
            let span = match part.to_ascii_lowercase().as_str() {
                "century" | "centuries" | "c" | "cent" | "cents" => 100,
                "millennium" | "millennia" | "mil" | "mils" => 1000,
                _ => return Ok(None),
            };
            format!(
                "make_timestamp(((year(CAST({x} AS TIMESTAMP)) - 1) // {span}) * {span} + 1, 1, 1, 0, 0, 0)",
                x = a(1)
            )
        }
        "current_date" if c.args.is_empty() => {
            // DuckDB's CURRENT_DATE needs its time zone extension; the
            // session is UTC, as Redshift's is by default.
            "CAST(CAST(current_timestamp AS TIMESTAMP) AS DATE)".to_string()
        }
        "concat" => {
            // Redshift's CONCAT takes two arguments; either NULL gives NULL.
            arity(&c, |n| n == 2, "CONCAT(expression1, expression2)")?;
            format!("(CAST({} AS VARCHAR) || CAST({} AS VARCHAR))", a(0), a(1))
        }
        "chr" => {
            arity(&c, |n| n == 1, "CHR(number)")?;
            format!("(CASE WHEN ({0}) = 0 THEN NULL ELSE chr({0}) END)", a(0))
        }
        "octet_length" => {
            arity(&c, |n| n == 1, "OCTET_LENGTH(expression)")?;
            match c.args[0] {
                // A CHAR(n) is n bytes, blank-padded.
                Expr::Function(g) if name_of(&g.name) == CHAR => {
                    let width = call(g)?.args.get(1).map_or("1".to_string(), |e| e.to_string());
                    format!("(CASE WHEN ({}) IS NULL THEN NULL ELSE {width} END)", a(0))
                }
                _ => format!("octet_length(encode(CAST({} AS VARCHAR)))", a(0)),
            }
        }
        "repeat" => {
            arity(&c, |n| n == 2, "REPEAT(string, integer)")?;
            format!("repeat(CAST({} AS VARCHAR), CAST({} AS BIGINT))", a(0), a(1))
        }
        "lpad" | "rpad" => {
            arity(&c, |n| n == 2 || n == 3, "LPAD(string, length [, fill])")?;
            let fill = if c.args.len() == 3 { a(2) } else { "' '".into() };
            format!(
                "{}(CAST({} AS VARCHAR), CAST({} AS INTEGER), {fill})",
                c.name,
                a(0),
                a(1)
            )
        }
        "btrim" => {
            arity(&c, |n| n == 1 || n == 2, "BTRIM(string [, trim_chars])")?;
            let chars = if c.args.len() == 2 {
                format!(", {}", a(1))
            } else {
                String::new()
            };
            format!("trim(CAST({} AS VARCHAR){chars})", a(0))
        }
        "substring" | "substr" => {
            arity(&c, |n| n == 2 || n == 3, "SUBSTRING(string, start [, length])")?;
            let len = (c.args.len() == 3).then(|| a(2));
            substring(&a(0), &a(1), len.as_deref())
        }
        "regexp_count" => {
            arity(
                &c,
                |n| (2..=4).contains(&n),
                "REGEXP_COUNT(source, pattern [, position [, parameters]])",
            )?;
            let re = Regex::new(&c, c.args.get(3).copied(), c.args[1])?;
            let pos = arg_or(&c, 2, "1");
            format!(
                "(CASE WHEN ({s}) IS NULL THEN NULL ELSE array_length(regexp_extract_all(substr(CAST({s} AS VARCHAR), {pos}), {p})) END)",
                s = a(0),
                p = re.pattern
            )
        }
        "regexp_substr" => {
            arity(
                &c,
                |n| (2..=5).contains(&n),
                "REGEXP_SUBSTR(source, pattern [, position [, occurrence [, parameters]]])",
            )?;
            let re = Regex::new(&c, c.args.get(4).copied(), c.args[1])?;
            let pos = arg_or(&c, 2, "1");
            let occ = arg_or(&c, 3, "1");
            // No match is an empty string.
            format!(
                "(CASE WHEN ({s}) IS NULL THEN NULL ELSE coalesce(regexp_extract_all(substr(CAST({s} AS VARCHAR), {pos}), {p}, {g})[{occ}], '') END)",
                s = a(0),
                p = re.pattern,
                g = re.group
            )
        }
        "regexp_instr" => {
            arity(
                &c,
                |n| (2..=6).contains(&n),
                "REGEXP_INSTR(source, pattern [, position [, occurrence [, option [, parameters]]]])",
            )?;
            let re = Regex::new(&c, c.args.get(5).copied(), c.args[1])?;
            let pos = arg_or(&c, 2, "1");
            let occ = arg_or(&c, 3, "1");
            let option = arg_or(&c, 4, "0");
            format!(
                "courier_regexp_instr(CAST({} AS VARCHAR), {}, {pos}, {occ}, {option})",
                a(0),
                re.pattern
            )
        }
        "regexp_replace" => {
            arity(
                &c,
                |n| (2..=5).contains(&n),
                "REGEXP_REPLACE(source, pattern [, replacement [, position [, parameters]]])",
            )?;
            let re = Regex::new(&c, c.args.get(4).copied(), c.args[1])?;
            let with = c.args.get(2).map_or("''".to_string(), |e| e.to_string());
            // Every occurrence, from `position` on.
            match c.args.get(3) {
                Some(pos) => format!(
                    "(substr(CAST({s} AS VARCHAR), 1, ({pos}) - 1) || regexp_replace(substr(CAST({s} AS VARCHAR), {pos}), {p}, {with}, 'g'))",
                    s = a(0),
                    p = re.pattern
                ),
                None => format!("regexp_replace(CAST({} AS VARCHAR), {}, {with}, 'g')", a(0), re.pattern),
            }
        }
        "json_extract_array_element_text" => {
            arity(
                &c,
                |n| n == 2 || n == 3,
                "JSON_EXTRACT_ARRAY_ELEMENT_TEXT(json_array, position [, null_if_invalid])",
            )?;
            // Out of range (or negative) is NULL; a string element comes
            // back without its quotes, anything else as JSON text.
            let value = format!(
                "(CASE WHEN ({i}) < 0 THEN NULL ELSE json_extract_string(CAST({j} AS JSON), '$[' || CAST({i} AS VARCHAR) || ']') END)",
                j = a(0),
                i = a(1)
            );
            null_if_invalid(&c, 2, &a(0), value)
        }
        "json_array_length" => {
            arity(
                &c,
                |n| n == 1 || n == 2,
                "JSON_ARRAY_LENGTH(json_array [, null_if_invalid])",
            )?;
            let value = format!("CAST(json_array_length(CAST({} AS JSON)) AS INTEGER)", a(0));
            null_if_invalid(&c, 1, &a(0), value)
        }
        "ratio_to_report" => {
            arity(&c, |n| n == 1, "RATIO_TO_REPORT(expression) OVER ([PARTITION BY …])")?;
            let Some(o) = &f.over else {
                return Err(TranslateError::unsupported(
                    "RATIO_TO_REPORT without OVER",
                    "it is a window function: RATIO_TO_REPORT(x) OVER ([PARTITION BY …])",
                ));
            };
            format!("(CAST({x} AS DOUBLE) / sum({x}) OVER {o})", x = a(0))
        }
        "to_number" => {
            arity(&c, |n| n == 2, "TO_NUMBER(string, 'format')")?;
            let fmt = literal(&c, c.args[1], "format")?;
            formats::to_number(&a(0), fmt)?
        }
        "convert" if c.args.len() == 2 && matches!(c.args[0], Expr::Identifier(_)) => {
            let Expr::Identifier(t) = c.args[0] else {
                unreachable!("matched")
            };
            let ty = match t.value.to_ascii_lowercase().as_str() {
                "datetime" | "timestamp" => "TIMESTAMP".to_string(),
                "float" | "float8" | "double" => "DOUBLE".to_string(),
                "decimal" | "numeric" => "DECIMAL(18, 0)".to_string(),
                other => other.to_string(),
            };
            format!("CAST({} AS {ty})", a(1))
        }
        "pg_last_copy_id"
        | "pg_last_query_id"
        | "pg_last_copy_count"
        | "hll"
        | "hll_create_sketch"
        | "hll_cardinality"
        | "hll_combine"
        | "st_geomfromtext"
        | "st_distance"
        | "fnv_hash"
        | "func_sha1"
        | "from_varbyte"
        | "to_varbyte"
        | "has_table_privilege"
        | "current_user_id"
        | "pg_backend_pid"
        | "slice_num"
        | "crc32"
        | "split_to_array"
        | "subarray"
        | "array_flatten"
        | "get_array_length"
        | "soundex"
        | "difference" => {
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

/// `value`, or NULL for invalid JSON where the call's `null_if_invalid`
/// argument (at `at`) is true; invalid JSON is an error otherwise.
fn null_if_invalid(c: &Call, at: usize, json: &str, value: String) -> String {
    let on = matches!(c.args.get(at), Some(Expr::Value(v)) if matches!(v.value, Value::Boolean(true)));
    let otherwise = if on {
        "NULL".to_string()
    } else {
        // Redshift's error, naming the function.
        format!(
            "error('{}: JSON parsing error: ' || CAST({json} AS VARCHAR))",
            c.name.to_uppercase()
        )
    };
    format!(
        "(CASE WHEN ({json}) IS NULL THEN NULL WHEN {}({json}) THEN {value} ELSE {otherwise} END)",
        super::scalars::JSON_VALID
    )
}

/// Redshift's SUBSTRING: characters `start` to `start + length - 1`, where
/// positions before the first simply count as nothing (DuckDB would count a
/// negative start from the end).
pub(super) fn substring(s: &str, start: &str, len: Option<&str>) -> String {
    match len {
        Some(len) => format!(
            "substring(CAST({s} AS VARCHAR), greatest({start}, 1), greatest(({start}) + ({len}) - greatest({start}, 1), 0))"
        ),
        None => format!("substring(CAST({s} AS VARCHAR), greatest({start}, 1))"),
    }
}

/// A Redshift regex pattern and parameters as DuckDB (RE2) takes them.
struct Regex {
    /// The pattern expression (with `(?i)` in front for 'i').
    pattern: String,
    /// The capture group to return: 1 for 'e', else the whole match.
    group: u8,
}

impl Regex {
    fn new(c: &Call, params: Option<&Expr>, pattern: &Expr) -> Result<Self, TranslateError> {
        let params = match params {
            Some(p) => literal(c, p, "parameters")?.to_string(),
            None => String::new(),
        };
        let mut insensitive = false;
        let mut group = 0;
        for ch in params.chars() {
            match ch {
                'c' => insensitive = false,
                'i' => insensitive = true,
                'e' => group = 1,
                'p' => {}
                other => {
                    return Err(TranslateError::unsupported(
                        format!("{} parameter '{other}'", c.name.to_uppercase()),
                        "Redshift's parameters are c, i, p and e",
                    ));
                }
            }
        }
        if let Expr::Value(v) = pattern
            && let Value::SingleQuotedString(p) = &v.value
            && ["(?=", "(?!", "(?<=", "(?<!"].iter().any(|l| p.contains(l))
        {
            return Err(TranslateError::unsupported(
                format!("{} with a look-around (?= (?! in the pattern", c.name.to_uppercase()),
                "the embedded warehouse's regular expressions (RE2) have no look-around",
            ));
        }
        let pattern = if insensitive {
            format!("('(?i)' || {pattern})")
        } else {
            pattern.to_string()
        };
        Ok(Regex { pattern, group })
    }
}

/// Does `e` look like a date or timestamp (a typed literal, a cast, a
/// date function, a column named like one)? Used where Redshift's meaning
/// depends on the type (TRUNC); a wrong guess is an error, not an answer.
pub(super) fn temporal(e: &Expr) -> bool {
    use sqlparser::ast::DataType as D;
    let temporal_type = |t: &D| {
        matches!(t, D::Date | D::Timestamp(..) | D::Datetime(_))
            || matches!(t, D::Custom(n, _) if ["timestamptz", "datetime"].contains(&name_of(n).as_str()))
    };
    match e {
        Expr::TypedString(t) => temporal_type(&t.data_type),
        Expr::Cast { data_type, .. } => temporal_type(data_type),
        Expr::Nested(inner) => temporal(inner),
        Expr::BinaryOp { left, right, .. } => temporal(left) || temporal(right),
        Expr::Function(f) => match name_of(&f.name).as_str() {
            "getdate"
            | "sysdate"
            | "current_date"
            | "current_timestamp"
            | "dateadd"
            | "add_months"
            | "date_trunc"
            | "convert_timezone"
            | "courier_convert_timezone"
            | "to_timestamp"
            | "to_date"
            | "last_day"
            | "next_day"
            | "strptime"
            | "make_timestamp" => true,
            // MIN / MAX of a date is a date.
            "min" | "max" => call(f).is_ok_and(|c| c.args.first().is_some_and(|e| temporal(e))),
            _ => false,
        },
        Expr::Identifier(i) => temporal_name(&i.value),
        Expr::CompoundIdentifier(parts) => parts.last().is_some_and(|i| temporal_name(&i.value)),
        _ => false,
    }
}

fn temporal_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["date", "time", "timestamp"].iter().any(|s| n.ends_with(s)) || n.ends_with("_at")
}
