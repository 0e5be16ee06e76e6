//! Lower-case hex text for the ids, keys and tokens the data directory stores.

/// `bytes` as lower-case hex, two digits a byte.
#[must_use]
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// Exactly 32 bytes from 64 hex digits (either case), or `None` for anything else.
#[must_use]
pub fn decode_32(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(bytes)
}

/// Bytes from an even number of hex digits (either case; none is no bytes), or `None` for anything
/// else.
#[must_use]
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits.chunks_exact(2).map(|pair| Some((digit(pair[0])? << 4) | digit(pair[1])?)).collect()
}

fn digit(character: u8) -> Option<u8> {
    match character {
        b'0'..=b'9' => Some(character - b'0'),
        b'a'..=b'f' => Some(character - b'a' + 10),
        b'A'..=b'F' => Some(character - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_bad_text() {
        let bytes: [u8; 32] = std::array::from_fn(|index| (index * 7) as u8);
        assert_eq!(decode_32(&encode(&bytes)), Some(bytes));
        assert_eq!(decode_32(&encode(&bytes).to_uppercase()), Some(bytes));
        assert_eq!(decode_32("00"), None);
        assert_eq!(decode_32(&"g".repeat(64)), None);
        assert_eq!(decode(&encode(&bytes[..5])).as_deref(), Some(&bytes[..5]));
        assert_eq!(decode("AbCd"), Some(vec![0xab, 0xcd]));
        assert_eq!(decode(""), Some(Vec::new()));
        assert_eq!(decode("abc"), None);
        assert_eq!(decode("zz"), None);
    }
}
