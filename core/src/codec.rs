//! The versioned wire codec: typed messages to bytes and back.
//!
//! Every message that crosses a node boundary — in the simulator as much as on QUIC — is sealed in a
//! frame:
//!
//! ```text
//! magic "PG" | frame version u8 | family u8 | schema version u16 LE | payload length u32 LE
//! | payload | checksum: XXH3-64 of everything before it, u64 LE
//! ```
//!
//! The checksum catches accidental corruption (a flipped bit in memory, on disk, in the
//! simulator's corrupting network); it is not a MAC. On the real wire QUIC's AEAD authenticates
//! every packet, so a fast non-cryptographic checksum is enough here, and it keeps the codec cheap
//! enough that the simulator can push every message through it. The checksum also serves as the
//! frame's digest in traces ([`frame_digest`]).
//!
//! The family says which subsystem's message type the payload holds, the schema version which
//! revision of it. Decoding checks every field and the checksum before it looks at the payload, and
//! answers malformed, truncated, corrupted or foreign input with a [`CodecError`], never a panic.
//! Payloads are encoded with postcard (a stable, documented format) by default.

use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

/// The first two bytes of every frame.
pub const FRAME_MAGIC: [u8; 2] = *b"PG";
/// The version of the frame layout itself (not of any payload).
pub const FRAME_VERSION: u8 = 1;
/// Bytes before the payload.
pub const FRAME_HEADER_BYTES: usize = 10;
/// Bytes of checksum after the payload.
pub const FRAME_CHECKSUM_BYTES: usize = 8;
/// The buffer a frame's encoding starts with.
const FRAME_ENCODE_CAPACITY_BYTES: usize = 256;
/// The largest payload a frame may carry; larger frames are refused before any allocation.
pub const FRAME_PAYLOAD_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Why bytes could not be turned into a message.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum CodecError {
    /// Fewer bytes than a frame header and checksum need.
    #[error("frame too short: {length} bytes, at least {minimum} needed")]
    TooShort {
        /// Bytes received.
        length: usize,
        /// Bytes a frame needs at least.
        minimum: usize,
    },
    /// The bytes do not start with Pangea's magic.
    #[error("not a Pangea frame (bad magic)")]
    BadMagic,
    /// A frame layout this build does not know.
    #[error("unsupported frame version {found} (this build speaks {FRAME_VERSION})")]
    UnsupportedFrameVersion {
        /// The version in the frame.
        found: u8,
    },
    /// The frame holds another subsystem's message.
    #[error("frame of message family {found}, expected {expected}")]
    WrongFamily {
        /// The family the decoder wanted.
        expected: u8,
        /// The family in the frame.
        found: u8,
    },
    /// The frame's family belongs to none of the types a composite routes to.
    #[error("frame of message family {found}, which this node does not speak")]
    UnknownFamily {
        /// The family in the frame.
        found: u8,
    },
    /// A schema revision outside what this build accepts.
    #[error("schema version {found} not in the supported range {minimum}..={maximum}")]
    UnsupportedSchemaVersion {
        /// The version in the frame.
        found: u16,
        /// Oldest accepted.
        minimum: u16,
        /// Newest accepted.
        maximum: u16,
    },
    /// The header's length disagrees with the bytes received.
    #[error("frame says {declared} payload bytes, but {actual} arrived")]
    LengthMismatch {
        /// Payload length in the header.
        declared: usize,
        /// Payload bytes present.
        actual: usize,
    },
    /// The payload is larger than [`FRAME_PAYLOAD_BYTES_MAX`].
    #[error("payload of {length} bytes exceeds the limit of {FRAME_PAYLOAD_BYTES_MAX}")]
    TooLarge {
        /// Declared or actual payload length.
        length: usize,
    },
    /// The checksum does not match: the frame was corrupted in flight or on disk.
    #[error("checksum mismatch: frame corrupted")]
    ChecksumMismatch,
    /// The payload does not decode as the expected message type.
    #[error("malformed payload: {0}")]
    Malformed(String),
}

/// Why a message could not be turned into bytes. Encoding never panics: a node that builds a
/// message over the frame limit gets this error, and the runtime drops the message and says so.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// The payload is larger than a frame may carry.
    #[error("message of family {family} encodes to {bytes} bytes, over the frame limit of {limit}")]
    TooLarge {
        /// The message's family.
        family: u8,
        /// Its payload size.
        bytes: usize,
        /// The limit ([`FRAME_PAYLOAD_BYTES_MAX`]).
        limit: usize,
    },
    /// The serializer refused the value (a message type postcard cannot express).
    #[error("message of family {family} cannot be serialized: {reason}")]
    Unserializable {
        /// The message's family.
        family: u8,
        /// The serializer's reason.
        reason: String,
    },
}

/// A type that crosses a node boundary as a frame.
///
/// A leaf type owns one family (see [`crate::family`]) and is usually implemented with
/// [`serde_codec!`](crate::serde_codec); a composite type (a node's message enum, say) accepts the
/// families of all its variants and routes each frame to the variant that owns its family
/// ([`composite!`](crate::composite)).
pub trait Codec: Sized {
    /// True when frames of `family` hold this type.
    fn accepts(family: u8) -> bool;

    /// Encodes `self` as a complete, checksummed frame.
    fn encode(&self) -> Result<Vec<u8>, EncodeError>;

    /// Decodes a frame whose header, length and checksum were already checked.
    fn decode_frame(frame: FrameHeader<'_>) -> Result<Self, CodecError>;

    /// Decodes a complete frame, checking magic, versions, family, length and checksum first.
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        Self::decode_frame(FrameHeader::parse(bytes)?)
    }
}

/// The checked header of a frame and a view of its payload.
#[derive(Clone, Copy, Debug)]
pub struct FrameHeader<'a> {
    /// The message family.
    pub family: u8,
    /// The payload's schema revision.
    pub schema_version: u16,
    /// The payload bytes (checksum already verified).
    pub payload: &'a [u8],
}

impl<'a> FrameHeader<'a> {
    /// Checks everything about a frame except what its payload means.
    pub fn parse(bytes: &'a [u8]) -> Result<FrameHeader<'a>, CodecError> {
        let minimum = FRAME_HEADER_BYTES + FRAME_CHECKSUM_BYTES;
        if bytes.len() < minimum {
            return Err(CodecError::TooShort { length: bytes.len(), minimum });
        }
        if bytes[0..2] != FRAME_MAGIC {
            return Err(CodecError::BadMagic);
        }
        if bytes[2] != FRAME_VERSION {
            return Err(CodecError::UnsupportedFrameVersion { found: bytes[2] });
        }
        let family = bytes[3];
        let schema_version = u16::from_le_bytes([bytes[4], bytes[5]]);
        let declared = u32::from_le_bytes([bytes[6], bytes[7], bytes[8], bytes[9]]) as usize;
        if declared > FRAME_PAYLOAD_BYTES_MAX {
            return Err(CodecError::TooLarge { length: declared });
        }
        let actual = bytes.len() - minimum;
        if declared != actual {
            return Err(CodecError::LengthMismatch { declared, actual });
        }
        let body_end = bytes.len() - FRAME_CHECKSUM_BYTES;
        if frame_checksum(&bytes[..body_end]) != bytes[body_end..] {
            return Err(CodecError::ChecksumMismatch);
        }
        Ok(FrameHeader { family, schema_version, payload: &bytes[FRAME_HEADER_BYTES..body_end] })
    }

    /// Decodes the payload as `T` if the frame is of `family` and its schema version lies in
    /// `minimum..=maximum` (the checks a leaf type's [`Codec::decode_frame`] makes).
    pub fn decode_serde_payload<T: DeserializeOwned>(
        &self,
        family: u8,
        minimum: u16,
        maximum: u16,
    ) -> Result<T, CodecError> {
        if self.family != family {
            return Err(CodecError::WrongFamily { expected: family, found: self.family });
        }
        if self.schema_version < minimum || self.schema_version > maximum {
            return Err(CodecError::UnsupportedSchemaVersion { found: self.schema_version, minimum, maximum });
        }
        decode_serde(self.payload)
    }
}

fn frame_checksum(body: &[u8]) -> [u8; FRAME_CHECKSUM_BYTES] {
    twox_hash::XxHash3_64::oneshot(body).to_le_bytes()
}

/// Seals `value`'s postcard encoding in a frame of `family` and `schema_version`.
pub fn encode_serde_frame<T: Serialize>(family: u8, schema_version: u16, value: &T) -> Result<Vec<u8>, EncodeError> {
    // Most messages are small; a large one grows by doubling, which copies less than a second
    // serialization walk to size it would cost the small ones.
    let mut out = Vec::with_capacity(FRAME_ENCODE_CAPACITY_BYTES);
    out.extend_from_slice(&FRAME_MAGIC);
    out.push(FRAME_VERSION);
    out.push(family);
    out.extend_from_slice(&schema_version.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // payload length, patched below
    let mut out = postcard::to_extend(value, out)
        .map_err(|error| EncodeError::Unserializable { family, reason: error.to_string() })?;
    let payload_length = out.len() - FRAME_HEADER_BYTES;
    if payload_length > FRAME_PAYLOAD_BYTES_MAX {
        return Err(EncodeError::TooLarge { family, bytes: payload_length, limit: FRAME_PAYLOAD_BYTES_MAX });
    }
    let length = u32::try_from(payload_length).map_err(|_| EncodeError::TooLarge {
        family,
        bytes: payload_length,
        limit: FRAME_PAYLOAD_BYTES_MAX,
    })?;
    out[6..10].copy_from_slice(&length.to_le_bytes());
    let checksum = frame_checksum(&out);
    out.extend_from_slice(&checksum);
    Ok(out)
}

/// A 64-bit digest of an encoded frame, for traces: its checksum, read back rather than computed
/// again. For bytes too short to be a frame, a hash of the bytes themselves.
#[must_use]
pub fn frame_digest(frame: &[u8]) -> u64 {
    match frame.len().checked_sub(FRAME_CHECKSUM_BYTES) {
        Some(start) if frame.len() >= FRAME_HEADER_BYTES + FRAME_CHECKSUM_BYTES => {
            let mut checksum = [0; FRAME_CHECKSUM_BYTES];
            checksum.copy_from_slice(&frame[start..]);
            u64::from_le_bytes(checksum)
        }
        _ => twox_hash::XxHash3_64::oneshot(frame),
    }
}

/// Implements [`Codec`] for a serde type with postcard payloads, owning one family:
/// `serde_codec!(MyMessage, family = 7, version = 1);`, or for a generic type
/// `serde_codec!(impl[C: Bounds] MyMessage<C>, family = 7, version = 1);`.
#[macro_export]
macro_rules! serde_codec {
    ($type:ty, family = $family:expr, version = $version:expr) => {
        $crate::serde_codec!(impl[] $type, family = $family, version = $version);
    };
    (impl[$($generics:tt)*] $type:ty, family = $family:expr, version = $version:expr) => {
        impl<$($generics)*> $crate::codec::Codec for $type {
            fn accepts(family: u8) -> bool {
                family == $family
            }
            fn encode(&self) -> Result<Vec<u8>, $crate::codec::EncodeError> {
                $crate::codec::encode_serde_frame($family, $version, self)
            }
            fn decode_frame(frame: $crate::codec::FrameHeader<'_>) -> Result<Self, $crate::codec::CodecError> {
                frame.decode_serde_payload($family, $version, $version)
            }
        }
    };
}

/// Declares a composite enum with one variant per part — a node's messages, timers, requests or
/// responses — and a `From` conversion from each part's type, so that a
/// [`Scoped`](crate::compose::Scoped) context can wrap what a subsystem emits. With `codec`, it
/// also implements [`Codec`]: a frame goes to the variant whose type accepts its family, and a
/// variant encodes as its own type does (so a composite's frames are its parts' frames).
///
/// ```
/// # use pangea_core::composite;
/// # use pangea_core::membership::{MembershipMessage, MembershipTimer};
/// composite! {
///     /// What the nodes of my system say to each other.
///     #[derive(Clone, Debug, PartialEq, Eq)]
///     pub enum MyMessage: codec { Membership(MembershipMessage) }
/// }
/// composite! {
///     /// My system's timers.
///     #[derive(Clone, Debug)]
///     pub enum MyTimer { Membership(MembershipTimer) }
/// }
/// ```
#[macro_export]
macro_rules! composite {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident($inner:ty)),+ $(,)? }) => {
        $(#[$meta])*
        $vis enum $name {
            $(
                #[doc = concat!("The `", stringify!($inner), "` part.")]
                $(#[$vmeta])* $variant($inner),
            )+
        }
        $(
            impl ::core::convert::From<$inner> for $name {
                fn from(inner: $inner) -> $name {
                    $name::$variant(inner)
                }
            }
        )+
    };
    ($(#[$meta:meta])* $vis:vis enum $name:ident: codec { $($(#[$vmeta:meta])* $variant:ident($inner:ty)),+ $(,)? }) => {
        $crate::composite! { $(#[$meta])* $vis enum $name { $($(#[$vmeta])* $variant($inner)),+ } }
        impl $crate::codec::Codec for $name {
            fn accepts(family: u8) -> bool {
                $(<$inner as $crate::codec::Codec>::accepts(family))||+
            }
            fn encode(&self) -> Result<Vec<u8>, $crate::codec::EncodeError> {
                match self {
                    $($name::$variant(inner) => $crate::codec::Codec::encode(inner),)+
                }
            }
            fn decode_frame(frame: $crate::codec::FrameHeader<'_>) -> Result<Self, $crate::codec::CodecError> {
                $(
                    if <$inner as $crate::codec::Codec>::accepts(frame.family) {
                        return <$inner as $crate::codec::Codec>::decode_frame(frame).map($name::$variant);
                    }
                )+
                Err($crate::codec::CodecError::UnknownFamily { found: frame.family })
            }
        }
    };
}

/// Appends the postcard encoding of `value` to `out` (for values stored rather than sent).
///
/// # Errors
/// Only if `value`'s `Serialize` implementation is not supported by postcard (for example a map of
/// unknown length) — a programming error in a stored type, caught by its round-trip tests.
pub fn encode_serde<T: Serialize>(value: &T, out: &mut Vec<u8>) -> Result<(), postcard::Error> {
    let taken = std::mem::take(out);
    *out = postcard::to_extend(value, taken)?;
    Ok(())
}

/// The number of bytes `value`'s postcard encoding takes, without encoding it (0 if it cannot be
/// encoded, which [`encode_serde`] would report).
#[must_use]
pub fn encoded_len<T: Serialize>(value: &T) -> usize {
    postcard::serialize_with_flavor::<T, postcard::ser_flavors::Size, usize>(
        value,
        postcard::ser_flavors::Size::default(),
    )
    .unwrap_or(0)
}

/// Decodes a postcard payload that must be consumed exactly.
pub fn decode_serde<T: DeserializeOwned>(payload: &[u8]) -> Result<T, CodecError> {
    let (value, rest) = postcard::take_from_bytes(payload).map_err(|error| CodecError::Malformed(error.to_string()))?;
    if !rest.is_empty() {
        return Err(CodecError::Malformed(format!("{} trailing bytes", rest.len())));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        number: u64,
        text: String,
        bytes: Vec<u8>,
    }

    impl Codec for Sample {
        fn accepts(family: u8) -> bool {
            family == 250
        }
        fn encode(&self) -> Result<Vec<u8>, EncodeError> {
            encode_serde_frame(250, 3, self)
        }
        fn decode_frame(frame: FrameHeader<'_>) -> Result<Self, CodecError> {
            frame.decode_serde_payload(250, 2, 3)
        }
    }

    fn sample() -> Sample {
        Sample { number: 7, text: "seven".into(), bytes: vec![1, 2, 3] }
    }

    #[test]
    fn every_header_field_is_checked() {
        let good = sample().encode().unwrap();
        assert_eq!(Sample::decode(&good), Ok(sample()));

        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(Sample::decode(&bad), Err(CodecError::BadMagic));

        let mut bad = good.clone();
        bad[2] = 9;
        assert_eq!(Sample::decode(&bad), Err(CodecError::UnsupportedFrameVersion { found: 9 }));

        let mut bad = good.clone();
        bad[4] = 1; // schema version 1 < minimum 2; checksum is checked first, so fix it up
        reseal(&mut bad);
        assert!(matches!(Sample::decode(&bad), Err(CodecError::UnsupportedSchemaVersion { found: 1, .. })));

        let mut bad = good.clone();
        bad[3] = 1;
        reseal(&mut bad);
        assert_eq!(Sample::decode(&bad), Err(CodecError::WrongFamily { expected: 250, found: 1 }));

        let mut bad = good.clone();
        let last = bad.len() - 9;
        bad[last] ^= 0x40;
        assert_eq!(Sample::decode(&bad), Err(CodecError::ChecksumMismatch));

        assert!(matches!(Sample::decode(&good[..good.len() - 1]), Err(CodecError::LengthMismatch { .. })));
        assert!(matches!(Sample::decode(&good[..5]), Err(CodecError::TooShort { .. })));

        let mut bad = good.clone();
        bad[6..10].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(Sample::decode(&bad), Err(CodecError::TooLarge { .. })));
    }

    #[test]
    fn trailing_payload_bytes_are_refused() {
        let mut frame = sample().encode().unwrap();
        // Append a byte to the payload and fix up length and checksum: a well-formed frame whose
        // payload has garbage after the message.
        frame.truncate(frame.len() - FRAME_CHECKSUM_BYTES);
        frame.push(0);
        let length = (frame.len() - FRAME_HEADER_BYTES) as u32;
        frame[6..10].copy_from_slice(&length.to_le_bytes());
        let checksum = frame_checksum(&frame);
        frame.extend_from_slice(&checksum);
        assert!(matches!(Sample::decode(&frame), Err(CodecError::Malformed(_))));
    }

    fn reseal(frame: &mut Vec<u8>) {
        frame.truncate(frame.len() - FRAME_CHECKSUM_BYTES);
        let checksum = frame_checksum(frame);
        frame.extend_from_slice(&checksum);
    }

    proptest! {
        #[test]
        fn round_trips(number: u64, text in ".{0,40}", bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let value = Sample { number, text, bytes };
            prop_assert_eq!(Sample::decode(&value.encode().unwrap()), Ok(value));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Sample::decode(&bytes);
        }

        #[test]
        fn arbitrary_payloads_in_valid_frames_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut frame = Vec::new();
            frame.extend_from_slice(&FRAME_MAGIC);
            frame.push(FRAME_VERSION);
            frame.push(250);
            frame.extend_from_slice(&3_u16.to_le_bytes());
            frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            frame.extend_from_slice(&payload);
            let checksum = frame_checksum(&frame);
            frame.extend_from_slice(&checksum);
            let _ = Sample::decode(&frame);
        }

        #[test]
        fn any_single_bit_flip_is_detected(bit in 0usize..1000) {
            let frame = sample().encode().unwrap();
            let bit = bit % (frame.len() * 8);
            let mut corrupted = frame.clone();
            corrupted[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(Sample::decode(&corrupted).is_err());
        }
    }
}
