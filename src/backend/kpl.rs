//! The KPL aggregation format: many user records in one Kinesis record, as
//! the Kinesis Producer Library and the aws-kinesis-agg libraries put them.
//! The record's data is the magic number `F3 89 9A C2`, then a protobuf
//! `AggregatedRecord` (partition-key table, explicit-hash-key table, user
//! records pointing into them), then the MD5 of the protobuf bytes.
//!
//! As the KCL does, a record that has the magic number but not a good MD5
//! or protobuf is no aggregate: it is the plain record it looks like (and
//! fails event validation as such, with the reason why it was not taken
//! for an aggregate). Decoding never panics and allocates in proportion to
//! the input, which is at most a Kinesis record's 1 MiB.

use md5::{Digest, Md5};
use prost::Message;

/// What an aggregated record's data starts with.
pub const MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];
const DIGEST_BYTES: usize = 16;
/// The largest record Kinesis takes; an "aggregate" larger than that is
/// not one (and is not decoded).
pub const MAX_AGGREGATE_BYTES: usize = 1024 * 1024;
/// Most entries (user records, or keys in one table) one aggregate may
/// have: what decoding allocates stays a few MB even for a record made of
/// empty entries.
pub const MAX_ENTRIES: usize = 100_000;

/// `AggregatedRecord` as the KPL's `messages.proto` has it. The tags of a
/// user record (field 4 of `Record`) are not declared, so they are skipped
/// unread: courier has no use for them, and skipping allocates nothing.
#[derive(Clone, PartialEq, prost::Message)]
struct AggregatedRecord {
    #[prost(string, repeated, tag = "1")]
    partition_key_table: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    explicit_hash_key_table: Vec<String>,
    #[prost(message, repeated, tag = "3")]
    records: Vec<Record>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Record {
    #[prost(uint64, required, tag = "1")]
    partition_key_index: u64,
    #[prost(uint64, optional, tag = "2")]
    explicit_hash_key_index: Option<u64>,
    #[prost(bytes = "vec", required, tag = "3")]
    data: Vec<u8>,
}

/// One user record of an aggregate, in the aggregate's order (its index
/// there is its sub-sequence number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
    pub data: Vec<u8>,
}

/// What a Kinesis record's data is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unpacked {
    /// No magic number: a plain record.
    Plain,
    /// An aggregate's user records, in order (possibly none).
    Aggregate(Vec<UserRecord>),
    /// The magic number, but no aggregate: why. Take it as a plain record.
    NotAggregate(KplError),
}

/// Why data with the aggregate's magic number is not an aggregate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KplError {
    #[error("{0} bytes, more than a Kinesis record's {MAX_AGGREGATE_BYTES}")]
    TooLarge(usize),
    #[error("{0} bytes: too short for the magic number and an MD5")]
    TooShort(usize),
    #[error("its MD5 does not match its protobuf")]
    Digest,
    #[error("{0} entries in one table, more than the {MAX_ENTRIES} courier takes")]
    TooManyEntries(usize),
    #[error("its protobuf does not decode: {0}")]
    Protobuf(String),
    #[error("user record {record}'s {which} index {index} is outside its table of {len}")]
    Index {
        record: usize,
        which: &'static str,
        index: u64,
        len: usize,
    },
}

/// Whether `data` starts like an aggregate (cheap: four bytes).
pub fn has_magic(data: &[u8]) -> bool {
    data.starts_with(&MAGIC)
}

/// Tell a Kinesis record's data apart and, if it is an aggregate, take it
/// apart.
pub fn unpack(data: &[u8]) -> Unpacked {
    if !has_magic(data) {
        return Unpacked::Plain;
    }
    match decode(data) {
        Ok(records) => Unpacked::Aggregate(records),
        Err(why) => Unpacked::NotAggregate(why),
    }
}

fn decode(data: &[u8]) -> Result<Vec<UserRecord>, KplError> {
    if data.len() > MAX_AGGREGATE_BYTES {
        return Err(KplError::TooLarge(data.len()));
    }
    let Some(body) = data.get(MAGIC.len()..data.len().saturating_sub(DIGEST_BYTES)) else {
        return Err(KplError::TooShort(data.len()));
    };
    let digest = &data[data.len() - DIGEST_BYTES..];
    if Md5::digest(body).as_slice() != digest {
        return Err(KplError::Digest);
    }
    let counts = count_entries(body)?;
    if let Some(&n) = counts.iter().find(|&&n| n > MAX_ENTRIES) {
        return Err(KplError::TooManyEntries(n));
    }
    let agg = AggregatedRecord::decode(body).map_err(|e| KplError::Protobuf(e.to_string()))?;
    let keys = &agg.partition_key_table;
    let hashes = &agg.explicit_hash_key_table;
    let mut out = Vec::with_capacity(agg.records.len());
    for (i, r) in agg.records.into_iter().enumerate() {
        let pk = usize::try_from(r.partition_key_index)
            .ok()
            .and_then(|k| keys.get(k))
            .ok_or(KplError::Index {
                record: i,
                which: "partition key",
                index: r.partition_key_index,
                len: keys.len(),
            })?;
        let ehk = match r.explicit_hash_key_index {
            None => None,
            Some(h) => Some(
                usize::try_from(h)
                    .ok()
                    .and_then(|k| hashes.get(k))
                    .ok_or(KplError::Index {
                        record: i,
                        which: "explicit hash key",
                        index: h,
                        len: hashes.len(),
                    })?,
            ),
        };
        out.push(UserRecord {
            partition_key: pk.clone(),
            explicit_hash_key: ehk.cloned(),
            data: r.data,
        });
    }
    Ok(out)
}

/// How many entries of fields 1, 2 and 3 the message has, read from its
/// wire format without decoding them (so a record of a million empty
/// entries is refused before anything is allocated for them).
fn count_entries(mut buf: &[u8]) -> Result<[usize; 3], KplError> {
    use prost::encoding::{WireType, decode_key, decode_varint};
    let bad = |e: prost::DecodeError| KplError::Protobuf(e.to_string());
    let mut counts = [0usize; 3];
    while !buf.is_empty() {
        let (tag, wire) = decode_key(&mut buf).map_err(bad)?;
        let skip = match wire {
            WireType::Varint => {
                decode_varint(&mut buf).map_err(bad)?;
                0
            }
            WireType::SixtyFourBit => 8,
            WireType::ThirtyTwoBit => 4,
            WireType::LengthDelimited => {
                let len = decode_varint(&mut buf).map_err(bad)?;
                usize::try_from(len).unwrap_or(usize::MAX)
            }
            WireType::StartGroup | WireType::EndGroup => {
                return Err(KplError::Protobuf("groups are not of this format".into()));
            }
        };
        if skip > buf.len() {
            return Err(KplError::Protobuf(format!(
                "field {tag} runs {skip} bytes past its end"
            )));
        }
        buf = &buf[skip..];
        if let Some(c) = (1..=3).contains(&tag).then(|| &mut counts[tag as usize - 1]) {
            *c += 1;
        }
    }
    Ok(counts)
}

/// An aggregate of `(partition key, data)` user records, the way the KPL
/// writes one (each distinct key once in the table): for tests and tools.
pub fn aggregate<'a>(records: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Vec<u8> {
    let mut agg = AggregatedRecord::default();
    let mut index = std::collections::HashMap::new();
    for (pk, data) in records {
        let next = agg.partition_key_table.len() as u64;
        let k = *index.entry(pk.to_string()).or_insert_with(|| {
            agg.partition_key_table.push(pk.to_string());
            next
        });
        agg.records.push(Record {
            partition_key_index: k,
            explicit_hash_key_index: None,
            data: data.to_vec(),
        });
    }
    let body = agg.encode_to_vec();
    let mut out = Vec::with_capacity(MAGIC.len() + body.len() + DIGEST_BYTES);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&body);
    out.extend_from_slice(&Md5::digest(&body));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(body);
        out.extend_from_slice(&Md5::digest(body));
        out
    }

    fn users(u: Unpacked) -> Vec<UserRecord> {
        match u {
            Unpacked::Aggregate(r) => r,
            other => panic!("not an aggregate: {other:?}"),
        }
    }

    #[test]
    fn an_aggregate_round_trips_in_order_with_shared_keys() {
        let recs: [(&str, &[u8]); 4] = [("7", b"{\"a\":1}"), ("8", b""), ("7", b"\xff\x00"), ("9", b"x")];
        let data = aggregate(recs);
        assert!(has_magic(&data));
        let got = users(unpack(&data));
        let want: Vec<(String, Vec<u8>)> = recs.iter().map(|(k, d)| (k.to_string(), d.to_vec())).collect();
        let got_pairs: Vec<(String, Vec<u8>)> = got.iter().map(|u| (u.partition_key.clone(), u.data.clone())).collect();
        assert_eq!(got_pairs, want);
        assert!(got.iter().all(|u| u.explicit_hash_key.is_none()));
        // The key table holds each key once.
        let body = &data[4..data.len() - 16];
        assert_eq!(
            AggregatedRecord::decode(body).unwrap().partition_key_table,
            ["7", "8", "9"]
        );
    }

    #[test]
    fn an_aggregate_made_by_aws_kinesis_agg_decodes() {
        // `scripts/emulators.sh kpl-aggregate` (aws-kinesis-agg 4.2.8) of
        // two user records `{}` with partition keys "1" and "2".
        use base64::Engine;
        let data = base64::engine::general_purpose::STANDARD
            .decode("84mawgoBMQoBMhoGCAAaAnt9GgYIARoCe32cx+FsfCtIrRq93/pU2Quo")
            .unwrap();
        let got = users(unpack(&data));
        let keys: Vec<&str> = got.iter().map(|u| u.partition_key.as_str()).collect();
        assert_eq!(keys, ["1", "2"]);
        assert!(got.iter().all(|u| u.data == b"{}"));
        assert_eq!(
            aggregate([("1", &b"{}"[..]), ("2", &b"{}"[..])]),
            data,
            "the same bytes"
        );
    }

    #[test]
    fn explicit_hash_keys_and_tags_are_read_or_skipped() {
        // Built by hand, per the format: a record with an explicit hash
        // key and a tag (field 4: key "k", value "v").
        let mut rec = vec![0x08, 0x00, 0x10, 0x00, 0x1a, 0x02, b'h', b'i'];
        rec.extend_from_slice(&[0x22, 0x06, 0x0a, 0x01, b'k', 0x12, 0x01, b'v']);
        let mut body = vec![
            0x0a,
            0x02,
            b'p',
            b'k',
            0x12,
            0x03,
            b'1',
            b'2',
            b'3',
            0x1a,
            rec.len() as u8,
        ];
        body.extend_from_slice(&rec);
        let got = users(unpack(&framed(&body)));
        assert_eq!(
            got,
            vec![UserRecord {
                partition_key: "pk".into(),
                explicit_hash_key: Some("123".into()),
                data: b"hi".to_vec()
            }]
        );
    }

    #[test]
    fn plain_records_and_damaged_aggregates_are_told_apart() {
        assert_eq!(unpack(br#"{"OrderID": 1}"#), Unpacked::Plain);
        assert_eq!(unpack(b""), Unpacked::Plain);
        // An empty aggregate: no user records.
        assert_eq!(unpack(&framed(b"")), Unpacked::Aggregate(vec![]));
        let good = aggregate([("1", &b"{}"[..]), ("2", &b"{}"[..])]);
        let why = |data: &[u8]| match unpack(data) {
            Unpacked::NotAggregate(why) => why.to_string(),
            other => panic!("{other:?}"),
        };
        let mut bad_md5 = good.clone();
        *bad_md5.last_mut().unwrap() ^= 1;
        assert!(why(&bad_md5).contains("MD5"));
        let mut flipped = good.clone();
        flipped[6] ^= 0x40;
        assert!(why(&flipped).contains("MD5"));
        for n in [4, 5, 19] {
            assert!(why(&good[..n]).contains("too short"), "{n}");
        }
        for n in 20..good.len() {
            assert!(matches!(unpack(&good[..n]), Unpacked::NotAggregate(_)), "{n}");
        }
        // A good MD5 over bytes that are no AggregatedRecord.
        assert!(why(&framed(b"\xff\xff\xff")).contains("protobuf"));
        assert!(why(&framed(&[0x1a, 0x7f, 0x00])).contains("past its end"));
        assert!(why(&framed(&[0x0b, 0x0c])).contains("groups"));
        // A record whose key index points nowhere.
        assert!(why(&framed(&[0x1a, 0x04, 0x08, 0x05, 0x1a, 0x00])).contains("outside its table of 0"));
        let huge_index = [
            0x1a, 0x0d, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x1a, 0x00,
        ];
        assert!(why(&framed(&huge_index[..])).contains("outside"));
        assert!(why(&[0xF3, 0x89, 0x9A, 0xC2, 0].repeat(300_000)).contains("more than a Kinesis record"));
    }

    #[test]
    fn huge_counts_and_lengths_are_refused_without_allocating_for_them() {
        // 500,000 empty user records (2 bytes each) in under a MiB.
        let body = [0x1a, 0x00].repeat(500_000);
        match unpack(&framed(&body)) {
            Unpacked::NotAggregate(why) => assert!(why.to_string().contains("500000 entries"), "{why}"),
            other => panic!("{other:?}"),
        }
        // A length that claims far more than there is.
        let claim = [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, b'x'];
        assert!(matches!(unpack(&framed(&claim)), Unpacked::NotAggregate(_)));
        // Every prefix and one-byte change of a good body: never a panic.
        let good = aggregate([("1", &b"{\"OrderID\": 1}"[..]), ("2", &b"{}"[..])]);
        let body = &good[4..good.len() - 16];
        for n in 0..body.len() {
            let _ = unpack(&framed(&body[..n]));
            for bit in 0..8 {
                let mut b = body.to_vec();
                b[n] ^= 1 << bit;
                let _ = unpack(&framed(&b));
            }
        }
    }
}
