//! One shard of the embedded stream: a durable append-only log in segment
//! files, with a sparse in-memory index. It owns the on-disk format and the
//! crash recovery (a torn tail is cut off at open); it knows nothing of rate
//! limits or iterators.
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
}

/// The records of one shard, on disk.
pub struct ShardLog {
    dir: PathBuf,
    segments: Vec<Segment>,
    segment_bytes: u64,
    fsync: bool,
    buf: Vec<u8>,
}

impl ShardLog {
    /// Open (or create) the log in `dir`, cutting off any torn tail.
    pub fn open(dir: &Path, segment_bytes: u64, fsync: bool) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let mut names: Vec<PathBuf> = fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        names.sort();
        let mut segments = Vec::new();
        for path in names {
            let first_seq: u64 = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| io::Error::other(format!("unexpected file {}", path.display())))?;
            segments.push(Segment::recover(path, first_seq)?);
        }
        let mut log = ShardLog {
            dir: dir.to_path_buf(),
            segments,
            segment_bytes,
            fsync,
            buf: Vec::new(),
        };
        if log.segments.is_empty() {
            log.roll(1)?;
        }
        Ok(log)
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
                while let Some((rec, used)) = decode(&chunk[at..])? {
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
        }
    }

    /// Scan a segment, rebuilding its index and cutting a torn or corrupt tail.
    fn recover(path: PathBuf, first_seq: u64) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        let bytes = fs::read(&path)?;
        let mut seg = Segment::empty(path, file, first_seq);
        let mut at = 0usize;
        while let Ok(Some((rec, used))) = decode(&bytes[at..]) {
            if rec.seq != seg.end_seq {
                break;
            }
            if rec.seq.is_multiple_of(INDEX_EVERY) || rec.seq == first_seq {
                seg.index.push((rec.seq, at as u64, rec.arrival_ms));
            }
            seg.end_seq += 1;
            seg.last_arrival_ms = rec.arrival_ms;
            at += used;
        }
        seg.len = at as u64;
        if (at as u64) < bytes.len() as u64 {
            tracing::warn!(
                segment = %seg.path.display(),
                kept = at,
                cut = bytes.len() - at,
                "cut a torn tail off a stream segment (records never acknowledged)"
            );
            seg.file.set_len(seg.len)?;
        }
        Ok(seg)
    }

    /// Byte offset of the record at `seq` or of an indexed one before it.
    fn position_at_or_before(&self, seq: u64) -> u64 {
        let i = self.index.partition_point(|&(s, _, _)| s <= seq);
        if i == 0 { 0 } else { self.index[i - 1].1 }
    }
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
    let body_len = u32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
    if !(BODY_FIXED..=MAX_BODY).contains(&body_len) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "bad record length"));
    }
    if bytes.len() < HEADER + body_len {
        return Ok(None);
    }
    let crc = u32::from_le_bytes(bytes[4..8].try_into().unwrap());
    let body = &bytes[HEADER..HEADER + body_len];
    if crc32fast::hash(body) != crc {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "record checksum mismatch"));
    }
    let seq = u64::from_le_bytes(body[0..8].try_into().unwrap());
    let arrival_ms = i64::from_le_bytes(body[8..16].try_into().unwrap());
    let pk_len = u16::from_le_bytes(body[16..18].try_into().unwrap()) as usize;
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
}
