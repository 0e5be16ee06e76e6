//! IP address prefixes (`10.77.0.0/24`, `2001:db8::/32`, one address), as the firewall's
//! allow-lists hold them: the userspace firewall matches with [`AllowPrefix::contains`], the XDP
//! program's LPM trie with [`AllowPrefix::key`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use thiserror::Error;

/// Bits in an IPv4 address.
const IPV4_BITS: u8 = 32;
/// Bits in an IPv6 address, and in the 16-byte keys of the BPF maps.
const IPV6_BITS: u8 = 128;
/// Bits before the IPv4 address in an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`).
const IPV4_MAPPED_PREFIX_BITS: u32 = 96;

/// A prefix that is not one: what is wrong, with the text given.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct PrefixError(pub String);

/// An address prefix of the allow-list, such as `10.77.0.0/24` or `2001:db8::/32`.
///
/// Build it with [`AllowPrefix::new`] or [`str::parse`], which check the length (IPv4 at most
/// 32, IPv6 at most 128); `XdpFirewall::set_allowed` checks again. Bits after the
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
    /// [`PrefixError`] if `prefix_len` is longer than the address.
    pub fn new(addr: IpAddr, prefix_len: u8) -> Result<Self, PrefixError> {
        let prefix = Self { addr, prefix_len };
        prefix.validate()?;
        Ok(prefix)
    }

    /// True when `ip` is in the prefix (an IPv4-mapped IPv6 address counts as its IPv4 address).
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (Ok(own), Ok(other)) = (self.key(), AllowPrefix::host(ip.to_canonical()).key()) else { return false };
        let kept_bits = u128::MAX.checked_shl(128 - own.0).unwrap_or(0);
        u128::from_be_bytes(own.1) == u128::from_be_bytes(other.1) & kept_bits
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
    /// [`PrefixError`] if it is longer.
    pub fn validate(&self) -> Result<(), PrefixError> {
        let bits = if self.addr.is_ipv4() { IPV4_BITS } else { IPV6_BITS };
        if self.prefix_len > bits {
            return Err(PrefixError(format!(
                "{}/{}: the prefix is longer than the address ({bits} bits)",
                self.addr, self.prefix_len
            )));
        }
        Ok(())
    }

    /// The allow-list's key: the prefix length over the 16-byte address (IPv4-mapped for IPv4,
    /// so IPv4 lengths gain 96 bits), with the bits after the prefix cleared so that equal
    /// prefixes have equal keys.
    pub fn key(&self) -> Result<(u32, [u8; 16]), PrefixError> {
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
    type Err = PrefixError;

    /// Parses `ADDR/LEN`, or a bare `ADDR` for that one address.
    fn from_str(text: &str) -> Result<Self, PrefixError> {
        let bad = |why: &str| PrefixError(format!("{text:?}: {why}"));
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
        assert!(matches!("10.0.0.0/33".parse::<AllowPrefix>(), Err(PrefixError(_))));
        assert!(matches!("::/129".parse::<AllowPrefix>(), Err(PrefixError(_))));
        assert!(matches!("example/8".parse::<AllowPrefix>(), Err(PrefixError(_))));
        let sneaky = AllowPrefix { addr: IpAddr::V4(Ipv4Addr::LOCALHOST), prefix_len: 40 };
        assert!(sneaky.key().is_err());
    }

    #[test]
    fn containment_follows_the_prefix_and_the_family() {
        let net: AllowPrefix = "10.77.0.0/24".parse().unwrap();
        assert!(net.contains("10.77.0.9".parse().unwrap()));
        assert!(net.contains("::ffff:10.77.0.9".parse().unwrap()));
        assert!(!net.contains("10.77.1.9".parse().unwrap()));
        assert!(!net.contains("fd00::1".parse().unwrap()));
        assert!("0.0.0.0/0".parse::<AllowPrefix>().unwrap().contains("8.8.8.8".parse().unwrap()));
        assert!(!"0.0.0.0/0".parse::<AllowPrefix>().unwrap().contains("fd00::1".parse().unwrap()));
        assert!("fd00::/8".parse::<AllowPrefix>().unwrap().contains("fd12::1".parse().unwrap()));
    }
}
