//! `pangea dht`: the DHT of one node, from the command line — its routing table, lookups, and
//! records published and found. Part of the `pangea` binary (declared in `main.rs`), not of the
//! library; the calls are [`pangea_node::api::dht`]'s.

use crate::{ClientArgs, Usage, complain, write_out};
use anyhow::Result;
use clap::Subcommand;
use pangea_core::NodeId;
use pangea_core::dht::{DhtRefusal, Key};
use pangea_node::api::ApiError;
use pangea_node::hex;
use std::net::SocketAddr;
use std::process::ExitCode;

/// The help after `pangea dht --help`.
pub const DHT_HELP: &str = "\
Every node keeps a Kademlia routing table of the other nodes, joins through its bootstrap node and \
learns the others' addresses through the DHT. The command asks the first --node given.

KEY (and the target of `find`): 64 hex digits are the key itself (a node id, say); any other text \
is hashed with BLAKE3 into one, so `put greeting hello` and `get greeting` meet.

Exit codes: 0 success, 1 the operation failed (node unreachable, no such record, no peer kept the \
value), 2 bad usage (malformed argument, a value over the 16 KiB limit).";

/// The DHT commands.
#[derive(Subcommand)]
pub enum DhtCommand {
    /// Show the node's routing table: contacts per bucket, and each contact with its address.
    Table {
        #[command(flatten)]
        client: ClientArgs,
        /// Print one JSON object instead, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Look up the k live peers nearest a node id or key: nearest first, then the lookup's hops
    /// and queries.
    Find {
        #[command(flatten)]
        client: ClientArgs,
        /// A node id or key (64 hex digits), or any other text hashed with BLAKE3 into a key.
        target: String,
        /// Print one JSON object instead, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Publish VALUE under KEY at the k peers nearest the key (the node asked republishes it
    /// hourly); print how many kept it. Values are limited to 16 KiB.
    Put {
        #[command(flatten)]
        client: ClientArgs,
        /// The key: 64 hex digits as they are, or any other text hashed with BLAKE3 into one.
        key: String,
        /// The value.
        value: String,
        /// Print one JSON object instead, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Print the value published under KEY, as a lookup finds it; exit 1 if there is none.
    Get {
        #[command(flatten)]
        client: ClientArgs,
        /// The key: 64 hex digits as they are, or any other text hashed with BLAKE3 into one.
        key: String,
        /// Print one JSON object instead, for scripts.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a DHT command.
pub async fn run(command: DhtCommand) -> Result<ExitCode> {
    match command {
        DhtCommand::Table { client, json } => {
            let (addr, mut client) = asked(&client)?;
            let table = client.dht_table(addr).await?;
            if json {
                let buckets: Vec<serde_json::Value> = table
                    .buckets
                    .iter()
                    .map(|(bucket, contacts)| serde_json::json!({ "bucket": bucket, "contacts": contacts }))
                    .collect();
                let out = serde_json::json!({
                    "node": hex::encode(&table.node.0),
                    "buckets": buckets,
                    "contacts": peers_json(&table.contacts),
                });
                say(&out.to_string());
            } else {
                say(&format!(
                    "node {}: {} in {}",
                    hex::encode(&table.node.0),
                    count(table.contacts.len(), "contact"),
                    count(table.buckets.len(), "bucket")
                ));
                for (bucket, contacts) in &table.buckets {
                    say(&format!("bucket {bucket}: {}", count(usize::from(*contacts), "contact")));
                }
                for line in peer_lines(&table.contacts) {
                    say(&line);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        DhtCommand::Find { client, target, json } => {
            let key = parse_key(&target);
            let (addr, mut client) = asked(&client)?;
            let found = client.dht_find(addr, key).await?;
            if json {
                let out = serde_json::json!({
                    "target": hex::encode(&key.0),
                    "peers": peers_json(&found.peers),
                    "hops": found.hops,
                    "queried": found.queried,
                });
                say(&out.to_string());
            } else {
                for line in peer_lines(&found.peers) {
                    say(&line);
                }
                say(&format!(
                    "{}, {}, {}",
                    count(found.peers.len(), "peer"),
                    count(found.hops as usize, "hop"),
                    count(found.queried as usize, "query")
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        DhtCommand::Put { client, key: text, value, json } => {
            let key = parse_key(&text);
            let (addr, mut client) = asked(&client)?;
            let replicas = match client.dht_put(addr, key, value.into_bytes()).await {
                Ok(replicas) => replicas,
                Err(ApiError::Dht(why @ DhtRefusal::ValueTooLarge { .. })) => return Err(Usage(why.to_string()).into()),
                Err(error) => return Err(error.into()),
            };
            if json {
                say(&serde_json::json!({ "key": hex::encode(&key.0), "replicas": replicas }).to_string());
            } else {
                say(&format!("stored at {}", count(replicas as usize, "peer")));
            }
            if replicas == 0 {
                complain(format_args!("no peer kept the value (the node knows no live peer near the key)"));
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
        DhtCommand::Get { client, key: text, json } => {
            let key = parse_key(&text);
            let (addr, mut client) = asked(&client)?;
            let found = client.dht_get(addr, key).await?;
            if json {
                let value = found.value.as_ref();
                let out = serde_json::json!({
                    "key": hex::encode(&key.0),
                    "found": value.is_some(),
                    "value": value.and_then(|bytes| std::str::from_utf8(bytes).ok()),
                    "value_hex": value.map(|bytes| hex::encode(bytes)),
                    "hops": found.hops,
                });
                say(&out.to_string());
            }
            match found.value {
                Some(mut value) => {
                    if !json {
                        // The stored bytes as they are, binary or not.
                        value.push(b'\n');
                        write_out(&value);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    complain(format_args!("not found"));
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

/// The node asked (the first given) and a client of it.
fn asked(args: &ClientArgs) -> Result<(SocketAddr, pangea_node::api::Client)> {
    let client = args.client()?;
    let addr = *client.addresses().first().ok_or(ApiError::NoAddress)?;
    Ok((addr, client))
}

/// A key from the command line: 64 hex digits as they are, any other text hashed with BLAKE3.
pub fn parse_key(text: &str) -> Key {
    match hex::decode_32(text) {
        Some(bytes) => Key(bytes),
        None => Key(*blake3::hash(text.as_bytes()).as_bytes()),
    }
}

/// Peers as JSON: `[{"id": HEX, "address": "host:port" or null}]`.
fn peers_json(peers: &[(NodeId, Option<SocketAddr>)]) -> Vec<serde_json::Value> {
    peers
        .iter()
        .map(|(id, addr)| serde_json::json!({ "id": hex::encode(&id.0), "address": addr.map(|addr| addr.to_string()) }))
        .collect()
}

/// Peers as lines: the id, then the address or "address unknown".
fn peer_lines(peers: &[(NodeId, Option<SocketAddr>)]) -> Vec<String> {
    peers
        .iter()
        .map(|(id, addr)| match addr {
            Some(addr) => format!("{} {addr}", hex::encode(&id.0)),
            None => format!("{} address unknown", hex::encode(&id.0)),
        })
        .collect()
}

/// "1 peer", "2 peers", "3 queries".
fn count(number: usize, noun: &str) -> String {
    match (number, noun.strip_suffix('y')) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) => format!("{number} {stem}ies"),
        (_, None) => format!("{number} {noun}s"),
    }
}

/// Prints one line to standard output.
fn say(line: &str) {
    write_out(format!("{line}\n").as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hex_or_hashed_text() {
        let id = [0xab; 32];
        assert_eq!(parse_key(&hex::encode(&id)), Key(id));
        assert_eq!(parse_key(&hex::encode(&id).to_uppercase()), Key(id));
        assert_eq!(parse_key("greeting"), Key(*blake3::hash(b"greeting").as_bytes()));
        // Not quite 64 hex digits: text.
        let short = &hex::encode(&id)[..63];
        assert_eq!(parse_key(short), Key(*blake3::hash(short.as_bytes()).as_bytes()));
    }

    #[test]
    fn counts_read_as_english() {
        assert_eq!(count(1, "peer"), "1 peer");
        assert_eq!(count(0, "contact"), "0 contacts");
        assert_eq!(count(3, "query"), "3 queries");
    }
}
