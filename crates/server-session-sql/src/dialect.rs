//! What one SQL dialect supplies to [`SqlStore`](crate::SqlStore): its SQL
//! text and its type mapping. The logic that runs them is written once, in
//! [`store`](crate::store).

use std::future::Future;

use server_session::store::{StoreError, UserPath, Version};
use sqlx::{Database, Decode, Encode, Pool, Type};

use crate::settings::{map_sqlx, timed, DEFAULT_CALL_TIMEOUT};

/// A database [`SqlStore`](crate::SqlStore) can keep sessions in: sqlx's
/// `Postgres`, `MySql` or `Sqlite`, each behind its cargo feature. Sealed:
/// the crate implements it for these three and nothing else.
pub trait Dialect: Backend {}

/// A dialect's SQL and types, crate-private behind [`Dialect`].
pub trait Backend: Database {
    /// What [`Store::kind`](server_session::Store::kind) answers.
    const KIND: &'static str;
    /// The identifier quote, doubled inside a quoted identifier.
    const QUOTE: char = '"';
    /// How the statements read `sess` back.
    const SESS: &'static str = "sess";
    /// `expire` as milliseconds since the epoch, a 64-bit integer.
    const EXPIRE_MS: &'static str;

    /// How an instant is bound to `expire`: seconds since the epoch, or a
    /// `DATETIME`.
    type Instant: InstantColumn
        + for<'q> Encode<'q, Self>
        + Type<Self>
        + Copy
        + Send
        + Sync
        + 'static;
    /// How `sess` is read back; its bytes are the stored JSON.
    type Sess: AsRef<[u8]> + for<'r> Decode<'r, Self> + Type<Self> + Send + Unpin;
    /// How `sid` is read back by `all`.
    type Sid: SidColumn + for<'r> Decode<'r, Self> + Type<Self> + Send + Unpin;
    /// What `exists_live` and `load_and_touch`'s flag return.
    type Found: FoundColumn + for<'r> Decode<'r, Self> + Type<Self> + Send + Unpin;
    /// How a version is bound where the server computes the digest to
    /// compare it with ([`IfVersion::OnServer`]).
    type Digest: DigestColumn + for<'q> Encode<'q, Self> + Type<Self> + Send + 'static;

    /// The `n`th placeholder, counted from 1.
    fn param(n: usize) -> String {
        format!("?{n}")
    }
    /// The `expire` value of a placeholder or expression holding seconds
    /// since the epoch.
    fn at(epoch_secs: &str) -> String {
        epoch_secs.to_owned()
    }
    /// Whether a row matches `from_where` (`FROM … WHERE …`), as one
    /// [`Found`](Self::Found).
    fn exists(from_where: &str) -> String {
        format!("SELECT COUNT(*) {from_where}")
    }
    /// The `expire` a touch made now would give the row, computed from its
    /// own `sess` (see [`Statements::load_and_touch`]), or `None` where the
    /// dialect cannot return rows from an `UPDATE`.
    fn touched_expire() -> Option<String> {
        None
    }
    /// The statements whose shape is the dialect's own, for the quoted
    /// table `t`, whose unquoted name is `table`.
    fn own_statements(t: &str, table: &str) -> OwnStatements;

    /// The user at `path` in `sess`, as text: what `UserPath::user_in`
    /// reads (a string, or a number's decimal text), NULL where the path
    /// leads nowhere. It must not fail on any row, not even one whose
    /// `sess` is no JSON: an index on it is computed at every write. Other
    /// JSON values may give some text; the caller of `user_sessions` tells
    /// them apart by reading the record.
    fn user_at(path: &UserPath) -> String;
    /// How the dialect indexes [`user_at`](Self::user_at), for the quoted
    /// table `t` whose unquoted name is `table`, with the index named
    /// `index` (unquoted).
    fn user_index(t: &str, table: &str, path: &UserPath, index: &str) -> UserIndex;
    /// Whether `error` says that the generated column of a
    /// [`UserIndex::GeneratedColumn`] is missing.
    fn missing_user_column(_error: &sqlx::Error) -> bool {
        false
    }

    /// The rows a statement changed.
    fn rows_affected(result: &Self::QueryResult) -> u64;
    /// Whether the `load_and_touch` statement failed on what the row holds,
    /// where a plain `load` would read it: then that load decides.
    fn row_refused_load_and_touch(_error: &sqlx::Error) -> bool {
        false
    }

    /// A pool with one connection opened now, so that a wrong URL fails
    /// here; bounded by the default call timeout.
    fn connect(url: &str) -> impl Future<Output = Result<Pool<Self>, StoreError>> + Send {
        use sqlx::Connection as _;
        timed(DEFAULT_CALL_TIMEOUT, async move {
            // One plain connection first: a pool retries a failing connect
            // until its acquire timeout and then reports only
            // `PoolTimedOut`, losing the cause (connection refused,
            // authentication failed, unknown database) that this reports at
            // once.
            let probe = Self::Connection::connect(url).await.map_err(map_sqlx)?;
            let _ = probe.close().await;
            pool_options().connect(url).await.map_err(map_sqlx)
        })
    }
    /// A pool that connects on first use; only parses `url`.
    fn connect_lazy(url: &str) -> Result<Pool<Self>, StoreError> {
        pool_options().connect_lazy(url).map_err(map_sqlx)
    }
}

/// Pool options whose connection wait is bounded by the default call
/// timeout.
pub(crate) fn pool_options<D: Database>() -> sqlx::pool::PoolOptions<D> {
    sqlx::pool::PoolOptions::new().acquire_timeout(DEFAULT_CALL_TIMEOUT)
}

/// An identifier quoted with the dialect's quote, inner quotes doubled (as
/// connect-pg-simple's `escapePgIdentifier` does on PostgreSQL).
pub(crate) fn quote<D: Backend>(identifier: &str) -> String {
    let quote = D::QUOTE;
    let doubled = identifier.replace(quote, &format!("{quote}{quote}"));
    format!("{quote}{doubled}{quote}")
}

/// Every statement of a store, built once per table name.
#[derive(Debug)]
pub(crate) struct Sql {
    /// The unquoted names the statements were built for.
    pub(crate) schema: Option<String>,
    pub(crate) table: String,
    /// The table name as the statements write it: quoted, and
    /// schema-qualified when a schema is set.
    pub(crate) quoted: String,
    /// The statements every dialect writes alike.
    pub(crate) shared: Statements,
    /// The dialect's own.
    pub(crate) own: OwnStatements,
}

impl Sql {
    /// The statements for `table`, in `schema` if given.
    pub(crate) fn new<D: Backend>(schema: Option<String>, table: String) -> Self {
        let quoted = match &schema {
            Some(schema) => format!("{}.{}", quote::<D>(schema), quote::<D>(&table)),
            None => quote::<D>(&table),
        };
        Self {
            shared: Statements::new::<D>(&quoted),
            own: D::own_statements(&quoted, &table),
            quoted,
            schema,
            table,
        }
    }
}

/// The statements whose shape differs between dialects. Each says in which
/// order its placeholders are bound.
#[derive(Debug)]
pub struct OwnStatements {
    /// Creates the table and its expiry index; one batch, run as one.
    pub(crate) create: String,
    /// PostgreSQL: whether the table is there (its `create` is
    /// connect-pg-simple's, without `IF NOT EXISTS`); binds the quoted
    /// table, and answers its name or NULL.
    pub(crate) lookup: Option<String>,
    /// PostgreSQL: `create` without `WITH (OIDS=FALSE)`, should a server
    /// refuse that clause.
    pub(crate) create_fallback: Option<String>,
    /// Inserts the row of `sid` or replaces it; binds id, json, expire.
    pub(crate) upsert: String,
    /// How a save inserts only where no live row is.
    pub(crate) if_absent: IfAbsent,
    /// How a save or delete happens only if the row has a version.
    pub(crate) if_version: IfVersion,
}

/// How a dialect indexes the user of each row, for `user_sessions`.
#[derive(Debug)]
#[cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code)
)]
pub enum UserIndex {
    /// An index on the expression `user_at(path)` itself (PostgreSQL,
    /// SQLite): a query over the same expression uses it.
    Expression {
        /// `CREATE INDEX IF NOT EXISTS …`.
        create: String,
    },
    /// A generated column holding the expression, and an index on it
    /// (MySQL/MariaDB: MariaDB has no functional index, and uses an index
    /// on a generated column only when the query names the column).
    GeneratedColumn {
        /// The column's name, unquoted.
        column: String,
        /// `ALTER TABLE` adding the column and its index.
        create: String,
        /// The condition a listing puts before its `expire` one: the
        /// column narrows, the expression confirms (the column holds at
        /// most 255 characters); binds the user twice.
        condition: String,
    },
}

/// The name of `table`'s index of the user at `path`: `IDX_<table>_user_<path>`
/// (`IDX_session_user_passport.user`), or, when that is longer than the 63
/// bytes PostgreSQL keeps of a name (64 characters in MySQL), `IDX_user_`
/// and the first 32 hex digits of the SHA-256 of the table and path, so
/// that two paths never share a truncated name.
pub(crate) fn user_index_name(table: &str, path: &UserPath) -> String {
    bounded_name(
        &format!("IDX_{table}_user_{path}"),
        "IDX_user_",
        table,
        path,
    )
}

/// `name`, or `short` and a digest of `table` and `path` when `name` is
/// longer than every dialect keeps.
pub(crate) fn bounded_name(name: &str, short: &str, table: &str, path: &UserPath) -> String {
    const MAX_NAME_BYTES: usize = 63;
    if name.len() <= MAX_NAME_BYTES {
        return name.to_owned();
    }
    let digest = Version::digest_of(format!("{table}\0{path}").as_bytes());
    let hex: String = digest.as_bytes()[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{short}{hex}")
}

/// How a dialect inserts a row only where no live row is.
#[derive(Debug)]
// Each variant serves some dialects, which a build may leave out.
#[cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code)
)]
pub(crate) enum IfAbsent {
    /// One upsert that replaces only an expired row; binds id, json,
    /// expire, now. No row changed means a live row was there.
    Upsert(String),
    /// Deletes the expired row of `sid` (binds id, now), then inserts
    /// (binds id, json, expire): the insert is the atomic check, a
    /// duplicate key meaning a live row was there, even one another process
    /// inserted in between.
    DeleteExpiredThenInsert {
        /// Deletes the row of `sid` if it has expired.
        delete_expired: String,
        /// A plain `INSERT`.
        insert: String,
    },
}

/// How a dialect compares a row's version with the expected one.
#[derive(Debug)]
#[cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code)
)]
pub(crate) enum IfVersion {
    /// The server computes the digest of `sess`, so each is one statement:
    /// `update` binds json, expire, id, now, digest; `delete` binds id,
    /// now, digest. No row changed means a conflict.
    OnServer {
        /// Rewrites the live row of `sid` if its digest matches.
        update: String,
        /// Deletes the live row of `sid` if its digest matches.
        delete: String,
    },
    /// No digest function in SQL: `sess` is read (with `load`) and compared
    /// here, in a transaction opened by `begin`, which takes the write lock
    /// first so that no other writer slips in between the read and the
    /// write; `update` binds json, expire, id, and `destroy` deletes.
    InTransaction {
        /// The statement that opens the transaction.
        begin: &'static str,
        /// Rewrites the row of `sid`.
        update: String,
    },
}

/// The statements the shared code runs, in the dialect's placeholders and
/// types. The placeholders are bound in the order given.
#[derive(Debug)]
pub(crate) struct Statements {
    /// `sess` of the live row of `sid`; binds id, now.
    pub(crate) load: String,
    /// Moves `expire` of the live row of `sid` as a touch made now would,
    /// and returns its `sess` (as `load` does) and whether it moved
    /// `expire`; binds id, now, now in milliseconds, and the `expire` of a
    /// browser-session record touched now, all as integers (seconds since
    /// the epoch, except the milliseconds). `None` where the dialect cannot
    /// return rows from an `UPDATE` (MySQL/MariaDB): then a load and a
    /// separate touch at the end of the request.
    pub(crate) load_and_touch: Option<String>,
    /// `sess` of the live row of `sid` (as `load`) and its `expire` in
    /// milliseconds since the epoch, as a 64-bit integer; binds id, now.
    pub(crate) load_with_expiry: String,
    /// Whether `sid` has a live row; binds id, now.
    pub(crate) exists_live: String,
    /// Moves `expire` of the live row of `sid`; binds expire, id, now.
    pub(crate) touch: String,
    /// Deletes the row of `sid`; binds id.
    pub(crate) destroy: String,
    /// `sid, sess` of every live row; binds now.
    pub(crate) all: String,
    /// The number of live rows; binds now.
    pub(crate) len: String,
    /// Deletes every row.
    pub(crate) clear: String,
    /// Deletes the dead rows; binds now.
    pub(crate) prune: String,
}

impl Statements {
    /// The statements for the quoted table `t`. A row is live while
    /// `expire >= now`, now being connect-pg-simple's `ceil(now_s)`.
    fn new<D: Backend>(t: &str) -> Self {
        let (p1, p2, p3) = (D::param(1), D::param(2), D::param(3));
        let sess = D::SESS;
        let live_row = format!("sid = {p1} AND expire >= {}", D::at(&p2));
        Self {
            load: format!("SELECT {sess} FROM {t} WHERE {live_row}"),
            // `expire = expire` when there is nothing to touch, so that the
            // row is still returned (the layer then touches at the end).
            load_and_touch: D::touched_expire().map(|new_expire| {
                format!(
                    "UPDATE {t} SET expire = COALESCE({}, expire) \
                     WHERE {live_row} RETURNING {sess}, {new_expire} IS NOT NULL",
                    D::at(&new_expire)
                )
            }),
            load_with_expiry: format!("SELECT {sess}, {} FROM {t} WHERE {live_row}", D::EXPIRE_MS),
            exists_live: D::exists(&format!("FROM {t} WHERE {live_row}")),
            touch: format!(
                "UPDATE {t} SET expire = {} WHERE sid = {p2} AND expire >= {}",
                D::at(&p1),
                D::at(&p3)
            ),
            destroy: format!("DELETE FROM {t} WHERE sid = {p1}"),
            all: format!("SELECT sid, {sess} FROM {t} WHERE expire >= {}", D::at(&p1)),
            len: format!("SELECT COUNT(*) FROM {t} WHERE expire >= {}", D::at(&p1)),
            clear: format!("DELETE FROM {t}"),
            prune: format!("DELETE FROM {t} WHERE expire < {}", D::at(&p1)),
        }
    }
}

/// An instant as bound to `expire`.
pub trait InstantColumn {
    /// The instant `secs` seconds after the Unix epoch.
    fn from_epoch_secs(secs: i64) -> Self;
}

/// Seconds since the epoch, as they are.
impl InstantColumn for i64 {
    fn from_epoch_secs(secs: i64) -> Self {
        secs
    }
}

/// A version as the server's digest function writes it.
pub trait DigestColumn {
    /// `version` in this form.
    fn from_version(version: Version) -> Self;
}

/// The digest's bytes, as PostgreSQL's `sha256` answers them.
impl DigestColumn for Vec<u8> {
    fn from_version(version: Version) -> Self {
        version.as_bytes().to_vec()
    }
}

/// A session ID as `all` reads it back.
pub trait SidColumn {
    /// The ID as a string.
    fn into_sid(self) -> String;
}

impl SidColumn for String {
    fn into_sid(self) -> String {
        self
    }
}

/// Where the driver returns the ID as bytes (MySQL's `_bin` columns): IDs
/// were written from Rust strings or by Node, so they are UTF-8; a stray
/// byte is shown, not fatal.
impl SidColumn for Vec<u8> {
    fn into_sid(self) -> String {
        String::from_utf8_lossy(&self).into_owned()
    }
}

/// A truth value as the dialect returns it: a boolean, or an integer
/// (`exists_live`'s `COUNT(*)`, SQLite's comparisons).
pub trait FoundColumn {
    /// Whether the value is true.
    fn found(self) -> bool;
}

impl FoundColumn for bool {
    fn found(self) -> bool {
        self
    }
}

impl FoundColumn for i64 {
    fn found(self) -> bool {
        self != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_index_names_are_readable_or_a_digest_when_too_long() {
        let passport = UserPath::parse("passport.user").expect("a valid path");
        assert_eq!(
            user_index_name("session", &passport),
            "IDX_session_user_passport.user"
        );
        let long = UserPath::parse(&["segment"; 8].join(".")).expect("a valid path");
        let hashed = user_index_name("session", &long);
        assert!(
            hashed.starts_with("IDX_user_") && hashed.len() == 41,
            "{hashed}"
        );
        assert_eq!(hashed, user_index_name("session", &long));
        assert_ne!(
            hashed,
            user_index_name("sessions", &long),
            "the table counts"
        );
        let table = "t".repeat(60);
        assert!(user_index_name(&table, &passport).len() <= 63);
    }
}
