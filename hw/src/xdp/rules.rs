//! What the firewall is told: the attach mode, the allow-list's prefixes and the rate limit, with
//! their limits. Validation lives here so the loader only writes rules that the BPF side accepts.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::XdpError;

/// Most prefixes the allow-list holds (the `allow` LPM trie's `max_entries`).
pub const ALLOW_PREFIXES_MAX: u32 = 4096;
/// Most source addresses whose token buckets are remembered at once (the `buckets` LRU hash's
/// `max_entries`); beyond it the least recently seen source is forgotten and starts over with a
/// full bucket.
pub const SOURCES_MAX: u32 = 65_536;
/// Highest refill rate of a source's token bucket, in datagrams per second.
pub const RATE_PER_SECOND_MAX: u32 = 10_000_000;
/// Largest token bucket, in datagrams.
pub const BURST_MAX: u32 = 1_000_000;

/// Bits in an IPv4 address.
const IPV4_BITS: u8 = 32;
/// Bits in an IPv6 address, and in the 16-byte keys of the BPF maps.
const IPV6_BITS: u8 = 128;
/// Bits before the IPv4 address in an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`).
const IPV4_MAPPED_PREFIX_BITS: u32 = 96;

/// How the XDP program is attached to the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XdpMode {
    /// In the driver, before the kernel allocates a socket buffer (`XDP_FLAGS_DRV_MODE`).
    Native,
    /// In the kernel's generic receive path, after the socket buffer exists
    /// (`XDP_FLAGS_SKB_MODE`): works on every interface, saves less.
    Generic,
}

impl fmt::Display for XdpMode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Native => "native",
            Self::Generic => "generic",
        })
    }
}

/// Which attach mode the caller asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum XdpModeWanted {
    /// Native first; generic if the driver refuses native.
    #[default]
    Auto,
    /// Native only: fail if the driver refuses.
    Native,
    /// Generic only.
    Generic,
}

/// A token bucket per source address: `burst` datagrams at once, refilled at `per_second`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct RateLimit {
    /// Refill rate in datagrams per second, at most [`RATE_PER_SECOND_MAX`]; 0 turns rate
    /// limiting off.
    pub per_second: u32,
    /// Bucket size in datagrams, at most [`BURST_MAX`]; at least 1 when `per_second` > 0.
    pub burst: u32,
}

impl RateLimit {
    /// No rate limit.
    pub const OFF: Self = Self { per_second: 0, burst: 0 };

    /// Checks the limits; a limit that is on needs a bucket of at least one datagram.
    ///
    /// # Errors
    ///
    /// [`XdpError::BadRate`] naming the limit broken.
    pub fn validate(&self) -> Result<(), XdpError> {
        if self.per_second > RATE_PER_SECOND_MAX {
            return Err(XdpError::BadRate(format!(
                "{} datagrams per second is above the maximum {RATE_PER_SECOND_MAX}",
                self.per_second
            )));
        }
        if self.burst > BURST_MAX {
            return Err(XdpError::BadRate(format!(
                "a burst of {} datagrams is above the maximum {BURST_MAX}",
                self.burst
            )));
        }
        if self.per_second > 0 && self.burst == 0 {
            return Err(XdpError::BadRate("a burst of 0 would drop every datagram; use at least 1".to_owned()));
        }
        Ok(())
    }
}

/// An address prefix of the allow-list, such as `10.77.0.0/24` or `2001:db8::/32`.
///
/// Build it with [`AllowPrefix::new`] or [`str::parse`], which check the length (IPv4 at most
/// 32, IPv6 at most 128); [`super::XdpFirewall::set_allowed`] checks again. Bits after the
/// prefix are ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AllowPrefix {
    /// The network address.
    pub addr: IpAddr,
    /// How many leading bits of `addr` must match.
    pub prefix_len: u8,
}

impl AllowPrefix {
    /// A prefix of `prefix_len` bits of `addr`.
    ///
    /// # Errors
    ///
    /// [`XdpError::BadRule`] if `prefix_len` is longer than the address.
    pub fn new(addr: IpAddr, prefix_len: u8) -> Result<Self, XdpError> {
        let prefix = Self { addr, prefix_len };
        prefix.validate()?;
        Ok(prefix)
    }

    /// A prefix matching exactly `addr`.
    #[must_use]
    pub fn host(addr: IpAddr) -> Self {
        let prefix_len = if addr.is_ipv4() { IPV4_BITS } else { IPV6_BITS };
        Self { addr, prefix_len }
    }

    /// Checks that the prefix is no longer than its address.
    ///
    /// # Errors
    ///
    /// [`XdpError::BadRule`] if it is longer.
    pub fn validate(&self) -> Result<(), XdpError> {
        let bits = if self.addr.is_ipv4() { IPV4_BITS } else { IPV6_BITS };
        if self.prefix_len > bits {
            return Err(XdpError::BadRule(format!(
                "{}/{}: the prefix is longer than the address ({bits} bits)",
                self.addr, self.prefix_len
            )));
        }
        Ok(())
    }

    /// The allow-list's key: the prefix length over the 16-byte address (IPv4-mapped for IPv4,
    /// so IPv4 lengths gain 96 bits), with the bits after the prefix cleared so that equal
    /// prefixes have equal keys.
    pub(crate) fn key(&self) -> Result<(u32, [u8; 16]), XdpError> {
        self.validate()?;
        let (prefix_len, address) = match self.addr {
            IpAddr::V4(v4) => (IPV4_MAPPED_PREFIX_BITS + u32::from(self.prefix_len), v4.to_ipv6_mapped().octets()),
            IpAddr::V6(v6) => (u32::from(self.prefix_len), v6.octets()),
        };
        let kept_bits = u128::MAX.checked_shl(128 - prefix_len).unwrap_or(0);
        let masked = u128::from_be_bytes(address) & kept_bits;
        Ok((prefix_len, masked.to_be_bytes()))
    }
}

impl fmt::Display for AllowPrefix {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.addr, self.prefix_len)
    }
}

impl FromStr for AllowPrefix {
    type Err = XdpError;

    /// Parses `ADDR/LEN`, or a bare `ADDR` for that one address.
    fn from_str(text: &str) -> Result<Self, XdpError> {
        let bad = |why: &str| XdpError::BadRule(format!("{text:?}: {why}"));
        let (addr_text, len_text) = match text.split_once('/') {
            Some((addr, len)) => (addr, Some(len)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .parse::<Ipv4Addr>()
            .map(IpAddr::V4)
            .or_else(|_| addr_text.parse::<Ipv6Addr>().map(IpAddr::V6))
            .map_err(|_| bad("not an IPv4 or IPv6 address"))?;
        match len_text {
            None => Ok(Self::host(addr)),
            Some(len) => {
                let prefix_len = len.parse().map_err(|_| bad("the prefix length is not a number"))?;
                Self::new(addr, prefix_len)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_prefixes_are_mapped_and_masked() {
        let prefix: AllowPrefix = "10.77.0.9/24".parse().unwrap();
        let (len, key) = prefix.key().unwrap();
        assert_eq!(len, 96 + 24);
        let mut expected = [0_u8; 16];
        expected[10] = 0xff;
        expected[11] = 0xff;
        expected[12..].copy_from_slice(&[10, 77, 0, 0]);
        assert_eq!(key, expected);
    }

    #[test]
    fn host_and_zero_length_prefixes() {
        let host: AllowPrefix = "2001:db8::1".parse().unwrap();
        assert_eq!(host.key().unwrap(), (128, "2001:db8::1".parse::<Ipv6Addr>().unwrap().octets()));
        let everyone: AllowPrefix = "::/0".parse().unwrap();
        assert_eq!(everyone.key().unwrap(), (0, [0; 16]));
        let all_v4: AllowPrefix = "1.2.3.4/0".parse().unwrap();
        assert_eq!(all_v4.key().unwrap().0, 96);
    }

    #[test]
    fn too_long_prefixes_and_garbage_are_refused() {
        assert!(matches!("10.0.0.0/33".parse::<AllowPrefix>(), Err(XdpError::BadRule(_))));
        assert!(matches!("::/129".parse::<AllowPrefix>(), Err(XdpError::BadRule(_))));
        assert!(matches!("example/8".parse::<AllowPrefix>(), Err(XdpError::BadRule(_))));
        let sneaky = AllowPrefix { addr: IpAddr::V4(Ipv4Addr::LOCALHOST), prefix_len: 40 };
        assert!(sneaky.key().is_err());
    }

    #[test]
    fn rate_limits_are_bounded() {
        assert!(RateLimit::OFF.validate().is_ok());
        assert!(RateLimit { per_second: 100, burst: 50 }.validate().is_ok());
        assert!(RateLimit { per_second: RATE_PER_SECOND_MAX + 1, burst: 1 }.validate().is_err());
        assert!(RateLimit { per_second: 1, burst: BURST_MAX + 1 }.validate().is_err());
        assert!(RateLimit { per_second: 1, burst: 0 }.validate().is_err());
    }

    #[test]
    fn modes_display_as_documented() {
        assert_eq!(XdpMode::Native.to_string(), "native");
        assert_eq!(XdpMode::Generic.to_string(), "generic");
    }
}
