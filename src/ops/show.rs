//! The operator actions' answers as text for the command line (and the
//! console's overlays): records decoded and pretty, traces, dead letters.

use std::fmt::Write as _;

use super::dlq::{DeadLetterView, RedriveReport};
use super::records::{RecordView, TailPage, Trace};

/// A record's JSON pretty-printed, or its text.
pub fn body(r: &RecordView) -> String {
    match &r.json {
        Some(j) => serde_json::to_string_pretty(j).unwrap_or_else(|_| r.text.clone()),
        None => r.text.clone(),
    }
}

pub fn record_header(r: &RecordView) -> String {
    format!(
        "{}  seq {}  {}  {} B  key {}",
        r.shard_id,
        r.sequence_number,
        r.arrival(),
        r.bytes,
        r.partition_key
    )
}

pub fn records(page: &TailPage) -> String {
    let mut out = String::new();
    for r in &page.records {
        let _ = writeln!(out, "{}", record_header(r));
        for line in body(r).lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    let _ = writeln!(
        out,
        "{}",
        read_note(page.records.len(), page.scanned, page.throttled, page.stopped_short)
    );
    out
}

fn read_note(shown: usize, scanned: u64, throttled: u64, short: bool) -> String {
    let mut note = format!("{shown} record(s) shown, {scanned} read");
    if throttled > 0 {
        let _ = write!(note, "; {throttled} read(s) throttled by the shard and waited out");
    }
    if short {
        note.push_str("; stopped at the read bound (the ingester keeps its share): there may be more");
    }
    note
}

pub fn trace(t: &Trace) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "order {} → {} (its partition key hashes there)",
        t.order_id, t.shard_id
    );
    let _ = writeln!(out, "\nevents in the stream: {}", t.events.len());
    for e in &t.events {
        let status = e
            .json
            .as_ref()
            .and_then(|j| j.get("OrderStatus"))
            .and_then(|s| s.as_str())
            .unwrap_or("?");
        let _ = writeln!(
            out,
            "  {:<11} seq {}  arrived {}",
            status,
            e.sequence_number,
            e.arrival()
        );
    }
    let _ = writeln!(
        out,
        "  ({})",
        read_note(t.events.len(), t.scanned, t.throttled, t.stopped_short)
    );
    match &t.row {
        Some(row) => {
            let _ = writeln!(out, "\nfactOrders row:");
            for (c, v) in row {
                let _ = writeln!(out, "  {c:<15} {}", v.as_deref().unwrap_or("NULL"));
            }
            if let Some(ms) = t.freshness_ms {
                let _ = writeln!(out, "  {:<15} {ms} ms (emitted → visible)", "freshness");
            }
        }
        None => {
            let _ = writeln!(out, "\nfactOrders row: none");
        }
    }
    let _ = writeln!(out, "\ndead letters: {}", t.dead_letters.len());
    for d in &t.dead_letters {
        let _ = writeln!(out, "  {} seq {}: {}", d.shard_id, d.sequence_number, d.reason);
    }
    out
}

fn clip(s: &str, n: usize) -> String {
    let one_line: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if one_line.chars().count() <= n {
        one_line
    } else {
        one_line.chars().take(n.saturating_sub(1)).collect::<String>() + "…"
    }
}

pub fn dead_letters(list: &[DeadLetterView]) -> String {
    if list.is_empty() {
        return "no dead letters\n".into();
    }
    let rs = crate::backend::ResultSet {
        columns: ["arrived", "shard", "seq", "tries", "state", "reason", "payload"]
            .map(String::from)
            .to_vec(),
        rows: list
            .iter()
            .map(|d| {
                vec![
                    d.arrival_time.clone(),
                    Some(d.shard_id.clone()),
                    Some(d.sequence_number.clone()),
                    d.attempts.map(|a| a.to_string()),
                    Some(if d.redriven_at.is_some() { "redriven" } else { "dead" }.to_string()),
                    Some(clip(&d.reason, 60)),
                    Some(clip(&d.payload, 50)),
                ]
            })
            .collect(),
    };
    crate::table::aligned(&rs)
}

pub fn dead_letter(d: &DeadLetterView) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "stream       {}", d.stream);
    let _ = writeln!(out, "shard        {}", d.shard_id);
    let _ = writeln!(out, "sequence     {}", d.sequence_number);
    let _ = writeln!(out, "arrived      {}", d.arrival_time.as_deref().unwrap_or("?"));
    let _ = writeln!(out, "dead since   {}", d.dead_at.as_deref().unwrap_or("?"));
    let _ = writeln!(out, "attempts     {}", d.attempts.map_or("?".into(), |a| a.to_string()));
    let _ = writeln!(out, "redriven     {}", d.redriven_at.as_deref().unwrap_or("no"));
    let _ = writeln!(out, "reason       {}", d.reason);
    let _ = writeln!(
        out,
        "payload      {} bytes{}",
        d.payload_bytes.map_or("?".into(), |b| b.to_string()),
        if d.binary { ", not text: bytes escaped" } else { "" }
    );
    let pretty = serde_json::from_str::<serde_json::Value>(&d.payload)
        .ok()
        .and_then(|j| serde_json::to_string_pretty(&j).ok())
        .unwrap_or_else(|| d.payload.clone());
    for line in pretty.lines() {
        let _ = writeln!(out, "  {line}");
    }
    out
}

pub fn redriven(r: &RedriveReport) -> String {
    let mut out = format!(
        "redrive: {} tried, {} loaded into factOrders (marked redriven), {} failed again\n",
        r.tried, r.loaded, r.failed_again
    );
    for (shard, seq, reason) in &r.failures {
        let _ = writeln!(out, "  {shard} seq {seq}: {reason}");
    }
    if r.more_left {
        out.push_str("more dead letters match: run it again for the next ones\n");
    }
    out
}
