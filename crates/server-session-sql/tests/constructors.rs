//! The constructors every store shares: `connect` (now), `connect_lazy`
//! (on first use), `from_pool`. SQLite only, so it needs no server.
#![cfg(feature = "sqlite")]

use session_test_support::services as common;

use server_session::store::{SaveCondition, Store};
use server_session_sql::SqliteStore;

use common::express_record;

#[tokio::test]
async fn a_lazy_sqlite_store_opens_the_file_on_first_use() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("lazy.db");
    let store =
        SqliteStore::connect_lazy(&format!("sqlite://{}", path.display())).expect("a valid URL");
    assert!(!path.exists(), "nothing is opened before the first call");
    let record = express_record("2099-01-01T00:00:00.000Z", "");
    let _ = store
        .save("lazy", &record, SaveCondition::IfAbsent)
        .await
        .expect("save");
    assert!(path.exists());
    assert!(store.load("lazy").await.expect("load").is_some());
}
