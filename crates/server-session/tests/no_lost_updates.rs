//! No lost updates (DESIGN §4): N clients increment one session's counter
//! K times each, at once, spread over two independent layers that share a
//! store through separate clients. The final count must be exactly N×K, on
//! every store, and on both adapters (`<test>::tower`, `<test>::actix`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, Path, Request, State};
use axum::routing::get;
use axum::Router;
use server_session::driver::SessionDriver;
use server_session::{CookieOptions, MemoryStore, Session, SessionConfig, SessionLayer, Store};
use server_session_actix::SessionMiddleware;
use server_session_redis::RedisStore;
use server_session_sql::{MySqlStore, PostgresStore, SqliteStore};
use session_examples::routes::{answer, session_or_none};
use tokio::sync::Notify;

use session_test_support::node as node_support;
use session_test_support::on_both_adapters;

use node_support::Adapter;

const CLIENTS: usize = 16;
const INCREMENTS: usize = 50;

/// Lets a test hold a request open between its change and its end.
#[derive(Clone, Default)]
struct Gate {
    entered: Arc<Notify>,
    release: Arc<Notify>,
}

impl Gate {
    /// `/slow-set/{key}/{value}`: inserts, then waits for the test's
    /// signal before the request ends.
    async fn slow_set(&self, session: &Session, key: String, value: String) -> String {
        let outcome = session.insert(key, value);
        self.entered.notify_one();
        self.release.notified().await;
        match outcome {
            Ok(()) => String::from("ok"),
            Err(error) => error.to_string(),
        }
    }
}

/// `/inc/{key}`: the conformance server's read-modify-write.
async fn inc(session: Session, Path(key): Path<String>) -> String {
    answer(&format!("/inc/{key}"), async { Ok(Some(session)) })
        .await
        .body
}

fn config() -> SessionConfig {
    SessionConfig::new("keyboard cat")
        .with_cookie(CookieOptions::new().with_max_age(Some(Duration::from_secs(3600))))
}

/// One server: the conformance routes (`/inc`, `/set`, `/get`, `/id`,
/// `/destroy`) and `/slow-set`, on the adapter under test.
struct Server {
    base: String,
    driver: SessionDriver,
    gate: Gate,
    /// Stops the actix-web server, which runs on a thread of its own.
    _actix: Option<ActixStop>,
}

async fn serve(store: Arc<dyn Store>) -> Server {
    match node_support::adapter() {
        Adapter::Tower => serve_tower(store).await,
        Adapter::Actix => serve_actix(store),
    }
}

async fn serve_tower(store: Arc<dyn Store>) -> Server {
    let layer = SessionLayer::from_arc(store, config()).expect("valid config");
    let gate = Gate::default();
    async fn slow_set(
        State(gate): State<Gate>,
        session: Session,
        Path((key, value)): Path<(String, String)>,
    ) -> String {
        gate.slow_set(&session, key, value).await
    }
    async fn route(request: Request) -> String {
        let (mut parts, _) = request.into_parts();
        let path = parts.uri.path().to_owned();
        let session = Session::from_request_parts(&mut parts, &()).await;
        answer(&path, async { session_or_none(session) }).await.body
    }
    let app = Router::new()
        .route("/slow-set/{key}/{value}", get(slow_set))
        .fallback(route)
        .with_state(gate.clone())
        .layer(layer.clone());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Server {
        base: format!("http://{address}"),
        driver: layer.driver().clone(),
        gate,
        _actix: None,
    }
}

/// Stops an actix-web server when the test is done with it.
struct ActixStop(actix_web::dev::ServerHandle);

impl Drop for ActixStop {
    fn drop(&mut self) {
        // Sends the stop now; nobody needs to wait for it to finish.
        drop(self.0.stop(false));
    }
}

fn serve_actix(store: Arc<dyn Store>) -> Server {
    use actix_web::{web, App, FromRequest, HttpRequest, HttpServer};

    let sessions = SessionMiddleware::new(store, config()).expect("valid config");
    let gate = Gate::default();
    async fn slow_set(
        gate: web::Data<Gate>,
        session: Session,
        path: web::Path<(String, String)>,
    ) -> String {
        let (key, value) = path.into_inner();
        gate.slow_set(&session, key, value).await
    }
    async fn route(request: HttpRequest) -> String {
        let session = Session::extract(&request).await;
        answer(request.path(), async { session_or_none(session) })
            .await
            .body
    }
    let (started, address) = std::sync::mpsc::channel();
    let (middleware, data) = (sessions.clone(), web::Data::new(gate.clone()));
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(data.clone())
                    .route("/slow-set/{key}/{value}", web::get().to(slow_set))
                    .default_service(web::to(route))
                    .wrap(middleware.clone())
            })
            .workers(2)
            .bind(("127.0.0.1", 0))
            .expect("bind");
            let address = server.addrs()[0];
            let server = server.run();
            let _ = started.send((address, server.handle()));
            let _ = server.await;
        });
    });
    let (address, handle) = address.recv().expect("the actix-web server starts");
    Server {
        base: format!("http://{address}"),
        driver: sessions.driver().clone(),
        gate,
        _actix: Some(ActixStop(handle)),
    }
}

async fn fetch(
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
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(str::to_owned);
    (set_cookie, response.text().await.expect("body"))
}

/// Two servers over two clients of one store.
struct Pair {
    a: Server,
    b: Server,
    store: Arc<dyn Store>,
}

async fn pair(a: Arc<dyn Store>, b: Arc<dyn Store>) -> Pair {
    Pair {
        store: Arc::clone(&a),
        a: serve(a).await,
        b: serve(b).await,
    }
}

/// N clients × K increments on one session, alternating servers.
async fn counter_run(pair: &Pair) {
    let client = reqwest::Client::new();
    let (cookie, body) = fetch(&client, format!("{}/inc/c", pair.a.base), None).await;
    assert_eq!(body, "1");
    let cookie = cookie.expect("a cookie for the new session");
    let mut tasks = Vec::new();
    for n in 0..CLIENTS {
        let client = client.clone();
        let cookie = cookie.clone();
        let bases = [pair.a.base.clone(), pair.b.base.clone()];
        tasks.push(tokio::spawn(async move {
            for k in 0..INCREMENTS {
                let base = &bases[(n + k) % 2];
                let (_, body) = fetch(&client, format!("{base}/inc/c"), Some(&cookie)).await;
                assert!(body.parse::<i64>().is_ok(), "increment failed: {body}");
            }
        }));
    }
    for task in tasks {
        task.await.expect("client task");
    }
    let (_, body) = fetch(&client, format!("{}/get/c", pair.b.base), Some(&cookie)).await;
    assert_eq!(
        body,
        (1 + CLIENTS * INCREMENTS).to_string(),
        "increments were lost"
    );
    assert_eq!(pair.a.driver.live_sessions(), 0);
    assert_eq!(pair.b.driver.live_sessions(), 0);
}

/// Concurrent inserts of different keys all survive.
async fn distinct_keys_run(pair: &Pair) {
    let client = reqwest::Client::new();
    let (cookie, _) = fetch(&client, format!("{}/set/first/x", pair.a.base), None).await;
    let cookie = cookie.expect("cookie");
    let mut tasks = Vec::new();
    for n in 0..CLIENTS {
        let client = client.clone();
        let cookie = cookie.clone();
        let base = if n % 2 == 0 {
            pair.a.base.clone()
        } else {
            pair.b.base.clone()
        };
        tasks.push(tokio::spawn(async move {
            fetch(&client, format!("{base}/set/k{n}/v{n}"), Some(&cookie)).await
        }));
    }
    for task in tasks {
        task.await.expect("client task");
    }
    for n in 0..CLIENTS {
        let (_, body) = fetch(&client, format!("{}/get/k{n}", pair.a.base), Some(&cookie)).await;
        assert_eq!(body, format!("\"v{n}\""), "key k{n} was lost");
    }
}

/// The documented rule: destroy wins. A request that changed the session
/// and ends after a concurrent destroy does not resurrect it, whether the
/// destroy ran in the same layer or in the other one.
async fn destroy_wins_run(pair: &Pair, destroyer: &Server) {
    let client = reqwest::Client::new();
    let (cookie, _) = fetch(&client, format!("{}/set/a/1", pair.a.base), None).await;
    let cookie = cookie.expect("cookie");
    let (_, id) = fetch(&client, format!("{}/id", pair.a.base), Some(&cookie)).await;

    let slow = {
        let client = client.clone();
        let cookie = cookie.clone();
        let url = format!("{}/slow-set/b/2", pair.a.base);
        tokio::spawn(async move { fetch(&client, url, Some(&cookie)).await })
    };
    pair.a.gate.entered.notified().await;
    let (_, body) = fetch(
        &client,
        format!("{}/destroy", destroyer.base),
        Some(&cookie),
    )
    .await;
    assert_eq!(body, "destroyed");
    pair.a.gate.release.notify_one();
    let (set_cookie, _) = slow.await.expect("slow request");
    assert_eq!(set_cookie, None, "no cookie for a destroyed session");

    let stored = pair.store.load(&id).await.expect("load");
    assert!(stored.is_none(), "the destroyed session was resurrected");
}

async fn run_all(make: impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Pair>>>) {
    for _ in 0..2 {
        counter_run(&make().await).await;
    }
    distinct_keys_run(&make().await).await;
    let same = make().await;
    destroy_wins_run(&same, &same.a).await;
    let cross = make().await;
    destroy_wins_run(&cross, &cross.b).await;
}

fn random_name(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        server_session::__private::generate_id().replace(['-', '_'], "x")[..12].to_lowercase()
    )
}

on_both_adapters! {
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_loses_no_update() {
    // One MemoryStore, two layers: two registries, so the layers meet only
    // through the store's compare-and-set, like two processes would.
    run_all(|| {
        Box::pin(async {
            let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
            pair(Arc::clone(&store), store).await
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_loses_no_update() {
    let Some(url) = server_session::conformance::service_url("REDIS_URL") else {
        return;
    };
    run_all(move || {
        let url = url.clone();
        Box::pin(async move {
            let prefix = random_name("nlu:");
            let a = RedisStore::connect(&url)
                .await
                .expect("redis")
                .with_prefix(&prefix);
            let b = RedisStore::connect(&url)
                .await
                .expect("redis")
                .with_prefix(&prefix);
            pair(Arc::new(a), Arc::new(b)).await
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cluster_loses_no_update() {
    let Some(urls) = server_session::conformance::service_url("REDIS_CLUSTER_URLS") else {
        return;
    };
    let urls: Vec<String> = urls.split(',').map(str::to_owned).collect();
    run_all(move || {
        let urls = urls.clone();
        Box::pin(async move {
            let prefix = random_name("nlu:");
            let a = RedisStore::connect_cluster(&urls)
                .await
                .expect("cluster")
                .with_prefix(&prefix);
            let b = RedisStore::connect_cluster(&urls)
                .await
                .expect("cluster")
                .with_prefix(&prefix);
            pair(Arc::new(a), Arc::new(b)).await
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_loses_no_update() {
    let Some(url) = server_session::conformance::service_url("POSTGRES_URL") else {
        return;
    };
    run_all(move || {
        let url = url.clone();
        Box::pin(async move {
            let table = random_name("nlu_");
            let a = PostgresStore::connect(&url)
                .await
                .expect("postgres")
                .with_table(&table);
            a.migrate().await.expect("create table");
            let b = PostgresStore::connect(&url)
                .await
                .expect("postgres")
                .with_table(&table);
            pair(Arc::new(a), Arc::new(b)).await
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_loses_no_update() {
    let Some(url) = server_session::conformance::service_url("MYSQL_URL") else {
        return;
    };
    run_all(move || {
        let url = url.clone();
        Box::pin(async move {
            let table = random_name("nlu_");
            let a = MySqlStore::connect(&url)
                .await
                .expect("mysql")
                .with_table(&table);
            a.migrate().await.expect("create table");
            let b = MySqlStore::connect(&url)
                .await
                .expect("mysql")
                .with_table(&table);
            pair(Arc::new(a), Arc::new(b)).await
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_loses_no_update() {
    let dir = std::env::temp_dir().join(random_name("server-session-nlu-"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("sessions.db");
    let url = format!("sqlite://{}", path.display());
    run_all(move || {
        let url = url.clone();
        Box::pin(async move {
            let table = random_name("nlu_");
            let a = SqliteStore::connect(&url)
                .await
                .expect("sqlite")
                .with_table(&table);
            a.migrate().await.expect("create table");
            let b = SqliteStore::connect(&url)
                .await
                .expect("sqlite")
                .with_table(&table);
            pair(Arc::new(a), Arc::new(b)).await
        })
    })
    .await;
    let _ = std::fs::remove_dir_all(dir);
}
}

/// The live-session registry frees what it holds: after 100,000 sessions
/// have each had two overlapping requests, nothing is left in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_keeps_nothing_once_requests_end() {
    use server_session::__private::{sign_session_id, Secrets};
    use server_session::store::{CookieData, Record, SaveCondition};
    use tower::ServiceExt;

    const SESSIONS: usize = 100_000;
    let store = MemoryStore::new();
    let layer = SessionLayer::new(store.clone(), config()).expect("config");
    // The handler yields once, so that both requests on a session hold its
    // live state at the same time.
    async fn inc_and_yield(session: Session, key: Path<String>) -> String {
        let body = inc(session, key).await;
        tokio::task::yield_now().await;
        body
    }
    let app = Router::new()
        .route("/inc/{key}", get(inc_and_yield))
        .layer(layer.clone());
    let secrets = Secrets::new(["keyboard cat"]).expect("secret");
    let expires = server_session::store::now_ms() + 3_600_000;
    let record = Record::new(
        CookieData::default()
            .with_expires_ms(Some(expires))
            .with_original_max_age_ms(Some(3_600_000)),
        serde_json::Map::new(),
    );

    let request = |cookie: &str| {
        http::Request::builder()
            .uri("/inc/c")
            .header("cookie", cookie)
            .body(axum::body::Body::empty())
            .expect("request")
    };
    let mut peak = 0;
    for batch in 0..SESSIONS / 1_000 {
        let mut requests = Vec::with_capacity(2_000);
        for n in 0..1_000 {
            let id = format!("s{batch}-{n}");
            let _ = store
                .save(&id, &record, SaveCondition::Upsert)
                .await
                .expect("save");
            let cookie = format!("connect.sid={}", sign_session_id(&id, &secrets));
            // Two overlapping requests on the same session.
            requests.push(app.clone().oneshot(request(&cookie)));
            requests.push(app.clone().oneshot(request(&cookie)));
        }
        let in_flight = futures_util::future::join_all(requests);
        tokio::pin!(in_flight);
        // Sample the registry while the batch is in flight.
        tokio::select! {
            responses = &mut in_flight => {
                assert!(responses.into_iter().all(|r| r.is_ok_and(|r| r.status() == 200)));
            }
            () = tokio::task::yield_now() => {
                peak = peak.max(layer.live_sessions());
                let responses = in_flight.await;
                assert!(responses.into_iter().all(|r| r.is_ok_and(|r| r.status() == 200)));
            }
        }
    }
    assert_eq!(layer.live_sessions(), 0, "live sessions left behind");
    assert!(peak > 0 && peak <= 1_000, "live sessions in flight: {peak}");
    // Every session got exactly its two increments.
    let loaded = store.load("s7-7").await.expect("load").expect("session");
    assert_eq!(loaded.record.data()["c"], 2);
}
