//! Dead-letter payloads as text every warehouse stores: the record's bytes
//! as they are when they are UTF-8 without NUL (readable in SQL), else
//! base64 — Redshift's COPY refuses a NUL and neither warehouse takes bytes
//! that are not UTF-8 in a VARCHAR. Either way the bytes come back exactly.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// The Payload column is a VARCHAR(65535).
pub const MAX_PAYLOAD_TEXT: usize = 65_535;
/// Raw bytes whose base64 fits the column.
const MAX_BASE64_BYTES: usize = MAX_PAYLOAD_TEXT / 4 * 3;

/// How a payload is written in the `PayloadEncoding` column.
pub const UTF8: &str = "utf8";
pub const BASE64: &str = "base64";

/// `(encoding, text)` for `bytes`; a payload too long for the column is cut
/// (the row's `PayloadBytes` keeps the whole length).
pub fn encode(bytes: &[u8]) -> (&'static str, String) {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.contains('\0') => (UTF8, clip(s, MAX_PAYLOAD_TEXT).to_string()),
        _ => (BASE64, B64.encode(&bytes[..bytes.len().min(MAX_BASE64_BYTES)])),
    }
}

/// The bytes back from a stored `(encoding, text)`; text with no (or an
/// unknown) encoding is taken as written (rows from before the column).
pub fn decode(encoding: Option<&str>, text: &str) -> Vec<u8> {
    match encoding {
        Some(BASE64) => B64.decode(text).unwrap_or_else(|_| text.as_bytes().to_vec()),
        _ => text.as_bytes().to_vec(),
    }
}

/// Bytes shown to a person: UTF-8 as it is, anything else escaped.
pub fn show(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.contains('\0') => s.to_string(),
        _ => bytes.escape_ascii().to_string(),
    }
}

/// Text safe for any VARCHAR: NUL and other control characters (but tab
/// and newline) escaped, cut to `max` bytes.
pub fn clean_text(s: &str, max: usize) -> String {
    let cleaned: String = if s.chars().any(|c| c.is_control() && c != '\t' && c != '\n') {
        s.chars()
            .map(|c| {
                if c.is_control() && c != '\t' && c != '\n' {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        s.to_string()
    };
    clip(&cleaned, max).to_string()
}

/// Longest prefix of `s` of at most `max` bytes, on a char boundary.
pub fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_bytes_come_back_exactly() {
        let cases: [&[u8]; 5] = [
            b"{\"OrderID\": 1}",
            b"nul \0 inside",
            &[0xff, 0xfe, b'{', 0x80],
            "é 🚚".as_bytes(),
            b"",
        ];
        for bytes in cases {
            let (enc, text) = encode(bytes);
            assert!(!text.contains('\0'));
            assert_eq!(decode(Some(enc), &text), bytes, "{enc} {text}");
        }
        assert_eq!(encode(b"plain").0, UTF8);
        assert_eq!(encode(b"\0").0, BASE64);
        assert_eq!(show(&[b'a', 0, 0xff]), "a\\x00\\xff");
        // Too long for the column: cut, still decodable.
        let big = vec![0u8; 100_000];
        let (enc, text) = encode(&big);
        assert!(text.len() <= MAX_PAYLOAD_TEXT);
        assert_eq!(decode(Some(enc), &text), vec![0u8; MAX_BASE64_BYTES]);
        assert_eq!(clean_text("a\0b\u{7}c\td", 100), "a\\u{0}b\\u{7}c\td");
        assert_eq!(clean_text("ééé", 3), "é");
    }
}
