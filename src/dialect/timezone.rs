//! `CONVERT_TIMEZONE` for the embedded warehouse: the bundled DuckDB has no
//! time zone database, so courier registers a scalar function backed by
//! chrono-tz (the IANA database) on each connection.

use std::error::Error;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;
use duckdb::core::{DataChunkHandle, LogicalTypeId};
use duckdb::ffi::duckdb_string_t;
use duckdb::types::DuckString;
use duckdb::vscalar::{ScalarFunctionSignature, VScalar};
use duckdb::vtab::arrow::WritableVector;

/// The SQL name of the function the translation calls.
pub const FUNCTION: &str = "courier_convert_timezone";

/// A zone as Redshift names it: an IANA name (`America/New_York`,
/// `Europe/Berlin`, `UTC`) or a common fixed abbreviation (`PST`, `EDT` …).
#[derive(Debug, Clone, Copy)]
pub enum Zone {
    Named(Tz),
    Fixed(FixedOffset),
}

/// Why a zone or a conversion between zones is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    #[error("unknown time zone {0:?} (use an IANA name like 'America/New_York')")]
    Unknown(String),
    /// A wall-clock time skipped by a change to summer time.
    #[error("{0} does not exist in that time zone")]
    NoSuchTime(NaiveDateTime),
}

impl Zone {
    pub fn parse(name: &str) -> Result<Self, ZoneError> {
        let fixed = |h: i32| Zone::Fixed(FixedOffset::east_opt(h * 3600).expect("valid offset"));
        match name.trim().to_ascii_uppercase().as_str() {
            "UTC" | "GMT" | "Z" | "ZULU" | "UCT" => return Ok(fixed(0)),
            "EST" => return Ok(fixed(-5)),
            "EDT" => return Ok(fixed(-4)),
            "CST" => return Ok(fixed(-6)),
            "CDT" => return Ok(fixed(-5)),
            "MST" => return Ok(fixed(-7)),
            "MDT" => return Ok(fixed(-6)),
            "PST" => return Ok(fixed(-8)),
            "PDT" => return Ok(fixed(-7)),
            _ => {}
        }
        name.trim()
            .parse::<Tz>()
            .map(Zone::Named)
            .map_err(|_| ZoneError::Unknown(name.to_string()))
    }

    /// The wall-clock time `t` (in this zone) as a UTC instant.
    fn to_utc(self, t: NaiveDateTime) -> Result<DateTime<chrono::Utc>, ZoneError> {
        let local = match self {
            Zone::Named(tz) => tz
                .from_local_datetime(&t)
                .earliest()
                .map(|d| d.with_timezone(&chrono::Utc)),
            Zone::Fixed(o) => o
                .from_local_datetime(&t)
                .earliest()
                .map(|d| d.with_timezone(&chrono::Utc)),
        };
        local.ok_or(ZoneError::NoSuchTime(t))
    }

    /// The UTC instant `t` as wall-clock time in this zone.
    fn wall_clock(self, t: DateTime<chrono::Utc>) -> NaiveDateTime {
        match self {
            Zone::Named(tz) => t.with_timezone(&tz).naive_local(),
            Zone::Fixed(o) => t.naive_utc() + chrono::Duration::seconds(o.fix().local_minus_utc() as i64),
        }
    }
}

/// Convert wall-clock time `t` from `src` to `dst`.
pub fn convert(src: &str, dst: &str, t: NaiveDateTime) -> Result<NaiveDateTime, ZoneError> {
    let instant = Zone::parse(src)?.to_utc(t)?;
    Ok(Zone::parse(dst)?.wall_clock(instant))
}

/// `courier_convert_timezone(source VARCHAR, target VARCHAR, ts TIMESTAMP) -> TIMESTAMP`
pub struct ConvertTimezone;

impl VScalar for ConvertTimezone {
    type State = ();

    fn invoke(_: &(), input: &mut DataChunkHandle, output: &mut dyn WritableVector) -> Result<(), Box<dyn Error>> {
        let n = input.len();
        let (src, dst, ts) = (input.flat_vector(0), input.flat_vector(1), input.flat_vector(2));
        let srcs = unsafe { src.as_slice_with_len::<duckdb_string_t>(n) };
        let dsts = unsafe { dst.as_slice_with_len::<duckdb_string_t>(n) };
        let times = unsafe { ts.as_slice_with_len::<i64>(n) };
        let mut out = output.flat_vector();
        let mut values = vec![0i64; n];
        let mut nulls = Vec::new();
        for i in 0..n {
            if src.row_is_null(i as u64) || dst.row_is_null(i as u64) || ts.row_is_null(i as u64) {
                nulls.push(i);
                continue;
            }
            let (mut s, mut d) = (srcs[i], dsts[i]);
            let s = DuckString::new(&mut s).as_str().to_string();
            let d = DuckString::new(&mut d).as_str().to_string();
            let t = DateTime::from_timestamp_micros(times[i])
                .ok_or("timestamp out of range")?
                .naive_utc();
            let converted = convert(&s, &d, t).map_err(|e| format!("CONVERT_TIMEZONE: {e}"))?;
            values[i] = converted.and_utc().timestamp_micros();
        }
        let slice = unsafe { out.as_mut_slice_with_len::<i64>(n) };
        slice.copy_from_slice(&values);
        for i in nulls {
            out.set_null(i);
        }
        Ok(())
    }

    fn signatures() -> Vec<ScalarFunctionSignature> {
        vec![ScalarFunctionSignature::exact(
            vec![
                LogicalTypeId::Varchar.into(),
                LogicalTypeId::Varchar.into(),
                LogicalTypeId::Timestamp.into(),
            ],
            LogicalTypeId::Timestamp.into(),
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn converts_like_redshift_documents() {
        // Redshift docs: convert_timezone('America/New_York', '2008-03-05 12:25:29') = 2008-03-05 07:25:29
        assert_eq!(
            convert("UTC", "America/New_York", t("2008-03-05 12:25:29")).unwrap(),
            t("2008-03-05 07:25:29")
        );
        // convert_timezone('EST', 'PST', '20080305 12:25:29') = 2008-03-05 09:25:29
        assert_eq!(
            convert("EST", "PST", t("2008-03-05 12:25:29")).unwrap(),
            t("2008-03-05 09:25:29")
        );
        // Summer time applies by date.
        assert_eq!(
            convert("UTC", "Europe/Berlin", t("2026-07-01 12:00:00")).unwrap(),
            t("2026-07-01 14:00:00")
        );
        assert!(
            convert("UTC", "Mars/Olympus", t("2026-07-01 12:00:00"))
                .unwrap_err()
                .to_string()
                .contains("unknown time zone")
        );
    }
}
