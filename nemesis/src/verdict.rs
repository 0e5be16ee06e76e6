//! After the heal: progress within a bound, final reads, convergence of every node, acknowledged
//! write-once keys all there, and linearizability of the whole history.

use crate::nodes::Endpoints;
use crate::workload::{Recorder, tag_of};
use pangea_core::metadata::records::KvOp;
use pangea_node::api::Client;
use pangea_scenarios::linearizability::{
    CheckConfig, HistoryEntry, HistoryOp, OpCompletion, OpOutcome, Value, Verdict, check,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// How a run ended, most severe first, with `pangea-sim`'s exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Failure {
    /// Not linearizable, a write lost, or replicas that differ.
    Correctness,
    /// A node exited on its own or panicked.
    Crash,
    /// No progress within the bound after the heal.
    Liveness,
    /// The checker's budget ran out before it decided.
    Undecided,
}

impl Failure {
    /// The exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            Failure::Correctness => 1,
            Failure::Crash => 4,
            Failure::Liveness => 3,
            Failure::Undecided => 6,
        }
    }
}

/// What the checks found.
#[derive(Debug, Default, Serialize)]
pub struct Findings {
    /// Each failure with what shows it.
    pub failures: Vec<(Failure, String)>,
    /// Time from the heal until the cluster served a write and a read, in milliseconds.
    pub recovered_ms: Option<u64>,
    /// Write-once keys acknowledged.
    pub acknowledged_once: usize,
    /// Of those, missing or wrong after the heal.
    pub lost_once: usize,
    /// Of those, not read after the heal (the final read was not answered).
    pub unread_once: usize,
    /// Graph entities the cluster acknowledged adding.
    pub entities_acknowledged: usize,
    /// Events the cluster acknowledged appending.
    pub events_acknowledged: usize,
    /// Acknowledged entities and events missing, wrong or unreadable after the heal.
    pub records_lost: usize,
    /// The linearizability verdict, as text.
    pub linearizability: String,
}

/// Waits (up to `bound`) until a write and a linearizable read succeed; answers how long it took.
pub async fn progress(cluster: &Endpoints, bound: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut attempt = 0u32;
    while started.elapsed() < bound {
        attempt += 1;
        let mut client = Client::new(cluster.addresses.clone(), cluster.token, Duration::from_secs(5));
        let key = format!("nemesis.progress.{attempt}").into_bytes();
        if client.command(KvOp::Put { key: key.clone(), value: b"up".to_vec() }).await.is_ok()
            && client.get(key).await.is_ok_and(|value| value.as_deref() == Some(&b"up"[..]))
        {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

/// Reads in flight at once while checking (final reads, and each node's local reads).
const CHECK_READS_IN_FLIGHT: usize = 32;

/// Reads every key the clients used, linearizably, [`CHECK_READS_IN_FLIGHT`] at a time, recording
/// the reads in the history; answers the final value of each key read.
pub async fn final_reads(
    cluster: &Endpoints,
    recorder: &Arc<Recorder>,
    keys: &[Vec<u8>],
) -> BTreeMap<Vec<u8>, Option<Value>> {
    let mut reads = JoinSet::new();
    for stripe in 0..CHECK_READS_IN_FLIGHT {
        let keys: Vec<Vec<u8>> = keys.iter().skip(stripe).step_by(CHECK_READS_IN_FLIGHT).cloned().collect();
        let (addresses, token, recorder) = (cluster.addresses.clone(), cluster.token, recorder.clone());
        reads.spawn(async move {
            let mut finals = Vec::new();
            let mut client = Client::new(addresses.clone(), token, Duration::from_secs(10));
            for key in keys {
                let invoked_at = recorder.now();
                let completion = match client.get(key.clone()).await {
                    Ok(found) => {
                        let found = found.map(|bytes| tag_of(&bytes));
                        finals.push((key.clone(), found.clone()));
                        OpCompletion::Completed { at: recorder.now(), outcome: OpOutcome::Read(found) }
                    }
                    Err(_) => {
                        client = Client::new(addresses.clone(), token, Duration::from_secs(10));
                        OpCompletion::Unknown
                    }
                };
                recorder.record(HistoryEntry { client: u64::MAX, key, op: HistoryOp::Get, invoked_at, completion });
            }
            finals
        });
    }
    let mut finals = BTreeMap::new();
    while let Some(stripe) = reads.join_next().await {
        finals.extend(stripe.unwrap_or_default());
    }
    finals
}

/// Waits (up to `bound`) until every node holds the final values locally; answers the
/// differences left.
pub async fn convergence(
    cluster: &Endpoints,
    finals: &BTreeMap<Vec<u8>, Option<Value>>,
    bound: Duration,
) -> Vec<String> {
    let started = Instant::now();
    let finals: Arc<Vec<(Vec<u8>, Option<Value>)>> =
        Arc::new(finals.iter().map(|(key, value)| (key.clone(), value.clone())).collect());
    loop {
        let mut checks = JoinSet::new();
        for (index, &addr) in cluster.addresses.iter().enumerate() {
            for stripe in 0..CHECK_READS_IN_FLIGHT {
                let (finals, token) = (finals.clone(), cluster.token);
                checks.spawn(async move {
                    let mut differences = Vec::new();
                    let mut client = Client::new(vec![addr], token, Duration::from_secs(2));
                    for (key, value) in finals.iter().skip(stripe).step_by(CHECK_READS_IN_FLIGHT) {
                        match client.stale_get(addr, key).await {
                            Ok((found, _)) => {
                                let found = found.map(|bytes| tag_of(&bytes));
                                if found != *value {
                                    differences.push(format!(
                                        "n{index} holds {} = {:?}, the cluster {:?}",
                                        String::from_utf8_lossy(key),
                                        found,
                                        value
                                    ));
                                }
                            }
                            Err(error) => {
                                differences.push(format!("n{index} did not answer: {error}"));
                                break;
                            }
                        }
                    }
                    differences
                });
            }
        }
        let mut differences = Vec::new();
        while let Some(found) = checks.join_next().await {
            differences.extend(found.unwrap_or_else(|error| vec![format!("a check failed: {error}")]));
        }
        differences.sort();
        if differences.is_empty() || started.elapsed() >= bound {
            return differences;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Checks the whole history; answers the verdict's text and the failure it means, if any.
pub fn linearizability(history: &[HistoryEntry]) -> (String, Option<Failure>) {
    match check(history, &CheckConfig::default()) {
        Ok(verdict) => {
            let failure = match &verdict {
                Verdict::Linearizable => None,
                Verdict::Unknown { .. } => Some(Failure::Undecided),
                _ => Some(Failure::Correctness),
            };
            (format!("{verdict}"), failure)
        }
        Err(error) => (format!("the history is unusable: {error}"), Some(Failure::Correctness)),
    }
}

/// Write-once keys acknowledged whose final read answered something else (lost), and the number
/// whose final read was not answered (neither lost nor proven kept: a liveness failure says why).
pub fn lost_once(acknowledged: &[(Vec<u8>, Value)], finals: &BTreeMap<Vec<u8>, Option<Value>>) -> (Vec<String>, usize) {
    let mut unread = 0;
    let mut lost = Vec::new();
    for (key, value) in acknowledged {
        match finals.get(key) {
            None => unread += 1,
            Some(found) if found.as_ref() == Some(value) => {}
            Some(found) => lost.push(format!(
                "{} was acknowledged with {:?} but reads {:?}",
                String::from_utf8_lossy(key),
                value,
                found
            )),
        }
    }
    (lost, unread)
}
