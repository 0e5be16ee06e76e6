//! `pangea-node`: the `pangea` binary that runs `pangea-core`'s state machines on real QUIC (quinn
//! and rustls), a redb file and tokio timers.
//!
//! It depends on `pangea-core` only, never on the simulator, so that the binary runs exactly the
//! code the simulator tested.
//! - [`runtime`]: the event loop, generic over any [`runtime::Hosted`] node: it owns the state
//!   machine, moves bytes and time between it and the transport, and carries out its effects;
//!   [`hosted`]: what `PangeaNode` tells the runtime (its directory of addresses, its gauges);
//! - [`host`]: hosting any node (a user's own) on the same runtime, and asking it as a client;
//! - [`server`]: starting a `PangeaNode` (genesis, bootstrap, registration in the directory and
//!   the configuration);
//! - [`wire`]: the client protocol; [`api`]: the client library; [`bench`]: the load generator;
//!   [`objects`]: files put into the object store and read back, streaming;
//! - [`metrics`]: Prometheus metrics;
//! - [`datadir`]: the data directory (identity, admission, client token, an exclusive lock);
//! - [`identity`]: key pair, self-signed certificate, node id and the admission rule;
//! - [`store`]: [`pangea_core::storage::Storage`] on a redb file;
//! - [`framing`]: length-prefixed frames on byte streams;
//! - [`transport`]: QUIC between nodes (mutual TLS plus admission) and from clients;
//! - [`client`]: the client side of the client protocol's connection plumbing.

pub mod api;
pub mod bench;
pub mod blob_tables;
pub mod client;
pub mod datadir;
pub mod framing;
pub mod hardware;
pub mod hex;
pub mod host;
pub mod hosted;
pub mod identity;
pub mod metrics;
pub mod objects;
pub mod runtime;
pub mod server;
pub mod stages;
pub mod store;
mod tls;
pub mod transport;
mod verify;
pub mod wal;
pub mod wire;

pub use tls::{ALPN_CLIENT, ALPN_PEER};
