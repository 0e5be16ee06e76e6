//! What this machine offers the node's optional paths, probed once at start-up: CPU features, the
//! kernel's io_uring (honouring `kernel.io_uring_disabled`), and eBPF/XDP (privileges, BTF); and
//! the path each subsystem takes, with the reason, given what the operator asked for.
//!
//! Nothing here fails: a probe that cannot decide reports why, and the choice falls back to the
//! portable path.

use std::fmt;
use std::path::Path;

/// The sysctl that turns io_uring off (0: on, 1: only for a chosen group, 2: off).
pub const IO_URING_DISABLED_SYSCTL: &str = "/proc/sys/kernel/io_uring_disabled";
/// The kernel's own BTF, present when the kernel was built with it.
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Capability bits of `CapEff` in `/proc/self/status`.
const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_BPF: u32 = 39;

/// The CPU's vector extensions the node's kernels (Reed-Solomon, hashing, compression) can use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuFeatures {
    /// x86-64 AVX2.
    pub avx2: bool,
    /// x86-64 AVX-512 Foundation.
    pub avx512f: bool,
    /// AArch64 NEON (Advanced SIMD).
    pub neon: bool,
}

impl CpuFeatures {
    /// The features of the CPU this runs on.
    #[must_use]
    pub fn detect() -> CpuFeatures {
        #[cfg(target_arch = "x86_64")]
        {
            CpuFeatures {
                avx2: std::arch::is_x86_feature_detected!("avx2"),
                avx512f: std::arch::is_x86_feature_detected!("avx512f"),
                neon: false,
            }
        }
        #[cfg(target_arch = "aarch64")]
        {
            CpuFeatures { avx2: false, avx512f: false, neon: std::arch::is_aarch64_feature_detected!("neon") }
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            CpuFeatures::default()
        }
    }
}

impl fmt::Display for CpuFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [(self.avx2, "avx2"), (self.avx512f, "avx512f"), (self.neon, "neon")]
            .into_iter()
            .filter_map(|(has, name)| has.then_some(name))
            .collect();
        if names.is_empty() { f.write_str("no vector extensions") } else { f.write_str(&names.join(" ")) }
    }
}

/// Whether a kernel facility can be used here, and why not when it cannot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// It works (the probe used it).
    Available,
    /// It cannot be used; the text says why.
    Unavailable(String),
}

impl Probe {
    /// True when it works.
    #[must_use]
    pub fn is_available(&self) -> bool {
        matches!(self, Probe::Available)
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Available => f.write_str("available"),
            Probe::Unavailable(why) => write!(f, "unavailable: {why}"),
        }
    }
}

/// What this machine offers, probed once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// The CPU's vector extensions.
    pub cpu: CpuFeatures,
    /// io_uring: the sysctl allows it, this build has it, and a ring could be set up.
    pub io_uring: Probe,
    /// eBPF and XDP: this build has them and the process may load programs and attach them.
    pub ebpf: Probe,
    /// The kernel has BTF (`/sys/kernel/btf/vmlinux`).
    pub btf: bool,
}

impl Capabilities {
    /// Probes this machine.
    #[must_use]
    pub fn detect() -> Capabilities {
        Capabilities {
            cpu: CpuFeatures::detect(),
            io_uring: probe_io_uring(),
            ebpf: probe_ebpf(),
            btf: Path::new(VMLINUX_BTF).exists(),
        }
    }
}

/// Reads `kernel.io_uring_disabled`: `None` when the file is absent (kernels before 6.6 have no
/// such switch) or unreadable.
#[must_use]
pub fn io_uring_disabled_sysctl() -> Option<u8> {
    std::fs::read_to_string(IO_URING_DISABLED_SYSCTL).ok().and_then(|text| text.trim().parse().ok())
}

fn probe_io_uring() -> Probe {
    match io_uring_disabled_sysctl() {
        Some(2) => return Probe::Unavailable("kernel.io_uring_disabled = 2 (off for every process)".to_owned()),
        Some(1) if !is_root() => {
            return Probe::Unavailable(
                "kernel.io_uring_disabled = 1 (only for the io_uring_group and privileged processes)".to_owned(),
            );
        }
        _ => {}
    }
    #[cfg(all(feature = "uring", target_os = "linux"))]
    {
        match io_uring::IoUring::new(2) {
            Ok(_) => Probe::Available,
            Err(error) => Probe::Unavailable(format!("cannot set up a ring: {error}")),
        }
    }
    #[cfg(not(all(feature = "uring", target_os = "linux")))]
    {
        Probe::Unavailable("this build has no io_uring path (cargo feature `uring`, Linux only)".to_owned())
    }
}

fn probe_ebpf() -> Probe {
    if !cfg!(all(feature = "ebpf", target_os = "linux")) {
        return Probe::Unavailable("this build has no XDP firewall (cargo feature `ebpf`, Linux only)".to_owned());
    }
    let caps = effective_capabilities();
    let has = |bit: u32| caps.is_some_and(|caps| caps & (1 << bit) != 0);
    if !(has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_NET_ADMIN))) {
        return Probe::Unavailable(
            "the process may not load BPF programs (it needs CAP_BPF and CAP_NET_ADMIN, or root)".to_owned(),
        );
    }
    Probe::Available
}

/// The effective capability set (`CapEff` of `/proc/self/status`).
fn effective_capabilities() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|line| line.strip_prefix("CapEff:"))?;
    u64::from_str_radix(line.trim(), 16).ok()
}

fn is_root() -> bool {
    effective_capabilities().is_some_and(|caps| caps & (1 << CAP_SYS_ADMIN) != 0)
}

/// What the operator asked for a path (`--io`, `--firewall`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wanted {
    /// The fast path where the machine offers it, else the portable one.
    Auto,
    /// The fast path, or fail when the machine does not offer it.
    Fast,
    /// The portable path.
    Portable,
}

/// The path a subsystem takes and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    /// True for the fast path (io_uring, XDP), false for the portable one.
    pub fast: bool,
    /// Why, in words for the log line and `pangea status`.
    pub reason: String,
}

/// Why the fast path was asked for and cannot be had.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path} was asked for, but it is {probe}")]
pub struct Unsupported {
    /// The path asked for.
    pub path: &'static str,
    /// The probe's answer.
    pub probe: Probe,
}

/// Chooses between the fast path `fast_name` (offered when `probe` is available) and the portable
/// one, as `wanted` says.
pub fn choose(fast_name: &'static str, probe: &Probe, wanted: Wanted) -> Result<Choice, Unsupported> {
    match (wanted, probe) {
        (Wanted::Portable, _) => Ok(Choice { fast: false, reason: "asked for".to_owned() }),
        (Wanted::Fast | Wanted::Auto, Probe::Available) => Ok(Choice {
            fast: true,
            reason: if wanted == Wanted::Fast { "asked for".to_owned() } else { format!("{fast_name} available") },
        }),
        (Wanted::Fast, probe) => Err(Unsupported { path: fast_name, probe: probe.clone() }),
        (Wanted::Auto, Probe::Unavailable(why)) => {
            Ok(Choice { fast: false, reason: format!("{fast_name} unavailable: {why}") })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_falls_back_with_the_probe_reason() {
        let probe = Probe::Unavailable("kernel.io_uring_disabled = 2".to_owned());
        let choice = choose("io_uring", &probe, Wanted::Auto).unwrap();
        assert!(!choice.fast);
        assert!(choice.reason.contains("io_uring_disabled = 2"), "{}", choice.reason);
        assert!(choose("io_uring", &probe, Wanted::Fast).is_err());
        assert!(!choose("io_uring", &Probe::Available, Wanted::Portable).unwrap().fast);
        assert!(choose("io_uring", &Probe::Available, Wanted::Auto).unwrap().fast);
    }

    #[test]
    fn detection_answers_without_failing() {
        let caps = Capabilities::detect();
        assert!(!caps.cpu.to_string().is_empty());
        if cfg!(not(feature = "uring")) {
            assert!(!caps.io_uring.is_available());
        }
    }
}
