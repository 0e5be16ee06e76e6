//! Unit tests of the replicated log on the in-memory test cluster (no simulator), replicating the
//! records state machine.

use crate::NodeId;
use crate::codec::{Codec, FRAME_PAYLOAD_BYTES_MAX};
use crate::log::{InvalidCommand, LogConfig, LogMessage, LogRequest, LogResponse, Part, Replica, RoleKind};
use crate::metadata::records::{KvOp, KvResult, RecordLimits, Records};
use crate::node::{Node, RequestId};
use crate::testing::Cluster;
use crate::time::Duration;

const LATENCY: Duration = Duration::from_millis(2);
const STEPS_MAX: u64 = 2_000_000;

type RecordsLog = Replica<Records>;

fn config(nodes: u32) -> LogConfig {
    LogConfig::new((0..nodes).map(NodeId::for_index).collect())
}

fn replica(config: LogConfig) -> RecordsLog {
    Replica::new(config, Records::default()).unwrap()
}

fn cluster(nodes: u32, seed: u64, tweak: impl Fn(&mut LogConfig)) -> Cluster<RecordsLog> {
    let replicas = (0..nodes)
        .map(|_| {
            let mut config = config(nodes);
            tweak(&mut config);
            replica(config)
        })
        .collect();
    Cluster::start(replicas, LATENCY, seed)
}

fn leaders(cluster: &Cluster<RecordsLog>) -> Vec<usize> {
    (0..cluster.nodes.len()).filter(|index| cluster.nodes[*index].0.is_leader()).collect()
}

fn put(key: &str, value: &str) -> KvOp {
    KvOp::Put { key: key.as_bytes().to_vec(), value: value.as_bytes().to_vec() }
}

/// Sends `body` to the current leader until it gives a final answer; returns it.
fn ask(
    cluster: &mut Cluster<RecordsLog>,
    request: u64,
    body: LogRequest<KvOp, Vec<u8>>,
) -> LogResponse<KvResult, Option<Vec<u8>>> {
    for _ in 0..50 {
        let Some(leader) = leaders(cluster).first().copied() else {
            cluster.drive_for(Duration::from_millis(100), STEPS_MAX);
            continue;
        };
        cluster.request(leader, RequestId(request), body.clone());
        cluster.drive_for(Duration::from_millis(100), STEPS_MAX);
        let replies = cluster.nodes[leader].1.take_replies();
        if let Some((_, response)) = replies.into_iter().find(|(id, _)| *id == RequestId(request))
            && !matches!(response, LogResponse::NotLeader { .. } | LogResponse::Unknown { .. } | LogResponse::Busy)
        {
            return response;
        }
    }
    panic!("request {request} was never answered");
}

/// Opens a session; returns its id.
fn open(cluster: &mut Cluster<RecordsLog>, request: u64) -> u64 {
    match ask(cluster, request, LogRequest::OpenSession) {
        LogResponse::SessionOpened { client } => client,
        other => panic!("opening a session answered {other:?}"),
    }
}

fn submit(cluster: &mut Cluster<RecordsLog>, request: u64, client: u64, sequence: u64, op: KvOp) -> KvResult {
    match ask(cluster, request, LogRequest::Command { client, sequence, command: op }) {
        LogResponse::Done { client: answered, sequence: numbered, output } => {
            assert_eq!((answered, numbered), (client, sequence));
            output
        }
        other => panic!("command {request} answered {other:?}"),
    }
}

#[test]
fn three_replicas_elect_one_leader_and_apply_commands_in_the_same_order() {
    let mut cluster = cluster(3, 1, |_| {});
    cluster.drive_for(Duration::from_secs(2), STEPS_MAX);
    assert_eq!(leaders(&cluster).len(), 1, "exactly one leader");
    let client = open(&mut cluster, 1000);
    for sequence in 1..=20 {
        let value = sequence.to_string();
        let result = submit(&mut cluster, sequence, client, sequence, put(&format!("k{}", sequence % 4), &value));
        assert_eq!(result, KvResult::Done);
    }
    let read = submit(&mut cluster, 100, client, 21, KvOp::Get { key: b"k0".to_vec() });
    assert_eq!(read, KvResult::Value(Some(b"20".to_vec())));
    cluster.drive_for(Duration::from_secs(1), STEPS_MAX);
    let first = cluster.nodes[0].0.state().clone();
    for (replica, _) in &cluster.nodes {
        assert_eq!(replica.state(), &first, "replicas diverged");
        assert_eq!(replica.applied_index(), cluster.nodes[0].0.applied_index());
    }
}

#[test]
fn a_retried_command_is_applied_once_and_an_unopened_session_is_refused() {
    let mut cluster = cluster(3, 2, |_| {});
    cluster.drive_for(Duration::from_secs(2), STEPS_MAX);
    let client = open(&mut cluster, 1000);
    let cas = KvOp::CompareAndSet { key: b"x".to_vec(), expected: None, new: Some(b"1".to_vec()) };
    let first = submit(&mut cluster, 1, client, 1, cas.clone());
    let again = submit(&mut cluster, 2, client, 1, cas.clone());
    let expected = KvResult::CompareAndSet { succeeded: true, found: None };
    assert_eq!(first, expected);
    assert_eq!(again, expected);
    let unopened = ask(&mut cluster, 3, LogRequest::Command { client: client + 1, sequence: 1, command: cas });
    assert_eq!(unopened, LogResponse::SessionExpired { client: client + 1 });
}

#[test]
fn followers_refuse_commands_and_name_the_leader() {
    let mut cluster = cluster(3, 3, |_| {});
    cluster.drive_for(Duration::from_secs(2), STEPS_MAX);
    let leader = leaders(&cluster)[0];
    let follower = (leader + 1) % 3;
    let body = LogRequest::Command { client: 1, sequence: 1, command: put("a", "b") };
    cluster.request(follower, RequestId(1), body);
    let (_, response) = cluster.nodes[follower].1.take_replies().pop().unwrap();
    assert_eq!(response, LogResponse::NotLeader { leader: Some(cluster.id(leader)) });
}

#[test]
fn oversized_commands_are_refused_before_the_log() {
    let budget = 64 * 1024;
    let mut cluster = cluster(1, 4, |config| *config = config.clone().with_message_budget(budget));
    cluster.drive_for(Duration::from_secs(2), STEPS_MAX);
    let big = LogRequest::Command { client: 1, sequence: 1, command: put("k", &"v".repeat(budget / 2)) };
    let response = ask(&mut cluster, 1, big);
    let LogResponse::Invalid(InvalidCommand::TooLarge { part: Part::Command, bytes, limit }) = response else {
        panic!("an oversized command answered {response:?}");
    };
    assert!(bytes > limit && limit == (budget / 4) as u64);

    // A records store with a small value limit refuses by value, naming the sizes.
    let limits = RecordLimits { key_bytes_max: 16, value_bytes_max: 1024 };
    let small = Replica::new(config(1), Records::new(limits)).unwrap();
    let mut cluster = Cluster::start(vec![small], LATENCY, 5);
    cluster.drive_for(Duration::from_secs(2), STEPS_MAX);
    let response =
        ask(&mut cluster, 2, LogRequest::Command { client: 1, sequence: 1, command: put("k", &"v".repeat(1025)) });
    let LogResponse::Invalid(why) = response else { panic!("{response:?}") };
    assert_eq!(why.to_string(), "value too large: 1025 bytes, limit 1024");
}

#[test]
fn a_cut_leader_is_replaced_and_catches_up_after_healing() {
    let mut cluster = cluster(3, 4, |_| {});
    cluster.drive_for(Duration::from_secs(2), STEPS_MAX);
    let old = leaders(&cluster)[0];
    let client = open(&mut cluster, 1000);
    for sequence in 1..=5 {
        submit(&mut cluster, sequence, client, sequence, put("k", &sequence.to_string()));
    }
    cluster.cut(old);
    cluster.drive_for(Duration::from_secs(3), STEPS_MAX);
    let new: Vec<usize> = leaders(&cluster).into_iter().filter(|index| *index != old).collect();
    assert_eq!(new.len(), 1, "the majority elected a new leader");
    assert!(!cluster.nodes[old].0.is_leader(), "a leader cut off from the majority steps down");
    for sequence in 6..=10 {
        submit(&mut cluster, sequence, client, sequence, put("k", &sequence.to_string()));
    }
    cluster.heal(old);
    cluster.drive_for(Duration::from_secs(3), STEPS_MAX);
    let reference = cluster.nodes[new[0]].0.state().clone();
    assert_eq!(reference.get(b"k"), Some(&b"10".to_vec()));
    assert_eq!(cluster.nodes[old].0.state(), &reference, "the old leader caught up");
}

#[test]
fn a_replica_far_behind_installs_a_snapshot_sent_in_chunks() {
    // Small chunks, so the snapshot of 40 one-kilobyte records takes many.
    let mut cluster = cluster(3, 5, |config| {
        config.snapshot_threshold = 10;
        config.snapshot_chunk_bytes_max = 4 * 1024;
    });
    cluster.drive_for(Duration::from_secs(2), STEPS_MAX);
    let leader = leaders(&cluster)[0];
    let lagging = (leader + 1) % 3;
    cluster.cut(lagging);
    let client = open(&mut cluster, 1000);
    for sequence in 1..=40 {
        submit(&mut cluster, sequence, client, sequence, put(&format!("k{sequence}"), &"v".repeat(1024)));
    }
    assert!(cluster.nodes[leader].0.snapshot_index() >= 10, "the leader compacted its log");
    cluster.heal(lagging);
    cluster.drive_for(Duration::from_secs(3), STEPS_MAX);
    let behind = &cluster.nodes[lagging];
    assert_eq!(behind.1.traces_of("snapshot_installed").len(), 1, "the lagging replica installed a snapshot");
    assert_eq!(behind.0.state(), cluster.nodes[leader].0.state());
    assert_eq!(behind.0.sessions(), cluster.nodes[leader].0.sessions(), "sessions travel with the snapshot");
    // Whoever sent it (the lagging replica may have won an election on its return and fetched the
    // snapshot as a new leader behind it).
    let later_chunks: u64 = cluster
        .nodes
        .iter()
        .map(|(_, cx)| cx.probes.get("log.snapshot_chunk_sent_later").map_or(0, |probe| probe.held))
        .sum();
    assert!(later_chunks > 1, "the snapshot went in several chunks ({later_chunks} after the first)");
}

/// A large state under small writes is not written out every `snapshot_threshold` slots: the next
/// snapshot waits until the entries applied since the last add up to twice its size.
#[test]
fn a_large_state_is_snapshotted_only_after_twice_its_size_in_log_bytes() {
    let mut cluster = cluster(3, 8, |config| config.snapshot_threshold = 10);
    cluster.drive_for(Duration::from_secs(2), STEPS_MAX);
    let client = open(&mut cluster, 1000);
    // A state of about 64 KiB, in 16 entries of 4 KiB: a snapshot follows them.
    for sequence in 1..=16 {
        submit(&mut cluster, sequence, client, sequence, put(&format!("big{sequence}"), &"v".repeat(4096)));
    }
    let leader = leaders(&cluster)[0];
    let after_large = cluster.nodes[leader].0.snapshot_index();
    assert!(after_large >= 10, "the large writes were snapshotted");
    // 100 small puts: ten times the slot threshold, but a few KiB of entries.
    for sequence in 17..=116 {
        submit(&mut cluster, sequence, client, sequence, put("small", &sequence.to_string()));
    }
    let leader = leaders(&cluster)[0];
    assert_eq!(cluster.nodes[leader].0.snapshot_index(), after_large, "small writes did not rewrite the state");
    let waited = cluster.nodes[leader].1.probes.get("log.snapshot_waited_for_log_bytes").map_or(0, |probe| probe.held);
    assert!(waited > 0, "the replica waited for log bytes");
    // Another 128 KiB of entries: the next snapshot is due.
    for sequence in 117..=148 {
        submit(&mut cluster, sequence, client, sequence, put("big1", &"w".repeat(4096)));
    }
    assert!(cluster.nodes[leader].0.snapshot_index() > after_large, "enough log bytes bring the next snapshot");
}

#[test]
fn a_restarted_replica_remembers_its_promise_and_its_log() {
    let mut cluster = cluster(3, 6, |_| {});
    cluster.drive_for(Duration::from_secs(2), STEPS_MAX);
    let client = open(&mut cluster, 1000);
    for sequence in 1..=5 {
        submit(&mut cluster, sequence, client, sequence, put("k", &sequence.to_string()));
    }
    cluster.drive_for(Duration::from_millis(500), STEPS_MAX);
    let victim = (leaders(&cluster)[0] + 1) % 3;
    let promised = cluster.nodes[victim].0.promised();
    let applied = cluster.nodes[victim].0.applied_index();
    cluster.restart(victim, replica(config(3)));
    let replica = &cluster.nodes[victim].0;
    assert!(replica.recovered());
    assert_eq!(replica.promised(), promised, "the promise survived the restart");
    assert_eq!(replica.applied_index(), applied, "chosen entries were replayed");
    assert_eq!(replica.state().get(b"k"), Some(&b"5".to_vec()));
    assert_eq!(replica.role(), RoleKind::Follower);
}

/// The class of the crash a real cluster met: a replica down while 300 values of 100 KB were
/// written, then back. Every message the catch-up takes stays within the log's budget, and so far
/// below the codec's frame limit.
#[test]
fn catching_up_on_large_values_respects_the_message_budget() {
    let mut cluster = cluster(3, 7, |config| config.snapshot_threshold = 10_000);
    cluster.drive_for(Duration::from_secs(2), STEPS_MAX);
    let leader = leaders(&cluster)[0];
    let lagging = (leader + 1) % 3;
    cluster.cut(lagging);
    let client = open(&mut cluster, 1000);
    for sequence in 1..=300 {
        let value = format!("{sequence}{}", "v".repeat(100_000));
        submit(&mut cluster, sequence, client, sequence, put(&format!("k{}", sequence % 7), &value));
    }
    cluster.heal(lagging);
    // Answer the lagging replica's catch-up request by hand and measure what it gets.
    let from_slot = cluster.nodes[lagging].0.commit_index() + 1;
    let (replica, cx) = &mut cluster.nodes[leader];
    let asker = NodeId::for_index(lagging as u32);
    replica.on_message(cx, asker, LogMessage::CatchUp { from_slot });
    let sent = cx.take_sent();
    let [(_, answer)] = sent.as_slice() else { panic!("one catch-up answer: {} messages", sent.len()) };
    let bytes = answer.encode().expect("within the frame limit").len();
    let budget = replica.config().message_bytes_max;
    assert!(bytes <= budget, "a catch-up answer of {bytes} bytes, over the budget of {budget}");
    assert!(budget <= FRAME_PAYLOAD_BYTES_MAX);
    let LogMessage::Chosen { entries, .. } = answer else { panic!("not a catch-up answer: {answer:?}") };
    assert!(entries.len() < 300 && !entries.is_empty(), "{} entries in one answer", entries.len());
    cluster.drive_for(Duration::from_secs(5), STEPS_MAX);
    assert_eq!(cluster.nodes[lagging].0.state(), cluster.nodes[leader].0.state(), "the replica caught up");
}

#[test]
fn a_read_is_answered_by_a_confirmed_leader_and_never_by_a_cut_one() {
    let mut cluster = cluster(3, 5, |_| {});
    cluster.drive_for(Duration::from_secs(2), STEPS_MAX);
    let client = open(&mut cluster, 1000);
    submit(&mut cluster, 1, client, 1, put("k", "old"));
    let read = LogRequest::Read(b"k".to_vec());
    match ask(&mut cluster, 2, read.clone()) {
        LogResponse::Answer { answer, .. } => assert_eq!(answer, Some(b"old".to_vec())),
        other => panic!("a read answered {other:?}"),
    }
    let writes_before = cluster.nodes.iter().map(|(replica, _)| replica.commit_index()).max();
    // A leader cut off from its followers cannot confirm that it still leads: the read waits, and
    // is answered "not the leader" when the leader steps down, never with a value.
    let old = leaders(&cluster)[0];
    cluster.cut(old);
    cluster.request(old, RequestId(3), read.clone());
    cluster.drive_for(Duration::from_millis(10), STEPS_MAX);
    assert!(cluster.nodes[old].1.take_replies().is_empty(), "an unconfirmed read was answered");
    cluster.drive_for(Duration::from_secs(2), STEPS_MAX);
    let replies = cluster.nodes[old].1.take_replies();
    assert!(
        replies.iter().all(|(_, response)| matches!(response, LogResponse::NotLeader { .. })),
        "the cut leader answered {replies:?}"
    );
    assert!(!replies.is_empty(), "the cut leader never answered the read");
    submit(&mut cluster, 4, client, 2, put("k", "new"));
    // Reads write nothing to the log.
    let writes_after = cluster.nodes.iter().map(|(replica, _)| replica.commit_index()).max();
    assert_eq!(writes_after, writes_before.map(|index| index + 1), "only the second put was written");
    match ask(&mut cluster, 5, read) {
        LogResponse::Answer { answer, .. } => assert_eq!(answer, Some(b"new".to_vec())),
        other => panic!("a read answered {other:?}"),
    }
}
