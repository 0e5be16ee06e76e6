//! The node's data directory: its identity, admission rule and client token, and the lock that
//! keeps a second process off the same directory.
//!
//! Layout:
//! - `node.key`: the PKCS#8 private key, PEM, mode 0600;
//! - `node.crt`: the self-signed certificate, PEM;
//! - `meta.json`: `{format_version, node_id, admission, client_token}`, written last, so its presence
//!   marks a finished `init`; `admission` is `{"cluster_key": "<hex>"}` or
//!   `{"pinned": ["<node id hex>", ...]}`;
//! - `LOCK`: locked exclusively while a [`DataDir`] value lives;
//! - `store.redb` and `store.wal`: the node's storage and its write-ahead file (see [`crate::store`]).
//!
//! `init` never overwrites: a directory holding any of the node files is refused. A crash during
//! `init` can leave a key without `meta.json`; `open` reports that as [`DataDirError::Missing`] and
//! `init` as [`DataDirError::AlreadyInitialized`], and the operator removes the directory by hand.

use crate::hex;
use crate::identity::{Admission, ClusterKey, Identity, IdentityError};
use pangea_core::id::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The data directory format this build writes and reads. Format 2 holds the composed node's
/// storage (the log replicates the node's metadata, with its own client sessions and chunked
/// snapshots); format 1's store cannot be read by it.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest format this build reads.
pub const FORMAT_VERSION_MIN: u32 = 2;

const KEY_FILE: &str = "node.key";
const CERTIFICATE_FILE: &str = "node.crt";
const META_FILE: &str = "meta.json";
const LOCK_FILE: &str = "LOCK";
/// The redb file of the node's storage, inside the data directory.
pub const STORE_FILE: &str = "store.redb";

/// Why a data directory could not be created or opened.
#[derive(Debug, Error)]
pub enum DataDirError {
    /// `init` found a node already there; nothing was changed.
    #[error("{path} already holds a node")]
    AlreadyInitialized {
        /// The directory.
        path: PathBuf,
    },
    /// The directory or its `meta.json` does not exist: run `init` first.
    #[error("{path} holds no initialized node (no {what})")]
    Missing {
        /// The directory.
        path: PathBuf,
        /// What is missing.
        what: &'static str,
    },
    /// The directory was written by a newer build.
    #[error("the data directory has format {found}; this build supports up to {supported}")]
    NewerVersion {
        /// The format found.
        found: u32,
        /// The newest format this build reads.
        supported: u32,
    },
    /// The directory was written by an older build whose storage this one cannot read.
    #[error(
        "the data directory has format {found}, from an older build; this build reads formats {oldest} to {supported}: \
         make a new data directory with `pangea init` and join the cluster again"
    )]
    OlderVersion {
        /// The format found.
        found: u32,
        /// The oldest format this build reads.
        oldest: u32,
        /// The newest format this build reads.
        supported: u32,
    },
    /// A file is unreadable or inconsistent with the others.
    #[error("the data directory is corrupt: {what}")]
    Corrupt {
        /// What is wrong.
        what: String,
    },
    /// Another process has the directory open.
    #[error("{path} is in use by another process")]
    Locked {
        /// The directory.
        path: PathBuf,
    },
    /// Pinned peers were given to a node that admits by cluster key.
    #[error("the node admits by cluster key, not by pinned ids")]
    NotPinned,
    /// The identity could not be generated.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The OS refused a file operation or randomness (the OS's error is the source, so that a
    /// report shows it once).
    #[error("cannot {action} {path}")]
    Io {
        /// What was being done, as a verb phrase ("create the directory").
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS's error.
        source: io::Error,
    },
}

/// Choices for [`DataDir::init`]; the default generates a new cluster key and client token.
#[derive(Clone, Debug, Default)]
pub struct InitOptions {
    /// The admission rule; `None` generates a new cluster key (pass one cluster key to every node
    /// of a cluster instead).
    pub admission: Option<Admission>,
    /// The token clients present; `None` generates one.
    pub client_token: Option<[u8; 32]>,
}

/// An opened, locked data directory.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    identity: Identity,
    admission: Admission,
    client_token: [u8; 32],
    // Held for its lock: the OS releases the lock when the file is closed.
    _lock: File,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    format_version: u32,
    node_id: String,
    admission: MetaAdmission,
    client_token: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum MetaAdmission {
    ClusterKey(String),
    Pinned(Vec<String>),
}

#[derive(Deserialize)]
struct MetaVersion {
    format_version: u32,
}

/// What `meta.json` says: the node's id, its admission rule and the client token. Read from outside
/// bytes (a file anyone with access to the directory may have edited), so [`MetaFile::parse`]
/// answers anything with a value or a typed error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaFile {
    /// The node's id (checked against its certificate by [`DataDir::open`]).
    pub node_id: NodeId,
    /// Which peers it admits.
    pub admission: Admission,
    /// The token clients must present.
    pub client_token: [u8; 32],
}

impl MetaFile {
    /// Reads `meta.json`'s text, refusing newer and older formats before anything else.
    ///
    /// # Errors
    /// [`DataDirError::NewerVersion`], [`DataDirError::OlderVersion`], or [`DataDirError::Corrupt`]
    /// for text that is not such a file.
    pub fn parse(text: &[u8]) -> Result<MetaFile, DataDirError> {
        let version: MetaVersion = serde_json::from_slice(text)
            .map_err(|error| DataDirError::Corrupt { what: format!("meta.json: {error}") })?;
        if version.format_version > FORMAT_VERSION {
            return Err(DataDirError::NewerVersion { found: version.format_version, supported: FORMAT_VERSION });
        }
        if version.format_version < FORMAT_VERSION_MIN {
            return Err(DataDirError::OlderVersion {
                found: version.format_version,
                oldest: FORMAT_VERSION_MIN,
                supported: FORMAT_VERSION,
            });
        }
        let meta: Meta = serde_json::from_slice(text)
            .map_err(|error| DataDirError::Corrupt { what: format!("meta.json: {error}") })?;
        let corrupt = |what: &str| DataDirError::Corrupt { what: what.to_owned() };
        let node_id = hex::decode_32(&meta.node_id).map(NodeId).ok_or_else(|| corrupt("meta.json: node_id"))?;
        let client_token = hex::decode_32(&meta.client_token).ok_or_else(|| corrupt("meta.json: client_token"))?;
        let admission = match &meta.admission {
            MetaAdmission::ClusterKey(key) => Admission::ClusterKey(ClusterKey(
                hex::decode_32(key).ok_or_else(|| corrupt("meta.json: admission cluster key"))?,
            )),
            MetaAdmission::Pinned(ids) => Admission::Pinned(
                ids.iter()
                    .map(|id| hex::decode_32(id).map(NodeId))
                    .collect::<Option<BTreeSet<_>>>()
                    .ok_or_else(|| corrupt("meta.json: admission pinned id"))?,
            ),
        };
        Ok(MetaFile { node_id, admission, client_token })
    }

    /// The file's text, in this build's format.
    ///
    /// # Errors
    /// Only if the JSON encoder fails.
    pub fn to_json(&self) -> Result<Vec<u8>, DataDirError> {
        let meta = Meta {
            format_version: FORMAT_VERSION,
            node_id: hex::encode(&self.node_id.0),
            admission: match &self.admission {
                Admission::ClusterKey(key) => MetaAdmission::ClusterKey(hex::encode(&key.0)),
                Admission::Pinned(ids) => MetaAdmission::Pinned(ids.iter().map(|id| hex::encode(&id.0)).collect()),
            },
            client_token: hex::encode(&self.client_token),
        };
        serde_json::to_vec_pretty(&meta)
            .map_err(|error| DataDirError::Corrupt { what: format!("cannot encode meta.json: {error}") })
    }
}

impl DataDir {
    /// Creates the directory at `path` if absent and a new node in it; the returned value holds the
    /// lock. Refuses with [`DataDirError::AlreadyInitialized`] when a node is already there.
    pub fn init(path: impl AsRef<Path>, options: InitOptions) -> Result<DataDir, DataDirError> {
        let path = path.as_ref().to_path_buf();
        fs::create_dir_all(&path).map_err(|source| DataDirError::Io {
            action: "create the directory",
            path: path.clone(),
            source,
        })?;
        let lock = lock(&path)?;
        for name in [META_FILE, KEY_FILE, CERTIFICATE_FILE] {
            if path.join(name).exists() {
                return Err(DataDirError::AlreadyInitialized { path });
            }
        }
        let admission = match options.admission {
            Some(admission) => admission,
            None => Admission::ClusterKey(ClusterKey(random_32(&path)?)),
        };
        let client_token = match options.client_token {
            Some(token) => token,
            None => random_32(&path)?,
        };
        let identity = Identity::generate(&admission)?;
        write_new(&path.join(KEY_FILE), identity.private_key_pem().as_bytes(), true)?;
        write_new(&path.join(CERTIFICATE_FILE), identity.certificate_pem().as_bytes(), false)?;
        let data_dir = DataDir { path, identity, admission, client_token, _lock: lock };
        write_new(&data_dir.path.join(META_FILE), &data_dir.meta_json()?, false)?;
        sync_dir(&data_dir.path)?;
        Ok(data_dir)
    }

    /// Replaces the pinned peer list of a node that admits by pinned ids (ids are known only after
    /// each node's `init`, so the list is filled in afterwards). `meta.json` is replaced atomically.
    pub fn set_pinned_peers(&mut self, ids: BTreeSet<NodeId>) -> Result<(), DataDirError> {
        if !matches!(self.admission, Admission::Pinned(_)) {
            return Err(DataDirError::NotPinned);
        }
        let previous = std::mem::replace(&mut self.admission, Admission::Pinned(ids));
        let written = self.meta_json().and_then(|text| {
            let temporary = self.path.join(format!("{META_FILE}.new"));
            // A leftover from an interrupted earlier call is ours to replace.
            let _ = fs::remove_file(&temporary);
            write_new(&temporary, &text, false)?;
            fs::rename(&temporary, self.path.join(META_FILE)).map_err(|source| DataDirError::Io {
                action: "rename into place",
                path: temporary.clone(),
                source,
            })?;
            sync_dir(&self.path)
        });
        if written.is_err() {
            self.admission = previous;
        }
        written
    }

    fn meta_json(&self) -> Result<Vec<u8>, DataDirError> {
        MetaFile {
            node_id: self.identity.node_id(),
            admission: self.admission.clone(),
            client_token: self.client_token,
        }
        .to_json()
    }

    /// Opens and locks the node in `path`, validating every file.
    pub fn open(path: impl AsRef<Path>) -> Result<DataDir, DataDirError> {
        let path = path.as_ref().to_path_buf();
        if !path.is_dir() {
            return Err(DataDirError::Missing { path, what: "directory" });
        }
        if !path.join(META_FILE).exists() {
            return Err(DataDirError::Missing { path, what: META_FILE });
        }
        let lock = lock(&path)?;
        let meta_text = read(&path.join(META_FILE))?;
        let MetaFile { node_id, admission, client_token } = MetaFile::parse(&meta_text)?;
        let corrupt = |what: &str| DataDirError::Corrupt { what: what.to_owned() };
        let key_text = text(&path.join(KEY_FILE), KEY_FILE)?;
        let certificate_text = text(&path.join(CERTIFICATE_FILE), CERTIFICATE_FILE)?;
        let identity = Identity::from_pem(&certificate_text, &key_text)
            .map_err(|error| DataDirError::Corrupt { what: format!("identity: {error}") })?;
        if identity.node_id() != node_id {
            return Err(corrupt("meta.json's node_id is not the certificate's"));
        }
        if matches!(admission, Admission::ClusterKey(_)) && !identity.is_admitted_by(&admission) {
            return Err(corrupt("the certificate carries no proof of the cluster key"));
        }
        Ok(DataDir { path, identity, admission, client_token, _lock: lock })
    }

    /// The directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The node's key pair and certificate.
    #[must_use]
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The node's id.
    #[must_use]
    pub fn node_id(&self) -> NodeId {
        self.identity.node_id()
    }

    /// Which peers the node admits.
    #[must_use]
    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// The token clients must present.
    #[must_use]
    pub fn client_token(&self) -> &[u8; 32] {
        &self.client_token
    }

    /// Where the node's redb storage lives.
    #[must_use]
    pub fn store_path(&self) -> PathBuf {
        self.path.join(STORE_FILE)
    }
}

fn lock(path: &Path) -> Result<File, DataDirError> {
    let lock_path = path.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| DataDirError::Io { action: "open the lock file", path: lock_path.clone(), source })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(DataDirError::Locked { path: path.to_path_buf() }),
        Err(TryLockError::Error(source)) => Err(DataDirError::Io { action: "lock", path: lock_path, source }),
    }
}

fn random_32(path: &Path) -> Result<[u8; 32], DataDirError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|error| DataDirError::Io {
        action: "draw random bytes for",
        path: path.to_path_buf(),
        source: error.into(),
    })?;
    Ok(bytes)
}

/// Writes a file that must not exist yet, and syncs it; `secret` makes it owner-only.
fn write_new(path: &Path, bytes: &[u8], secret: bool) -> Result<(), DataDirError> {
    let io_error = |source| DataDirError::Io { action: "write", path: path.to_path_buf(), source };
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path).map_err(|source| match source.kind() {
        io::ErrorKind::AlreadyExists => {
            DataDirError::AlreadyInitialized { path: path.parent().unwrap_or(path).to_path_buf() }
        }
        _ => io_error(source),
    })?;
    file.write_all(bytes).map_err(io_error)?;
    file.sync_all().map_err(io_error)
}

fn sync_dir(path: &Path) -> Result<(), DataDirError> {
    #[cfg(unix)]
    File::open(path).and_then(|dir| dir.sync_all()).map_err(|source| DataDirError::Io {
        action: "sync",
        path: path.to_path_buf(),
        source,
    })?;
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>, DataDirError> {
    fs::read(path).map_err(|source| DataDirError::Io { action: "read", path: path.to_path_buf(), source })
}

fn text(path: &Path, what: &str) -> Result<String, DataDirError> {
    String::from_utf8(read(path)?).map_err(|_| DataDirError::Corrupt { what: format!("{what} is not text") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_then_open_gives_the_same_node() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node");
        let created = DataDir::init(&path, InitOptions::default()).unwrap();
        let (id, admission, token) = (created.node_id(), created.admission().clone(), *created.client_token());
        drop(created);
        let opened = DataDir::open(&path).unwrap();
        assert_eq!(opened.node_id(), id);
        assert_eq!(opened.admission(), &admission);
        assert_eq!(opened.client_token(), &token);
        assert!(opened.identity().is_admitted_by(&admission));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(path.join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn shared_cluster_key_and_given_token_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let admission = Admission::ClusterKey(ClusterKey([9; 32]));
        let options = InitOptions { admission: Some(admission.clone()), client_token: Some([3; 32]) };
        let first = DataDir::init(dir.path().join("a"), options.clone()).unwrap();
        let second = DataDir::init(dir.path().join("b"), options).unwrap();
        assert_ne!(first.node_id(), second.node_id());
        assert_eq!(first.admission(), &admission);
        assert_eq!(second.client_token(), &[3; 32]);
        assert!(second.identity().is_admitted_by(first.admission()));
    }

    #[test]
    fn init_refuses_an_existing_node_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let id = DataDir::init(dir.path(), InitOptions::default()).unwrap().node_id();
        let key_before = fs::read(dir.path().join(KEY_FILE)).unwrap();
        assert!(matches!(
            DataDir::init(dir.path(), InitOptions::default()),
            Err(DataDirError::AlreadyInitialized { .. })
        ));
        assert_eq!(fs::read(dir.path().join(KEY_FILE)).unwrap(), key_before);
        assert_eq!(DataDir::open(dir.path()).unwrap().node_id(), id);
    }

    #[test]
    fn second_open_is_locked_out_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDir::init(dir.path(), InitOptions::default()).unwrap();
        assert!(matches!(DataDir::open(dir.path()), Err(DataDirError::Locked { .. })));
        drop(first);
        assert!(DataDir::open(dir.path()).is_ok());
    }

    #[test]
    fn missing_directory_or_meta_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(DataDir::open(dir.path().join("absent")), Err(DataDirError::Missing { .. })));
        assert!(matches!(DataDir::open(dir.path()), Err(DataDirError::Missing { .. })));
    }

    fn rewrite_meta(path: &Path, change: impl FnOnce(&mut serde_json::Value)) {
        let mut meta: serde_json::Value = serde_json::from_slice(&fs::read(path.join(META_FILE)).unwrap()).unwrap();
        change(&mut meta);
        fs::write(path.join(META_FILE), serde_json::to_vec(&meta).unwrap()).unwrap();
    }

    #[test]
    fn newer_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(DataDir::init(dir.path(), InitOptions::default()).unwrap());
        rewrite_meta(dir.path(), |meta| {
            meta["format_version"] = serde_json::json!(FORMAT_VERSION + 1);
            meta["something_new"] = serde_json::json!(true);
            meta["admission"] = serde_json::json!({"future_rule": 1});
        });
        assert!(matches!(
            DataDir::open(dir.path()),
            Err(DataDirError::NewerVersion { found, supported: FORMAT_VERSION }) if found == FORMAT_VERSION + 1
        ));
    }

    #[test]
    fn corrupt_files_are_reported() {
        let corruptions: [(&str, &[u8]); 4] = [
            (META_FILE, b"{not json"),
            (KEY_FILE, b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
            (CERTIFICATE_FILE, b"garbage"),
            (CERTIFICATE_FILE, &[0xff, 0xfe]),
        ];
        for (file, bytes) in corruptions {
            let dir = tempfile::tempdir().unwrap();
            drop(DataDir::init(dir.path(), InitOptions::default()).unwrap());
            fs::write(dir.path().join(file), bytes).unwrap();
            assert!(matches!(DataDir::open(dir.path()), Err(DataDirError::Corrupt { .. })), "{file}");
        }
        let dir = tempfile::tempdir().unwrap();
        drop(DataDir::init(dir.path(), InitOptions::default()).unwrap());
        rewrite_meta(dir.path(), |meta| meta["node_id"] = serde_json::json!(hex::encode(&[0; 32])));
        assert!(matches!(DataDir::open(dir.path()), Err(DataDirError::Corrupt { .. })));
    }

    #[test]
    fn pinned_admission_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let ids = BTreeSet::from([NodeId([1; 32]), NodeId([2; 32])]);
        let options = InitOptions { admission: Some(Admission::Pinned(ids.clone())), client_token: None };
        let mut data_dir = DataDir::init(dir.path(), options).unwrap();
        assert_eq!(data_dir.admission(), &Admission::Pinned(ids));
        let later = BTreeSet::from([NodeId([3; 32])]);
        data_dir.set_pinned_peers(later.clone()).unwrap();
        let id = data_dir.node_id();
        drop(data_dir);
        let reopened = DataDir::open(dir.path()).unwrap();
        assert_eq!((reopened.node_id(), reopened.admission()), (id, &Admission::Pinned(later)));
    }

    #[test]
    fn pinned_peers_cannot_replace_a_cluster_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut data_dir = DataDir::init(dir.path(), InitOptions::default()).unwrap();
        assert!(matches!(data_dir.set_pinned_peers(BTreeSet::new()), Err(DataDirError::NotPinned)));
    }
}
