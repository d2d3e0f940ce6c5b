//! The order event on the wire (the reference pipeline's JSON shape) and its
//! validation into a fact row. A record that fails here is dead-lettered with
//! the reason; nothing here panics on any input.

use chrono::{Datelike, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::backend::{FactRow, StreamRecord};

pub use crate::model::STATUSES;
/// Larger records are dead-lettered: an order event is a few hundred bytes.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;
const ORDER_DATE_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.f";
/// 0001-01-01T00:00:00 and 9999-12-31T23:59:59.999 in ms since the epoch:
/// the times both warehouses' TIMESTAMP columns (and their text forms) hold.
pub const MIN_TIMESTAMP_MS: i64 = -62_135_596_800_000;
pub const MAX_TIMESTAMP_MS: i64 = 253_402_300_799_999;

/// One order event, fields exactly as the reference producer sends them;
/// courier's generator adds `EmittedAt` (ms since the epoch) for freshness.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderEvent {
    #[serde(rename = "OrderID")]
    pub order_id: i64,
    #[serde(rename = "CustomerID")]
    pub customer_id: i32,
    #[serde(rename = "RestaurantID")]
    pub restaurant_id: i32,
    #[serde(rename = "RiderID")]
    pub rider_id: i32,
    #[serde(rename = "OrderDate")]
    pub order_date: String,
    #[serde(rename = "DeliveryTime")]
    pub delivery_time: i32,
    #[serde(rename = "OrderValue")]
    pub order_value: f64,
    #[serde(rename = "DeliveryFee")]
    pub delivery_fee: f64,
    #[serde(rename = "TipAmount")]
    pub tip_amount: f64,
    #[serde(rename = "OrderStatus")]
    pub order_status: String,
    #[serde(rename = "EmittedAt", default, skip_serializing_if = "Option::is_none")]
    pub emitted_at: Option<i64>,
}

impl OrderEvent {
    /// The event a validated row was parsed from (its JSON is what a
    /// producer would have sent, though not byte for byte).
    pub fn of_row(row: &FactRow) -> Self {
        OrderEvent {
            order_id: row.order_id,
            customer_id: row.customer_id,
            restaurant_id: row.restaurant_id,
            rider_id: row.rider_id,
            order_date: format_order_date(row.order_date),
            delivery_time: row.delivery_time,
            order_value: f64::from(row.order_value) / 100.0,
            delivery_fee: f64::from(row.delivery_fee) / 100.0,
            tip_amount: f64::from(row.tip_amount) / 100.0,
            order_status: row.order_status.to_string(),
            emitted_at: row.emitted_ms,
        }
    }

    /// The event as JSON, byte for byte what `serde_json::to_vec` gives
    /// (same keys, order and number formatting), written straight into one
    /// right-sized buffer: the generator's hot path. Strings still go
    /// through serde_json's escaping.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        let mut int = itoa::Buffer::new();
        let key = |out: &mut Vec<u8>, k: &str| {
            out.extend_from_slice(if out.is_empty() { b"{\"" } else { b",\"" });
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b"\":");
        };
        let string = |out: &mut Vec<u8>, v: &str| serde_json::to_writer(&mut *out, v).expect("a Vec takes any write");
        let float = |out: &mut Vec<u8>, v: f64| serde_json::to_writer(&mut *out, &v).expect("a Vec takes any write");
        key(&mut out, "OrderID");
        out.extend_from_slice(int.format(self.order_id).as_bytes());
        key(&mut out, "CustomerID");
        out.extend_from_slice(int.format(self.customer_id).as_bytes());
        key(&mut out, "RestaurantID");
        out.extend_from_slice(int.format(self.restaurant_id).as_bytes());
        key(&mut out, "RiderID");
        out.extend_from_slice(int.format(self.rider_id).as_bytes());
        key(&mut out, "OrderDate");
        string(&mut out, &self.order_date);
        key(&mut out, "DeliveryTime");
        out.extend_from_slice(int.format(self.delivery_time).as_bytes());
        key(&mut out, "OrderValue");
        float(&mut out, self.order_value);
        key(&mut out, "DeliveryFee");
        float(&mut out, self.delivery_fee);
        key(&mut out, "TipAmount");
        float(&mut out, self.tip_amount);
        key(&mut out, "OrderStatus");
        string(&mut out, &self.order_status);
        if let Some(ms) = self.emitted_at {
            key(&mut out, "EmittedAt");
            out.extend_from_slice(int.format(ms).as_bytes());
        }
        out.push(b'}');
        out
    }
}

pub fn format_order_date(t: NaiveDateTime) -> String {
    use chrono::Timelike;
    // The hot path of the generator: digits written directly (strftime is
    // several times slower); years outside 0..=9999 take chrono's way.
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    }
    fn put(dst: &mut [u8], mut v: u32) {
        for d in dst.iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    let mut b = *b"0000-00-00T00:00:00.000000";
    put(&mut b[0..4], year as u32);
    put(&mut b[5..7], t.month());
    put(&mut b[8..10], t.day());
    put(&mut b[11..13], t.hour());
    put(&mut b[14..16], t.minute());
    put(&mut b[17..19], t.second());
    put(&mut b[20..26], (t.nanosecond() % 1_000_000_000) / 1000);
    b.iter().map(|&c| c as char).collect()
}

/// An `OrderDate` as the generator writes it, back to a timestamp.
pub fn parse_order_date(s: &str) -> Option<NaiveDateTime> {
    parse_order_date_fast(s).or_else(|| NaiveDateTime::parse_from_str(s, ORDER_DATE_FORMAT).ok())
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.f{1,9}]` without strftime (the ingester's hot
/// path); `None` sends anything else to chrono's parser.
fn parse_order_date_fast(s: &str) -> Option<NaiveDateTime> {
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r)?.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let date = chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let nanos = match b.len() {
        19 => 0,
        n if (21..=29).contains(&n) && b[19] == b'.' => num(20..n)? * 10u32.pow(9 - (n - 20) as u32),
        _ => return None,
    };
    let time = chrono::NaiveTime::from_hms_nano_opt(num(11..13)?, num(14..16)?, num(17..19)?, nanos)?;
    Some(NaiveDateTime::new(date, time))
}

/// Why a stream record is not an order event courier can load: the reason
/// its dead letter gives.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BadEvent {
    #[error("payload of {0} bytes is larger than {MAX_EVENT_BYTES}")]
    TooLarge(usize),
    #[error("not an order event: {0}")]
    NotJson(String),
    #[error("unknown OrderStatus {0:?} (expected one of {list})", list = STATUSES.join(", "))]
    UnknownStatus(String),
    #[error("OrderDate {0:?} is not an ISO-8601 timestamp like 2026-11-20T14:03:11.482913")]
    OrderDate(String),
    #[error("OrderDate {0:?} is outside the years 1-9999 a warehouse TIMESTAMP holds")]
    OrderDateRange(String),
    #[error(
        "EmittedAt {0} is not a time in milliseconds since the epoch within the years 1-9999 \
         (was it sent in microseconds or nanoseconds?)"
    )]
    EmittedAt(i64),
    #[error("DeliveryTime {0} is negative")]
    NegativeDeliveryTime(i32),
    #[error("{field} {value} is outside 0..=999999.99")]
    Money { field: &'static str, value: f64 },
}

/// Money as whole cents; must be finite, ≥ 0 and fit DECIMAL(8,2).
fn cents(field: &'static str, v: f64) -> Result<i32, BadEvent> {
    if !v.is_finite() || !(0.0..=999_999.99).contains(&v) {
        return Err(BadEvent::Money { field, value: v });
    }
    Ok((v * 100.0).round() as i32)
}

/// Parse and validate a stream record into a fact row, or say why not.
pub fn parse_record(rec: &StreamRecord) -> Result<FactRow, BadEvent> {
    if rec.data.len() > MAX_EVENT_BYTES {
        return Err(BadEvent::TooLarge(rec.data.len()));
    }
    let e: OrderEvent = serde_json::from_slice(&rec.data).map_err(|e| BadEvent::NotJson(e.to_string()))?;
    let Some(&order_status) = STATUSES.iter().find(|s| **s == e.order_status) else {
        return Err(BadEvent::UnknownStatus(e.order_status));
    };
    // ISO-8601 with `T` (Python's isoformat(), the reference), or with a space
    // (as SQL and many producers print timestamps).
    let order_date = parse_order_date_fast(&e.order_date)
        .ok_or(())
        .or_else(|_| NaiveDateTime::parse_from_str(&e.order_date, ORDER_DATE_FORMAT))
        .or_else(|_| NaiveDateTime::parse_from_str(&e.order_date, "%Y-%m-%d %H:%M:%S%.f"))
        .map_err(|_| BadEvent::OrderDate(e.order_date.clone()))?;
    if !(1..=9999).contains(&order_date.year()) {
        return Err(BadEvent::OrderDateRange(e.order_date));
    }
    if let Some(ms) = e.emitted_at
        && !(MIN_TIMESTAMP_MS..=MAX_TIMESTAMP_MS).contains(&ms)
    {
        return Err(BadEvent::EmittedAt(ms));
    }
    if e.delivery_time < 0 {
        return Err(BadEvent::NegativeDeliveryTime(e.delivery_time));
    }
    Ok(FactRow {
        order_id: e.order_id,
        customer_id: e.customer_id,
        restaurant_id: e.restaurant_id,
        rider_id: e.rider_id,
        order_date,
        delivery_time: e.delivery_time,
        order_value: cents("OrderValue", e.order_value)?,
        delivery_fee: cents("DeliveryFee", e.delivery_fee)?,
        tip_amount: cents("TipAmount", e.tip_amount)?,
        order_status,
        sequence_number: rec.sequence_number.0.as_str().into(),
        arrival_ms: rec.arrival_ms,
        emitted_ms: e.emitted_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::SequenceNumber;

    fn rec(data: &str) -> StreamRecord {
        StreamRecord {
            sequence_number: SequenceNumber("7".into()),
            partition_key: "1".into(),
            data: data.as_bytes().to_vec(),
            arrival_ms: 0,
        }
    }

    const GOOD: &str = r#"{"OrderID": 12, "CustomerID": 3, "RestaurantID": 4, "RiderID": 5, "OrderDate": "2026-11-20T14:03:11.482913", "DeliveryTime": 30, "OrderValue": 45.5, "DeliveryFee": 3.25, "TipAmount": 0, "OrderStatus": "On the way"}"#;

    #[test]
    fn hand_written_json_is_byte_for_byte_serde_json() {
        let base = OrderEvent {
            order_id: 12,
            customer_id: 3,
            restaurant_id: 4,
            rider_id: 5,
            order_date: "2026-11-20T14:03:11.482913".into(),
            delivery_time: 30,
            order_value: 45.5,
            delivery_fee: 3.25,
            tip_amount: 0.0,
            order_status: "On the way".into(),
            emitted_at: Some(1_764_000_000_123),
        };
        let variants = [
            base.clone(),
            OrderEvent {
                emitted_at: None,
                ..base.clone()
            },
            OrderEvent {
                order_id: i64::MIN,
                customer_id: i32::MAX,
                restaurant_id: -1,
                rider_id: 0,
                order_value: 1e21,
                delivery_fee: -0.0,
                tip_amount: f64::NAN,
                order_status: "quote \" back \\ tab \t nul \u{0} é 🚚".into(),
                order_date: String::new(),
                ..base.clone()
            },
            OrderEvent {
                order_value: 0.1 + 0.2,
                delivery_fee: f64::INFINITY,
                tip_amount: 99.99,
                ..base
            },
        ];
        for e in variants {
            assert_eq!(
                String::from_utf8(e.to_json()).unwrap(),
                serde_json::to_string(&e).unwrap(),
                "{e:?}"
            );
        }
    }

    #[test]
    fn fast_date_format_and_parse_agree_with_chrono() {
        let cases = [
            "2026-11-20T14:03:11.482913",
            "2026-01-02T03:04:05.000000",
            "1999-12-31T23:59:59.999999",
            "0001-01-01T00:00:00.000001",
        ];
        for c in cases {
            let t = NaiveDateTime::parse_from_str(c, ORDER_DATE_FORMAT).unwrap();
            assert_eq!(format_order_date(t), t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string());
            assert_eq!(parse_order_date_fast(c), Some(t));
        }
        for (s, want) in [
            ("2026-11-20 14:03:11", Some("2026-11-20 14:03:11")),
            ("2026-11-20T14:03:11.5", Some("2026-11-20 14:03:11.500")),
            ("2026-11-20T14:03:11.123456789", Some("2026-11-20 14:03:11.123456789")),
            ("2026-02-30T14:03:11", None),
            ("2026-11-20T24:03:11", None),
            ("2026-11-20T14:03:11.", None),
            ("2026-11-20T14:03:11Z", None),
            ("2026-11-2OT14:03:11", None),
            ("+2026-11-20T14:03:11", None),
        ] {
            assert_eq!(
                parse_order_date_fast(s).map(|t| t.to_string()),
                want.map(str::to_string),
                "{s}"
            );
        }
    }

    #[test]
    fn a_space_separated_order_date_parses_too() {
        let rec = StreamRecord {
            sequence_number: crate::backend::SequenceNumber("1".into()),
            partition_key: "12".into(),
            data: GOOD
                .replace("2026-11-20T14:03:11.482913", "2026-11-20 14:03:11")
                .into_bytes(),
            arrival_ms: 0,
        };
        let row = parse_record(&rec).unwrap();
        assert_eq!(row.order_date.to_string(), "2026-11-20 14:03:11");
    }

    #[test]
    fn reference_shape_parses() {
        let row = parse_record(&rec(GOOD)).unwrap();
        assert_eq!(row.order_id, 12);
        assert_eq!(row.order_value, 4550);
        assert_eq!(row.delivery_fee, 325);
        assert_eq!(row.order_status, "On the way");
        assert_eq!(row.sequence_number, "7");
        assert_eq!(row.emitted_ms, None);
        // Rows wait in batches by the tens of thousands: kept at 112 bytes.
        assert_eq!(std::mem::size_of::<FactRow>(), 112);
        // The largest DECIMAL(8,2) is whole cents in an i32.
        let max = parse_record(&rec(&GOOD.replace("\"OrderValue\": 45.5", "\"OrderValue\": 999999.99"))).unwrap();
        assert_eq!(max.order_value, 99_999_999);
    }

    #[test]
    fn malformed_records_say_why() {
        let cases = [
            ("{not json", "not an order event"),
            (r#"{"OrderID": 1}"#, "missing field"),
            (
                &GOOD.replace("\"OrderID\": 12", "\"OrderID\": \"twelve\"") as &str,
                "invalid type",
            ),
            (&GOOD.replace("On the way", "Lost"), "unknown OrderStatus \"Lost\""),
            (
                &GOOD.replace("2026-11-20T14:03:11.482913", "yesterday"),
                "OrderDate \"yesterday\"",
            ),
            (&GOOD.replace("45.5", "-1"), "OrderValue -1 is outside"),
            (
                &GOOD.replace("2026-11-20T14:03:11.482913", "2026-11-20"),
                "OrderDate \"2026-11-20\"",
            ),
            (&"x".repeat(MAX_EVENT_BYTES + 1), "larger than"),
            (
                &GOOD.replace("\"OrderStatus\"", "\"EmittedAt\": 1764000000123456789, \"OrderStatus\""),
                "EmittedAt 1764000000123456789 is not a time in milliseconds",
            ),
            (
                &GOOD.replace("\"OrderStatus\"", "\"EmittedAt\": -99999999999999999, \"OrderStatus\""),
                "EmittedAt -99999999999999999",
            ),
            (
                &GOOD.replace("2026-11-20T14:03:11.482913", "0000-11-20T14:03:11"),
                "outside the years 1-9999",
            ),
            (
                &GOOD.replace("\"OrderID\": 12", "\"OrderID\": 9223372036854775808"),
                "not an order event",
            ),
            (
                &GOOD.replace("\"CustomerID\": 3", "\"CustomerID\": 2147483648"),
                "not an order event",
            ),
            (
                &GOOD.replace("\"DeliveryTime\": 30", "\"DeliveryTime\": 30.5"),
                "not an order event",
            ),
            (&GOOD.replace("45.5", "1e309"), "not an order event"),
            (&GOOD.replace("On the way", "On the way\\u0000"), "unknown OrderStatus"),
            (
                &GOOD.replace("2026-11-20T14:03:11.482913", "2026-11-20T14:03:11\\u0000"),
                "OrderDate",
            ),
        ];
        for (data, want) in cases {
            let err = parse_record(&rec(data)).unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
        // Bytes that are not UTF-8 inside a string, and a lone surrogate.
        let mut bad = GOOD.as_bytes().to_vec();
        let at = GOOD.find("On the way").unwrap();
        bad[at] = 0xff;
        assert!(
            parse_record(&StreamRecord { data: bad, ..rec(GOOD) })
                .unwrap_err()
                .to_string()
                .contains("not an order event")
        );
        let surrogate = GOOD.replace("On the way", "\\ud800");
        assert!(parse_record(&rec(&surrogate)).is_err());
        // The edges of what a TIMESTAMP holds still load.
        for (date, emitted) in [
            ("0001-01-01T00:00:00", MIN_TIMESTAMP_MS),
            ("9999-12-31T23:59:59.999999", MAX_TIMESTAMP_MS),
        ] {
            let ok = GOOD
                .replace("2026-11-20T14:03:11.482913", date)
                .replace("\"OrderStatus\"", &format!("\"EmittedAt\": {emitted}, \"OrderStatus\""));
            assert!(parse_record(&rec(&ok)).is_ok(), "{ok}");
        }
    }
}
