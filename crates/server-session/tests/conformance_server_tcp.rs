//! Starts the conformance server example as a real process and drives it
//! over TCP, checking its cookies with cookie-signature's algorithm. Each
//! test runs on both adapters (`<test>::tower`, `<test>::actix`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::time::{sleep_until, Instant};

use server_session::__private::{self as codec, Secrets};

use session_test_support::node as node_support;
use session_test_support::on_both_adapters;

use node_support::{Kind, Reply, Server};

/// The conformance server of the adapter under test.
fn example_binary() -> PathBuf {
    node_support::rust_binary(node_support::adapter())
}

fn start(options: &str) -> Server {
    start_on(options, "memory")
}

/// The conformance server of the adapter under test, with `options` (JSON)
/// on `store`.
fn start_on(options: &str, store: &str) -> Server {
    let options = serde_json::from_str(options).expect("the test's options are JSON");
    node_support::start(Kind::Rust, node_support::adapter(), &options, store)
}

async fn get(
    client: &reqwest::Client,
    url: String,
    cookie: Option<&str>,
) -> (Option<String>, String) {
    let answer = send(client, url, cookie, &[]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    (answer.set_cookies.into_iter().next(), answer.body)
}

/// `GET url` with `cookie` and `headers`.
async fn send(
    client: &reqwest::Client,
    url: String,
    cookie: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    node_support::get_with_cookie(client, &url, cookie, headers).await
}

fn hand_sign(id: &str) -> String {
    node_support::signature(id, "keyboard cat")
}

/// The `name=value` pair of express's cookie for `id` signed with `secret`.
fn signed_pair(name: &str, id: &str, secret: &str) -> String {
    format!("{name}={}", node_support::signed_value(id, secret))
}

on_both_adapters! {
#[tokio::test]
async fn conformance_server_answers_the_contract_over_tcp() {
    let server = start(r#"{"secret":"keyboard cat","cookie":{"maxAge":60000}}"#);
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base);

    let (set_cookie, body) = get(&client, url("/inc/c"), None).await;
    assert_eq!(body, "1");
    let set_cookie = set_cookie.expect("a new session sets a cookie");
    assert!(set_cookie.starts_with("connect.sid=s%3A"), "{set_cookie}");
    assert!(set_cookie.contains("; Path=/; Expires="), "{set_cookie}");
    assert!(set_cookie.ends_with("; HttpOnly"), "{set_cookie}");

    // The cookie verifies with cookie-signature's algorithm and secret.
    let value = codec::find_cookie(set_cookie.as_bytes(), "connect.sid").expect("cookie value");
    let value_encoded = set_cookie
        .split(';')
        .next()
        .and_then(|pair| pair.strip_prefix("connect.sid="))
        .expect("name=value")
        .to_owned();
    let secrets = Secrets::new(["keyboard cat"]).expect("secret");
    let id = codec::unsign_session_id(&value, &secrets)
        .expect("signed with the secret")
        .to_owned();
    let (_, served_id) = get(&client, url("/id"), Some(&set_cookie)).await;
    assert_eq!(served_id, id);

    // A cookie signed by hand (HMAC-SHA256, unpadded base64, as
    // cookie-signature does) with the same secret is interchangeable.
    let hand_signed = format!(
        "connect.sid=s%3A{id}.{}",
        hand_sign(&id).replace('+', "%2B").replace('/', "%2F")
    );
    assert_eq!(hand_signed, format!("connect.sid={value_encoded}"));
    let (_, body) = get(&client, url("/inc/c"), Some(&hand_signed)).await;
    assert_eq!(body, "2");

    let (_, body) = get(&client, url("/get/c"), Some(&set_cookie)).await;
    assert_eq!(body, "2");
    let (_, body) = get(&client, url("/cookie"), Some(&set_cookie)).await;
    assert!(
        body.starts_with(r#"{"originalMaxAge":60000,"expires":""#),
        "{body}"
    );

    let (set_cookie_after, new_id) = get(&client, url("/regenerate"), Some(&set_cookie)).await;
    assert_ne!(new_id, id);
    assert!(set_cookie_after.is_some_and(|c| c.contains(&new_id)));

    let (_, body) = get(&client, url("/get/c"), Some(&set_cookie)).await;
    assert_eq!(body, "undefined", "the regenerated-away session is gone");

    // Outside the cookie path there is no session.
    let gated = start(r#"{"cookie":{"path":"/admin"}}"#);
    let (set_cookie, body) = get(&client, format!("{}/id", gated.base), None).await;
    assert_eq!((set_cookie, body.as_str()), (None, "no session"));
}
}

/// Creates a session through the server on `store` and returns its ID and
/// the `Expires` of its cookie in epoch seconds.
async fn create_session(store: &str) -> (String, i64, Server) {
    let server = start_on(
        r#"{"secret":"keyboard cat","cookie":{"maxAge":60000}}"#,
        store,
    );
    let client = reqwest::Client::new();
    let (set_cookie, _) = get(&client, format!("{}/set/user/bob", server.base), None).await;
    let set_cookie = set_cookie.expect("a cookie for the new session");
    let (_, id) = get(&client, format!("{}/id", server.base), Some(&set_cookie)).await;
    let expires = set_cookie
        .split("; ")
        .find_map(|attribute| attribute.strip_prefix("Expires="))
        .expect("Expires attribute");
    let expires = httpdate::parse_http_date(expires).expect("IMF-fixdate");
    let expires = expires
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    (id, expires, server)
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

on_both_adapters! {
#[tokio::test]
async fn a_session_made_on_redis_is_a_connect_redis_record() {
    let Some(url) = server_session::conformance::service_url("REDIS_URL") else {
        return;
    };
    let (id, expires, _server) = create_session(&url).await;
    let client = redis::Client::open(url.as_str()).expect("redis url");
    let mut redis = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection");
    let key = format!("sess:{id}");
    let value: String = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .expect("GET");
    let ttl: i64 = redis::cmd("TTL")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .expect("TTL");
    assert!(
        value.starts_with(r#"{"cookie":{"originalMaxAge":60000,"expires":""#)
            && value.ends_with(r#"","httpOnly":true,"path":"/"},"user":"bob"}"#),
        "{value}"
    );
    // connect-redis: TTL = ceil((expires - now) / 1000).
    assert!(
        (ttl - (expires - now_secs())).abs() <= 1,
        "ttl {ttl}, expires in {}",
        expires - now_secs()
    );
}
}

on_both_adapters! {
#[tokio::test]
async fn a_session_made_on_postgres_is_a_connect_pg_simple_row() {
    let Some(url) = server_session::conformance::service_url("POSTGRES_URL") else {
        return;
    };
    let (id, expires, _server) = create_session(&url).await;
    let pool = sqlx::PgPool::connect(&url).await.expect("postgres");
    let (sess, expire): (String, f64) = sqlx::query_as(
        r#"SELECT sess::text, extract(epoch FROM expire)::float8 FROM "session" WHERE sid = $1"#,
    )
    .bind(&id)
    .fetch_one(&pool)
    .await
    .expect("the session row");
    assert!(
        sess.ends_with(r#"","httpOnly":true,"path":"/"},"user":"bob"}"#),
        "{sess}"
    );
    // connect-pg-simple: expire = to_timestamp(ceil(expires_ms / 1000)),
    // from the save; the `/id` request's touch may since have moved it to
    // its own now + maxAge, later than the cookie's on a busy machine.
    let expire = expire as i64;
    assert!(
        expire >= expires - 1 && expire <= now_secs() + 61,
        "expire {expire}, cookie {expires}, now {}",
        now_secs()
    );
}
}

/// Runs the server with `options` expecting it to refuse them: exit status
/// 2 before listening. Returns what it printed on stderr.
fn refused(options: &str) -> String {
    let mut child = Command::new(example_binary())
        .env("PORT", "0")
        .env("SESSION_OPTIONS", options)
        .env("SESSION_STORE", "memory")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the conformance server (is the example built?)");
    // A refusal exits, which closes stdout: an empty first line.
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    if !line.is_empty() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the server accepted {options}: {line:?}");
    }
    let output = child.wait_with_output().expect("exit");
    assert_eq!(output.status.code(), Some(2), "{options}: {output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The `name=value` pair of a `Set-Cookie` header.
fn pair_of(set_cookie: &str) -> &str {
    set_cookie.split("; ").next().unwrap_or_default()
}

/// The attributes of a `Set-Cookie` header, in order.
fn attributes_of(set_cookie: &str) -> Vec<&str> {
    set_cookie.split("; ").skip(1).collect()
}

/// `Expires` minus `date`, in whole seconds.
fn expires_lead(set_cookie: &str, date: std::time::SystemTime) -> i64 {
    let expires = attributes_of(set_cookie)
        .into_iter()
        .find_map(|attribute| attribute.strip_prefix("Expires="))
        .unwrap_or_else(|| panic!("no Expires in {set_cookie}"));
    let expires = httpdate::parse_http_date(expires).expect("IMF-fixdate");
    let secs = |time: std::time::SystemTime| {
        time.duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs() as i64
    };
    secs(expires) - secs(date)
}

/// 32 bytes: the shortest secret `hardened` takes.
const SECRET_32: &str = "conformance secret of 32 bytes!!";

on_both_adapters! {
#[tokio::test]
async fn the_new_keys_refuse_bad_values_with_the_key_named() {
    assert_eq!(SECRET_32.len(), 32);
    let cases = [
        (r#"{"hardened":"yes"}"#, "`hardened`"),
        (r#"{"absoluteTimeout":0}"#, "`absoluteTimeout`"),
        (r#"{"absoluteTimeout":-1}"#, "`absoluteTimeout`"),
        (r#"{"absoluteTimeout":1.5}"#, "`absoluteTimeout`"),
        (r#"{"absoluteTimeout":"1500"}"#, "`absoluteTimeout`"),
        (r#"{"touchAfter":0}"#, "`touchAfter`"),
        (r#"{"touchAfter":-1}"#, "`touchAfter`"),
        (r#"{"touchAfter":1.5}"#, "`touchAfter`"),
        (r#"{"touchAfter":"1000"}"#, "`touchAfter`"),
        (r#"{"touchAfter":null}"#, "`touchAfter`"),
        (r#"{"resignOldSecret":1}"#, "`resignOldSecret`"),
        (r#"{"header":1}"#, "`header`"),
        (r#"{"header":"bad name"}"#, "`header`"),
        (r#"{"header":"cookie"}"#, "`header`"),
        (r#"{"header":{"cookie":true}}"#, "`header.name`"),
        (r#"{"header":{"name":"x-id","cookie":"yes"}}"#, "`header.cookie`"),
        (
            r#"{"clearCookieOnDestroy":"true"}"#,
            "`clearCookieOnDestroy`",
        ),
        // The hardened checks stay on: the default secret is too short…
        (r#"{"hardened":true}"#, "32 bytes"),
        // …and a keyed-in cookie browsers would drop is refused.
        (
            r#"{"hardened":true,"secret":"conformance secret of 32 bytes!!","cookie":{"secure":false}}"#,
            "`cookie.secure`",
        ),
    ];
    for (options, named) in cases {
        let stderr = refused(options);
        assert!(stderr.contains(named), "{options}: {stderr}");
    }
}
}

on_both_adapters! {
#[tokio::test]
async fn hardened_sends_a_host_prefixed_secure_lax_cookie_on_secure_requests() {
    let server = start(&format!(r#"{{"hardened":true,"secret":"{SECRET_32}"}}"#));
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base);
    let secure = [("X-Secure", "true")];

    // saveUninitialized stays false: express's default of true is not
    // applied on top of hardened, so an untouched session sets nothing.
    let untouched = send(&client, url("/id"), None, &secure).await;
    assert!(untouched.set_cookies.is_empty(), "{untouched:?}");

    let created = send(&client, url("/set/a/1"), None, &secure).await;
    assert_eq!(created.set_cookies.len(), 1, "{created:?}");
    let set_cookie = &created.set_cookies[0];
    let id = codec::find_cookie(set_cookie.as_bytes(), "__Host-sid")
        .and_then(|value| {
            let secrets = Secrets::new([SECRET_32]).expect("secret");
            codec::unsign_session_id(&value, &secrets).map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("a __Host-sid cookie signed with the secret: {set_cookie}"));
    assert_eq!(
        pair_of(set_cookie),
        signed_pair("__Host-sid", &id, SECRET_32)
    );
    let attributes = attributes_of(set_cookie);
    assert_eq!(attributes.len(), 5, "{set_cookie}");
    assert_eq!(attributes[0], "Path=/");
    assert!(attributes[1].starts_with("Expires="), "{set_cookie}");
    assert_eq!(attributes[2..], ["HttpOnly", "Secure", "SameSite=Lax"]);
    // The idle timeout: 30 minutes.
    let lead = expires_lead(set_cookie, created.date);
    assert!((1799..=1801).contains(&lead), "Expires {lead} s after Date");

    // rolling stays true: an unchanged read re-sends the cookie.
    let cookie = pair_of(set_cookie).to_owned();
    let read = send(&client, url("/get/a"), Some(&cookie), &secure).await;
    assert_eq!(read.body, r#""1""#);
    assert_eq!(read.set_cookies.len(), 1, "rolling: {read:?}");
    assert_eq!(pair_of(&read.set_cookies[0]), cookie);
    // Over plain http the session works, but the Secure cookie is not sent.
    let plain = send(&client, url("/get/a"), Some(&cookie), &[]).await;
    assert_eq!(plain.body, r#""1""#);
    assert!(plain.set_cookies.is_empty(), "{plain:?}");

    // An empty `cookie` object is the library's hardened cookie: the
    // example rebuilds those options to apply keys on top, and must not
    // drift from `SessionConfig::hardened`.
    let empty_cookie = start(&format!(
        r#"{{"hardened":true,"secret":"{SECRET_32}","cookie":{{}}}}"#
    ));
    let cookie_json = |server: &Server| {
        let url = format!("{}/cookie", server.base);
        let client = client.clone();
        async move {
            let (_, body) = get(&client, url, None).await;
            let mut json: serde_json::Value = serde_json::from_str(&body).expect("cookie JSON");
            json.as_object_mut().expect("an object").remove("expires");
            json
        }
    };
    let library = cookie_json(&server).await;
    assert_eq!(library, cookie_json(&empty_cookie).await);
    assert_eq!(library["sameSite"], "lax", "{library}");
    let empty_created = send(
        &client,
        format!("{}/set/a/1", empty_cookie.base),
        None,
        &secure,
    )
    .await;
    let set_cookie = empty_created.set_cookies.first().expect("a cookie");
    assert_eq!(attributes_of(set_cookie)[2..], attributes[2..]);
    let empty_lead = expires_lead(set_cookie, empty_created.date);
    assert!(
        (1799..=1801).contains(&empty_lead),
        "Expires {empty_lead} s after Date"
    );

    // Keys given apply on top, and only those: the other attributes stay.
    let custom = start(&format!(
        r#"{{"hardened":true,"secret":"{SECRET_32}","name":"__Host-app","cookie":{{"maxAge":60000}}}}"#
    ));
    let created = send(&client, format!("{}/set/a/1", custom.base), None, &secure).await;
    let set_cookie = created.set_cookies.first().expect("a cookie");
    assert!(set_cookie.starts_with("__Host-app=s%3A"), "{set_cookie}");
    assert_eq!(
        attributes_of(set_cookie)[2..],
        ["HttpOnly", "Secure", "SameSite=Lax"]
    );
    let lead = expires_lead(set_cookie, created.date);
    assert!((59..=61).contains(&lead), "Expires {lead} s after Date");
}
}

on_both_adapters! {
#[tokio::test]
async fn absolute_timeout_ends_an_active_session_at_its_deadline() {
    let server = start(
        r#"{"absoluteTimeout":1500,"rolling":true,"resave":false,"saveUninitialized":false,"cookie":{"maxAge":60000}}"#,
    );
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base);

    let before = Instant::now();
    let created = send(&client, url("/set/a/1"), None, &[]).await;
    let after = Instant::now();
    let set_cookie = created.set_cookies.first().expect("a new session's cookie");
    // The cookie (and the store's expiry) never outlives the deadline: a
    // few seconds (whole-second Expires), not maxAge's minute.
    let lead = expires_lead(set_cookie, created.date);
    assert!((0..=2).contains(&lead), "Expires {lead} s after Date");
    let cookie = pair_of(set_cookie).to_owned();
    let id = get(&client, url("/id"), Some(&cookie)).await.1;

    // Activity before the deadline: served, and (rolling) re-sent without
    // moving the expiry past the deadline.
    for at in [500, 1_000] {
        sleep_until(before + Duration::from_millis(at)).await;
        let read = send(&client, url("/get/a"), Some(&cookie), &[]).await;
        assert_eq!(read.body, r#""1""#, "at {at} ms");
        let resent = read.set_cookies.first().expect("rolling re-sends");
        let lead = expires_lead(resent, read.date);
        assert!(
            (0..=2).contains(&lead),
            "at {at} ms: Expires {lead} s after Date"
        );
    }

    // Past the deadline, however active: a fresh session, the data gone.
    sleep_until(after + Duration::from_millis(2_000)).await;
    let (_, body) = get(&client, url("/get/a"), Some(&cookie)).await;
    assert_eq!(body, "undefined");
    let (_, fresh) = get(&client, url("/id"), Some(&cookie)).await;
    assert_ne!(fresh, id);
    // The old record is gone, not just hidden: the old cookie still finds
    // nothing, and a fresh session under it starts empty.
    let (_, again) = get(&client, url("/id"), Some(&cookie)).await;
    assert!(again != id && again != fresh, "{again}");

    // Without the key, the same activity keeps the session.
    let control = start(
        r#"{"rolling":true,"resave":false,"saveUninitialized":false,"cookie":{"maxAge":60000}}"#,
    );
    let (set_cookie, _) = get(&client, format!("{}/set/a/1", control.base), None).await;
    let set_cookie = set_cookie.expect("a cookie");
    let lead = expires_lead(&set_cookie, created.date);
    assert!(lead >= 59, "no deadline: Expires {lead} s away");
}
}

on_both_adapters! {
#[tokio::test]
async fn cycle_moves_the_data_to_a_new_id_and_kills_the_old_one() {
    let server = start(r#"{"resave":false,"saveUninitialized":false,"cookie":{"maxAge":60000}}"#);
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base);
    let (set_cookie, _) = get(&client, url("/set/a/1"), None).await;
    let old_cookie = pair_of(&set_cookie.expect("a cookie")).to_owned();
    let old_id = get(&client, url("/id"), Some(&old_cookie)).await.1;

    let cycled = send(&client, url("/cycle"), Some(&old_cookie), &[]).await;
    assert_eq!(cycled.status, 200, "{cycled:?}");
    let new_id = cycled.body.clone();
    assert!(!new_id.is_empty() && new_id != old_id, "{new_id}");
    let set_cookie = cycled.set_cookies.first().expect("the new ID's cookie");
    assert_eq!(
        pair_of(set_cookie),
        signed_pair("connect.sid", &new_id, "keyboard cat")
    );
    let new_cookie = pair_of(set_cookie).to_owned();

    // The data moved with it…
    assert_eq!(get(&client, url("/id"), Some(&new_cookie)).await.1, new_id);
    assert_eq!(
        get(&client, url("/get/a"), Some(&new_cookie)).await.1,
        r#""1""#
    );
    // …and the old ID holds nothing any more.
    assert_eq!(
        get(&client, url("/get/a"), Some(&old_cookie)).await.1,
        "undefined"
    );
    let stale = get(&client, url("/id"), Some(&old_cookie)).await.1;
    assert!(stale != old_id && stale != new_id, "{stale}");
}
}

on_both_adapters! {
#[tokio::test]
async fn cycle_keeps_the_absolute_deadline() {
    let server = start(
        r#"{"absoluteTimeout":1500,"resave":false,"saveUninitialized":false,"cookie":{"maxAge":60000}}"#,
    );
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base);
    let before = Instant::now();
    let (set_cookie, _) = get(&client, url("/set/a/1"), None).await;
    let after = Instant::now();
    let old_cookie = pair_of(&set_cookie.expect("a cookie")).to_owned();

    sleep_until(before + Duration::from_millis(600)).await;
    let cycled = send(&client, url("/cycle"), Some(&old_cookie), &[]).await;
    assert_eq!(cycled.status, 200, "{cycled:?}");
    let new_id = cycled.body.clone();
    let new_cookie = pair_of(cycled.set_cookies.first().expect("a cookie")).to_owned();
    assert_eq!(
        get(&client, url("/get/a"), Some(&new_cookie)).await.1,
        r#""1""#
    );

    // 2 s after creation, 1.4 s after the cycle: the deadline still counts
    // from creation.
    sleep_until(after + Duration::from_millis(2_000)).await;
    assert_eq!(
        get(&client, url("/get/a"), Some(&new_cookie)).await.1,
        "undefined"
    );
    assert_ne!(get(&client, url("/id"), Some(&new_cookie)).await.1, new_id);
}
}

/// Creates a session on `server`, then requests `route` with its cookie.
async fn create_then(client: &reqwest::Client, server: &Server, route: &str) -> Reply {
    let (set_cookie, _) = get(client, server.url("/set/a/1"), None).await;
    let cookie = pair_of(&set_cookie.expect("a cookie")).to_owned();
    send(client, server.url(route), Some(&cookie), &[]).await
}

on_both_adapters! {
#[tokio::test]
async fn clear_cookie_on_destroy_expires_the_cookie_on_destroy_and_unset() {
    let server = start(r#"{"clearCookieOnDestroy":true,"cookie":{"maxAge":60000}}"#);
    let control = start(r#"{"cookie":{"maxAge":60000}}"#);
    let client = reqwest::Client::new();

    for route in ["/destroy", "/unset"] {
        let ended = create_then(&client, &server, route).await;
        assert_eq!(ended.status, 200, "{ended:?}");
        assert_eq!(ended.set_cookies.len(), 1, "{route}: {ended:?}");
        let cleared = &ended.set_cookies[0];
        assert_eq!(pair_of(cleared), "connect.sid=", "{cleared}");
        assert!(attributes_of(cleared).contains(&"Path=/"), "{cleared}");
        let expires = attributes_of(cleared)
            .into_iter()
            .find_map(|attribute| attribute.strip_prefix("Expires="))
            .unwrap_or_else(|| panic!("{route}: no Expires in {cleared}"));
        assert_eq!(
            httpdate::parse_http_date(expires).expect("IMF-fixdate"),
            std::time::UNIX_EPOCH,
            "{route}: {cleared}"
        );

        // express (the key absent) leaves the stale cookie alone.
        let ended = create_then(&client, &control, route).await;
        assert!(ended.set_cookies.is_empty(), "{route}: {ended:?}");
    }
}
}

on_both_adapters! {
#[tokio::test]
async fn resign_old_secret_reissues_a_cookie_signed_by_an_older_secret() {
    let options = r#"{"secret":["new","old"],"resave":false,"saveUninitialized":false}"#;
    let server = start(&options.replace('{', r#"{"resignOldSecret":true,"#));
    let control = start(options);
    let client = reqwest::Client::new();

    for (target, resigns) in [(&server, true), (&control, false)] {
        let url = |path: &str| format!("{}{path}", target.base);
        let (set_cookie, _) = get(&client, url("/set/a/1"), None).await;
        let set_cookie = set_cookie.expect("a cookie");
        let id = codec::find_cookie(set_cookie.as_bytes(), "connect.sid")
            .and_then(|value| {
                let secrets = Secrets::new(["new"]).expect("secret");
                codec::unsign_session_id(&value, &secrets).map(str::to_owned)
            })
            .expect("signed with the first secret");
        // The same session, as a browser from before the rotation holds it.
        let old_cookie = signed_pair("connect.sid", &id, "old");
        let read = send(&client, url("/get/a"), Some(&old_cookie), &[]).await;
        assert_eq!(read.body, r#""1""#, "every secret verifies");
        if resigns {
            assert_eq!(read.set_cookies.len(), 1, "{read:?}");
            assert_eq!(
                pair_of(&read.set_cookies[0]),
                signed_pair("connect.sid", &id, "new"),
                "re-issued under the first secret"
            );
        } else {
            assert!(read.set_cookies.is_empty(), "express: {read:?}");
        }
        // A cookie already under the first secret is left alone.
        let current = signed_pair("connect.sid", &id, "new");
        let read = send(&client, url("/get/a"), Some(&current), &[]).await;
        assert_eq!(read.body, r#""1""#);
        assert!(read.set_cookies.is_empty(), "{read:?}");
    }
}
}

on_both_adapters! {
#[tokio::test]
async fn hash_ids_at_rest_keeps_raw_ids_out_of_redis() {
    let Some(url) = server_session::conformance::service_url("REDIS_URL") else {
        return;
    };
    let server = start_on(
        r#"{"secret":"keyboard cat","hashIdsAtRest":true,"cookie":{"maxAge":60000}}"#,
        &url,
    );
    let client = reqwest::Client::new();
    let (set_cookie, _) = get(&client, format!("{}/set/user/bob", server.base), None).await;
    let cookie = pair_of(&set_cookie.expect("a cookie")).to_owned();
    let (_, id) = get(&client, format!("{}/id", server.base), Some(&cookie)).await;
    assert_eq!(
        get(&client, format!("{}/get/user", server.base), Some(&cookie))
            .await
            .1,
        r#""bob""#
    );
    let redis_client = redis::Client::open(url.as_str()).expect("redis url");
    let mut redis = redis_client
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection");
    let raw: Option<String> = redis::cmd("GET")
        .arg(format!("sess:{id}"))
        .query_async(&mut redis)
        .await
        .expect("GET");
    assert_eq!(raw, None, "the raw ID is a Redis key");
    // Some key holds the session: the hashed one, 43 URL-safe characters.
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("sess:*")
        .query_async(&mut redis)
        .await
        .expect("KEYS");
    let mut found = false;
    for key in keys.iter().filter(|key| key.len() == "sess:".len() + 43) {
        let value: Option<String> = redis::cmd("GET")
            .arg(key)
            .query_async(&mut redis)
            .await
            .expect("GET");
        if value.is_some_and(|value| value.contains(r#""user":"bob""#) && !value.contains(&id)) {
            found = true;
        }
    }
    assert!(found, "no hashed key holds the session");
    let refused = refused(r#"{"hashIdsAtRest":"yes"}"#);
    assert!(refused.contains("hashIdsAtRest"), "{refused}");
}
}

on_both_adapters! {
/// `touchAfter` on Redis, black-box: an unchanged request within it leaves
/// the key's TTL where the creating request put it, while the same request
/// without the key moves it (express's touch).
#[tokio::test]
async fn touch_after_makes_an_unchanged_request_leave_the_redis_ttl_alone() {
    let Some(url) = server_session::conformance::service_url("REDIS_URL") else {
        return;
    };
    let lazy = start_on(
        r#"{"touchAfter":3600000,"resave":false,"saveUninitialized":false,"cookie":{"maxAge":86400000}}"#,
        &url,
    );
    let eager = start_on(
        r#"{"resave":false,"saveUninitialized":false,"cookie":{"maxAge":86400000}}"#,
        &url,
    );
    let client = reqwest::Client::new();
    let redis = redis::Client::open(url.as_str())
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection");
    let mut sessions = Vec::new();
    for server in [&lazy, &eager] {
        let (set_cookie, _) = get(&client, format!("{}/set/a/1", server.base), None).await;
        let cookie = pair_of(&set_cookie.expect("a cookie")).to_owned();
        let (_, id) = get(&client, format!("{}/id", server.base), Some(&cookie)).await;
        sessions.push((server, cookie, id));
    }
    let expiry = |id: String| {
        let mut redis = redis.clone();
        async move {
            let before = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_millis() as i64;
            let pttl: i64 = redis::cmd("PTTL")
                .arg(format!("sess:{id}"))
                .query_async(&mut redis)
                .await
                .expect("PTTL");
            assert!(pttl > 0, "sess:{id} has no TTL");
            before + pttl
        }
    };
    let mut before = Vec::new();
    for (_, _, id) in &sessions {
        before.push(expiry(id.clone()).await);
    }
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let mut moved = Vec::new();
    for ((server, cookie, id), before) in sessions.iter().zip(before) {
        let (set_cookie, body) = get(&client, format!("{}/get/a", server.base), Some(cookie)).await;
        assert_eq!((set_cookie, body.as_str()), (None, r#""1""#));
        moved.push(expiry(id.clone()).await - before);
    }
    assert!(
        moved[0].abs() <= 250,
        "touchAfter: the TTL moved by {} ms",
        moved[0]
    );
    assert!(
        moved[1] >= 900,
        "express's touch moved the TTL by only {} ms",
        moved[1]
    );
}
}

on_both_adapters! {
#[tokio::test]
async fn user_path_lists_and_revokes_a_users_sessions() {
    let server = start(
        r#"{"resave":false,"saveUninitialized":false,"cookie":{"maxAge":60000},
            "userPath":"passport.user","signInDetails":true}"#,
    );
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base);
    let mut cookies = Vec::new();
    for agent in ["laptop", "phone"] {
        let answer = send(&client, url("/login/ada"), None, &[("user-agent", agent)]).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        cookies.push(pair_of(answer.set_cookies.first().expect("a cookie")).to_owned());
    }
    assert_eq!(
        get(&client, url("/get/passport"), Some(&cookies[0])).await.1,
        r#"{"user":"ada"}"#
    );
    let listed = get(&client, url("/sessions"), Some(&cookies[0])).await.1;
    let listed: Vec<serde_json::Value> = serde_json::from_str(&listed).expect("a JSON array");
    assert_eq!(listed.len(), 2, "{listed:?}");
    let phone = listed
        .iter()
        .find(|info| info["current"] == false)
        .expect("the other session");
    assert_eq!(phone["userAgent"], "phone", "{listed:?}");
    assert_eq!(phone["address"], "127.0.0.1", "{listed:?}");
    let reference = phone["ref"].as_str().expect("a ref");

    let unknown = send(&client, url("/revoke/AAAAAAAAAAAAAAAAAAAAAA"), Some(&cookies[0]), &[]).await;
    assert_eq!((unknown.status, unknown.body.as_str()), (404, "unknown"));
    let revoked = get(&client, url(&format!("/revoke/{reference}")), Some(&cookies[0])).await;
    assert_eq!(revoked.1, "revoked");
    assert_eq!(
        get(&client, url("/get/passport"), Some(&cookies[1])).await.1,
        "undefined"
    );
    assert_eq!(get(&client, url("/revoke-all"), Some(&cookies[0])).await.1, "1");
    assert_eq!(
        get(&client, url("/get/passport"), Some(&cookies[0])).await.1,
        "undefined"
    );
}
}

on_both_adapters! {
#[tokio::test]
async fn header_carries_the_session_instead_of_or_besides_the_cookie() {
    // `"authorization"`: `Authorization: Bearer <value>` in, `X-Session-Token`
    // out, and no cookie either way.
    let server = start(r#"{"header":"authorization","cookie":{"maxAge":60000}}"#);
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base);
    let created = send(&client, url("/set/a/1"), None, &[]).await;
    assert_eq!(created.status, 200, "{created:?}");
    assert!(created.set_cookies.is_empty(), "{created:?}");
    let value = created.header("x-session-token").expect("a new value").to_owned();
    let (id, mac) = value.split_once('.').expect("<id>.<mac>");
    assert_eq!(mac, hand_sign(id), "signed as the cookie is, without `s:`");
    let bearer = format!("Bearer {value}");
    let with_value = [("authorization", bearer.as_str())];
    let read = send(&client, url("/get/a"), None, &with_value).await;
    assert_eq!((read.status, read.body.as_str()), (200, r#""1""#));
    assert_eq!(read.header("x-session-token"), None, "not on every response");
    assert_eq!(send(&client, url("/id"), None, &with_value).await.body, id);
    // The cookie for the same session is not read.
    let cookie = signed_pair("connect.sid", id, "keyboard cat");
    assert_eq!(get(&client, url("/get/a"), Some(&cookie)).await.1, "undefined");
    // A forged value is no session.
    let forged = format!("Bearer {id}.{}", node_support::signature(id, "another secret"));
    assert_eq!(
        send(&client, url("/get/a"), None, &[("authorization", &forged)]).await.body,
        "undefined"
    );
    // A new ID goes out as a new value; the old one is dead.
    let cycled = send(&client, url("/cycle"), None, &with_value).await;
    let new_id = cycled.body.clone();
    let new_value = format!("{new_id}.{}", hand_sign(&new_id));
    assert_eq!(cycled.header("x-session-token"), Some(new_value.as_str()));
    let new_bearer = format!("Bearer {new_value}");
    assert_eq!(
        send(&client, url("/get/a"), None, &[("authorization", &new_bearer)]).await.body,
        r#""1""#
    );
    assert_eq!(send(&client, url("/get/a"), None, &with_value).await.body, "undefined");

    // Any other name carries the value as is; with `"cookie": true` the
    // cookie works too, and a present header wins over it.
    let both = start(r#"{"header":{"name":"x-session-id","cookie":true},"cookie":{"maxAge":60000}}"#);
    let url = |path: &str| format!("{}{path}", both.base);
    let by_header = send(&client, url("/set/who/header"), None, &[]).await;
    let header_value = by_header.header("x-session-id").expect("a new value").to_owned();
    assert_eq!(by_header.set_cookies.len(), 1, "and a cookie: {by_header:?}");
    let by_cookie = send(&client, url("/set/who/cookie"), None, &[]).await;
    let cookie = pair_of(&by_cookie.set_cookies[0]).to_owned();
    let both_sent = [("x-session-id", header_value.as_str())];
    assert_eq!(
        send(&client, url("/get/who"), Some(&cookie), &both_sent).await.body,
        r#""header""#
    );
    assert_eq!(get(&client, url("/get/who"), Some(&cookie)).await.1, r#""cookie""#);
}
}
