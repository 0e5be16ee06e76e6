//! Prometheus metrics: counters, gauges and one latency histogram, kept in atomics by the event
//! loop and served as the text exposition format on `--metrics ADDR` (`GET /metrics`, or any path).
//!
//! Hand-written rather than a metrics crate: a dozen atomics and one histogram need no registry.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// The count.
    #[must_use]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }

    /// The value.
    #[must_use]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Upper bounds of the latency buckets, in microseconds.
pub const LATENCY_BUCKETS_US: [u64; 14] =
    [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 5_000_000];

/// A latency histogram with fixed buckets.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS_US.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, elapsed: std::time::Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        if let Some(index) = LATENCY_BUCKETS_US.iter().position(|bound| us <= *bound) {
            self.buckets[index].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Observations so far.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// Everything the node measures.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Peer messages sent.
    pub messages_sent: Counter,
    /// Peer messages dropped because the destination's address is unknown.
    pub messages_unroutable: Counter,
    /// Peer messages dropped by the transport (its queue full) or that could not be encoded.
    pub messages_dropped: Counter,
    /// Invariants the node reported broken (each also logged as an error).
    pub invariant_violations: Counter,
    /// Peer messages received.
    pub messages_received: Counter,
    /// Peer messages that failed the codec's checks.
    pub messages_malformed: Counter,
    /// Client requests received.
    pub client_requests: Counter,
    /// Client requests that failed to decode.
    pub client_malformed: Counter,
    /// Client requests with a wrong token.
    pub client_unauthorized: Counter,
    /// Peer connections refused at the handshake.
    pub refused_connections: Gauge,
    /// The node's own gauges, by name: (help, value).
    node_gauges: std::sync::Mutex<std::collections::BTreeMap<&'static str, (&'static str, u64)>>,
    /// Time from a command's arrival to its answer.
    pub command_latency: Histogram,
}

impl Metrics {
    /// Sets the node's own gauges (see [`crate::runtime::Hosted::gauges`]).
    pub fn set_node_gauges(&self, gauges: Vec<(&'static str, &'static str, u64)>) {
        let mut held = self.node_gauges.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (name, help, value) in gauges {
            held.insert(name, (help, value));
        }
    }

    /// The node gauge called `name`, if the node reported one.
    #[must_use]
    pub fn node_gauge(&self, name: &str) -> Option<u64> {
        let held = self.node_gauges.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        held.get(name).map(|(_, value)| *value)
    }

    /// The text exposition.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters = [
            ("pangea_messages_sent_total", "Peer messages sent.", &self.messages_sent),
            (
                "pangea_messages_unroutable_total",
                "Peer messages dropped for want of an address.",
                &self.messages_unroutable,
            ),
            ("pangea_messages_received_total", "Peer messages received.", &self.messages_received),
            (
                "pangea_messages_malformed_total",
                "Peer messages that failed the codec's checks.",
                &self.messages_malformed,
            ),
            ("pangea_client_requests_total", "Client requests received.", &self.client_requests),
            ("pangea_client_malformed_total", "Client requests that failed to decode.", &self.client_malformed),
            ("pangea_client_unauthorized_total", "Client requests with a wrong token.", &self.client_unauthorized),
            (
                "pangea_messages_dropped_total",
                "Peer messages the transport dropped or that could not be encoded.",
                &self.messages_dropped,
            ),
            ("pangea_invariant_violations_total", "Invariants the node reported broken.", &self.invariant_violations),
        ];
        for (name, help, counter) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", counter.get());
        }
        let mut gauges = vec![(
            "pangea_refused_connections_total",
            "Peer connections refused at the handshake.",
            self.refused_connections.get(),
        )];
        {
            let held = self.node_gauges.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            gauges.extend(held.iter().map(|(name, (help, value))| (*name, *help, *value)));
        }
        for (name, help, value) in gauges {
            let kind = if name.ends_with("_total") { "counter" } else { "gauge" };
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        }
        let name = "pangea_command_latency_seconds";
        let _ = writeln!(out, "# HELP {name} Time from a command's arrival to its answer.\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, bucket) in LATENCY_BUCKETS_US.iter().zip(&self.command_latency.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{}\"}} {cumulative}", *bound as f64 / 1e6);
        }
        let count = self.command_latency.count();
        let sum = self.command_latency.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}\n{name}_sum {sum}\n{name}_count {count}");
        out
    }
}

/// Serves `metrics` over HTTP on `listener` until the task is dropped. Each connection gets one
/// response and is closed.
pub async fn serve(listener: tokio::net::TcpListener, metrics: Arc<Metrics>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else { continue };
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            let mut request = [0_u8; 1024];
            // The request line is all we need; a slow or silent client gets nothing after 5 s.
            let read = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut request)).await;
            if !matches!(read, Ok(Ok(n)) if n > 0) {
                return;
            }
            let body = metrics.render();
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

/// Binds the metrics listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}
