//! A replicated register written the way a user of Pangea writes a system: a sans-IO [`Node`]
//! ([`node`]), a scenario that tests it under faults against a sequential model ([`scenario`]),
//! a `register-sim` binary with Pangea's whole simulation command line for it, and a `register`
//! binary that runs the same node as a real process on QUIC with redb storage.
//!
//! It uses Pangea's public API only.
//!
//! [`Node`]: pangea_core::Node

pub mod node;
pub mod scenario;

pub use node::{RegisterNode, RegisterRequest, RegisterResponse};
pub use scenario::{REGISTER, registry};

/// The real runtime hosts the register as it is: its peers are given at start.
impl pangea_node::runtime::Hosted for RegisterNode {}
