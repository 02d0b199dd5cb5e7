//! Which session ID a request carries, when it may come in the cookie, in
//! a configured header ([`HeaderTransport`](crate::HeaderTransport)), or
//! in either.
//!
//! A request that carries the header is decided by the header alone: a
//! validly signed ID there wins over any cookie, and a bad value there is
//! "no session" even if a valid cookie came along. The client's code sets
//! the header on purpose; a browser attaches cookies to every request on
//! its own (cross-site requests, cookies planted by a sibling subdomain),
//! so an ambient cookie must never stand in for the value the code sent.
//! The cookie decides only when the header is absent (for `Authorization`,
//! also when it holds another scheme, such as `Basic`). The URL is never
//! read.

use std::sync::Arc;

use http::HeaderMap;

use super::gate::{session_id_from_cookie, Lookup, SignedId};
use crate::codec::{self, Secrets};
use crate::config::HeaderNames;

/// Where the session ID may travel, as the layer was configured.
#[derive(Clone, Debug)]
pub(crate) struct Transports {
    /// The cookie is read and sent.
    pub(crate) cookie: bool,
    /// The header, if one is configured.
    pub(crate) header: Option<HeaderNames>,
}

/// How one transport carried the session ID the request goes on with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Carried {
    /// Not at all, or another ID (a cookie the header overruled).
    #[default]
    No,
    /// Signed by the first secret, the one that signs.
    ByFirstSecret,
    /// Signed by an older secret.
    ByOlderSecret,
}

impl Carried {
    fn of(found: &SignedId) -> Self {
        match found.signed_value {
            Some(_) => Self::ByFirstSecret,
            None => Self::ByOlderSecret,
        }
    }

    pub(crate) fn any(self) -> bool {
        self != Self::No
    }
}

/// The validly signed session ID a request carries, and how.
pub(crate) struct RequestId {
    pub(crate) id: Arc<str>,
    /// The signed text (`<id>.<mac>`) when the first secret verified it.
    pub(crate) signed_value: Option<Arc<str>>,
    pub(crate) cookie: Carried,
    pub(crate) header: Carried,
}

/// The session ID the request carries (see the [module docs](self)), with
/// a `tracing` event, never the value, for a value no secret verified.
pub(crate) fn session_id_from_request(
    headers: &HeaderMap,
    cookie_name: &str,
    transports: &Transports,
    secrets: &Secrets,
) -> Option<RequestId> {
    let header = match &transports.header {
        Some(names) => session_id_from_header(headers, names, secrets),
        None => Lookup::Absent,
    };
    let cookie = || match transports.cookie {
        true => session_id_from_cookie(headers, cookie_name, secrets),
        false => Lookup::Absent,
    };
    match header {
        Lookup::Found(found) => {
            // The cookie counts only when it names the same session: then
            // it is re-signed or cleared with it.
            let cookie = match cookie() {
                Lookup::Found(same) if same.id == found.id => Carried::of(&same),
                _ => Carried::No,
            };
            Some(RequestId {
                header: Carried::of(&found),
                cookie,
                id: found.id,
                signed_value: found.signed_value,
            })
        }
        Lookup::Rejected => {
            // Never the value: it may be a valid ID with a bad signature.
            tracing::debug!("session header rejected; a new session starts");
            None
        }
        Lookup::Absent => match cookie() {
            Lookup::Found(found) => Some(RequestId {
                cookie: Carried::of(&found),
                header: Carried::No,
                id: found.id,
                signed_value: found.signed_value,
            }),
            Lookup::Rejected => {
                tracing::debug!("session cookie signature rejected; a new session starts");
                None
            }
            Lookup::Absent => None,
        },
    }
}

/// The session ID in the configured request header. One field only: a
/// repeated header is ambiguous (which one did the client's code set?), so
/// it is no session.
pub(crate) fn session_id_from_header(
    headers: &HeaderMap,
    names: &HeaderNames,
    secrets: &Secrets,
) -> Lookup {
    let mut fields = headers.get_all(&names.request).iter();
    let Some(field) = fields.next() else {
        return Lookup::Absent;
    };
    if fields.next().is_some() {
        return Lookup::Rejected;
    }
    let Ok(value) = std::str::from_utf8(field.as_bytes()) else {
        return Lookup::Rejected;
    };
    let value = if names.bearer {
        match codec::bearer_token(value) {
            Some(token) => token,
            // Another scheme (`Basic`, …) is about something else.
            None => return Lookup::Absent,
        }
    } else {
        value.trim_matches([' ', '\t'])
    };
    Lookup::found(codec::unsign_header_value(value, secrets))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;
    use crate::HeaderTransport;

    fn secrets() -> Secrets {
        Secrets::new(["keyboard cat"]).expect("one secret")
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
    }

    fn transports(header: Option<HeaderTransport>, cookie: bool) -> Transports {
        Transports {
            cookie,
            header: header.map(|header| header.names().expect("valid")),
        }
    }

    fn cookie_for(id: &str) -> String {
        format!("connect.sid={}", codec::sign_session_id(id, &secrets()))
    }

    fn carried(
        pairs: &[(&str, &str)],
        transports: &Transports,
    ) -> Option<(String, Carried, Carried)> {
        session_id_from_request(&headers(pairs), "connect.sid", transports, &secrets())
            .map(|found| (found.id.to_string(), found.cookie, found.header))
    }

    #[test]
    fn the_bearer_scheme_in_any_case_carries_the_signed_value() {
        let bearer = transports(Some(HeaderTransport::bearer()), false);
        let signed = secrets().sign("abc");
        for value in [
            format!("Bearer {signed}"),
            format!("bearer s:{signed}"),
            format!("BEARER   {signed}"),
        ] {
            assert_eq!(
                carried(&[("authorization", &value)], &bearer),
                Some(("abc".into(), Carried::No, Carried::ByFirstSecret)),
                "{value}"
            );
        }
        for value in [
            format!("Basic {signed}"),
            signed.clone(),
            String::from("Bearer abc"),
            String::from("Bearer"),
            format!("Bearer {signed}, Bearer {signed}"),
        ] {
            assert_eq!(
                carried(&[("authorization", &value)], &bearer),
                None,
                "{value}"
            );
        }
        // Two fields are ambiguous.
        let twice = format!("Bearer {signed}");
        assert_eq!(
            carried(
                &[("authorization", &twice), ("authorization", &twice)],
                &bearer
            ),
            None
        );
    }

    #[test]
    fn a_named_header_carries_the_value_as_is() {
        let named = transports(Some(HeaderTransport::named("x-session-id")), false);
        let signed = secrets().sign("abc");
        assert_eq!(
            carried(&[("x-session-id", &signed)], &named).map(|found| found.0),
            Some("abc".into())
        );
        let bearer = format!("Bearer {signed}");
        assert_eq!(carried(&[("x-session-id", &bearer)], &named), None);
        // Header only: the cookie is not read.
        assert_eq!(carried(&[("cookie", &cookie_for("abc"))], &named), None);
    }

    #[test]
    fn a_present_header_decides_alone_and_an_absent_one_leaves_it_to_the_cookie() {
        let both = transports(
            Some(HeaderTransport::named("x-session-id").with_cookie(true)),
            true,
        );
        let header = secrets().sign("from-header");
        let cookie = cookie_for("from-cookie");
        assert_eq!(
            carried(&[("x-session-id", &header), ("cookie", &cookie)], &both),
            Some(("from-header".into(), Carried::No, Carried::ByFirstSecret))
        );
        assert_eq!(
            carried(
                &[("x-session-id", "forged.value"), ("cookie", &cookie)],
                &both
            ),
            None
        );
        assert_eq!(
            carried(&[("cookie", &cookie)], &both),
            Some(("from-cookie".into(), Carried::ByFirstSecret, Carried::No))
        );
        // The same session in both: the cookie counts too.
        let same = cookie_for("from-header");
        assert_eq!(
            carried(&[("x-session-id", &header), ("cookie", &same)], &both),
            Some((
                "from-header".into(),
                Carried::ByFirstSecret,
                Carried::ByFirstSecret
            ))
        );
        // Cookie only (the default): the header is not read.
        let cookie_only = transports(None, true);
        assert_eq!(carried(&[("x-session-id", &header)], &cookie_only), None);
    }

    #[test]
    fn a_value_an_older_secret_verified_is_noted() {
        let rotated = Secrets::new(["new secret", "keyboard cat"]).expect("secrets");
        let bearer = transports(Some(HeaderTransport::bearer()), false);
        let value = format!("Bearer {}", secrets().sign("abc"));
        let found = session_id_from_request(
            &headers(&[("authorization", &value)]),
            "sid",
            &bearer,
            &rotated,
        )
        .expect("an older secret verifies");
        assert_eq!(found.header, Carried::ByOlderSecret);
        assert!(found.signed_value.is_none());
    }

    #[test]
    fn non_utf8_and_empty_ids_are_no_session() {
        let names = HeaderTransport::named("x-session-id")
            .names()
            .expect("valid");
        let mut map = HeaderMap::new();
        map.insert(
            names.request.clone(),
            HeaderValue::from_bytes(b"\xff\xfe.abc").expect("obs-text"),
        );
        assert!(matches!(
            session_id_from_header(&map, &names, &secrets()),
            Lookup::Rejected
        ));
        map.insert(
            names.request.clone(),
            HeaderValue::from_str(&secrets().sign("")).expect("value"),
        );
        assert!(matches!(
            session_id_from_header(&map, &names, &secrets()),
            Lookup::Rejected
        ));
    }
}
