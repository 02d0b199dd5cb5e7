//! What the SQL and Redis stores' tests share beyond [`services`](crate::services):
//! calls on a session that must be there.

use server_session::store::LoadedRecord;
use server_session::Store;

/// `load_and_touch` of `id`, which must be live: the record and whether it
/// was touched.
pub async fn load_and_touch_live(store: &(impl Store + ?Sized), id: &str) -> (LoadedRecord, bool) {
    store
        .load_and_touch(id)
        .await
        .expect("load_and_touch")
        .expect("live")
}
