//! The clients: concurrent tasks that put, read and compare-and-set shared keys, and put
//! write-once keys whose loss is counted on its own, recording every invocation and completion.
//!
//! A value is a unique tag (`c3.17`: client 3's 17th value) padded to a drawn size, mostly small,
//! sometimes up to 64 KiB and now and then up to the node's 1 MiB limit (write-once keys, which pile up, get small values only). The history keeps tags
//! only: a read is mapped back to its tag by checking the padding, and a value that is not one the
//! clients wrote is recorded as what it is (`corrupt:...`), which no write explains.

use pangea_core::metadata::records::{KvOp, KvResult, VALUE_BYTES_MAX};
use pangea_core::random::below;
use pangea_node::api::{ApiError, Client};
use pangea_scenarios::history_file::{HistoryRecord, RecordFunction, RecordType};
use pangea_scenarios::linearizability::{HistoryEntry, HistoryOp, OpCompletion, OpOutcome, Value};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Between a tag and its padding.
const PAD_MARK: u8 = b'|';
/// Most operations a run records (the history is kept in memory for the checker).
pub const OPERATIONS_MAX: usize = 2_000_000;

/// What the clients share: the run's start, the history and its file.
pub struct Recorder {
    /// When the run started: times in the history are nanoseconds since.
    pub start: Instant,
    /// Every operation so far.
    pub history: Mutex<Vec<HistoryEntry>>,
    /// The history's JSONL file ([`HistoryRecord`] lines, which `pangea-sim check-history` reads), a line per operation as it ends.
    file: Mutex<std::io::BufWriter<std::fs::File>>,
    /// Write-once keys acknowledged, with their value's tag.
    pub acknowledged_once: Mutex<Vec<(Vec<u8>, Value)>>,
}

fn text(value: &Value) -> String {
    String::from_utf8_lossy(&value.0).into_owned()
}

impl Recorder {
    /// A recorder writing to `path`.
    pub fn new(path: &std::path::Path) -> std::io::Result<Recorder> {
        Ok(Recorder {
            start: Instant::now(),
            history: Mutex::new(Vec::new()),
            file: Mutex::new(std::io::BufWriter::new(std::fs::File::create(path)?)),
            acknowledged_once: Mutex::new(Vec::new()),
        })
    }

    /// Nanoseconds since the start.
    pub fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Records `entry` (in memory and in the file).
    pub fn record(&self, entry: HistoryEntry) {
        let (f, value, expected) = match &entry.op {
            HistoryOp::Put { value } => (RecordFunction::Put, Some(Some(text(value))), None),
            HistoryOp::Get => (RecordFunction::Get, None, None),
            HistoryOp::Remove => (RecordFunction::Remove, None, None),
            HistoryOp::CompareAndSet { expected, new } => {
                (RecordFunction::Cas, Some(new.as_ref().map(text)), Some(expected.as_ref().map(text)))
            }
        };
        let (kind, complete_ns, read, succeeded) = match &entry.completion {
            OpCompletion::Completed { at, outcome } => {
                let (read, succeeded) = match outcome {
                    OpOutcome::Read(value) => (Some(value.as_ref().map(text)), None),
                    OpOutcome::Ok => (None, None),
                    OpOutcome::CompareAndSet { succeeded, .. } => (None, Some(*succeeded)),
                };
                (RecordType::Ok, Some(*at), read, succeeded)
            }
            OpCompletion::Unknown => (RecordType::Info, None, None, None),
            OpCompletion::Failed => (RecordType::Fail, None, None, None),
        };
        let line = HistoryRecord {
            client: entry.client,
            key: String::from_utf8_lossy(&entry.key).into_owned(),
            f,
            value,
            expected,
            invoke_ns: entry.invoked_at,
            complete_ns,
            outcome: kind,
            read,
            succeeded,
        };
        if let Ok(mut file) = self.file.lock() {
            let _ = writeln!(file, "{}", line.to_line());
        }
        if let Ok(mut history) = self.history.lock()
            && history.len() < OPERATIONS_MAX
        {
            history.push(entry);
        }
    }

    /// Flushes the file.
    pub fn flush(&self) {
        if let Ok(mut file) = self.file.lock() {
            let _ = file.flush();
        }
    }
}

/// A value's bytes: its tag, the mark, and padding to `size` derived from the tag.
pub fn value_bytes(tag: &str, size: usize) -> Vec<u8> {
    let mut bytes = tag.as_bytes().to_vec();
    bytes.push(PAD_MARK);
    let seed = tag.bytes().fold(0u8, |sum, byte| sum.wrapping_mul(31).wrapping_add(byte));
    let mut next = seed;
    while bytes.len() < size {
        next = next.wrapping_mul(13).wrapping_add(7);
        bytes.push(b'a' + next % 26);
    }
    bytes
}

/// The tag of a value read back, or `corrupt:LEN:PREFIX` when it is not a value the clients wrote.
pub fn tag_of(bytes: &[u8]) -> Value {
    if let Some(mark) = bytes.iter().position(|&byte| byte == PAD_MARK)
        && let Ok(tag) = std::str::from_utf8(&bytes[..mark])
        && value_bytes(tag, bytes.len()) == bytes
    {
        return Value::from(tag);
    }
    let prefix: String = String::from_utf8_lossy(&bytes[..bytes.len().min(16)]).into_owned();
    Value::from(format!("corrupt:{}:{prefix}", bytes.len()).as_str())
}

/// A value size: mostly under 1 KiB, one in 20 up to 64 KiB, one in 200 up to the limit.
fn draw_size(rng: &mut ChaCha8Rng) -> usize {
    match below(rng, 200) {
        0 => 1 + below(rng, VALUE_BYTES_MAX as u64) as usize,
        1..=10 => 1 + below(rng, 64 * 1024) as usize,
        _ => 16 + below(rng, 1_000) as usize,
    }
}

/// The size of a write-once key's value: small, as those keys pile up for the whole run (a
/// 30-minute run writes well over 100,000 of them) while the shared keys' large values replace
/// each other.
fn draw_small_size(rng: &mut ChaCha8Rng) -> usize {
    16 + below(rng, 256) as usize
}

/// One client's settings.
pub struct ClientPlan {
    /// Its number.
    pub index: u32,
    /// The run's seed.
    pub seed: u64,
    /// Shared keys.
    pub keys: u32,
    /// Node addresses.
    pub addresses: Vec<SocketAddr>,
    /// The client token.
    pub token: [u8; 32],
    /// A call's deadline.
    pub deadline: Duration,
}

/// Runs one client until `stop`.
pub async fn run_client(plan: ClientPlan, recorder: Arc<Recorder>, stop: Arc<AtomicBool>) {
    let mut rng =
        ChaCha8Rng::seed_from_u64(plan.seed ^ (u64::from(plan.index) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut generation = 0u64;
    let mut client = Client::new(plan.addresses.clone(), plan.token, plan.deadline);
    let mut written = 0u64;
    // Per shared key, the value this client last saw there (tag and bytes), for its next
    // compare-and-set.
    let mut seen: std::collections::BTreeMap<u32, Option<(Value, Vec<u8>)>> = std::collections::BTreeMap::new();
    while !stop.load(Ordering::Relaxed) {
        let history_client = u64::from(plan.index) * 1_000_000 + generation;
        let key_index = below(&mut rng, u64::from(plan.keys)) as u32;
        let mut new_value = |rng: &mut ChaCha8Rng, write_once: bool| {
            written += 1;
            let tag = format!("c{}.{written}", plan.index);
            let size = if write_once { draw_small_size(rng) } else { draw_size(rng) };
            let bytes = value_bytes(&tag, size);
            (Value::from(tag.as_str()), bytes)
        };
        let mut pending_new = None;
        let (key, op, kv) = match below(&mut rng, 100) {
            0..35 => {
                let (value, bytes) = new_value(&mut rng, false);
                let key = format!("k{key_index}").into_bytes();
                (key.clone(), HistoryOp::Put { value }, KvOp::Put { key, value: bytes })
            }
            35..70 => {
                let key = format!("k{key_index}").into_bytes();
                (key.clone(), HistoryOp::Get, KvOp::Get { key })
            }
            70..90 => {
                let (expected, expected_bytes) = seen.get(&key_index).cloned().flatten().unzip();
                let (value, bytes) = new_value(&mut rng, false);
                let key = format!("k{key_index}").into_bytes();
                let kv = KvOp::CompareAndSet { key: key.clone(), expected: expected_bytes, new: Some(bytes.clone()) };
                pending_new = Some((value.clone(), bytes));
                (key, HistoryOp::CompareAndSet { expected, new: Some(value) }, kv)
            }
            _ => {
                let (value, bytes) = new_value(&mut rng, true);
                let key = format!("once.c{}.{written}", plan.index).into_bytes();
                (key.clone(), HistoryOp::Put { value }, KvOp::Put { key, value: bytes })
            }
        };
        let write_once = key.starts_with(b"once.");
        let swapped_in = pending_new.take();
        let invoked_at = recorder.now();
        let result = client.command(kv).await;
        let at = recorder.now();
        let completion = match result {
            Ok(KvResult::Done) => OpCompletion::Completed { at, outcome: OpOutcome::Ok },
            Ok(KvResult::Value(found)) => {
                let found = found.map(|bytes| (tag_of(&bytes), bytes));
                let read = found.as_ref().map(|(tag, _)| tag.clone());
                seen.insert(key_index, found);
                OpCompletion::Completed { at, outcome: OpOutcome::Read(read) }
            }
            Ok(KvResult::CompareAndSet { succeeded, found }) => {
                let found = found.map(|bytes| (tag_of(&bytes), bytes));
                let found_tag = found.as_ref().map(|(tag, _)| tag.clone());
                seen.insert(key_index, if succeeded { swapped_in } else { found });
                OpCompletion::Completed { at, outcome: OpOutcome::CompareAndSet { succeeded, found: Some(found_tag) } }
            }
            Err(ApiError::Invalid(_) | ApiError::Unauthorized | ApiError::NoAddress | ApiError::CannotWrite { .. }) => {
                OpCompletion::Failed
            }
            Err(_) => OpCompletion::Unknown,
        };
        if write_once
            && matches!(completion, OpCompletion::Completed { .. })
            && let HistoryOp::Put { value } = &op
            && let Ok(mut acknowledged) = recorder.acknowledged_once.lock()
        {
            acknowledged.push((key.clone(), value.clone()));
        }
        let unknown = completion == OpCompletion::Unknown;
        recorder.record(HistoryEntry { client: history_client, key, op, invoked_at, completion });
        if unknown {
            // The call may still take effect: this client's later calls are another process's, on a
            // new session, as Jepsen retires a process after an indefinite result.
            generation += 1;
            client = Client::new(plan.addresses.clone(), plan.token, plan.deadline);
        }
    }
}
