//! A server that refuses GETEX (here: an ACL user without it, as a
//! deployment whose ACL lists the commands older versions of this store
//! used) still gets its sessions touched on load, by the Lua script.

mod common;

use common::{unique, Raw};
use server_session::store::{now_ms, CookieData, Record, Store};
use server_session_redis::RedisStore;
use session_test_support::backend_tests::load_and_touch_live;
use session_test_support::services;

/// Deletes the test's ACL user, even when the test fails.
struct AclUser {
    url: String,
    name: String,
}

impl Drop for AclUser {
    fn drop(&mut self) {
        let deleted = redis::Client::open(self.url.as_str())
            .and_then(|client| client.get_connection())
            .and_then(|mut conn| {
                redis::cmd("ACL")
                    .arg("DELUSER")
                    .arg(&self.name)
                    .query::<i64>(&mut conn)
            });
        if let Err(error) = deleted {
            eprintln!("could not delete ACL user {}: {error}", self.name);
        }
    }
}

fn record(original_max_age_ms: Option<i64>) -> Record {
    let cookie = CookieData::default()
        .with_original_max_age_ms(original_max_age_ms)
        .with_expires_ms(original_max_age_ms.map(|_| now_ms() + 5_000));
    Record::new(cookie, serde_json::Map::new())
}

#[tokio::test]
async fn a_server_that_refuses_getex_gets_the_script() {
    let Some(url) = common::redis_url() else {
        return;
    };
    // The store must log in as the new user, so the URL must name none.
    let Some(address) = services::redis_address(&url) else {
        println!("SKIPPED: REDIS_URL names a user, so the test cannot log in as its own");
        return;
    };
    let raw = Raw::standalone(&url).await;
    let user = AclUser {
        url: url.clone(),
        name: unique("no-getex"),
    };
    let password = unique("pw");
    let _: redis::Value = raw
        .query(
            redis::cmd("ACL")
                .arg("SETUSER")
                .arg(&user.name)
                .arg("on")
                .arg(format!(">{password}"))
                .arg("~*")
                .arg("&*")
                .arg("+@all")
                .arg("-getex"),
        )
        .await;
    let store = RedisStore::connect(&format!("redis://{}:{password}@{address}", user.name))
        .await
        .expect("connect as the ACL user")
        .with_default_ttl(std::time::Duration::from_secs(300));

    // Twice each: the first call meets the refusal, the later ones go
    // straight to the script.
    for _ in 0..2 {
        let (id, key) = common::save_new(&store, "fallback", &record(Some(60_500))).await;
        let (loaded, touched) = load_and_touch_live(&store, &id).await;
        assert!(touched);
        assert_eq!(loaded.record.cookie().original_max_age_ms(), Some(60_500));
        let pttl = raw.pttl(&key).await;
        assert!((60_001..=61_000).contains(&pttl), "pttl {pttl}");

        let (id, key) = common::save_new(&store, "fallback", &record(None)).await;
        let _: i64 = raw.query(redis::cmd("EXPIRE").arg(&key).arg(5)).await;
        let (_, touched) = load_and_touch_live(&store, &id).await;
        assert!(touched);
        let pttl = raw.pttl(&key).await;
        assert!((299_001..=300_000).contains(&pttl), "pttl {pttl}");

        assert!(store
            .load_and_touch(&unique("fallback"))
            .await
            .expect("load")
            .is_none());
    }
}
