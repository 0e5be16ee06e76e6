//! The userspace firewall in front of QUIC: a UDP socket that hands quinn only the datagrams core's
//! [`Firewall`] passes — from an allowed address, within its source's rate — and drops the rest
//! before any decryption. It is the fallback of the XDP firewall and counts what it does the same
//! way.

use pangea_core::firewall::{Firewall, FirewallCounters, RateLimit, Verdict};
use pangea_hw::prefix::AllowPrefix;
use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};
use std::collections::BTreeSet;
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::task::{Context, Poll};

/// Who may send to the node: nobody checked (`enforce` false), or the configured prefixes and the
/// addresses of the node's peers.
#[derive(Clone, Debug, Default)]
pub struct AllowList {
    /// False: every address is allowed (only the rate limit applies).
    pub enforce: bool,
    /// Prefixes from `--firewall-allow` (clients, nodes about to join).
    pub configured: Vec<AllowPrefix>,
    /// The addresses of the node's peers, updated as it learns them.
    pub peers: BTreeSet<IpAddr>,
}

impl AllowList {
    /// True when `ip` may send.
    #[must_use]
    pub fn allows(&self, ip: IpAddr) -> bool {
        !self.enforce
            || self.peers.contains(&ip.to_canonical())
            || self.configured.iter().any(|prefix| prefix.contains(ip))
    }
}

/// The filter's rules and counters, shared between the socket and the node's event loop.
#[derive(Debug)]
pub struct SocketFilter {
    allow: RwLock<AllowList>,
    firewall: Mutex<Firewall<IpAddr>>,
    origin: std::time::Instant,
}

impl SocketFilter {
    /// A filter with `allow` and `rate`.
    pub fn new(allow: AllowList, rate: RateLimit) -> Result<SocketFilter, pangea_core::firewall::FirewallConfigError> {
        Ok(SocketFilter {
            allow: RwLock::new(allow),
            firewall: Mutex::new(Firewall::new(rate)?),
            origin: std::time::Instant::now(),
        })
    }

    /// Replaces the peers' addresses in the allow-list.
    pub fn set_peers(&self, peers: BTreeSet<IpAddr>) {
        self.allow.write().unwrap_or_else(PoisonError::into_inner).peers = peers;
    }

    /// What the filter passed and dropped so far, in datagrams.
    #[must_use]
    pub fn counters(&self) -> FirewallCounters {
        self.firewall.lock().unwrap_or_else(PoisonError::into_inner).counters()
    }

    /// Decides on `datagrams` datagrams from `source`, now: bit `i` of the answer is set when
    /// datagram `i` passes (datagrams past [`SEGMENTS_MAX`] never do).
    fn admit(&self, source: IpAddr, datagrams: usize) -> SegmentMask {
        let allowed = self.allow.read().unwrap_or_else(PoisonError::into_inner).allows(source);
        let now = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let source = source.to_canonical();
        let mut firewall = self.firewall.lock().unwrap_or_else(PoisonError::into_inner);
        (0..datagrams.min(SEGMENTS_MAX))
            .filter(|_| firewall.check(&source, allowed, now) == Verdict::Pass)
            .fold(0, |mask, index| mask | (1 << index))
    }
}

/// Most datagrams one receive buffer holds (Linux's `UDP_MAX_SEGMENTS` for GRO).
pub const SEGMENTS_MAX: usize = 128;

/// Which datagrams of a receive buffer pass: bit `i` for datagram `i`.
type SegmentMask = u128;

/// A mask passing every one of `datagrams` datagrams.
fn all_of(datagrams: usize) -> SegmentMask {
    if datagrams >= SEGMENTS_MAX { SegmentMask::MAX } else { (1 << datagrams) - 1 }
}

/// A UDP socket whose receive side goes through a [`SocketFilter`].
#[derive(Debug)]
pub struct FilteredSocket {
    inner: Arc<dyn AsyncUdpSocket>,
    filter: Arc<SocketFilter>,
}

impl FilteredSocket {
    /// `inner`, filtered by `filter`.
    pub fn new(inner: Arc<dyn AsyncUdpSocket>, filter: Arc<SocketFilter>) -> FilteredSocket {
        FilteredSocket { inner, filter }
    }
}

/// Keeps, of the `meta.len / meta.stride` datagrams (the last may be shorter) in `buf`, those
/// `keep` says, moved to the front; returns the bytes kept.
fn compact_segments(buf: &mut [u8], meta: &RecvMeta, keep: SegmentMask) -> usize {
    let stride = meta.stride.max(1);
    let len = meta.len.min(buf.len());
    let mut kept = 0;
    for (index, start) in (0..len).step_by(stride).take(SEGMENTS_MAX).enumerate() {
        let end = (start + stride).min(len);
        if keep & (1 << index) != 0 {
            buf.copy_within(start..end, kept);
            kept += end - start;
        }
    }
    kept
}

impl AsyncUdpSocket for FilteredSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        self.inner.clone().create_io_poller()
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        self.inner.try_send(transmit)
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        loop {
            let received = match self.inner.poll_recv(cx, bufs, meta) {
                Poll::Ready(Ok(received)) => received,
                other => return other,
            };
            let mut kept = 0;
            for index in 0..received {
                let datagrams = meta[index].len.div_ceil(meta[index].stride.max(1)).max(1);
                let keep = self.filter.admit(meta[index].addr.ip(), datagrams);
                if keep == 0 {
                    continue;
                }
                let len = if keep == all_of(datagrams) {
                    meta[index].len
                } else {
                    compact_segments(&mut bufs[index], &meta[index], keep)
                };
                if kept != index {
                    let (front, back) = bufs.split_at_mut(index);
                    // quinn hands equal buffers; one too small for the datagrams kept drops them,
                    // as a full socket buffer would (QUIC sends them again).
                    if front[kept].len() < len {
                        continue;
                    }
                    front[kept][..len].copy_from_slice(&back[0][..len]);
                    meta[kept] = meta[index];
                }
                meta[kept].len = len;
                kept += 1;
            }
            if kept > 0 {
                return Poll::Ready(Ok(kept));
            }
            // Everything dropped: read on (the inner socket registers the waker when it is empty).
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn max_transmit_segments(&self) -> usize {
        self.inner.max_transmit_segments()
    }

    fn max_receive_segments(&self) -> usize {
        self.inner.max_receive_segments()
    }

    fn may_fragment(&self) -> bool {
        self.inner.may_fragment()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allow_list_counts_peers_and_prefixes_only_when_enforced() {
        let mut allow = AllowList::default();
        assert!(allow.allows("192.0.2.1".parse().unwrap()));
        allow.enforce = true;
        allow.configured.push("10.0.0.0/8".parse().unwrap());
        allow.peers.insert("192.0.2.7".parse().unwrap());
        assert!(allow.allows("10.1.2.3".parse().unwrap()));
        assert!(allow.allows("192.0.2.7".parse().unwrap()));
        assert!(!allow.allows("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn dropped_segments_leave_the_kept_ones_in_order() {
        let mut buf: Vec<u8> = (0..10).collect();
        let meta = RecvMeta { len: 10, stride: 4, ..RecvMeta::default() };
        assert_eq!(compact_segments(&mut buf, &meta, 0b110), 6);
        assert_eq!(&buf[..6], &[4, 5, 6, 7, 8, 9]);
        assert_eq!(all_of(3), 0b111);
        assert_eq!(all_of(SEGMENTS_MAX + 1), SegmentMask::MAX);
    }
}
