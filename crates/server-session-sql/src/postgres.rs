//! [`PostgresStore`]: sessions in connect-pg-simple's table.

use sqlx::postgres::{PgQueryResult, Postgres};

use server_session::store::UserPath;

use crate::dialect::{quote, Backend, Dialect, IfAbsent, IfVersion, OwnStatements, UserIndex};
use crate::SqlStore;

/// A session store in PostgreSQL, in connect-pg-simple's schema, so that
/// Node and Rust servers can share one `session` table.
///
/// See the [crate docs](crate) for the schema, the version strategy and an
/// example, and [`SqlStore`] for the methods;
/// [`with_schema`](SqlStore::with_schema) is PostgreSQL's own. Requires
/// PostgreSQL 11 or later (for `sha256`).
///
/// Cloning is cheap and shares the pool.
pub type PostgresStore = SqlStore<Postgres>;

impl Dialect for Postgres {}

impl PostgresStore {
    /// Keeps the table in this schema (connect-pg-simple's `schemaName`);
    /// by default the table name is unqualified and `search_path` decides.
    #[must_use]
    pub fn with_schema(self, schema: impl Into<String>) -> Self {
        let table = self.table().to_owned();
        self.rebuilt(Some(schema.into()), table)
    }
}

/// The version of a row is the SHA-256 of `sess::text` (the `json` type
/// keeps its input verbatim, so this is the digest of the exact bytes Node
/// or we wrote); `sha256(convert_to(sess::text, 'UTF8'))` computes the same
/// digest on the server, so compare-and-set is one `UPDATE`.
impl Backend for Postgres {
    const KIND: &'static str = "postgres";
    /// `json` keeps its input verbatim, so this is the stored text.
    const SESS: &'static str = "sess::text";
    /// `expire` is a `timestamp` written from `to_timestamp`, that is in the
    /// session's time zone; read back the same way, as the liveness
    /// comparison does.
    const EXPIRE_MS: &'static str =
        "CAST(floor(EXTRACT(EPOCH FROM expire::timestamptz) * 1000) AS bigint)";

    /// `to_timestamp($n)` takes seconds since the epoch.
    type Instant = i64;
    type Sess = String;
    type Sid = String;
    /// `SELECT EXISTS (…)`.
    type Found = bool;
    /// `sha256` answers `bytea`.
    type Digest = Vec<u8>;

    fn param(n: usize) -> String {
        format!("${n}")
    }

    /// `expire` is a `timestamp`, as connect-pg-simple writes and compares it.
    fn at(epoch_secs: &str) -> String {
        format!("to_timestamp({epoch_secs})")
    }

    fn exists(from_where: &str) -> String {
        format!("SELECT EXISTS (SELECT 1 {from_where})")
    }

    /// The `expire` (seconds since the epoch) that a touch made now would give
    /// the row, computed from its own `sess`, as `Record::expire_epoch_secs`
    /// computes it after express's `cookie.touch()`: `ceil((now_ms +
    /// originalMaxAge) / 1000)`, or `$4` (`ceil(now_ms / 1000)` plus the
    /// default TTL) for `"originalMaxAge": null`. Binds `$3`, now in
    /// milliseconds, and `$4`.
    ///
    /// NULL, meaning "leave `expire` alone", unless `originalMaxAge` is `null`
    /// or a plain JSON integer above zero: a float or exponent notation (which
    /// `json` keeps as written), a string, a missing key, or a `sess` that is
    /// not an object with a `cookie` object (`#>` answers NULL there rather
    /// than failing). A touch that would expire the record, and the odd shapes,
    /// are left to the layer's own touch at the end of the request. At most 15
    /// digits, so that the sum cannot overflow `bigint`; the cast sits in a
    /// `THEN`, so it only ever sees digits.
    ///
    /// PostgreSQL's JSON functions unescape every string of the document they
    /// read, and refuse `\u0000` (text cannot hold NUL), unpaired UTF-16
    /// surrogates, and in a database whose encoding is not UTF-8 any character
    /// it cannot hold. `JSON.stringify` writes the first two (and `Record`
    /// writes NUL so), so a handler that copies `?return_to=%00` into the
    /// session would otherwise make every request of that session fail. So they
    /// read a copy of the text in which every escape of a character outside
    /// ASCII, and `\u0000`, is `\u0020`: still valid JSON whatever precedes the
    /// backslash, and the same `cookie.originalMaxAge`, since no key with a
    /// space in it can be `cookie` or `originalMaxAge`. The stored `sess` is
    /// never changed.
    fn touched_expire() -> Option<String> {
        let readable = readable_sess();
        let max_age = format!("({readable} #> '{{cookie,originalMaxAge}}')");
        let millis =
            "CASE WHEN json_typeof(max_age) = 'number' AND max_age::text ~ '^-?[0-9]{1,15}$' \
                      THEN max_age::text::int8 END";
        Some(format!(
            "(SELECT CASE WHEN json_typeof(max_age) = 'null' THEN $4::int8 \
             WHEN millis > 0 THEN ceil(($3::int8 + millis)::numeric / 1000)::int8 END \
             FROM (SELECT max_age, {millis} AS millis FROM (SELECT {max_age} AS max_age) AS doc) AS cookie)"
        ))
    }

    /// `sess #>> '{"passport","user"}'`, read from [`readable_sess`] so
    /// that no row can make it fail (not even at the write an index on it
    /// computes it for): text for a JSON string or number (the number as
    /// written, which `JSON.stringify` and serde write alike for integers),
    /// NULL where the path leads nowhere or to JSON `null`. A user ID that
    /// itself holds `\u0000` or a `\u` escape of a non-ASCII character
    /// (neither `JSON.stringify` nor serde escapes non-ASCII ones) reads
    /// otherwise and is not found. Each segment is double-quoted in the
    /// array literal, so that one named `null` stays a key.
    fn user_at(path: &UserPath) -> String {
        let segments: Vec<String> = path
            .segments()
            .iter()
            .map(|segment| format!("\"{segment}\""))
            .collect();
        format!("({} #>> '{{{}}}')", readable_sess(), segments.join(","))
    }

    /// `CREATE INDEX IF NOT EXISTS … ((user_at)) WHERE (user_at) IS NOT
    /// NULL`: partial, so anonymous sessions take no room in it; a
    /// listing's `user_at = $1` implies the predicate.
    fn user_index(t: &str, _table: &str, path: &UserPath, index: &str) -> UserIndex {
        let user = Self::user_at(path);
        UserIndex::Expression {
            create: format!(
                "CREATE INDEX IF NOT EXISTS {} ON {t} ({user}) WHERE {user} IS NOT NULL",
                quote::<Self>(index)
            ),
        }
    }

    fn own_statements(t: &str, table: &str) -> OwnStatements {
        // connect-pg-simple substitutes only the table name into table.sql,
        // so its constraint and index keep the names `session_pkey` and
        // `IDX_session_expire`. We derive them from the table name instead
        // (identical for the default table), so that two session tables can
        // live in one schema.
        let pkey = quote::<Self>(&format!("{table}_pkey"));
        let index = quote::<Self>(&format!("IDX_{table}_expire"));
        let columns = r#"("sid" varchar NOT NULL COLLATE "default", "sess" json NOT NULL, "expire" timestamp(6) NOT NULL)"#;
        let rest = format!(
            "ALTER TABLE {t} ADD CONSTRAINT {pkey} PRIMARY KEY (\"sid\") NOT DEFERRABLE INITIALLY IMMEDIATE;\n\
             CREATE INDEX {index} ON {t} (\"expire\");"
        );
        let digest = "sha256(convert_to(sess::text, 'UTF8'))";
        OwnStatements {
            // A simple-protocol batch runs as one implicit transaction.
            create: format!("CREATE TABLE {t} {columns}\nWITH (OIDS=FALSE);\n{rest}"),
            lookup: Some("SELECT to_regclass($1::text)::text".to_owned()),
            create_fallback: Some(format!("CREATE TABLE {t} {columns};\n{rest}")),
            upsert: format!(
                "INSERT INTO {t} (sess, expire, sid) VALUES ($2::json, to_timestamp($3), $1) \
                 ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire"
            ),
            if_absent: IfAbsent::Upsert(format!(
                "INSERT INTO {t} AS t (sess, expire, sid) VALUES ($2::json, to_timestamp($3), $1) \
                 ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire \
                 WHERE t.expire < to_timestamp($4)"
            )),
            if_version: IfVersion::OnServer {
                update: format!(
                    "UPDATE {t} SET sess = $1::json, expire = to_timestamp($2) \
                     WHERE sid = $3 AND expire >= to_timestamp($4) AND {digest} = $5"
                ),
                delete: format!(
                    "DELETE FROM {t} WHERE sid = $1 AND expire >= to_timestamp($2) AND {digest} = $3"
                ),
            },
        }
    }

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }

    fn row_refused_load_and_touch(error: &sqlx::Error) -> bool {
        refused_by_json_functions(error)
    }
}

/// `sess` as JSON the JSON functions can always read: as it is when it
/// holds no `\u` escape (most rows), otherwise with every escape of a
/// character outside ASCII, and `\u0000`, turned into `\u0020` (see
/// `touched_expire`). Immutable, so it can be indexed.
fn readable_sess() -> String {
    // SQL string constants written as E'' strings, so that
    // `standard_conforming_strings` plays no part: `\u`; a regular
    // expression for `\u` then four hex digits outside 0001-007F; `\u0020`
    // as a replacement text (where a backslash is escaped too).
    let backslash_u = r"E'\\u'";
    let escapes_json_functions_may_refuse = r"E'\\\\u(0000|00[89a-fA-F][0-9a-fA-F]|0[1-9a-fA-F][0-9a-fA-F]{2}|[1-9a-fA-F][0-9a-fA-F]{3})'";
    let space_escape = r"E'\\\\u0020'";
    // Most records hold no `\u` escape at all; `strpos` spares them the
    // regular expression, which costs about twice a JSON parse.
    format!(
        "(CASE WHEN strpos(sess::text, {backslash_u}) = 0 THEN sess::json \
         ELSE regexp_replace(sess::text, {escapes_json_functions_may_refuse}, {space_escape}, 'g')::json END)"
    )
}

/// Whether the `load_and_touch` statement failed on what the row holds
/// rather than on the server: SQLSTATE class 22, "data exception" (what
/// PostgreSQL's JSON functions raise for text they cannot read, such as a
/// `sess` column of type `text` in a hand-made table holding something that
/// is not JSON), or 0A000, "feature not supported" (what they raise for an
/// escape that a SQL_ASCII database cannot convert). `touched_expire`
/// rewrites every escape known to fail; this is for whatever else might.
fn refused_by_json_functions(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("22") || code == "0A000"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::Sql;

    #[test]
    fn identifiers_are_quoted_like_connect_pg_simple() {
        assert_eq!(quote::<Postgres>("session"), "\"session\"");
        assert_eq!(quote::<Postgres>("we\"ird"), "\"we\"\"ird\"");
        let sql = Sql::new::<Postgres>(Some("app".to_owned()), "session".to_owned());
        assert_eq!(sql.quoted, "\"app\".\"session\"");
        assert!(sql.own.create.contains("CONSTRAINT \"session_pkey\""));
        assert!(sql.own.create.contains("INDEX \"IDX_session_expire\""));
    }

    #[test]
    fn the_user_index_is_partial_on_the_expression_listing_reads() {
        let path = UserPath::parse("passport.null").expect("a valid path");
        let user = Postgres::user_at(&path);
        assert!(user.ends_with(r#"#>> '{"passport","null"}')"#), "{user}");
        let UserIndex::Expression { create } =
            Postgres::user_index("\"session\"", "session", &path, "IDX_x")
        else {
            panic!("PostgreSQL indexes the expression");
        };
        assert_eq!(
            create,
            format!("CREATE INDEX IF NOT EXISTS \"IDX_x\" ON \"session\" ({user}) WHERE {user} IS NOT NULL")
        );
    }
}
