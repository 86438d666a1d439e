//! The raw reference of `bench/run.sh` on SQLite: for each benchmarked route, the statements the
//! service's SQLite store runs for it (`src/store/sqlite.rs`, `contact_sets/`, `properties.rs`,
//! `crm/`, `customers.rs`, `changes.rs`), in the same order and with the same binds, on the same
//! driver (sqlx) with the same connection settings (WAL, `synchronous = NORMAL`, foreign keys, busy
//! timeout 5 s), but without HTTP, JSON or validation. Like pgbench it runs a number of clients for a
//! while and prints `tps p50_ms p99_ms`.
//!
//! Every write records its event in its own transaction, as the store does (`changes::record`: one
//! `INSERT INTO events`, its data the JSON the store serialises; the customers POST also its audit
//! entry, in the one text the store sends). The contact-set replace stores
//! another set every transaction, as `bench/put.lua` and `su_set.lua` send: the first contact is
//! named `Sarah Jansen <n>` with a random n, in the contacts and in the history JSON, and the bump
//! compares and sets `contact_set_hash` with the SHA-256 (hex) of that JSON, computed here as the
//! store computes its fingerprint (of its own serialisation of the set). The feed (`--op feed`) is
//! `list_changes` without a cursor: one statement answering the page of 100 events as JSON.
//!
//! ```sh
//! cargo run --release --example raw_sqlite -- run --db copy.db --op put --concurrency 8 --duration 10
//! cargo run --release --example raw_sqlite -- copy service.db copy.db   # a consistent copy
//! ```
//!
//! Writers (`--writers`): `single` (the default) sends every write transaction through one writer
//! connection shared behind a tokio `Mutex`, the design the SQLite store is moving to (no busy
//! waiting); `per-client` gives each client its own connection that opens its writes with
//! `BEGIN IMMEDIATE` and waits out the lock in SQLite's busy handler, as the service does today.
//! Reads always run on each client's own connection. Writes begin with `BEGIN IMMEDIATE` in both
//! modes (the store's `begin_write`); reads of several statements with `BEGIN` (its `begin_read`).
//!
//! Not mirrored: the API-key lookup (the service caches it) and the connection pool's own work
//! (sqlx pings a pooled SQLite connection when it is acquired); both are service cost.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::Utc;
use clap::{Parser, Subcommand, ValueEnum};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection};
use tokio::sync::Mutex;

#[derive(Parser)]
#[command(about = "Raw SQLite reference for bench/run.sh: the service's statements per route, without HTTP")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs one route's statements with N clients for a while; prints `tps p50_ms p99_ms`.
    Run(RunArgs),
    /// Copies a database file, also while the service has it open (and idle): checkpoints the
    /// WAL into the file, then copies the file while holding the write lock.
    Copy { from: PathBuf, to: PathBuf },
}

#[derive(clap::Args)]
struct RunArgs {
    #[arg(long)]
    db: PathBuf,
    #[arg(long, value_enum)]
    op: Op,
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    #[arg(long, value_enum, default_value_t = Writers::Single)]
    writers: Writers,
    #[arg(long, default_value = "default")]
    tenant: String,
    /// The name of the key the service writes with (`created_by`, `changed_by`).
    #[arg(long, default_value = "bootstrap-admin")]
    author: String,
    /// Properties bp1..bpN, each with a contact set and the booking listing bkN.
    #[arg(long, default_value_t = 1000)]
    properties: u32,
    /// CRM contacts 1..N, each with the e-mail guest<i>@bench.example (in some order).
    #[arg(long, default_value_t = 1000)]
    crm_contacts: i64,
    /// The first of the contacts telephones are added to, round robin.
    #[arg(long, default_value_t = 1001)]
    tel_first: i64,
    #[arg(long, default_value_t = 5000)]
    tel_contacts: i64,
    /// Customers cust1..custN.
    #[arg(long, default_value_t = 1000)]
    customers: u32,
    /// The contact set's history JSON (a file holding `{"contacts": [...]}`, e.g. contact_set.json).
    #[arg(long)]
    set_json: PathBuf,
    /// A CRM contact as the service records it in a revision (e.g. the body a create answered).
    #[arg(long)]
    contact_json: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
enum Op {
    Put,
    Get,
    SuSet,
    CrmCreate,
    CrmGet,
    CrmListEmail,
    CrmTelAdd,
    CustPost,
    CustGet,
    Feed,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Writers {
    /// One writer connection shared behind a tokio Mutex.
    Single,
    /// Each client writes on its own connection, `BEGIN IMMEDIATE` contending in the busy handler.
    PerClient,
}

/// The collection maximum of a CRM contact (`MAX_ITEMS`): the service refuses an add beyond it.
const MAX_ITEMS: i64 = 20;

/// `SqliteStore::connect`'s settings.
fn options(db: &Path, create: bool) -> anyhow::Result<SqliteConnectOptions> {
    let url = format!("sqlite:{}", db.display());
    Ok(SqliteConnectOptions::from_str(&url)?
        .create_if_missing(create)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5)))
}

async fn connect(db: &Path) -> anyhow::Result<SqliteConnection> {
    SqliteConnection::connect_with(&options(db, false)?)
        .await
        .with_context(|| format!("opening {}", db.display()))
}

/// What every client shares.
struct Shared {
    args: RunArgs,
    set_json: String,
    contact_json: String,
    /// `Some` with `--writers single`.
    writer: Option<Mutex<SqliteConnection>>,
    /// Telephone adds so far, for the round robin over the contacts.
    tel_adds: AtomicU64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Run(args) => run(args).await,
        Command::Copy { from, to } => copy(&from, &to).await,
    }
}

async fn copy(from: &Path, to: &Path) -> anyhow::Result<()> {
    let mut conn = connect(from).await?;
    let (busy, _, _): (i64, i64, i64) =
        sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&mut conn).await?;
    if busy != 0 {
        bail!("{} is busy: the WAL could not be checkpointed", from.display());
    }
    // With the write lock held and the WAL empty, the main file holds every commit and no writer
    // can add one while it is copied.
    let tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let wal = PathBuf::from(format!("{}-wal", from.display()));
    if std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) != 0 {
        bail!("{} was written to during the checkpoint", from.display());
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", to.display()));
    }
    std::fs::copy(from, to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    tx.rollback().await?;
    Ok(())
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let set: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&args.set_json)?)?;
    let set_json = serde_json::to_string(&set["contacts"])?;
    if !set_json.contains(&format!("\"{SET_NAME}\"")) {
        bail!("{} names no contact {SET_NAME}", args.set_json.display());
    }
    let contact_json = std::fs::read_to_string(&args.contact_json)?.trim().to_owned();
    let concurrency = args.concurrency.max(1);
    let writer = match args.writers {
        Writers::Single => Some(Mutex::new(connect(&args.db).await?)),
        Writers::PerClient => None,
    };
    eprintln!(
        "raw_sqlite: op={} concurrency={concurrency} writers={}",
        args.op.to_possible_value().map(|v| v.get_name().to_owned()).unwrap_or_default(),
        match args.writers {
            Writers::Single => "single (one writer connection behind a tokio Mutex)",
            Writers::PerClient =>
                "per-client (BEGIN IMMEDIATE on each client's connection, busy timeout 5 s)",
        }
    );
    let duration = Duration::from_secs_f64(args.duration);
    let shared = Arc::new(Shared { args, set_json, contact_json, writer, tel_adds: AtomicU64::new(0) });

    let mut conns = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        conns.push(connect(&shared.args.db).await?);
    }
    let start = Instant::now();
    let deadline = start + duration;
    let clients: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let shared = shared.clone();
            tokio::spawn(async move {
                let mut rng = StdRng::from_entropy();
                let mut latencies_us: Vec<u32> = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    transaction(&shared, &mut conn, &mut rng).await?;
                    latencies_us.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                }
                Ok::<_, anyhow::Error>(latencies_us)
            })
        })
        .collect();
    let mut all = Vec::new();
    for client in clients {
        all.extend(client.await??);
    }
    let elapsed = start.elapsed().as_secs_f64();
    if all.is_empty() {
        bail!("no transaction finished");
    }
    all.sort_unstable();
    let pick = |q: f64| f64::from(all[((all.len() as f64 * q) as usize).min(all.len() - 1)]) / 1000.0;
    println!("{:.0} {:.2} {:.2}", all.len() as f64 / elapsed, pick(0.50), pick(0.99));
    Ok(())
}

/// A write transaction to run, once its connection is chosen.
enum Write {
    /// The property and the number that makes the set another one.
    Set(String, u64),
    CrmCreate,
    CrmTelAdd(i64),
    CustPost(String),
}

/// One route's statements; writes on the shared writer when there is one.
async fn transaction(shared: &Shared, own: &mut SqliteConnection, rng: &mut StdRng) -> anyhow::Result<()> {
    let a = &shared.args;
    let write = match a.op {
        Op::Put => Write::Set(format!("bp{}", rng.gen_range(1..=a.properties)), set_number(rng)),
        Op::SuSet => {
            // resolve_hotel: the property with its mappings, on the pool, before the replace.
            let p = format!("bp{}", rng.gen_range(1..=a.properties));
            let rows = sqlx::query(PROPERTY_SELECT).bind(&a.tenant).bind(&p).fetch_all(&mut *own).await?;
            if rows.is_empty() {
                bail!("no property {p}");
            }
            Write::Set(p, set_number(rng))
        }
        Op::CrmCreate => Write::CrmCreate,
        Op::CrmTelAdd => {
            let n = shared.tel_adds.fetch_add(1, Ordering::Relaxed);
            Write::CrmTelAdd(a.tel_first + (n % a.tel_contacts.max(1) as u64) as i64)
        }
        Op::CustPost => Write::CustPost(format!("cust{}", rng.gen_range(1..=a.customers))),
        Op::Get | Op::CrmGet | Op::CrmListEmail | Op::CustGet | Op::Feed => {
            return read(shared, own, rng).await
        }
    };
    let mut writer;
    let conn: &mut SqliteConnection = match &shared.writer {
        Some(shared_writer) => {
            writer = shared_writer.lock().await;
            &mut writer
        }
        None => own,
    };
    match write {
        Write::Set(p, n) => replace_set(shared, conn, &p, n).await,
        Write::CrmCreate => crm_create(shared, conn).await,
        Write::CrmTelAdd(id) => crm_tel_add(shared, conn, id).await,
        Write::CustPost(k) => cust_post(shared, conn, &k).await,
    }
}

/// The read routes, on the client's own connection.
async fn read(shared: &Shared, own: &mut SqliteConnection, rng: &mut StdRng) -> anyhow::Result<()> {
    let a = &shared.args;
    match a.op {
        Op::Get => {
            // SqliteStore::contact_rows: CONTACT_SET_SELECT on the pool.
            let p = format!("bp{}", rng.gen_range(1..=a.properties));
            let rows = sqlx::query(CONTACT_SET_SELECT).bind(&a.tenant).bind(&p).fetch_all(&mut *own).await?;
            if rows.is_empty() {
                bail!("no property {p}");
            }
        }
        Op::CrmGet => {
            // get_contact: load_contact (one query) on the pool, no transaction.
            let id = rng.gen_range(1..=a.crm_contacts);
            if fetch_contacts(&mut *own, &a.tenant, &[id]).await? == 0 {
                bail!("no CRM contact {id}");
            }
        }
        Op::CrmListEmail => {
            // list_contacts with an emailAddress filter: the aggregate, the page, its collections.
            let email = format!("guest{}@bench.example", rng.gen_range(1..=a.crm_contacts));
            let mut tx = own.begin_with("BEGIN").await?;
            let (total, _, _, _): (i64, Option<String>, i64, i64) = sqlx::query_as(LIST_STAMP_BY_EMAIL)
                .bind(&a.tenant)
                .bind(&a.tenant)
                .bind(&email)
                .fetch_one(&mut *tx)
                .await?;
            if total == 0 {
                bail!("no CRM contact with {email}");
            }
            let ids: Vec<(i64,)> = sqlx::query_as(LIST_PAGE_BY_EMAIL)
                .bind(&a.tenant)
                .bind(&a.tenant)
                .bind(&email)
                .bind(20_i64)
                .bind(0_i64)
                .fetch_all(&mut *tx)
                .await?;
            let ids: Vec<i64> = ids.into_iter().map(|(id,)| id).collect();
            fetch_children(&mut tx, &ids).await?;
            tx.commit().await?;
        }
        Op::Feed => {
            // list_changes without a cursor (from 0-0, all types): one statement on the pool, the
            // page and the prune horizon, no transaction.
            let row: (Option<i64>, Option<i64>, String, Option<i64>, Option<i64>) = sqlx::query_as(FEED_PAGE)
                .bind(&a.tenant)
                .bind(0_i64)
                .bind(0_i64)
                .bind(FEED_LIMIT)
                .fetch_one(&mut *own)
                .await?;
            if row.1.is_none() || row.2.len() < 2 {
                bail!("the feed is empty");
            }
        }
        Op::CustGet => {
            // get_customer_contacts: SELECT_CUSTOMER on the pool.
            let k = format!("cust{}", rng.gen_range(1..=a.customers));
            let rows = sqlx::query(SELECT_CUSTOMER).bind(&a.tenant).bind(&k).fetch_all(&mut *own).await?;
            if rows.is_empty() {
                bail!("no customer {k}");
            }
        }
        _ => unreachable!("a write"),
    }
    Ok(())
}

// ---- the contact set (SqliteStore::replace_set, the same for the Booking PUT and the SU set) ----

/// The three contacts of bench/contact_set.json as the store binds them: position, profiles,
/// is_general, name, gender, job title, language, email, address line, city, postal code,
/// country, address language (the state is null for all three). The first name gets the
/// transaction's number appended ([`SET_NAME`]).
type ContactColumns<'a> =
    (i32, &'a str, bool, &'a str, Option<&'a str>, &'a str, &'a str, &'a str, [Option<&'a str>; 5]);
const ADDRESS: [Option<&str>; 5] =
    [Some("Damrak 1"), Some("Amsterdam"), Some("1012 LG"), Some("NL"), Some("nl")];
const SET: [ContactColumns<'static>; 3] = [
    (
        0,
        "general",
        true,
        "Sarah Jansen",
        Some("female"),
        "General Manager",
        "en-gb",
        "sarah@hotel.example",
        ADDRESS,
    ),
    (
        1,
        "reservations,invoices,availability",
        false,
        "John Smith",
        Some("male"),
        "Reservations Manager",
        "en-gb",
        "john@hotel.example",
        ADDRESS,
    ),
    (2, "requests", false, "Clare Bos", None, "Front Office Manager", "nl", "clare@hotel.example", [None; 5]),
];
/// contact position, position, number, tech type, extension.
const PHONES: [(i32, i32, &str, i32, Option<&str>); 3] =
    [(0, 0, "+31201234567", 1, Some("12")), (1, 0, "+31201234568", 1, None), (2, 0, "+31612345678", 5, None)];

/// The name that carries the number making every replace store another set.
const SET_NAME: &str = "Sarah Jansen";

/// A random 18-digit number: two transactions of a run practically never store the same set on one
/// property (the bump would then find it unchanged, and the run fails).
fn set_number(rng: &mut StdRng) -> u64 {
    rng.gen_range(100_000_000_000_000_000..1_000_000_000_000_000_000)
}

/// The bump with its If-Match and identical-set checks (`replace_set` in src/store/sqlite.rs).
const BUMP: &str = "UPDATE properties SET contact_set_revision = contact_set_revision + 1, updated_at = $3, \
     contact_set_hash = $5 \
     WHERE tenant_id = $1 AND id = $2 AND ($4 IS NULL OR contact_set_revision = $4) \
     AND contact_set_hash IS NOT $5 \
     RETURNING contact_set_revision";
const DELETE_CONTACTS: &str = "DELETE FROM property_contacts WHERE tenant_id = $1 AND property_id = $2";
const INSERT_CONTACTS: &str = "INSERT INTO property_contacts (tenant_id, property_id, position, profiles, \
     is_general, person_name, person_gender, person_job_title, person_language, email, \
     address_line, city_name, postal_code, country_code, address_language, state_prov_code) ";
const INSERT_PHONES: &str = "INSERT INTO property_contact_phones (tenant_id, property_id, contact_position, \
     position, phone_number, tech_type, extension) ";
const INSERT_SET_REVISION: &str = "INSERT INTO contact_set_revisions \
     (tenant_id, property_id, revision, created_at, created_by, contact_count, contacts) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

// ---- the change feed (changes.rs) ----

/// `changes::record`.
const INSERT_EVENT: &str =
    "INSERT INTO events (tenant_id, type, occurred_at, actor, data) VALUES ($1, $2, $3, $4, $5)";

/// Records one event with `data` (the JSON `ChangeData` serialises to) in the caller's transaction.
async fn record_event(
    shared: &Shared,
    conn: &mut SqliteConnection,
    kind: &str,
    at: chrono::DateTime<Utc>,
    data: String,
) -> anyhow::Result<()> {
    sqlx::query(INSERT_EVENT)
        .bind(&shared.args.tenant)
        .bind(kind)
        .bind(at)
        .bind(&shared.args.author)
        .bind(data)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// `events_after` without a cursor or types (SETTLED_EVENTS is `TRUE` on SQLite), inside the
/// store's EVENT_PAGE_JSON: the page as one row of JSON built by SQLite, with the prune horizon.
const FEED_PAGE: &str = "SELECT tx, max(id), '[' || COALESCE(group_concat('{\"id\":\"' || tx || '-' || id \
     || '\",\"type\":' || json_quote(type) || ',\"occurred_at\":\"' || replace(occurred_at, '+00:00', 'Z') \
     || '\",\"actor\":' || json_quote(actor) || ',\"data\":' || data || '}', ',' ORDER BY tx, id), '') || ']', \
     (SELECT tx FROM event_horizons WHERE tenant_id = $1), \
     (SELECT id FROM event_horizons WHERE tenant_id = $1) FROM (SELECT tx, id, type, occurred_at, actor, data FROM events \
     WHERE tenant_id = $1 AND tx = $2 AND id > $3 AND TRUE ORDER BY tx, id LIMIT $4)";
/// The route's `limit=100`.
const FEED_LIMIT: i64 = 100;

/// `VALUES (?, ?), (?, ?)` as sqlx's QueryBuilder writes it for SQLite.
fn values(rows: usize, columns: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    format!("VALUES {}", vec![row; rows].join(", "))
}

async fn replace_set(
    shared: &Shared,
    conn: &mut SqliteConnection,
    property_id: &str,
    number: u64,
) -> anyhow::Result<()> {
    let (tenant, p) = (shared.args.tenant.as_str(), property_id);
    let now = Utc::now();
    // The set the request would carry, and its fingerprint (the store's: SHA-256, hex).
    let name = format!("{SET_NAME} {number}");
    let history = shared.set_json.replacen(&format!("\"{SET_NAME}\""), &format!("\"{name}\""), 1);
    let fingerprint = hex::encode(Sha256::digest(history.as_bytes()));
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let bumped: Option<(i64,)> = sqlx::query_as(BUMP)
        .bind(tenant)
        .bind(p)
        .bind(now)
        .bind(None::<i64>)
        .bind(&fingerprint)
        .fetch_optional(&mut *tx)
        .await?;
    let Some((revision,)) = bumped else { bail!("no property {p}, or its set is this one already") };
    sqlx::query(DELETE_CONTACTS).bind(tenant).bind(p).execute(&mut *tx).await?;
    let sql = format!("{INSERT_CONTACTS}{}", values(SET.len(), 16));
    let mut insert = sqlx::query(&sql);
    for (position, profiles, general, set_name, gender, job, language, email, address) in SET {
        insert = insert
            .bind(tenant)
            .bind(p)
            .bind(position)
            .bind(profiles)
            .bind(general)
            .bind(if position == 0 { name.as_str() } else { set_name })
            .bind(gender)
            .bind(job)
            .bind(language)
            .bind(email);
        for field in address {
            insert = insert.bind(field);
        }
        insert = insert.bind(None::<&str>);
    }
    insert.execute(&mut *tx).await?;
    let sql = format!("{INSERT_PHONES}{}", values(PHONES.len(), 7));
    let mut insert = sqlx::query(&sql);
    for (contact, position, number, tech, extension) in PHONES {
        insert =
            insert.bind(tenant).bind(p).bind(contact).bind(position).bind(number).bind(tech).bind(extension);
    }
    insert.execute(&mut *tx).await?;
    sqlx::query(INSERT_SET_REVISION)
        .bind(tenant)
        .bind(p)
        .bind(revision)
        .bind(now)
        .bind(&shared.args.author)
        .bind(SET.len() as i32)
        .bind(&history)
        .execute(&mut *tx)
        .await?;
    let data = format!("{{\"property_id\":\"{p}\",\"revision\":{revision}}}");
    record_event(shared, &mut tx, "contact_set.replaced", now, data).await?;
    tx.commit().await?;
    Ok(())
}

const CONTACT_SET_SELECT: &str = "SELECT p.contact_set_revision, c.position, c.profiles, c.person_name, \
     c.person_gender, c.person_job_title, c.person_language, c.email, c.address_line, c.city_name, \
     c.postal_code, c.country_code, c.address_language, c.state_prov_code, ph.phone_number, ph.tech_type, \
     ph.extension, p.updated_at FROM properties p \
     LEFT JOIN property_contacts c ON c.tenant_id = p.tenant_id AND c.property_id = p.id \
     LEFT JOIN property_contact_phones ph ON ph.tenant_id = c.tenant_id AND ph.property_id = c.property_id \
       AND ph.contact_position = c.position \
     WHERE p.tenant_id = $1 AND p.id = $2 ORDER BY c.position, ph.position";

/// `load_property` (properties.rs): `property_select("WHERE tenant_id = $1 AND id = $2")`.
const PROPERTY_SELECT: &str = "SELECT p.id, p.name, p.contact_set_revision, p.created_at, p.updated_at, \
     m.channel, m.channel_property_id \
     FROM (SELECT id, name, contact_set_revision, created_at, updated_at FROM properties \
     WHERE tenant_id = $1 AND id = $2) p \
     LEFT JOIN property_channel_mappings m ON m.tenant_id = $1 AND m.property_id = p.id \
     ORDER BY p.id, m.channel";

// ---- CRM (crm/queries.rs, crm/contacts.rs) ----

const CONTACT_COLUMNS: &str = "c.id, c.contact_type, c.title, c.first_name, c.last_name, \
     c.company_name, c.account_id, c.job_title, c.gender, c.language, c.order_references, c.version, \
     c.created_at, c.updated_at, c.merged_into, c.external_id";

/// rows::children_columns on SQLite: each collection of the contacts matching `on` as a JSON array.
fn children_columns(on: &str) -> String {
    [
        ("crm_contact_emails", "'id', x.id, 'contact_id', x.contact_id, 'email_address', x.email_address, \
          'kind', x.type, 'is_primary', x.is_primary", "x.contact_id, x.id", "emails"),
        ("crm_contact_telephones", "'id', x.id, 'contact_id', x.contact_id, 'number', x.number, 'e164', x.e164, \
          'kind', x.type, 'extension', x.extension, 'country_code', x.country_code, 'is_primary', x.is_primary",
         "x.contact_id, x.id", "telephones"),
        ("crm_contact_addresses", "'id', x.id, 'contact_id', x.contact_id, 'address_line1', x.address_line1, \
          'address_line2', x.address_line2, 'city', x.city, 'postcode', x.postcode, \
          'state_province', x.state_province, 'country_code', x.country_code, 'is_primary', x.is_primary",
         "x.contact_id, x.id", "addresses"),
        ("crm_contact_properties", "'contact_id', x.contact_id, 'property_id', x.property_id",
         "x.contact_id, x.property_id", "properties"),
        ("crm_contact_custom_fields", "'contact_id', x.contact_id, 'name', x.name, 'field_type', x.field_type, \
          'value', x.value", "x.contact_id, x.id", "custom_fields"),
    ]
    .iter()
    .map(|(table, fields, order, column)| {
        format!("(SELECT json_group_array(json_object({fields}) ORDER BY {order}) FROM {table} x WHERE {on}) AS {column}")
    })
    .collect::<Vec<_>>()
    .join(", ")
}

/// `id IN (?, ?)` for `n` ids.
fn in_list(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// `fetch_children`: the page's collections in one query (the ids bound once, named in each of the
/// five subqueries as `$1..$n`).
async fn fetch_children(conn: &mut SqliteConnection, ids: &[i64]) -> anyhow::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let list = (1..=ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let sql = format!("SELECT {}", children_columns(&format!("x.contact_id IN ({list})")));
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(*id);
    }
    q.fetch_all(&mut *conn).await?;
    Ok(())
}

/// `fetch_contacts`: the contact rows with their collections (one query); how many were found.
async fn fetch_contacts(conn: &mut SqliteConnection, tenant: &str, ids: &[i64]) -> anyhow::Result<usize> {
    let sql = format!(
        "SELECT {CONTACT_COLUMNS}, {} FROM crm_contacts c WHERE c.tenant_id = ? AND c.id IN ({}) ORDER BY c.id",
        children_columns("x.contact_id = c.id"),
        in_list(ids.len())
    );
    let mut q = sqlx::query_as::<_, (i64,)>(&sql).bind(tenant);
    for id in ids {
        q = q.bind(*id);
    }
    Ok(q.fetch_all(&mut *conn).await?.len())
}

const INSERT_REVISION: &str = "INSERT INTO crm_contact_revisions \
     (tenant_id, contact_id, version, operation, changed_at, changed_by, contact) VALUES (?, ?, ?, ?, ?, ?, ?)";

/// `insert_revisions` of one contact.
async fn insert_revision(
    shared: &Shared,
    conn: &mut SqliteConnection,
    id: i64,
    version: i64,
    operation: &str,
    at: chrono::DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(INSERT_REVISION)
        .bind(&shared.args.tenant)
        .bind(id)
        .bind(version)
        .bind(operation)
        .bind(at)
        .bind(&shared.args.author)
        .bind(&shared.contact_json)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// `create_contact` of bench/crm_contact.json: one e-mail, telephone and address; its
/// `contact.created` event.
async fn crm_create(shared: &Shared, conn: &mut SqliteConnection) -> anyhow::Result<()> {
    let tenant = shared.args.tenant.as_str();
    let at = Utc::now();
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO crm_contacts (tenant_id, contact_type, title, first_name, last_name, company_name, \
         account_id, job_title, gender, language, order_references, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $12) RETURNING id",
    )
    .bind(tenant)
    .bind("GUEST")
    .bind("Ms")
    .bind("Anna")
    .bind("Berg")
    .bind(None::<&str>)
    .bind(None::<&str>)
    .bind(None::<&str>)
    .bind(None::<&str>)
    .bind(None::<&str>)
    .bind("[]")
    .bind(at)
    .fetch_one(&mut *tx)
    .await?;
    // write_collections of a new contact: each collection the body carries is inserted, RETURNING
    // its ids.
    sqlx::query(&format!(
        "INSERT INTO crm_contact_emails (tenant_id, contact_id, email_address, type, is_primary) {} RETURNING id",
        values(1, 5)
    ))
    .bind(tenant)
    .bind(id)
    .bind("new.guest@bench.example")
    .bind(Some("WORK"))
    .bind(true)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query(&format!(
        "INSERT INTO crm_contact_telephones \
         (tenant_id, contact_id, number, e164, type, extension, country_code, is_primary) {} RETURNING id",
        values(1, 8)
    ))
    .bind(tenant)
    .bind(id)
    .bind("+31 20 123 4567")
    .bind("+31201234567")
    .bind(Some("HOME"))
    .bind(None::<&str>)
    .bind(None::<&str>)
    .bind(true)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query(&format!(
        "INSERT INTO crm_contact_addresses (tenant_id, contact_id, address_line1, address_line2, \
         city, postcode, state_province, country_code, is_primary) {} RETURNING id",
        values(1, 9)
    ))
    .bind(tenant)
    .bind(id)
    .bind("Damrak 1")
    .bind(None::<&str>)
    .bind("Amsterdam")
    .bind(Some("1012 LG"))
    .bind(None::<&str>)
    .bind("NL")
    .bind(true)
    .fetch_all(&mut *tx)
    .await?;
    // record_loaded: no read back (the store builds the contact from the draft), the revision and
    // the event.
    insert_revision(shared, &mut tx, id, 1, "CREATE", at).await?;
    let data = format!("{{\"contact_id\":{id},\"version\":1}}");
    record_event(shared, &mut tx, "contact.created", at, data).await?;
    tx.commit().await?;
    Ok(())
}

/// `add_contact_item` of an international telephone (no country lookup needed); its
/// `contact.updated` event.
async fn crm_tel_add(shared: &Shared, conn: &mut SqliteConnection, id: i64) -> anyhow::Result<()> {
    let tenant = shared.args.tenant.as_str();
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    // lock (no FOR UPDATE on SQLite: the transaction holds the write lock).
    let row: Option<(i64, Option<i64>)> =
        sqlx::query_as("SELECT version, merged_into FROM crm_contacts WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((version, None)) = row else { bail!("no live CRM contact {id}") };
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM crm_contact_telephones WHERE contact_id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    if count >= MAX_ITEMS {
        bail!("contact {id} has {count} telephones already (the service would refuse): seed more telephone contacts");
    }
    sqlx::query_as::<_, (i64,)>(
        "INSERT INTO crm_contact_telephones (tenant_id, contact_id, number, e164, type, extension, \
         country_code, is_primary) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(tenant)
    .bind(id)
    .bind("+31 20 123 4567")
    .bind("+31201234567")
    .bind(Some("WORK"))
    .bind(None::<&str>)
    .bind(None::<&str>)
    .bind(false)
    .fetch_one(&mut *tx)
    .await?;
    // promote_oldest
    sqlx::query(
        "UPDATE crm_contact_telephones SET is_primary = TRUE \
         WHERE id = (SELECT MIN(id) FROM crm_contact_telephones WHERE contact_id = $1) \
           AND NOT EXISTS (SELECT 1 FROM crm_contact_telephones WHERE contact_id = $1 AND is_primary)",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    // finish: bump, reload, revision, event.
    let at = Utc::now();
    sqlx::query(
        "UPDATE crm_contacts SET version = version + 1, updated_at = $3 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(id)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    fetch_contacts(&mut tx, tenant, &[id]).await?;
    insert_revision(shared, &mut tx, id, version + 1, "ADD_TELEPHONE", at).await?;
    let data = format!("{{\"contact_id\":{id},\"version\":{}}}", version + 1);
    record_event(shared, &mut tx, "contact.updated", at, data).await?;
    tx.commit().await?;
    Ok(())
}

/// `stamp_query` with the e-mail filter.
const LIST_STAMP_BY_EMAIL: &str = "SELECT COUNT(*) AS total, MAX(c.updated_at) AS last_modified, \
     CAST(COALESCE(SUM(c.version), 0) AS BIGINT) AS version_sum, \
     CAST(COALESCE(SUM(c.id), 0) AS BIGINT) AS id_sum FROM crm_contacts c \
     WHERE c.tenant_id = ? AND c.merged_into IS NULL AND c.id IN \
     (SELECT x.contact_id FROM crm_contact_emails x WHERE x.tenant_id = ? \
     AND lower(x.email_address) = lower(?))";

/// `page_query` with the e-mail filter and the default sort (`id`, ascending), page 0 of 20.
const LIST_PAGE_BY_EMAIL: &str = "SELECT c.id, c.contact_type, c.title, c.first_name, c.last_name, \
     c.company_name, c.account_id, c.job_title, c.gender, c.language, c.order_references, c.version, \
     c.created_at, c.updated_at, c.merged_into FROM crm_contacts c \
     WHERE c.tenant_id = ? AND c.merged_into IS NULL AND c.id IN \
     (SELECT x.contact_id FROM crm_contact_emails x WHERE x.tenant_id = ? \
     AND lower(x.email_address) = lower(?)) ORDER BY c.id ASC LIMIT ? OFFSET ?";

// ---- customers (customers.rs) ----

const UPSERT_CUSTOMER: &str = "INSERT INTO customers (tenant_id, id, created_at, updated_at) \
     VALUES ($1, $2, $3, $3) \
     ON CONFLICT (tenant_id, id) DO UPDATE SET updated_at = excluded.updated_at";
const INSERT_CUSTOMER_CONTACTS: &str = "INSERT INTO customer_contacts (tenant_id, customer_id, type, name, \
     work_phone, work_phone_extension, mobile_phone, fax, email, organization_name, updated_at) ";
const ON_CONFLICT_REPLACE: &str = " ON CONFLICT (tenant_id, customer_id, type) DO UPDATE SET \
     name = excluded.name, work_phone = excluded.work_phone, \
     work_phone_extension = excluded.work_phone_extension, mobile_phone = excluded.mobile_phone, \
     fax = excluded.fax, email = excluded.email, organization_name = excluded.organization_name, \
     updated_at = excluded.updated_at";
const SELECT_CUSTOMER: &str = "SELECT c.id AS customer_id, c.created_at, c.updated_at, \
     cc.type AS contact_type, cc.name, cc.work_phone, cc.work_phone_extension, cc.mobile_phone, cc.fax, \
     cc.email, cc.organization_name, cc.updated_at AS contact_updated_at \
     FROM customers c \
     LEFT JOIN customer_contacts cc ON cc.tenant_id = c.tenant_id AND cc.customer_id = c.id \
     WHERE c.tenant_id = $1 AND c.id = $2 \
     ORDER BY cc.type";

/// `upsert_customer_contacts` of bench/customer_billing.json (the billing contact): one text of the
/// customer upsert, the contact upsert, its `customer_contacts.replaced` event and audit entry, and
/// the customer's `created_at`.
async fn cust_post(shared: &Shared, conn: &mut SqliteConnection, customer: &str) -> anyhow::Result<()> {
    let tenant = shared.args.tenant.as_str();
    let now = Utc::now();
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let text = format!(
        "{}; {INSERT_CUSTOMER_CONTACTS}VALUES ($1, $2, $4, $5, $6, $7, $8, $9, $10, $11, $3){ON_CONFLICT_REPLACE}; \
         INSERT INTO events (tenant_id, type, occurred_at, actor, data) VALUES ($1, $12, $3, $13, $14); \
         INSERT INTO audit_entries (tenant_id, occurred_at, key_id, key_name, operation, resource_type, \
         resource_id, request_id, detail) VALUES ($1, $3, $15, $13, $12, 'customer', $2, $16, $17); \
         SELECT created_at FROM customers WHERE tenant_id = $1 AND id = $2",
        UPSERT_CUSTOMER
    );
    sqlx::query_as::<_, (String,)>(&text)
        .bind(tenant)
        .bind(customer)
        .bind(now)
        .bind("billing")
        .bind("John Smith")
        .bind(Some("9147212006"))
        .bind(Some("2006"))
        .bind(Some("9147212006"))
        .bind(Some("9147212006"))
        .bind(Some("billing@customer.example"))
        .bind(Some("Apple Bank for Savings"))
        .bind("customer_contacts.replaced")
        .bind(&shared.args.author)
        .bind(format!("{{\"customer_id\":\"{customer}\",\"types\":[\"billing\"]}}"))
        .bind("key_0f1e2d3c4b5a69788796a5b4")
        .bind("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
        .bind("{\"types\":[\"billing\"]}")
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
