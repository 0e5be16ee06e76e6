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
use std::time::{Duration, Instant};

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

/// Reads every key the clients used, linearizably, recording the reads in the history; answers
/// the final value of each.
pub async fn final_reads(
    cluster: &Endpoints,
    recorder: &Recorder,
    keys: &[Vec<u8>],
) -> BTreeMap<Vec<u8>, Option<Value>> {
    let mut finals = BTreeMap::new();
    let mut client = Client::new(cluster.addresses.clone(), cluster.token, Duration::from_secs(10));
    for key in keys {
        let invoked_at = recorder.now();
        let completion = match client.get(key.clone()).await {
            Ok(found) => {
                let found = found.map(|bytes| tag_of(&bytes));
                finals.insert(key.clone(), found.clone());
                OpCompletion::Completed { at: recorder.now(), outcome: OpOutcome::Read(found) }
            }
            Err(_) => {
                client = Client::new(cluster.addresses.clone(), cluster.token, Duration::from_secs(10));
                OpCompletion::Unknown
            }
        };
        recorder.record(HistoryEntry {
            client: u64::MAX,
            key: key.clone(),
            op: HistoryOp::Get,
            invoked_at,
            completion,
        });
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
    loop {
        let mut differences = Vec::new();
        for (index, &addr) in cluster.addresses.iter().enumerate() {
            let mut client = Client::new(vec![addr], cluster.token, Duration::from_secs(2));
            for (key, value) in finals {
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
                    Err(error) => differences.push(format!("n{index} did not answer: {error}")),
                }
            }
        }
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

/// Write-once keys acknowledged whose final read is not their value.
pub fn lost_once(acknowledged: &[(Vec<u8>, Value)], finals: &BTreeMap<Vec<u8>, Option<Value>>) -> Vec<String> {
    acknowledged
        .iter()
        .filter(|(key, value)| finals.get(key).and_then(Option::as_ref) != Some(value))
        .map(|(key, value)| {
            format!(
                "{} was acknowledged with {:?} but reads {:?}",
                String::from_utf8_lossy(key),
                value,
                finals.get(key)
            )
        })
        .collect()
}
