//! How the history, verdicts and evidence print: the explanations a person reads. Keys and values
//! print as quoted text when they are printable UTF-8, else as hex (in `Debug` too).

use std::fmt;

use super::{CitedEntry, Evidence, HistoryEntry, HistoryOp, OpCompletion, OpOutcome, Value, Verdict};

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_bytes(&self.0, f)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_bytes(&self.0, f)
    }
}

impl fmt::Display for HistoryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistoryOp::Put { value } => write!(f, "put {value}"),
            HistoryOp::Get => f.write_str("get"),
            HistoryOp::Remove => f.write_str("remove"),
            HistoryOp::CompareAndSet { expected, new } => {
                write!(f, "compare-and-set {} to {}", ValueOrAbsent(expected.as_ref()), ValueOrAbsent(new.as_ref()))
            }
        }
    }
}

impl fmt::Display for OpOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpOutcome::Read(value) => write!(f, "{}", ValueOrAbsent(value.as_ref())),
            OpOutcome::Ok => f.write_str("ok"),
            OpOutcome::CompareAndSet { succeeded, found } => {
                f.write_str(if *succeeded { "swapped" } else { "not swapped" })?;
                match found {
                    Some(found) => write!(f, " (found {})", ValueOrAbsent(found.as_ref())),
                    None => Ok(()),
                }
            }
        }
    }
}

impl fmt::Display for HistoryEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client {}: {}", self.client, self.op)?;
        match &self.completion {
            OpCompletion::Completed { at, outcome } => {
                write!(f, " -> {outcome}  [invoked at {}, completed at {}]", at_time(self.invoked_at), at_time(*at))
            }
            OpCompletion::Unknown => write!(f, " -> unknown (no answer)  [invoked at {}]", at_time(self.invoked_at)),
            OpCompletion::Failed => write!(f, " -> failed  [invoked at {}]", at_time(self.invoked_at)),
        }
    }
}

/// Most keys a verdict names after the one it explains (then it counts the rest).
const KEYS_SHOWN_MAX: usize = 20;

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Linearizable => f.write_str("linearizable"),
            Verdict::NotLinearizable { key, evidence, more_keys } => {
                write!(f, "key {} is not linearizable: {evidence}", KeyName(key))?;
                if !more_keys.is_empty() {
                    f.write_str("\nother keys not linearizable:")?;
                    for key in more_keys.iter().take(KEYS_SHOWN_MAX) {
                        write!(f, " {}", KeyName(key))?;
                    }
                    if more_keys.len() > KEYS_SHOWN_MAX {
                        write!(f, " and {} more", more_keys.len() - KEYS_SHOWN_MAX)?;
                    }
                }
                Ok(())
            }
            Verdict::Unknown { keys } => {
                f.write_str("unknown: the search budget ran out on key")?;
                if keys.len() > 1 {
                    f.write_str("s")?;
                }
                for key in keys {
                    write!(f, " {}", KeyName(key))?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for CitedEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} {}", self.index, self.entry)
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.ops.len();
        let (subject, outcomes) = if count == 1 {
            ("this operation".to_string(), "its outcome")
        } else {
            (format!("these {count} operations"), "their outcomes")
        };
        write!(
            f,
            "{subject} cannot be ordered consistently with {outcomes} and real time, even if every other \
             operation on the key that may have taken effect did so at any time after its invocation, or never:"
        )?;
        for op in &self.ops {
            write!(f, "\n  {op}")?;
            if op.index == self.culprit {
                f.write_str("  <- culprit")?;
            }
        }
        if !self.failed.is_empty() {
            f.write_str("\nthese operations failed, so none of the values above came from them:")?;
            for op in &self.failed {
                write!(f, "\n  {op}")?;
            }
        }
        write!(
            f,
            "\nthe key's history ({} entries) {} #{} completes ({} entries invoked by then)",
            self.key_entries,
            if self.earliest { "stops being linearizable when" } else { "is not linearizable by the time" },
            self.culprit,
            self.prefix_entries,
        )?;
        if !self.earliest {
            f.write_str("; the search budget ran out before it was known whether it went wrong earlier")?;
        }
        if !self.minimal {
            f.write_str("; the search budget ran out while shrinking, so some of these operations may not be needed")?;
        }
        Ok(())
    }
}

/// Bytes of a key or value printed whole; a longer one prints its first [`SHOWN_BYTES`], its
/// length and a digest of the whole, so that a 16 KiB value takes a line, not a screen.
pub const SHOWN_BYTES_MAX: usize = 32;
/// Bytes of a longer key or value that print.
const SHOWN_BYTES: usize = 16;

/// Writes bytes as a quoted string if they are printable UTF-8, else as hex; cut short past
/// [`SHOWN_BYTES_MAX`].
fn write_bytes(bytes: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let shown = if bytes.len() > SHOWN_BYTES_MAX { &bytes[..SHOWN_BYTES] } else { bytes };
    match std::str::from_utf8(shown) {
        Ok(text) if !text.chars().any(char::is_control) => write!(f, "{text:?}")?,
        _ => {
            f.write_str("0x")?;
            for byte in shown {
                write!(f, "{byte:02x}")?;
            }
        }
    }
    if shown.len() < bytes.len() {
        // The digest tells apart two long values with one beginning.
        let digest = pangea_core::node::state_digest(bytes) as u32;
        write!(f, "…({} bytes, #{digest:08x})", bytes.len())?;
    }
    Ok(())
}

/// Virtual time in nanoseconds, for a person, to the microsecond as traces print it
/// (`10.877012s`).
fn at_time(nanos: u64) -> String {
    let micros = nanos / 1_000;
    format!("{}.{:06}s", micros / 1_000_000, micros % 1_000_000)
}

/// A key, printed as [`write_bytes`] does.
pub(super) struct KeyName<'a>(pub(super) &'a [u8]);

impl fmt::Display for KeyName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_bytes(self.0, f)
    }
}

/// A value or its absence, printed.
struct ValueOrAbsent<'a>(Option<&'a Value>);

impl fmt::Display for ValueOrAbsent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(value) => write!(f, "{value}"),
            None => f.write_str("absent"),
        }
    }
}
