//! The XDP firewall: a BPF program on the node's network interface that drops UDP datagrams to
//! the node's port from addresses outside an allow-list, and rate-limits every source, before the
//! kernel spends anything else on them.
//!
//! The program (`bpf/firewall.bpf.c`, built by `build.rs` with clang and embedded here) parses
//! Ethernet, then IPv4 (honouring IHL; later fragments are not inspected) or IPv6 (UDP as the
//! first next header only), then UDP. Packets that are not UDP to the port pass untouched and
//! count as `ignored`. Datagrams to the port go through:
//!
//! 1. **Allow stage**, when an allow-list is set ([`XdpFirewall::set_allowed`]): the source must
//!    match a prefix, else `XDP_DROP` and `dropped_denied`.
//! 2. **Rate stage**, when a [`RateLimit`] is on: one token bucket per source, counted in
//!    nano-tokens. A new source starts with `burst * 1e9`; otherwise the bucket gains
//!    `elapsed_ns * per_second` (elapsed capped at 2^39 ns) up to `burst * 1e9`. A datagram
//!    takes `1e9` or is dropped (`dropped_rate`); the state is stored either way.
//!
//! Everything else passes (`passed`).
//!
//! # Maps
//!
//! | name       | type            | key                                  | value |
//! |------------|-----------------|--------------------------------------|-------|
//! | `config`   | array, 1 entry  | `u32` 0                              | `{port u16, enforce_allow u8, reserved u8, rate_per_second u32, burst u32}`, 12 bytes |
//! | `allow`    | LPM trie        | `{prefix_len u32, addr [u8; 16]}`    | `u8` 1 |
//! | `buckets`  | LRU hash        | `addr [u8; 16]`                      | `{tokens_nano u64, last_ns u64}` |
//! | `counters` | per-CPU array   | `u32`: `passed` 0, `dropped_denied` 1, `dropped_rate` 2, `ignored` 3 | `u64` |
//!
//! Addresses are 16 bytes in network order; IPv4 addresses are IPv4-mapped (`::ffff:a.b.c.d`),
//! so an IPv4 /24 is stored with prefix length 96 + 24. The config's `port` and the other
//! config integers are in **host** byte order (the program converts the packet's port with
//! `bpf_ntohs`). The map sizes are [`ALLOW_PREFIXES_MAX`] and [`SOURCES_MAX`], set by the loader.
//!
//! Attaching loads the program, writes the config (no allow-list, no rate limit) and attaches;
//! dropping the [`XdpFirewall`] detaches it.

mod error;
mod maps;
mod rules;

use aya::maps::lpm_trie::Key;
use aya::maps::{Array, LpmTrie, MapData, PerCpuArray};
use aya::programs::xdp::XdpLinkId;
use aya::programs::{ProgramError, Xdp};
use aya::{Ebpf, EbpfLoader};
use std::collections::BTreeSet;

pub use crate::prefix::AllowPrefix;
pub use error::XdpError;
pub use maps::XdpCounters;
pub use rules::{ALLOW_PREFIXES_MAX, BURST_MAX, RATE_PER_SECOND_MAX, RateLimit, SOURCES_MAX, XdpMode, XdpModeWanted};

use error::{describe, is_permission_error, load_error, map_error};
use maps::{
    ALLOW_MAP, ALLOW_VALUE, BUCKETS_MAP, CONFIG_BYTES, CONFIG_INDEX, CONFIG_MAP, COUNTER_DROPPED_DENIED,
    COUNTER_DROPPED_RATE, COUNTER_IGNORED, COUNTER_PASSED, COUNTERS_MAP, FirewallConfig, PROGRAM,
};

/// The compiled BPF object, aligned for the ELF parser.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/firewall.bpf.o"));

/// Longest interface name Linux accepts (`IFNAMSIZ` less the terminating NUL).
const INTERFACE_NAME_BYTES_MAX: usize = 15;

/// An allow-list key as a sortable value: prefix length and 16-byte (mapped) address.
type AllowKey = (u32, [u8; 16]);

/// The XDP firewall attached to one interface; detached when dropped.
#[derive(Debug)]
pub struct XdpFirewall {
    /// The loaded object: program and maps. Dropping it unloads both.
    ebpf: Ebpf,
    /// The attachment, taken when detaching.
    link: Option<XdpLinkId>,
    /// How the program is attached.
    mode: XdpMode,
    /// Where it is attached.
    interface: String,
    /// What the config map holds.
    config: FirewallConfig,
}

impl XdpFirewall {
    /// Loads the firewall and attaches it to `iface` (in the calling thread's network
    /// namespace) to filter UDP to `port`, with no allow-list and no rate limit yet.
    ///
    /// [`XdpModeWanted::Auto`] tries native mode first and falls back to generic mode if the
    /// driver refuses. Needs root, or `CAP_BPF` and `CAP_NET_ADMIN`.
    ///
    /// # Errors
    ///
    /// [`XdpError::NoInterface`], [`XdpError::BadPort`] for port 0, [`XdpError::NotPermitted`],
    /// [`XdpError::Load`] if the kernel refuses the program or a map, [`XdpError::Attach`] if no
    /// wanted mode attaches (for `Auto`, the cause names both attempts).
    pub fn attach(iface: &str, port: u16, wanted: XdpModeWanted) -> Result<Self, XdpError> {
        let name_ok = !iface.is_empty()
            && iface.len() <= INTERFACE_NAME_BYTES_MAX
            && !iface.contains(['\0', '/'])
            && !iface.chars().any(char::is_whitespace);
        if !name_ok {
            return Err(XdpError::NoInterface(iface.to_owned()));
        }
        if port == 0 {
            return Err(XdpError::BadPort(port));
        }

        let ebpf = EbpfLoader::new()
            .map_max_entries(ALLOW_MAP, ALLOW_PREFIXES_MAX)
            .map_max_entries(BUCKETS_MAP, SOURCES_MAX)
            .load(OBJECT)
            .map_err(|error| load_error("loading the BPF object", &error))?;
        let config = FirewallConfig { port, enforce_allow: false, rate: RateLimit::OFF };
        let mut firewall = Self { ebpf, link: None, mode: XdpMode::Generic, interface: iface.to_owned(), config };
        firewall.write_config(config)?;

        let program = firewall.program()?;
        program.load().map_err(|error| load_error("loading the XDP program into the kernel", &error))?;
        let (link, mode) = match wanted {
            XdpModeWanted::Native => (attach_in(program, iface, XdpMode::Native)?, XdpMode::Native),
            XdpModeWanted::Generic => (attach_in(program, iface, XdpMode::Generic)?, XdpMode::Generic),
            XdpModeWanted::Auto => match attach_in(program, iface, XdpMode::Native) {
                Ok(link) => (link, XdpMode::Native),
                Err(XdpError::Attach { cause: native_cause, .. }) => {
                    match attach_in(program, iface, XdpMode::Generic) {
                        Ok(link) => (link, XdpMode::Generic),
                        Err(XdpError::Attach { iface, mode, cause }) => {
                            let cause = format!("native: {native_cause}; generic: {cause}");
                            return Err(XdpError::Attach { iface, mode, cause });
                        }
                        Err(other) => return Err(other),
                    }
                }
                Err(other) => return Err(other),
            },
        };
        firewall.link = Some(link);
        firewall.mode = mode;
        Ok(firewall)
    }

    /// How the program is attached.
    #[must_use]
    pub fn mode(&self) -> XdpMode {
        self.mode
    }

    /// The interface the program is attached to.
    #[must_use]
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// The UDP destination port being filtered.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.config.port
    }

    /// Replaces the allow-list (`None` = everyone allowed: `enforce_allow` off).
    ///
    /// With a list, at most [`ALLOW_PREFIXES_MAX`] distinct prefixes, the new prefixes are
    /// inserted before stale ones are removed (briefly allowing the union rather than briefly
    /// denying addresses on both lists), unless the map could not hold both. An empty list
    /// denies every source. Without a list, enforcement is turned off first, then the map is
    /// emptied.
    ///
    /// # Errors
    ///
    /// [`XdpError::BadRule`] for a prefix longer than its address or too many prefixes (nothing
    /// is changed then); [`XdpError::Map`] if the kernel refuses an update, which can leave the
    /// list part-way (call again).
    pub fn set_allowed(&mut self, prefixes: Option<&[AllowPrefix]>) -> Result<(), XdpError> {
        let Some(prefixes) = prefixes else {
            self.write_config(FirewallConfig { enforce_allow: false, ..self.config })?;
            return self.replace_allow_entries(&BTreeSet::new());
        };
        let wanted = prefixes.iter().map(AllowPrefix::key).collect::<Result<BTreeSet<_>, _>>()?;
        if wanted.len() > ALLOW_PREFIXES_MAX as usize {
            return Err(XdpError::BadRule(format!(
                "{} distinct prefixes; the allow-list holds at most {ALLOW_PREFIXES_MAX}",
                wanted.len()
            )));
        }
        self.replace_allow_entries(&wanted)?;
        self.write_config(FirewallConfig { enforce_allow: true, ..self.config })
    }

    /// Sets every source's token bucket ([`RateLimit::OFF`] turns rate limiting off).
    ///
    /// Buckets keep their tokens; a smaller burst caps them at the next datagram.
    ///
    /// # Errors
    ///
    /// [`XdpError::BadRate`] beyond [`RATE_PER_SECOND_MAX`] or [`BURST_MAX`], or for a burst of
    /// 0 with a rate on; [`XdpError::Map`] if the config cannot be written.
    pub fn set_rate(&mut self, rate: RateLimit) -> Result<(), XdpError> {
        rate.validate()?;
        self.write_config(FirewallConfig { rate, ..self.config })
    }

    /// The counters since attaching, summed over CPUs.
    ///
    /// # Errors
    ///
    /// [`XdpError::Map`] if the kernel refuses the read.
    pub fn counters(&self) -> Result<XdpCounters, XdpError> {
        let map = self.ebpf.map(COUNTERS_MAP).ok_or_else(|| missing_map(COUNTERS_MAP))?;
        let counters: PerCpuArray<&MapData, u64> =
            PerCpuArray::try_from(map).map_err(|error| map_error(COUNTERS_MAP, &error))?;
        let read = |index: u32| -> Result<u64, XdpError> {
            let values = counters.get(&index, 0).map_err(|error| map_error("reading a counter", &error))?;
            Ok(values.iter().fold(0_u64, |sum, value| sum.saturating_add(*value)))
        };
        Ok(XdpCounters {
            passed: read(COUNTER_PASSED)?,
            dropped_denied: read(COUNTER_DROPPED_DENIED)?,
            dropped_rate: read(COUNTER_DROPPED_RATE)?,
            ignored: read(COUNTER_IGNORED)?,
        })
    }

    /// Detaches the program now, reporting failure (dropping detaches too, silently).
    ///
    /// # Errors
    ///
    /// [`XdpError::Attach`] with the kernel's answer if detaching fails.
    pub fn detach(mut self) -> Result<(), XdpError> {
        self.detach_link()
    }

    /// The XDP program in the object.
    fn program(&mut self) -> Result<&mut Xdp, XdpError> {
        let program = self
            .ebpf
            .program_mut(PROGRAM)
            .ok_or_else(|| XdpError::Load(format!("the BPF object has no program named {PROGRAM:?}")))?;
        program.try_into().map_err(|error: ProgramError| load_error(PROGRAM, &error))
    }

    /// Detaches the link if there is one.
    fn detach_link(&mut self) -> Result<(), XdpError> {
        let Some(link) = self.link.take() else {
            return Ok(());
        };
        let (interface, mode) = (self.interface.clone(), self.mode);
        self.program()?.detach(link).map_err(|error| XdpError::Attach {
            iface: interface,
            mode,
            cause: format!("detaching: {}", describe(&error)),
        })
    }

    /// Writes `config` to the config map, and remembers it once written.
    fn write_config(&mut self, config: FirewallConfig) -> Result<(), XdpError> {
        let map = self.ebpf.map_mut(CONFIG_MAP).ok_or_else(|| missing_map(CONFIG_MAP))?;
        let mut array: Array<&mut MapData, [u8; CONFIG_BYTES]> =
            Array::try_from(map).map_err(|error| map_error(CONFIG_MAP, &error))?;
        array.set(CONFIG_INDEX, config.encode(), 0).map_err(|error| map_error("writing the config", &error))?;
        self.config = config;
        Ok(())
    }

    /// Makes the allow-list map hold exactly `wanted`.
    fn replace_allow_entries(&mut self, wanted: &BTreeSet<AllowKey>) -> Result<(), XdpError> {
        let map = self.ebpf.map_mut(ALLOW_MAP).ok_or_else(|| missing_map(ALLOW_MAP))?;
        let mut trie: LpmTrie<&mut MapData, [u8; 16], u8> =
            LpmTrie::try_from(map).map_err(|error| map_error(ALLOW_MAP, &error))?;
        let present = trie
            .keys()
            .take(ALLOW_PREFIXES_MAX as usize + 1)
            .map(|key| key.map(|key| (key.prefix_len(), key.data())))
            .collect::<Result<BTreeSet<AllowKey>, _>>()
            .map_err(|error| map_error("listing the allow-list", &error))?;
        let stale: Vec<&AllowKey> = present.difference(wanted).collect();
        let fresh: Vec<&AllowKey> = wanted.difference(&present).collect();
        let fits_union = present.len() + fresh.len() <= ALLOW_PREFIXES_MAX as usize;

        let remove_stale = |trie: &mut LpmTrie<&mut MapData, [u8; 16], u8>| {
            stale.iter().try_for_each(|&&(prefix_len, address)| {
                trie.remove(&Key::new(prefix_len, address))
                    .map_err(|error| map_error("removing from the allow-list", &error))
            })
        };
        if !fits_union {
            remove_stale(&mut trie)?;
        }
        for &&(prefix_len, address) in &fresh {
            trie.insert(&Key::new(prefix_len, address), ALLOW_VALUE, 0)
                .map_err(|error| map_error("inserting into the allow-list", &error))?;
        }
        if fits_union {
            remove_stale(&mut trie)?;
        }
        Ok(())
    }
}

impl Drop for XdpFirewall {
    fn drop(&mut self) {
        // Nobody to tell about a failure here; aya also detaches the link when the program is
        // dropped with `ebpf`, right after this.
        let _ignored = self.detach_link();
    }
}

/// Attaches `program` to `iface` in `mode`.
fn attach_in(program: &mut Xdp, iface: &str, mode: XdpMode) -> Result<XdpLinkId, XdpError> {
    let flags = match mode {
        XdpMode::Native => aya::programs::XdpMode::Driver,
        XdpMode::Generic => aya::programs::XdpMode::Skb,
    };
    program.attach(iface, flags).map_err(|error| match error {
        ProgramError::UnknownInterface { name } => XdpError::NoInterface(name),
        error if is_permission_error(&error) => {
            XdpError::NotPermitted(format!("attaching to {iface} in {mode} mode: {}", describe(&error)))
        }
        error => XdpError::Attach { iface: iface.to_owned(), mode, cause: describe(&error) },
    })
}

/// The error for a map the embedded object should have but does not.
fn missing_map(name: &str) -> XdpError {
    XdpError::Load(format!("the BPF object has no map named {name:?}"))
}
