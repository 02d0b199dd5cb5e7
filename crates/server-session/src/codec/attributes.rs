//! The `sameSite` and `priority` attributes, and the JSON express keeps for
//! them; and the cookie's shared `path`.
//!
//! express copies the cookie options onto the session's cookie as they were
//! given, so a record keeps `"sameSite":true`, `"sameSite":"Lax"` or
//! `"priority":"HIGH"` exactly as the Node app configured it, and the
//! `cookie` package 0.7.2 reads them case-insensitively when it writes the
//! header. [`Member`] is such a stored value: the attribute it sends plus
//! how it was written, so that a record reads back and is written again
//! byte for byte, while the Rust API deals only in [`SameSite`] and
//! [`Priority`].

use std::sync::{Arc, LazyLock};

use serde::ser::{Serialize, Serializer};

/// The path `"/"`, allocated once for the whole process.
pub(crate) fn root_path() -> Arc<str> {
    static ROOT: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("/"));
    Arc::clone(&ROOT)
}

/// `path` as a shared string, reusing the one `"/"`: almost every cookie's
/// path is `"/"`, and records are cloned on every load.
pub(crate) fn shared_path(path: &str) -> Arc<str> {
    if path == "/" {
        root_path()
    } else {
        Arc::from(path)
    }
}

/// The `SameSite` attribute of the session cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SameSite {
    /// `SameSite=Strict`: never sent on cross-site requests.
    Strict,
    /// `SameSite=Lax`: sent on top-level cross-site navigations.
    Lax,
    /// `SameSite=None`: sent everywhere; browsers require `Secure` with it.
    None,
}

impl SameSite {
    /// The attribute's value as it appears in `Set-Cookie`.
    pub fn as_attribute(self) -> &'static str {
        match self {
            Self::Strict => "Strict",
            Self::Lax => "Lax",
            Self::None => "None",
        }
    }

    /// Parses express's spellings, case-insensitively (`"lax"`, `"Strict"`, …).
    pub fn parse(text: &str) -> Option<Self> {
        Keyword::parse(text)
    }
}

/// The `Priority` attribute (a Chrome extension) of the session cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Priority {
    /// `Priority=Low`.
    Low,
    /// `Priority=Medium`.
    Medium,
    /// `Priority=High`.
    High,
}

impl Priority {
    /// The attribute's value as it appears in `Set-Cookie`.
    pub fn as_attribute(self) -> &'static str {
        match self {
            Self::Low => "Low",
            Self::Medium => "Medium",
            Self::High => "High",
        }
    }

    /// Parses `low`, `medium` or `high`, case-insensitively.
    pub fn parse(text: &str) -> Option<Self> {
        Keyword::parse(text)
    }
}

/// An attribute whose option is a keyword, which the `cookie` package
/// lower-cases before it compares (`'Lax'.toLowerCase() === 'lax'`).
pub(crate) trait Keyword: Copy + Eq + 'static {
    /// Every value with its keyword, in lower case.
    const KEYWORDS: &'static [(Self, &'static str)];
    /// What JSON `true` means, if anything (`sameSite: true` is
    /// `SameSite=Strict`; `priority: true` is invalid).
    const TRUE: Option<Self>;

    /// The keyword in any case. No other character lower-cases to one of
    /// these ASCII letters in JavaScript (only the Kelvin sign becomes an
    /// ASCII `k`), so an ASCII case-insensitive match is `toLowerCase`'s.
    fn parse(text: &str) -> Option<Self> {
        Self::KEYWORDS
            .iter()
            .find(|(_, keyword)| text.eq_ignore_ascii_case(keyword))
            .map(|&(value, _)| value)
    }

    fn keyword(self) -> &'static str {
        Self::KEYWORDS
            .iter()
            .find(|&&(value, _)| value == self)
            .map_or("", |&(_, keyword)| keyword)
    }
}

impl Keyword for SameSite {
    const KEYWORDS: &'static [(Self, &'static str)] = &[
        (Self::Strict, "strict"),
        (Self::Lax, "lax"),
        (Self::None, "none"),
    ];
    const TRUE: Option<Self> = Some(Self::Strict);
}

impl Keyword for Priority {
    const KEYWORDS: &'static [(Self, &'static str)] = &[
        (Self::Low, "low"),
        (Self::Medium, "medium"),
        (Self::High, "high"),
    ];
    const TRUE: Option<Self> = None;
}

/// Which letters of a keyword were upper case: bit `i` for letter `i` (the
/// keywords have at most six). `Case::LOWER` is what the Rust API writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Case(u8);

impl Case {
    /// Every letter in lower case.
    pub(crate) const LOWER: Self = Self(0);

    /// The case of `text`, which matched a keyword case-insensitively.
    fn of(text: &str) -> Self {
        Self(
            text.bytes()
                .enumerate()
                .filter(|(_, byte)| byte.is_ascii_uppercase())
                .fold(0, |mask, (i, _)| {
                    mask | 1u8.checked_shl(i as u32).unwrap_or(0)
                }),
        )
    }

    /// `keyword` (lower case) with this case applied.
    fn apply(self, keyword: &str) -> String {
        keyword
            .chars()
            .enumerate()
            .map(|(i, letter)| {
                if self.0 & 1u8.checked_shl(i as u32).unwrap_or(0) != 0 {
                    letter.to_ascii_uppercase()
                } else {
                    letter
                }
            })
            .collect()
    }
}

/// How an attribute that is set was written in the JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Spelling {
    /// A string: the keyword, in this case (`"lax"`, `"Lax"`, `"LAX"`).
    Text(Case),
    /// JSON `true` (only for `sameSite`, meaning `Strict`).
    True,
}

/// A falsy value that sends no attribute, which express keeps in the record
/// as it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Falsy {
    /// `false`.
    False,
    /// `null`.
    Null,
    /// `0`.
    Zero,
    /// `""`.
    Empty,
}

/// A `sameSite` or `priority` member of the stored cookie, as express keeps
/// it: absent, a falsy value (no attribute either way), or the attribute
/// together with its spelling.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) enum Member<T> {
    /// Not in the JSON (express's `undefined`).
    #[default]
    Absent,
    /// No attribute, kept in the JSON as this value.
    Off(Falsy),
    /// The attribute, written so. Never `Spelling::True` unless `T::TRUE`
    /// is this value.
    On(T, Spelling),
}

/// A JSON value as far as [`Member::from_json`] needs to see it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Scalar<'a> {
    Bool(bool),
    Null,
    Number(f64),
    Text(&'a str),
    /// An array or an object.
    Other,
}

impl<'a> From<&'a serde_json::Value> for Scalar<'a> {
    fn from(value: &'a serde_json::Value) -> Self {
        match value {
            serde_json::Value::Bool(flag) => Self::Bool(*flag),
            serde_json::Value::Null => Self::Null,
            serde_json::Value::Number(number) => Self::Number(number.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(text) => Self::Text(text),
            _ => Self::Other,
        }
    }
}

impl<T: Keyword> Member<T> {
    /// The typed API's value: a keyword in lower case, or absent.
    pub(crate) fn typed(value: Option<T>) -> Self {
        value.map_or(Self::Absent, |value| {
            Self::On(value, Spelling::Text(Case::LOWER))
        })
    }

    /// The attribute this sends, if any.
    pub(crate) fn value(self) -> Option<T> {
        match self {
            Self::On(value, _) => Some(value),
            Self::Absent | Self::Off(_) => None,
        }
    }

    /// What express keeps for this JSON value, or `None` for a value the
    /// `cookie` package refuses (`option sameSite is invalid`): a truthy
    /// value that is not one of the keywords in some case (nor `true` for
    /// `sameSite`).
    pub(crate) fn from_json(value: Scalar<'_>) -> Option<Self> {
        match value {
            Scalar::Bool(false) => Some(Self::Off(Falsy::False)),
            Scalar::Null => Some(Self::Off(Falsy::Null)),
            Scalar::Number(0.0) => Some(Self::Off(Falsy::Zero)),
            Scalar::Text("") => Some(Self::Off(Falsy::Empty)),
            Scalar::Bool(true) => T::TRUE.map(|value| Self::On(value, Spelling::True)),
            Scalar::Text(text) => {
                T::parse(text).map(|value| Self::On(value, Spelling::Text(Case::of(text))))
            }
            Scalar::Number(_) | Scalar::Other => None,
        }
    }

    /// Whether the member is written at all.
    pub(crate) fn is_present(self) -> bool {
        !matches!(self, Self::Absent)
    }
}

impl<T: Keyword> Serialize for Member<T> {
    /// The JSON value; [`Member::Absent`] (which the cookie leaves out) as
    /// `null`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Self::Absent | Self::Off(Falsy::Null) => serializer.serialize_unit(),
            Self::Off(Falsy::False) => serializer.serialize_bool(false),
            Self::Off(Falsy::Zero) => serializer.serialize_u8(0),
            Self::Off(Falsy::Empty) => serializer.serialize_str(""),
            Self::On(_, Spelling::True) => serializer.serialize_bool(true),
            Self::On(value, Spelling::Text(Case::LOWER)) => {
                serializer.serialize_str(value.keyword())
            }
            Self::On(value, Spelling::Text(case)) => {
                serializer.serialize_str(&case.apply(value.keyword()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn read<T: Keyword>(value: &Value) -> Option<Member<T>> {
        Member::from_json(Scalar::from(value))
    }

    fn written<T: Keyword>(member: Member<T>) -> Value {
        serde_json::to_value(member).expect("a JSON value")
    }

    #[test]
    fn same_site_spellings_read_as_cookie_0_7_sends_them_and_write_as_given() {
        let cases = [
            (json!(true), Some(SameSite::Strict)),
            (json!("strict"), Some(SameSite::Strict)),
            (json!("Strict"), Some(SameSite::Strict)),
            (json!("STRICT"), Some(SameSite::Strict)),
            (json!("sTrIcT"), Some(SameSite::Strict)),
            (json!("lax"), Some(SameSite::Lax)),
            (json!("Lax"), Some(SameSite::Lax)),
            (json!("LAX"), Some(SameSite::Lax)),
            (json!("none"), Some(SameSite::None)),
            (json!("None"), Some(SameSite::None)),
            (json!("NONE"), Some(SameSite::None)),
            (json!(false), None),
            (json!(null), None),
            (json!(0), None),
            (json!(""), None),
        ];
        for (json, attribute) in cases {
            let member = read::<SameSite>(&json).unwrap_or_else(|| panic!("{json} is valid"));
            assert_eq!(member.value(), attribute, "{json}");
            assert!(member.is_present(), "{json}");
            assert_eq!(written(member), json, "{json} is written as given");
        }
    }

    #[test]
    fn priority_spellings_read_as_cookie_0_7_sends_them_and_write_as_given() {
        let cases = [
            (json!("low"), Some(Priority::Low)),
            (json!("Low"), Some(Priority::Low)),
            (json!("LOW"), Some(Priority::Low)),
            (json!("medium"), Some(Priority::Medium)),
            (json!("Medium"), Some(Priority::Medium)),
            (json!("MEDIUM"), Some(Priority::Medium)),
            (json!("mEdIuM"), Some(Priority::Medium)),
            (json!("high"), Some(Priority::High)),
            (json!("High"), Some(Priority::High)),
            (json!("HIGH"), Some(Priority::High)),
            (json!(false), None),
            (json!(null), None),
            (json!(0), None),
            (json!(""), None),
        ];
        for (json, attribute) in cases {
            let member = read::<Priority>(&json).unwrap_or_else(|| panic!("{json} is valid"));
            assert_eq!(member.value(), attribute, "{json}");
            assert_eq!(written(member), json, "{json} is written as given");
        }
    }

    #[test]
    fn values_the_cookie_package_refuses_are_none() {
        // `option sameSite is invalid` / `option priority is invalid`.
        for json in [
            json!("auto"),
            json!("lax "),
            json!(" strict"),
            json!("stricter"),
            json!("Medium"),
            json!(1),
            json!(-1.5),
            json!([]),
            json!({}),
            json!("\u{212a}"),
        ] {
            assert_eq!(read::<SameSite>(&json), None, "{json}");
        }
        for json in [
            json!(true),
            json!("lax"),
            json!("highest"),
            json!(2),
            json!([]),
        ] {
            assert_eq!(read::<Priority>(&json), None, "{json}");
        }
    }

    #[test]
    fn negative_zero_is_written_as_node_writes_it() {
        // JSON.stringify(-0) is "0".
        let member = read::<SameSite>(&json!(-0.0)).expect("falsy");
        assert_eq!(member, Member::Off(Falsy::Zero));
        assert_eq!(serde_json::to_string(&member).expect("json"), "0");
    }

    #[test]
    fn the_typed_api_writes_lower_case() {
        for (value, text) in [
            (SameSite::Strict, "strict"),
            (SameSite::Lax, "lax"),
            (SameSite::None, "none"),
        ] {
            assert_eq!(written(Member::typed(Some(value))), json!(text));
        }
        for (value, text) in [
            (Priority::Low, "low"),
            (Priority::Medium, "medium"),
            (Priority::High, "high"),
        ] {
            assert_eq!(written(Member::typed(Some(value))), json!(text));
        }
        assert_eq!(Member::<SameSite>::typed(None), Member::Absent);
        assert!(!Member::<Priority>::typed(None).is_present());
    }

    #[test]
    fn parse_is_case_insensitive_ascii_only() {
        assert_eq!(SameSite::parse("LaX"), Some(SameSite::Lax));
        assert_eq!(SameSite::parse("auto"), None);
        assert_eq!(Priority::parse("HiGh"), Some(Priority::High));
        assert_eq!(Priority::parse("hi"), None);
    }
}
