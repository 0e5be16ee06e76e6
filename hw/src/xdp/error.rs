//! The firewall's typed errors, and how aya's errors are sorted into them.

use std::error::Error;
use std::io;

use super::XdpMode;

/// What went wrong loading, attaching or configuring the XDP firewall.
#[derive(Debug, thiserror::Error)]
pub enum XdpError {
    /// No interface of that name in this network namespace (or the name cannot be one).
    #[error("no network interface named {0:?}")]
    NoInterface(String),
    /// The kernel refused for lack of privilege: loading and attaching need root, or
    /// `CAP_BPF` and `CAP_NET_ADMIN`.
    #[error("not permitted (needs root, or CAP_BPF and CAP_NET_ADMIN): {0}")]
    NotPermitted(String),
    /// The BPF object could not be parsed, or the kernel (its verifier) refused the program or
    /// a map.
    #[error("loading the XDP firewall failed: {0}")]
    Load(String),
    /// The program loaded but could not be attached to the interface.
    #[error("attaching the XDP firewall to {iface} in {mode} mode failed: {cause}")]
    Attach {
        /// The interface.
        iface: String,
        /// The mode that was tried last.
        mode: XdpMode,
        /// What the kernel said (for each mode tried).
        cause: String,
    },
    /// Reading or writing one of the firewall's maps failed.
    #[error("XDP firewall map: {0}")]
    Map(String),
    /// An allow-list prefix is invalid, or there are too many.
    #[error("bad allow rule: {0}")]
    BadRule(String),
    /// A rate limit is out of bounds.
    #[error("bad rate limit: {0}")]
    BadRate(String),
    /// The port cannot be filtered (port 0).
    #[error("bad port {0}: the firewall needs a port from 1 to 65535")]
    BadPort(u16),
}

/// `error` and its sources, joined by `": "` (aya's errors keep the kernel's answer in a source).
pub(crate) fn describe(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Whether the kernel's answer somewhere in `error`'s chain was EPERM. (Not EACCES: that is
/// how the verifier refuses a program.)
pub(crate) fn is_permission_error(error: &(dyn Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(cause) = current {
        if let Some(io_error) = cause.downcast_ref::<io::Error>()
            && matches!(io_error.raw_os_error(), Some(libc::EPERM))
        {
            return true;
        }
        current = cause.source();
    }
    false
}

/// Sorts a failure to load into [`XdpError::NotPermitted`] or [`XdpError::Load`].
pub(crate) fn load_error(context: &str, error: &(dyn Error + 'static)) -> XdpError {
    let text = format!("{context}: {}", describe(error));
    if is_permission_error(error) { XdpError::NotPermitted(text) } else { XdpError::Load(text) }
}

/// Sorts a failure on a map into [`XdpError::NotPermitted`] or [`XdpError::Map`].
pub(crate) fn map_error(context: &str, error: &(dyn Error + 'static)) -> XdpError {
    let text = format!("{context}: {}", describe(error));
    if is_permission_error(error) { XdpError::NotPermitted(text) } else { XdpError::Map(text) }
}

impl From<crate::prefix::PrefixError> for XdpError {
    fn from(error: crate::prefix::PrefixError) -> XdpError {
        XdpError::BadRule(error.0)
    }
}

impl From<pangea_core::firewall::FirewallConfigError> for XdpError {
    fn from(error: pangea_core::firewall::FirewallConfigError) -> XdpError {
        XdpError::BadRate(error.to_string())
    }
}
