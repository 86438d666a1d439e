//! The one way the repositories run SQL on either backend: a statement with its arguments
//! ([`Sql`]), run on a connection or transaction of either driver ([`SqlConn`]), decoded into rows
//! that both drivers can build ([`Record`]).
//!
//! Why not sqlx's generic API directly: code generic over `sqlx::Database` needs a where-clause for
//! every bound type and every decoded row on every function (Rust does not imply them), so the store
//! used to be macros expanded once per backend. Here the arguments are values of one small enum
//! that each driver binds in its own `impl`, so a use case is written once as ordinary generic code
//! whose only bound is `C: SqlConn`. Statements use `$n` placeholders, which both backends accept.

use std::borrow::Cow;
use std::future::Future;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Arguments, FromRow, PgConnection, Postgres, Sqlite, SqliteConnection};

/// A bound value. `None` binds a typed NULL (Postgres infers parameter types from them).
#[derive(Debug, Clone)]
pub enum Arg<'q> {
    Text(Option<Cow<'q, str>>),
    Int8(Option<i64>),
    Int4(Option<i32>),
    Bool(Option<bool>),
    Time(Option<DateTime<Utc>>),
    /// Serialised when bound; an error is reported when the statement runs.
    Json(Option<Result<Box<RawValue>, String>>),
    /// `BYTEA` on Postgres, `BLOB` on SQLite.
    Bytes(Option<Cow<'q, [u8]>>),
}

macro_rules! arg_from {
    ($variant:ident: $($t:ty => $conv:expr),+ $(,)?) => {$(
        impl<'q> From<$t> for Arg<'q> {
            fn from(v: $t) -> Self {
                let conv: fn($t) -> _ = $conv;
                Arg::$variant(conv(v))
            }
        }
    )+};
}

arg_from!(Text:
    &'q str => |v| Some(Cow::Borrowed(v)),
    &'q String => |v| Some(Cow::Borrowed(v.as_str())),
    String => |v| Some(Cow::Owned(v)),
    Option<&'q str> => |v| v.map(Cow::Borrowed),
    Option<String> => |v| v.map(Cow::Owned),
);
arg_from!(Int8: i64 => Some, Option<i64> => |v| v);
arg_from!(Int4: i32 => Some, Option<i32> => |v| v);
arg_from!(Bool: bool => Some, Option<bool> => |v| v);
arg_from!(Time: DateTime<Utc> => Some, Option<DateTime<Utc>> => |v| v);
arg_from!(Bytes:
    &'q [u8] => |v| Some(Cow::Borrowed(v)),
    Vec<u8> => |v| Some(Cow::Owned(v)),
);

impl<'q, T: serde::Serialize> From<sqlx::types::Json<T>> for Arg<'q> {
    fn from(v: sqlx::types::Json<T>) -> Self {
        Arg::Json(Some(serde_json::value::to_raw_value(&v.0).map_err(|e| e.to_string())))
    }
}

impl<'q, T: serde::Serialize> From<Option<sqlx::types::Json<T>>> for Arg<'q> {
    fn from(v: Option<sqlx::types::Json<T>>) -> Self {
        match v {
            Some(json) => json.into(),
            None => Arg::Json(None),
        }
    }
}

/// A statement and its arguments. Built whole (`query(..).bind(..)`) or piece by piece
/// (`push`, `push_bind`, `push_values`) when the text depends on the request.
#[derive(Debug, Clone)]
pub struct Sql<'q> {
    text: Cow<'q, str>,
    args: Vec<Arg<'q>>,
}

/// A statement whose placeholders the caller writes (`$1`, `$2`, ... in the order of `bind`).
pub fn query<'q>(text: impl Into<Cow<'q, str>>) -> Sql<'q> {
    Sql { text: text.into(), args: Vec::new() }
}

impl<'q> Sql<'q> {
    /// This statement in place of `{inner}` in `outer` (a subquery, a CTE, the first statement of
    /// a text), its arguments kept, so binds pushed after it number on from its own.
    pub fn within(mut self, outer: &str) -> Self {
        self.text = Cow::Owned(outer.replace("{inner}", &self.text));
        self
    }

    /// The next argument, for the next `$n` of the text.
    pub fn bind(mut self, value: impl Into<Arg<'q>>) -> Self {
        self.args.push(value.into());
        self
    }

    /// Appends text.
    pub fn push(&mut self, text: impl AsRef<str>) -> &mut Self {
        self.text.to_mut().push_str(text.as_ref());
        self
    }

    /// Appends a placeholder for `value`.
    pub fn push_bind(&mut self, value: impl Into<Arg<'q>>) -> &mut Self {
        self.args.push(value.into());
        let n = self.args.len();
        let text = self.text.to_mut();
        text.push('$');
        text.push_str(&n.to_string());
        self
    }

    /// Appends `$a, $b, ...`, one placeholder per value (for `IN (...)`).
    pub fn push_bind_list<V: Into<Arg<'q>>>(&mut self, values: impl IntoIterator<Item = V>) -> &mut Self {
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push_bind(value);
        }
        self
    }

    /// Appends `VALUES (..), (..)`: one row per item, its values bound by `row`.
    pub fn push_values<I>(
        &mut self,
        items: impl IntoIterator<Item = I>,
        mut row: impl FnMut(&mut Row<'_, 'q>, I),
    ) -> &mut Self {
        self.push("VALUES ");
        for (i, item) in items.into_iter().enumerate() {
            self.push(if i == 0 { "(" } else { ", (" });
            row(&mut Row { sql: self, first: true }, item);
            self.push(")");
        }
        self
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Runs the statement; the number of rows it changed.
    pub async fn execute(self, conn: &mut impl SqlConn) -> sqlx::Result<u64> {
        conn.execute(self).await
    }

    pub async fn fetch_all<R: Record>(self, conn: &mut impl SqlConn) -> sqlx::Result<Vec<R>> {
        conn.fetch_all(self).await
    }

    pub async fn fetch_optional<R: Record>(self, conn: &mut impl SqlConn) -> sqlx::Result<Option<R>> {
        conn.fetch_optional(self).await
    }

    /// The last column of every row as text: a query plan, prefixed with [`SqlConn::EXPLAIN`].
    pub async fn fetch_plan(self, conn: &mut impl SqlConn) -> sqlx::Result<Vec<String>> {
        conn.fetch_plan(self).await
    }

    /// The first row; `RowNotFound` when there is none.
    pub async fn fetch_one<R: Record>(self, conn: &mut impl SqlConn) -> sqlx::Result<R> {
        conn.fetch_optional(self).await?.ok_or(sqlx::Error::RowNotFound)
    }
}

/// One row of [`Sql::push_values`].
pub struct Row<'s, 'q> {
    sql: &'s mut Sql<'q>,
    first: bool,
}

impl<'q> Row<'_, 'q> {
    pub fn push_bind(&mut self, value: impl Into<Arg<'q>>) -> &mut Self {
        if !self.first {
            self.sql.push(", ");
        }
        self.first = false;
        self.sql.push_bind(value);
        self
    }
}

/// A row type both drivers decode (`#[derive(sqlx::FromRow)]` structs and tuples are).
pub trait Record: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin {}

impl<T> Record for T where T: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin {}

/// A connection or transaction of either backend that runs [`Sql`], with the few SQL spellings that
/// differ between them. Implemented by the store's own [`super::session`] types.
pub trait SqlConn: Send {
    /// Appended to a `SELECT` that must lock its rows for the transaction: `FOR UPDATE` on
    /// Postgres; nothing on SQLite, where a write transaction holds the database write lock.
    const LOCK_ROWS: &'static str;
    /// The shared-key lock a foreign-key check takes (`FOR KEY SHARE`; nothing on SQLite).
    const KEY_SHARE: &'static str;
    /// The prefix that turns a query into its plan.
    const EXPLAIN: &'static str;
    /// Appended to a `SELECT` that claims work rows other sessions may be claiming too: `FOR UPDATE
    /// SKIP LOCKED` on Postgres (each session gets other rows); nothing on SQLite (one writer).
    const CLAIM_ROWS: &'static str;
    /// A condition on `events.tx`: the writing transaction is over, so no event that becomes
    /// visible later can sort before this one (see the events migration). Always true on SQLite,
    /// whose one writer commits in id order.
    const SETTLED_EVENTS: &'static str;
    /// The rows after the cursor `($2, $3)` in `(tx, id)` order (events, audit entries), in a form
    /// the `(tenant_id, tx, id)` index seeks: Postgres seeks a row comparison; SQLite seeks one on its
    /// first column only and would walk every earlier row (30 ms a page 300,000 events in), so there
    /// it is `tx = $2 AND id > $3`, as its `tx` is always 0.
    const AFTER_POSITION: &'static str;
    /// The most bind parameters a statement of many rows carries (multi-row INSERTs are cut into
    /// statements of this many): SQLite finds each numbered parameter's name by walking a list
    /// (`sqlite3_bind_parameter_name`), so binding costs grow with the square of their number (a
    /// 1,000-row insert of 15,000 binds took 1 s); Postgres has no such cost, only its limit.
    const MAX_BINDS: usize;
    /// Whether an `INSERT` may sit in a `WITH` clause (Postgres), so two inserts go as one
    /// statement; SQLite runs them one after the other (in process, no round trip to save).
    const WRITABLE_CTE: bool;
    /// A condition true when the bytes `{needle}` occur in the bytes `{haystack}` (placeholders
    /// replaced by the caller): `position(.. in ..)` on Postgres, `instr` on SQLite.
    const BYTES_CONTAINS: &'static str;
    /// A column holding rows of a subquery as a JSON array of objects, as text: `{fields}` is the
    /// object's `'key', value` list and `{order}` the array's order (placeholders replaced by the
    /// caller). `json_agg` on Postgres (null when there are no rows), `json_group_array` on SQLite
    /// (`[]`; booleans come as 0 and 1).
    const JSON_ROWS: &'static str;

    fn execute(&mut self, sql: Sql<'_>) -> impl Future<Output = sqlx::Result<u64>> + Send;
    fn fetch_all<R: Record>(&mut self, sql: Sql<'_>) -> impl Future<Output = sqlx::Result<Vec<R>>> + Send;
    fn fetch_optional<R: Record>(
        &mut self,
        sql: Sql<'_>,
    ) -> impl Future<Output = sqlx::Result<Option<R>>> + Send;
    /// The last column of every row as text (what `EXPLAIN` answers on either backend).
    fn fetch_plan(&mut self, sql: Sql<'_>) -> impl Future<Output = sqlx::Result<Vec<String>>> + Send;
}

/// Rows of `binds_per_row` binds per statement under [`SqlConn::MAX_BINDS`].
pub(crate) fn rows_per_statement<C: SqlConn>(binds_per_row: usize) -> usize {
    (C::MAX_BINDS / binds_per_row).max(1)
}

/// A sqlx driver: how [`Sql`] runs on one of its connections.
pub trait Driver: sqlx::Database {
    const LOCK_ROWS: &'static str;
    const KEY_SHARE: &'static str;
    const EXPLAIN: &'static str;
    const CLAIM_ROWS: &'static str;
    const SETTLED_EVENTS: &'static str;
    const AFTER_POSITION: &'static str;
    const WRITABLE_CTE: bool;
    const BYTES_CONTAINS: &'static str;
    const JSON_ROWS: &'static str;
    const MAX_BINDS: usize;
    /// How a page of events comes back: `Some(outer)` runs the page's query (in place of `{inner}`,
    /// its `$1` the tenant) inside `outer`, which answers one row: the last event's `tx` and `id`
    /// (null when none), the page as the feed's JSON array ([`crate::domain::change::Event`]'s shape
    /// with `occurred_at` as chrono writes it) and the tenant's prune horizon (`tx`, `id`; null
    /// when none), so the page needs no transaction. `None`: the events come as rows, each with the
    /// horizon beside it (also one statement), serialised by the service.
    ///
    /// Measured, per driver: sqlx's SQLite driver hands rows over one at a time from its worker
    /// thread, and a 100-event page took 2.8 times as long as rows as it does as one; Postgres
    /// builds the JSON slower than it sends rows (pgbench, 4 clients: 8,566 pages/s as rows, 1,485
    /// with the time formatted by `to_char`, 5,365 without any time at all).
    const EVENT_PAGE_JSON: Option<&'static str>;

    fn execute(conn: &mut Self::Connection, sql: Sql<'_>) -> impl Future<Output = sqlx::Result<u64>> + Send;
    fn fetch_all<R: Record>(
        conn: &mut Self::Connection,
        sql: Sql<'_>,
    ) -> impl Future<Output = sqlx::Result<Vec<R>>> + Send;
    fn fetch_optional<R: Record>(
        conn: &mut Self::Connection,
        sql: Sql<'_>,
    ) -> impl Future<Output = sqlx::Result<Option<R>>> + Send;
    fn fetch_plan(
        conn: &mut Self::Connection,
        sql: Sql<'_>,
    ) -> impl Future<Output = sqlx::Result<Vec<String>>> + Send;
}

fn encode_error(e: impl Into<sqlx::error::BoxDynError>) -> sqlx::Error {
    sqlx::Error::Encode(e.into())
}

fn pg_arguments(args: Vec<Arg<'_>>) -> sqlx::Result<PgArguments> {
    let mut out = PgArguments::default();
    for arg in args {
        match arg {
            Arg::Text(v) => out.add(v.as_deref()),
            Arg::Int8(v) => out.add(v),
            Arg::Int4(v) => out.add(v),
            Arg::Bool(v) => out.add(v),
            Arg::Time(v) => out.add(v),
            Arg::Json(None) => out.add(None::<sqlx::types::Json<Box<RawValue>>>),
            Arg::Json(Some(v)) => out.add(sqlx::types::Json(v.map_err(encode_error)?)),
            Arg::Bytes(v) => out.add(v.as_deref()),
        }
        .map_err(encode_error)?;
    }
    Ok(out)
}

fn sqlite_arguments(args: Vec<Arg<'_>>) -> sqlx::Result<SqliteArguments<'_>> {
    let mut out = SqliteArguments::default();
    for arg in args {
        match arg {
            Arg::Text(None) => out.add(None::<String>),
            Arg::Text(Some(Cow::Borrowed(v))) => out.add(v),
            Arg::Text(Some(Cow::Owned(v))) => out.add(v),
            Arg::Int8(v) => out.add(v),
            Arg::Int4(v) => out.add(v),
            Arg::Bool(v) => out.add(v),
            Arg::Time(v) => out.add(v),
            Arg::Json(None) => out.add(None::<String>),
            Arg::Json(Some(v)) => out.add(v.map_err(encode_error)?.get().to_owned()),
            Arg::Bytes(None) => out.add(None::<Vec<u8>>),
            Arg::Bytes(Some(Cow::Borrowed(v))) => out.add(v),
            Arg::Bytes(Some(Cow::Owned(v))) => out.add(v),
        }
        .map_err(encode_error)?;
    }
    Ok(out)
}

/// The [`Driver`] functions of one driver: the same four bodies, each over its own arguments.
macro_rules! driver_functions {
    ($connection:ty, $arguments:ident) => {
        async fn execute(conn: &mut $connection, sql: Sql<'_>) -> sqlx::Result<u64> {
            let args = $arguments(sql.args)?;
            Ok(sqlx::query_with(&sql.text, args).execute(conn).await?.rows_affected())
        }

        async fn fetch_all<R: Record>(conn: &mut $connection, sql: Sql<'_>) -> sqlx::Result<Vec<R>> {
            let args = $arguments(sql.args)?;
            sqlx::query_as_with(&sql.text, args).fetch_all(conn).await
        }

        async fn fetch_optional<R: Record>(conn: &mut $connection, sql: Sql<'_>) -> sqlx::Result<Option<R>> {
            let args = $arguments(sql.args)?;
            sqlx::query_as_with(&sql.text, args).fetch_optional(conn).await
        }

        async fn fetch_plan(conn: &mut $connection, sql: Sql<'_>) -> sqlx::Result<Vec<String>> {
            use sqlx::Row as _;
            let args = $arguments(sql.args)?;
            let rows = sqlx::query_with(&sql.text, args).fetch_all(conn).await?;
            rows.iter().map(|r| r.try_get::<String, _>(r.len() - 1)).collect()
        }
    };
}

impl Driver for Postgres {
    const LOCK_ROWS: &'static str = " FOR UPDATE";
    const KEY_SHARE: &'static str = " FOR KEY SHARE";
    const EXPLAIN: &'static str = "EXPLAIN ";
    const CLAIM_ROWS: &'static str = " FOR UPDATE SKIP LOCKED";
    const SETTLED_EVENTS: &'static str = "tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint";
    const AFTER_POSITION: &'static str = "(tx, id) > ($2, $3)";
    const WRITABLE_CTE: bool = true;
    const BYTES_CONTAINS: &'static str = "position({needle} in {haystack}) > 0";
    const JSON_ROWS: &'static str = "CAST(json_agg(json_build_object({fields}) ORDER BY {order}) AS TEXT)";
    const MAX_BINDS: usize = 30_000;
    const EVENT_PAGE_JSON: Option<&'static str> = None;
    driver_functions!(PgConnection, pg_arguments);
}

impl Driver for Sqlite {
    const LOCK_ROWS: &'static str = "";
    const KEY_SHARE: &'static str = "";
    const EXPLAIN: &'static str = "EXPLAIN QUERY PLAN ";
    const CLAIM_ROWS: &'static str = "";
    const SETTLED_EVENTS: &'static str = "TRUE";
    const AFTER_POSITION: &'static str = "tx = $2 AND id > $3";
    const WRITABLE_CTE: bool = false;
    const BYTES_CONTAINS: &'static str = "instr({haystack}, {needle}) > 0";
    const JSON_ROWS: &'static str = "json_group_array(json_object({fields}) ORDER BY {order})";
    const MAX_BINDS: usize = 1_000;
    // `tx` is a bare column beside the one `max`: SQLite takes it from the row with that max. Each
    // event's JSON is concatenated rather than built with `json_object`, which parses the stored
    // `data` again: it is JSON the service wrote (`Json` binds), and `type` and `actor` are quoted
    // by `json_quote` (a page of 100 took 170 us with `json_object`, 122 us so, SQLite 3.51). The
    // stored `occurred_at` is sqlx's RFC 3339 with `+00:00`, the digits chrono would write.
    const EVENT_PAGE_JSON: Option<&'static str> = Some(
        "SELECT tx, max(id), '[' || COALESCE(group_concat('{\"id\":\"' || tx || '-' || id || '\",\"type\":' \
         || json_quote(type) || ',\"occurred_at\":\"' || replace(occurred_at, '+00:00', 'Z') \
         || '\",\"actor\":' || json_quote(actor) || ',\"data\":' || data || '}', ',' ORDER BY tx, id), '') \
         || ']', (SELECT tx FROM event_horizons WHERE tenant_id = $1), \
         (SELECT id FROM event_horizons WHERE tenant_id = $1) FROM ({inner})",
    );
    driver_functions!(SqliteConnection, sqlite_arguments);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_numbers_placeholders_in_order() {
        let mut sql = query("SELECT 1 FROM t WHERE a = ");
        sql.push_bind("x").push(" AND b IN (").push_bind_list([1i64, 2, 3]).push(")");
        assert_eq!(sql.text(), "SELECT 1 FROM t WHERE a = $1 AND b IN ($2, $3, $4)");
        assert_eq!(sql.args.len(), 4);
    }

    #[test]
    fn values_rows_are_separated() {
        let mut sql = query("INSERT INTO t (a, b) ");
        sql.push_values([("x", 1i64), ("y", 2)], |row, (a, b)| {
            row.push_bind(a).push_bind(b);
        });
        assert_eq!(sql.text(), "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)");
    }
}
