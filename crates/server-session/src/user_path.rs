//! Where a session's user ID lives in its data: a dotted path such as
//! `passport.user`, where Passport keeps it in express apps.

use std::fmt;

use serde_json::{Map, Value};

/// A validated dotted path into the session data, naming the user the
/// session belongs to (`"user"`, `"passport.user"`). Set it with
/// [`SessionConfig::with_user_path`](crate::SessionConfig::with_user_path).
///
/// The user ID is the string or the number found there; a number reads as
/// its decimal text, so Passport's numeric IDs and string IDs both work.
/// Each segment is 1 to 64 ASCII letters, digits, `_`, `-` or `$`, which
/// the SQL stores can put into an index expression as it is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserPath {
    segments: Vec<String>,
}

/// Why a text is not a [`UserPath`].
#[derive(Debug, thiserror::Error)]
#[error("a user path is 1 to 8 dot-separated segments of 1 to 64 ASCII letters, digits, `_`, `-` or `$`")]
pub struct InvalidUserPath;

impl UserPath {
    /// Parses `path` (`"passport.user"`).
    ///
    /// # Errors
    /// [`InvalidUserPath`] for an empty path or segment, more than 8
    /// segments, or a character outside `[A-Za-z0-9_$-]`.
    pub fn parse(path: &str) -> Result<Self, InvalidUserPath> {
        let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
        let valid_segment = |segment: &String| {
            (1..=64).contains(&segment.len())
                && segment
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'$'))
        };
        if segments.len() > 8 || !segments.iter().all(valid_segment) {
            return Err(InvalidUserPath);
        }
        Ok(Self { segments })
    }

    /// The segments, outermost first.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The user ID in `data`, if the path leads to a non-empty string or a
    /// number.
    pub fn user_in(&self, data: &Map<String, Value>) -> Option<String> {
        let (last, parents) = self.segments.split_last()?;
        let mut object = data;
        for segment in parents {
            object = object.get(segment)?.as_object()?;
        }
        match object.get(last)? {
            Value::String(user) if !user.is_empty() => Some(user.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        }
    }

    /// Puts `user` at the path in `data`, making the objects on the way
    /// (replacing any non-object value there).
    pub(crate) fn set_user(&self, data: &mut Map<String, Value>, user: &str) {
        let Some((last, parents)) = self.segments.split_last() else {
            return;
        };
        let mut object = data;
        for segment in parents {
            let entry = object
                .entry(segment.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            object = entry.as_object_mut().expect("made an object just above");
        }
        object.insert(last.clone(), Value::String(user.to_owned()));
    }

    /// Removes the user from `data` (the value at the path; the objects on
    /// the way stay).
    pub(crate) fn remove_user(&self, data: &mut Map<String, Value>) {
        let Some((last, parents)) = self.segments.split_last() else {
            return;
        };
        let mut object = data;
        for segment in parents {
            match object.get_mut(segment).and_then(Value::as_object_mut) {
                Some(inner) => object = inner,
                None => return,
            }
        }
        object.remove(last);
    }

    /// The first segment: the top-level session key the user lives under.
    pub(crate) fn top_key(&self) -> &str {
        &self.segments[0]
    }
}

impl fmt::Display for UserPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.segments.join("."))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn data(value: Value) -> Map<String, Value> {
        value.as_object().expect("an object").clone()
    }

    #[test]
    fn passport_paths_read_strings_and_numbers() {
        let path = UserPath::parse("passport.user").expect("valid");
        assert_eq!(
            path.user_in(&data(json!({"passport": {"user": "ada"}}))),
            Some("ada".into())
        );
        assert_eq!(
            path.user_in(&data(json!({"passport": {"user": 42}}))),
            Some("42".into())
        );
        for absent in [
            json!({}),
            json!({"passport": {}}),
            json!({"passport": "ada"}),
            json!({"passport": {"user": ""}}),
            json!({"passport": {"user": null}}),
            json!({"passport": {"user": {"id": 1}}}),
        ] {
            assert_eq!(path.user_in(&data(absent.clone())), None, "{absent}");
        }
    }

    #[test]
    fn setting_makes_the_objects_on_the_way_and_removing_undoes_it() {
        let path = UserPath::parse("passport.user").expect("valid");
        let mut map = data(json!({"passport": "not an object", "n": 1}));
        path.set_user(&mut map, "ada");
        assert_eq!(
            Value::Object(map.clone()),
            json!({"passport": {"user": "ada"}, "n": 1})
        );
        path.remove_user(&mut map);
        assert_eq!(Value::Object(map), json!({"passport": {}, "n": 1}));
    }

    #[test]
    fn only_plain_segments_are_paths() {
        for valid in ["user", "passport.user", "a.b.c", "$id", "user-id"] {
            assert!(UserPath::parse(valid).is_ok(), "{valid}");
        }
        let long = "a.".repeat(8) + "a";
        for invalid in [
            "",
            ".",
            "a.",
            ".a",
            "a..b",
            "a b",
            "a'b",
            "ü",
            long.as_str(),
        ] {
            assert!(UserPath::parse(invalid).is_err(), "{invalid:?}");
        }
    }
}
