//! Keys and the AEAD that seals chunks (client side).
//!
//! The owner holds one [`MasterKey`]; each object is sealed under its own [`ObjectKey`], derived
//! from the master key and the object id with blake3's key derivation, so that a reader can be given
//! one object's key without the others.
//!
//! Chunks are sealed with ChaCha20-Poly1305 (RFC 8439). The nonce is the chunk index, little-endian,
//! zero-padded to 12 bytes. That is unique under a key because the key is per object, an object id
//! is never reused (ids are random 256-bit values), and chunk indexes are distinct within an object.
//! The associated data binds a fixed label, [`FORMAT_VERSION`], the object id, the chunk index and
//! the "compressed" flag, so a chunk cannot be replayed under another object or index, nor have its
//! flag flipped.

use super::FORMAT_VERSION;
use super::ids::ObjectId;
use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce, Tag};
use std::fmt;

/// The blake3 key-derivation context of object keys.
const OBJECT_KEY_CONTEXT: &str = "pangea object key v1";
/// The label that opens a chunk's associated data.
const CHUNK_AAD_LABEL: &[u8; 16] = b"pangea ces chunk";
/// Bytes of a chunk's associated data: label, version, object id, index, flag.
const CHUNK_AAD_BYTES: usize = 16 + 2 + 32 + 4 + 1;
/// Bytes of the Poly1305 tag.
pub(crate) const TAG_BYTES: usize = 16;
/// Bytes of a ChaCha20-Poly1305 key.
const KEY_BYTES: usize = 32;
/// Bytes of a ChaCha20-Poly1305 nonce.
const NONCE_BYTES: usize = 12;

/// The owner's secret, from which every object key is derived. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct MasterKey([u8; KEY_BYTES]);

/// The key one object's chunks are sealed with. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct ObjectKey([u8; KEY_BYTES]);

impl MasterKey {
    /// The master key with these bytes (drawn by the owner from a cryptographic RNG).
    #[must_use]
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> MasterKey {
        MasterKey(bytes)
    }

    /// Its bytes, to store it.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; KEY_BYTES] {
        self.0
    }

    /// The key of `object`: blake3's `derive_key("pangea object key v1", master || object)`.
    #[must_use]
    pub fn object_key(&self, object: &ObjectId) -> ObjectKey {
        let mut material = [0; 2 * KEY_BYTES];
        material[..KEY_BYTES].copy_from_slice(&self.0);
        material[KEY_BYTES..].copy_from_slice(&object.0);
        ObjectKey(blake3::derive_key(OBJECT_KEY_CONTEXT, &material))
    }
}

impl ObjectKey {
    /// The object key with these bytes (as handed to a reader of one object).
    #[must_use]
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> ObjectKey {
        ObjectKey(bytes)
    }

    /// Its bytes, to hand to a reader of this one object.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; KEY_BYTES] {
        self.0
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_BYTES] {
        &self.0
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ObjectKey(..)")
    }
}

/// The nonce of chunk `index`: the index little-endian, zero-padded to 12 bytes.
pub(crate) fn chunk_nonce(index: u32) -> [u8; NONCE_BYTES] {
    let mut nonce = [0; NONCE_BYTES];
    nonce[..4].copy_from_slice(&index.to_le_bytes());
    nonce
}

/// The associated data of chunk `index` of `object`.
pub(crate) fn chunk_aad(object: &ObjectId, index: u32, compressed: bool) -> [u8; CHUNK_AAD_BYTES] {
    let mut aad = [0; CHUNK_AAD_BYTES];
    aad[..16].copy_from_slice(CHUNK_AAD_LABEL);
    aad[16..18].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    aad[18..50].copy_from_slice(&object.0);
    aad[50..54].copy_from_slice(&index.to_le_bytes());
    aad[54] = u8::from(compressed);
    aad
}

/// The AEAD refused: on sealing, a message too long for ChaCha20 (impossible under the chunk
/// limits); on opening, a tag that does not verify or bytes shorter than a tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AeadFailed;

/// Encrypts `buffer` in place and appends the tag. Reserve [`TAG_BYTES`] beforehand to avoid a copy.
pub(crate) fn encrypt_in_place(
    key: &[u8; KEY_BYTES],
    nonce: &[u8; NONCE_BYTES],
    aad: &[u8],
    buffer: &mut Vec<u8>,
) -> Result<(), AeadFailed> {
    let cipher = ChaCha20Poly1305::new(&Key::from(*key));
    let tag = cipher
        .encrypt_inout_detached(&Nonce::from(*nonce), aad, buffer.as_mut_slice().into())
        .map_err(|_| AeadFailed)?;
    buffer.extend_from_slice(tag.as_slice());
    Ok(())
}

/// Verifies the tag at the end of `buffer`, decrypts the rest in place and drops the tag. On failure
/// the buffer's contents are unspecified.
pub(crate) fn decrypt_in_place(
    key: &[u8; KEY_BYTES],
    nonce: &[u8; NONCE_BYTES],
    aad: &[u8],
    buffer: &mut Vec<u8>,
) -> Result<(), AeadFailed> {
    let body_len = buffer.len().checked_sub(TAG_BYTES).ok_or(AeadFailed)?;
    let (body, tag) = buffer.split_at_mut(body_len);
    let tag = Tag::try_from(&*tag).map_err(|_| AeadFailed)?;
    let cipher = ChaCha20Poly1305::new(&Key::from(*key));
    cipher.decrypt_inout_detached(&Nonce::from(*nonce), aad, body.into(), &tag).map_err(|_| AeadFailed)?;
    buffer.truncate(body_len);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8439 §2.8.2, the AEAD_CHACHA20_POLY1305 example, through the functions the seal uses.
    #[test]
    fn rfc8439_aead_known_answer() {
        let mut key = [0; 32];
        for (index, byte) in key.iter_mut().enumerate() {
            *byte = 0x80 + u8::try_from(index).unwrap_or(0);
        }
        let nonce = [0x07, 0x00, 0x00, 0x00, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47];
        let aad = [0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7];
        let plaintext: &[u8] = b"Ladies and Gentlemen of the class of '99: \
            If I could offer you only one tip for the future, sunscreen would be it.";
        let ciphertext: [u8; 114] = [
            0xd3, 0x1a, 0x8d, 0x34, 0x64, 0x8e, 0x60, 0xdb, 0x7b, 0x86, 0xaf, 0xbc, 0x53, 0xef, 0x7e, 0xc2, 0xa4, 0xad,
            0xed, 0x51, 0x29, 0x6e, 0x08, 0xfe, 0xa9, 0xe2, 0xb5, 0xa7, 0x36, 0xee, 0x62, 0xd6, 0x3d, 0xbe, 0xa4, 0x5e,
            0x8c, 0xa9, 0x67, 0x12, 0x82, 0xfa, 0xfb, 0x69, 0xda, 0x92, 0x72, 0x8b, 0x1a, 0x71, 0xde, 0x0a, 0x9e, 0x06,
            0x0b, 0x29, 0x05, 0xd6, 0xa5, 0xb6, 0x7e, 0xcd, 0x3b, 0x36, 0x92, 0xdd, 0xbd, 0x7f, 0x2d, 0x77, 0x8b, 0x8c,
            0x98, 0x03, 0xae, 0xe3, 0x28, 0x09, 0x1b, 0x58, 0xfa, 0xb3, 0x24, 0xe4, 0xfa, 0xd6, 0x75, 0x94, 0x55, 0x85,
            0x80, 0x8b, 0x48, 0x31, 0xd7, 0xbc, 0x3f, 0xf4, 0xde, 0xf0, 0x8e, 0x4b, 0x7a, 0x9d, 0xe5, 0x76, 0xd2, 0x65,
            0x86, 0xce, 0xc6, 0x4b, 0x61, 0x16,
        ];
        let tag = [0x1a, 0xe1, 0x0b, 0x59, 0x4f, 0x09, 0xe2, 0x6a, 0x7e, 0x90, 0x2e, 0xcb, 0xd0, 0x60, 0x06, 0x91];

        let mut buffer = plaintext.to_vec();
        assert_eq!(encrypt_in_place(&key, &nonce, &aad, &mut buffer), Ok(()));
        assert_eq!(&buffer[..plaintext.len()], &ciphertext[..]);
        assert_eq!(&buffer[plaintext.len()..], &tag[..]);

        assert_eq!(decrypt_in_place(&key, &nonce, &aad, &mut buffer), Ok(()));
        assert_eq!(buffer, plaintext);

        // One flipped bit anywhere, or other associated data, fails.
        let mut sealed = ciphertext.to_vec();
        sealed.extend_from_slice(&tag);
        for position in [0, 57, sealed.len() - 1] {
            let mut tampered = sealed.clone();
            tampered[position] ^= 1;
            assert_eq!(decrypt_in_place(&key, &nonce, &aad, &mut tampered), Err(AeadFailed));
        }
        let mut copy = sealed.clone();
        assert_eq!(decrypt_in_place(&key, &nonce, &aad[1..], &mut copy), Err(AeadFailed));
        let mut short = vec![0; TAG_BYTES - 1];
        assert_eq!(decrypt_in_place(&key, &nonce, &aad, &mut short), Err(AeadFailed));
    }

    #[test]
    fn keys_are_per_object_and_redacted() {
        let master = MasterKey::from_bytes([9; 32]);
        let a = master.object_key(&ObjectId([1; 32]));
        let b = master.object_key(&ObjectId([2; 32]));
        assert_ne!(a.to_bytes(), b.to_bytes());
        assert_eq!(a.to_bytes(), master.object_key(&ObjectId([1; 32])).to_bytes());
        assert_eq!(MasterKey::from_bytes(master.to_bytes()).object_key(&ObjectId([1; 32])).to_bytes(), a.to_bytes());
        assert_eq!(format!("{master:?}"), "MasterKey(..)");
        assert_eq!(format!("{a:?}"), "ObjectKey(..)");
    }

    #[test]
    fn nonce_and_aad_layout() {
        assert_eq!(chunk_nonce(0x0403_0201), [1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0]);
        let aad = chunk_aad(&ObjectId([7; 32]), 5, true);
        assert_eq!(&aad[..16], CHUNK_AAD_LABEL);
        assert_eq!(&aad[16..18], &FORMAT_VERSION.to_le_bytes());
        assert_eq!(aad[50..55], [5, 0, 0, 0, 1]);
        assert_ne!(aad, chunk_aad(&ObjectId([7; 32]), 5, false));
    }
}
