//! One shard of the embedded stream: a durable append-only log in segment
//! files, with a sparse in-memory index. It owns the on-disk format and the
//! crash recovery; it knows nothing of rate limits or iterators.
//!
//! Recovery: only the tail of the last segment can be torn by a crash (an
//! append is acknowledged once written), and that tail is cut off at open.
//! Corruption anywhere else (a flipped bit, a bad sector) is skipped record
//! by record: the scan finds the next whole record (length in range,
//! checksum matching, sequence number going up) and goes on from there, so
//! one bad record never takes the acknowledged records after it along.
//!
//! Record layout, little endian:
//! `len u32 | crc32(body) u32 | body = seq u64, arrival_ms i64, pk_len u16, pk, data`

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const HEADER: usize = 8;
const BODY_FIXED: usize = 8 + 8 + 2;
/// Every `INDEX_EVERY`-th record's position is kept in memory.
const INDEX_EVERY: u64 = 64;
/// Largest record body accepted back from disk (1 MiB data + key + fixed part).
const MAX_BODY: usize = (1 << 20) + 256 + BODY_FIXED;

/// A record as stored.
#[derive(Debug, Clone)]
pub struct LogRecord {
    pub seq: u64,
    pub arrival_ms: i64,
    pub partition_key: String,
    pub data: Vec<u8>,
}

struct Segment {
    path: PathBuf,
    file: File,
    first_seq: u64,
    /// Next sequence number after this segment's last record.
    end_seq: u64,
    /// Bytes of whole records.
    len: u64,
    last_arrival_ms: i64,
    /// (seq, offset, arrival_ms) of every INDEX_EVERY-th record.
    index: Vec<(u64, u64, i64)>,
    /// Corrupt byte ranges found at open, skipped by reads: (start, end).
    holes: Vec<(u64, u64)>,
}

/// What opening a segment found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    /// Corrupt records skipped (their sequence numbers are missing).
    pub corrupt_records: u64,
    pub corrupt_bytes: u64,
    /// Bytes of a torn tail cut off the last segment.
    pub torn_bytes: u64,
}

/// The records of one shard, on disk.
pub struct ShardLog {
    dir: PathBuf,
    segments: Vec<Segment>,
    segment_bytes: u64,
    fsync: bool,
    buf: Vec<u8>,
    recovered: Recovered,
}

impl ShardLog {
    /// Open (or create) the log in `dir`, cutting off any torn tail.
    pub fn open(dir: &Path, segment_bytes: u64, fsync: bool) -> io::Result<Self> {
        crate::durable::create_dir_all(dir)?;
        let mut names: Vec<PathBuf> = fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        names.sort();
        let mut segments = Vec::new();
        let mut recovered = Recovered::default();
        let count = names.len();
        for (i, path) in names.into_iter().enumerate() {
            let first_seq: u64 = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| io::Error::other(format!("unexpected file {}", path.display())))?;
            let (seg, r) = Segment::recover(path, first_seq, i + 1 == count)?;
            recovered.corrupt_records += r.corrupt_records;
            recovered.corrupt_bytes += r.corrupt_bytes;
            recovered.torn_bytes += r.torn_bytes;
            segments.push(seg);
        }
        let mut log = ShardLog {
            dir: dir.to_path_buf(),
            segments,
            segment_bytes,
            fsync,
            buf: Vec::new(),
            recovered,
        };
        if log.segments.is_empty() {
            log.roll(1)?;
        }
        Ok(log)
    }

    /// What opening the log found (corrupt records skipped, a torn tail cut).
    pub fn recovered(&self) -> Recovered {
        self.recovered
    }

    /// The sequence number the next appended record gets.
    pub fn next_seq(&self) -> u64 {
        self.segments.last().map_or(1, |s| s.end_seq)
    }

    /// The oldest retained sequence number.
    pub fn first_seq(&self) -> u64 {
        self.segments.first().map_or(1, |s| s.first_seq)
    }

    /// Append records (partition key, data) stamped with `arrival_ms`; they are
    /// written (and fsynced if configured) before this returns. Returns the
    /// first sequence number used.
    pub fn append(&mut self, records: &[(&str, &[u8])], arrival_ms: i64) -> io::Result<u64> {
        if self.segments.last().is_some_and(|s| s.len >= self.segment_bytes) {
            let next = self.next_seq();
            self.roll(next)?;
        }
        let first = self.next_seq();
        let seg = self.segments.last_mut().expect("a segment is always open");
        self.buf.clear();
        let mut offsets = Vec::new();
        for (i, (pk, data)) in records.iter().enumerate() {
            let seq = first + i as u64;
            let offset = seg.len + self.buf.len() as u64;
            if seq.is_multiple_of(INDEX_EVERY) || seq == seg.first_seq {
                offsets.push((seq, offset, arrival_ms));
            }
            encode(&mut self.buf, seq, arrival_ms, pk, data);
        }
        if let Err(e) = seg.file.write_all_at(&self.buf, seg.len) {
            // Leave no partial record behind for readers of this process.
            let _ = seg.file.set_len(seg.len);
            return Err(e);
        }
        if self.fsync {
            seg.file.sync_data()?;
        }
        seg.len += self.buf.len() as u64;
        seg.end_seq = first + records.len() as u64;
        seg.last_arrival_ms = arrival_ms;
        seg.index.extend(offsets);
        Ok(first)
    }

    /// Read records from `from` (clamped to the oldest retained) on, up to
    /// `max_records` and about `max_bytes` of data (at least one record).
    pub fn read(&self, from: u64, max_records: usize, max_bytes: usize) -> io::Result<Vec<LogRecord>> {
        let from = from.max(self.first_seq());
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let Some(start) = self.segments.iter().position(|s| from < s.end_seq) else {
            return Ok(out);
        };
        for seg in &self.segments[start..] {
            let mut offset = seg.position_at_or_before(from);
            let mut chunk = Vec::new();
            while offset < seg.len && out.len() < max_records && (bytes < max_bytes || out.is_empty()) {
                // Bounded chunks: memory stays small however large the budget.
                let want = ((seg.len - offset) as usize).min(max_bytes.clamp(64 * 1024, 512 * 1024) + MAX_BODY);
                chunk.resize(want, 0);
                seg.file.read_exact_at(&mut chunk, offset)?;
                let mut at = 0usize;
                loop {
                    if let Some(end) = seg.hole_at(offset + at as u64) {
                        // Found corrupt at open: step over it.
                        at = (end - offset) as usize;
                        if at >= chunk.len() {
                            break;
                        }
                        continue;
                    }
                    let Some((rec, used)) = decode(&chunk[at..])? else {
                        break;
                    };
                    at += used;
                    if rec.seq >= from {
                        bytes += rec.data.len();
                        out.push(rec);
                        if out.len() >= max_records || bytes >= max_bytes {
                            break;
                        }
                    }
                }
                if at == 0 {
                    break;
                }
                offset += at as u64;
            }
            if out.len() >= max_records || bytes >= max_bytes {
                break;
            }
        }
        Ok(out)
    }

    /// Arrival time of the record at `seq` or the nearest indexed one before it.
    pub fn arrival_near(&self, seq: u64) -> Option<i64> {
        let seg = self.segments.iter().find(|s| seq >= s.first_seq && seq < s.end_seq)?;
        let i = seg.index.partition_point(|&(s, _, _)| s <= seq);
        seg.index.get(i.saturating_sub(1)).map(|&(_, _, a)| a)
    }

    /// The first retained record that arrived at or after `ms`, or the next
    /// sequence number if none did (AT_TIMESTAMP). Arrival times rise with
    /// sequence numbers, so the sparse index narrows the scan to one stride.
    pub fn seq_at_time(&self, ms: i64) -> io::Result<u64> {
        let mut from = self.first_seq();
        for seg in &self.segments {
            if seg.end_seq == seg.first_seq || seg.last_arrival_ms < ms {
                from = seg.end_seq.max(from);
                continue;
            }
            let i = seg.index.partition_point(|&(_, _, a)| a < ms);
            from = if i == 0 { seg.first_seq } else { seg.index[i - 1].0 };
            break;
        }
        loop {
            let recs = self.read(from, 256, 1 << 20)?;
            let Some(last) = recs.last() else {
                return Ok(self.next_seq());
            };
            if let Some(r) = recs.iter().find(|r| r.arrival_ms >= ms) {
                return Ok(r.seq);
            }
            from = last.seq + 1;
        }
    }

    /// Drop whole segments whose newest record arrived before `cutoff_ms`,
    /// never the segment being written. Returns records dropped.
    pub fn trim_before(&mut self, cutoff_ms: i64) -> io::Result<u64> {
        let mut dropped = 0;
        while self.segments.len() > 1 && self.segments[0].last_arrival_ms < cutoff_ms {
            let seg = self.segments.remove(0);
            dropped += seg.end_seq - seg.first_seq;
            fs::remove_file(&seg.path)?;
        }
        Ok(dropped)
    }

    fn roll(&mut self, first_seq: u64) -> io::Result<()> {
        let path = self.dir.join(format!("{first_seq:020}.log"));
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(&path)?;
        if self.fsync {
            File::open(&self.dir)?.sync_all()?;
        }
        self.segments.push(Segment::empty(path, file, first_seq));
        Ok(())
    }
}

impl Segment {
    fn empty(path: PathBuf, file: File, first_seq: u64) -> Self {
        Segment {
            path,
            file,
            first_seq,
            end_seq: first_seq,
            len: 0,
            last_arrival_ms: 0,
            index: Vec::new(),
            holes: Vec::new(),
        }
    }

    /// The end of the corrupt range starting at `offset`, if one does.
    fn hole_at(&self, offset: u64) -> Option<u64> {
        self.holes.iter().find(|(s, _)| *s == offset).map(|&(_, e)| e)
    }

    /// Scan a segment, rebuilding its index: corrupt records are stepped
    /// over (to the next whole record), and — in the last segment only,
    /// the one a crash can tear — what follows the last whole record is cut.
    fn recover(path: PathBuf, first_seq: u64, last: bool) -> io::Result<(Self, Recovered)> {
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        let bytes = fs::read(&path)?;
        let mut seg = Segment::empty(path, file, first_seq);
        let mut found = Recovered::default();
        let mut at = 0usize;
        let mut good_end = 0usize;
        loop {
            match decode(&bytes[at..]) {
                Ok(Some((rec, used))) if rec.seq >= seg.end_seq => {
                    if rec.seq > seg.end_seq {
                        // The corrupt records between held these numbers.
                        found.corrupt_records += rec.seq - seg.end_seq;
                    }
                    if rec.seq.is_multiple_of(INDEX_EVERY) || seg.index.is_empty() {
                        seg.index.push((rec.seq, at as u64, rec.arrival_ms));
                    }
                    seg.end_seq = rec.seq + 1;
                    seg.last_arrival_ms = rec.arrival_ms;
                    at += used;
                    good_end = at;
                }
                // The end, or a record cut short: nothing whole follows.
                Ok(None) => break,
                // Corrupt (or out of order): on to the next whole record.
                Ok(Some(_)) | Err(_) => match next_whole(&bytes, at + 1, seg.end_seq) {
                    Some(next) => {
                        seg.holes.push((at as u64, next as u64));
                        found.corrupt_bytes += (next - at) as u64;
                        at = next;
                    }
                    None => break,
                },
            }
        }
        seg.len = good_end as u64;
        let rest = bytes.len() - good_end;
        if found.corrupt_bytes > 0 {
            tracing::error!(
                segment = %seg.path.display(),
                corrupt_records = found.corrupt_records,
                corrupt_bytes = found.corrupt_bytes,
                "corrupt records in a stream segment: skipped, the records after them kept"
            );
        }
        if rest > 0 {
            if last {
                found.torn_bytes = rest as u64;
                tracing::warn!(
                    segment = %seg.path.display(),
                    kept = good_end,
                    cut = rest,
                    "cut a torn tail off a stream segment (records never acknowledged)"
                );
                seg.file.set_len(seg.len)?;
            } else {
                // A sealed segment is never torn: keep its bytes for a
                // post-mortem, read only what is whole.
                found.corrupt_bytes += rest as u64;
                tracing::error!(
                    segment = %seg.path.display(),
                    unreadable = rest,
                    "the end of a sealed stream segment is unreadable: left on disk, skipped"
                );
            }
        }
        Ok((seg, found))
    }

    /// Byte offset of the record at `seq` or of an indexed one before it.
    fn position_at_or_before(&self, seq: u64) -> u64 {
        let i = self.index.partition_point(|&(s, _, _)| s <= seq);
        if i == 0 { 0 } else { self.index[i - 1].1 }
    }
}

/// Where the next whole record starts at or after `from`: a length in
/// range, a matching checksum and a sequence number at least `min_seq`.
/// Only called at open, after corruption.
fn next_whole(bytes: &[u8], from: usize, min_seq: u64) -> Option<usize> {
    (from..bytes.len().saturating_sub(HEADER)).find(|&i| {
        let body_len = u32::from_le_bytes(bytes[i..i + 4].try_into().expect("a slice of the fixed size")) as usize;
        (BODY_FIXED..=MAX_BODY).contains(&body_len)
            && matches!(decode(&bytes[i..]), Ok(Some((r, _))) if r.seq >= min_seq)
    })
}

fn encode(buf: &mut Vec<u8>, seq: u64, arrival_ms: i64, pk: &str, data: &[u8]) {
    let body_len = BODY_FIXED + pk.len() + data.len();
    let start = buf.len();
    buf.extend_from_slice(&(body_len as u32).to_le_bytes());
    buf.extend_from_slice(&[0; 4]);
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(&arrival_ms.to_le_bytes());
    buf.extend_from_slice(&(pk.len() as u16).to_le_bytes());
    buf.extend_from_slice(pk.as_bytes());
    buf.extend_from_slice(data);
    let crc = crc32fast::hash(&buf[start + HEADER..]);
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Decode one record at the start of `bytes`: `Ok(None)` if it is incomplete
/// (a torn tail, or the chunk ends mid-record), `Err` if it is corrupt.
fn decode(bytes: &[u8]) -> io::Result<Option<(LogRecord, usize)>> {
    if bytes.len() < HEADER {
        return Ok(None);
    }
    let body_len = u32::from_le_bytes(bytes[0..4].try_into().expect("a slice of the fixed size")) as usize;
    if !(BODY_FIXED..=MAX_BODY).contains(&body_len) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "bad record length"));
    }
    if bytes.len() < HEADER + body_len {
        return Ok(None);
    }
    let crc = u32::from_le_bytes(bytes[4..8].try_into().expect("a slice of the fixed size"));
    let body = &bytes[HEADER..HEADER + body_len];
    if crc32fast::hash(body) != crc {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "record checksum mismatch"));
    }
    let seq = u64::from_le_bytes(body[0..8].try_into().expect("a slice of the fixed size"));
    let arrival_ms = i64::from_le_bytes(body[8..16].try_into().expect("a slice of the fixed size"));
    let pk_len = u16::from_le_bytes(body[16..18].try_into().expect("a slice of the fixed size")) as usize;
    if BODY_FIXED + pk_len > body_len {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "bad key length"));
    }
    let partition_key = String::from_utf8_lossy(&body[18..18 + pk_len]).into_owned();
    let data = body[18 + pk_len..].to_vec();
    Ok(Some((
        LogRecord {
            seq,
            arrival_ms,
            partition_key,
            data,
        },
        HEADER + body_len,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn appends_reads_and_recovers_after_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = ShardLog::open(dir.path(), 4096, true).unwrap();
        let recs: Vec<(String, Vec<u8>)> = (0..300)
            .map(|i| (format!("k{i}"), format!("v{i}").into_bytes()))
            .collect();
        let refs: Vec<(&str, &[u8])> = recs.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
        for chunk in refs.chunks(7) {
            log.append(chunk, 1000).unwrap();
        }
        assert_eq!(log.next_seq(), 301);
        assert!(log.segments.len() > 1, "small segments roll");
        let got = log.read(100, 50, 1 << 20).unwrap();
        assert_eq!(got.len(), 50);
        assert_eq!(got[0].seq, 100);
        assert_eq!(got[0].data, b"v99");
        assert_eq!(got[49].seq, 149);
        drop(log);

        // Simulate a crash mid-write: garbage half-record at the end of the last segment.
        let mut last: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
        last.sort();
        let mut f = OpenOptions::new().append(true).open(last.last().unwrap()).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2]).unwrap();
        drop(f);
        let mut log = ShardLog::open(dir.path(), 4096, true).unwrap();
        assert_eq!(log.next_seq(), 301);
        let first = log.append(&[("k", b"after")], 2000).unwrap();
        assert_eq!(first, 301);
        let got = log.read(300, 10, 1 << 20).unwrap();
        assert_eq!(got.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![300, 301]);
        assert_eq!(got[1].data, b"after");
    }

    #[test]
    fn trims_old_segments_but_never_the_open_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = ShardLog::open(dir.path(), 100, false).unwrap();
        for t in 0..5 {
            log.append(&[("k", &[0u8; 150])], t * 1000).unwrap();
        }
        let dropped = log.trim_before(3500).unwrap();
        assert_eq!(dropped, 4);
        assert_eq!(log.first_seq(), 5);
        assert_eq!(log.read(1, 10, 1 << 20).unwrap()[0].seq, 5);
    }

    #[test]
    fn corruption_before_the_tail_skips_one_record_not_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = ShardLog::open(dir.path(), 4096, false).unwrap();
        for i in 0..300u32 {
            log.append(&[("k", format!("value-{i:05}").as_bytes())], 1000 + i as i64)
                .unwrap();
        }
        drop(log);
        let mut segs: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
        segs.sort();
        assert!(segs.len() > 2);
        // A flipped byte in the data of record 10 (first segment), and a
        // length field smashed in the middle of the last segment.
        let mut first = fs::read(&segs[0]).unwrap();
        let at = first.windows(11).position(|w| w == b"value-00009").unwrap();
        first[at + 6] ^= 0xff;
        fs::write(&segs[0], &first).unwrap();
        let mut tail = fs::read(segs.last().unwrap()).unwrap();
        let record = tail.len() / 2;
        let start = (0..record)
            .rev()
            .find(|&i| decode(&tail[i..]).is_ok_and(|r| r.is_some()))
            .unwrap();
        tail[start..start + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        fs::write(segs.last().unwrap(), &tail).unwrap();

        let log = ShardLog::open(dir.path(), 4096, false).unwrap();
        let r = log.recovered();
        assert_eq!(r.corrupt_records, 2, "{r:?}");
        assert_eq!(r.torn_bytes, 0, "{r:?}");
        assert_eq!(log.next_seq(), 301, "the records after the corruption are kept");
        let all = log.read(1, 1000, 1 << 20).unwrap();
        assert_eq!(all.len(), 298);
        assert!(!all.iter().any(|r| r.seq == 10));
        assert_eq!(all.last().unwrap().data, b"value-00299");
        // Reads that start on either side of a hole step over it.
        assert_eq!(
            log.read(9, 2, 1 << 20)
                .unwrap()
                .iter()
                .map(|r| r.seq)
                .collect::<Vec<_>>(),
            vec![9, 11]
        );
        // The sealed segment was not truncated.
        assert_eq!(fs::read(&segs[0]).unwrap().len(), first.len());
    }
}
