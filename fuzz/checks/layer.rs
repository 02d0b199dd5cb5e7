//! The `layer` target's check, shared with the corpus replay test
//! (`crates/server-session/tests/fuzz_corpus.rs`).
//!
//! Input: bytes read with `arbitrary` as a scenario: a configuration, maybe
//! a record already in the store, and up to four requests (the first two
//! maybe concurrent) through `SessionLayer` over a fresh `MemoryStore`,
//! each with arbitrary request heads and a handler doing arbitrary session
//! operations.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use axum::extract::FromRequestParts as _;
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderValue, Method, Request, Response, Uri};
use server_session::__private::{
    decode_uri_component, encode_uri_component, find_cookie, sign_session_id, unsign_session_id,
    Secrets,
};
use server_session::store::{now_ms, Record, SaveCondition, Store};
use server_session::{
    ConflictPolicy, CookieOptions, IsSecure, MemoryStore, PathMatch, SameSite, SameSitePolicy,
    SecurePolicy, Session, SessionConfig, SessionError, SessionLayer, Unset,
};
use tower::{service_fn, Layer as _, ServiceExt as _};

const SECRET: &str = "the fuzzing secret, at least 32 bytes long";
const OLD_SECRET: &str = "an older fuzzing secret, also 32 bytes";
const HASH_KEY: &str = "the fuzzing key for IDs at rest, 32 bytes";
/// The handler's answer: every session ID it saw, comma-separated.
const SEEN_IDS: &str = "x-seen-session-ids";
const MAX_REQUESTS: usize = 4;

/// One runtime for every input: building one per input would dominate.
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
});

/// `FUZZ_PRINT=1` prints each scenario, to read what a crash did.
static PRINT: LazyLock<bool> = LazyLock::new(|| std::env::var_os("FUZZ_PRINT").is_some());

static SECRETS: LazyLock<[Secrets; 2]> = LazyLock::new(|| {
    [
        Secrets::new([SECRET, OLD_SECRET]).expect("two secrets"),
        Secrets::new([OLD_SECRET]).expect("one secret"),
    ]
});

#[derive(Arbitrary, Debug)]
struct Scenario {
    config: ConfigChoice,
    seed: Option<Seed>,
    requests: Vec<RequestSpec>,
    first_two_concurrently: bool,
}

#[derive(Arbitrary, Debug)]
struct ConfigChoice {
    proxy: Option<bool>,
    rolling: bool,
    save_uninitialized: bool,
    resave: bool,
    secure: SecureChoice,
    same_site: SameSiteChoice,
    max_age_one_hour: bool,
    /// `/app` instead of `/`, so the path gate matters.
    app_path: bool,
    rfc6265_path_match: bool,
    unset_destroys: bool,
    short_name: bool,
    domain: bool,
    absolute_timeout: bool,
    hashed_ids: bool,
    resign_old_secret: bool,
    clear_cookie_on_destroy: bool,
    conflict: ConflictChoice,
    /// Load the session only when the handler extracts it.
    lazy_load: bool,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum SecureChoice {
    Unset,
    Never,
    Always,
    Auto,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum SameSiteChoice {
    Unset,
    Off,
    Strict,
    Lax,
    None,
    Auto,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum ConflictChoice {
    Merge,
    LastWriteWins,
    Fail,
}

/// A record put in the store before the first request.
#[derive(Arbitrary, Debug)]
struct Seed {
    id: String,
    record: SeedRecord,
    /// Relative to now, so the record is live (or not) whenever it runs.
    expires_in_ms: Option<i32>,
    /// The absolute timeout's creation time, relative to now.
    created_ms_ago: Option<i64>,
}

#[derive(Arbitrary, Debug)]
enum SeedRecord {
    /// Skipped when `Record::from_json` refuses it.
    Json(Vec<u8>),
    Fields {
        original_max_age: Option<i64>,
        domain: Option<String>,
        path: Option<String>,
        secure: Option<bool>,
        same_site: Option<SameSiteAttribute>,
        counter: Option<i64>,
    },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum SameSiteAttribute {
    Strict,
    Lax,
    None,
}

#[derive(Arbitrary, Debug)]
struct RequestSpec {
    method: MethodChoice,
    path: PathChoice,
    /// Each a `Cookie` header of its own.
    cookie_headers: Vec<Vec<CookiePair>>,
    forwarded_proto: Option<ProtoChoice>,
    /// What the server in front says (`IsSecure`), used when `proxy` is unset.
    secure_hint: Option<bool>,
    actions: Vec<Action>,
    /// The handler never extracts its session (it still reads one the
    /// layer loaded eagerly, which extracting would not change).
    skip_session: bool,
}

/// What the handler is to do, passed in the request extensions.
#[derive(Clone)]
struct Plan {
    actions: Vec<Action>,
    skip_session: bool,
}

#[derive(Arbitrary, Debug)]
enum MethodChoice {
    Get,
    Post,
    Head,
    Options,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum PathChoice {
    Root,
    App,
    AppChild,
    /// `/application`: inside `/app` by prefix, outside by RFC 6265.
    Application,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum ProtoChoice {
    Https,
    Http,
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum CookiePair {
    /// A pair under the configured session cookie name.
    Session(CookieValue),
    Named(String, CookieValue),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum CookieValue {
    /// A value the server sent earlier in this scenario (the n-th, modulo
    /// how many), or the seeded ID signed, or a fresh signature.
    Issued(u8),
    SeededId {
        old_secret: bool,
    },
    /// Any ID the fuzzer likes, correctly signed, so it gets past the
    /// signature check.
    Signed {
        id: String,
        old_secret: bool,
        /// Sent decoded (`s:id.mac`) instead of URI-encoded.
        raw: bool,
    },
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug, Clone)]
enum Action {
    Read(Key),
    Insert(Key, i64),
    Remove(Key),
    Increment,
    Clear,
    Regenerate,
    CycleId,
    Destroy,
    Reload,
    Save,
    Touch,
    Unset,
    SetMaxAgeMs(Option<i64>),
    SetDomain(Option<String>),
    SetPath(String),
    SetSecure(bool),
    SetHttpOnly(bool),
    SetPartitioned(bool),
    SetSameSite(Option<SameSiteAttribute>),
}

#[derive(Arbitrary, Debug, Clone)]
enum Key {
    Counter,
    Reserved,
    Any(String),
}

impl Key {
    fn as_str(&self) -> &str {
        match self {
            Self::Counter => "counter",
            Self::Reserved => "cookie",
            Self::Any(key) => key,
        }
    }
}

impl SameSiteAttribute {
    fn get(self) -> SameSite {
        match self {
            Self::Strict => SameSite::Strict,
            Self::Lax => SameSite::Lax,
            Self::None => SameSite::None,
        }
    }
}

/// Requests through the layer never panic, never answer anything but the
/// handler's 200 (the MemoryStore never fails, so none of the documented
/// 5xx apply) and never report a store error; no session operation fails
/// with a store or ID error; a client-chosen ID is never adopted (neither
/// the handler nor a `Set-Cookie` ever sees an ID the client sent that the
/// server had not issued or stored); every `Set-Cookie` is the session
/// cookie, signed with the first secret, or its clearing, at most one of
/// each, and `Secure` only over a secure request; and a request outside the
/// cookie path gets no session and no cookie.
pub(crate) fn check(data: &[u8]) {
    let Ok(scenario) = Scenario::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    if *PRINT {
        eprintln!("{scenario:#?}");
    }
    RUNTIME.block_on(run(scenario));
}

async fn run(scenario: Scenario) {
    let choice = &scenario.config;
    let name = if choice.short_name {
        "sid"
    } else {
        "connect.sid"
    };
    let store = MemoryStore::new();
    let conflicts = Arc::new(AtomicUsize::new(0));
    let layer = SessionLayer::new(store.clone(), config(choice, name, Arc::clone(&conflicts)))
        .unwrap_or_else(|error| panic!("{choice:?}: {error}"));
    let service = layer.layer(service_fn(handler));

    // IDs the server chose or stored: the only ones it may ever use.
    let mut known: HashSet<String> = HashSet::new();
    let mut issued: Vec<String> = Vec::new();
    let mut seeded_id = None;
    if let Some(seed) = &scenario.seed {
        if let Some(record) = seed_record(seed) {
            // With IDs hashed at rest the record sits under the raw ID, where
            // the layer never looks: then it is just another unknown ID.
            let saved = store.save(&seed.id, &record, SaveCondition::Upsert).await;
            assert!(saved.is_ok(), "MemoryStore::save failed: {saved:?}");
            known.insert(seed.id.clone());
            seeded_id = Some(seed.id.as_str());
        }
    }

    let requests: Vec<&RequestSpec> = scenario.requests.iter().take(MAX_REQUESTS).collect();
    let mut index = 0;
    while index < requests.len() {
        let together = if index == 0 && scenario.first_two_concurrently {
            requests.len().min(2)
        } else {
            1
        };
        // Cookies are chosen before any request of the batch runs.
        let mut batch = Vec::new();
        for spec in &requests[index..index + together] {
            if let Some((request, sent)) = build_request(spec, name, &issued, seeded_id) {
                let sent = Sent {
                    ids: sent,
                    secure: is_secure(&request, choice.proxy),
                    path: request.uri().path().to_owned(),
                };
                batch.push((request, sent));
            }
        }
        index += together;
        let conflicts_before = conflicts.load(Ordering::Relaxed);
        let mut sent = Vec::new();
        let mut calls = Vec::new();
        for (request, meta) in batch {
            calls.push(service.clone().oneshot(request));
            sent.push(meta);
        }
        let responses = match <[_; 2]>::try_from(calls) {
            Ok([first, second]) => {
                let (first, second) = tokio::join!(first, second);
                vec![first, second]
            }
            Err(calls) => {
                let mut responses = Vec::new();
                for call in calls {
                    responses.push(call.await);
                }
                responses
            }
        };
        let responses: Vec<Response<String>> = responses
            .into_iter()
            .map(|response| response.unwrap_or_else(|never: Infallible| match never {}))
            .collect();
        // A request in flight follows its session when another one in the
        // batch moves it (`cycle_id`), so IDs seen anywhere in the batch are
        // the server's.
        // The one documented 5xx a MemoryStore can lead to: a save that
        // gives up on a conflict under `ConflictPolicy::Fail` answers 503
        // (the default `CommitErrorPolicy`).
        let conflicted = conflicts.load(Ordering::Relaxed) > conflicts_before;
        let may_fail = conflicted && matches!(choice.conflict, ConflictChoice::Fail);
        let seen: Vec<Option<Vec<String>>> = responses.iter().map(seen_ids).collect();
        let batch_ids: HashSet<&String> = seen.iter().flatten().flatten().collect();
        for ((sent, response), seen) in sent.iter().zip(&responses).zip(&seen) {
            check_response(
                choice,
                name,
                sent,
                response,
                may_fail,
                seen,
                &known,
                &batch_ids,
                &mut issued,
            );
        }
        known.extend(seen.into_iter().flatten().flatten());
    }
}

/// What a request carried that its response is checked against.
struct Sent {
    /// Session IDs its cookies carried with a valid signature.
    ids: HashSet<String>,
    secure: bool,
    path: String,
}

fn config(choice: &ConfigChoice, name: &str, conflicts: Arc<AtomicUsize>) -> SessionConfig {
    let mut cookie = CookieOptions::new();
    cookie = match choice.secure {
        SecureChoice::Unset => cookie,
        SecureChoice::Never => cookie.with_secure(SecurePolicy::Never),
        SecureChoice::Always => cookie.with_secure(SecurePolicy::Always),
        SecureChoice::Auto => cookie.with_secure(SecurePolicy::Auto),
    };
    cookie = match choice.same_site {
        SameSiteChoice::Unset => cookie,
        SameSiteChoice::Off => cookie.with_same_site(SameSitePolicy::Off),
        SameSiteChoice::Strict => cookie.with_same_site(SameSitePolicy::Strict),
        SameSiteChoice::Lax => cookie.with_same_site(SameSitePolicy::Lax),
        SameSiteChoice::None => cookie.with_same_site(SameSitePolicy::None),
        SameSiteChoice::Auto => cookie.with_same_site(SameSitePolicy::Auto),
    };
    if choice.max_age_one_hour {
        cookie = cookie.with_max_age(Some(Duration::from_secs(3600)));
    }
    if choice.app_path {
        cookie = cookie.with_path("/app");
    }
    if choice.domain {
        cookie = cookie.with_domain("example.com");
    }
    let mut config = SessionConfig::new(SECRET)
        .with_secrets([SECRET, OLD_SECRET])
        .with_name(name)
        .with_cookie(cookie)
        .with_proxy(choice.proxy)
        .with_rolling(choice.rolling)
        .with_save_uninitialized(choice.save_uninitialized)
        .with_resave(choice.resave)
        .with_path_match(if choice.rfc6265_path_match {
            PathMatch::Rfc6265
        } else {
            PathMatch::Prefix
        })
        .with_unset(if choice.unset_destroys {
            Unset::Destroy
        } else {
            Unset::Keep
        })
        .with_resign_old_secret(choice.resign_old_secret)
        .with_clear_cookie_on_destroy(choice.clear_cookie_on_destroy)
        .with_lazy_load(choice.lazy_load)
        .with_conflict_policy(match choice.conflict {
            ConflictChoice::Merge => ConflictPolicy::Merge,
            ConflictChoice::LastWriteWins => ConflictPolicy::LastWriteWins,
            ConflictChoice::Fail => ConflictPolicy::Fail,
        })
        .with_error_hook(move |error| {
            // The MemoryStore never fails; anything else (a cookie the
            // handler made unwritable, a conflict) is the request's own.
            assert!(
                !matches!(error, SessionError::Store(_)),
                "store error reported: {error:?}"
            );
            if matches!(error, SessionError::Conflict) {
                conflicts.fetch_add(1, Ordering::Relaxed);
            }
        });
    if choice.absolute_timeout {
        config = config.with_absolute_timeout(Some(Duration::from_secs(3600)));
    }
    if choice.hashed_ids {
        config = config.with_hashed_ids_at_rest(HASH_KEY);
    }
    config
}

fn seed_record(seed: &Seed) -> Option<Record> {
    let record = match &seed.record {
        SeedRecord::Json(bytes) => Record::from_json(bytes).ok()?,
        SeedRecord::Fields {
            original_max_age,
            domain,
            path,
            secure,
            same_site,
            counter,
        } => {
            let mut cookie = server_session::CookieData::default()
                .with_original_max_age_ms(*original_max_age)
                .with_domain(domain.clone())
                .with_secure(*secure)
                .with_same_site(same_site.map(SameSiteAttribute::get));
            if let Some(path) = path {
                cookie = cookie.with_path(path);
            }
            let mut data = serde_json::Map::new();
            if let Some(counter) = counter {
                data.insert("counter".to_owned(), (*counter).into());
            }
            Record::new(cookie, data)
        }
    };
    let mut cookie = record.cookie().clone();
    if let Some(expires_in) = seed.expires_in_ms {
        cookie = cookie.with_expires_ms(Some(now_ms() + i64::from(expires_in)));
    }
    let mut data = record.data().clone();
    if let Some(ago) = seed.created_ms_ago {
        data.insert(
            "__sessionCreatedAt".to_owned(),
            now_ms().saturating_sub(ago).into(),
        );
    }
    Some(Record::new(cookie, data))
}

/// The request, and the session IDs its cookies carry with a valid signature.
fn build_request(
    spec: &RequestSpec,
    name: &str,
    issued: &[String],
    seeded_id: Option<&str>,
) -> Option<(Request<()>, HashSet<String>)> {
    let method = match &spec.method {
        MethodChoice::Get => Method::GET,
        MethodChoice::Post => Method::POST,
        MethodChoice::Head => Method::HEAD,
        MethodChoice::Options => Method::OPTIONS,
        MethodChoice::Other(method) => Method::from_bytes(method.as_bytes()).ok()?,
    };
    let uri = match &spec.path {
        PathChoice::Root => Uri::from_static("/"),
        PathChoice::App => Uri::from_static("/app"),
        PathChoice::AppChild => Uri::from_static("/app/child?x=1"),
        PathChoice::Application => Uri::from_static("/application"),
        PathChoice::Other(path) => Uri::try_from(format!("/{path}")).ok()?,
    };
    let mut request = Request::builder().method(method).uri(uri).body(()).ok()?;
    let [both, old] = &*SECRETS;
    let mut sent_ids = HashSet::new();
    for pairs in &spec.cookie_headers {
        let mut header = Vec::new();
        for pair in pairs {
            if !header.is_empty() {
                header.extend_from_slice(b"; ");
            }
            let (pair_name, value) = match pair {
                CookiePair::Session(value) => (name, value),
                CookiePair::Named(pair_name, value) => (pair_name.as_str(), value),
                CookiePair::Raw(bytes) => {
                    header.extend_from_slice(bytes);
                    continue;
                }
            };
            header.extend_from_slice(pair_name.as_bytes());
            header.push(b'=');
            match value {
                CookieValue::Issued(n) if !issued.is_empty() => {
                    header.extend_from_slice(issued[usize::from(*n) % issued.len()].as_bytes());
                }
                CookieValue::Issued(_) => {}
                CookieValue::SeededId { old_secret } => {
                    let id = seeded_id.unwrap_or_default();
                    let signer = if *old_secret { old } else { both };
                    header.extend_from_slice(sign_session_id(id, signer).as_bytes());
                }
                CookieValue::Signed {
                    id,
                    old_secret,
                    raw,
                } => {
                    let signer = if *old_secret { old } else { both };
                    if *raw {
                        header.extend_from_slice(format!("s:{}", signer.sign(id)).as_bytes());
                    } else {
                        header.extend_from_slice(sign_session_id(id, signer).as_bytes());
                    }
                }
                CookieValue::Raw(bytes) => header.extend_from_slice(bytes),
            }
        }
        // Bytes no header value may hold (controls other than tab) are
        // dropped; everything else, non-UTF-8 included, goes through.
        header.retain(|&byte| byte == b'\t' || (byte >= 0x20 && byte != 0x7f));
        let value = HeaderValue::from_bytes(&header).ok()?;
        signed_ids_in(&header, &mut sent_ids);
        request.headers_mut().append(COOKIE, value);
    }
    if let Some(proto) = &spec.forwarded_proto {
        let value = match proto {
            ProtoChoice::Https => HeaderValue::from_static("https"),
            ProtoChoice::Http => HeaderValue::from_static("http"),
            ProtoChoice::Raw(bytes) => HeaderValue::from_bytes(bytes).ok()?,
        };
        request.headers_mut().insert("x-forwarded-proto", value);
    }
    if let Some(secure) = spec.secure_hint {
        request.extensions_mut().insert(IsSecure(secure));
    }
    request.extensions_mut().insert(Arc::new(Plan {
        actions: spec.actions.clone(),
        skip_session: spec.skip_session,
    }));
    Some((request, sent_ids))
}

/// Every validly signed ID anywhere in a `Cookie` header, whichever pair a
/// parser might pick: each `;`-separated part from each `=` on, trimmed,
/// with and without quotes, raw and URI-decoded.
fn signed_ids_in(header: &[u8], into: &mut HashSet<String>) {
    let [both, _] = &*SECRETS;
    for part in header.split(|&byte| byte == b';') {
        for (at, _) in part.iter().enumerate().filter(|(_, &byte)| byte == b'=') {
            let value = String::from_utf8_lossy(&part[at + 1..]);
            let value = value.trim_matches([' ', '\t']);
            let unquoted = value
                .strip_prefix('"')
                .and_then(|inner| inner.strip_suffix('"'))
                .unwrap_or(value);
            let candidates = [
                Some(value.to_owned()),
                Some(unquoted.to_owned()),
                decode_uri_component(value),
                decode_uri_component(unquoted),
            ];
            for candidate in candidates.into_iter().flatten() {
                if let Some(id) = unsign_session_id(&candidate, both) {
                    into.insert(id.to_owned());
                }
            }
        }
    }
}

/// Whether the request is secure as express's `req.secure` would say.
fn is_secure(request: &Request<()>, proxy: Option<bool>) -> bool {
    match proxy {
        Some(false) => false,
        None => request
            .extensions()
            .get::<IsSecure>()
            .is_some_and(|hint| hint.0),
        Some(true) => request
            .headers()
            .get("x-forwarded-proto")
            .and_then(|value| value.as_bytes().split(|&byte| byte == b',').next())
            .is_some_and(|first| first.trim_ascii().eq_ignore_ascii_case(b"https")),
    }
}

async fn handler(request: Request<()>) -> Result<Response<String>, Infallible> {
    let mut response = Response::new(String::new());
    let (mut parts, ()) = request.into_parts();
    let Some(plan) = parts.extensions.get::<Arc<Plan>>().cloned() else {
        return Ok(response);
    };
    let session = if plan.skip_session {
        parts.extensions.get::<Session>().cloned()
    } else {
        // The axum extractor, which also loads a lazy session. Over a
        // MemoryStore it has no reason to refuse (a 500 or 503).
        Option::<Session>::from_request_parts(&mut parts, &())
            .await
            .unwrap_or_else(|rejection| panic!("extractor refused: {rejection:?}"))
    };
    let Some(session) = session else {
        return Ok(response);
    };
    let mut seen = vec![session.id()];
    let actions = if plan.skip_session {
        &[][..]
    } else {
        &plan.actions[..]
    };
    for action in actions {
        let result = match action {
            Action::Read(key) => {
                let _ = session.get_value(key.as_str());
                Ok(())
            }
            Action::Insert(key, value) => session.insert(key.as_str(), value),
            Action::Remove(key) => session.remove_value(key.as_str()).map(drop),
            Action::Increment => session
                .update("counter", |n: Option<i64>| n.unwrap_or(0).wrapping_add(1))
                .map(drop),
            Action::Clear => session.clear(),
            Action::Regenerate => session.regenerate().await,
            Action::CycleId => session.cycle_id().await,
            Action::Destroy => session.destroy().await,
            Action::Reload => session.reload().await,
            Action::Save => session.save().await,
            Action::Touch => {
                session.touch();
                Ok(())
            }
            Action::Unset => {
                session.unset();
                Ok(())
            }
            Action::SetMaxAgeMs(ms) => {
                session.cookie().set_max_age_ms(*ms);
                Ok(())
            }
            Action::SetDomain(domain) => {
                session.cookie().set_domain(domain.clone());
                Ok(())
            }
            Action::SetPath(path) => {
                session.cookie().set_path(path);
                Ok(())
            }
            Action::SetSecure(secure) => {
                session.cookie().set_secure(*secure);
                Ok(())
            }
            Action::SetHttpOnly(http_only) => {
                session.cookie().set_http_only(*http_only);
                Ok(())
            }
            Action::SetPartitioned(partitioned) => {
                session.cookie().set_partitioned(*partitioned);
                Ok(())
            }
            Action::SetSameSite(same_site) => {
                session
                    .cookie()
                    .set_same_site(same_site.map(SameSiteAttribute::get));
                Ok(())
            }
        };
        if let Err(error) = result {
            assert!(
                !matches!(
                    error,
                    SessionError::Store(_) | SessionError::InvalidId { .. }
                ),
                "{action:?}: {error:?}"
            );
        }
        seen.push(session.id());
    }
    // A dead session (destroyed, unset) has the empty ID: no ID at all.
    seen.retain(|id| !id.is_empty());
    // Encoded: an ID loaded from the store may hold any character.
    let seen: Vec<String> = seen
        .iter()
        .map(|id| encode_uri_component(id).into_owned())
        .collect();
    let value = HeaderValue::from_str(&seen.join(",")).expect("encoded IDs are ASCII");
    response.headers_mut().insert(SEEN_IDS, value);
    Ok(response)
}

/// The live session IDs the handler saw, in order; `None` when it had no
/// session.
fn seen_ids(response: &Response<String>) -> Option<Vec<String>> {
    let text = response.headers().get(SEEN_IDS)?;
    let text = text.to_str().expect("IDs are ASCII");
    Some(
        text.split(',')
            .filter(|id| !id.is_empty())
            .map(|id| decode_uri_component(id).expect("encoded by the handler"))
            .collect(),
    )
}

#[allow(clippy::too_many_arguments)]
fn check_response(
    choice: &ConfigChoice,
    name: &str,
    sent: &Sent,
    response: &Response<String>,
    may_fail: bool,
    seen: &Option<Vec<String>>,
    known: &HashSet<String>,
    batch_ids: &HashSet<&String>,
    issued: &mut Vec<String>,
) {
    if may_fail && response.status() == http::StatusCode::SERVICE_UNAVAILABLE {
        // Replaced after the handler ran: no cookie, and a retry hint.
        assert!(response.headers().get(SET_COOKIE).is_none());
        assert_eq!(response.headers()[http::header::RETRY_AFTER], "1");
        return;
    }
    assert_eq!(
        response.status(),
        http::StatusCode::OK,
        "{choice:?} {:?}",
        sent.path
    );
    let [both, old] = &*SECRETS;

    let set_cookies: Vec<&HeaderValue> = response.headers().get_all(SET_COOKIE).iter().collect();
    if seen.is_none() {
        assert!(
            set_cookies.is_empty(),
            "a cookie without a session: {:?}",
            sent.path
        );
    }

    let (mut sets, mut clears) = (0, 0);
    for header in set_cookies {
        let text = header.to_str().expect("Set-Cookie is visible ASCII");
        let pair = text.split("; ").next().unwrap_or_default();
        let value = pair
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('='))
            .unwrap_or_else(|| panic!("not the session cookie: {text:?}"));
        // Browsers refuse a `Secure` cookie from an insecure origin, and
        // express does not send one.
        assert!(
            sent.secure || !text.split("; ").any(|attribute| attribute == "Secure"),
            "Secure cookie on an insecure request: {text:?}"
        );
        if value.is_empty() {
            clears += 1;
            assert!(
                text.contains("; Expires=Thu, 01 Jan 1970 00:00:00 GMT"),
                "{text:?}"
            );
            continue;
        }
        sets += 1;
        let found = find_cookie(pair.as_bytes(), name).expect("the pair just split");
        let id = unsign_session_id(&found, both)
            .unwrap_or_else(|| panic!("Set-Cookie not signed: {text:?}"));
        // Always signed with the first secret, as express does.
        assert_eq!(
            unsign_session_id(&found, old),
            None,
            "signed with the old secret: {text:?}"
        );
        assert!(
            batch_ids.contains(&id.to_owned()) || known.contains(id),
            "Set-Cookie for an ID the server never used: {text:?}"
        );
        issued.push(value.to_owned());
    }
    assert!(
        sets <= 1 && clears <= 1,
        "{sets} cookies and {clears} clearings"
    );

    for id in seen.iter().flatten() {
        assert!(
            !sent.ids.contains(id) || known.contains(id),
            "the client's own ID {id:?} was adopted"
        );
    }
}
