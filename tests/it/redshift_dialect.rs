//! Redshift dashboard SQL, as analysts write it, run on the embedded DuckDB
//! warehouse through courier's translation, against the results Redshift's
//! documentation gives. Also counts how many run on plain DuckDB untranslated.
#![allow(clippy::unwrap_used)] // a failed unwrap in a test is a failed test

use courier::backend::embedded::warehouse::{SCHEMA_SQL, run_query};
use duckdb::Connection;

use crate::cases::fixture::{DATA, rows_match};
use crate::cases::functions;

/// (construct, Redshift SQL, expected rows; cells joined by `|`)
const CASES: &[(&str, &str, &[&str])] = &[
    ("GETDATE", "SELECT DATEDIFF(day, GETDATE(), GETDATE())", &["0"]),
    // GETDATE has no fractional seconds; it is a TIMESTAMP in the session's
    // time zone (UTC), so it agrees with the current UTC instant.
    (
        "GETDATE",
        "SELECT GETDATE() = DATE_TRUNC('second', GETDATE()), \
         ABS(DATEDIFF(second, GETDATE(), CONVERT_TIMEZONE('UTC', SYSDATE))) <= 1",
        &["true|true"],
    ),
    (
        "GETDATE",
        "SELECT COUNT(*) FROM food_delivery_datamart.factOrders WHERE OrderDate < GETDATE()",
        &["5"],
    ),
    (
        "SYSDATE",
        "SELECT COUNT(*) FROM food_delivery_datamart.factOrders WHERE OrderDate <= SYSDATE",
        &["5"],
    ),
    (
        "SYSDATE",
        "SELECT DATEDIFF(year, '2020-01-01', SYSDATE) >= 6",
        &["true"],
    ),
    (
        "DATEADD",
        "SELECT DATEADD(day, 1, '2026-01-31')",
        &["2026-02-01 00:00:00"],
    ),
    (
        "DATEADD",
        "SELECT DATEADD(month, 1, '2026-01-31')",
        &["2026-02-28 00:00:00"],
    ),
    (
        "DATEADD",
        "SELECT DATEADD(month, 1, '2008-01-31')",
        &["2008-02-29 00:00:00"],
    ),
    (
        "DATEADD",
        "SELECT OrderID, DATEADD(minute, DeliveryTime, OrderDate) AS eta FROM food_delivery_datamart.factOrders WHERE OrderID IN (101, 104) ORDER BY 1",
        &["101|2026-02-01 00:00:00", "104|2026-03-01 09:05:09"],
    ),
    (
        "DATEADD",
        "SELECT DATEADD(qtr, 1, '2026-11-15')",
        &["2027-02-15 00:00:00"],
    ),
    (
        "DATEADD",
        "SELECT DATEADD(week, -2, '2026-03-01 10:00:00')",
        &["2026-02-15 10:00:00"],
    ),
    ("DATEDIFF", "SELECT DATEDIFF(month, '2026-01-31', '2026-02-01')", &["1"]),
    ("DATEDIFF", "SELECT DATEDIFF(year, '2025-12-31', '2026-01-01')", &["1"]),
    (
        "DATEDIFF",
        "SELECT DATEDIFF(hour, '2026-01-01 10:59:00', '2026-01-01 11:00:00')",
        &["1"],
    ),
    ("DATEDIFF", "SELECT DATEDIFF(qtr, '2026-03-31', '2026-04-01')", &["1"]),
    // Week boundaries crossed (weeks start on Monday), not whole weeks.
    ("DATEDIFF", "SELECT DATEDIFF(week, '2009-01-01', '2009-12-31')", &["52"]),
    ("DATEDIFF", "SELECT DATEDIFF(week, '2026-02-01', '2026-02-02')", &["1"]),
    (
        "DATEDIFF",
        "SELECT DATEDIFF(w, '2026-02-02', '2026-02-08 23:59:59')",
        &["0"],
    ),
    (
        "DATEDIFF",
        "SELECT OrderID, DATEDIFF(week, '2026-01-01', OrderDate) AS week_no FROM food_delivery_datamart.factOrders \
         WHERE OrderStatus = 'Delivered' ORDER BY OrderID",
        &["101|4", "103|6"],
    ),
    (
        "DATEDIFF",
        "SELECT o.OrderID, DATEDIFF(day, c.RegistrationDate, o.OrderDate) FROM food_delivery_datamart.factOrders o \
         JOIN food_delivery_datamart.dimCustomers c ON c.CustomerID = o.CustomerID WHERE o.OrderID = 101",
        &["101|747"],
    ),
    // DATE_PART with an unquoted date part (Sunday is day 0; w is the ISO week).
    (
        "DATE_PART",
        "SELECT DATE_PART(dow, OrderDate) AS dow, COUNT(*) FROM food_delivery_datamart.factOrders GROUP BY 1 ORDER BY 1",
        &["0|3", "6|2"],
    ),
    (
        "DATE_PART",
        "SELECT DATE_PART(w, OrderDate), DATE_PART(qtr, '2026-11-15'), DATE_PART(hour, OrderDate) \
         FROM food_delivery_datamart.factOrders WHERE OrderID = 105",
        &["11|4|18"],
    ),
    ("DATE_PART", "SELECT DATE_PART(minute, '2009-01-01 02:08:01')", &["8"]),
    (
        "CHARINDEX",
        "SELECT CustomerName, CHARINDEX(' ', CustomerName) FROM food_delivery_datamart.dimCustomers ORDER BY CustomerID",
        &["Ann Lee|4", "Bo Kim|3", "Cy Dee|3"],
    ),
    (
        "CHARINDEX",
        "SELECT CustomerID FROM food_delivery_datamart.dimCustomers WHERE CHARINDEX('@', NVL(CustomerEmail, '')) = 0",
        &["2"],
    ),
    (
        "NVL",
        "SELECT OrderID, NVL(TipAmount, 0) FROM food_delivery_datamart.factOrders WHERE OrderID = 102",
        &["102|0"],
    ),
    (
        "NVL",
        "SELECT NVL(CustomerEmail, 'no email') FROM food_delivery_datamart.dimCustomers ORDER BY CustomerID",
        &["ann@example.com", "no email", "cy@example.com"],
    ),
    (
        "NVL2",
        "SELECT CustomerID, NVL2(CustomerEmail, 'has email', 'missing') FROM food_delivery_datamart.dimCustomers ORDER BY 1",
        &["1|has email", "2|missing", "3|has email"],
    ),
    (
        "NVL2",
        "SELECT SUM(NVL2(TipAmount, 1, 0)) FROM food_delivery_datamart.factOrders",
        &["4"],
    ),
    (
        "DECODE",
        "SELECT OrderID, DECODE(OrderStatus, 'Delivered', 'done', 'Cancelled', 'void', 'open') \
         FROM food_delivery_datamart.factOrders ORDER BY 1",
        &["101|done", "102|void", "103|done", "104|open", "105|open"],
    ),
    (
        "DECODE",
        "SELECT RestaurantName, DECODE(CuisineType, 'Indian', 1, 'Italian', 2) FROM food_delivery_datamart.dimRestaurants ORDER BY RestaurantID",
        &["Spice House|1", "Pasta Bar|2", "Taco Town|"],
    ),
    (
        "TOP",
        "SELECT TOP 2 OrderID FROM food_delivery_datamart.factOrders ORDER BY OrderValue DESC",
        &["104", "101"],
    ),
    (
        "TOP",
        "SELECT TOP 1 r.RestaurantName, SUM(o.OrderValue) AS revenue FROM food_delivery_datamart.factOrders o \
         JOIN food_delivery_datamart.dimRestaurants r ON r.RestaurantID = o.RestaurantID GROUP BY 1 ORDER BY 2 DESC",
        &["Taco Town|80.25"],
    ),
    (
        "LISTAGG",
        "SELECT LISTAGG(RestaurantName, ', ') WITHIN GROUP (ORDER BY RestaurantName) FROM food_delivery_datamart.dimRestaurants",
        &["Pasta Bar, Spice House, Taco Town"],
    ),
    (
        "LISTAGG",
        "SELECT CustomerID, LISTAGG(OrderID, ',') WITHIN GROUP (ORDER BY OrderID DESC) FROM food_delivery_datamart.factOrders \
         GROUP BY CustomerID ORDER BY 1",
        &["1|103,101", "2|105,102", "3|104"],
    ),
    (
        "LISTAGG DISTINCT",
        "SELECT LISTAGG(DISTINCT OrderStatus, '|') WITHIN GROUP (ORDER BY OrderStatus) FROM food_delivery_datamart.factOrders",
        &["Cancelled|Delivered|On the way|Processing"],
    ),
    (
        "LISTAGG DISTINCT",
        "SELECT LISTAGG(DISTINCT RiderVehicleType) WITHIN GROUP (ORDER BY RiderVehicleType) FROM food_delivery_datamart.dimDeliveryRiders",
        &["BikeCar"],
    ),
    (
        "TO_CHAR",
        "SELECT TO_CHAR(OrderDate, 'YYYY-MM-DD HH24:MI:SS') FROM food_delivery_datamart.factOrders WHERE OrderID = 104",
        &["2026-03-01 08:05:09"],
    ),
    (
        "TO_CHAR",
        "SELECT TO_CHAR(OrderDate, 'Mon DD, YYYY') FROM food_delivery_datamart.factOrders WHERE OrderID = 103",
        &["Feb 14, 2026"],
    ),
    (
        "TO_CHAR",
        "SELECT TO_CHAR(OrderDate, 'MON') FROM food_delivery_datamart.factOrders WHERE OrderID = 101",
        &["JAN"],
    ),
    (
        "TO_CHAR",
        "SELECT TO_CHAR(OrderDate, 'FMDay') FROM food_delivery_datamart.factOrders WHERE OrderID = 103",
        &["Saturday"],
    ),
    (
        "TO_CHAR",
        "SELECT TO_CHAR(OrderDate, 'Day') || '|' FROM food_delivery_datamart.factOrders WHERE OrderID = 103",
        &["Saturday |"],
    ),
    (
        "TO_CHAR",
        "SELECT TO_CHAR(OrderDate, 'HH12:MI AM') FROM food_delivery_datamart.factOrders WHERE OrderID = 105",
        &["06:45 PM"],
    ),
    (
        "TO_CHAR",
        "SELECT TO_CHAR(DATE '2026-07-04', 'YYYY\"Q\"Q')",
        &["2026Q3"],
    ),
    ("TO_DATE", "SELECT TO_DATE('31/01/2026', 'DD/MM/YYYY')", &["2026-01-31"]),
    (
        "TO_DATE",
        "SELECT COUNT(*) FROM food_delivery_datamart.factOrders WHERE OrderDate >= TO_DATE('20260201', 'YYYYMMDD')",
        &["4"],
    ),
    (
        "TO_TIMESTAMP",
        "SELECT TO_TIMESTAMP('2026-03-01 08:05:09', 'YYYY-MM-DD HH24:MI:SS')",
        &["2026-03-01 08:05:09"],
    ),
    (
        "TO_TIMESTAMP",
        "SELECT OrderID FROM food_delivery_datamart.factOrders WHERE OrderDate = TO_TIMESTAMP('01.03.2026 08:05:09', 'DD.MM.YYYY HH24:MI:SS')",
        &["104"],
    ),
    (
        "CONVERT_TIMEZONE",
        "SELECT CONVERT_TIMEZONE('UTC', 'UTC', '2026-03-01 08:05:09')",
        &["2026-03-01 08:05:09"],
    ),
    (
        "CONVERT_TIMEZONE",
        "SELECT CONVERT_TIMEZONE('GMT', OrderDate) FROM food_delivery_datamart.factOrders WHERE OrderID = 104",
        &["2026-03-01 08:05:09"],
    ),
    (
        "CONVERT_TIMEZONE",
        "SELECT CONVERT_TIMEZONE('America/New_York', '2008-03-05 12:25:29')",
        &["2008-03-05 07:25:29"],
    ),
    (
        "CONVERT_TIMEZONE",
        "SELECT CONVERT_TIMEZONE('EST', 'PST', '2008-03-05 12:25:29')",
        &["2008-03-05 09:25:29"],
    ),
    (
        "CONVERT_TIMEZONE",
        "SELECT OrderID, CONVERT_TIMEZONE('UTC', 'Asia/Kolkata', OrderDate) FROM food_delivery_datamart.factOrders WHERE OrderID = 101",
        &["101|2026-02-01 05:00:00"],
    ),
    (
        "APPROXIMATE COUNT",
        "SELECT APPROXIMATE COUNT(DISTINCT CustomerID) FROM food_delivery_datamart.factOrders",
        &["3"],
    ),
    (
        "APPROXIMATE COUNT",
        "SELECT OrderStatus, APPROXIMATE COUNT(DISTINCT RiderID) FROM food_delivery_datamart.factOrders GROUP BY 1 ORDER BY 1",
        &["Cancelled|1", "Delivered|1", "On the way|1", "Processing|1"],
    ),
    (
        "MEDIAN",
        "SELECT MEDIAN(OrderValue) FROM food_delivery_datamart.factOrders",
        &["35.5"],
    ),
    (
        "MEDIAN",
        "SELECT MEDIAN(DeliveryTime) FROM food_delivery_datamart.factOrders WHERE OrderStatus = 'Delivered'",
        &["25"],
    ),
    (
        "PERCENTILE_CONT",
        "SELECT PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY OrderValue) FROM food_delivery_datamart.factOrders",
        &["35.5"],
    ),
    (
        "PERCENTILE_CONT",
        "SELECT PERCENTILE_CONT(0.25) WITHIN GROUP (ORDER BY DeliveryTime) FROM food_delivery_datamart.factOrders",
        &["20"],
    ),
    (
        "PERCENTILE_CONT",
        "SELECT PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY DeliveryTime DESC) FROM food_delivery_datamart.factOrders",
        &["17"],
    ),
    // Approximate (bounded memory); on a handful of rows it is exact.
    (
        "APPROXIMATE PERCENTILE_DISC",
        "SELECT APPROXIMATE PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY DeliveryTime) FROM food_delivery_datamart.factOrders",
        &["30"],
    ),
    (
        "APPROXIMATE PERCENTILE_DISC",
        "SELECT OrderStatus, APPROXIMATE  PERCENTILE_DISC(0.9) WITHIN GROUP (ORDER BY OrderValue) \
         FROM food_delivery_datamart.factOrders GROUP BY 1 ORDER BY 1",
        &[
            "Cancelled|20.00",
            "Delivered|50.00",
            "On the way|80.25",
            "Processing|10.00",
        ],
    ),
    // AVG of an integer column is an integer in Redshift (truncated); of a
    // DECIMAL column it keeps the fraction.
    (
        "AVG",
        "SELECT AVG(DeliveryTime) FROM food_delivery_datamart.factOrders WHERE OrderStatus IN ('Delivered', 'Cancelled')",
        &["31"],
    ),
    (
        "AVG",
        "SELECT r.CuisineType, AVG(o.DeliveryTime), AVG(o.OrderValue) FROM food_delivery_datamart.factOrders o \
         JOIN food_delivery_datamart.dimRestaurants r ON r.RestaurantID = o.RestaurantID GROUP BY 1 ORDER BY 1",
        &["Indian|37|35", "Italian|17|22.75", "Mexican|60|80.25"],
    ),
    // Integer / integer is integer division.
    ("integer division", "SELECT 7 / 2, -7 / 2, 7.0 / 2", &["3|-3|3.5"]),
    (
        "integer division",
        "SELECT SUM(DeliveryTime) / COUNT(*) FROM food_delivery_datamart.factOrders WHERE RiderID = 1",
        &["21"],
    ),
    (
        "::VARCHAR(n)",
        "SELECT OrderValue::VARCHAR(10) FROM food_delivery_datamart.factOrders WHERE OrderID = 103",
        &["35.50"],
    ),
    (
        "::VARCHAR(n)",
        "SELECT CAST(OrderID AS VARCHAR(3)) || '-' || OrderStatus FROM food_delivery_datamart.factOrders WHERE OrderID = 105",
        &["105-Processing"],
    ),
    // A cast to a shorter VARCHAR truncates.
    (
        "::VARCHAR(n)",
        "SELECT RestaurantName::VARCHAR(5) FROM food_delivery_datamart.dimRestaurants ORDER BY RestaurantID",
        &["Spice", "Pasta", "Taco "],
    ),
    (
        "::DECIMAL(p,s)",
        "SELECT OrderValue::DECIMAL(10,1) FROM food_delivery_datamart.factOrders WHERE OrderID = 104",
        &["80.3"],
    ),
    (
        "::DECIMAL(p,s)",
        "SELECT SUM(TipAmount)::DECIMAL(12,2) FROM food_delivery_datamart.factOrders",
        &["17.00"],
    ),
    (
        "::TIMESTAMPTZ",
        "SELECT CAST('2026-03-01 08:05:09+00'::TIMESTAMPTZ AS DATE)",
        &["2026-03-01"],
    ),
    (
        "::TIMESTAMPTZ",
        "SELECT COUNT(*) FROM food_delivery_datamart.factOrders WHERE OrderDate::TIMESTAMPTZ IS NOT NULL",
        &["5"],
    ),
    (
        "::SUPER",
        "SELECT CustomerName::SUPER FROM food_delivery_datamart.dimCustomers WHERE CustomerID = 1",
        &["\"Ann Lee\""],
    ),
    (
        "::SUPER",
        "SELECT JSON_SERIALIZE(JSON_PARSE('{\"rider\": {\"name\": \"Raj\"}}'))",
        &["{\"rider\":{\"name\":\"Raj\"}}"],
    ),
    (
        "::SUPER",
        "SELECT JSON_PARSE('[10001, 10002, \"abc\"]')",
        &["[10001,10002,\"abc\"]"],
    ),
    (
        "JSON_EXTRACT_PATH_TEXT",
        "SELECT JSON_EXTRACT_PATH_TEXT('{\"f2\":{\"f3\":1},\"f4\":{\"f5\":99,\"f6\":\"star\"}}', 'f4', 'f6')",
        &["star"],
    ),
    (
        "JSON_EXTRACT_PATH_TEXT",
        "SELECT JSON_EXTRACT_PATH_TEXT('{\"f2\":{\"f3\":1},\"f4\":{\"f5\":99,\"f6\":\"star\"}}', 'f2')",
        &["{\"f3\":1}"],
    ),
    (
        "JSON_EXTRACT_PATH_TEXT",
        "SELECT JSON_EXTRACT_PATH_TEXT('{\"a\":1}', 'missing')",
        &[""],
    ),
    (
        "identifiers",
        "SELECT orderid FROM FOOD_DELIVERY_DATAMART.FACTORDERS WHERE ORDERID = 101",
        &["101"],
    ),
    (
        "identifiers",
        "SELECT \"orderid\" FROM food_delivery_datamart.\"factorders\" WHERE OrderId = 102",
        &["102"],
    ),
    // A quoted alias is folded too, so the lower-case reference finds it.
    (
        "identifiers",
        "SELECT t.\"RestaurantID\", SUM(t.OrderValue) AS \"Revenue\" FROM food_delivery_datamart.factOrders AS T \
         GROUP BY 1 HAVING SUM(t.OrderValue) > 50 ORDER BY revenue DESC",
        &["3|80.25", "1|70.00"],
    ),
];

fn setup() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("CREATE SCHEMA food_delivery_datamart; SET search_path = 'food_delivery_datamart,main';")
        .unwrap();
    for (_, sql) in SCHEMA_SQL {
        conn.execute_batch(sql).unwrap();
    }
    conn.execute_batch(DATA).unwrap();
    conn
}

/// Rows of SQL run untranslated on plain DuckDB, as text the way the
/// warehouse renders them; None if DuckDB rejects it.
fn raw_rows(conn: &Connection, sql: &str) -> Option<Vec<Vec<Option<String>>>> {
    use duckdb::arrow::util::display::{ArrayFormatter, FormatOptions};
    let mut stmt = conn.prepare(sql).ok()?;
    let batches: Vec<_> = stmt.query_arrow([]).ok()?.collect();
    let options = FormatOptions::default()
        .with_null("")
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"));
    let mut rows = Vec::new();
    for batch in &batches {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<_, _>>()
            .ok()?;
        for r in 0..batch.num_rows() {
            let row = batch.columns().iter().zip(&formatters);
            rows.push(
                row.map(|(c, f)| (!c.is_null(r)).then(|| f.value(r).to_string()))
                    .collect(),
            );
        }
    }
    Some(rows)
}

#[test]
fn redshift_queries_give_redshift_results_on_the_embedded_warehouse() {
    let conn = setup();
    let raw = conn.try_clone().unwrap();
    raw.execute_batch("SET search_path = 'food_delivery_datamart,main';")
        .unwrap();
    courier::dialect::install(&conn).unwrap();
    let mut constructs = std::collections::BTreeMap::new();
    let (mut before, mut before_right, mut after, mut failures) = (0, 0, 0, Vec::new());
    for (construct, sql, want) in CASES {
        *constructs.entry(*construct).or_insert(0) += 1;
        // Before: plain DuckDB, no translation, no macros: does it even run,
        // and does it give Redshift's result?
        let raw_rows = raw_rows(&raw, sql);
        if matches!(&raw_rows, Some(rows) if rows_match(rows, want)) {
            before_right += 1;
        }
        match run_query(&conn, sql) {
            Ok(rs) if rows_match(&rs.rows, want) => after += 1,
            Ok(rs) => failures.push(format!("{construct}: {sql}\n  want {want:?}\n  got  {:?}", rs.rows)),
            Err(e) => failures.push(format!("{construct}: {sql}\n  error: {e}")),
        }
        if raw_rows.is_some() {
            before += 1;
        }
    }
    // before: plain DuckDB ran the query at all (whatever it returned);
    // after: translated, it ran and gave Redshift's documented result.
    println!("before: {before}/{n}, after: {after}/{n}", n = CASES.len());
    println!(
        "(untranslated, {before_right}/{n} gave Redshift's result)",
        n = CASES.len()
    );
    assert!(CASES.len() >= 40);
    for (c, n) in &constructs {
        assert!(*n >= 2, "{c} is covered {n} time(s)");
    }
    assert_eq!(after, CASES.len(), "{}", failures.join("\n"));
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

/// Redshift returns result column names folded to lower case, quoted or not.
#[test]
fn result_columns_come_back_in_lower_case() {
    let conn = setup();
    courier::dialect::install(&conn).unwrap();
    let rs = run_query(
        &conn,
        "SELECT OrderID, CustomerID AS \"CustomerKey\", NVL(TipAmount, 0) AS Tip \
         FROM food_delivery_datamart.factOrders WHERE OrderID = 101",
    )
    .unwrap();
    assert_eq!(rs.columns, ["orderid", "customerkey", "tip"]);
    // Unaliased calls are named after the function, as Redshift names them.
    let rs = run_query(
        &conn,
        "SELECT o.OrderStatus, COUNT(*), MEDIAN(o.DeliveryTime), NVL(MAX(o.TipAmount), 0), \
         LISTAGG(o.OrderID, ',') WITHIN GROUP (ORDER BY o.OrderID), DATEADD(day, 1, MIN(o.OrderDate)), \
         DATE_PART(dow, MIN(o.OrderDate)) \
         FROM food_delivery_datamart.factOrders o GROUP BY o.OrderStatus ORDER BY 1",
    )
    .unwrap();
    assert_eq!(
        rs.columns,
        [
            "orderstatus",
            "count",
            "median",
            "nvl",
            "listagg",
            "date_add",
            "pgdate_part"
        ]
    );
}

#[test]
fn untranslatable_sql_names_the_construct() {
    let conn = setup();
    courier::dialect::install(&conn).unwrap();
    for (sql, want) in [
        (
            "SELECT CONVERT_TIMEZONE('Mars/Olympus', OrderDate) FROM food_delivery_datamart.factOrders",
            "CONVERT_TIMEZONE zone 'Mars/Olympus'",
        ),
        (
            "SELECT TO_CHAR(OrderValue, '99V9') FROM food_delivery_datamart.factOrders",
            "TO_CHAR with the numeric format '99V9'",
        ),
        (
            "SELECT DATEADD(fortnight, 1, OrderDate) FROM food_delivery_datamart.factOrders",
            "DATEADD date part fortnight",
        ),
        (
            "SELECT SOUNDEX(CustomerName) FROM food_delivery_datamart.dimCustomers",
            "SOUNDEX is not supported",
        ),
        (
            "SELECT TOP 10 PERCENT OrderID FROM food_delivery_datamart.factOrders",
            "TOP",
        ),
    ] {
        let e = run_query(&conn, sql).unwrap_err().to_string();
        assert!(e.contains(want), "{sql}\n  -> {e}");
        assert!(!e.contains("Parser Error"), "a raw DuckDB parse error leaked: {e}");
    }
}

/// Redshift's documented function answers (tests/it/cases/functions.rs),
/// family by family, on the embedded warehouse.
#[test]
fn redshift_functions_give_their_documented_answers_on_the_embedded_warehouse() {
    let conn = setup();
    courier::dialect::install(&conn).unwrap();
    let mut per_function: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    let mut failures = Vec::new();
    for (function, sql, want) in functions::CASES {
        let e = per_function.entry(*function).or_default();
        e.1 += 1;
        match run_query(&conn, sql) {
            Ok(rs) if rows_match(&rs.rows, want) => e.0 += 1,
            Ok(rs) => failures.push(format!("{function}: {sql}\n  want {want:?}\n  got  {:?}", rs.rows)),
            Err(e) => failures.push(format!("{function}: {sql}\n  error: {e}")),
        }
    }
    let passed: usize = per_function.values().map(|(p, _)| p).sum();
    println!(
        "{passed}/{} documented answers given, over {} functions",
        functions::CASES.len(),
        per_function.len()
    );
    assert!(functions::CASES.len() >= 150);
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// What can't be given Redshift's meaning is refused, naming it.
#[test]
fn documented_queries_the_embedded_warehouse_cannot_answer_alike_are_refused_by_name() {
    let conn = setup();
    courier::dialect::install(&conn).unwrap();
    for (sql, names) in functions::REFUSED {
        let e = run_query(&conn, sql).unwrap_err().to_string();
        assert!(e.contains(names) && e.contains("not supported"), "{sql}\n  -> {e}");
    }
}

/// Wrong argument counts and values: an error that names the function (and
/// Redshift's form of the call), never a raw DuckDB binder message alone.
#[test]
fn bad_calls_get_errors_that_name_the_function() {
    let conn = setup();
    courier::dialect::install(&conn).unwrap();
    for (sql, names) in [
        ("SELECT ADD_MONTHS('2008-01-01')", "ADD_MONTHS with 1 arguments"),
        (
            "SELECT MONTHS_BETWEEN('2008-01-01', '2008-02-01', 3)",
            "MONTHS_BETWEEN with 3 arguments",
        ),
        ("SELECT NEXT_DAY('2014-08-20')", "NEXT_DAY(date, 'day')"),
        (
            "SELECT NEXT_DAY('2014-08-20', 'Funday')",
            "NEXT_DAY: invalid day name Funday",
        ),
        ("SELECT DATE_CMP('2008-01-01')", "DATE_CMP with 1 arguments"),
        ("SELECT INITCAP('a', 'b')", "INITCAP(string)"),
        ("SELECT CONCAT('a', 'b', 'c')", "CONCAT(expression1, expression2)"),
        ("SELECT BTRIM()", "BTRIM with 0 arguments"),
        (
            "SELECT SPLIT_PART('a,b', ',')",
            "SPLIT_PART(string, delimiter, position)",
        ),
        ("SELECT REGEXP_COUNT('abc')", "REGEXP_COUNT with 1 arguments"),
        (
            "SELECT REGEXP_SUBSTR('abc', 'b', 1, 1, 'x')",
            "REGEXP_SUBSTR parameter 'x'",
        ),
        (
            "SELECT REGEXP_INSTR('abc', 'b', 1, 1, 0, 'i', 7)",
            "REGEXP_INSTR with 7 arguments",
        ),
        ("SELECT STRTOL('zz', 10)", "STRTOL: invalid digit z for base 10"),
        ("SELECT STRTOL('10', 99)", "STRTOL: base must be 2 to 36"),
        ("SELECT STRTOL('10')", "STRTOL(num_string, base)"),
        (
            "SELECT TO_NUMBER('abc', '999')",
            "TO_NUMBER: abc does not match the format 999",
        ),
        ("SELECT TO_NUMBER('12', 'abc')", "TO_NUMBER format 'abc'"),
        ("SELECT TO_CHAR(12.5, '99V9')", "TO_CHAR with the numeric format '99V9'"),
        (
            "SELECT JSON_EXTRACT_PATH_TEXT('{\"a\":', 'a')",
            "JSON_EXTRACT_PATH_TEXT: JSON parsing error",
        ),
        (
            "SELECT JSON_ARRAY_LENGTH('[1,2')",
            "JSON_ARRAY_LENGTH: JSON parsing error",
        ),
        (
            "SELECT JSON_EXTRACT_ARRAY_ELEMENT_TEXT('[1,', 0)",
            "JSON_EXTRACT_ARRAY_ELEMENT_TEXT: JSON parsing error",
        ),
        ("SELECT JSON_ARRAY_LENGTH()", "JSON_ARRAY_LENGTH with 0 arguments"),
        (
            "SELECT RATIO_TO_REPORT(OrderValue) FROM factOrders",
            "RATIO_TO_REPORT without OVER",
        ),
        ("SELECT ROUND(1, 2, 3)", "ROUND with 3 arguments"),
        ("SELECT POWER(2)", "POWER(base, exponent)"),
        ("SELECT SELECT DEXP()", "SQL syntax error"),
        ("SELECT DEXP()", "DEXP with 0 arguments"),
        ("SELECT INTERVAL '3 fortnights'", "INTERVAL unit \"fortnight\""),
        (
            "SELECT 'abc' SIMILAR TO CustomerName FROM dimCustomers",
            "SIMILAR TO with a computed pattern",
        ),
        (
            "SELECT TIMESTAMP '2001-02-16 20:38:40' AT TIME ZONE 'Mars/Olympus'",
            "AT TIME ZONE 'Mars/Olympus'",
        ),
        ("SELECT SOUNDEX('Amazon')", "SOUNDEX is not supported"),
    ] {
        let e = run_query(&conn, sql).unwrap_err().to_string();
        assert!(e.contains(names), "{sql}\n  -> {e}");
    }
}
