//! Typed property values on the command line (`--prop NAME=VALUE`) and back: the text syntax
//! `pangea graph` reads and prints, and the JSON it prints. Part of the `pangea` binary (declared
//! in `main.rs`), not of the library.
//!
//! Printing always writes the type prefix, so what `get` prints is what `set` reads back (except a
//! list holding text with a comma, which the syntax cannot carry; `--json` can).

use crate::Usage;
use pangea_core::graph::{Float, Properties, Scalar, Value};
use pangea_node::hex;

/// How property values are written, for `--help`.
pub const PROPERTY_HELP: &str = "\
Properties (--prop NAME=VALUE, repeatable): NAME is the text before the first '='. VALUE is typed \
by a prefix:
  str:TEXT          text, as it is (str:42 is the text \"42\")
  int:N             a 64-bit signed integer (int:-7)
  float:X           a 64-bit float (float:1.5, float:-2e3, float:inf, float:NaN)
  bool:true         a boolean (bool:true or bool:false)
  bytes:HEX         bytes, as an even number of hex digits (bytes:00ff; bytes: is no bytes)
  list:A,B,...      a list of the above, split at commas, each item typed by its own prefix or \
inferred (list:int:1,int:2; list:1,2.5,x; list: is the empty list); items cannot hold a comma, \
nor be lists
A VALUE without one of these prefixes is inferred: an integer if it reads as one (42), else a \
float if it reads as one and has a digit (1.5, 1e3), else a boolean (true, false), else text \
(hello, http://example.org, nan). So age=42 is int:42 and name=Ada is str:Ada; write the prefix to \
keep text that looks like a number as text: zip=str:02134. A malformed VALUE (int:x, bytes:abc) is \
refused with exit code 2, as is a NAME given twice.

Values print with their prefix (age=int:42), so what `get` prints, `set` reads back.";

/// Reads `NAME=VALUE` (see [`PROPERTY_HELP`]); the error says what is wrong, for clap to print.
pub fn parse_property(text: &str) -> Result<(String, Value), String> {
    let Some((name, value)) = text.split_once('=') else {
        return Err("expected NAME=VALUE, e.g. age=int:42 (see `pangea graph --help`)".to_owned());
    };
    if name.is_empty() {
        return Err("the property's NAME is empty: expected NAME=VALUE".to_owned());
    }
    let value = parse_value(value).map_err(|why| format!("property '{name}': {why}"))?;
    Ok((name.to_owned(), value))
}

/// Reads a property's VALUE.
pub fn parse_value(text: &str) -> Result<Value, String> {
    match text.strip_prefix("list:") {
        Some("") => Ok(Value::List(Vec::new())),
        Some(items) => items
            .split(',')
            .map(|item| {
                if item.starts_with("list:") {
                    return Err(format!("'{item}': a list cannot hold a list"));
                }
                parse_scalar(item)
            })
            .collect::<Result<Vec<Scalar>, String>>()
            .map(Value::List),
        None => parse_scalar(text).map(Value::Scalar),
    }
}

/// Reads one value that is not a list: typed by its prefix, or inferred.
fn parse_scalar(text: &str) -> Result<Scalar, String> {
    let Some((prefix, rest)) = text.split_once(':') else { return Ok(infer(text)) };
    match prefix {
        "str" => Ok(Scalar::Str(rest.to_owned())),
        "int" => rest.parse().map(Scalar::Int).map_err(|_| format!("'{rest}' is not a 64-bit integer (int:N)")),
        "float" => rest
            .parse()
            .map(|number| Scalar::Float(Float(number)))
            .map_err(|_| format!("'{rest}' is not a float (float:X)")),
        "bool" => match rest {
            "true" => Ok(Scalar::Bool(true)),
            "false" => Ok(Scalar::Bool(false)),
            _ => Err(format!("'{rest}' is not a boolean (bool:true or bool:false)")),
        },
        "bytes" => hex::decode(rest)
            .map(Scalar::Bytes)
            .ok_or_else(|| format!("'{rest}' is not bytes (bytes:HEX, an even number of hex digits)")),
        _ => Ok(infer(text)),
    }
}

/// A value without a prefix: an integer, a float with a digit in it, a boolean, or else text.
fn infer(text: &str) -> Scalar {
    if let Ok(number) = text.parse() {
        return Scalar::Int(number);
    }
    if text.bytes().any(|byte| byte.is_ascii_digit())
        && let Ok(number) = text.parse()
    {
        return Scalar::Float(Float(number));
    }
    match text {
        "true" => Scalar::Bool(true),
        "false" => Scalar::Bool(false),
        _ => Scalar::Str(text.to_owned()),
    }
}

/// The properties given, refusing a name given twice (exit 2).
pub fn collect(given: Vec<(String, Value)>) -> Result<Properties, Usage> {
    let mut properties = Properties::new();
    for (name, value) in given {
        if properties.insert(name.clone(), value).is_some() {
            return Err(Usage(format!("property '{name}' is given twice")));
        }
    }
    Ok(properties)
}

/// A value as `parse_value` reads it, prefix and all.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::Scalar(scalar) => scalar_text(scalar),
        Value::List(items) => format!("list:{}", items.iter().map(scalar_text).collect::<Vec<String>>().join(",")),
    }
}

fn scalar_text(scalar: &Scalar) -> String {
    match scalar {
        Scalar::Str(text) => format!("str:{text}"),
        Scalar::Int(number) => format!("int:{number}"),
        // Rust's shortest form that reads back to the same bits (NaN's payload aside).
        Scalar::Float(Float(number)) => format!("float:{number}"),
        Scalar::Bool(flag) => format!("bool:{flag}"),
        Scalar::Bytes(bytes) => format!("bytes:{}", hex::encode(bytes)),
    }
}

/// A value as JSON: `{"type": "int", "value": 42}`; bytes as hex text, a float that JSON cannot
/// hold (infinite, NaN) as text ("inf", "-inf", "NaN"), a list's value an array of such objects.
pub fn value_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Scalar(scalar) => scalar_json(scalar),
        Value::List(items) => {
            serde_json::json!({ "type": "list", "value": items.iter().map(scalar_json).collect::<Vec<_>>() })
        }
    }
}

fn scalar_json(scalar: &Scalar) -> serde_json::Value {
    let (kind, value) = match scalar {
        Scalar::Str(text) => ("str", serde_json::json!(text)),
        Scalar::Int(number) => ("int", serde_json::json!(number)),
        Scalar::Float(Float(number)) if number.is_finite() => ("float", serde_json::json!(number)),
        Scalar::Float(Float(number)) => ("float", serde_json::json!(number.to_string())),
        Scalar::Bool(flag) => ("bool", serde_json::json!(flag)),
        Scalar::Bytes(bytes) => ("bytes", serde_json::json!(hex::encode(bytes))),
    };
    serde_json::json!({ "type": kind, "value": value })
}

/// Properties as JSON: an object of [`value_json`]s by name.
pub fn properties_json(properties: &Properties) -> serde_json::Value {
    serde_json::Value::Object(properties.iter().map(|(name, value)| (name.clone(), value_json(value))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Value {
        parse_property(text).unwrap_or_else(|why| panic!("{text}: {why}")).1
    }

    #[test]
    fn prefixes_type_values() {
        assert_eq!(parsed("a=str:42"), Value::str("42"));
        assert_eq!(parsed("a=str:"), Value::str(""));
        assert_eq!(parsed("a=str:x=y:z"), Value::str("x=y:z"));
        assert_eq!(parsed("a=int:-7"), Value::int(-7));
        assert_eq!(parsed("a=float:1.5"), Value::float(1.5));
        assert_eq!(parsed("a=float:inf"), Value::float(f64::INFINITY));
        assert_eq!(parsed("a=bool:false"), Value::bool(false));
        assert_eq!(parsed("a=bytes:00Ff"), Value::bytes(vec![0, 0xff]));
        assert_eq!(parsed("a=bytes:"), Value::bytes(Vec::new()));
        assert_eq!(parsed("a=list:int:1,int:2"), Value::List(vec![Scalar::Int(1), Scalar::Int(2)]));
        assert_eq!(
            parsed("a=list:1,2.5,x,str:3"),
            Value::List(vec![
                Scalar::Int(1),
                Scalar::Float(Float(2.5)),
                Scalar::Str("x".into()),
                Scalar::Str("3".into())
            ])
        );
        assert_eq!(parsed("a=list:"), Value::List(Vec::new()));
    }

    #[test]
    fn bare_values_are_inferred() {
        assert_eq!(parsed("a=42"), Value::int(42));
        assert_eq!(parsed("a=-1.5"), Value::float(-1.5));
        assert_eq!(parsed("a=1e3"), Value::float(1000.0));
        assert_eq!(parsed("a=true"), Value::bool(true));
        assert_eq!(parsed("a=nan"), Value::str("nan"));
        assert_eq!(parsed("a=inf"), Value::str("inf"));
        assert_eq!(parsed("a=http://example.org"), Value::str("http://example.org"));
        assert_eq!(parsed("a="), Value::str(""));
        assert_eq!(parsed("a=x=y"), Value::str("x=y"));
        // An integer past 64 bits reads as a float.
        assert_eq!(parsed("a=99999999999999999999"), Value::float(99_999_999_999_999_999_999.0));
    }

    #[test]
    fn malformed_values_say_what_is_wrong() {
        for (text, why) in [
            ("age", "expected NAME=VALUE"),
            ("=1", "NAME is empty"),
            ("a=int:x", "property 'a': 'x' is not a 64-bit integer"),
            ("a=int:1.5", "not a 64-bit integer"),
            ("a=float:", "'' is not a float"),
            ("a=bool:yes", "not a boolean"),
            ("a=bytes:abc", "not bytes"),
            ("a=bytes:zz", "not bytes"),
            ("a=list:int:1,int:x", "'x' is not a 64-bit integer"),
            ("a=list:list:1", "a list cannot hold a list"),
        ] {
            let error = parse_property(text).unwrap_err();
            assert!(error.contains(why), "{text}: {error}");
        }
    }

    #[test]
    fn printed_values_read_back() {
        for value in [
            Value::str("hello, world"),
            Value::str("42"),
            Value::int(i64::MIN),
            Value::float(0.1),
            Value::float(-0.0),
            Value::float(f64::NEG_INFINITY),
            Value::float(1e300),
            Value::bool(true),
            Value::bytes(vec![1, 2, 254]),
            Value::List(vec![Scalar::Int(1), Scalar::Str("x".into()), Scalar::Bytes(vec![9])]),
            Value::List(Vec::new()),
        ] {
            assert_eq!(parse_value(&value_text(&value)), Ok(value.clone()), "{}", value_text(&value));
        }
    }

    #[test]
    fn a_name_given_twice_is_refused() {
        let given = vec![("a".to_owned(), Value::int(1)), ("a".to_owned(), Value::int(2))];
        assert_eq!(collect(given).unwrap_err().0, "property 'a' is given twice");
        let json = value_json(&Value::float(f64::NAN));
        assert_eq!(json, serde_json::json!({ "type": "float", "value": "NaN" }));
    }
}
