//! Redshift's `COPY table FROM 's3://bucket/key' …` for the emulated Data
//! API, with Redshift's semantics for the source: `key` is a prefix — every
//! object whose key begins with it is loaded — unless `MANIFEST` is given,
//! when the object is a JSON manifest naming exactly the objects to load
//! (`{"entries": [{"url": "s3://…", "mandatory": true}]}`). Objects are
//! fetched from an S3 endpoint (or courier's object directory), un-gzipped
//! if asked, and loaded into the DuckDB table.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error;
use aws_sdk_s3::primitives::ByteStreamError;
use aws_smithy_types::error::display::DisplayErrorContext;
use duckdb::Connection;

use crate::backend::ObjectUri;
use crate::backend::objects::UriError;

/// Where `s3://` objects come from.
pub enum CopySource {
    /// An S3-compatible endpoint (moto, LocalStack, S3 itself).
    S3(aws_sdk_s3::Client),
    /// `<dir>/<bucket>/<key>`, as the embedded object store keeps them.
    Dir(PathBuf),
}

/// A parsed COPY statement.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyCommand {
    pub table: String,
    pub source: ObjectUri,
    pub gzip: bool,
    pub ignore_header: u64,
    pub delimiter: char,
    pub quote: char,
    /// The source is a manifest, not a prefix.
    pub manifest: bool,
}

/// Objects a manifest may name; Redshift's own limit is far higher, but a
/// dimension or a micro-batch names one.
const MAX_MANIFEST_ENTRIES: usize = 1000;
/// Objects a prefix may match.
const MAX_PREFIX_OBJECTS: usize = 1000;

/// Why a COPY statement can't be run as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CopyParseError {
    #[error("syntax error: unterminated quoted string in COPY")]
    UnterminatedQuote,
    #[error("syntax error: COPY needs a table name")]
    NoTable,
    #[error("syntax error: expected FROM after the COPY table (column lists are not supported)")]
    NoFrom,
    #[error("syntax error: COPY … FROM needs a quoted 's3://bucket/key'")]
    UnquotedSource,
    #[error("COPY source: {0}")]
    Source(UriError),
    /// The option at this word needs a quoted value after it.
    #[error("syntax error: COPY option at word {0} needs a quoted value")]
    NeedsQuoted(usize),
    #[error("syntax error: IGNOREHEADER needs a number")]
    IgnoreHeader,
    #[error("syntax error: empty QUOTE or DELIMITER")]
    EmptyChar,
    #[error("COPY option {0} is not supported by courier emulate")]
    Unsupported(String),
}

/// Why a COPY failed: its source objects, or loading them.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("reading {uri}: {error}")]
    Read { uri: ObjectUri, error: std::io::Error },
    #[error("reading {uri}: {error}")]
    ReadBody { uri: ObjectUri, error: ByteStreamError },
    #[error("S3 GetObject {uri}: {}", DisplayErrorContext(.error))]
    GetObject {
        uri: ObjectUri,
        error: Box<SdkError<GetObjectError>>,
    },
    #[error("listing {prefix}: {error}")]
    List { prefix: ObjectUri, error: std::io::Error },
    #[error("S3 ListObjectsV2 {prefix}: {}", DisplayErrorContext(.error))]
    ListObjects {
        prefix: ObjectUri,
        error: Box<SdkError<ListObjectsV2Error>>,
    },
    #[error("prefix {0} matches more than {MAX_PREFIX_OBJECTS} objects (courier emulate's limit)")]
    TooManyObjects(ObjectUri),
    #[error("The specified S3 prefix '{0}' does not exist")]
    NoSuchPrefix(String),
    #[error("{0} was deleted during the COPY")]
    Deleted(ObjectUri),
    #[error("Manifest file {0} does not exist")]
    NoManifest(ObjectUri),
    #[error("Manifest file {uri} is not a valid manifest: {error}")]
    BadManifest { uri: ObjectUri, error: serde_json::Error },
    #[error("Manifest file {uri} names {entries} objects; courier emulate takes at most {MAX_MANIFEST_ENTRIES}")]
    ManifestTooLong { uri: ObjectUri, entries: usize },
    #[error("Manifest file {uri}: entry {url:?}: {error}")]
    ManifestEntry {
        uri: ObjectUri,
        url: String,
        error: UriError,
    },
    #[error("Manifest file {uri}: mandatory file {entry} does not exist")]
    MissingMandatory { uri: ObjectUri, entry: ObjectUri },
    #[error("Load into table '{table}' failed: {uri} is not valid gzip: {error}")]
    BadGzip {
        table: String,
        uri: ObjectUri,
        error: std::io::Error,
    },
    #[error("Load into table '{table}' failed: {uri} holds more than {} MiB (courier emulate's limit)", MAX_OBJECT_BYTES >> 20)]
    TooLarge { table: String, uri: ObjectUri },
    #[error("Load into table '{table}' from {uri} failed: {error}")]
    Load {
        table: String,
        uri: ObjectUri,
        error: Box<duckdb::Error>,
    },
    #[error(transparent)]
    Scratch(#[from] ScratchDirError),
    #[error("writing {}: {error}", path.display())]
    WriteTemp { path: PathBuf, error: std::io::Error },
}

/// The scratch directory for COPY's files could not be made (kept, so
/// every caller gets the same answer).
#[derive(Debug, Clone, thiserror::Error)]
#[error("creating {}: {error}", dir.display())]
pub struct ScratchDirError {
    dir: PathBuf,
    error: Arc<std::io::Error>,
}

/// Split SQL into words and quoted strings ('…' with '' escapes).
fn tokens(sql: &str) -> Result<Vec<(bool, String)>, CopyParseError> {
    let mut out = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() || c == ';' {
            chars.next();
        } else if c == '\'' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    Some('\'') if chars.peek() == Some(&'\'') => {
                        chars.next();
                        s.push('\'');
                    }
                    Some('\'') => break,
                    Some(ch) => s.push(ch),
                    None => return Err(CopyParseError::UnterminatedQuote),
                }
            }
            out.push((true, s));
        } else {
            let mut w = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() || ch == '\'' || ch == ';' {
                    break;
                }
                w.push(ch);
                chars.next();
            }
            out.push((false, w));
        }
    }
    Ok(out)
}

/// `Ok(None)` when `sql` is not a COPY; an error when it is one we can't run.
pub fn parse_copy(sql: &str) -> Result<Option<CopyCommand>, CopyParseError> {
    // Only a statement that starts (after comments) with COPY is one; the
    // rest — whose comments may hold a lone quote — is not tokenized here.
    let mut rest = sql.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else {
            break;
        }
    }
    let first: String = rest.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    if !first.eq_ignore_ascii_case("COPY") {
        return Ok(None);
    }
    let t = tokens(rest)?;
    let word = |i: usize| t.get(i).filter(|(q, _)| !q).map(|(_, w)| w.to_ascii_uppercase());
    if word(0).as_deref() != Some("COPY") {
        return Ok(None);
    }
    let table = match t.get(1) {
        Some((false, w)) if w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') => w.clone(),
        _ => return Err(CopyParseError::NoTable),
    };
    if word(2).as_deref() != Some("FROM") {
        return Err(CopyParseError::NoFrom);
    }
    let source = match t.get(3) {
        Some((true, s)) => ObjectUri::parse(s).map_err(CopyParseError::Source)?,
        _ => return Err(CopyParseError::UnquotedSource),
    };
    let mut copy = CopyCommand {
        table,
        source,
        gzip: false,
        ignore_header: 0,
        delimiter: ',',
        quote: '"',
        manifest: false,
    };
    let mut i = 4;
    let quoted = |i: usize| match t.get(i) {
        Some((true, s)) => Ok(s.clone()),
        _ => Err(CopyParseError::NeedsQuoted(i)),
    };
    while i < t.len() {
        let w = word(i).unwrap_or_default();
        let skip_as = |i: usize| {
            if word(i + 1).as_deref() == Some("AS") {
                i + 2
            } else {
                i + 1
            }
        };
        match w.as_str() {
            "GZIP" => copy.gzip = true,
            "MANIFEST" => copy.manifest = true,
            "CSV" => {}
            "FORMAT" => i = skip_as(i), // FORMAT [AS] CSV
            "IGNOREHEADER" => {
                i = skip_as(i);
                copy.ignore_header = word(i)
                    .and_then(|n| n.parse().ok())
                    .ok_or(CopyParseError::IgnoreHeader)?;
            }
            "QUOTE" | "DELIMITER" => {
                i = skip_as(i);
                let v = quoted(i)?;
                let c = v.chars().next().ok_or(CopyParseError::EmptyChar)?;
                if w == "QUOTE" {
                    copy.quote = c;
                } else {
                    copy.delimiter = c;
                }
            }
            // Credentials, region and formats Redshift needs; nothing to do here.
            "IAM_ROLE" | "REGION" | "DATEFORMAT" | "TIMEFORMAT" | "CREDENTIALS" | "ACCEPTINVCHARS" => {
                i = skip_as(i);
            }
            "EMPTYASNULL" | "BLANKSASNULL" | "TRUNCATECOLUMNS" | "COMPUPDATE" | "STATUPDATE" | "OFF" | "ON"
            | "DEFAULT" => {}
            other => return Err(CopyParseError::Unsupported(other.to_string())),
        }
        i += 1;
    }
    Ok(Some(copy))
}

fn fetch(source: &CopySource, uri: &ObjectUri) -> Result<Option<Vec<u8>>, CopyError> {
    match source {
        CopySource::Dir(dir) => match std::fs::read(dir.join(&uri.bucket).join(&uri.key)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(CopyError::Read {
                uri: uri.clone(),
                error,
            }),
        },
        CopySource::S3(client) => {
            let handle = tokio::runtime::Handle::current();
            handle.block_on(async {
                let out = match client.get_object().bucket(&uri.bucket).key(&uri.key).send().await {
                    Ok(out) => out,
                    Err(e) => {
                        use aws_sdk_s3::error::ProvideErrorMetadata;
                        return match e.code() {
                            Some("NoSuchKey" | "NoSuchBucket" | "NotFound") => Ok(None),
                            _ => Err(CopyError::GetObject {
                                uri: uri.clone(),
                                error: Box::new(e),
                            }),
                        };
                    }
                };
                let body = out.body.collect().await.map_err(|error| CopyError::ReadBody {
                    uri: uri.clone(),
                    error,
                })?;
                Ok(Some(body.into_bytes().to_vec()))
            })
        }
    }
}

/// Every object whose key begins with `prefix.key`, in key order.
fn list_prefix(source: &CopySource, prefix: &ObjectUri) -> Result<Vec<ObjectUri>, CopyError> {
    let too_many = || CopyError::TooManyObjects(prefix.clone());
    let listing = |error| CopyError::List {
        prefix: prefix.clone(),
        error,
    };
    let mut keys = Vec::new();
    match source {
        CopySource::Dir(dir) => {
            let bucket = dir.join(&prefix.bucket);
            // Only the directory the prefix ends in can hold matches.
            let (sub, _) = prefix.key.rsplit_once('/').unwrap_or(("", ""));
            let walk = bucket.join(sub);
            let entries = match std::fs::read_dir(&walk) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(listing(e)),
            };
            let mut stack: Vec<std::fs::DirEntry> = entries.filter_map(Result::ok).collect();
            while let Some(entry) = stack.pop() {
                let path = entry.path();
                let Ok(rel) = path.strip_prefix(&bucket) else { continue };
                let key = rel.to_string_lossy().replace('\\', "/");
                if path.is_dir() {
                    if prefix.key.starts_with(&format!("{key}/")) || key.starts_with(&prefix.key) {
                        stack.extend(std::fs::read_dir(&path).map_err(listing)?.filter_map(Result::ok));
                    }
                } else if key.starts_with(&prefix.key) {
                    keys.push(key);
                    if keys.len() > MAX_PREFIX_OBJECTS {
                        return Err(too_many());
                    }
                }
            }
        }
        CopySource::S3(client) => {
            let handle = tokio::runtime::Handle::current();
            handle.block_on(async {
                let mut token = None;
                loop {
                    let out = client
                        .list_objects_v2()
                        .bucket(&prefix.bucket)
                        .prefix(&prefix.key)
                        .set_continuation_token(token.take())
                        .send()
                        .await
                        .map_err(|e| CopyError::ListObjects {
                            prefix: prefix.clone(),
                            error: Box::new(e),
                        })?;
                    keys.extend(out.contents().iter().filter_map(|o| o.key().map(str::to_string)));
                    if keys.len() > MAX_PREFIX_OBJECTS {
                        return Err(too_many());
                    }
                    match out.next_continuation_token() {
                        Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_string()),
                        _ => return Ok(()),
                    }
                }
            })?;
        }
    }
    keys.sort();
    Ok(keys
        .into_iter()
        .map(|key| ObjectUri {
            bucket: prefix.bucket.clone(),
            key,
        })
        .collect())
}

#[derive(serde::Deserialize)]
struct Manifest {
    entries: Vec<ManifestEntry>,
}

#[derive(serde::Deserialize)]
struct ManifestEntry {
    url: String,
    #[serde(default)]
    mandatory: bool,
}

/// The objects a COPY loads, each with its bytes.
fn sources(source: &CopySource, copy: &CopyCommand) -> Result<Vec<(ObjectUri, Vec<u8>)>, CopyError> {
    let uri = &copy.source;
    if copy.manifest {
        let raw = fetch(source, uri)?.ok_or_else(|| CopyError::NoManifest(uri.clone()))?;
        let m: Manifest = serde_json::from_slice(&raw).map_err(|error| CopyError::BadManifest {
            uri: uri.clone(),
            error,
        })?;
        if m.entries.len() > MAX_MANIFEST_ENTRIES {
            return Err(CopyError::ManifestTooLong {
                uri: uri.clone(),
                entries: m.entries.len(),
            });
        }
        let mut out = Vec::new();
        for e in m.entries {
            let entry = match ObjectUri::parse(&e.url) {
                Ok(entry) => entry,
                Err(error) => {
                    return Err(CopyError::ManifestEntry {
                        uri: uri.clone(),
                        url: e.url,
                        error,
                    });
                }
            };
            match fetch(source, &entry)? {
                Some(b) => out.push((entry, b)),
                None if e.mandatory => {
                    return Err(CopyError::MissingMandatory {
                        uri: uri.clone(),
                        entry,
                    });
                }
                None => {}
            }
        }
        return Ok(out);
    }
    let matches = list_prefix(source, uri)?;
    if matches.is_empty() {
        return Err(CopyError::NoSuchPrefix(uri.key.clone()));
    }
    let mut out = Vec::with_capacity(matches.len());
    for m in matches {
        // Listed a moment ago; gone now means someone deleted it meanwhile.
        let Some(b) = fetch(source, &m)? else {
            return Err(CopyError::Deleted(m));
        };
        out.push((m, b));
    }
    Ok(out)
}

/// Most bytes one object may hold once un-gzipped (a gzip bomb is refused,
/// not unpacked into memory).
const MAX_OBJECT_BYTES: u64 = 512 << 20;

/// Fetch the objects and load them into the table on `conn` (inside the
/// caller's transaction). Returns the rows loaded.
pub fn run_copy(conn: &Connection, source: &CopySource, copy: &CopyCommand) -> Result<usize, CopyError> {
    let mut rows = 0;
    for (uri, raw) in sources(source, copy)? {
        let data = if copy.gzip {
            let mut out = Vec::new();
            if let Err(error) = flate2::read::GzDecoder::new(raw.as_slice())
                .take(MAX_OBJECT_BYTES + 1)
                .read_to_end(&mut out)
            {
                return Err(CopyError::BadGzip {
                    table: copy.table.clone(),
                    uri,
                    error,
                });
            }
            out
        } else {
            raw
        };
        if data.len() as u64 > MAX_OBJECT_BYTES {
            return Err(CopyError::TooLarge {
                table: copy.table.clone(),
                uri,
            });
        }
        let file = tempfile_in_tmp(&data)?;
        let lit = |c: char| format!("'{}'", c.to_string().replace('\'', "''"));
        let sql = format!(
            "COPY {} FROM '{}' (FORMAT csv, HEADER false, SKIP {}, DELIMITER {}, QUOTE {}, ESCAPE {})",
            copy.table,
            file.path.display().to_string().replace('\'', "''"),
            copy.ignore_header,
            lit(copy.delimiter),
            lit(copy.quote),
            lit(copy.quote),
        );
        rows += match conn.execute(&sql, []) {
            Ok(n) => n,
            Err(error) => {
                return Err(CopyError::Load {
                    table: copy.table.clone(),
                    uri,
                    error: Box::new(error),
                });
            }
        };
    }
    Ok(rows)
}

/// A temp file removed on drop.
struct TempFile {
    path: PathBuf,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// This process's private directory (0700) for the files COPY hands
/// DuckDB: the only place the emulator's DuckDB may read.
pub fn scratch_dir() -> Result<&'static std::path::Path, ScratchDirError> {
    static DIR: std::sync::OnceLock<Result<PathBuf, ScratchDirError>> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        use std::os::unix::fs::DirBuilderExt;
        let dir = std::env::temp_dir().join(format!(
            "courier-emulate-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| ScratchDirError {
                dir: dir.clone(),
                error: Arc::new(e),
            })?;
        Ok(dir)
    })
    .as_ref()
    .map(PathBuf::as_path)
    .map_err(Clone::clone)
}

fn tempfile_in_tmp(data: &[u8]) -> Result<TempFile, CopyError> {
    let name: u64 = rand::random();
    let path = scratch_dir()?.join(format!("copy-{name:016x}.csv"));
    if let Err(error) = std::fs::write(&path, data) {
        return Err(CopyError::WriteTemp { path, error });
    }
    Ok(TempFile { path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_courier_copy_statements() {
        let c = parse_copy(
            "COPY food.dimCustomers FROM 's3://courier-data/dims/dimCustomers.csv' IAM_ROLE \
             'arn:aws:iam::123456789012:role/x' CSV IGNOREHEADER 1 QUOTE AS '\"'",
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.table, "food.dimCustomers");
        assert_eq!(c.source.to_string(), "s3://courier-data/dims/dimCustomers.csv");
        assert_eq!((c.ignore_header, c.quote, c.gzip), (1, '"', false));
        let g = parse_copy("copy stage from 's3://bkt/k.csv.gz' iam_role 'r' csv gzip ignoreheader 1")
            .unwrap()
            .unwrap();
        assert!(g.gzip);
        assert_eq!(parse_copy("SELECT 1").unwrap(), None);
        assert_eq!(parse_copy("-- it's a table\nCREATE TABLE t (a INT)").unwrap(), None);
        assert!(parse_copy("/* load */ COPY t FROM 's3://bkt/k' CSV").unwrap().is_some());
        assert!(parse_copy("COPY t FROM 'http://x/y'").is_err());
        assert!(
            parse_copy("COPY t FROM 's3://bkt/k' MANIFEST")
                .unwrap()
                .unwrap()
                .manifest
        );
        assert!(
            parse_copy("COPY t FROM 's3://bkt/k' ENCRYPTED")
                .unwrap_err()
                .to_string()
                .contains("ENCRYPTED")
        );
    }

    #[test]
    fn a_key_is_a_prefix_unless_a_manifest_names_the_objects() {
        let dir = tempfile::tempdir().unwrap();
        let dims = dir.path().join("bkt/dims");
        std::fs::create_dir_all(&dims).unwrap();
        std::fs::write(dims.join("d.csv"), "id\n1\n2\n").unwrap();
        std::fs::write(dims.join("d.csv.bak"), "id\n3\n").unwrap();
        std::fs::write(dims.join("other.csv"), "id\n4\n").unwrap();
        let manifest = |name: &str, url: &str| {
            let body = format!(r#"{{"entries": [{{"url": "{url}", "mandatory": true}}]}}"#);
            std::fs::write(dir.path().join("bkt").join(name), body).unwrap();
        };
        manifest("m.json", "s3://bkt/dims/d.csv");
        manifest("gone.json", "s3://bkt/dims/gone.csv");
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id INT)").unwrap();
        let src = CopySource::Dir(dir.path().to_path_buf());
        let copy = |sql: &str| run_copy(&conn, &src, &parse_copy(sql).unwrap().unwrap()).map_err(|e| e.to_string());
        // As Redshift: the .bak beside it begins with the same key.
        assert_eq!(copy("COPY t FROM 's3://bkt/dims/d.csv' CSV IGNOREHEADER 1"), Ok(3));
        assert_eq!(copy("COPY t FROM 's3://bkt/m.json' CSV IGNOREHEADER 1 MANIFEST"), Ok(2));
        let err = copy("COPY t FROM 's3://bkt/gone.json' CSV IGNOREHEADER 1 MANIFEST").unwrap_err();
        assert!(
            err.contains("mandatory file s3://bkt/dims/gone.csv does not exist"),
            "{err}"
        );
        let err = copy("COPY t FROM 's3://bkt/dims/nothing' CSV").unwrap_err();
        assert!(err.contains("prefix 'dims/nothing' does not exist"), "{err}");
        let err = copy("COPY t FROM 's3://bkt/nope.json' CSV MANIFEST").unwrap_err();
        assert!(err.contains("Manifest file s3://bkt/nope.json does not exist"), "{err}");
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 5);
    }
}
