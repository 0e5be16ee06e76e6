//! The DHT against small clusters (the harness in `crate::testing`) and its routing table against
//! a brute-force model.

use super::*;
use crate::testing::{Cluster, TestContext};
use crate::time::Instant;
use proptest::prelude::*;

const STEPS_MAX: u64 = 1_000_000;

fn config(k: usize, bootstrap: Vec<NodeId>) -> DhtConfig {
    DhtConfig { k, alpha: 2, bootstrap, refresh_every: Duration::from_secs(30), ..DhtConfig::default() }
}

/// `count` nodes, every one bootstrapped from node 0, after `settle` of joining.
fn cluster(count: usize, k: usize, settle: Duration) -> Cluster<Dht> {
    let first = NodeId::for_index(0);
    let nodes = (0..count)
        .map(|index| {
            let bootstrap = if index == 0 { Vec::new() } else { vec![first] };
            Dht::new(config(k, bootstrap)).expect("valid settings")
        })
        .collect();
    let mut cluster = Cluster::start(nodes, Duration::from_millis(5), 11);
    cluster.drive_for(settle, STEPS_MAX);
    cluster
}

fn true_closest(cluster: &Cluster<Dht>, target: &Key, k: usize, except: usize, alive: &[usize]) -> Vec<NodeId> {
    let mut ids: Vec<NodeId> =
        alive.iter().copied().filter(|index| *index != except).map(|index| cluster.id(index)).collect();
    ids.sort_by_key(|id| target.distance(&Key::from(id)));
    ids.truncate(k);
    ids
}

fn find(cluster: &mut Cluster<Dht>, from: usize, target: Key, request: u64) -> (Vec<NodeId>, u32) {
    cluster.request(from, RequestId(request), DhtRequest::FindNode { target });
    cluster.drive_for(Duration::from_secs(10), STEPS_MAX);
    let replies = cluster.nodes[from].1.take_replies();
    match replies.as_slice() {
        [(id, DhtResponse::Closest { peers, hops, .. })] if *id == RequestId(request) => (peers.clone(), *hops),
        other => panic!("node {from} answered {other:?}"),
    }
}

#[test]
fn nodes_joining_through_one_contact_find_the_true_closest_of_every_id() {
    let mut cluster = cluster(16, 4, Duration::from_secs(5));
    let everyone: Vec<usize> = (0..16).collect();
    for (index, (dht, _)) in cluster.nodes.iter().enumerate() {
        dht.table().check().unwrap_or_else(|why| panic!("node {index}: {why}"));
        assert!(dht.table().len() >= 4, "node {index} knows only {} contacts", dht.table().len());
    }
    for target in 0..16 {
        let from = (target + 7) % 16;
        let key = Key::from(cluster.id(target));
        let (peers, hops) = find(&mut cluster, from, key, target as u64 + 1);
        assert_eq!(peers, true_closest(&cluster, &key, 4, from, &everyone), "lookup of node {target} from {from}");
        assert!((1..=4).contains(&hops), "{hops} hops");
    }
}

#[test]
fn a_silent_node_is_evicted_reported_and_left_out_of_answers() {
    let mut cluster = cluster(12, 4, Duration::from_secs(5));
    cluster.cut(3);
    let silent = cluster.id(3);
    let alive: Vec<usize> = (0..12).filter(|index| *index != 3).collect();
    for round in 0..6 {
        let from = alive[round % alive.len()];
        let key = Key::from(silent);
        let (peers, _) = find(&mut cluster, from, key, 100 + round as u64);
        assert!(!peers.contains(&silent), "the silent node was returned");
        assert_eq!(peers, true_closest(&cluster, &key, 4, from, &alive));
    }
    let reported: usize = cluster
        .nodes
        .iter_mut()
        .map(|(dht, _)| {
            let notes = dht.take_notifications();
            notes.iter().filter(|note| **note == DhtNotification::Unresponsive { peer: silent }).count()
        })
        .sum();
    assert!(reported > 0, "nobody reported the silent node");
    let still_known = cluster.nodes.iter().filter(|(dht, _)| dht.table().contains(&silent)).count();
    assert!(still_known < 11, "every node still has the silent node");
}

#[test]
fn a_record_put_at_one_node_is_found_from_another_and_an_oversized_one_is_refused() {
    let mut cluster = cluster(10, 4, Duration::from_secs(5));
    let key = Key(*blake3::hash(b"record").as_bytes());
    cluster.request(1, RequestId(1), DhtRequest::Put { key, value: b"hello".to_vec() });
    cluster.drive_for(Duration::from_secs(10), STEPS_MAX);
    assert_eq!(cluster.nodes[1].1.take_replies(), vec![(RequestId(1), DhtResponse::Stored { replicas: 4 })]);
    cluster.request(8, RequestId(2), DhtRequest::Get { key });
    cluster.drive_for(Duration::from_secs(10), STEPS_MAX);
    match cluster.nodes[8].1.take_replies().as_slice() {
        [(_, DhtResponse::Value { value: Some(value), .. })] => assert_eq!(value, b"hello"),
        other => panic!("{other:?}"),
    }
    let missing = Key([9; 32]);
    cluster.request(8, RequestId(3), DhtRequest::Get { key: missing });
    cluster.drive_for(Duration::from_secs(10), STEPS_MAX);
    assert!(matches!(cluster.nodes[8].1.take_replies().as_slice(), [(_, DhtResponse::Value { value: None, .. })]));
    let limit = DhtConfig::default().value_bytes_max;
    cluster.request(2, RequestId(4), DhtRequest::Put { key, value: vec![0; limit + 1] });
    assert!(matches!(
        cluster.nodes[2].1.take_replies().as_slice(),
        [(_, DhtResponse::Refused(DhtRefusal::ValueTooLarge { .. }))]
    ));
}

#[test]
fn answers_to_no_query_or_from_the_wrong_peer_change_nothing() {
    let mut dht = Dht::new(config(4, vec![NodeId::for_index(1)])).expect("valid");
    let mut cx: TestContext<Dht> = TestContext::new(NodeId::for_index(0), 1);
    dht.on_start(&mut cx);
    let sent = cx.take_sent();
    let (to, query) = match sent.as_slice() {
        [(to, DhtMessage { query, body: DhtBody::FindNode { .. }, .. })] => (*to, *query),
        other => panic!("{other:?}"),
    };
    assert_eq!(to, NodeId::for_index(1));
    let flood: Vec<Peer> = (2..200).map(|index| Peer { id: NodeId::for_index(index), address: None }).collect();
    let answer = DhtMessage { query, address: None, body: DhtBody::Nodes { closer: flood } };
    dht.on_message(&mut cx, NodeId::for_index(7), answer.clone());
    dht.on_message(&mut cx, to, DhtMessage { query: query + 1000, ..answer.clone() });
    assert_eq!(dht.stats().stray_answers, 2);
    // The right peer's answer counts, cut to k peers per answer.
    dht.on_message(&mut cx, to, answer);
    let queried: Vec<NodeId> = cx.take_sent().into_iter().map(|(to, _)| to).collect();
    assert!(queried.len() <= 4, "{queried:?}");
}

#[test]
fn a_full_bucket_pings_its_oldest_contact_and_keeps_it_when_it_answers() {
    let me = NodeId::for_index(0);
    let mut table = RoutingTable::new(me, 2);
    // Find three ids in bucket 0 of `me`.
    let same_bucket: Vec<NodeId> =
        (1..200).map(NodeId::for_index).filter(|id| table.bucket_of(&Key::from(id)) == Some(0)).take(3).collect();
    assert_eq!(table.observe(same_bucket[0], false), Observed::Added);
    assert_eq!(table.observe(same_bucket[1], false), Observed::Added);
    assert_eq!(table.observe(same_bucket[2], false), Observed::PingHead { head: same_bucket[0] });
    table.probe_answered(same_bucket[0]);
    assert!(table.contains(&same_bucket[0]) && !table.contains(&same_bucket[2]));
    // Asked again, the newcomer waits for the (now) oldest; when that one fails, it takes its place.
    assert_eq!(table.observe(same_bucket[2], false), Observed::PingHead { head: same_bucket[1] });
    assert_eq!(table.probe_failed(same_bucket[1]), Some(same_bucket[2]));
    assert!(!table.contains(&same_bucket[1]) && table.contains(&same_bucket[2]));
    table.check().expect("consistent");
    let _ = Instant::ZERO;
}

/// What a test does to a routing table.
#[derive(Clone, Debug)]
enum Step {
    Observe(u32),
    ProbeAnswered,
    ProbeFailed,
    Failed(u32),
    Remove(u32),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..64u32).prop_map(Step::Observe),
        1 => Just(Step::ProbeAnswered),
        1 => Just(Step::ProbeFailed),
        1 => (0..64u32).prop_map(Step::Failed),
        1 => (0..64u32).prop_map(Step::Remove),
    ]
}

/// The model of one bucket: contacts least recently seen first, the waiting newcomer, and the
/// contact being pinged.
#[derive(Debug, Default)]
struct ModelBucket {
    contacts: Vec<NodeId>,
    replacement: Option<NodeId>,
    probing: Option<NodeId>,
}

impl ModelBucket {
    fn remove(&mut self, id: NodeId, k: usize) {
        if self.replacement == Some(id) {
            self.replacement = None;
        }
        let Some(position) = self.contacts.iter().position(|known| *known == id) else { return };
        self.contacts.remove(position);
        if self.probing == Some(id) {
            self.probing = None;
        }
        if let Some(newcomer) = self.replacement.take()
            && self.contacts.len() < k
            && !self.contacts.contains(&newcomer)
        {
            self.contacts.push(newcomer);
        }
    }
}

proptest! {
    /// Against a model of Kademlia's bucket rules: the table holds exactly the model's contacts,
    /// pings the model's oldest contact, and its closest are the brute-force closest of them.
    #[test]
    fn the_routing_table_matches_a_brute_force_model(steps in proptest::collection::vec(step(), 1..200), target in any::<[u8; 32]>()) {
        let k = 3;
        let me = NodeId::for_index(1000);
        let mut table = RoutingTable::new(me, k);
        let mut model: BTreeMap<usize, ModelBucket> = BTreeMap::new();
        for step in steps {
            match step {
                Step::Observe(index) => {
                    let id = NodeId::for_index(index);
                    let bucket = model.entry(table.bucket_of(&Key::from(id)).expect("not me")).or_default();
                    let outcome = table.observe(id, false);
                    if let Some(position) = bucket.contacts.iter().position(|known| *known == id) {
                        prop_assert_eq!(outcome, Observed::Refreshed);
                        bucket.contacts.remove(position);
                        bucket.contacts.push(id);
                    } else if bucket.contacts.len() < k {
                        prop_assert_eq!(outcome, Observed::Added);
                        bucket.contacts.push(id);
                    } else {
                        bucket.replacement = Some(id);
                        if bucket.probing.is_some() {
                            prop_assert_eq!(outcome, Observed::Waiting);
                        } else {
                            prop_assert_eq!(outcome, Observed::PingHead { head: bucket.contacts[0] });
                            bucket.probing = Some(bucket.contacts[0]);
                        }
                    }
                }
                Step::ProbeAnswered | Step::ProbeFailed => {
                    let Some(bucket) = model.values_mut().find(|bucket| bucket.probing.is_some()) else { continue };
                    let head = bucket.probing.take().expect("found probing");
                    if matches!(step, Step::ProbeAnswered) {
                        table.probe_answered(head);
                        let position = bucket.contacts.iter().position(|known| *known == head).expect("a pinged head is held");
                        bucket.contacts.remove(position);
                        bucket.contacts.push(head);
                    } else {
                        let expected = bucket.replacement.filter(|newcomer| !bucket.contacts.contains(newcomer));
                        prop_assert_eq!(table.probe_failed(head), expected);
                        bucket.remove(head, k);
                    }
                }
                Step::Failed(index) | Step::Remove(index) => {
                    let id = NodeId::for_index(index);
                    let bucket = model.entry(table.bucket_of(&Key::from(id)).expect("not me")).or_default();
                    let held = bucket.contacts.contains(&id);
                    if matches!(step, Step::Remove(_)) {
                        table.remove(&id);
                    } else {
                        prop_assert_eq!(table.failed(&id, 1), held);
                    }
                    bucket.remove(id, k);
                }
            }
            table.check().map_err(TestCaseError::fail)?;
            let mut held: Vec<NodeId> = table.contacts().map(|contact| contact.id).collect();
            let mut expected: Vec<NodeId> = model.values().flat_map(|bucket| bucket.contacts.iter()).copied().collect();
            held.sort_unstable();
            expected.sort_unstable();
            prop_assert_eq!(&held, &expected);
        }
        let target = Key(target);
        let mut expected: Vec<NodeId> = model.values().flat_map(|bucket| bucket.contacts.iter()).copied().collect();
        expected.sort_by_key(|id| target.distance(&Key::from(id)));
        expected.truncate(5);
        prop_assert_eq!(table.closest(&target, 5, None), expected);
    }
}

/// Any message a peer could send, built from a few ids and keys so that answers sometimes match
/// the queries in flight.
fn peer_message() -> impl Strategy<Value = (u32, DhtMessage)> {
    let id = (0..8u32).prop_map(NodeId::for_index);
    let key =
        prop_oneof![(0..8u32).prop_map(|index| Key::from(NodeId::for_index(index))), any::<[u8; 32]>().prop_map(Key)];
    let peers = proptest::collection::vec(
        (id.clone(), proptest::option::of("[a-z:0-9]{0,200}")).prop_map(|(id, address)| Peer { id, address }),
        0..80,
    );
    let record = (key.clone(), proptest::collection::vec(any::<u8>(), 0..40_000), id)
        .prop_map(|(key, value, publisher)| Record { key, value, publisher });
    let body = prop_oneof![
        Just(DhtBody::Ping),
        Just(DhtBody::Pong),
        key.clone().prop_map(|target| DhtBody::FindNode { target }),
        peers.clone().prop_map(|closer| DhtBody::Nodes { closer }),
        key.prop_map(|key| DhtBody::FindValue { key }),
        (proptest::option::of(record.clone()), peers).prop_map(|(record, closer)| DhtBody::Value { record, closer }),
        (record, any::<u64>()).prop_map(|(record, ttl_ms)| DhtBody::Store { record, ttl_ms }),
        any::<bool>().prop_map(|kept| DhtBody::Stored { kept }),
    ];
    (1..8u32, 0..12u64, proptest::option::of("[a-z:0-9]{0,300}"), body)
        .prop_map(|(from, query, address, body)| (from, DhtMessage { query, address, body }))
}

proptest! {
    /// No message from a peer — answers to queries in flight or not, lists over k, addresses and
    /// values over the limits — makes the DHT panic or break its table's invariants.
    #[test]
    fn no_peer_message_breaks_the_dht(messages in proptest::collection::vec(peer_message(), 1..60)) {
        let bootstrap = (1..4).map(NodeId::for_index).collect();
        let mut dht = Dht::new(config(4, bootstrap)).expect("valid");
        let mut cx: TestContext<Dht> = TestContext::new(NodeId::for_index(0), 3);
        dht.on_start(&mut cx);
        dht.on_client(&mut cx, RequestId(1), DhtRequest::Get { key: Key([5; 32]) });
        for (step, (from, message)) in messages.into_iter().enumerate() {
            cx.now = Instant::from_nanos(step as u64 * 100_000_000);
            dht.on_message(&mut cx, NodeId::for_index(from), message);
            if step % 7 == 0 {
                dht.on_timer(&mut cx, DhtTimer::Tick);
            }
            dht.table().check().map_err(TestCaseError::fail)?;
            prop_assert!(dht.addresses().len() <= ADDRESSES_MAX);
            prop_assert!(dht.addresses().values().all(|address| address.len() <= config::ADDRESS_BYTES_MAX));
        }
    }
}
