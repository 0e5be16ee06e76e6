//! Starting a node: open its data directory, learn the cluster's initial configuration (its own id
//! for the first node, or from a bootstrap node), bind QUIC and metrics, register its address and
//! membership through the log, and run the event loop until shutdown.
//!
//! The DHT joins through the bootstrap node that answered (its id and address, stored beside the
//! initial configuration so that a restart joins through it again), and through the initial
//! configuration's members on a restart (their addresses are in the node's own directory by then);
//! the first node of a cluster has no one to join through. The node tells every peer it queries
//! its advertised address, so peers learn it through the DHT before the directory has it.

use crate::api::Client;
use crate::datadir::{DataDir, DataDirError};
use crate::metrics::{self, Metrics};
use crate::runtime::{Runtime, RuntimeError};
use crate::store::RedbStorage;
use crate::transport::{Transport, TransportError};
use pangea_core::codec::{decode_serde, encode_serde};
use pangea_core::log::{MemberChange, MemberChangeRefused};
use pangea_core::storage::{Storage, WriteBatch};
use pangea_core::{NodeId, PangeaConfig, PangeaConfigError, PangeaNode, StorageError};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// How a node is started (the `pangea node` flags).
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// The data directory made by `pangea init`.
    pub data_dir: PathBuf,
    /// Where to listen for peers and clients (UDP).
    pub listen: SocketAddr,
    /// The address other nodes and clients reach this node at; defaults to `listen`.
    pub advertise: Option<SocketAddr>,
    /// Nodes of the cluster to join; none for the first node of a new cluster.
    pub bootstrap: Vec<SocketAddr>,
    /// Where to serve Prometheus metrics (TCP), if anywhere.
    pub metrics: Option<SocketAddr>,
    /// The hardware paths asked for (`--io`, `--firewall` and its rules).
    pub hardware: crate::hardware::HardwareOptions,
    /// A bug planted in the replicated log, for `pangea-nemesis` to find.
    #[cfg(feature = "planted-bugs")]
    pub planted_bug: Option<pangea_core::log::LogPlantedBug>,
}

/// Why a node could not start or stopped with an error.
#[derive(Debug, Error)]
pub enum NodeError {
    /// The data directory is missing, locked, from a newer version or corrupt.
    #[error("unusable data directory")]
    DataDir(#[from] DataDirError),
    /// The storage file could not be opened or read.
    #[error("storage file")]
    Storage(#[from] pangea_core::StorageError),
    /// The QUIC endpoint could not start.
    #[error("QUIC endpoint")]
    Transport(#[from] TransportError),
    /// The metrics listener could not start.
    #[error("cannot serve metrics on {addr}")]
    Metrics {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS's error.
        source: std::io::Error,
    },
    /// The listen address is a wildcard and no `--advertise` address was given.
    #[error("listening on {0} (all interfaces): give --advertise with the address peers should use")]
    NoAdvertise(SocketAddr),
    /// A hardware path asked for cannot be had.
    #[error(transparent)]
    Hardware(#[from] crate::hardware::HardwareError),
    /// The event loop failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The node's settings cannot work.
    #[error("node configuration: {0}")]
    Config(#[from] PangeaConfigError),
    /// Shutdown was asked for before the node could learn the cluster from its bootstrap nodes.
    #[error("stopped before any bootstrap node answered")]
    StoppedBeforeJoining,
}

/// Runs a node until `shutdown` resolves.
pub async fn run_node(options: NodeOptions, shutdown: impl std::future::Future<Output = ()>) -> Result<(), NodeError> {
    let advertise = options.advertise.unwrap_or(options.listen);
    if advertise.ip().is_unspecified() {
        return Err(NodeError::NoAdvertise(advertise));
    }
    let data_dir = DataDir::open(&options.data_dir)?;
    let me = data_dir.node_id();
    let token = *data_dir.client_token();
    let hardware = crate::hardware::choose(&options.hardware, options.listen)?;
    let mut storage = RedbStorage::open_with_io(data_dir.store_path(), hardware.file_io)?;
    tokio::pin!(shutdown);
    let (genesis, dht_bootstrap) = match stored_genesis(&mut storage)? {
        Some(genesis) => {
            let mut dht_bootstrap = stored_dht_bootstrap(&mut storage)?;
            // On a restart the members of the initial configuration help too: the directory the
            // node rebuilds from disk says where they are.
            for member in &genesis {
                if !dht_bootstrap.iter().any(|(node, _)| node == member) {
                    dht_bootstrap.push((*member, None));
                }
            }
            (genesis, dht_bootstrap)
        }
        None => {
            let (genesis, dht_bootstrap) = if options.bootstrap.is_empty() {
                tracing::info!(node = %me, "founding a new cluster");
                (vec![me], Vec::new())
            } else {
                tokio::select! {
                    (genesis, node, addr) = learn_genesis(&options.bootstrap, token) => {
                        (genesis, vec![(node, Some(addr))])
                    }
                    () = &mut shutdown => return Err(NodeError::StoppedBeforeJoining),
                }
            };
            store_genesis(&mut storage, &genesis, &dht_bootstrap)?;
            (genesis, dht_bootstrap)
        }
    };
    let firewall = Arc::new(hardware.firewall);
    let (transport, inbound) = Transport::bind_filtered(
        options.listen,
        data_dir.identity(),
        data_dir.admission().clone(),
        firewall.socket_filter(),
    )?;
    let listen = transport.local_addr().map_err(|source| TransportError::Bind { addr: options.listen, source })?;
    let advertise = if options.advertise.is_some() { advertise } else { listen };
    tracing::info!(node = %me, %listen, "listening");
    let metrics = Arc::new(Metrics::default());
    let _metrics_task = match options.metrics {
        Some(addr) => {
            let listener = metrics::bind(addr).await.map_err(|source| NodeError::Metrics { addr, source })?;
            tracing::info!(%addr, "serving metrics");
            Some(AbortOnDrop(tokio::spawn(metrics::serve(listener, Arc::clone(&metrics)))))
        }
        None => None,
    };
    let mut contacts = options.bootstrap.clone();
    contacts.push(advertise);
    let _registration = AbortOnDrop(tokio::spawn(register(me, advertise, contacts, token)));
    let mut config = PangeaConfig::new(genesis);
    config.dht.bootstrap = dht_bootstrap.iter().map(|(node, _)| *node).filter(|node| *node != me).collect();
    config.dht.address = Some(advertise.to_string());
    #[cfg(feature = "planted-bugs")]
    if let Some(bug) = options.planted_bug {
        tracing::warn!(bug = bug.name(), "running with a deliberately planted bug");
        config.log.planted_bug = Some(bug);
    }
    let node = PangeaNode::new(config)?;
    let mut runtime =
        Runtime::new(me, node, storage, transport, advertise, token, metrics)?.with_hardware(hardware.facts, firewall);
    runtime.add_peer_addresses(dht_bootstrap.iter().filter_map(|(node, addr)| Some((*node, (*addr)?))));
    runtime.run(inbound, shutdown).await?;
    drop(data_dir);
    Ok(())
}

/// Asks the bootstrap nodes, in turn and until one answers, for the cluster's initial
/// configuration; returns it with the id and address of the node that answered.
async fn learn_genesis(bootstrap: &[SocketAddr], token: [u8; 32]) -> (Vec<NodeId>, NodeId, SocketAddr) {
    let mut client = Client::new(bootstrap.to_vec(), token, Duration::from_secs(5));
    let mut attempt = 0_usize;
    loop {
        let addr = bootstrap[attempt % bootstrap.len()];
        match client.hello(addr).await {
            Ok((node, genesis)) => {
                tracing::info!(bootstrap = %addr, peer = %node, "learned the cluster's initial configuration");
                return (genesis, node, addr);
            }
            Err(error) => tracing::warn!(bootstrap = %addr, "waiting for a bootstrap node: {error}"),
        }
        attempt += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Writes this node's address into the replicated directory and makes it a member, retrying until
/// both are done (a node that is a member already just refreshes its address).
async fn register(me: NodeId, advertise: SocketAddr, contacts: Vec<SocketAddr>, token: [u8; 32]) {
    let mut client = Client::new(contacts, token, Duration::from_secs(10));
    loop {
        match client.register_address(me, advertise.to_string()).await {
            Ok(()) => break,
            Err(error) => tracing::info!("registering this node's address: {error}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    loop {
        match client.change_members(MemberChange::Add(me)).await {
            Ok(Ok((_, members))) => {
                tracing::info!(%members, "joined the cluster");
                return;
            }
            Ok(Err(MemberChangeRefused::AlreadyMember)) => {
                tracing::info!("a member of the cluster");
                return;
            }
            Ok(Err(why)) => tracing::warn!("joining the cluster was refused: {why}"),
            Err(error) => tracing::info!("joining the cluster: {error}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Storage table of the node's own settings (not any subsystem's).
pub const NODE_TABLE: &str = "node.meta";
/// Key of the cluster's initial configuration in [`NODE_TABLE`].
pub const GENESIS_KEY: &[u8] = b"genesis";
/// Key of the DHT's bootstrap contacts in [`NODE_TABLE`]: the node that answered when this one
/// joined, as `(id, "host:port")` pairs. Absent in data directories of older versions and of a
/// cluster's first node.
pub const DHT_BOOTSTRAP_KEY: &[u8] = b"dht.bootstrap";

/// A DHT bootstrap contact: a node's id, and its address when known.
pub type BootstrapContact = (NodeId, Option<SocketAddr>);

/// The cluster's initial configuration as stored, if this node has one.
pub fn stored_genesis(storage: &mut RedbStorage) -> Result<Option<Vec<NodeId>>, StorageError> {
    storage.get(NODE_TABLE, GENESIS_KEY)?.map(|bytes| decode_genesis(&bytes)).transpose()
}

/// The DHT's bootstrap contacts as stored (none if none were).
pub fn stored_dht_bootstrap(storage: &mut RedbStorage) -> Result<Vec<BootstrapContact>, StorageError> {
    let Some(bytes) = storage.get(NODE_TABLE, DHT_BOOTSTRAP_KEY)? else { return Ok(Vec::new()) };
    decode_dht_bootstrap(&bytes)
}

/// The cluster's initial configuration from its stored bytes (a file's: any bytes at all).
///
/// # Errors
/// [`StorageError::Corrupt`] for bytes that are not a list of node ids.
pub fn decode_genesis(bytes: &[u8]) -> Result<Vec<NodeId>, StorageError> {
    decode_serde(bytes).map_err(|_| StorageError::Corrupt { table: NODE_TABLE.to_owned(), key: GENESIS_KEY.to_vec() })
}

/// The DHT's bootstrap contacts from their stored bytes (a file's: any bytes at all).
///
/// # Errors
/// [`StorageError::Corrupt`] for bytes that are not a list of ids and socket addresses.
pub fn decode_dht_bootstrap(bytes: &[u8]) -> Result<Vec<BootstrapContact>, StorageError> {
    let corrupt = || StorageError::Corrupt { table: NODE_TABLE.to_owned(), key: DHT_BOOTSTRAP_KEY.to_vec() };
    let pairs: Vec<(NodeId, String)> = decode_serde(bytes).map_err(|_| corrupt())?;
    pairs.into_iter().map(|(node, addr)| Ok((node, Some(addr.parse().map_err(|_| corrupt())?)))).collect()
}

/// The stored bytes of the DHT's bootstrap contacts (those with an address; the inverse of
/// [`decode_dht_bootstrap`]).
///
/// # Errors
/// Only if the encoder fails.
pub fn encode_dht_bootstrap(contacts: &[BootstrapContact]) -> Result<Vec<u8>, StorageError> {
    let pairs: Vec<(NodeId, String)> =
        contacts.iter().filter_map(|(node, addr)| Some((*node, addr.as_ref()?.to_string()))).collect();
    encoded(&pairs)
}

/// Stores the cluster's initial configuration and the DHT's bootstrap contacts (those with an
/// address), durably and at once.
pub fn store_genesis(
    storage: &mut RedbStorage,
    genesis: &[NodeId],
    dht_bootstrap: &[BootstrapContact],
) -> Result<(), StorageError> {
    let mut batch = WriteBatch::new();
    batch.put(NODE_TABLE, GENESIS_KEY.to_vec(), encoded(&genesis.to_vec())?);
    if dht_bootstrap.iter().any(|(_, addr)| addr.is_some()) {
        batch.put(NODE_TABLE, DHT_BOOTSTRAP_KEY.to_vec(), encode_dht_bootstrap(dht_bootstrap)?);
    }
    storage.write(batch)?;
    storage.sync()
}

/// `value` encoded for [`NODE_TABLE`].
fn encoded<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StorageError> {
    let mut bytes = Vec::new();
    encode_serde(value, &mut bytes).map_err(|error| StorageError::Io(error.to_string()))?;
    Ok(bytes)
}

/// Aborts a spawned task when dropped, so no task outlives the node.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
