//! The `session_header` target's check, shared with the corpus replay test
//! (`crates/server-session/tests/fuzz_corpus.rs`).
//!
//! Input: the first byte picks how the rest becomes the session header of
//! a request through a `SessionLayer` with the header transport, over a
//! store that holds one known session:
//! - even: the bytes are the header value as they are;
//! - odd: the known session's valid value, spelled with or without `s:` and
//!   `Bearer `, with one byte edited or inserted where the next two bytes
//!   say (or not at all).
//!
//! The property: the request never panics and always gets the handler's
//! answer; the handler sees the known session exactly when the header
//! carries its validly signed value, and a new session otherwise.

use std::sync::LazyLock;

use axum::extract::FromRequestParts as _;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use server_session::__private::Secrets;
use server_session::store::{Record, SaveCondition, SaveOutcome, Store};
use server_session::{HeaderTransport, MemoryStore, Session, SessionConfig, SessionLayer};
use tower::{service_fn, Layer as _, ServiceExt as _};

const SECRET: &str = "the fuzzing secret, at least 32 bytes long";
const KNOWN_ID: &str = "knownSessionIdForTheHeaderFuzz00";

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
});

/// The known session's value as the header carries it: `<id>.<mac>`.
static KNOWN_VALUE: LazyLock<String> =
    LazyLock::new(|| Secrets::new([SECRET]).expect("one secret").sign(KNOWN_ID));

/// Whether `value`, as the header holds it, carries the known session's
/// value: written out from RFC 6750 (`Bearer` in any case, spaces or tabs
/// around) and the transport's rules (with or without `s:`, no decoding),
/// independently of the library's parser.
fn names_known(value: &[u8], bearer: bool) -> bool {
    let Ok(text) = std::str::from_utf8(value) else {
        return false;
    };
    let blank = [' ', '\t'];
    let text = text.trim_matches(blank);
    let text = if bearer {
        let (scheme, token) = text.split_once(blank).unwrap_or((text, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return false;
        }
        token.trim_start_matches(blank)
    } else {
        text
    };
    let text = text.strip_prefix("s:").unwrap_or(text);
    text == KNOWN_VALUE.as_str()
}

fn value_from(data: &[u8], bearer: bool) -> Vec<u8> {
    let Some((&mode, rest)) = data.split_first() else {
        return Vec::new();
    };
    if mode % 2 == 0 {
        return rest.to_vec();
    }
    let mut value = Vec::new();
    if bearer {
        value.extend_from_slice(if mode & 0x02 == 0 {
            b"Bearer "
        } else {
            b"bearer  "
        });
    }
    if mode & 0x04 != 0 {
        value.extend_from_slice(b"s:");
    }
    value.extend_from_slice(KNOWN_VALUE.as_bytes());
    if let &[place, byte, ..] = rest {
        let at = usize::from(place) % (value.len() + 1);
        if mode & 0x08 == 0 && at < value.len() {
            value[at] = byte;
        } else if mode & 0x10 != 0 {
            value.insert(at, byte);
        }
    }
    value
}

async fn one_request(value: &[u8], transport: HeaderTransport) {
    let bearer = transport.is_bearer();
    let request_header =
        HeaderName::from_bytes(transport.request_header().as_bytes()).expect("a valid header name");
    let store = MemoryStore::new();
    let record = Record::from_json(
        br#"{"cookie":{"originalMaxAge":3600000,"expires":"2099-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"known":true}"#,
    )
    .expect("a valid record");
    let saved = store
        .save(KNOWN_ID, &record, SaveCondition::Upsert)
        .await
        .expect("the MemoryStore saves");
    assert!(matches!(saved, SaveOutcome::Saved(_)));
    let config = SessionConfig::new(SECRET).with_header(Some(transport));
    let layer = SessionLayer::new(store, config).expect("valid options");
    let service = layer.layer(service_fn(|request: Request<()>| async move {
        let (mut parts, ()) = request.into_parts();
        let id = match Session::from_request_parts(&mut parts, &()).await {
            Ok(session) => session.id(),
            Err(_) => String::from("<no session>"),
        };
        Ok::<_, std::convert::Infallible>(Response::new(id))
    }));
    let mut request = Request::new(());
    let sent = match HeaderValue::from_bytes(value) {
        Ok(header) => {
            request.headers_mut().insert(request_header, header);
            true
        }
        // Not a header value at all: no client can send it.
        Err(_) => false,
    };
    let response = service.oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let seen = response.into_body();
    let known = sent && names_known(value, bearer);
    assert_eq!(
        seen == KNOWN_ID,
        known,
        "value {:?}: the handler saw {seen:?}",
        String::from_utf8_lossy(value)
    );
}

pub(crate) fn check(data: &[u8]) {
    RUNTIME.block_on(async {
        for transport in [
            HeaderTransport::bearer(),
            HeaderTransport::named("x-session"),
        ] {
            let value = value_from(data, transport.is_bearer());
            one_request(&value, transport).await;
        }
    });
}
