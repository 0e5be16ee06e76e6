//! Transport tests on real loopback UDP. Nothing waits on a clock for synchronisation: every wait
//! is for an event (a message, a close, a counter change), bounded by [`WAIT`].

use super::*;
use crate::client::ClientConn;
use crate::identity::ClusterKey;
use crate::verify::ServerIdVerifier;
use std::collections::BTreeSet;

/// Upper bound on any single wait; generous, since CI machines are shared.
const WAIT: Duration = Duration::from_secs(20);

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn cluster(byte: u8) -> Admission {
    Admission::ClusterKey(ClusterKey([byte; 32]))
}

struct Node {
    transport: Transport,
    inbound: mpsc::Receiver<Inbound>,
    id: NodeId,
    addr: SocketAddr,
}

fn start(identity: &Identity, admission: Admission) -> Node {
    let (transport, inbound) = Transport::bind(loopback(), identity, admission).unwrap();
    let addr = transport.local_addr().unwrap();
    Node { transport, inbound, id: identity.node_id(), addr }
}

fn start_in(admission: Admission) -> Node {
    start(&Identity::generate(&admission).unwrap(), admission)
}

async fn next_peer(node: &mut Node) -> (NodeId, SocketAddr, Vec<u8>) {
    match tokio::time::timeout(WAIT, node.inbound.recv()).await {
        Ok(Some(Inbound::Peer { from, addr, bytes })) => (from, addr, bytes),
        Ok(Some(Inbound::Client { .. })) => panic!("expected a peer message, got a client request"),
        Ok(None) => panic!("inbound channel closed"),
        Err(_) => panic!("no peer message within {WAIT:?}"),
    }
}

async fn await_refusal(node: &Node, at_least: u64) {
    let mut refused = node.transport.watch_refused();
    tokio::time::timeout(WAIT, refused.wait_for(|count| *count >= at_least))
        .await
        .expect("no refusal in time")
        .expect("refusal counter gone");
}

/// Answers client requests with `echo:` and the request.
fn serve_echo(node: Node) -> (Transport, SocketAddr, NodeId) {
    let Node { transport, mut inbound, id, addr } = node;
    tokio::spawn(async move {
        while let Some(message) = inbound.recv().await {
            if let Inbound::Client { request, reply } = message {
                let _ = reply.send([b"echo:".as_slice(), &request].concat());
            }
        }
    });
    (transport, addr, id)
}

async fn assert_exchange(a: &mut Node, b: &mut Node, tag: &str) {
    assert_eq!(a.transport.send(b.addr, format!("{tag} a->b").into_bytes()), SendOutcome::Queued);
    let (from, addr, bytes) = next_peer(b).await;
    assert_eq!((from, addr, bytes), (a.id, a.addr, format!("{tag} a->b").into_bytes()));
    assert_eq!(b.transport.send(a.addr, format!("{tag} b->a").into_bytes()), SendOutcome::Queued);
    let (from, addr, bytes) = next_peer(a).await;
    assert_eq!((from, addr, bytes), (b.id, b.addr, format!("{tag} b->a").into_bytes()));
}

#[tokio::test]
async fn same_cluster_key_peers_exchange_both_ways_in_order() {
    let mut a = start_in(cluster(1));
    let mut b = start_in(cluster(1));
    assert_exchange(&mut a, &mut b, "first").await;
    for index in 0u32..50 {
        assert_eq!(a.transport.send(b.addr, index.to_be_bytes().to_vec()), SendOutcome::Queued);
    }
    for index in 0u32..50 {
        assert_eq!(next_peer(&mut b).await.2, index.to_be_bytes().to_vec());
    }
    assert_eq!((a.transport.refused(), b.transport.refused()), (0, 0));
    assert_eq!(a.transport.send(b.addr, vec![0; FRAME_BYTES_MAX + 1]), SendOutcome::TooLarge);
}

#[tokio::test]
async fn a_different_cluster_key_is_refused_both_ways() {
    let mut member = start_in(cluster(1));
    let mut other_member = start_in(cluster(1));
    let outsider = start_in(cluster(2));
    // The dialling side judges the server's certificate first, so it is the one that refuses.
    let _ = outsider.transport.send(member.addr, b"let me in".to_vec());
    await_refusal(&outsider, 1).await;
    let _ = member.transport.send(outsider.addr, b"who are you".to_vec());
    await_refusal(&member, 1).await;
    // The member still serves its cluster, and nothing of the outsider's came through.
    let _ = other_member.transport.send(member.addr, b"hello".to_vec());
    assert_eq!(next_peer(&mut member).await.0, other_member.id);
    assert_exchange(&mut member, &mut other_member, "after").await;
}

#[tokio::test]
async fn pinned_ids_admit_listed_peers_only() {
    let a_identity = Identity::generate(&Admission::Pinned(BTreeSet::new())).unwrap();
    let b_identity = Identity::generate(&Admission::Pinned(BTreeSet::new())).unwrap();
    let c_identity = Identity::generate(&Admission::Pinned(BTreeSet::new())).unwrap();
    let (a_id, b_id, c_id) = (a_identity.node_id(), b_identity.node_id(), c_identity.node_id());
    let mut a = start(&a_identity, Admission::Pinned(BTreeSet::from([b_id])));
    let mut b = start(&b_identity, Admission::Pinned(BTreeSet::from([a_id, c_id])));
    // C accepts A's certificate, so the refusal is A's, as a server judging a client certificate.
    let c = start(&c_identity, Admission::Pinned(BTreeSet::from([a_id])));
    let _ = c.transport.send(a.addr, b"from c".to_vec());
    await_refusal(&a, 1).await;
    assert_eq!(c.transport.refused(), 0);
    assert_exchange(&mut a, &mut b, "pinned").await;
    assert_eq!(b.transport.refused(), 0);
}

#[tokio::test]
async fn a_peer_connection_without_a_certificate_is_closed_and_counted() {
    let node = start_in(cluster(1));
    let verifier = Arc::new(ServerIdVerifier::new(None, tls::provider()));
    let config = tls::client_config(ALPN_PEER, None, verifier).unwrap();
    let endpoint = quinn::Endpoint::client(loopback()).unwrap();
    let connection =
        tokio::time::timeout(WAIT, endpoint.connect_with(config, node.addr, SERVER_NAME).unwrap()).await.unwrap();
    if let Ok(connection) = connection {
        let reason = tokio::time::timeout(WAIT, connection.closed()).await.unwrap();
        assert!(
            matches!(&reason, quinn::ConnectionError::ApplicationClosed(close) if close.error_code == CLOSE_REFUSED.into()),
            "{reason:?}"
        );
    }
    await_refusal(&node, 1).await;
}

#[tokio::test]
async fn client_request_round_trip() {
    let (_transport, addr, id) = serve_echo(start_in(cluster(1)));
    let client = ClientConn::connect(addr, Some(id)).await.unwrap();
    assert_eq!(client.server_id(), Some(id));
    for request in [b"hello".as_slice(), b"", &[7; 100_000]] {
        let response = tokio::time::timeout(WAIT, client.request(request)).await.unwrap().unwrap();
        assert_eq!(response, [b"echo:".as_slice(), request].concat());
    }
    let anyone = crate::client::connect(addr, None).await.unwrap();
    assert_eq!(tokio::time::timeout(WAIT, anyone.request(b"x")).await.unwrap().unwrap(), b"echo:x".to_vec());
    assert!(ClientConn::connect(addr, Some(NodeId([0; 32]))).await.is_err());
}

#[tokio::test]
async fn a_request_stream_with_a_second_frame_is_refused() {
    let (_transport, addr, id) = serve_echo(start_in(cluster(1)));
    let verifier = Arc::new(ServerIdVerifier::new(Some(id), tls::provider()));
    let config = tls::client_config(ALPN_CLIENT, None, verifier).unwrap();
    let endpoint = quinn::Endpoint::client(loopback()).unwrap();
    let connection = endpoint.connect_with(config, addr, SERVER_NAME).unwrap().await.unwrap();
    let (mut send, mut receive) = connection.open_bi().await.unwrap();
    write_frame(&mut send, b"one").await.unwrap();
    write_frame(&mut send, b"two").await.unwrap();
    send.finish().unwrap();
    let reason = tokio::time::timeout(WAIT, connection.closed()).await.unwrap();
    assert!(
        matches!(&reason, quinn::ConnectionError::ApplicationClosed(close) if close.error_code == CLOSE_BAD_FRAME.into()),
        "{reason:?}"
    );
    assert!(read_frame(&mut receive).await.is_err(), "no answer came");
}

#[tokio::test]
async fn garbage_datagrams_do_not_stop_the_endpoint() {
    let mut a = start_in(cluster(1));
    let mut b = start_in(cluster(1));
    let socket = tokio::net::UdpSocket::bind(loopback()).await.unwrap();
    let mut long_header = vec![0xc0, 0, 0, 0, 1, 8];
    long_header.extend((0..1400u32).map(|index| (index * 31 % 251) as u8));
    let junk: [&[u8]; 5] = [&[], &[0], &[0x40; 40], &[0xff; 1500], &long_header];
    for datagram in junk {
        socket.send_to(datagram, a.addr).await.unwrap();
    }
    assert_exchange(&mut a, &mut b, "after junk").await;
    assert_eq!(a.transport.refused(), 0);
}

#[tokio::test]
async fn an_oversized_frame_closes_only_its_connection() {
    let admission = cluster(1);
    let mut a = start_in(admission.clone());
    let mut b = start_in(admission.clone());
    let rogue = Identity::generate(&admission).unwrap();
    let verifier = Arc::new(PeerVerifier::new(admission, tls::provider(), Arc::new(watch::Sender::new(0))));
    let config = tls::client_config(ALPN_PEER, Some(&rogue), verifier).unwrap();
    let endpoint = quinn::Endpoint::client(loopback()).unwrap();
    let connection = endpoint.connect_with(config, a.addr, SERVER_NAME).unwrap().await.unwrap();
    let mut stream = connection.open_uni().await.unwrap();
    write_frame(&mut stream, b"fine").await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stream, &u32::MAX.to_be_bytes()).await.unwrap();
    assert_eq!(next_peer(&mut a).await, (rogue.node_id(), endpoint.local_addr().unwrap(), b"fine".to_vec()));
    let reason = tokio::time::timeout(WAIT, connection.closed()).await.unwrap();
    assert!(
        matches!(&reason, quinn::ConnectionError::ApplicationClosed(close) if close.error_code == CLOSE_BAD_FRAME.into()),
        "{reason:?}"
    );
    assert_exchange(&mut a, &mut b, "after bad frame").await;
}

#[tokio::test]
async fn a_restarted_peer_is_reached_again() {
    let admission = cluster(1);
    let mut a = start_in(admission.clone());
    let b_identity = Identity::generate(&admission).unwrap();
    let mut b = start(&b_identity, admission.clone());
    assert_exchange(&mut a, &mut b, "before restart").await;
    let b_addr = b.addr;
    drop(b);
    // The old socket is released once quinn's driver has wound down: retry the bind, bounded.
    let mut restarted = None;
    for _ in 0..200 {
        match Transport::bind(b_addr, &b_identity, admission.clone()) {
            Ok((transport, inbound)) => {
                restarted = Some(Node { transport, inbound, id: b_identity.node_id(), addr: b_addr });
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    let mut b = restarted.expect("could not rebind the restarted peer's address");
    // Messages may be lost while the old connection is found dead (the transport promises no
    // delivery), so send until one arrives, each wait bounded.
    let mut delivered = false;
    for attempt in 0u32..20 {
        let _ = a.transport.send(b.addr, attempt.to_be_bytes().to_vec());
        if let Ok(Some(Inbound::Peer { from, .. })) =
            tokio::time::timeout(Duration::from_millis(500), b.inbound.recv()).await
        {
            assert_eq!(from, a.id);
            delivered = true;
            break;
        }
    }
    assert!(delivered, "the restarted peer never received a message");
}

/// A peer that dials again (after a crash its old connection is dead, though nothing said so) is
/// answered on a new connection: the link to it is dropped before its first message goes up.
#[tokio::test]
async fn a_peer_that_dials_again_is_answered_on_a_new_connection() {
    let mut a = start_in(cluster(1));
    let mut b = start_in(cluster(1));
    assert_exchange(&mut a, &mut b, "first").await;
    let senders = |node: &Node| node.transport.links.senders.lock().unwrap().keys().copied().collect::<Vec<_>>();
    assert_eq!(senders(&a), vec![b.addr]);
    // b dials again, as a restarted b would.
    b.transport.links.senders.lock().unwrap().remove(&a.addr);
    assert_eq!(b.transport.send(a.addr, b"again".to_vec()), SendOutcome::Queued);
    let (from, _, bytes) = next_peer(&mut a).await;
    assert_eq!((from, bytes), (b.id, b"again".to_vec()));
    assert!(senders(&a).is_empty(), "a kept its old link to b");
    assert_exchange(&mut a, &mut b, "second").await;
}
