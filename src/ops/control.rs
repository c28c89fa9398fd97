//! The running bot's control socket (`DATA_DIR/control.sock`) and its one-line protocol.
//!
//! Requests: `backup <absolute path>\n` → `ok <trees> <keys> <bytes>\n`, and `ping\n` →
//! `ok pong\n`; any failure → `error <reason>\n`. One request per connection. The socket is
//! created mode 0600, so only the bot's own user (or root) can talk to it.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use super::{BackupReport, OpsError, backup_store};
use crate::store::Store;

/// File name of the control socket inside the data folder.
pub const CONTROL_SOCKET: &str = "control.sock";

/// Longest request line accepted (a path plus the command word).
const MAX_LINE: u64 = 4096;
/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client waits for a backup (large stores on slow disks take a while).
const BACKUP_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How long a client waits for a ping.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// Removes the socket file when the serving task ends or is aborted.
struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Serves the control socket for `store` at `data_dir/control.sock` until the task is aborted.
///
/// Call it inside the tokio runtime, after `Store::open` succeeded: holding sled's lock proves
/// no other bot uses this folder, so a socket file left there is stale and is replaced.
pub fn serve_control(store: Store, data_dir: &Path) -> std::io::Result<JoinHandle<()>> {
    let path = data_dir.join(CONTROL_SOCKET);
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(&path)?,
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!(
                    "{} exists and is not a socket; move it away",
                    path.display()
                ),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    // Bind under a temporary name, restrict it, then rename: the socket is never reachable
    // with the umask's looser permissions.
    let tmp = data_dir.join(format!("{CONTROL_SOCKET}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let listener = UnixListener::bind(&tmp)?;
    let placed = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let guard = SocketFile(path);
    // One backup at a time; a second request waits for the first.
    let busy = Arc::new(Mutex::new(()));
    Ok(tokio::spawn(async move {
        let _guard = guard;
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(handle(stream, store.clone(), busy.clone()));
                }
                Err(e) => {
                    log::warn!("control socket: accept failed: {e}");
                    // Out of file descriptors and the like: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }))
}

/// Answers one connection.
async fn handle(stream: UnixStream, store: Store, busy: Arc<Mutex<()>>) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(MAX_LINE));
    let answer = match tokio::time::timeout(REQUEST_TIMEOUT, reader.read_line(&mut line)).await {
        Ok(Ok(_)) if line.ends_with('\n') => answer(line.trim_end(), store, busy).await,
        Ok(Ok(_)) => "error request line too long or not terminated".to_string(),
        Ok(Err(e)) => format!("error cannot read the request: {e}"),
        Err(_) => "error no request received in time".to_string(),
    };
    let _ = write.write_all(format!("{answer}\n").as_bytes()).await;
    let _ = write.shutdown().await;
}

/// The answer line (without newline) for one request line.
async fn answer(request: &str, store: Store, busy: Arc<Mutex<()>>) -> String {
    let (command, arg) = request.split_once(' ').unwrap_or((request, ""));
    match command {
        "ping" => "ok pong".to_string(),
        "backup" => {
            let file = PathBuf::from(arg);
            if arg.is_empty() || !file.is_absolute() {
                return "error backup needs an absolute file path".to_string();
            }
            let _one_at_a_time = busy.lock().await;
            log::info!("control socket: backup to {}", file.display());
            let done = tokio::task::spawn_blocking(move || backup_store(&store, &file)).await;
            match done {
                Ok(Ok(r)) => format!("ok {} {} {}", r.trees, r.keys, r.bytes),
                Ok(Err(e)) => format!("error {}", one_line(&e.to_string())),
                Err(e) => format!("error backup task failed: {}", one_line(&e.to_string())),
            }
        }
        _ => "error unknown command (expected: backup <absolute path> | ping)".to_string(),
    }
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// Sends one request line and returns the answer line without its newline.
pub(super) async fn request(data_dir: &Path, line: &str, wait: Duration) -> Result<String, String> {
    let path = data_dir.join(CONTROL_SOCKET);
    let exchange = async {
        let mut stream = UnixStream::connect(&path)
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        stream
            .write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(|e| format!("cannot send: {e}"))?;
        let mut reply = String::new();
        BufReader::new(stream.take(MAX_LINE))
            .read_line(&mut reply)
            .await
            .map_err(|e| format!("cannot read the answer: {e}"))?;
        if !reply.ends_with('\n') {
            return Err("the connection closed without a full answer".to_string());
        }
        Ok(reply.trim_end().to_string())
    };
    tokio::time::timeout(wait, exchange)
        .await
        .map_err(|_| format!("no answer within {} s", wait.as_secs()))?
}

/// Asks the bot running on `data_dir` to back up into `file` (an absolute path).
pub(crate) async fn request_backup(data_dir: &Path, file: &Path) -> Result<BackupReport, OpsError> {
    let shown = file.to_str().ok_or(OpsError::BadPath {
        path: file.to_path_buf(),
        reason: "the path is not valid UTF-8",
    })?;
    if shown.contains(['\n', '\r']) {
        return Err(OpsError::BadPath {
            path: file.to_path_buf(),
            reason: "the path contains a line break",
        });
    }
    let reply = request(data_dir, &format!("backup {shown}"), BACKUP_TIMEOUT)
        .await
        .map_err(|reason| OpsError::Locked {
            dir: data_dir.to_path_buf(),
            reason,
        })?;
    if let Some(reason) = reply.strip_prefix("error ") {
        return Err(OpsError::Control {
            reason: reason.to_string(),
        });
    }
    let numbers: Vec<u64> = reply
        .strip_prefix("ok ")
        .map(|rest| rest.split(' ').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_default();
    match numbers.as_slice() {
        [trees, keys, bytes] => Ok(BackupReport {
            file: file.to_path_buf(),
            trees: *trees,
            keys: *keys,
            bytes: *bytes,
            by_running_bot: true,
        }),
        _ => Err(OpsError::Control {
            reason: format!("unexpected answer {:?}", one_line(&reply)),
        }),
    }
}

/// True when a bot answers on the control socket of `data_dir`.
pub(crate) async fn ping(data_dir: &Path) -> Result<(), String> {
    match request(data_dir, "ping", PING_TIMEOUT).await?.as_str() {
        "ok pong" => Ok(()),
        other => Err(format!("unexpected answer {other:?}")),
    }
}
