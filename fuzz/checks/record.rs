//! The `record` target's check, shared with the corpus replay test
//! (`crates/server-session/tests/fuzz_corpus.rs`).
//!
//! Input: a mode byte, then either the stored bytes themselves or bytes read
//! with `arbitrary` as a JSON document built to reach the deep paths (a
//! `cookie` object whose fields hold values of every type, dates in every
//! form `Date.parse` might meet, strings with lone surrogate escapes,
//! reserved keys) that random bytes rarely form.

use std::fmt::Write as _;

use arbitrary::{Arbitrary, Unstructured};
use server_session::store::Record;
use server_session::StoreError;

/// express's reserved `req.session` properties, which a record never keeps
/// as data (a copy of the library's list, as an oracle).
const RESERVED_KEYS: &[&str] = &[
    "cookie",
    "req",
    "id",
    "touch",
    "resetMaxAge",
    "save",
    "reload",
    "destroy",
    "regenerate",
    "constructor",
    "__proto__",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toLocaleString",
    "toString",
    "valueOf",
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
];

/// JavaScript's last date, in milliseconds from the epoch either way.
const JS_DATE_LIMIT_MS: i64 = 8_640_000_000_000_000;

/// `from_json` never panics and fails only with `Corrupt`; a record it
/// reads writes JSON that starts with express's `cookie` (after any
/// array-index keys, as JavaScript orders them), reads back as an
/// equal record and writes the same bytes again; its data is exactly the
/// stored object's (serde_json's reading, where that succeeds) less the
/// reserved keys, and its expiry is a JavaScript date.
pub(crate) fn check(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        check_stored(rest);
    } else if let Ok(document) = Document::arbitrary_take_rest(Unstructured::new(rest)) {
        let mut json = String::new();
        document.write(&mut json);
        check_stored(json.as_bytes());
    }
}

fn check_stored(stored: &[u8]) {
    let record = match Record::from_json(stored) {
        Ok(record) => record,
        Err(StoreError::Corrupt { .. }) => return,
        Err(error) => panic!("not Corrupt: {error:?}"),
    };

    let json = record.to_json();
    assert_eq!(record.to_json_vec(), json.as_bytes());
    // express's `cookie` comes first, but after array-index keys ("2"),
    // which JavaScript enumerates before every other key.
    let digit_keys = record
        .data()
        .keys()
        .any(|key| !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()));
    if digit_keys {
        assert!(json.contains(r#""cookie":{"originalMaxAge":"#), "{json}");
    } else {
        assert!(
            json.starts_with(r#"{"cookie":{"originalMaxAge":"#),
            "{json}"
        );
    }
    let again = Record::from_json(json.as_bytes())
        .unwrap_or_else(|error| panic!("{json} does not read back: {error}"));
    assert_eq!(again, record, "{json}");
    assert_eq!(again.to_json(), json);

    for key in record.data().keys() {
        assert!(!RESERVED_KEYS.contains(&key.as_str()), "{key:?} kept");
    }
    // Dropping reserved keys again changes nothing.
    assert_eq!(
        Record::new(record.cookie().clone(), record.data().clone()),
        record
    );
    if let Some(expires) = record.expires_ms() {
        assert!(expires.unsigned_abs() <= JS_DATE_LIMIT_MS.unsigned_abs());
    }

    // serde_json reads the data the same way (where it reads the text at
    // all: a lone surrogate escape makes it refuse).
    if let Ok(serde_json::Value::Object(mut object)) =
        serde_json::from_slice::<serde_json::Value>(stored)
    {
        object.retain(|key, _| !RESERVED_KEYS.contains(&key.as_str()));
        assert_eq!(record.data(), &object);
    }
}

/// A stored record, as JSON text: members in order, `cookie` among them (or
/// not), duplicates allowed.
#[derive(Arbitrary, Debug)]
struct Document {
    before: Vec<(Key, Json)>,
    cookie: Option<CookieValue>,
    after: Vec<(Key, Json)>,
}

#[derive(Arbitrary, Debug)]
enum CookieValue {
    Object(Vec<(CookieKey, Json)>),
    Other(Json),
}

#[derive(Arbitrary, Debug)]
enum CookieKey {
    OriginalMaxAge,
    Expires,
    Secure,
    HttpOnly,
    Domain,
    Path,
    SameSite,
    Priority,
    Partitioned,
    Other(Text),
}

#[derive(Arbitrary, Debug)]
enum Key {
    Reserved(u8),
    /// Where the absolute timeout keeps the creation time.
    CreatedAt,
    Other(Text),
}

#[derive(Arbitrary, Debug)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Unsigned(u64),
    Float(f64),
    /// Number-like text: `1e400`, `-0`, `01`, `1.`, …
    Number(Vec<NumberChar>),
    Text(Text),
    Date(Date),
    /// Words express writes in cookie fields.
    Word(Word),
    Array(Vec<Json>),
    Object(Vec<(Text, Json)>),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum NumberChar {
    Digit(u8),
    Minus,
    Plus,
    Dot,
    Exponent,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Word {
    Strict,
    Lax,
    None,
    Low,
    Medium,
    High,
    Slash,
    Empty,
    Upper,
}

/// A JSON string's contents, piece by piece.
#[derive(Arbitrary, Debug)]
enum Text {
    Plain(String),
    Pieces(Vec<Piece>),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Piece {
    Char(char),
    /// `\uXXXX`: any code unit, lone surrogates included.
    Escape(u16),
    /// A surrogate pair, as `JSON.stringify` writes none but others might.
    Pair(u16, u16),
    Backslash,
    Quote,
    Newline,
}

/// An ISO-8601 date built field by field, in or out of range.
#[derive(Arbitrary, Debug)]
struct Date {
    year: YearForm,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    fraction: Option<(u32, u8)>,
    offset: Offset,
    lower_case_separators: bool,
}

#[derive(Arbitrary, Debug)]
enum YearForm {
    Four(u16),
    Expanded { negative: bool, year: u32 },
    Digits(u64),
}

#[derive(Arbitrary, Debug)]
enum Offset {
    Z,
    Hours {
        negative: bool,
        hours: u8,
        minutes: u8,
    },
    Missing,
}

/// One member of the document's top-level object.
enum Member<'a> {
    Data(&'a Key, &'a Json),
    Cookie(&'a CookieValue),
}

fn data(members: &[(Key, Json)]) -> impl Iterator<Item = Member<'_>> {
    members.iter().map(|(key, value)| Member::Data(key, value))
}

impl Document {
    fn write(&self, out: &mut String) {
        let members = data(&self.before)
            .chain(self.cookie.iter().map(Member::Cookie))
            .chain(data(&self.after));
        out.push('{');
        for (index, member) in members.enumerate() {
            if index > 0 {
                out.push(',');
            }
            match member {
                Member::Data(key, value) => {
                    key.write(out);
                    out.push(':');
                    value.write(out);
                }
                Member::Cookie(cookie) => {
                    out.push_str(r#""cookie":"#);
                    cookie.write(out);
                }
            }
        }
        out.push('}');
    }
}

impl CookieValue {
    fn write(&self, out: &mut String) {
        match self {
            Self::Object(fields) => write_object(out, fields, CookieKey::write),
            Self::Other(value) => value.write(out),
        }
    }
}

impl CookieKey {
    fn write(&self, out: &mut String) {
        let name = match self {
            Self::OriginalMaxAge => "originalMaxAge",
            Self::Expires => "expires",
            Self::Secure => "secure",
            Self::HttpOnly => "httpOnly",
            Self::Domain => "domain",
            Self::Path => "path",
            Self::SameSite => "sameSite",
            Self::Priority => "priority",
            Self::Partitioned => "partitioned",
            Self::Other(text) => return text.write(out),
        };
        let _ = write!(out, r#""{name}""#);
    }
}

impl Key {
    fn write(&self, out: &mut String) {
        match self {
            Self::Reserved(index) => {
                let key = RESERVED_KEYS[usize::from(*index) % RESERVED_KEYS.len()];
                let _ = write!(out, r#""{key}""#);
            }
            Self::CreatedAt => out.push_str(r#""__sessionCreatedAt""#),
            Self::Other(text) => text.write(out),
        }
    }
}

impl Json {
    fn write(&self, out: &mut String) {
        match self {
            Self::Null => out.push_str("null"),
            Self::Bool(flag) => {
                let _ = write!(out, "{flag}");
            }
            Self::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Self::Unsigned(n) => {
                let _ = write!(out, "{n}");
            }
            // Rust writes finite floats as JSON numbers (`1e300` in full);
            // the others become text serde_json refuses or rounds away.
            Self::Float(n) if n.is_finite() => {
                let _ = write!(out, "{n:?}");
            }
            Self::Float(n) if n.is_nan() => out.push_str("NaN"),
            Self::Float(n) if *n > 0.0 => out.push_str("1e400"),
            Self::Float(_) => out.push_str("-1e400"),
            Self::Number(chars) => {
                for char in chars {
                    out.push(match char {
                        NumberChar::Digit(digit) => char::from(b'0' + digit % 10),
                        NumberChar::Minus => '-',
                        NumberChar::Plus => '+',
                        NumberChar::Dot => '.',
                        NumberChar::Exponent => 'e',
                    });
                }
            }
            Self::Text(text) => text.write(out),
            Self::Date(date) => {
                out.push('"');
                date.write(out);
                out.push('"');
            }
            Self::Word(word) => {
                let word = match word {
                    Word::Strict => "strict",
                    Word::Lax => "lax",
                    Word::None => "none",
                    Word::Low => "low",
                    Word::Medium => "medium",
                    Word::High => "high",
                    Word::Slash => "/",
                    Word::Empty => "",
                    Word::Upper => "LAX",
                };
                let _ = write!(out, r#""{word}""#);
            }
            Self::Array(items) => {
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Self::Object(members) => write_object(out, members, Text::write),
        }
    }
}

/// Writes `{key:value,…}`, each key by `write_key`.
fn write_object<K>(out: &mut String, members: &[(K, Json)], write_key: impl Fn(&K, &mut String)) {
    out.push('{');
    for (index, (key, value)) in members.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_key(key, out);
        out.push(':');
        value.write(out);
    }
    out.push('}');
}

impl Text {
    fn write(&self, out: &mut String) {
        match self {
            // serde_json escapes exactly what JSON requires.
            Self::Plain(text) => {
                out.push_str(&serde_json::Value::from(text.as_str()).to_string());
            }
            Self::Pieces(pieces) => {
                out.push('"');
                for piece in pieces {
                    match *piece {
                        Piece::Char(char) if char == '"' || char == '\\' || char < ' ' => {
                            let _ = write!(out, "\\u{:04x}", u32::from(char));
                        }
                        Piece::Char(char) => out.push(char),
                        Piece::Escape(unit) => {
                            let _ = write!(out, "\\u{unit:04X}");
                        }
                        Piece::Pair(high, low) => {
                            let high = 0xd800 | (high & 0x3ff);
                            let low = 0xdc00 | (low & 0x3ff);
                            let _ = write!(out, "\\u{high:04x}\\u{low:04x}");
                        }
                        Piece::Backslash => out.push_str(r"\\"),
                        Piece::Quote => out.push_str(r#"\""#),
                        Piece::Newline => out.push_str(r"\n"),
                    }
                }
                out.push('"');
            }
        }
    }
}

impl Date {
    fn write(&self, out: &mut String) {
        match self.year {
            YearForm::Four(year) => {
                let _ = write!(out, "{:04}", year % 10_000);
            }
            YearForm::Expanded { negative, year } => {
                let sign = if negative { '-' } else { '+' };
                let _ = write!(out, "{sign}{:06}", year % 1_000_000);
            }
            YearForm::Digits(year) => {
                let _ = write!(out, "{year}");
            }
        }
        let (t, z) = if self.lower_case_separators {
            ('t', 'z')
        } else {
            ('T', 'Z')
        };
        let _ = write!(
            out,
            "-{:02}-{:02}{t}{:02}:{:02}:{:02}",
            self.month % 14,
            self.day % 33,
            self.hour % 26,
            self.minute % 61,
            self.second % 62
        );
        if let Some((fraction, digits)) = self.fraction {
            let digits = usize::from(digits % 12) + 1;
            let _ = write!(out, ".{fraction:0digits$}");
        }
        match self.offset {
            Offset::Z => out.push(z),
            Offset::Hours {
                negative,
                hours,
                minutes,
            } => {
                let sign = if negative { '-' } else { '+' };
                let _ = write!(out, "{sign}{:02}:{:02}", hours % 25, minutes % 61);
            }
            Offset::Missing => {}
        }
    }
}
