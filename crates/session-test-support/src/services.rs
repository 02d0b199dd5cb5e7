//! What the store crates' tests share: service URLs, unique names, an
//! express record, and waiting for a condition.

/// Reads a service URL, as the conformance kit does: unset, it prints
/// `SKIPPED: …` and returns `None`, or panics when
/// `SESSION_REQUIRE_SERVICES=1` (CI, where every service runs).
pub use server_session::conformance::service_url;

/// The `host:port[/db]` of a `redis://` URL that names no user, for a test
/// that logs in as a Redis user of its own; `None` for any other URL.
pub fn redis_address(url: &str) -> Option<&str> {
    url.strip_prefix("redis://")
        .filter(|rest| !rest.contains('@'))
}

/// A table (or schema) name no other test uses.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{:016x}", rand::random::<u64>())
}

/// An express record whose cookie expires at `expires` (ISO-8601).
pub fn express_record(expires: &str, extra: &str) -> server_session::Record {
    let json = format!(
        r#"{{"cookie":{{"originalMaxAge":60000,"expires":"{expires}","httpOnly":true,"path":"/"}}{extra}}}"#
    );
    server_session::Record::from_json(json.as_bytes()).expect("a valid express record")
}

/// Where the user-index tests keep the signed-in user: passport's
/// `req.session.passport.user`.
pub fn passport() -> server_session::store::UserPath {
    server_session::store::UserPath::parse("passport.user").expect("a valid path")
}

/// The IDs `user_sessions` lists for `user` at [`passport`].
pub async fn listed(
    store: &impl server_session::Store,
    user: &str,
) -> std::collections::BTreeSet<String> {
    store
        .user_sessions(&passport(), user)
        .await
        .expect("user_sessions")
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

/// A record holding `data` (a JSON object), live for `lifetime_ms`.
pub fn live_record(data: serde_json::Value, lifetime_ms: i64) -> server_session::Record {
    let cookie = server_session::store::CookieData::default()
        .with_original_max_age_ms(Some(lifetime_ms))
        .with_expires_ms(Some(server_session::store::now_ms() + lifetime_ms));
    let data = data.as_object().expect("an object").clone();
    server_session::Record::new(cookie, data)
}

/// A record without data whose one-minute cookie (`originalMaxAge` 60000)
/// expires at `expires_ms`: as saved, or as a later touch stores it.
pub fn minute_cookie_record(expires_ms: i64) -> server_session::Record {
    let cookie = server_session::store::CookieData::default()
        .with_original_max_age_ms(Some(60_000))
        .with_expires_ms(Some(expires_ms));
    server_session::Record::new(cookie, serde_json::Map::new())
}

/// `load_with_expiry` of `id`, which must be live.
pub async fn load_live_with_expiry(
    store: &(impl server_session::Store + ?Sized),
    id: &str,
) -> (server_session::store::LoadedRecord, Option<i64>) {
    store
        .load_with_expiry(id)
        .await
        .expect("load")
        .expect("found")
}

/// Polls `check` every 10 ms for up to 10 s.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if check() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// A store on the service whose URL is in `var`, in a table no other test
/// uses (`{prefix}_…`, not created yet); `None` as [`service_url`] says.
#[cfg(feature = "sql")]
pub async fn store_in_fresh_table<D: server_session_sql::Dialect>(
    var: &str,
    prefix: &str,
) -> Option<server_session_sql::SqlStore<D>> {
    let url = service_url(var)?;
    let store = server_session_sql::SqlStore::<D>::connect(&url)
        .await
        .unwrap_or_else(|error| panic!("connect to {var}: {error}"))
        .with_table(unique_name(prefix));
    Some(store)
}

/// Drops the store's table, if it is there.
#[cfg(feature = "sql")]
pub async fn drop_table<D: server_session_sql::Dialect>(store: &server_session_sql::SqlStore<D>)
where
    for<'c> &'c mut D::Connection: sqlx::Executor<'c, Database = D>,
{
    let sql = format!("DROP TABLE IF EXISTS {}", store.quoted_table());
    sqlx::raw_sql(&sql)
        .execute(store.pool())
        .await
        .expect("drop table");
}
