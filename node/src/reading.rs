//! What `pangea graph` and `pangea events` share: their options for commands and reads (JSON
//! output; reads linearizable at the leader or `--stale` from one node), the client they make, and
//! printing. Part of the `pangea` binary (declared in `main.rs`), not of the library.

use crate::{ClientArgs, write_out};
use anyhow::Result;
use clap::Args;
use pangea_core::events::{EventsAnswer, EventsQuery};
use pangea_core::graph::{GraphAnswer, GraphQuery};
use pangea_node::api::{ApiError, Client};
use std::net::SocketAddr;

/// The options of a command (through the log, in the client's session).
#[derive(Args, Clone)]
pub struct Writing {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Print one JSON object instead, for scripts.
    #[arg(long)]
    pub json: bool,
}

/// The options of a read.
#[derive(Args, Clone)]
pub struct Reading {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Read what the first --node has applied (fast, possibly behind the cluster) instead of
    /// reading linearizably at the leader.
    #[arg(long)]
    pub stale: bool,
    /// Print one JSON object instead, for scripts.
    #[arg(long)]
    pub json: bool,
}

/// Where reads go: the leader (linearizable), or one node (`--stale`), for every page of a read.
pub struct Reader {
    client: Client,
    stale_at: Option<SocketAddr>,
}

impl Reader {
    /// A reader as `reading` asks.
    pub fn new(reading: &Reading) -> Result<Reader> {
        let client = reading.client.client()?;
        let stale_at = if reading.stale { Some(*client.addresses().first().ok_or(ApiError::NoAddress)?) } else { None };
        Ok(Reader { client, stale_at })
    }

    /// Answers a read of the graph.
    pub async fn graph(&mut self, query: GraphQuery) -> Result<GraphAnswer, ApiError> {
        match self.stale_at {
            Some(addr) => self.client.graph_query(addr, query).await.map(|(answer, _)| answer),
            None => self.client.graph_read(query).await,
        }
    }

    /// Answers a read of the event store.
    pub async fn events(&mut self, query: EventsQuery) -> Result<EventsAnswer, ApiError> {
        match self.stale_at {
            Some(addr) => self.client.events_query(addr, query).await.map(|(answer, _)| answer),
            None => self.client.events_read(query).await,
        }
    }
}

/// Prints one line to standard output.
pub fn say(line: &str) {
    write_out(format!("{line}\n").as_bytes());
}

/// Prints lines, all at once.
pub fn say_lines(lines: impl Iterator<Item = String>) {
    let text: String = lines.map(|line| line + "\n").collect();
    write_out(text.as_bytes());
}

/// Prints `value` as one line of JSON.
pub fn say_json(value: &serde_json::Value) {
    say(&value.to_string());
}

/// An answer of a kind the read does not give (the node and this client disagree).
pub fn unexpected(answer: &impl std::fmt::Debug) -> anyhow::Error {
    ApiError::Unexpected(format!("{answer:?}")).into()
}

/// One JSON object holding one list, printed page by page as the pages come, so that a read of
/// any length is never held whole: `{"collection":"people","entities":[1,2,3],"more":false}`.
pub struct JsonList {
    items: u64,
}

impl JsonList {
    /// Prints the fields of `head` (a JSON object) and opens the list `name` after them.
    pub fn start(head: &serde_json::Value, name: &str) -> JsonList {
        let mut text = head.to_string();
        // An object's text ends with its closing brace; "{}" has no field to follow.
        text.pop();
        if text.len() > 1 {
            text.push(',');
        }
        text.push_str(&serde_json::Value::from(name).to_string());
        text.push_str(":[");
        write_out(text.as_bytes());
        JsonList { items: 0 }
    }

    /// Prints a page of the list's items.
    pub fn page(&mut self, items: &[serde_json::Value]) {
        let mut text = String::new();
        for item in items {
            if self.items > 0 {
                text.push(',');
            }
            text.push_str(&item.to_string());
            self.items += 1;
        }
        write_out(text.as_bytes());
    }

    /// Closes the list, prints the fields of `tail` (a JSON object) after it, and ends the line.
    pub fn finish(self, tail: &serde_json::Value) {
        let tail = tail.to_string();
        let fields = tail.strip_prefix('{').unwrap_or("}");
        let text = if fields == "}" { "]}\n".to_owned() } else { format!("],{fields}\n") };
        write_out(text.as_bytes());
    }
}
