//! The backup file format: a consistent snapshot of every sled tree, length-prefixed, checksummed.
//!
//! Layout (integers big-endian):
//! ```text
//! "SMMSTORE" u32:version
//! repeated:  0x01 u32:len name            a tree starts
//!            0x02 u32:len key u32:len val  one entry of the current tree
//! 0x03 u64:id_floor                        sled's id generator must restart above this
//! 0x04 u64:trees u64:keys                  end marker with totals
//! u32:crc32 of every byte before it
//! ```
//! A file is accepted only when every length fits in what is left of the file, the totals match,
//! the checksum matches and nothing follows it: a truncated or damaged file is refused whole.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::OpsError;

const MAGIC: &[u8; 8] = b"SMMSTORE";
const VERSION: u32 = 1;
const TAG_TREE: u8 = 0x01;
const TAG_ENTRY: u8 = 0x02;
const TAG_ID_FLOOR: u8 = 0x03;
const TAG_END: u8 = 0x04;
/// How often a snapshot is retried when the store changed while it was being read.
const SNAPSHOT_ATTEMPTS: u32 = 8;

/// What a written or read backup holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Totals {
    /// Number of trees.
    pub trees: u64,
    /// Number of key/value pairs over all trees.
    pub keys: u64,
    /// Size of the file in bytes.
    pub bytes: u64,
}

/// CRC-32 (IEEE 802.3, as in zlib and sled's own checksum), computed incrementally.
#[derive(Clone)]
pub(crate) struct Crc32(u32);

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

impl Crc32 {
    pub(crate) fn new() -> Self {
        Crc32(0xFFFF_FFFF)
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        let mut c = self.0;
        for &b in bytes {
            c = CRC_TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
        }
        self.0 = c;
    }

    pub(crate) fn finish(&self) -> u32 {
        self.0 ^ 0xFFFF_FFFF
    }
}

/// A writer that checksums everything passing through it.
struct Summed<W> {
    inner: W,
    crc: Crc32,
    written: u64,
}

impl<W: Write> Summed<W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.crc.update(bytes);
        self.written += bytes.len() as u64;
        self.inner.write_all(bytes)
    }

    fn put_len(&mut self, bytes: &[u8]) -> io::Result<()> {
        // Keys and values of this store are small; anything over 4 GiB is a bug upstream.
        let len = u32::try_from(bytes.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "value larger than 4 GiB"))?;
        self.put(&len.to_be_bytes())?;
        self.put(bytes)
    }
}

/// Writes a consistent snapshot of `db` to `file` (through `file.tmp` and a rename).
///
/// sled has no multi-tree snapshot, so the trees are read optimistically and the result is
/// compared with `Db::checksum()`, which holds sled's global write lock over every tree at once
/// (transactions commit under the same lock). A match proves the bytes written are one state the
/// store really was in; a write in between makes them differ and the read is repeated.
pub(crate) fn write_backup(db: &sled::Db, file: &Path) -> Result<Totals, OpsError> {
    let tmp = tmp_path(file);
    let io_err = |source: io::Error| OpsError::Io {
        action: "write the backup",
        path: tmp.clone(),
        source,
    };
    let result = (|| {
        let handle = create_private(&tmp).map_err(io_err)?;
        for _ in 0..SNAPSHOT_ATTEMPTS {
            let mut out = BufWriter::new(&handle);
            let (totals, seen) = write_snapshot(db, &mut out).map_err(|e| match e {
                Snapshot::Io(source) => io_err(source),
                Snapshot::Db(e) => OpsError::Database(e),
            })?;
            out.into_inner().map_err(|e| io_err(e.into_error()))?;
            if db.checksum().map_err(OpsError::Database)? == seen {
                handle.sync_all().map_err(io_err)?;
                return Ok(totals);
            }
            // The store changed under the read: start the file over.
            handle.set_len(0).map_err(io_err)?;
            (&handle).seek(SeekFrom::Start(0)).map_err(io_err)?;
        }
        Err(OpsError::Busy {
            attempts: SNAPSHOT_ATTEMPTS,
        })
    })();
    match result {
        Ok(totals) => {
            std::fs::rename(&tmp, file).map_err(|source| OpsError::Io {
                action: "move the finished backup into place",
                path: file.to_path_buf(),
                source,
            })?;
            sync_parent(file);
            Ok(totals)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Why one snapshot pass failed.
enum Snapshot {
    Io(io::Error),
    Db(sled::Error),
}

impl From<io::Error> for Snapshot {
    fn from(e: io::Error) -> Self {
        Snapshot::Io(e)
    }
}

impl From<sled::Error> for Snapshot {
    fn from(e: sled::Error) -> Self {
        Snapshot::Db(e)
    }
}

/// Writes one pass over every tree; returns the totals and sled-style checksum of what was read.
fn write_snapshot(db: &sled::Db, out: &mut impl Write) -> Result<(Totals, u32), Snapshot> {
    let mut w = Summed {
        inner: out,
        crc: Crc32::new(),
        written: 0,
    };
    // Same order and bytes as `Db::checksum`: tree names sorted, then each key and value.
    let mut seen = Crc32::new();
    let names: BTreeSet<Vec<u8>> = db.tree_names().iter().map(|n| n.to_vec()).collect();
    let mut totals = Totals::default();
    w.put(MAGIC)?;
    w.put(&VERSION.to_be_bytes())?;
    for name in &names {
        let tree = db.open_tree(name)?;
        seen.update(name);
        w.put(&[TAG_TREE])?;
        w.put_len(name)?;
        totals.trees += 1;
        for kv in tree.iter() {
            let (k, v) = kv?;
            seen.update(&k);
            seen.update(&v);
            w.put(&[TAG_ENTRY])?;
            w.put_len(&k)?;
            w.put_len(&v)?;
            totals.keys += 1;
        }
    }
    // Ids handed out so far are below this one, so the restored store must not reuse them.
    let id_floor = db.generate_id()?;
    w.put(&[TAG_ID_FLOOR])?;
    w.put(&id_floor.to_be_bytes())?;
    w.put(&[TAG_END])?;
    w.put(&totals.trees.to_be_bytes())?;
    w.put(&totals.keys.to_be_bytes())?;
    let crc = w.crc.finish();
    w.put(&crc.to_be_bytes())?;
    totals.bytes = w.written;
    w.inner.flush()?;
    Ok((totals, seen.finish()))
}

/// Where something read from a backup goes.
pub(crate) trait Sink {
    /// A tree starts.
    fn tree(&mut self, name: &[u8]) -> Result<(), OpsError>;
    /// One entry of the current tree.
    fn entry(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), OpsError>;
    /// The id generator floor recorded at backup time.
    fn id_floor(&mut self, floor: u64) -> Result<(), OpsError>;
}

/// A sink that keeps nothing: used to verify a whole file before touching the data folder.
pub(crate) struct Discard;

impl Sink for Discard {
    fn tree(&mut self, _: &[u8]) -> Result<(), OpsError> {
        Ok(())
    }
    fn entry(&mut self, _: Vec<u8>, _: Vec<u8>) -> Result<(), OpsError> {
        Ok(())
    }
    fn id_floor(&mut self, _: u64) -> Result<(), OpsError> {
        Ok(())
    }
}

/// A reader that checksums and counts what it hands out, and knows how much is left.
struct Checked<R> {
    inner: R,
    crc: Crc32,
    left: u64,
}

impl<R: Read> Checked<R> {
    fn take(&mut self, n: u64, what: &'static str) -> Result<Vec<u8>, OpsError> {
        // A length beyond the end of the file means truncation or damage; never allocate for it.
        if n > self.left {
            return Err(OpsError::corrupt(format!("the file ends inside {what}")));
        }
        let mut buf = vec![0u8; n as usize];
        self.inner
            .read_exact(&mut buf)
            .map_err(|e| OpsError::corrupt(format!("cannot read {what}: {e}")))?;
        self.left -= n;
        self.crc.update(&buf);
        Ok(buf)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, OpsError> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, OpsError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, OpsError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&b);
        Ok(u64::from_be_bytes(a))
    }

    fn bytes(&mut self, what: &'static str) -> Result<Vec<u8>, OpsError> {
        let n = self.u32(what)?;
        self.take(u64::from(n), what)
    }
}

/// Reads and checks a whole backup, feeding its contents to `sink` as they come.
pub(crate) fn read_backup(file: &Path, sink: &mut impl Sink) -> Result<Totals, OpsError> {
    let io_err = |source| OpsError::Io {
        action: "read the backup",
        path: file.to_path_buf(),
        source,
    };
    let handle = File::open(file).map_err(io_err)?;
    let size = handle.metadata().map_err(io_err)?.len();
    let mut r = Checked {
        inner: BufReader::new(handle),
        crc: Crc32::new(),
        left: size,
    };
    if r.take(MAGIC.len() as u64, "the header").ok().as_deref() != Some(MAGIC) {
        return Err(OpsError::NotABackup);
    }
    let version = r.u32("the header")?;
    if version != VERSION {
        return Err(OpsError::UnsupportedVersion { version });
    }
    let mut totals = Totals::default();
    let mut in_tree = false;
    let mut id_floor_seen = false;
    loop {
        match r.u8("a record tag")? {
            TAG_TREE => {
                let name = r.bytes("a tree name")?;
                sink.tree(&name)?;
                totals.trees += 1;
                in_tree = true;
            }
            TAG_ENTRY if in_tree => {
                let key = r.bytes("a key")?;
                let value = r.bytes("a value")?;
                sink.entry(key, value)?;
                totals.keys += 1;
            }
            TAG_ID_FLOOR => {
                let floor = r.u64("the id floor")?;
                sink.id_floor(floor)?;
                id_floor_seen = true;
            }
            TAG_END => {
                let trees = r.u64("the end marker")?;
                let keys = r.u64("the end marker")?;
                let computed = r.crc.finish();
                let stored = r.u32("the checksum")?;
                if stored != computed {
                    return Err(OpsError::corrupt("the checksum does not match"));
                }
                if trees != totals.trees || keys != totals.keys || !id_floor_seen {
                    return Err(OpsError::corrupt("the totals do not match the contents"));
                }
                if r.left != 0 {
                    return Err(OpsError::corrupt("unexpected bytes after the end"));
                }
                totals.bytes = size;
                return Ok(totals);
            }
            other => {
                return Err(OpsError::corrupt(format!(
                    "unknown record 0x{other:02x} (damaged file)"
                )));
            }
        }
    }
}

/// `file` with `.tmp` appended to its name.
pub(crate) fn tmp_path(file: &Path) -> std::path::PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".tmp");
    name.into()
}

/// Creates (or empties) a file readable only by its owner: backups hold customer data.
fn create_private(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    Ok(file)
}

/// Makes a rename durable; failure only weakens crash safety, so it is not an error.
fn sync_parent(file: &Path) {
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(parent) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_standard_check_value() {
        let mut c = Crc32::new();
        c.update(b"1234");
        c.update(b"56789");
        assert_eq!(c.finish(), 0xCBF4_3926);
    }
}
