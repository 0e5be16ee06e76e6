//! Unit tests of the replicated log on the in-memory test cluster (no simulator).

use crate::NodeId;
use crate::log::{KvOp, KvRequest, KvResponse, KvResult, LogConfig, Replica, Role};
use crate::node::RequestId;
use crate::testing::Cluster;
use crate::time::Duration;

const LATENCY: Duration = Duration::from_millis(2);
const STEPS_MAX: u64 = 2_000_000;

fn config(nodes: u32) -> LogConfig {
    LogConfig::new((0..nodes).map(NodeId::for_index).collect())
}

fn cluster(nodes: u32, seed: u64, tweak: impl Fn(&mut LogConfig)) -> Cluster<Replica> {
    let replicas = (0..nodes)
        .map(|_| {
            let mut config = config(nodes);
            tweak(&mut config);
            Replica::new(config).unwrap()
        })
        .collect();
    Cluster::start(replicas, LATENCY, seed)
}

fn leaders(cluster: &Cluster<Replica>) -> Vec<usize> {
    (0..cluster.nodes.len()).filter(|index| cluster.nodes[*index].0.is_leader()).collect()
}

fn put(key: &str, value: &str) -> KvOp {
    KvOp::Put { key: key.as_bytes().to_vec(), value: value.as_bytes().to_vec() }
}

/// Sends `op` as (client, sequence) to the current leader and drives until it is answered.
fn submit(cluster: &mut Cluster<Replica>, request: u64, client: u64, sequence: u64, op: KvOp) -> KvResponse {
    for _ in 0..50 {
        let leader = leaders(cluster).first().copied();
        let Some(leader) = leader else {
            cluster.drive_for(Duration::from_millis(100), STEPS_MAX);
            continue;
        };
        cluster.request(leader, RequestId(request), KvRequest::Command { client, sequence, op: op.clone() });
        cluster.drive_for(Duration::from_millis(100), STEPS_MAX);
        let replies = std::mem::take(&mut cluster.nodes[leader].1.replies);
        if let Some((_, response)) = replies.into_iter().find(|(id, _)| *id == RequestId(request))
            && matches!(response, KvResponse::Done { .. })
        {
            return response;
        }
    }
    panic!("request {request} was never answered");
}

#[test]
fn three_replicas_elect_one_leader_and_apply_commands_in_the_same_order() {
    let mut cluster = cluster(3, 1, |_| {});
    cluster.drive_for(Duration::from_secs(2), STEPS_MAX);
    assert_eq!(leaders(&cluster).len(), 1, "exactly one leader");
    for sequence in 1..=20 {
        let response =
            submit(&mut cluster, sequence, 7, sequence, put(&format!("k{}", sequence % 4), &sequence.to_string()));
        assert_eq!(response, KvResponse::Done { client: 7, sequence, result: KvResult::Done });
    }
    let read = submit(&mut cluster, 100, 7, 21, KvOp::Get { key: b"k0".to_vec() });
    assert_eq!(read, KvResponse::Done { client: 7, sequence: 21, result: KvResult::Value(Some(b"20".to_vec())) });
    cluster.drive_for(Duration::from_secs(1), STEPS_MAX);
    let first = cluster.nodes[0].0.store().clone();
    for (replica, _) in &cluster.nodes {
        assert_eq!(replica.store(), &first, "replicas diverged");
        assert_eq!(replica.applied_index(), cluster.nodes[0].0.applied_index());
    }
}

#[test]
fn a_retried_command_is_applied_once() {
    let mut cluster = cluster(3, 2, |_| {});
    cluster.drive_for(Duration::from_secs(2), STEPS_MAX);
    let cas = KvOp::CompareAndSet { key: b"x".to_vec(), expected: None, new: Some(b"1".to_vec()) };
    let first = submit(&mut cluster, 1, 9, 1, cas.clone());
    let again = submit(&mut cluster, 2, 9, 1, cas);
    let expected = KvResult::CompareAndSet { succeeded: true, found: None };
    assert_eq!(first, KvResponse::Done { client: 9, sequence: 1, result: expected.clone() });
    assert_eq!(again, KvResponse::Done { client: 9, sequence: 1, result: expected });
}

#[test]
fn followers_refuse_commands_and_name_the_leader() {
    let mut cluster = cluster(3, 3, |_| {});
    cluster.drive_for(Duration::from_secs(2), STEPS_MAX);
    let leader = leaders(&cluster)[0];
    let follower = (leader + 1) % 3;
    cluster.request(follower, RequestId(1), KvRequest::Command { client: 1, sequence: 1, op: put("a", "b") });
    let (_, response) = cluster.nodes[follower].1.replies.pop().unwrap();
    assert_eq!(response, KvResponse::NotLeader { leader: Some(cluster.id(leader)) });
}

#[test]
fn a_cut_leader_is_replaced_and_catches_up_after_healing() {
    let mut cluster = cluster(3, 4, |_| {});
    cluster.drive_for(Duration::from_secs(2), STEPS_MAX);
    let old = leaders(&cluster)[0];
    for sequence in 1..=5 {
        submit(&mut cluster, sequence, 1, sequence, put("k", &sequence.to_string()));
    }
    cluster.cut(old);
    cluster.drive_for(Duration::from_secs(3), STEPS_MAX);
    let new: Vec<usize> = leaders(&cluster).into_iter().filter(|index| *index != old).collect();
    assert_eq!(new.len(), 1, "the majority elected a new leader");
    assert!(!cluster.nodes[old].0.is_leader(), "a leader cut off from the majority steps down");
    for sequence in 6..=10 {
        submit(&mut cluster, sequence, 1, sequence, put("k", &sequence.to_string()));
    }
    cluster.heal(old);
    cluster.drive_for(Duration::from_secs(3), STEPS_MAX);
    let reference = cluster.nodes[new[0]].0.store().clone();
    assert_eq!(reference.get(b"k"), Some(&b"10".to_vec()));
    assert_eq!(cluster.nodes[old].0.store(), &reference, "the old leader caught up");
}

#[test]
fn a_replica_far_behind_installs_a_snapshot() {
    let mut cluster = cluster(3, 5, |config| config.snapshot_threshold = 10);
    cluster.drive_for(Duration::from_secs(2), STEPS_MAX);
    let leader = leaders(&cluster)[0];
    let lagging = (leader + 1) % 3;
    cluster.cut(lagging);
    for sequence in 1..=40 {
        submit(&mut cluster, sequence, 3, sequence, put(&format!("k{sequence}"), "v"));
    }
    assert!(cluster.nodes[leader].0.snapshot_index() >= 10, "the leader compacted its log");
    cluster.heal(lagging);
    cluster.drive_for(Duration::from_secs(3), STEPS_MAX);
    let behind = &cluster.nodes[lagging];
    assert!(behind.1.traces_of("snapshot_installed").len() == 1, "the lagging replica installed a snapshot");
    assert_eq!(behind.0.store(), cluster.nodes[leader].0.store());
}

#[test]
fn a_restarted_replica_remembers_its_promise_and_its_log() {
    let mut cluster = cluster(3, 6, |_| {});
    cluster.drive_for(Duration::from_secs(2), STEPS_MAX);
    for sequence in 1..=5 {
        submit(&mut cluster, sequence, 4, sequence, put("k", &sequence.to_string()));
    }
    cluster.drive_for(Duration::from_millis(500), STEPS_MAX);
    let victim = (leaders(&cluster)[0] + 1) % 3;
    let promised = cluster.nodes[victim].0.promised();
    let applied = cluster.nodes[victim].0.applied_index();
    cluster.restart(victim, Replica::new(config(3)).unwrap());
    let replica = &cluster.nodes[victim].0;
    assert!(replica.recovered());
    assert_eq!(replica.promised(), promised, "the promise survived the restart");
    assert_eq!(replica.applied_index(), applied, "chosen entries were replayed");
    assert_eq!(replica.store().get(b"k"), Some(&b"5".to_vec()));
    assert!(matches!(replica.role(), Role::Follower));
}
