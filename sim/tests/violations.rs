//! What the kernel itself holds against a node, whatever the scenario checks: a message over the
//! run's byte budget or the codec's frame limit is dropped and recorded, and so is an invariant the
//! node reports broken (`pangea_core::node::invariant`) — a node must never panic on a peer's input,
//! so such breaches reach the run's outcome this way.

use pangea_core::codec::FRAME_PAYLOAD_BYTES_MAX;
use pangea_core::node::invariant;
use pangea_core::{Context, Duration, Instant, Node, NodeId, RequestId};
use pangea_sim::{FaultPlan, Sim, SimConfig, SimViolationKind};
use serde::{Deserialize, Serialize};

/// A message of a chosen size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Blob {
    #[serde(with = "serde_bytes")]
    bytes: Vec<u8>,
}

pangea_core::serde_codec!(Blob, family = 200, version = 1);

/// What a test asks the node to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Ask {
    /// Send a blob of this many bytes to node 1.
    Send(usize),
    /// Report a broken invariant.
    Break,
}

pangea_core::serde_codec!(Ask, family = 201, version = 1);

/// The answer: done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Done;

pangea_core::serde_codec!(Done, family = 202, version = 1);

/// Counts the blobs it receives.
#[derive(Clone, Debug, Default, Hash)]
struct Sender {
    received: u64,
}

impl Node for Sender {
    type Message = Blob;
    type Timer = ();
    type Request = Ask;
    type Response = Done;

    fn on_start(&mut self, _cx: &mut dyn Context<Self>) {}

    fn on_message(&mut self, _cx: &mut dyn Context<Self>, _from: NodeId, _message: Blob) {
        self.received += 1;
    }

    fn on_timer(&mut self, _cx: &mut dyn Context<Self>, _timer: ()) {}

    fn on_client(&mut self, cx: &mut dyn Context<Self>, request: RequestId, body: Ask) {
        match body {
            Ask::Send(size) => cx.send(NodeId::for_index(1), Blob { bytes: vec![7; size] }),
            Ask::Break => {
                invariant(cx, false, "the test's invariant", || "broken on purpose".to_owned());
            }
        }
        cx.reply(request, Done);
    }
}

fn sim(message_bytes_max: Option<usize>) -> Sim<Sender> {
    let plan = FaultPlan::none(1_000_000);
    let mut config = SimConfig::new(1, 2, plan);
    config.message_bytes_max = message_bytes_max;
    Sim::new(config, |_| Sender::default())
}

fn received(sim: &Sim<Sender>) -> u64 {
    sim.node(1).map_or(0, |node| node.received)
}

#[test]
fn a_message_over_the_budget_is_dropped_and_recorded() {
    let mut sim = sim(Some(4096));
    sim.client_request(0, &Ask::Send(1000));
    sim.client_request(0, &Ask::Send(5000));
    sim.run_until(Instant::ZERO + Duration::from_secs(1)).unwrap();
    assert_eq!(received(&sim), 1, "only the message within the budget arrives");
    let [violation] = sim.violations() else { panic!("{:?}", sim.violations()) };
    assert_eq!(violation.node, 0);
    let SimViolationKind::MessageOverBudget { family, bytes, limit } = &violation.kind else { panic!("{violation:?}") };
    assert_eq!((*family, *limit), (200, 4096));
    assert!(*bytes > 5000);
}

#[test]
fn a_message_over_the_frame_limit_is_recorded_not_a_panic() {
    let mut sim = sim(None);
    sim.client_request(0, &Ask::Send(FRAME_PAYLOAD_BYTES_MAX + 1));
    sim.run_until(Instant::ZERO + Duration::from_secs(1)).unwrap();
    assert_eq!(received(&sim), 0);
    let [violation] = sim.violations() else { panic!("{:?}", sim.violations()) };
    assert!(matches!(violation.kind, SimViolationKind::Unencodable { .. }), "{violation:?}");
}

#[test]
fn a_reported_invariant_is_recorded() {
    let mut sim = sim(None);
    sim.client_request(1, &Ask::Break);
    sim.run_until(Instant::ZERO + Duration::from_secs(1)).unwrap();
    let [violation] = sim.violations() else { panic!("{:?}", sim.violations()) };
    assert_eq!(violation.node, 1);
    assert!(violation.kind.to_string().contains("the test's invariant: broken on purpose"), "{violation:?}");
}
