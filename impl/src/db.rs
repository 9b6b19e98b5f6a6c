//! The engine's database: SQLite, with tables close to oVirt's.
//!
//! - `command_entities`: one row per command that has a row in the model (the parent
//!   `RemoveSnapshot` and one `RemoveSnapshotSingleDiskLive` child per disk); a child's current
//!   step and its grandchild's status are in `command_params` (JSON), as oVirt serializes them.
//! - `snapshots`: the snapshot's row (`OK`/`LOCKED`; deleted when the removal succeeded) and the
//!   disks its configuration still lists.
//! - `images`: each disk's volumes, as the chain the engine believes in (`OK`/`ILLEGAL`, parent,
//!   active leaf).
//! - `engine_state`: one row per removal: the settings, the ids (layout), the full model state
//!   (JSON), the last event's sequence number.
//! - `event_log`: every applied event with the state before and after.
//!
//! One database holds every removal of one engine, as oVirt's holds every VM's: each row names
//! its removal in a `vm` column (0 for an engine that runs one removal), and a [`Db`] handle
//! reads and writes one removal's rows ([`Db::for_vm`] gives another removal's handle on the
//! same connection).
//!
//! [`project`] maps a model state to the three oVirt tables; [`Db::commit_step`] writes that
//! projection, the state and the log row in ONE transaction, so a crash leaves the database at a
//! step boundary. The engine's connection runs in WAL mode with `synchronous=NORMAL` (a commit
//! survives the process being killed; only a power loss may lose the last ones) and in SQLite's
//! EXCLUSIVE locking mode, so a second engine on the same directory fails at once.

use crate::error::{Error, Result};
use crate::settings::Settings;
use crate::storage::Host;
use livemerge_model::{CmdStatus, Event, Images, Snapshot, State};
use rusqlite::config::DbConfig;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const PARENT_TYPE: &str = "RemoveSnapshot";
pub const CHILD_TYPE: &str = "RemoveSnapshotSingleDiskLive";

/// The ids of everything the rows name; fixed at setup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// The host the engine drives (`"storage"` on disk).
    #[serde(rename = "storage")]
    pub host: Host,
    pub vm_id: String,
    pub snapshot_id: String,
    pub parent_command_id: String,
    pub disks: Vec<DiskIds>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskIds {
    pub disk_id: String,
    pub base_image: String,
    pub top_image: String,
    pub child_command_id: String,
}

impl Layout {
    /// Fresh ids for `n` disks, derived from `seed` (uuid-shaped, not RFC-random).
    pub fn new(host: Host, n: usize, seed: u64) -> Layout {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut id = || {
            let a = rng.u64(..);
            let b = rng.u64(..);
            format!(
                "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                a >> 32,
                (a >> 16) & 0xffff,
                a & 0xffff,
                b >> 48,
                b & 0xffff_ffff_ffff
            )
        };
        Layout {
            host,
            vm_id: id(),
            snapshot_id: id(),
            parent_command_id: id(),
            disks: (0..n)
                .map(|_| DiskIds {
                    disk_id: id(),
                    base_image: id(),
                    top_image: id(),
                    child_command_id: id(),
                })
                .collect(),
        }
    }
}

/// A row of `command_entities`, column for column (oVirt's `CommandEntity`); the model's
/// `CommandRow` is what the abstraction reads from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandEntity {
    pub command_id: String,
    pub command_type: String,
    pub parent_command_id: Option<String>,
    pub root_command_id: String,
    pub status: String,
    pub executed: bool,
    pub callback_enabled: bool,
    pub callback_notified: bool,
    pub command_params: serde_json::Value,
}

/// The row of `snapshots`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRow {
    pub snapshot_id: String,
    pub vm_id: String,
    pub status: String,
    pub description: String,
    pub disk_ids: Vec<String>,
}

/// A row of `images`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRow {
    pub image_guid: String,
    pub disk_id: String,
    pub parent_id: Option<String>,
    pub image_status: String,
    pub active: bool,
}

/// The oVirt tables' content.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rows {
    pub commands: Vec<CommandEntity>,
    pub snapshot: Option<SnapshotRow>,
    pub images: Vec<ImageRow>,
}

/// The rows a model state stands for. Pure: the same state always gives the same rows.
pub fn project(s: &State, layout: &Layout) -> Rows {
    let mut rows = Rows::default();
    let root = layout.parent_command_id.clone();
    if s.parent().status() != CmdStatus::NoRow {
        rows.commands.push(CommandEntity {
            command_id: root.clone(),
            command_type: PARENT_TYPE.into(),
            parent_command_id: None,
            root_command_id: root.clone(),
            status: s.parent().status().ovirt_name().into(),
            executed: s.parent().flags().executed(),
            callback_enabled: true,
            callback_notified: s.parent().flags().notified(),
            command_params: serde_json::json!({
                "vm_id": layout.vm_id,
                "snapshot_id": layout.snapshot_id,
            }),
        });
    }
    for (i, ids) in layout.disks.iter().enumerate() {
        let d = s.disk(i);
        if d.status() != CmdStatus::NoRow {
            rows.commands.push(CommandEntity {
                command_id: ids.child_command_id.clone(),
                command_type: CHILD_TYPE.into(),
                parent_command_id: Some(root.clone()),
                root_command_id: root.clone(),
                status: d.status().ovirt_name().into(),
                executed: d.flags().executed(),
                callback_enabled: true,
                callback_notified: d.flags().notified(),
                command_params: serde_json::json!({
                    "disk_id": ids.disk_id,
                    "image_guid": ids.top_image,
                    "base_image_guid": ids.base_image,
                    "step": d.step().ovirt_name(),
                    "grandchild": d.task().ovirt_name(),
                }),
            });
        }
        let base = |active: bool| ImageRow {
            image_guid: ids.base_image.clone(),
            disk_id: ids.disk_id.clone(),
            parent_id: None,
            image_status: "OK".into(),
            active,
        };
        let top = |parent: bool, status: &str, active: bool| ImageRow {
            image_guid: ids.top_image.clone(),
            disk_id: ids.disk_id.clone(),
            parent_id: parent.then(|| ids.base_image.clone()),
            image_status: status.into(),
            active,
        };
        match d.images() {
            Images::BaseAndTop => rows.images.extend([base(false), top(true, "OK", true)]),
            Images::TopIllegal => rows
                .images
                .extend([base(false), top(true, "ILLEGAL", true)]),
            Images::Merged => rows.images.push(base(true)),
            Images::MergedOrphan => rows
                .images
                .extend([base(true), top(false, "ILLEGAL", false)]),
        }
    }
    if s.snapshot() != Snapshot::Deleted {
        rows.snapshot = Some(SnapshotRow {
            snapshot_id: layout.snapshot_id.clone(),
            vm_id: layout.vm_id.clone(),
            status: s.snapshot().ovirt_name().into(),
            description: "livemerge snapshot".into(),
            disk_ids: layout
                .disks
                .iter()
                .enumerate()
                .filter(|(i, _)| s.disk(*i).flags().in_snapshot())
                .map(|(_, ids)| ids.disk_id.clone())
                .collect(),
        });
    }
    rows
}

/// A row of `event_log`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogRow {
    pub seq: u64,
    pub source: String,
    pub event: Event,
    pub before: State,
    pub after: State,
}

/// What `engine_state` holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Persisted {
    pub settings: Settings,
    pub layout: Layout,
    pub state: State,
    pub seq: u64,
}

const SCHEMA: &str = "
CREATE TABLE command_entities (
    vm INTEGER NOT NULL DEFAULT 0,
    command_id TEXT PRIMARY KEY,
    command_type TEXT NOT NULL,
    parent_command_id TEXT,
    root_command_id TEXT NOT NULL,
    status TEXT NOT NULL,
    executed INTEGER NOT NULL,
    callback_enabled INTEGER NOT NULL,
    callback_notified INTEGER NOT NULL,
    command_params TEXT NOT NULL
);
CREATE TABLE snapshots (
    vm INTEGER NOT NULL DEFAULT 0,
    snapshot_id TEXT PRIMARY KEY,
    vm_id TEXT NOT NULL,
    status TEXT NOT NULL,
    description TEXT NOT NULL,
    disk_ids TEXT NOT NULL
);
CREATE TABLE images (
    vm INTEGER NOT NULL DEFAULT 0,
    image_guid TEXT PRIMARY KEY,
    disk_id TEXT NOT NULL,
    parent_id TEXT,
    image_status TEXT NOT NULL,
    active INTEGER NOT NULL
);
CREATE TABLE engine_state (
    vm INTEGER PRIMARY KEY,
    settings TEXT NOT NULL,
    layout TEXT NOT NULL,
    state TEXT NOT NULL,
    seq INTEGER NOT NULL,
    opened_by INTEGER
);
CREATE TABLE event_log (
    vm INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL,
    source TEXT NOT NULL,
    event TEXT NOT NULL,
    before TEXT NOT NULL,
    after TEXT NOT NULL,
    PRIMARY KEY (vm, seq)
);
";

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("model values serialize")
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| Error::Db(format!("{what} is not readable: {e}")))
}

/// An open engine database, as one removal's handle on it.
pub struct Db {
    /// Shared by the handles of every removal of one engine: one connection, one writer.
    conn: Arc<Mutex<Connection>>,
    /// The removal whose rows this handle reads and writes.
    vm: u32,
    /// The engine's database file as it was opened (path, device, inode): checked before every
    /// commit, so that an engine whose file was unlinked or replaced under it stops instead of
    /// committing into a file nobody will read again. `None` for a reader.
    file: Option<(std::path::PathBuf, u64, u64)>,
}

/// Device and inode of `path`.
fn identity(path: &Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).map(|m| (m.dev(), m.ino()))
}

fn write_rows(tx: &rusqlite::Transaction<'_>, vm: u32, rows: &Rows) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM command_entities WHERE vm = ?1", [vm])?;
    tx.execute("DELETE FROM snapshots WHERE vm = ?1", [vm])?;
    tx.execute("DELETE FROM images WHERE vm = ?1", [vm])?;
    for c in &rows.commands {
        tx.execute(
            "INSERT INTO command_entities VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                vm,
                c.command_id,
                c.command_type,
                c.parent_command_id,
                c.root_command_id,
                c.status,
                c.executed,
                c.callback_enabled,
                c.callback_notified,
                c.command_params.to_string()
            ],
        )?;
    }
    if let Some(s) = &rows.snapshot {
        tx.execute(
            "INSERT INTO snapshots VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                vm,
                s.snapshot_id,
                s.vm_id,
                s.status,
                s.description,
                json(&s.disk_ids)
            ],
        )?;
    }
    for i in &rows.images {
        tx.execute(
            "INSERT INTO images VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                vm,
                i.image_guid,
                i.disk_id,
                i.parent_id,
                i.image_status,
                i.active
            ],
        )?;
    }
    Ok(())
}

/// Whether SQLite says another connection holds the database (by its error code).
fn is_locked(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

fn map_open_error(path: &Path, e: rusqlite::Error) -> Error {
    let msg = crate::error::one_line(&e.to_string());
    // A missing table has no code of its own (it is the generic SQLITE_ERROR): its message is
    // all that tells a database of another program from ours.
    let foreign = e.sqlite_error_code() == Some(ErrorCode::NotADatabase)
        || (e.sqlite_error_code() == Some(ErrorCode::Unknown) && msg.contains("no such table"));
    if is_locked(&e) {
        Error::Locked(format!("{} is locked by another engine", path.display()))
    } else if foreign {
        Error::NotEngineDir(format!(
            "{} is not an engine database ({msg})",
            path.display()
        ))
    } else {
        Error::Db(format!("{}: {msg}", path.display()))
    }
}

/// `PRAGMA quick_check`: "ok", or the database is corrupt (a one-line refusal).
fn quick_check(conn: &Connection, path: &Path) -> Result<()> {
    let problems: Vec<String> = conn
        .prepare("PRAGMA quick_check")
        .and_then(|mut st| {
            st.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .map_err(|e| {
            if is_locked(&e) {
                map_open_error(path, e)
            } else {
                corrupt(path, &e.to_string())
            }
        })?;
    if problems.len() == 1 && problems[0] == "ok" {
        return Ok(());
    }
    Err(corrupt(
        path,
        problems.first().map_or("no answer", String::as_str),
    ))
}

fn corrupt(path: &Path, why: &str) -> Error {
    Error::BadInput(format!(
        "{} is damaged (SQLite quick_check: {}): refusing to start an engine on it",
        path.display(),
        crate::error::one_line(why)
    ))
}

impl Db {
    /// Creates a database at `path` (which must not exist) holding the initial state.
    pub fn create(path: &Path, settings: &Settings, layout: &Layout, state: &State) -> Result<()> {
        Db::create_all(path, &[(*settings, layout.clone(), *state)])
    }

    /// Creates a database at `path` (which must not exist) holding one removal per entry
    /// (removal `i` is `vm` `i`), each at its initial state.
    pub fn create_all(path: &Path, removals: &[(Settings, Layout, State)]) -> Result<()> {
        let mut conn = Connection::open(path)?;
        conn.execute_batch(SCHEMA)?;
        let tx = conn.transaction()?;
        for (vm, (settings, layout, state)) in removals.iter().enumerate() {
            let vm = vm as u32;
            write_rows(&tx, vm, &project(state, layout))?;
            tx.execute(
                "INSERT INTO engine_state (vm, settings, layout, state, seq) VALUES (?1, ?2, ?3, ?4, 0)",
                params![vm, json(settings), json(layout), json(state)],
            )?;
        }
        tx.commit()?;
        conn.close().map_err(|(_, e)| Error::from(e))?;
        Ok(())
    }

    /// Opens an engine database for the one engine that may run on it: takes its write lock
    /// now and keeps it until the engine exits.
    pub fn open_engine(path: &Path) -> Result<Db> {
        Db::open_engine_with(path, |_| Ok(())).map(|(db, ())| db)
    }

    /// [`Db::open_engine`], with `check` run on the database as it is, after its integrity check
    /// and before the engine's first write: a refusal there leaves the file exactly as it was
    /// (a write would overwrite what a damaged WAL still holds).
    pub fn open_engine_with<T>(
        path: &Path,
        check: impl FnOnce(&Db) -> Result<T>,
    ) -> Result<(Db, T)> {
        let wal = std::path::PathBuf::from(format!("{}-wal", path.display()));
        let had_wal = wal.exists();
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(|e| map_open_error(path, e))?;
        conn.busy_timeout(Duration::from_millis(200))
            .map_err(|e| map_open_error(path, e))?;
        conn.execute_batch(
            "PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;",
        )
        .map_err(|e| map_open_error(path, e))?;
        let (dev, ino) =
            identity(path).map_err(|e| Error::Db(format!("{}: {e}", path.display())))?;
        let db = Db {
            conn: Arc::new(Mutex::new(conn)),
            vm: 0,
            file: Some((path.to_path_buf(), dev, ino)),
        };
        // A refusal must leave the files as they are: closing would checkpoint the WAL into
        // the database and delete it, with whatever a damaged WAL still holds; and an empty WAL
        // that the open created (the database had none) goes again.
        let keep_wal = |db: Db| {
            let _ = db
                .conn()
                .set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true);
            drop(db);
            if !had_wal && std::fs::metadata(&wal).is_ok_and(|m| m.len() == 0) {
                let _ = std::fs::remove_file(&wal);
            }
        };
        // A damaged file would start an engine that fails mid-way on the first page it touches:
        // check every page's structure before anything runs (or is written).
        let checked = quick_check(&db.conn(), path);
        if let Err(e) = checked {
            keep_wal(db);
            return Err(e);
        }
        let checked = match check(&db) {
            Ok(c) => c,
            Err(e) => {
                keep_wal(db);
                return Err(e);
            }
        };
        // The first write takes the exclusive lock, which EXCLUSIVE mode never gives back.
        db.conn()
            .execute(
                "UPDATE engine_state SET opened_by = ?1",
                params![std::process::id()],
            )
            .map_err(|e| map_open_error(path, e))?;
        Ok((db, checked))
    }

    /// Opens an engine database to read it (the engine must not be running on it).
    pub fn open_read(path: &Path) -> Result<Db> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| map_open_error(path, e))?;
        conn.busy_timeout(Duration::from_millis(200))
            .map_err(|e| map_open_error(path, e))?;
        conn.query_row("SELECT count(*) FROM engine_state", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(|e| map_open_error(path, e))?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
            vm: 0,
            file: None,
        })
    }

    /// Commits one applied event: the oVirt rows of `after`, the state, the log row.
    pub fn commit_step(
        &mut self,
        seq: u64,
        source: &str,
        event: Event,
        before: &State,
        after: &State,
        rows: &Rows,
    ) -> Result<()> {
        self.check_still_there()?;
        let vm = self.vm;
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        write_rows(&tx, vm, rows)?;
        tx.execute(
            "UPDATE engine_state SET state = ?1, seq = ?2 WHERE vm = ?3",
            params![json(after), seq, vm],
        )?;
        tx.execute(
            "INSERT INTO event_log VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![vm, seq, source, json(&event), json(before), json(after)],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Fails when the engine's database file is no longer at its path (unlinked, or renamed
    /// away) or another file took its place: a commit now would go into a file that `resume`
    /// and `audit` never read, and the run would report steps that are lost.
    fn check_still_there(&self) -> Result<()> {
        let Some((path, dev, ino)) = &self.file else {
            return Ok(());
        };
        match identity(path) {
            Ok(id) if id == (*dev, *ino) => Ok(()),
            Ok(_) => Err(Error::Db(format!(
                "{} was replaced by another file while the engine ran: stopping before the next commit",
                path.display()
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::Db(format!(
                "{} was unlinked while the engine ran (removed or renamed): stopping before the next commit",
                path.display()
            ))),
            Err(e) => Err(Error::Db(format!("{}: {e}", path.display()))),
        }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        crate::sync::lock(&self.conn)
    }

    /// The removals this database holds (`vm` 0, 1, ...): one for an engine that runs one.
    pub fn removals(&self) -> Result<u32> {
        let conn = self.conn();
        let schema = |e: rusqlite::Error| match e.to_string() {
            m if m.contains("no such column") => Error::NotEngineDir(format!(
                "the database has no removal numbers ({m}): not one this livemerge made"
            )),
            _ => Error::from(e),
        };
        let (n, min, max): (i64, Option<i64>, Option<i64>) = conn
            .query_row(
                "SELECT count(DISTINCT vm), min(vm), max(vm) FROM engine_state",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(schema)?;
        // The rows are numbered 0..n when the database is made; anything else is not ours.
        if n == 0 || min != Some(0) || max != Some(n - 1) {
            return Err(Error::NotEngineDir(format!(
                "the database's removals are not numbered 0..{n} (found {n} row(s), from {min:?} to {max:?})"
            )));
        }
        for table in ["command_entities", "snapshots", "images", "event_log"] {
            let stray: i64 = conn
                .query_row(
                    &format!("SELECT count(*) FROM {table} WHERE vm < 0 OR vm >= ?1"),
                    [n],
                    |r| r.get(0),
                )
                .map_err(schema)?;
            if stray > 0 {
                return Err(Error::NotEngineDir(format!(
                    "{stray} row(s) of {table} belong to no removal (vm outside 0..{n})"
                )));
            }
        }
        u32::try_from(n).map_err(|_| Error::NotEngineDir(format!("{n} removals")))
    }

    /// The handle of removal `vm` on the same connection (and file).
    pub fn for_vm(&self, vm: u32) -> Db {
        Db {
            conn: Arc::clone(&self.conn),
            vm,
            file: self.file.clone(),
        }
    }

    /// The removal this handle reads and writes.
    pub fn vm(&self) -> u32 {
        self.vm
    }

    /// The engine's persisted settings, ids and state.
    pub fn load(&self) -> Result<Persisted> {
        let row: Option<(String, String, String, u64)> = self
            .conn()
            .query_row(
                "SELECT settings, layout, state, seq FROM engine_state WHERE vm = ?1",
                [self.vm],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let (settings, layout, state, seq) =
            row.ok_or_else(|| Error::NotEngineDir("the database holds no engine state".into()))?;
        Ok(Persisted {
            settings: parse("the settings", &settings)?,
            layout: parse("the layout", &layout)?,
            state: parse("the model state", &state)?,
            seq,
        })
    }

    /// The oVirt tables as they are.
    pub fn read_rows(&self) -> Result<Rows> {
        let mut rows = Rows::default();
        let conn = self.conn();
        let mut q = conn.prepare(
            "SELECT command_id, command_type, parent_command_id, root_command_id, status, executed,
                    callback_enabled, callback_notified, command_params
             FROM command_entities WHERE vm = ?1 ORDER BY rowid",
        )?;
        let it = q.query_map([self.vm], |r| {
            Ok((
                CommandEntity {
                    command_id: r.get(0)?,
                    command_type: r.get(1)?,
                    parent_command_id: r.get(2)?,
                    root_command_id: r.get(3)?,
                    status: r.get(4)?,
                    executed: r.get(5)?,
                    callback_enabled: r.get(6)?,
                    callback_notified: r.get(7)?,
                    command_params: serde_json::Value::Null,
                },
                r.get::<_, String>(8)?,
            ))
        })?;
        for x in it {
            let (mut c, p) = x?;
            c.command_params = parse("command_params", &p)?;
            rows.commands.push(c);
        }
        let snap: Option<(String, String, String, String, String)> = conn
            .query_row(
                "SELECT snapshot_id, vm_id, status, description, disk_ids FROM snapshots WHERE vm = ?1",
                [self.vm],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        if let Some((snapshot_id, vm_id, status, description, disk_ids)) = snap {
            rows.snapshot = Some(SnapshotRow {
                snapshot_id,
                vm_id,
                status,
                description,
                disk_ids: parse("snapshots.disk_ids", &disk_ids)?,
            });
        }
        let mut q = conn.prepare(
            "SELECT image_guid, disk_id, parent_id, image_status, active FROM images WHERE vm = ?1 ORDER BY rowid",
        )?;
        let it = q.query_map([self.vm], |r| {
            Ok(ImageRow {
                image_guid: r.get(0)?,
                disk_id: r.get(1)?,
                parent_id: r.get(2)?,
                image_status: r.get(3)?,
                active: r.get(4)?,
            })
        })?;
        for x in it {
            rows.images.push(x?);
        }
        Ok(rows)
    }

    /// Every applied event, in order.
    pub fn event_log(&self) -> Result<Vec<LogRow>> {
        let conn = self.conn();
        let mut q = conn.prepare(
            "SELECT seq, source, event, before, after FROM event_log WHERE vm = ?1 ORDER BY seq",
        )?;
        let it = q.query_map([self.vm], |r| {
            Ok((
                r.get::<_, u64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for x in it {
            let (seq, source, e, b, a) = x?;
            out.push(LogRow {
                seq,
                source,
                event: parse("event_log.event", &e)?,
                before: parse("event_log.before", &b)?,
                after: parse("event_log.after", &a)?,
            });
        }
        Ok(out)
    }
}

/// The engine's database file in an engine directory.
pub const DB_FILE: &str = "engine.db";

/// Where removal `vm` of `vms` keeps its disks in the engine directory `dir`: `dir` itself when
/// it is the only one, `dir/vm-K` (K from 1) when there are several.
pub fn vm_dir(dir: &Path, vm: u32, vms: u32) -> std::path::PathBuf {
    if vms <= 1 {
        dir.to_path_buf()
    } else {
        dir.join(format!("vm-{}", vm + 1))
    }
}

/// The path of an engine directory's database; fails if `dir` is not an engine directory.
pub fn db_path(dir: &Path) -> Result<std::path::PathBuf> {
    let p = dir.join(DB_FILE);
    let wal = dir.join(format!("{DB_FILE}-wal"));
    if !p.exists() && wal.exists() {
        return Err(Error::NotEngineDir(format!(
            "{}: no {DB_FILE}, but its write-ahead log {DB_FILE}-wal is there: the database was removed (while an engine ran on it?), and its steps cannot be recovered from the log alone: nothing to resume",
            dir.display()
        )));
    }
    if !p.is_file() {
        return Err(Error::NotEngineDir(format!(
            "{} is not an engine directory (no {DB_FILE}; start one with `livemerge run --dir`)",
            dir.display()
        )));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout names its host as directories written before `Host` existed do: the field
    /// `storage`, the words `memory`, `qcow2`, `live`.
    #[test]
    fn a_layout_keeps_its_on_disk_host_names() {
        for (host, word) in [
            (Host::Memory, "memory"),
            (Host::Qcow2, "qcow2"),
            (Host::Live, "live"),
        ] {
            let l = Layout::new(host, 1, 7);
            let v = serde_json::to_value(&l).unwrap();
            assert_eq!(v["storage"], word);
            assert_eq!(serde_json::from_value::<Layout>(v).unwrap(), l);
            assert_eq!(host.to_string(), word);
        }
    }
}
