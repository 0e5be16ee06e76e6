//! `PangeaNode` as a whole: what it does when its storage fails.

use super::*;
use crate::log::{LogRequest, LogResponse};
use crate::metadata::records::KvOp;
use crate::metadata::{MetadataCommand, MetadataOutput};
use crate::testing::Cluster;
use crate::time::Duration;

const STEPS_MAX: u64 = 100_000;

fn single_node() -> Cluster<PangeaNode> {
    let node = PangeaNode::new(PangeaConfig::new(vec![NodeId::for_index(0)])).expect("valid");
    let mut cluster = Cluster::start(vec![node], Duration::from_millis(1), 7);
    cluster.drive_for(Duration::from_secs(2), STEPS_MAX);
    assert!(cluster.nodes[0].0.log().is_leader(), "a single node elects itself");
    cluster
}

/// Asks node 0 `body` and drives until it answers.
fn ask(cluster: &mut Cluster<PangeaNode>, id: u64, body: PangeaRequest) -> PangeaResponse {
    cluster.request(0, RequestId(id), body);
    cluster.drive_for(Duration::from_millis(200), STEPS_MAX);
    let replies = cluster.nodes[0].1.take_replies();
    replies.into_iter().find(|(request, _)| *request == RequestId(id)).map(|(_, response)| response).expect("answered")
}

fn open_session(cluster: &mut Cluster<PangeaNode>, id: u64) -> u64 {
    match ask(cluster, id, PangeaRequest::Log(LogRequest::OpenSession)) {
        PangeaResponse::Log(LogResponse::SessionOpened { client }) => client,
        other => panic!("opening a session answered {other:?}"),
    }
}

fn put(client: u64, sequence: u64, key: &str) -> PangeaRequest {
    let op = KvOp::Put { key: key.as_bytes().to_vec(), value: b"v".to_vec() };
    PangeaRequest::Log(LogRequest::Command { client, sequence, command: MetadataCommand::Records(op) })
}

#[test]
fn a_failed_storage_refuses_writes_with_the_cause_then_reopens_and_the_node_resumes() {
    let mut cluster = single_node();
    let client = open_session(&mut cluster, 1);
    let done = ask(&mut cluster, 2, put(client, 1, "before"));
    assert!(matches!(done, PangeaResponse::Log(LogResponse::Done { output: MetadataOutput::Records(_), .. })));

    // The disk fills: the next write fails, poisons the store, and the node says why.
    cluster.nodes[0].1.storage.full = true;
    let first = ask(&mut cluster, 3, put(client, 2, "during"));
    assert!(
        matches!(first, PangeaResponse::Log(LogResponse::Unknown { .. } | LogResponse::NotLeader { .. })),
        "the command in flight when the store failed is answered, not left to time out: {first:?}"
    );
    let StorageStatus::Failing { cause, .. } = cluster.nodes[0].0.storage_status().clone() else {
        panic!("the node did not notice its storage failed");
    };
    assert!(cause.starts_with("disk full"), "{cause}");
    match ask(&mut cluster, 4, put(client, 2, "during")) {
        PangeaResponse::Node(NodeResponse::CannotWrite { node, cause }) => {
            assert_eq!(node, NodeId::for_index(0));
            assert!(cause.starts_with("disk full"), "{cause}");
        }
        other => panic!("a write to a node whose disk is full answered {other:?}"),
    }
    // What does not need the log is still answered.
    let status = ask(&mut cluster, 5, PangeaRequest::Node(NodeRequest::Status));
    let PangeaResponse::Node(NodeResponse::Status(view)) = status else { panic!("{status:?}") };
    assert!(matches!(view.storage, StorageStatus::Failing { .. }));

    // While the disk stays full, each reopen rebuilds the node, whose first write fails again, and
    // the waits between reopens grow.
    cluster.drive_for(Duration::from_secs(5), STEPS_MAX);
    let reopened = cluster.nodes[0].1.traces_of(storage_watch::STORAGE_REOPENED).len();
    assert!((3..=12).contains(&reopened), "{reopened} reopens in 5 s of back-off");

    // Space returns: within the longest back-off the node has reopened, rebuilt itself, and serves.
    cluster.nodes[0].1.storage.full = false;
    cluster.drive_for(storage_watch::REOPEN_BACKOFF_MAX + Duration::from_secs(1), STEPS_MAX);
    assert_eq!(cluster.nodes[0].0.storage_status(), &StorageStatus::Healthy);
    assert!(cluster.nodes[0].0.log().is_leader());
    let client = open_session(&mut cluster, 6);
    let done = ask(&mut cluster, 7, put(client, 1, "after"));
    assert!(matches!(done, PangeaResponse::Log(LogResponse::Done { .. })), "{done:?}");
    let records = cluster.nodes[0].0.metadata().records();
    assert!(records.get(b"before").is_some() && records.get(b"after").is_some());
}
