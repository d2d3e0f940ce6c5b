//! Redshift's `COPY table FROM 's3://bucket/key' …` for the emulated Data
//! API: the object is fetched from an S3 endpoint (or courier's object
//! directory), un-gzipped if asked, and loaded into the DuckDB table.

use std::io::Read;
use std::path::PathBuf;

use duckdb::Connection;

use crate::backend::ObjectUri;

/// Where `s3://` objects come from.
pub enum CopySource {
    /// An S3-compatible endpoint (moto, LocalStack, S3 itself).
    S3(aws_sdk_s3::Client),
    /// `<dir>/<bucket>/<key>`, as the embedded object store keeps them.
    Dir(PathBuf),
}

/// A parsed COPY statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Copy {
    pub table: String,
    pub source: ObjectUri,
    pub gzip: bool,
    pub ignore_header: u64,
    pub delimiter: char,
    pub quote: char,
}

/// Split SQL into words and quoted strings ('…' with '' escapes).
fn tokens(sql: &str) -> Result<Vec<(bool, String)>, String> {
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
                    None => return Err("syntax error: unterminated quoted string in COPY".into()),
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
pub fn parse_copy(sql: &str) -> Result<Option<Copy>, String> {
    let t = tokens(sql)?;
    let word = |i: usize| t.get(i).filter(|(q, _)| !q).map(|(_, w)| w.to_ascii_uppercase());
    if word(0).as_deref() != Some("COPY") {
        return Ok(None);
    }
    let table = match t.get(1) {
        Some((false, w)) if w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') => w.clone(),
        _ => return Err("syntax error: COPY needs a table name".into()),
    };
    if word(2).as_deref() != Some("FROM") {
        return Err("syntax error: expected FROM after the COPY table (column lists are not supported)".into());
    }
    let source = match t.get(3) {
        Some((true, s)) => ObjectUri::parse(s).map_err(|e| format!("COPY source: {e}"))?,
        _ => return Err("syntax error: COPY … FROM needs a quoted 's3://bucket/key'".into()),
    };
    let mut copy = Copy {
        table,
        source,
        gzip: false,
        ignore_header: 0,
        delimiter: ',',
        quote: '"',
    };
    let mut i = 4;
    let quoted = |i: usize| match t.get(i) {
        Some((true, s)) => Ok(s.clone()),
        _ => Err(format!("syntax error: COPY option at word {i} needs a quoted value")),
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
            "CSV" => {}
            "FORMAT" => i = skip_as(i), // FORMAT [AS] CSV
            "IGNOREHEADER" => {
                i = skip_as(i);
                copy.ignore_header = word(i)
                    .and_then(|n| n.parse().ok())
                    .ok_or("syntax error: IGNOREHEADER needs a number")?;
            }
            "QUOTE" | "DELIMITER" => {
                i = skip_as(i);
                let v = quoted(i)?;
                let c = v.chars().next().ok_or("syntax error: empty QUOTE or DELIMITER")?;
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
            other => return Err(format!("COPY option {other} is not supported by courier emulate")),
        }
        i += 1;
    }
    Ok(Some(copy))
}

fn fetch(source: &CopySource, uri: &ObjectUri) -> Result<Vec<u8>, String> {
    let missing = || format!("The specified S3 prefix '{}' does not exist", uri.key);
    match source {
        CopySource::Dir(dir) => std::fs::read(dir.join(&uri.bucket).join(&uri.key)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => missing(),
            _ => format!("reading {uri}: {e}"),
        }),
        CopySource::S3(client) => {
            let handle = tokio::runtime::Handle::current();
            handle.block_on(async {
                let out = client
                    .get_object()
                    .bucket(&uri.bucket)
                    .key(&uri.key)
                    .send()
                    .await
                    .map_err(|e| {
                        use aws_sdk_s3::error::ProvideErrorMetadata;
                        match e.code() {
                            Some("NoSuchKey" | "NoSuchBucket" | "NotFound") => missing(),
                            _ => format!(
                                "S3 GetObject {uri}: {}",
                                aws_smithy_types::error::display::DisplayErrorContext(&e)
                            ),
                        }
                    })?;
                let body = out.body.collect().await.map_err(|e| format!("reading {uri}: {e}"))?;
                Ok(body.into_bytes().to_vec())
            })
        }
    }
}

/// Fetch the object and load it into the table on `conn` (inside the
/// caller's transaction). Returns the rows loaded.
pub fn run_copy(conn: &Connection, source: &CopySource, copy: &Copy) -> Result<usize, String> {
    let raw = fetch(source, &copy.source)?;
    let data = if copy.gzip {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| {
                format!(
                    "Load into table '{}' failed: {} is not valid gzip: {e}",
                    copy.table, copy.source
                )
            })?;
        out
    } else {
        raw
    };
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
    conn.execute(&sql, [])
        .map_err(|e| format!("Load into table '{}' from {} failed: {e}", copy.table, copy.source))
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

fn tempfile_in_tmp(data: &[u8]) -> Result<TempFile, String> {
    let name: u64 = rand::random();
    let path = std::env::temp_dir().join(format!("courier-emulate-copy-{}-{name:016x}.csv", std::process::id()));
    std::fs::write(&path, data).map_err(|e| format!("writing {}: {e}", path.display()))?;
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
        assert!(parse_copy("COPY t FROM 'http://x/y'").is_err());
        assert!(
            parse_copy("COPY t FROM 's3://bkt/k' MANIFEST")
                .unwrap_err()
                .contains("MANIFEST")
        );
    }
}
