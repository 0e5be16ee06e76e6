//! `pangea events`: the cluster's replicated event store from the command line — events appended
//! under (node, signal, epoch) keys, read back by key range and id, trimmed. Part of the `pangea`
//! binary (declared in `main.rs`), not of the library; the calls are
//! [`pangea_node::api::events`]'s.

use crate::reading::{JsonList, Reader, Reading, Writing, say, say_json, say_lines, unexpected};
use crate::{Usage, complain};
use anyhow::{Context as _, Result};
use clap::Subcommand;
use pangea_core::events::{Event, EventId, EventKey, EventRange, EventsAnswer, EventsOp, EventsQuery, EventsResult};
use pangea_core::events::{PAYLOAD_BYTES_MAX, RESULTS_MAX};
use pangea_node::hex;
use std::path::PathBuf;
use std::process::ExitCode;

/// The help after `pangea events --help`.
pub const EVENTS_HELP: &str = "\
The event store is part of the cluster's replicated metadata: appends and trims go through the log \
(in the client's session, so a retried append is applied once) and every node applies them. Reads \
are linearizable at the leader; --stale reads what the first --node has applied instead (fast, \
possibly behind).

Events are kept under keys (NODE, SIGNAL, EPOCH): the names of a node and a signal in your \
pipeline (not Pangea node ids) and a number. Ids are handed out by the whole store in log order, \
from 1, so they rise within every key. A key keeps at most 10,000 events: an append to a full key \
retires its oldest event (`append` says so). Payloads are up to 64 KiB.

KEY (and --from, --to, --resume's key): NODE/SIGNAL/EPOCH, e.g. sensor-1/temperature/0. The epoch \
is after the last '/', the signal between the last two; a node name may hold '/', a signal name \
read through a KEY may not. Keys order by node, then signal, then epoch (names byte by byte).

`range` prints one event a line: ID NODE/SIGNAL/EPOCH PAYLOAD, the payload as text when it is \
UTF-8 without control characters (and does not start with 'hex:'), else as hex:HEX. --json has \
both: \"payload\" (text or null) and \"payload_hex\".

Exit codes: 0 success, 1 the operation failed (cluster unreachable, a full store), 2 bad usage (a \
malformed key or id, an unreadable --file, a name or payload over the limits).";

/// The event store commands.
#[derive(Subcommand)]
pub enum EventsCommand {
    /// Append an event under (NODE, SIGNAL, EPOCH); print its id. When the key was full, its oldest
    /// event is retired, and a note on standard error says so.
    Append {
        #[command(flatten)]
        writing: Writing,
        /// The emitting node's name (a name in your pipeline).
        node: String,
        /// The signal's name.
        signal: String,
        /// The epoch.
        epoch: u64,
        /// The payload, as text (default: no payload).
        #[arg(long, conflicts_with = "file")]
        data: Option<String>,
        /// Read the payload from this file (`-`: standard input) instead.
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
    },
    /// Print the events with keys from --from to --to (both included) in key order, then id order,
    /// one a line: ID NODE/SIGNAL/EPOCH PAYLOAD.
    Range {
        #[command(flatten)]
        reading: Reading,
        /// The first key, NODE/SIGNAL/EPOCH.
        #[arg(long, value_name = "KEY", value_parser = parse_key)]
        from: EventKey,
        /// The last key, NODE/SIGNAL/EPOCH (default: --from, the events of one key).
        #[arg(long, value_name = "KEY", value_parser = parse_key)]
        to: Option<EventKey>,
        /// Only events with ids above this.
        #[arg(long, value_name = "ID")]
        after: Option<u64>,
        /// Only events with ids up to this.
        #[arg(long, value_name = "ID")]
        until: Option<u64>,
        /// At most this many events (default: all of them, page after page). When more follow, a
        /// note on standard error (or --json's "resume") says where to go on from.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        limit: Option<u64>,
        /// Go on from just past event ID of KEY (what a cut `range` said to resume with).
        #[arg(long, value_name = "ID@KEY", value_parser = parse_resume)]
        resume: Option<(EventKey, EventId)>,
    },
    /// Print the store's counts: keys, events, payload bytes, the next id, events retired.
    Stats {
        #[command(flatten)]
        reading: Reading,
    },
    /// Drop the events of KEY with ids below --before; print how many went.
    Trim {
        #[command(flatten)]
        writing: Writing,
        /// The key, NODE/SIGNAL/EPOCH.
        #[arg(value_parser = parse_key)]
        key: EventKey,
        /// The first id kept.
        #[arg(long, value_name = "ID")]
        before: u64,
    },
}

/// Runs an event store command.
pub async fn run(command: EventsCommand) -> Result<ExitCode> {
    match command {
        EventsCommand::Append { writing, node, signal, epoch, data, file } => {
            let payload = payload(data, file)?;
            let key = EventKey { node, signal, epoch };
            let op = EventsOp::Append { key: key.clone(), payload };
            let (id, retired) = match writing.client.client()?.events_command(op).await? {
                EventsResult::Appended { id, retired } => (id, retired),
                other => return Err(unexpected(&other)),
            };
            if writing.json {
                say_json(&serde_json::json!({ "id": id.0, "key": key_json(&key), "retired": retired }));
            } else {
                say(&id.0.to_string());
            }
            if retired > 0 {
                complain(format_args!(
                    "{} was full: retention retired its oldest event to keep this one",
                    key_text(&key)
                ));
            }
        }
        EventsCommand::Range { reading, from, to, after, until, limit, resume } => {
            let mut reader = Reader::new(&reading)?;
            let to = to.unwrap_or_else(|| from.clone());
            // Started once the first page is in, so that a failed read prints no half object.
            let mut list = None;
            let mut range = EventRange {
                from,
                to,
                after: after.map(EventId),
                until: until.map(EventId),
                resume,
                limit: RESULTS_MAX,
            };
            let mut left = limit.unwrap_or(u64::MAX);
            let resume = loop {
                // Within both what is left to print and the store's most per read.
                range.limit = u32::try_from(left).unwrap_or(u32::MAX).min(RESULTS_MAX);
                let (events, resume) = match reader.events(EventsQuery::Range(range.clone())).await? {
                    EventsAnswer::Range { events, resume } => (events, resume),
                    other => return Err(unexpected(&other)),
                };
                left -= events.len() as u64;
                if reading.json {
                    let list = list.get_or_insert_with(|| JsonList::start(&serde_json::json!({}), "events"));
                    list.page(&events.iter().map(event_json).collect::<Vec<_>>());
                } else {
                    say_lines(events.iter().map(event_line));
                }
                match resume {
                    Some(next) if left > 0 => {
                        // A page with a resume point ends at it: the next page starts past it.
                        if events.is_empty() || range.resume.as_ref() == Some(&next) {
                            return Err(unexpected(&format_args!("a page that did not move on from {next:?}")));
                        }
                        range.resume = Some(next);
                    }
                    _ => break resume,
                }
            };
            match list {
                Some(list) => list.finish(&serde_json::json!({
                    "resume": resume.as_ref().map(|(key, id)| serde_json::json!({ "key": key_json(key), "id": id.0 })),
                })),
                None => {
                    if let Some((key, id)) = &resume {
                        complain(format_args!("more follow: go on with --resume {}@{}", id.0, key_text(key)));
                    }
                }
            }
        }
        EventsCommand::Stats { reading } => match Reader::new(&reading)?.events(EventsQuery::Stats).await? {
            EventsAnswer::Stats(stats) if reading.json => say_json(&serde_json::json!({
                "keys": stats.keys,
                "events": stats.events,
                "bytes": stats.bytes,
                "next_id": stats.next_id,
                "retired": stats.retired,
            })),
            EventsAnswer::Stats(stats) => {
                say(&format!("keys:    {}", stats.keys));
                say(&format!("events:  {}", stats.events));
                say(&format!("bytes:   {}", stats.bytes));
                say(&format!("next id: {}", stats.next_id));
                say(&format!("retired: {}", stats.retired));
            }
            other => return Err(unexpected(&other)),
        },
        EventsCommand::Trim { writing, key, before } => {
            let op = EventsOp::Trim { key, before: EventId(before) };
            match writing.client.client()?.events_command(op).await? {
                EventsResult::Trimmed(count) if writing.json => say_json(&serde_json::json!({ "trimmed": count })),
                EventsResult::Trimmed(1) => say("trimmed 1 event"),
                EventsResult::Trimmed(count) => say(&format!("trimmed {count} events")),
                other => return Err(unexpected(&other)),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The payload of an append: `--data`, `--file` (`-`: standard input), or none.
fn payload(data: Option<String>, file: Option<PathBuf>) -> Result<Vec<u8>> {
    let bytes = match (data, file) {
        (Some(data), _) => data.into_bytes(),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes).context("reading standard input")?;
            bytes
        }
        (None, Some(path)) => {
            std::fs::read(&path).map_err(|error| Usage(format!("cannot read {}: {error}", path.display())))?
        }
        (None, None) => Vec::new(),
    };
    // Said here with the limit's name; the client's check would say "value too large".
    if bytes.len() > PAYLOAD_BYTES_MAX {
        return Err(Usage(format!("payload too large: {} bytes, limit {PAYLOAD_BYTES_MAX}", bytes.len())).into());
    }
    Ok(bytes)
}

/// A key from NODE/SIGNAL/EPOCH: the epoch after the last '/', the signal between the last two.
pub fn parse_key(text: &str) -> Result<EventKey, String> {
    let shape = || format!("'{text}' is not an event key: give NODE/SIGNAL/EPOCH, e.g. sensor-1/temperature/0");
    let (rest, epoch) = text.rsplit_once('/').ok_or_else(shape)?;
    let (node, signal) = rest.rsplit_once('/').ok_or_else(shape)?;
    let epoch = epoch.parse().map_err(|_| format!("{} ('{epoch}' is not an epoch number)", shape()))?;
    Ok(EventKey { node: node.to_owned(), signal: signal.to_owned(), epoch })
}

/// A resume point from ID@NODE/SIGNAL/EPOCH.
fn parse_resume(text: &str) -> Result<(EventKey, EventId), String> {
    let (id, key) = text
        .split_once('@')
        .ok_or_else(|| format!("'{text}' is not a resume point: give ID@NODE/SIGNAL/EPOCH, as `range` printed it"))?;
    let id = id.parse().map_err(|_| format!("'{id}' is not an event id"))?;
    Ok((parse_key(key)?, EventId(id)))
}

/// A key as NODE/SIGNAL/EPOCH.
fn key_text(key: &EventKey) -> String {
    format!("{}/{}/{}", key.node, key.signal, key.epoch)
}

fn key_json(key: &EventKey) -> serde_json::Value {
    serde_json::json!({ "node": key.node, "signal": key.signal, "epoch": key.epoch })
}

/// A payload that prints as it is: UTF-8 without control characters, not starting with `hex:`.
fn payload_text(payload: &[u8]) -> Option<&str> {
    std::str::from_utf8(payload).ok().filter(|text| !text.starts_with("hex:") && !text.chars().any(char::is_control))
}

/// `ID NODE/SIGNAL/EPOCH PAYLOAD`.
fn event_line(event: &Event) -> String {
    let head = format!("{} {}", event.id.0, key_text(&event.key));
    match payload_text(&event.payload) {
        Some("") => head,
        Some(text) => format!("{head} {text}"),
        None => format!("{head} hex:{}", hex::encode(&event.payload)),
    }
}

fn event_json(event: &Event) -> serde_json::Value {
    serde_json::json!({
        "id": event.id.0,
        "key": key_json(&event.key),
        "payload": std::str::from_utf8(&event.payload).ok(),
        "payload_hex": hex::encode(&event.payload),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_from_the_right() {
        let key = |node: &str, signal: &str, epoch| EventKey { node: node.into(), signal: signal.into(), epoch };
        assert_eq!(parse_key("sensor-1/temperature/0"), Ok(key("sensor-1", "temperature", 0)));
        assert_eq!(parse_key("a/b/c/7"), Ok(key("a/b", "c", 7)));
        assert_eq!(parse_key("//18446744073709551615"), Ok(key("", "", u64::MAX)));
        for bad in ["a/b", "a/b/x", "a/b/-1", "abc", ""] {
            assert!(parse_key(bad).unwrap_err().contains("is not an event key"), "{bad}");
        }
        assert_eq!(parse_resume("17@a/b/3"), Ok((key("a", "b", 3), EventId(17))));
        assert!(parse_resume("a/b/3").is_err());
        assert!(parse_resume("x@a/b/3").is_err());
    }

    #[test]
    fn payloads_print_as_text_or_hex() {
        let event = |payload: &[u8]| Event {
            id: EventId(3),
            key: EventKey { node: "n".into(), signal: "s".into(), epoch: 1 },
            payload: payload.to_vec(),
        };
        assert_eq!(event_line(&event(b"21.5 C")), "3 n/s/1 21.5 C");
        assert_eq!(event_line(&event(b"")), "3 n/s/1");
        assert_eq!(event_line(&event(b"two\nlines")), "3 n/s/1 hex:74776f0a6c696e6573");
        assert_eq!(event_line(&event(b"hex:00")), "3 n/s/1 hex:6865783a3030");
        assert_eq!(event_line(&event(&[0xff])), "3 n/s/1 hex:ff");
    }
}
