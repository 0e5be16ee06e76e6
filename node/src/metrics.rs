//! Prometheus metrics: counters, gauges, a latency histogram and the stage histograms, kept by the event loop in a
//! [`prometheus_client`] registry and served as the Prometheus text exposition format (version
//! 0.0.4) on `--metrics ADDR`, at `GET /metrics`, by a small [`hyper`] HTTP/1.1 server.
//!
//! The metric names are part of the node's interface (dashboards and alerts use them): they are
//! listed once, in [`Metrics::new`], and a unit test pins the exposition.

use crate::stages::{StageCounts, StageTable};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// A monotonically increasing count.
#[derive(Clone, Debug, Default)]
pub struct Counter(prometheus_client::metrics::counter::Counter);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.inc();
    }

    /// The count.
    #[must_use]
    pub fn get(&self) -> u64 {
        self.0.get()
    }
}

/// A count kept elsewhere (the transport counts refused connections) and copied in by the event
/// loop; exposed as a counter, since it only grows.
#[derive(Clone, Debug, Default)]
pub struct CopiedCounter(prometheus_client::metrics::counter::Counter);

impl CopiedCounter {
    /// Sets the count to `total`; a smaller total than the one held is ignored, so the exposed
    /// value never goes down.
    pub fn set(&self, total: u64) {
        let held = self.0.get();
        if total > held {
            self.0.inc_by(total - held);
        }
    }

    /// The count.
    #[must_use]
    pub fn get(&self) -> u64 {
        self.0.get()
    }
}

/// Upper bounds of the latency buckets, in microseconds.
pub const LATENCY_BUCKETS_US: [u64; 14] =
    [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 5_000_000];

/// A latency histogram with the fixed buckets [`LATENCY_BUCKETS_US`], in seconds.
#[derive(Clone, Debug)]
pub struct Histogram(prometheus_client::metrics::histogram::Histogram);

impl Default for Histogram {
    fn default() -> Histogram {
        let bounds_seconds = LATENCY_BUCKETS_US.iter().map(|micros| *micros as f64 / 1e6);
        Histogram(prometheus_client::metrics::histogram::Histogram::new(bounds_seconds))
    }
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, elapsed: Duration) {
        self.0.observe(elapsed.as_secs_f64());
    }
}

/// The node's own gauges, by name: (help, value). Their names come from the node
/// ([`crate::runtime::Hosted::gauges`]), so they are encoded at each scrape rather than registered
/// one by one.
#[derive(Debug, Default)]
struct NodeGauges(Mutex<BTreeMap<&'static str, (&'static str, u64)>>);

impl NodeGauges {
    fn held(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, (&'static str, u64)>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Collector for NodeGauges {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for (name, (help, value)) in self.held().iter() {
            let gauge = ConstGauge::new(*value);
            let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            gauge.encode(metric)?;
        }
        Ok(())
    }
}

/// The stage histograms ([`crate::stages`]), shared by the event loop (which observes) and the
/// exposition (which encodes them as one histogram family labelled by stage).
#[derive(Debug, Default)]
struct StageMetrics(Mutex<StageTable>);

impl StageMetrics {
    fn held(&self) -> std::sync::MutexGuard<'_, StageTable> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Collector for StageMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let bounds: Vec<u64> = LATENCY_BUCKETS_US.iter().map(|micros| micros * 1_000).collect();
        let stages = self.held().coarse(&bounds);
        if stages.is_empty() {
            return Ok(());
        }
        let mut metric = encoder.encode_descriptor(
            "pangea_stage_seconds",
            "Time client requests spent in each stage at this node.",
            None,
            MetricType::Histogram,
        )?;
        for stage in stages {
            let labels = [("stage", stage.stage)];
            let mut family = metric.encode_family(&labels)?;
            family.encode_histogram::<NoLabelSet>(stage.sum_seconds, stage.count, &stage.buckets, None)?;
        }
        Ok(())
    }
}

/// Everything the node measures.
#[derive(Debug)]
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
    /// Times the node's storage failed (after which it refuses every operation until reopened).
    pub storage_failures: Counter,
    /// Times a failed storage was reopened.
    pub storage_reopens: Counter,
    /// Peer connections refused at the handshake (counted by the transport).
    pub refused_connections: CopiedCounter,
    /// Time from a command's arrival to its answer.
    pub command_latency: Histogram,
    /// Datagrams the firewall let through (XDP or userspace).
    pub firewall_passed: CopiedCounter,
    /// Datagrams the firewall dropped: their source is not allowed.
    pub firewall_dropped_denied: CopiedCounter,
    /// Datagrams the firewall dropped: their source was over its rate.
    pub firewall_dropped_rate: CopiedCounter,
    /// 1 for each capability the machine offers and path the node chose, by name.
    pub hardware:
        prometheus_client::metrics::family::Family<Vec<(String, String)>, prometheus_client::metrics::gauge::Gauge>,
    node_gauges: Arc<NodeGauges>,
    stages: Arc<StageMetrics>,
    registry: Registry,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// Every metric at zero, registered under its exposed name. Counters are registered without
    /// their `_total` suffix and help texts without their final period, which the registry adds.
    #[must_use]
    pub fn new() -> Metrics {
        let metrics = Metrics {
            messages_sent: Counter::default(),
            messages_unroutable: Counter::default(),
            messages_dropped: Counter::default(),
            invariant_violations: Counter::default(),
            messages_received: Counter::default(),
            messages_malformed: Counter::default(),
            client_requests: Counter::default(),
            client_malformed: Counter::default(),
            client_unauthorized: Counter::default(),
            storage_failures: Counter::default(),
            storage_reopens: Counter::default(),
            refused_connections: CopiedCounter::default(),
            command_latency: Histogram::default(),
            firewall_passed: CopiedCounter::default(),
            firewall_dropped_denied: CopiedCounter::default(),
            firewall_dropped_rate: CopiedCounter::default(),
            hardware: prometheus_client::metrics::family::Family::default(),
            node_gauges: Arc::new(NodeGauges::default()),
            stages: Arc::new(StageMetrics::default()),
            registry: Registry::default(),
        };
        let mut registry = Registry::default();
        let counters = [
            ("pangea_messages_sent", "Peer messages sent", &metrics.messages_sent),
            (
                "pangea_messages_unroutable",
                "Peer messages dropped for want of an address",
                &metrics.messages_unroutable,
            ),
            ("pangea_messages_received", "Peer messages received", &metrics.messages_received),
            ("pangea_messages_malformed", "Peer messages that failed the codec's checks", &metrics.messages_malformed),
            ("pangea_client_requests", "Client requests received", &metrics.client_requests),
            ("pangea_client_malformed", "Client requests that failed to decode", &metrics.client_malformed),
            ("pangea_client_unauthorized", "Client requests with a wrong token", &metrics.client_unauthorized),
            (
                "pangea_messages_dropped",
                "Peer messages the transport dropped or that could not be encoded",
                &metrics.messages_dropped,
            ),
            ("pangea_invariant_violations", "Invariants the node reported broken", &metrics.invariant_violations),
            (
                "pangea_storage_failures",
                "Times the node's storage failed and had to be reopened",
                &metrics.storage_failures,
            ),
            ("pangea_storage_reopens", "Times a failed storage was reopened", &metrics.storage_reopens),
        ];
        for (name, help, counter) in counters {
            registry.register(name, help, counter.0.clone());
        }
        registry.register(
            "pangea_refused_connections",
            "Peer connections refused at the handshake",
            metrics.refused_connections.0.clone(),
        );
        registry.register(
            "pangea_command_latency_seconds",
            "Time from a command's arrival to its answer",
            metrics.command_latency.0.clone(),
        );
        let firewall = [
            ("pangea_firewall_passed", "Datagrams the firewall let through", &metrics.firewall_passed),
            (
                "pangea_firewall_dropped_denied",
                "Datagrams the firewall dropped because their source is not allowed",
                &metrics.firewall_dropped_denied,
            ),
            (
                "pangea_firewall_dropped_rate",
                "Datagrams the firewall dropped because their source was over its rate",
                &metrics.firewall_dropped_rate,
            ),
        ];
        for (name, help, counter) in firewall {
            registry.register(name, help, counter.0.clone());
        }
        registry.register(
            "pangea_hardware",
            "1 for each capability the machine offers (what=cpu, io_uring, ebpf, btf) and path the node chose (what=io, firewall)",
            metrics.hardware.clone(),
        );
        // A registry encodes its collectors after its metrics, so the node's gauges come last.
        registry.register_collector(Box::new(Arc::clone(&metrics.node_gauges)));
        registry.register_collector(Box::new(Arc::clone(&metrics.stages)));
        Metrics { registry, ..metrics }
    }

    /// Exposes `facts`: a gauge at 1 for each capability present and each path chosen.
    pub fn set_hardware(&self, facts: &crate::hardware::HardwareFacts) {
        let mut present: Vec<(&str, String)> =
            facts.cpu.split(' ').filter(|name| !name.contains("vector")).map(|name| ("cpu", name.to_owned())).collect();
        for (what, probe) in [("io_uring", &facts.io_uring), ("ebpf", &facts.ebpf)] {
            if probe == "available" {
                present.push((what, "available".to_owned()));
            }
        }
        if facts.btf {
            present.push(("btf", "available".to_owned()));
        }
        present.push(("io", facts.io.0.clone()));
        present.push(("firewall", facts.firewall.0.clone()));
        for (what, path) in present {
            self.hardware.get_or_create(&vec![("what".to_owned(), what.to_owned()), ("path".to_owned(), path)]).set(1);
        }
    }

    /// Copies the firewall's counters in.
    pub fn set_firewall(&self, passed: u64, dropped_denied: u64, dropped_rate: u64) {
        self.firewall_passed.set(passed);
        self.firewall_dropped_denied.set(dropped_denied);
        self.firewall_dropped_rate.set(dropped_rate);
    }

    /// Sets the node's own gauges (see [`crate::runtime::Hosted::gauges`]).
    pub fn set_node_gauges(&self, gauges: Vec<(&'static str, &'static str, u64)>) {
        let mut held = self.node_gauges.held();
        for (name, help, value) in gauges {
            held.insert(name, (help, value));
        }
    }

    /// Records that one request spent `took` in `stage` (see [`crate::stages`]).
    pub fn observe_stage(&self, stage: &'static str, took: Duration) {
        self.stages.held().observe(stage, took);
    }

    /// Records many such observations at once (one lock for all).
    pub fn observe_stages(&self, samples: impl IntoIterator<Item = (&'static str, Duration)>) {
        let mut samples = samples.into_iter().peekable();
        if samples.peek().is_none() {
            return;
        }
        let mut stages = self.stages.held();
        for (stage, took) in samples {
            stages.observe(stage, took);
        }
    }

    /// Every stage's histogram so far.
    #[must_use]
    pub fn stages(&self) -> Vec<StageCounts> {
        self.stages.held().snapshot()
    }

    /// The node gauge called `name`, if the node reported one.
    #[must_use]
    pub fn node_gauge(&self, name: &str) -> Option<u64> {
        self.node_gauges.held().get(name).map(|(_, value)| *value)
    }

    /// The text exposition.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail, and every metric here encodes.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// How long a client may take to send its request's head.
const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves `metrics` over HTTP/1.1 on `listener` until the task is dropped: `GET /metrics` (or
/// `HEAD`) answers the text exposition, any other path 404 and any other method 405.
pub async fn serve(listener: tokio::net::TcpListener, metrics: Arc<Metrics>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let response = respond(&metrics, &request);
                async move { Ok::<_, std::convert::Infallible>(response) }
            });
            // A client that goes away or sends garbage only ends its own connection.
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(REQUEST_HEAD_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn respond(metrics: &Metrics, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match (request.method(), request.uri().path()) {
        (&Method::GET | &Method::HEAD, "/metrics") => {
            (StatusCode::OK, prometheus_client::encoding::prometheus_text::CONTENT_TYPE, metrics.render())
        }
        (_, "/metrics") => (StatusCode::METHOD_NOT_ALLOWED, "text/plain", "only GET /metrics\n".to_owned()),
        _ => (StatusCode::NOT_FOUND, "text/plain", "metrics are at /metrics\n".to_owned()),
    };
    let mut response = Response::new(Full::from(body));
    *response.status_mut() = status;
    if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

/// Binds the metrics listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The exposition, name by name and line by line, as the hand-written one before it wrote it
    /// (which put the node's gauges before the histogram).
    #[test]
    fn the_exposition_keeps_every_name_type_and_bucket() {
        let metrics = Metrics::new();
        metrics.messages_sent.inc();
        metrics.messages_sent.inc();
        metrics.refused_connections.set(3);
        metrics.refused_connections.set(1);
        metrics
            .set_node_gauges(vec![("pangea_leader", "1 while this node leads.", 1), ("pangea_members", "Members.", 3)]);
        metrics.command_latency.observe(Duration::from_micros(300));
        metrics.command_latency.observe(Duration::from_secs(7));
        let mut expected = String::new();
        for (name, help, value) in [
            ("pangea_messages_sent_total", "Peer messages sent.", 2),
            ("pangea_messages_unroutable_total", "Peer messages dropped for want of an address.", 0),
            ("pangea_messages_received_total", "Peer messages received.", 0),
            ("pangea_messages_malformed_total", "Peer messages that failed the codec's checks.", 0),
            ("pangea_client_requests_total", "Client requests received.", 0),
            ("pangea_client_malformed_total", "Client requests that failed to decode.", 0),
            ("pangea_client_unauthorized_total", "Client requests with a wrong token.", 0),
            ("pangea_messages_dropped_total", "Peer messages the transport dropped or that could not be encoded.", 0),
            ("pangea_invariant_violations_total", "Invariants the node reported broken.", 0),
            ("pangea_storage_failures_total", "Times the node's storage failed and had to be reopened.", 0),
            ("pangea_storage_reopens_total", "Times a failed storage was reopened.", 0),
            ("pangea_refused_connections_total", "Peer connections refused at the handshake.", 3),
        ] {
            expected.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"));
        }
        let name = "pangea_command_latency_seconds";
        expected.push_str(&format!(
            "# HELP {name} Time from a command's arrival to its answer.\n# TYPE {name} histogram\n"
        ));
        let bounds = ["0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1"];
        let bounds = bounds.iter().chain(&["0.25", "0.5", "1", "5", "+Inf"]);
        for (index, bound) in bounds.enumerate() {
            // 300 µs falls in the third bucket (at most 500 µs), 7 s in none but +Inf.
            let cumulative = match index {
                0 | 1 => 0,
                2..=13 => 1,
                _ => 2,
            };
            expected.push_str(&format!("{name}_bucket{{le=\"{bound}\"}} {cumulative}\n"));
        }
        expected.push_str(&format!("{name}_sum 7.0003\n{name}_count 2\n"));
        for (name, help) in [
            ("pangea_firewall_passed_total", "Datagrams the firewall let through."),
            (
                "pangea_firewall_dropped_denied_total",
                "Datagrams the firewall dropped because their source is not allowed.",
            ),
            (
                "pangea_firewall_dropped_rate_total",
                "Datagrams the firewall dropped because their source was over its rate.",
            ),
        ] {
            expected.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n{name} 0\n"));
        }
        expected
            .push_str("# HELP pangea_leader 1 while this node leads.\n# TYPE pangea_leader gauge\npangea_leader 1\n");
        expected.push_str("# HELP pangea_members Members.\n# TYPE pangea_members gauge\npangea_members 3\n");
        assert_eq!(metrics.render(), expected);
        assert_eq!(metrics.node_gauge("pangea_members"), Some(3));
        assert_eq!(metrics.node_gauge("pangea_sessions"), None);
    }

    #[test]
    fn hardware_facts_are_one_gauge_family_labelled_by_what_and_path() {
        let metrics = Metrics::new();
        metrics.set_hardware(&crate::hardware::HardwareFacts {
            cpu: "avx2 avx512f".to_owned(),
            io_uring: "available".to_owned(),
            ebpf: "unavailable: no privileges".to_owned(),
            btf: true,
            io: ("io_uring".to_owned(), "io_uring available".to_owned()),
            firewall: ("userspace".to_owned(), "asked for".to_owned()),
        });
        let text = metrics.render();
        for line in [
            "pangea_hardware{what=\"cpu\",path=\"avx2\"} 1",
            "pangea_hardware{what=\"cpu\",path=\"avx512f\"} 1",
            "pangea_hardware{what=\"io_uring\",path=\"available\"} 1",
            "pangea_hardware{what=\"btf\",path=\"available\"} 1",
            "pangea_hardware{what=\"io\",path=\"io_uring\"} 1",
            "pangea_hardware{what=\"firewall\",path=\"userspace\"} 1",
        ] {
            assert!(text.contains(line), "{line} missing from {text}");
        }
        assert!(!text.contains("what=\"ebpf\""), "{text}");
    }

    #[test]
    fn stages_are_one_histogram_family_labelled_by_stage() {
        let metrics = Metrics::new();
        metrics.observe_stage("quorum", Duration::from_micros(80));
        metrics.observe_stage("quorum", Duration::from_millis(3));
        metrics.observe_stage("total", Duration::from_secs(9));
        let text = metrics.render();
        let name = "pangea_stage_seconds";
        assert!(text.contains(&format!("# TYPE {name} histogram\n")), "{text}");
        assert!(text.contains(&format!("{name}_bucket{{stage=\"quorum\",le=\"0.0001\"}} 1\n")), "{text}");
        assert!(text.contains(&format!("{name}_bucket{{stage=\"quorum\",le=\"0.005\"}} 2\n")), "{text}");
        assert!(text.contains(&format!("{name}_count{{stage=\"quorum\"}} 2\n")), "{text}");
        assert!(text.contains(&format!("{name}_bucket{{stage=\"total\",le=\"5\"}} 0\n")), "{text}");
        assert!(text.contains(&format!("{name}_bucket{{stage=\"total\",le=\"+Inf\"}} 1\n")), "{text}");
        assert_eq!(metrics.stages().iter().map(|stage| stage.count).sum::<u64>(), 3);
    }

    async fn http(addr: SocketAddr, request: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }

    #[tokio::test]
    async fn the_server_answers_get_metrics_and_refuses_other_paths() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let metrics = Arc::new(Metrics::new());
        metrics.client_requests.inc();
        let server = tokio::spawn(serve(listener, Arc::clone(&metrics)));
        let answer = http(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("content-type: text/plain; version=0.0.4; charset=utf-8\r\n"), "{answer}");
        assert!(answer.contains("\npangea_client_requests_total 1\n"), "{answer}");
        let answer = http(addr, "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 404 Not Found\r\n"), "{answer}");
        let answer = http(addr, "garbage\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{answer}");
        server.abort();
    }
}
