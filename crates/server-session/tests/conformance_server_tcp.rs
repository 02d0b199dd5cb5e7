//! Starts the conformance server example as a real process and drives it
//! over TCP, checking its cookies with cookie-signature's algorithm.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use server_session::codec::{self, Secrets};

/// `cargo test` builds the examples next to the test binaries' directory.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let debug_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target profile directory");
    debug_dir.join("examples").join("conformance_server")
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(options: &str) -> Server {
    start_on(options, "memory")
}

fn start_on(options: &str, store: &str) -> Server {
    let mut child = Command::new(example_binary())
        .env("PORT", "0")
        .env("SESSION_OPTIONS", options)
        .env("SESSION_STORE", store)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the conformance server (is the example built?)");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    let address = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Server {
        child,
        base: format!("http://{address}"),
    }
}

async fn get(
    client: &reqwest::Client,
    url: String,
    cookie: Option<&str>,
) -> (Option<String>, String) {
    let mut request = client.get(url);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.expect("request");
    assert_eq!(response.status(), 200);
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .map(|value| value.to_str().expect("ascii").to_owned());
    (set_cookie, response.text().await.expect("body"))
}

fn hand_sign(id: &str) -> String {
    use base64::Engine;
    use hmac::Mac;
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(b"keyboard cat").expect("any key length");
    mac.update(id.as_bytes());
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(mac.finalize().into_bytes())
}

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
    // connect-pg-simple: expire = to_timestamp(ceil(expires_ms / 1000)).
    assert!(
        (expire as i64 - expires).abs() <= 1,
        "expire {expire}, cookie {expires}"
    );
}
