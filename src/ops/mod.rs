//! Operations: backup and restore of the store, the control socket, `check`, and webhook mode.
//!
//! `backup` works whether or not the bot runs: it opens the database itself, and when the
//! running bot holds sled's lock it asks the bot over `DATA_DIR/control.sock` instead.

mod archive;
mod check;
mod control;
mod webhook;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::store::{Store, StoreError};

pub use check::{CheckLine, check, check_exit_code, format_check, run_check};
pub use control::{CONTROL_SOCKET, serve_control};
pub use webhook::webhook_listener;

/// What a finished backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// The backup file written.
    pub file: PathBuf,
    /// Number of sled trees copied.
    pub trees: u64,
    /// Number of key/value pairs copied.
    pub keys: u64,
    /// Size of the backup file in bytes.
    pub bytes: u64,
    /// True when the running bot made the copy (the database was in use).
    pub by_running_bot: bool,
}

impl fmt::Display for BackupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "backup written to {}: {} trees, {} keys, {} bytes",
            self.file.display(),
            self.trees,
            self.keys,
            self.bytes
        )?;
        if self.by_running_bot {
            f.write_str(" (made by the running bot)")?;
        }
        Ok(())
    }
}

/// What a finished restore put back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    /// The data folder restored into.
    pub data_dir: PathBuf,
    /// Number of sled trees restored.
    pub trees: u64,
    /// Number of key/value pairs restored.
    pub keys: u64,
}

impl fmt::Display for RestoreReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "restored {} trees, {} keys into {}",
            self.trees,
            self.keys,
            self.data_dir.display()
        )
    }
}

/// Why an operations command failed; every message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// A file or folder could not be read or written.
    #[error("cannot {action} ({}): {source}", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder concerned.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The store could not be opened.
    #[error("cannot open the database: {0}")]
    Store(#[source] StoreError),
    /// sled failed while reading or writing.
    #[error("database error: {0}; the disk may be full or failing")]
    Database(#[source] sled::Error),
    /// There is no database where one was expected.
    #[error(
        "no database in {}: check DATA_DIR (the bot creates it on its first run)",
        .dir.display()
    )]
    NoDatabase {
        /// The data folder looked at.
        dir: PathBuf,
    },
    /// Restore was pointed at a folder that already holds something.
    #[error(
        "{} is not empty; restore only into an empty or new folder: stop the bot, move the \
         folder aside (keep it until the restored bot works), then run restore again",
        .dir.display()
    )]
    NotEmpty {
        /// The data folder that is in the way.
        dir: PathBuf,
    },
    /// The file does not start like a backup of this program.
    #[error("this file is not a smm-storefront backup (wrong header); nothing was restored")]
    NotABackup,
    /// The file was written by a format this build does not read.
    #[error(
        "backup format version {version} is not supported by this build; restore it with the \
         smm-storefront version that wrote it or a newer one"
    )]
    UnsupportedVersion {
        /// The version found in the file.
        version: u32,
    },
    /// The file is truncated or damaged.
    #[error(
        "the backup is damaged or incomplete ({reason}); nothing was restored, use another backup"
    )]
    Corrupt {
        /// What did not check out.
        reason: String,
    },
    /// The store kept changing while being copied.
    #[error("the database kept changing during {attempts} copy attempts; run the backup again")]
    Busy {
        /// How many snapshots were tried.
        attempts: u32,
    },
    /// The database is locked and nothing answers on the control socket.
    #[error(
        "the database in {} is in use by another process and no bot answers on {} ({reason}); \
         if a bot runs, make sure it is this version, otherwise stop whatever holds the folder",
        .dir.display(), CONTROL_SOCKET
    )]
    Locked {
        /// The data folder.
        dir: PathBuf,
        /// Why the socket did not help.
        reason: String,
    },
    /// The running bot answered the control request with an error.
    #[error("the running bot could not do it: {reason}")]
    Control {
        /// The bot's reason, or what was wrong with its answer.
        reason: String,
    },
    /// A path that cannot be used.
    #[error("cannot use {}: {reason}", .path.display())]
    BadPath {
        /// The path given.
        path: PathBuf,
        /// Why not.
        reason: &'static str,
    },
    /// Webhook mode asked for without a usable `WEBHOOK_URL`.
    #[error("WEBHOOK_URL: {reason}")]
    WebhookUrl {
        /// What is wrong with it.
        reason: String,
    },
    /// The webhook port is taken or not allowed.
    #[error(
        "cannot listen for webhooks on {addr}: {source}; choose another PORT or stop what uses it"
    )]
    WebhookBind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// Telegram refused or did not answer `setWebhook`.
    #[error("Telegram did not accept the webhook: {reason}")]
    WebhookSetup {
        /// Telegram's reason (the token never appears).
        reason: String,
    },
    /// A background task failed to run to its end.
    #[error("internal task failed: {0}")]
    Task(String),
}

impl OpsError {
    fn corrupt(reason: impl Into<String>) -> Self {
        OpsError::Corrupt {
            reason: reason.into(),
        }
    }
}

/// True when sled refused to open because another handle or process holds the folder's lock.
pub(crate) fn is_locked(e: &StoreError) -> bool {
    match e {
        StoreError::Sled(sled::Error::Io(io)) => {
            io.kind() == io::ErrorKind::WouldBlock
                || io.to_string().contains("could not acquire lock")
        }
        _ => false,
    }
}

/// True when `dir` holds a sled database (so opening it will not create a fresh one).
fn has_database(dir: &Path) -> bool {
    dir.join("db").is_file() || dir.join("conf").is_file()
}

/// Writes a consistent copy of every tree of an open store to `file` (via `file.tmp`).
///
/// Blocking: call it from `spawn_blocking` in async code.
pub fn backup_store(store: &Store, file: &Path) -> Result<BackupReport, OpsError> {
    let totals = archive::write_backup(store.db(), file)?;
    Ok(BackupReport {
        file: file.to_path_buf(),
        trees: totals.trees,
        keys: totals.keys,
        bytes: totals.bytes,
        by_running_bot: false,
    })
}

/// Backs up the store in `data_dir` to `file`, asking the running bot when it holds the lock.
pub async fn backup(data_dir: &Path, file: &Path) -> Result<BackupReport, OpsError> {
    let file = absolute(file)?;
    if !has_database(data_dir) {
        return Err(OpsError::NoDatabase {
            dir: data_dir.to_path_buf(),
        });
    }
    let dir = data_dir.to_path_buf();
    let target = file.clone();
    let direct = blocking(move || match Store::open(&dir) {
        Ok(store) => backup_store(&store, &target).map(Some),
        Err(e) if is_locked(&e) => Ok(None),
        Err(e) => Err(OpsError::Store(e)),
    })
    .await?;
    match direct {
        Some(report) => Ok(report),
        None => control::request_backup(data_dir, &file).await,
    }
}

/// Restores `file` into `data_dir`, which must be empty or absent. The file is checked whole
/// before anything is written; if the import fails midway, what it wrote is removed again.
pub async fn restore(data_dir: &Path, file: &Path) -> Result<RestoreReport, OpsError> {
    let file = file.to_path_buf();
    let dir = data_dir.to_path_buf();
    blocking(move || restore_blocking(&dir, &file)).await
}

fn restore_blocking(dir: &Path, file: &Path) -> Result<RestoreReport, OpsError> {
    archive::read_backup(file, &mut archive::Discard)?;
    let created = match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(OpsError::NotEmpty {
                    dir: dir.to_path_buf(),
                });
            }
            false
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => true,
        Err(source) => {
            return Err(OpsError::Io {
                action: "look into the data folder",
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let result = import(dir, file);
    if result.is_err() {
        // The folder was empty or absent before: leave it that way rather than half restored.
        if created {
            let _ = std::fs::remove_dir_all(dir);
        } else if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                let _ = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
            }
        }
    }
    result
}

/// Copies a checked backup into a fresh store at `dir`.
fn import(dir: &Path, file: &Path) -> Result<RestoreReport, OpsError> {
    let store = Store::open(dir).map_err(OpsError::Store)?;
    let mut sink = Importer {
        db: store.db().clone(),
        tree: None,
        id_floor: 0,
    };
    let totals = archive::read_backup(file, &mut sink)?;
    // Ids the store hands out must stay above every id already used in the restored data.
    let db = store.db();
    while db.generate_id().map_err(OpsError::Database)? < sink.id_floor {}
    db.flush().map_err(OpsError::Database)?;
    Ok(RestoreReport {
        data_dir: dir.to_path_buf(),
        trees: totals.trees,
        keys: totals.keys,
    })
}

/// Writes what a backup holds into a database.
struct Importer {
    db: sled::Db,
    tree: Option<sled::Tree>,
    id_floor: u64,
}

impl archive::Sink for Importer {
    fn tree(&mut self, name: &[u8]) -> Result<(), OpsError> {
        self.tree = Some(self.db.open_tree(name).map_err(OpsError::Database)?);
        Ok(())
    }

    fn entry(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), OpsError> {
        let tree = self
            .tree
            .as_ref()
            .ok_or_else(|| OpsError::corrupt("an entry outside any tree"))?;
        tree.insert(key, value).map_err(OpsError::Database)?;
        Ok(())
    }

    fn id_floor(&mut self, floor: u64) -> Result<(), OpsError> {
        self.id_floor = floor;
        Ok(())
    }
}

/// `path` made absolute against the current directory (the bot may run elsewhere).
fn absolute(path: &Path) -> Result<PathBuf, OpsError> {
    std::path::absolute(path).map_err(|source| OpsError::Io {
        action: "resolve the backup path",
        path: path.to_path_buf(),
        source,
    })
}

/// Runs blocking file and database work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, OpsError> + Send + 'static,
) -> Result<T, OpsError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| OpsError::Task(e.to_string()))?
}

/// `smm-storefront backup FILE`: runs [`backup`] and prints the outcome; exit code 0 on success.
pub async fn run_backup(data_dir: &Path, file: &Path) -> ExitCode {
    match backup(data_dir, file).await {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("backup failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `smm-storefront restore FILE`: runs [`restore`] and prints the outcome; exit code 0 on success.
pub async fn run_restore(data_dir: &Path, file: &Path) -> ExitCode {
    match restore(data_dir, file).await {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("restore failed: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests;
