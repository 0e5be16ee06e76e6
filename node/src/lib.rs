//! `pangea-node`: the `pangea` binary that runs `pangea-core`'s state machines on real QUIC (quinn
//! and rustls), a redb file and tokio timers.
//!
//! Not built yet: the real-node issue fills this crate. It will depend on `pangea-core` only, never
//! on the simulator, so that the binary runs exactly the code the simulator tested.
