//! Unit tests of the membership subsystem, driven by hand through [`TestContext`] or as a small
//! [`Cluster`], without the simulator.

use super::store::{BOOT_KEY, PEER_PREFIX};
use super::*;
use crate::node::state_digest;
use crate::storage::Storage;
use crate::testing::{Cluster, TestContext};
use crate::time::Instant;

const SEED: u64 = 0x5eed;

fn node_id(index: u32) -> NodeId {
    NodeId::for_index(index)
}

fn millis(milliseconds: u64) -> Instant {
    Instant::from_nanos(milliseconds * 1_000_000)
}

fn config_with(bootstrap: Vec<NodeId>) -> HealthConfig {
    HealthConfig { bootstrap, ..HealthConfig::default() }
}

/// Node 0 with `config`, started at time zero on empty storage.
fn started(config: HealthConfig) -> (Membership, TestContext<Membership>) {
    let mut node = Membership::new(config).expect("test configurations are valid");
    let mut cx = TestContext::new(node_id(0), SEED);
    node.on_start(&mut cx);
    (node, cx)
}

/// Crashes node 0 and starts a fresh `Membership` with `config` on the same storage at `now`.
fn restarted(cx: &mut TestContext<Membership>, config: HealthConfig, now: Instant) -> Membership {
    cx.crash();
    cx.now = now;
    let mut node = Membership::new(config).expect("test configurations are valid");
    node.on_start(cx);
    node
}

fn message(incarnation: u64, gossip: Vec<Update>, kind: MessageKind) -> MembershipMessage {
    MembershipMessage { incarnation, gossip, kind }
}

fn ping(sequence: u64) -> MessageKind {
    MessageKind::Ping { sequence, boot: 1, sent_at_nanos: 0 }
}

fn stored_boot(cx: &TestContext<Membership>) -> Option<u64> {
    cx.storage.peek(TABLE, BOOT_KEY).map(|bytes| u64::from_le_bytes(bytes.as_slice().try_into().expect("8 bytes")))
}

fn stored_peers(cx: &TestContext<Membership>) -> Vec<NodeId> {
    cx.storage
        .keys_of(TABLE)
        .into_iter()
        .filter_map(|key| key.strip_prefix(PEER_PREFIX).map(|id| NodeId(id.try_into().expect("32-byte peer key"))))
        .collect()
}

fn known_ids(node: &Membership) -> Vec<NodeId> {
    node.peers().map(|(id, _)| *id).collect()
}

fn sorted(mut ids: Vec<NodeId>) -> Vec<NodeId> {
    ids.sort();
    ids
}

/// The kinds of the messages sent since last asked, with their recipients.
fn sent_kinds(cx: &mut TestContext<Membership>) -> Vec<(NodeId, MessageKind)> {
    cx.take_sent().into_iter().map(|(to, message)| (to, message.kind)).collect()
}

#[test]
fn start_counts_boots_restores_peers_unjudged_and_joins_through_the_bootstrap_peers() {
    let config = config_with(vec![node_id(1)]);
    let (mut node, mut cx) = started(config.clone());
    assert_eq!(node.boot(), 1);
    assert_eq!(stored_boot(&cx), Some(1));
    assert_eq!(known_ids(&node), vec![node_id(1)]);
    assert_eq!(node.health_of(&node_id(1)), Some(Health::Suspect));
    assert!(!node.peer(&node_id(1)).expect("tracked").judged);
    let sent = sent_kinds(&mut cx);
    assert!(
        matches!(sent.as_slice(), [(to, MessageKind::Sync { reply: false, members })]
        if *to == node_id(1) && members[0].node == node_id(0)),
        "{sent:?}"
    );

    // Peer 1 answers with a member list: both become alive, and are saved at the next tick.
    cx.now = millis(100);
    let members = vec![
        Update { node: node_id(1), incarnation: 0, judgement: Judgement::Alive },
        Update { node: node_id(2), incarnation: 3, judgement: Judgement::Alive },
        Update { node: node_id(9), incarnation: 0, judgement: Judgement::Dead { by: node_id(1) } },
    ];
    node.on_message(&mut cx, node_id(1), message(0, Vec::new(), MessageKind::Sync { reply: true, members }));
    assert_eq!(node.health_of(&node_id(1)), Some(Health::Alive));
    assert_eq!(node.health_of(&node_id(2)), Some(Health::Alive));
    assert_eq!(node.peer(&node_id(2)).map(|peer| peer.incarnation), Some(3));
    // A rumour of an unknown member's death is tracked too, so that a stale "alive" cannot revive it.
    assert_eq!(node.health_of(&node_id(9)), Some(Health::Dead));
    let stale = Update { node: node_id(9), incarnation: 0, judgement: Judgement::Alive };
    node.on_message(&mut cx, node_id(2), message(3, vec![stale], MessageKind::Gossip));
    assert_eq!(node.health_of(&node_id(9)), Some(Health::Dead), "alive at the same incarnation loses");
    node.on_timer(&mut cx, MembershipTimer::Tick);
    assert_eq!(stored_peers(&cx), sorted(vec![node_id(1), node_id(2), node_id(9)]));

    // Health is not kept across a restart; the ids are, and a new bootstrap peer is added.
    let config = config_with(vec![node_id(1), node_id(3)]);
    let node = restarted(&mut cx, config, millis(10_000));
    assert_eq!(node.boot(), 2);
    assert_eq!(stored_boot(&cx), Some(2));
    assert_eq!(known_ids(&node), sorted(vec![node_id(1), node_id(2), node_id(3), node_id(9)]));
    for (id, peer) in node.peers() {
        assert_eq!((peer.health, peer.judged), (Health::Suspect, false), "{id} after restart");
        assert_eq!(peer.known_since, millis(10_000));
    }
    assert_eq!(cx.probes["membership.restart_restored_peers"].held, 1);
    assert!(cx.traces_of("storage_error").is_empty());
}

#[test]
fn a_ping_is_acked_and_an_ack_gives_a_round_trip_sample() {
    let (mut node, mut cx) = started(config_with(vec![node_id(1)]));
    cx.take_sent();
    node.on_message(&mut cx, node_id(1), message(4, Vec::new(), ping(7)));
    let sent = sent_kinds(&mut cx);
    assert_eq!(sent, vec![(node_id(1), MessageKind::Ack { sequence: 7, echo_boot: 1, echo_sent_at_nanos: 0 })]);
    assert_eq!(node.peer(&node_id(1)).map(|peer| (peer.health, peer.incarnation)), Some((Health::Alive, 4)));

    // This node's own probe of peer 1, answered 30 ms later.
    node.on_timer(&mut cx, MembershipTimer::Tick);
    let Some((to, MessageKind::Ping { sequence, boot, sent_at_nanos })) = sent_kinds(&mut cx).pop() else {
        panic!("the tick probes peer 1")
    };
    assert_eq!(to, node_id(1));
    cx.now += Duration::from_millis(30);
    let ack = MessageKind::Ack { sequence, echo_boot: boot, echo_sent_at_nanos: sent_at_nanos };
    node.on_message(&mut cx, node_id(1), message(4, Vec::new(), ack));
    assert_eq!(
        node.peer(&node_id(1)).and_then(|peer| peer.rtt).map(|rtt| rtt.smoothed),
        Some(Duration::from_millis(30))
    );
    node.on_timer(&mut cx, MembershipTimer::Tick);
    assert_eq!(node.stats().failed_probes, 0);
}

/// Node 0 knowing peers 1 to 4 as alive, its next probe sent and its ack withheld.
fn probing(config: HealthConfig) -> (Membership, TestContext<Membership>, NodeId, u64) {
    let (mut node, mut cx) = started(config);
    for peer in 1..=4 {
        node.on_message(&mut cx, node_id(peer), message(0, Vec::new(), MessageKind::Gossip));
    }
    cx.take_sent();
    node.on_timer(&mut cx, MembershipTimer::Tick);
    let Some((target, MessageKind::Ping { sequence, .. })) = sent_kinds(&mut cx).pop() else { panic!("no probe") };
    (node, cx, target, sequence)
}

#[test]
fn an_unanswered_probe_goes_indirect_then_suspects_then_declares_dead() {
    let (mut node, mut cx, target, sequence) = probing(HealthConfig::default());
    node.on_timer(&mut cx, MembershipTimer::ProbeTimeout { sequence });
    let asked: Vec<NodeId> = sent_kinds(&mut cx)
        .into_iter()
        .filter(|(_, kind)| *kind == MessageKind::PingRequest { sequence, target })
        .map(|(helper, _)| helper)
        .collect();
    assert_eq!(asked.len(), 3, "k = 3 helpers, the target not among them");
    assert!(!asked.contains(&target));

    // Two helpers nack, one is silent: the probe fails, and Lifeguard counts the missing nack.
    for helper in &asked[..2] {
        node.on_message(&mut cx, *helper, message(0, Vec::new(), MessageKind::Nack { sequence, target }));
    }
    cx.now = millis(1000);
    node.on_timer(&mut cx, MembershipTimer::Tick);
    assert_eq!(node.health_of(&target), Some(Health::Suspect));
    assert_eq!(node.awareness(), 1);
    let suspicion = node.peer(&target).and_then(|peer| peer.suspicion.clone()).expect("a running suspicion");
    assert_eq!(suspicion.timeout(), node.config().suspicion_max(5));
    let told = sent_kinds(&mut cx);
    assert!(told.iter().any(|(to, kind)| *to == target && matches!(kind, MessageKind::Ping { sequence: 0, .. })));

    // Another node's independent suspicion confirms it and shortens it.
    let confirm = Update { node: target, incarnation: 0, judgement: Judgement::Suspect { by: asked[0] } };
    node.on_message(&mut cx, asked[0], message(0, vec![confirm], MessageKind::Gossip));
    let shorter = node.peer(&target).and_then(|peer| peer.suspicion.clone()).expect("still running");
    assert!(shorter.deadline() < suspicion.deadline());
    cx.now = shorter.deadline();
    node.on_timer(&mut cx, MembershipTimer::Suspicion { peer: target });
    assert_eq!(node.health_of(&target), Some(Health::Dead));
    assert_eq!(node.stats().deaths_declared, 1);
    assert_eq!(
        node.take_notifications().last(),
        Some(&MembershipNotification::HealthChanged { peer: target, health: Health::Dead })
    );
}

#[test]
fn a_judgement_of_its_own_owes_one_gossip_round_and_waiting_news_alone_none() {
    let gossip_rounds = |node: &mut Membership, cx: &mut TestContext<Membership>| {
        node.on_timer(cx, MembershipTimer::Gossip);
        sent_kinds(cx).into_iter().filter(|(_, kind)| *kind == MessageKind::Gossip).count()
    };
    let (mut node, mut cx, _, sequence) = probing(HealthConfig::default());
    assert!(node.gossip_queued() > 0);
    assert_eq!(gossip_rounds(&mut node, &mut cx), 0, "news waits, but none of this node's own");
    node.on_timer(&mut cx, MembershipTimer::ProbeTimeout { sequence });
    cx.now = millis(1000);
    node.on_timer(&mut cx, MembershipTimer::Tick);
    cx.take_sent();
    assert_eq!(gossip_rounds(&mut node, &mut cx), 2, "its suspicion goes to gossip_fanout peers");
    assert!(node.gossip_queued() > 0);
    assert_eq!(gossip_rounds(&mut node, &mut cx), 0, "the round is paid");
}

/// A member accused by gossip with `judgement` (made by node 1) is pinged with the judgement
/// piggybacked each period until it refutes; the ping carries a judgement that `reminds`.
fn accused_is_reminded_each_period(judgement: Judgement, health: Health, reminds: fn(&Judgement) -> bool) {
    let (mut node, mut cx) = started(HealthConfig::default());
    for peer in 1..=4 {
        node.on_message(&mut cx, node_id(peer), message(0, Vec::new(), MessageKind::Gossip));
    }
    cx.now = millis(5_000);
    let accused = node_id(2);
    let accusation = Update { node: accused, incarnation: 0, judgement };
    node.on_message(&mut cx, node_id(1), message(0, vec![accusation], MessageKind::Gossip));
    assert_eq!(node.health_of(&accused), Some(health));
    for _ in 0..3 {
        cx.take_sent();
        node.on_timer(&mut cx, MembershipTimer::Tick);
        let pings: Vec<_> = cx
            .take_sent()
            .into_iter()
            .filter(|(to, sent)| *to == accused && matches!(sent.kind, MessageKind::Ping { .. }))
            .collect();
        // Probed or reminded; a suspect whose probe just failed is also told at once.
        assert!((1..=2).contains(&pings.len()), "reminded each period, by one ping or two: {}", pings.len());
        for (_, ping) in &pings {
            let first = ping.gossip.first().expect("a judgement piggybacked");
            assert!(first.node == accused && first.incarnation == 0 && reminds(&first.judgement), "{first:?} first");
        }
    }
    // Its refutation (an ack at a higher incarnation, say) ends the reminders.
    node.on_message(&mut cx, accused, message(1, Vec::new(), MessageKind::Gossip));
    assert_eq!(node.health_of(&accused), Some(Health::Alive));
    cx.take_sent();
    node.on_timer(&mut cx, MembershipTimer::Tick);
    assert!(cx.take_sent().iter().filter(|(to, _)| *to == accused).count() <= 1, "at most its turn as a probe");
}

#[test]
fn each_period_a_member_held_dead_is_reminded_of_it() {
    let by = node_id(1);
    accused_is_reminded_each_period(Judgement::Dead { by }, Health::Dead, |judgement| {
        *judgement == Judgement::Dead { by: node_id(0) }
    });
}

#[test]
fn each_period_a_member_held_suspect_is_reminded_of_it() {
    let by = node_id(1);
    accused_is_reminded_each_period(Judgement::Suspect { by }, Health::Suspect, |judgement| {
        matches!(judgement, Judgement::Suspect { .. })
    });
}

#[test]
fn an_indirect_ack_saves_a_peer_from_suspicion() {
    let (mut node, mut cx, target, sequence) = probing(HealthConfig::default());
    node.on_timer(&mut cx, MembershipTimer::ProbeTimeout { sequence });
    let helper = sent_kinds(&mut cx)
        .into_iter()
        .find(|(_, kind)| matches!(kind, MessageKind::PingRequest { .. }))
        .expect("asked")
        .0;
    let answer = MessageKind::IndirectAck { sequence, target, target_incarnation: 0 };
    node.on_message(&mut cx, helper, message(0, Vec::new(), answer));
    node.on_timer(&mut cx, MembershipTimer::Tick);
    assert_eq!(node.health_of(&target), Some(Health::Alive));
    assert_eq!(node.awareness(), 0);
}

#[test]
fn a_helper_relays_the_ack_or_nacks_in_time() {
    let (mut node, mut cx) = started(HealthConfig::default());
    let (origin, target) = (node_id(1), node_id(2));
    node.on_message(&mut cx, origin, message(0, Vec::new(), MessageKind::PingRequest { sequence: 9, target }));
    let Some((to, MessageKind::Ping { sequence: relayed, .. })) = sent_kinds(&mut cx).pop() else { panic!("no relay") };
    assert_eq!(to, target);
    let ack = MessageKind::Ack { sequence: relayed, echo_boot: 1, echo_sent_at_nanos: 0 };
    node.on_message(&mut cx, target, message(5, Vec::new(), ack));
    assert_eq!(
        sent_kinds(&mut cx),
        vec![(origin, MessageKind::IndirectAck { sequence: 9, target, target_incarnation: 5 })]
    );

    node.on_message(&mut cx, origin, message(0, Vec::new(), MessageKind::PingRequest { sequence: 10, target }));
    let Some((_, MessageKind::Ping { sequence: relayed, .. })) = sent_kinds(&mut cx).pop() else { panic!("no relay") };
    node.on_timer(&mut cx, MembershipTimer::RelayTimeout { sequence: relayed });
    assert_eq!(sent_kinds(&mut cx), vec![(origin, MessageKind::Nack { sequence: 10, target })]);
}

#[test]
fn a_node_refutes_a_suspicion_of_itself_and_newer_incarnations_win() {
    let (mut node, mut cx) = started(HealthConfig::default());
    let me = node_id(0);
    let accusation = Update { node: me, incarnation: 0, judgement: Judgement::Suspect { by: node_id(1) } };
    node.on_message(&mut cx, node_id(1), message(0, vec![accusation], MessageKind::Gossip));
    assert_eq!(node.incarnation(), 1);
    assert_eq!(node.stats().refutations, 1);
    let refutation = Update { node: me, incarnation: 1, judgement: Judgement::Alive };
    let answers: Vec<_> = cx.take_sent().into_iter().filter(|(to, _)| *to == node_id(1)).collect();
    assert_eq!(answers.len(), 1, "the accuser is answered at once");
    assert_eq!(answers[0].1.gossip.first(), Some(&refutation), "with the refutation first");
    // An old accusation is not refuted again, but once the refutation has died out it is spread
    // again at the same incarnation.
    node.on_message(&mut cx, node_id(1), message(0, vec![accusation], MessageKind::Gossip));
    assert_eq!(node.incarnation(), 1);
    node.gossip = Dissemination::default();
    node.on_message(&mut cx, node_id(1), message(0, vec![accusation], MessageKind::Gossip));
    assert_eq!(node.incarnation(), 1);
    assert_eq!(node.gossip.take(16, 1, None), vec![refutation]);

    // Of a peer: a suspicion at its incarnation holds against alive at the same one, and falls to
    // alive at a higher one; a stale death is ignored.
    let peer = node_id(2);
    let judge = |node: &mut Membership, cx: &mut TestContext<Membership>, incarnation, judgement| {
        node.on_message(
            cx,
            node_id(1),
            message(0, vec![Update { node: peer, incarnation, judgement }], MessageKind::Gossip),
        );
        node.peer(&peer).map(|tracked| (tracked.health, tracked.incarnation))
    };
    assert_eq!(judge(&mut node, &mut cx, 2, Judgement::Alive), Some((Health::Alive, 2)));
    assert_eq!(judge(&mut node, &mut cx, 2, Judgement::Suspect { by: node_id(1) }), Some((Health::Suspect, 2)));
    assert_eq!(judge(&mut node, &mut cx, 2, Judgement::Alive), Some((Health::Suspect, 2)));
    assert_eq!(judge(&mut node, &mut cx, 3, Judgement::Alive), Some((Health::Alive, 3)));
    assert_eq!(judge(&mut node, &mut cx, 2, Judgement::Dead { by: node_id(1) }), Some((Health::Alive, 3)));
    assert_eq!(judge(&mut node, &mut cx, 3, Judgement::Dead { by: node_id(1) }), Some((Health::Dead, 3)));
    assert_eq!(judge(&mut node, &mut cx, 3, Judgement::Suspect { by: node_id(1) }), Some((Health::Dead, 3)));
}

#[test]
fn tracked_peers_are_pinned_and_make_room_in_a_full_table() {
    let config = HealthConfig { peers_max: 2, ..HealthConfig::default() };
    let (mut node, mut cx) = started(config);
    for peer in 1..=3 {
        node.on_message(&mut cx, node_id(peer), message(0, Vec::new(), MessageKind::Gossip));
    }
    assert_eq!(known_ids(&node).len(), 2, "the third is ignored");
    node.track(&mut cx, &[node_id(7)]);
    assert!(node.peer(&node_id(7)).is_some_and(|peer| peer.pinned));
    assert_eq!(known_ids(&node).len(), 2, "one learned by gossip made room");
}

#[test]
fn a_full_disk_is_survived_and_the_save_retried_on_a_later_tick() {
    let config = config_with(vec![node_id(1)]);
    let mut node = Membership::new(config.clone()).expect("valid");
    let mut cx = TestContext::new(node_id(0), SEED);
    cx.storage.full = true;
    node.on_start(&mut cx);
    assert!(cx.traces_of("storage_error")[0].starts_with("saving peers: disk full"));
    assert_eq!(cx.probes["membership.disk_full"].held, 1);
    assert!(cx.storage.keys_of(TABLE).is_empty(), "a refused write changes nothing");
    node.on_message(&mut cx, node_id(2), message(0, Vec::new(), ping(1)));
    assert_eq!(known_ids(&node), sorted(vec![node_id(1), node_id(2)]));

    cx.storage.full = false;
    cx.storage.reopen().expect("a test storage reopens");
    node.on_timer(&mut cx, MembershipTimer::Tick);
    assert_eq!(stored_peers(&cx), known_ids(&node));
    assert_eq!(stored_boot(&cx), Some(1), "the boot counter is saved once the disk has room");
    let node = restarted(&mut cx, config, millis(60_000));
    assert_eq!(node.boot(), 2);
}

#[test]
fn the_largest_message_fits_its_byte_budget() {
    use crate::codec::Codec;
    let config = HealthConfig::default();
    let worst = Update {
        node: NodeId([0xff; 32]),
        incarnation: u64::MAX,
        judgement: Judgement::Dead { by: NodeId([0xff; 32]) },
    };
    let message = MembershipMessage {
        incarnation: u64::MAX,
        gossip: vec![worst; config.piggyback_max],
        kind: MessageKind::Sync { reply: true, members: vec![worst; config.sync_entries_max] },
    };
    let bytes = message.encode().expect("encodes").len();
    assert!(bytes <= config.message_bytes_max(), "{bytes} bytes over a budget of {}", config.message_bytes_max());
    assert!(
        bytes * 10 >= config.message_bytes_max() * 9,
        "the budget is tight: {bytes} of {}",
        config.message_bytes_max()
    );
}

/// Five nodes: node 0 knows nobody, the others only node 0.
fn five_nodes(seed: u64) -> Cluster<Membership> {
    let nodes = (0..5)
        .map(|index| {
            let bootstrap = if index == 0 { Vec::new() } else { vec![node_id(0)] };
            Membership::new(config_with(bootstrap)).expect("valid")
        })
        .collect();
    Cluster::start(nodes, Duration::from_millis(10), seed)
}

fn health_seen(cluster: &Cluster<Membership>, observer: usize, target: usize) -> Option<Health> {
    cluster.nodes[observer].0.health_of(&cluster.id(target))
}

const STEPS_MAX: u64 = 100_000;

#[test]
fn a_cluster_finds_its_members_detects_a_cut_node_and_welcomes_it_back() {
    let mut cluster = five_nodes(SEED);
    let config = HealthConfig::default();
    cluster.drive_for(config.probe_interval * 4, STEPS_MAX);
    for observer in 0..5 {
        assert_eq!(cluster.nodes[observer].0.peers().count(), 4, "node {observer} knows everyone else");
        for target in (0..5).filter(|target| *target != observer) {
            assert_eq!(health_seen(&cluster, observer, target), Some(Health::Alive), "{observer} sees {target}");
        }
    }

    cluster.cut(4);
    // Probed within a round (4 periods), suspected, dead within the longest suspicion.
    cluster.drive_for(config.probe_interval * 6 + config.suspicion_max(5), STEPS_MAX);
    for observer in 0..4 {
        assert_eq!(health_seen(&cluster, observer, 4), Some(Health::Dead), "{observer} sees the cut node");
        for target in (0..4).filter(|target| *target != observer) {
            assert_eq!(health_seen(&cluster, observer, target), Some(Health::Alive), "no false death");
        }
    }

    cluster.heal(4);
    cluster.drive_for(config.probe_interval * 8, STEPS_MAX);
    for observer in 0..5 {
        for target in (0..5).filter(|target| *target != observer) {
            assert_eq!(health_seen(&cluster, observer, target), Some(Health::Alive), "{observer} sees {target}");
        }
    }
    assert!(cluster.nodes[4].0.incarnation() >= 1, "the cut node refuted its death");
}

#[test]
fn a_cluster_run_is_a_function_of_its_seed() {
    let run = |seed: u64| {
        let mut cluster = five_nodes(seed);
        cluster.drive_for(Duration::from_secs(5), STEPS_MAX);
        cluster.cut(1);
        cluster.drive_for(Duration::from_secs(10), STEPS_MAX);
        cluster
            .nodes
            .iter()
            .map(|(node, cx)| (state_digest(node), cx.traces(), cx.storage.keys_of(TABLE)))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(SEED), run(SEED));
    assert_ne!(run(SEED), run(SEED + 1));
}

#[test]
fn a_stranger_is_news_unless_it_joins_by_a_full_state_exchange() {
    let (mut node, mut cx) = started(HealthConfig::default());
    let queued = node.gossip_queued();
    let join = MessageKind::Sync { reply: false, members: Vec::new() };
    node.on_message(&mut cx, node_id(1), message(0, Vec::new(), join));
    assert_eq!(node.health_of(&node_id(1)), Some(Health::Alive));
    assert_eq!(node.gossip_queued(), queued, "a joiner is announced by the exchanges that follow");
    node.on_message(&mut cx, node_id(2), message(0, Vec::new(), ping(1)));
    assert_eq!(node.health_of(&node_id(2)), Some(Health::Alive));
    assert_eq!(node.gossip_queued(), queued + 1, "a stranger that pings is passed on");
    assert_eq!(cx.probes["membership.stranger_announced"].held, 1);
}

#[test]
fn an_accusation_by_a_member_held_dead_is_not_adopted() {
    let (mut node, mut cx) = started(HealthConfig::default());
    for peer in 1..=3 {
        node.on_message(&mut cx, node_id(peer), message(0, Vec::new(), MessageKind::Gossip));
    }
    let (accuser, witness, accused) = (node_id(1), node_id(2), node_id(3));
    cx.now = millis(5_000);
    let death = Update { node: accuser, incarnation: 0, judgement: Judgement::Dead { by: witness } };
    node.on_message(&mut cx, witness, message(0, vec![death], MessageKind::Gossip));
    assert_eq!(node.health_of(&accuser), Some(Health::Dead));
    // The dead accuser's word (relayed by the witness) is doubted; a live accuser's is not.
    let doubtful = Update { node: accused, incarnation: 0, judgement: Judgement::Suspect { by: accuser } };
    node.on_message(&mut cx, witness, message(0, vec![doubtful], MessageKind::Gossip));
    assert_eq!(node.health_of(&accused), Some(Health::Alive));
    assert_eq!(cx.probes["membership.accuser_doubted"].held, 1);
    let credible = Update { node: accused, incarnation: 0, judgement: Judgement::Suspect { by: witness } };
    node.on_message(&mut cx, witness, message(0, vec![credible], MessageKind::Gossip));
    assert_eq!(node.health_of(&accused), Some(Health::Suspect));
}

#[test]
fn a_burst_of_deaths_tells_one_member_at_once_and_the_latest_other_first_at_the_next_period() {
    let (mut node, mut cx) = started(HealthConfig::default());
    for peer in 1..=6 {
        node.on_message(&mut cx, node_id(peer), message(0, Vec::new(), MessageKind::Gossip));
    }
    let accused = [node_id(2), node_id(3), node_id(4)];
    for peer in accused {
        let suspicion = Update { node: peer, incarnation: 0, judgement: Judgement::Suspect { by: node_id(1) } };
        node.on_message(&mut cx, node_id(1), message(0, vec![suspicion], MessageKind::Gossip));
    }
    cx.now = millis(120_000);
    cx.take_sent();
    for peer in accused {
        node.on_timer(&mut cx, MembershipTimer::Suspicion { peer });
        assert_eq!(node.health_of(&peer), Some(Health::Dead));
    }
    let told: Vec<NodeId> = sent_kinds(&mut cx).into_iter().map(|(to, _)| to).collect();
    assert_eq!(told, vec![accused[0]], "only the first death of the period is told at once");
    node.on_timer(&mut cx, MembershipTimer::Tick);
    let reminded: Vec<NodeId> = sent_kinds(&mut cx)
        .into_iter()
        .filter(|(_, kind)| matches!(kind, MessageKind::Ping { sequence: 0, .. }))
        .map(|(to, _)| to)
        .collect();
    assert!(reminded.len() <= 1, "one dead member reminded a period, however many died: {reminded:?}");
    let probed_the_latest = node.probe.as_ref().is_some_and(|probe| probe.target == accused[2]);
    assert!(probed_the_latest || reminded == vec![accused[2]], "the latest death goes first: {reminded:?}");
}

#[test]
fn a_death_at_an_older_incarnation_has_the_member_probed_out_of_turn() {
    let (mut node, mut cx) = started(HealthConfig::default());
    for peer in 1..=20 {
        node.on_message(&mut cx, node_id(peer), message(0, Vec::new(), MessageKind::Gossip));
    }
    // Node 2 refutes a suspicion (incarnation 1), then goes quiet; node 1 still holds it at 0.
    let member = node_id(2);
    node.on_message(&mut cx, member, message(1, Vec::new(), MessageKind::Gossip));
    cx.now = millis(5_000);
    let stale_death = Update { node: member, incarnation: 0, judgement: Judgement::Dead { by: node_id(1) } };
    node.on_message(&mut cx, node_id(1), message(0, vec![stale_death], MessageKind::Gossip));
    assert_eq!(node.health_of(&member), Some(Health::Alive), "an older death is not adopted");
    node.on_timer(&mut cx, MembershipTimer::Tick);
    assert_eq!(node.probe.as_ref().map(|probe| probe.target), Some(member), "probed out of turn");
    assert!(cx.probes.get(names::probes::PROBED_OUT_OF_TURN).is_some_and(|probe| probe.held > 0));

    // Heard from within the last period: no probe out of turn.
    let other = node_id(3);
    node.on_message(&mut cx, other, message(1, Vec::new(), MessageKind::Gossip));
    let stale_death = Update { node: other, incarnation: 0, judgement: Judgement::Dead { by: node_id(1) } };
    node.on_message(&mut cx, node_id(1), message(0, vec![stale_death], MessageKind::Gossip));
    assert_eq!(node.out_of_turn, None);
}

#[test]
fn an_unanswered_exchange_is_followed_by_another_until_one_is_answered() {
    let (mut node, mut cx) = started(HealthConfig::default());
    for peer in 1..=4 {
        node.on_message(&mut cx, node_id(peer), message(0, Vec::new(), MessageKind::Gossip));
    }
    let exchanges_begun = |cx: &mut TestContext<Membership>| -> Vec<NodeId> {
        sent_kinds(cx)
            .into_iter()
            .filter(|(_, kind)| matches!(kind, MessageKind::Sync { reply: false, .. }))
            .map(|(to, _)| to)
            .collect()
    };
    cx.take_sent();
    node.on_timer(&mut cx, MembershipTimer::Sync);
    assert_eq!(exchanges_begun(&mut cx).len(), 1);
    cx.now = millis(1_000);
    node.on_timer(&mut cx, MembershipTimer::Tick);
    assert!(exchanges_begun(&mut cx).is_empty(), "it waits two periods for the answer");
    cx.now = millis(2_000);
    node.on_timer(&mut cx, MembershipTimer::Tick);
    let retried = exchanges_begun(&mut cx);
    assert_eq!(retried.len(), 1, "unanswered: another exchange");
    let answer = MessageKind::Sync { reply: true, members: Vec::new() };
    node.on_message(&mut cx, retried[0], message(0, Vec::new(), answer));
    cx.now = millis(5_000);
    node.on_timer(&mut cx, MembershipTimer::Tick);
    assert!(exchanges_begun(&mut cx).is_empty(), "answered: none until the next scheduled one");
}
