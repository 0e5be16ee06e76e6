//! Typed property values of entities and edges, and the compact bytes a property map is kept as.
//!
//! A value is a string, an integer, a float, a boolean, bytes, or a list of those. Lists hold
//! scalars only: a value is never nested deeper than one list, so decoding one from a peer's or a
//! client's bytes cannot recurse without bound.
//!
//! Floats compare and hash by their bits, so that a replica's state is `Eq` and `Hash` (NaN equals
//! itself, 0.0 and -0.0 differ): the replicated state only needs "the same bits", not arithmetic.

use crate::codec::{CodecError, decode_serde, encode_serde, encoded_len};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

/// A float that compares, orders and hashes by its bits.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Float(pub f64);

impl PartialEq for Float {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for Float {}

impl PartialOrd for Float {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Float {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.to_bits().cmp(&other.0.to_bits())
    }
}

impl Hash for Float {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
}

/// One value that is not a list.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Scalar {
    /// UTF-8 text.
    Str(String),
    /// A signed integer.
    Int(i64),
    /// A floating-point number.
    Float(Float),
    /// A boolean.
    Bool(bool),
    /// Raw bytes.
    Bytes(#[serde(with = "serde_bytes")] Vec<u8>),
}

/// A property's value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Value {
    /// A single value.
    Scalar(Scalar),
    /// A list of single values.
    List(Vec<Scalar>),
}

impl Value {
    /// A string value.
    #[must_use]
    pub fn str(text: impl Into<String>) -> Value {
        Value::Scalar(Scalar::Str(text.into()))
    }

    /// An integer value.
    #[must_use]
    pub fn int(number: i64) -> Value {
        Value::Scalar(Scalar::Int(number))
    }

    /// A float value.
    #[must_use]
    pub fn float(number: f64) -> Value {
        Value::Scalar(Scalar::Float(Float(number)))
    }

    /// A boolean value.
    #[must_use]
    pub fn bool(flag: bool) -> Value {
        Value::Scalar(Scalar::Bool(flag))
    }

    /// A bytes value.
    #[must_use]
    pub fn bytes(bytes: impl Into<Vec<u8>>) -> Value {
        Value::Scalar(Scalar::Bytes(bytes.into()))
    }
}

/// Properties by name, in name order (so that equal maps encode to equal bytes).
pub type Properties = BTreeMap<String, Value>;

/// Bytes `properties` take once encoded (what the `properties_bytes_max` limit counts).
#[must_use]
pub fn encoded_bytes(properties: &Properties) -> usize {
    if properties.is_empty() { 0 } else { encoded_len(properties) }
}

/// `properties` as the compact bytes the graph keeps: empty for no properties (no allocation),
/// postcard otherwise.
#[must_use]
pub fn encode(properties: &Properties) -> Box<[u8]> {
    if properties.is_empty() {
        return Box::default();
    }
    let mut out = Vec::with_capacity(encoded_len(properties));
    // A map of strings to values always encodes.
    let _ = encode_serde(properties, &mut out);
    out.into_boxed_slice()
}

/// Reads back what [`encode`] wrote.
///
/// # Errors
/// Bytes that are not a property map (only from a damaged snapshot).
pub fn decode(bytes: &[u8]) -> Result<Properties, CodecError> {
    if bytes.is_empty() {
        return Ok(Properties::new());
    }
    let properties: Properties = decode_serde(bytes)?;
    if properties.is_empty() {
        // An empty map is kept as no bytes: any other encoding of it is not canonical.
        return Err(CodecError::Malformed("an empty property map encoded as bytes".into()));
    }
    Ok(properties)
}

/// `properties` with `set` written over them and the names in `remove` taken out.
#[must_use]
pub fn merged(mut properties: Properties, set: &Properties, remove: &[String]) -> Properties {
    for name in remove {
        properties.remove(name);
    }
    for (name, value) in set {
        properties.insert(name.clone(), value.clone());
    }
    properties
}
