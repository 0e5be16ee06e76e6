//! Jepsen's EDN histories: a small hand-rolled EDN reader and the events it finds.
//!
//! A history is one map per operation event, one after another (usually one a line), or a single
//! vector of such maps:
//!
//! ```text
//! {:type :invoke, :f :write, :value 3, :process 0, :time 123}
//! {:type :ok, :f :write, :value 3, :process 0, :time 456}
//! ```
//!
//! `:type` is `:invoke`, `:ok`, `:fail` (it did not take effect) or `:info` (it may or may not
//! have); `:f` is `:read`/`:get`, `:write`/`:put`, `:cas` (value `[old new]`), `:append` or
//! `:remove`; a completion is matched to its invocation by `:process`. A key is given by `:key`
//! (porcupine's kv logs) or, as Jepsen's independent keys write it, by a `[key value]` tuple in
//! `:value`. Events of a process that is not a number (`:nemesis`) are skipped. The order of the
//! events in the file is their order in time (`:time` is not read).
//!
//! The reader takes what histories use: `nil`, booleans, integers, floats (kept as text), strings,
//! keywords, symbols, vectors, lists, maps and sets, with commas as whitespace, `;` comments, `#_`
//! discards and tagged values (`#jepsen.history.Op{...}` reads as the map). Nesting is limited to
//! [`EDN_DEPTH_MAX`], so no input can exhaust the stack.

use super::Limits;
use super::error::{EventProblem, HistoryFileError};
use super::operation::{Event, EventType, EventValue, Function, Operation, Pairing};
use std::fmt;
use thiserror::Error;

/// Deepest nesting of collections the reader accepts.
pub const EDN_DEPTH_MAX: usize = 64;

/// An EDN value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edn {
    /// `nil`.
    Nil,
    /// `true` or `false`.
    Bool(bool),
    /// An integer (a trailing `N` allowed).
    Int(i64),
    /// A floating-point number, as written.
    Float(String),
    /// A string, escapes resolved.
    Str(String),
    /// A keyword, without its colon.
    Keyword(String),
    /// A symbol other than `nil`, `true` and `false`.
    Symbol(String),
    /// `[...]`.
    Vector(Vec<Edn>),
    /// `(...)`.
    List(Vec<Edn>),
    /// `#{...}`.
    Set(Vec<Edn>),
    /// `{...}`, in the order written.
    Map(Vec<(Edn, Edn)>),
}

impl Edn {
    /// The value under keyword `name` (without colon) of a map; `None` for a missing key or a value
    /// that is not a map.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Edn> {
        match self {
            Edn::Map(entries) => {
                entries.iter().find(|(key, _)| matches!(key, Edn::Keyword(key) if key == name)).map(|(_, value)| value)
            }
            _ => None,
        }
    }

    /// The elements of a vector or list.
    fn elements(&self) -> Option<&[Edn]> {
        match self {
            Edn::Vector(elements) | Edn::List(elements) => Some(elements),
            _ => None,
        }
    }
}

impl fmt::Display for Edn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, open: &str, elements: &[Edn], close: &str| {
            f.write_str(open)?;
            for (position, element) in elements.iter().enumerate() {
                if position > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{element}")?;
            }
            f.write_str(close)
        };
        match self {
            Edn::Nil => f.write_str("nil"),
            Edn::Bool(value) => write!(f, "{value}"),
            Edn::Int(value) => write!(f, "{value}"),
            Edn::Float(text) | Edn::Symbol(text) => f.write_str(text),
            Edn::Str(text) => write!(f, "{text:?}"),
            Edn::Keyword(name) => write!(f, ":{name}"),
            Edn::Vector(elements) => join(f, "[", elements, "]"),
            Edn::List(elements) => join(f, "(", elements, ")"),
            Edn::Set(elements) => join(f, "#{", elements, "}"),
            Edn::Map(entries) => {
                f.write_str("{")?;
                for (position, (key, value)) in entries.iter().enumerate() {
                    if position > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{key} {value}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// EDN that cannot be read, and where.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("line {line}: {kind}{}", started_on(*started, *line))]
pub struct EdnError {
    /// The line (from 1) where the reader stopped.
    pub line: usize,
    /// What it found.
    pub kind: EdnErrorKind,
    /// The line the history's event being read starts on, if known (an unclosed map stops the
    /// reader lines later).
    pub started: Option<usize>,
}

/// Where the event being read started, if not on the line the error is on.
fn started_on(started: Option<usize>, line: usize) -> String {
    match started {
        Some(started) if started != line => format!(" (in the event that starts on line {started})"),
        _ => String::new(),
    }
}

/// What is wrong with a piece of EDN.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum EdnErrorKind {
    /// The text ends inside a value.
    #[error("the text ends inside {0}")]
    UnexpectedEnd(&'static str),
    /// A character that cannot start or continue a value here.
    #[error("unexpected {0:?}")]
    UnexpectedChar(char),
    /// A backslash escape a string may not hold.
    #[error("unknown escape \\{0} in a string")]
    BadEscape(char),
    /// A number that cannot be read (or does not fit 64 bits).
    #[error("{0:?} is not a number this reader takes")]
    BadNumber(String),
    /// A map with a key and no value.
    #[error("a map needs a value for every key")]
    OddMap,
    /// Collections nested deeper than [`EDN_DEPTH_MAX`].
    #[error("collections nested deeper than {0}")]
    TooDeep(usize),
    /// A character literal (`\a`), which histories do not use.
    #[error("character literals are not supported")]
    CharacterLiteral,
    /// Something after the closing `]` of a file that is one vector.
    #[error("text after the vector that holds the history")]
    Trailing,
}

/// Reads EDN values one after another from text.
pub(crate) struct Reader<'a> {
    text: &'a [u8],
    position: usize,
    line: usize,
    /// Whether the whole history is one vector (known once the first value starts).
    wrapped: Option<bool>,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `text`.
    pub(crate) fn new(text: &'a str) -> Reader<'a> {
        Reader { text: text.as_bytes(), position: 0, line: 1, wrapped: None }
    }

    /// The next top-level value and the line it starts on; `None` at the end. A text that starts
    /// with `[` is one vector of values, read element by element.
    pub(crate) fn next_item(&mut self) -> Result<Option<(usize, Edn)>, EdnError> {
        self.skip_blank(1)?;
        let wrapped = match self.wrapped {
            Some(wrapped) => wrapped,
            None => {
                let wrapped = self.peek() == Some(b'[');
                if wrapped {
                    self.position += 1;
                    self.skip_blank(1)?;
                }
                self.wrapped = Some(wrapped);
                wrapped
            }
        };
        match self.peek() {
            None if wrapped => Err(self.error(EdnErrorKind::UnexpectedEnd("the vector that holds the history"))),
            None => Ok(None),
            Some(b']') if wrapped => {
                self.position += 1;
                self.skip_blank(1)?;
                if self.peek().is_some() {
                    return Err(self.error(EdnErrorKind::Trailing));
                }
                Ok(None)
            }
            Some(_) => {
                let line = self.line;
                let value = self.value(1).map_err(|error| EdnError { started: Some(line), ..error })?;
                Ok(Some((line, value)))
            }
        }
    }

    /// Whether only blanks are left.
    pub(crate) fn next_is_end(&mut self) -> bool {
        self.skip_blank(1).is_ok() && self.peek().is_none()
    }

    /// One value; `depth` is how deep in collections it is.
    pub(crate) fn value(&mut self, depth: usize) -> Result<Edn, EdnError> {
        if depth > EDN_DEPTH_MAX {
            return Err(self.error(EdnErrorKind::TooDeep(EDN_DEPTH_MAX)));
        }
        self.skip_blank(depth)?;
        let Some(byte) = self.peek() else { return Err(self.error(EdnErrorKind::UnexpectedEnd("a value"))) };
        match byte {
            b'"' => self.string().map(Edn::Str),
            b'[' => self.sequence(b']', "a vector", depth).map(Edn::Vector),
            b'(' => self.sequence(b')', "a list", depth).map(Edn::List),
            b'{' => self.map(depth),
            b'#' => self.dispatch(depth),
            b':' => {
                self.position += 1;
                let name = self.token();
                if name.is_empty() {
                    return Err(self.unexpected());
                }
                Ok(Edn::Keyword(name.to_owned()))
            }
            b'\\' => Err(self.error(EdnErrorKind::CharacterLiteral)),
            b'0'..=b'9' => self.number(),
            b'+' | b'-' if self.text.get(self.position + 1).is_some_and(u8::is_ascii_digit) => self.number(),
            _ if is_symbol_byte(byte) => Ok(match self.token() {
                "nil" => Edn::Nil,
                "true" => Edn::Bool(true),
                "false" => Edn::Bool(false),
                symbol => Edn::Symbol(symbol.to_owned()),
            }),
            _ => Err(self.unexpected()),
        }
    }

    /// Skips whitespace, commas, `;` comments and `#_` discarded values.
    fn skip_blank(&mut self, depth: usize) -> Result<(), EdnError> {
        while let Some(byte) = self.peek() {
            match byte {
                b'\n' => {
                    self.line += 1;
                    self.position += 1;
                }
                b' ' | b'\t' | b'\r' | b',' | 0x0c => self.position += 1,
                b';' => {
                    while self.peek().is_some_and(|byte| byte != b'\n') {
                        self.position += 1;
                    }
                }
                b'#' if self.text.get(self.position + 1) == Some(&b'_') => {
                    self.position += 2;
                    self.value(depth + 1)?;
                }
                _ => break,
            }
        }
        Ok(())
    }

    /// `#{...}` (a set) or `#tag value` (the value).
    fn dispatch(&mut self, depth: usize) -> Result<Edn, EdnError> {
        self.position += 1;
        match self.peek() {
            Some(b'{') => self.sequence(b'}', "a set", depth).map(Edn::Set),
            Some(byte) if is_symbol_byte(byte) && byte != b'#' => {
                self.token();
                self.value(depth + 1)
            }
            Some(_) => Err(self.unexpected()),
            None => Err(self.error(EdnErrorKind::UnexpectedEnd("a tagged value"))),
        }
    }

    /// The elements up to `close`, the opening byte under the reader.
    fn sequence(&mut self, close: u8, what: &'static str, depth: usize) -> Result<Vec<Edn>, EdnError> {
        self.position += 1;
        let mut elements = Vec::new();
        loop {
            self.skip_blank(depth + 1)?;
            match self.peek() {
                None => return Err(self.error(EdnErrorKind::UnexpectedEnd(what))),
                Some(byte) if byte == close => {
                    self.position += 1;
                    return Ok(elements);
                }
                Some(_) => elements.push(self.value(depth + 1)?),
            }
        }
    }

    /// A map, its `{` under the reader.
    fn map(&mut self, depth: usize) -> Result<Edn, EdnError> {
        let elements = self.sequence(b'}', "a map", depth)?;
        if elements.len() % 2 != 0 {
            return Err(self.error(EdnErrorKind::OddMap));
        }
        let mut entries = Vec::with_capacity(elements.len() / 2);
        let mut elements = elements.into_iter();
        while let (Some(key), Some(value)) = (elements.next(), elements.next()) {
            entries.push((key, value));
        }
        Ok(Edn::Map(entries))
    }

    /// A string, its `"` under the reader.
    fn string(&mut self) -> Result<String, EdnError> {
        self.position += 1;
        let mut bytes = Vec::new();
        loop {
            let Some(byte) = self.peek() else { return Err(self.error(EdnErrorKind::UnexpectedEnd("a string"))) };
            self.position += 1;
            match byte {
                b'"' => break,
                b'\\' => {
                    let Some(escape) = self.peek() else {
                        return Err(self.error(EdnErrorKind::UnexpectedEnd("a string")));
                    };
                    self.position += 1;
                    let resolved = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'u' => self.unicode_escape()?,
                        other => return Err(self.error(EdnErrorKind::BadEscape(char::from(other)))),
                    };
                    let mut buffer = [0; 4];
                    bytes.extend_from_slice(resolved.encode_utf8(&mut buffer).as_bytes());
                }
                b'\n' => {
                    self.line += 1;
                    bytes.push(byte);
                }
                _ => bytes.push(byte),
            }
        }
        // The text is UTF-8 and the string was cut at ASCII quotes, so this holds; an error is
        // reported rather than assumed away.
        String::from_utf8(bytes).map_err(|_| self.error(EdnErrorKind::UnexpectedChar('\u{fffd}')))
    }

    /// The four hex digits of a `\u` escape.
    fn unicode_escape(&mut self) -> Result<char, EdnError> {
        let digits = self.text.get(self.position..self.position + 4).unwrap_or_default();
        let code = std::str::from_utf8(digits).ok().and_then(|digits| u32::from_str_radix(digits, 16).ok());
        match code.and_then(char::from_u32) {
            Some(resolved) if digits.len() == 4 => {
                self.position += 4;
                Ok(resolved)
            }
            _ => Err(self.error(EdnErrorKind::BadEscape('u'))),
        }
    }

    /// A number: an integer (maybe with `N`), or a float kept as text.
    fn number(&mut self) -> Result<Edn, EdnError> {
        let token = self.token();
        let digits = token.strip_suffix('N').unwrap_or(token);
        if let Ok(value) = digits.parse::<i64>() {
            return Ok(Edn::Int(value));
        }
        let float = token.strip_suffix('M').unwrap_or(token);
        let fractional = float.contains(['.', 'e', 'E']) || float.len() < token.len();
        if fractional && float.parse::<f64>().is_ok_and(f64::is_finite) {
            return Ok(Edn::Float(token.to_owned()));
        }
        Err(self.error(EdnErrorKind::BadNumber(token.to_owned())))
    }

    /// The symbol characters under the reader (maybe none), consumed.
    fn token(&mut self) -> &'a str {
        let start = self.position;
        while self.peek().is_some_and(is_symbol_byte) {
            self.position += 1;
        }
        // Symbol bytes are ASCII or whole UTF-8 sequences (every byte of one is >= 0x80).
        std::str::from_utf8(&self.text[start..self.position]).unwrap_or_default()
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.position).copied()
    }

    fn error(&self, kind: EdnErrorKind) -> EdnError {
        EdnError { line: self.line, kind, started: None }
    }

    /// The character under the reader, as an error.
    fn unexpected(&self) -> EdnError {
        let rest = &self.text[self.position.min(self.text.len())..];
        let shown = std::str::from_utf8(&rest[..rest.len().min(4)])
            .ok()
            .or_else(|| std::str::from_utf8(&rest[..1.min(rest.len())]).ok())
            .and_then(|text| text.chars().next())
            .unwrap_or('\u{fffd}');
        self.error(EdnErrorKind::UnexpectedChar(shown))
    }
}

/// Bytes a symbol, keyword or number may hold.
fn is_symbol_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b".*+!-_?$%&=<>/':#".contains(&byte) || byte >= 0x80
}

/// The operations of an EDN history.
pub(crate) fn parse(text: &str, limits: &Limits) -> Result<(Vec<Operation>, usize), HistoryFileError> {
    let mut reader = Reader::new(text);
    let mut pairing = Pairing::new(limits, false);
    let mut skipped = 0;
    while let Some((line, value)) = reader.next_item()? {
        match event_of(&value, line, limits)? {
            Some(event) => pairing.push(event)?,
            None => skipped += 1,
        }
    }
    Ok((pairing.finish(), skipped))
}

/// The event a Jepsen map describes; `None` for an event of a process that is not a number (the
/// nemesis).
pub(crate) fn event_of(value: &Edn, line: usize, limits: &Limits) -> Result<Option<Event>, HistoryFileError> {
    let problem = |problem: EventProblem| HistoryFileError::Event { line, problem };
    if !matches!(value, Edn::Map(_)) {
        return Err(problem(EventProblem::NotAMap));
    }
    let process = match value.get("process") {
        None => return Err(problem(EventProblem::Missing(":process"))),
        Some(Edn::Int(process)) => u64::try_from(*process)
            .map_err(|_| problem(EventProblem::Field { field: ":process", expected: "a number from 0" }))?,
        Some(_) => return Ok(None),
    };
    let kind = match value.get("type") {
        None => return Err(problem(EventProblem::Missing(":type"))),
        Some(Edn::Keyword(name)) if name == "invoke" => EventType::Invoke,
        Some(Edn::Keyword(name)) if name == "ok" => EventType::Ok,
        Some(Edn::Keyword(name)) if name == "fail" => EventType::Fail,
        Some(Edn::Keyword(name)) if name == "info" => EventType::Info,
        Some(other) => return Err(problem(EventProblem::UnknownType(other.to_string()))),
    };
    let function = match value.get("f") {
        None => return Err(problem(EventProblem::Missing(":f"))),
        Some(Edn::Keyword(name) | Edn::Str(name)) => Function::named(name),
        Some(_) => None,
    };
    let Some(function) = function else {
        let shown = value.get("f").map(Edn::to_string).unwrap_or_default();
        return Err(problem(EventProblem::UnknownFunction(shown)));
    };
    event_from_parts(
        EventParts { line, process, kind, function, key: value.get("key"), value: value.get("value") },
        limits,
    )
    .map(Some)
}

/// The fields of an event, before its value is decoded.
pub(crate) struct EventParts<'a> {
    pub line: usize,
    pub process: u64,
    pub kind: EventType,
    pub function: Function,
    /// `:key`, if the event has one.
    pub key: Option<&'a Edn>,
    /// `:value`, if the event has one.
    pub value: Option<&'a Edn>,
}

/// Decodes an event's key and value for its function: a `[key value]` tuple in the value when
/// there is no `:key`; then what the function needs (an invocation's argument, a read's result).
pub(crate) fn event_from_parts(parts: EventParts<'_>, limits: &Limits) -> Result<Event, HistoryFileError> {
    let EventParts { line, process, kind, function, key, value } = parts;
    let problem = |problem: EventProblem| HistoryFileError::Event { line, problem };
    let mut value = value.unwrap_or(&Edn::Nil);
    let mut key = match key {
        None | Some(Edn::Nil) => None,
        Some(key) => Some(key_text(key, line, limits)?),
    };
    if key.is_none()
        && let Some([tuple_key, inner]) = value.elements()
        && (function != Function::Cas || inner.elements().is_some())
    {
        key = Some(key_text(tuple_key, line, limits)?);
        value = inner;
    }
    let decoded = match (kind, function) {
        (EventType::Invoke, Function::Write | Function::Append) => EventValue::One(scalar(value, line, limits)?),
        (EventType::Invoke, Function::Cas) => match value.elements() {
            Some([expected, new]) => EventValue::Pair(scalar(expected, line, limits)?, scalar(new, line, limits)?),
            _ => return Err(problem(EventProblem::CasNeedsPair)),
        },
        (EventType::Ok, Function::Read) => EventValue::One(scalar(value, line, limits)?),
        _ => EventValue::Nothing,
    };
    Ok(Event { line, process, kind, function, key, value: decoded })
}

/// A key as text: a string, an integer's digits, or a keyword with its colon.
fn key_text(key: &Edn, line: usize, limits: &Limits) -> Result<String, HistoryFileError> {
    match scalar(key, line, limits)? {
        Some(key) => Ok(key),
        None => Err(HistoryFileError::Event {
            line,
            problem: EventProblem::Field { field: "a key", expected: "a string, an integer or a keyword" },
        }),
    }
}

/// A value as text (`None` for `nil`): strings as they are, numbers as written, keywords with their
/// colon.
fn scalar(value: &Edn, line: usize, limits: &Limits) -> Result<Option<String>, HistoryFileError> {
    let text = match value {
        Edn::Nil => return Ok(None),
        Edn::Str(text) => text.clone(),
        Edn::Int(number) => number.to_string(),
        Edn::Float(text) => text.clone(),
        Edn::Bool(value) => value.to_string(),
        Edn::Keyword(name) => format!(":{name}"),
        Edn::Symbol(_) | Edn::Vector(_) | Edn::List(_) | Edn::Set(_) | Edn::Map(_) => {
            return Err(HistoryFileError::Event {
                line,
                problem: EventProblem::Field { field: "a value", expected: "a string, a number, a keyword or nil" },
            });
        }
    };
    if text.len() > limits.value_bytes_max {
        return Err(HistoryFileError::ValueTooLong { line, bytes: text.len(), limit: limits.value_bytes_max });
    }
    Ok(Some(text))
}

#[cfg(test)]
#[path = "edn_tests.rs"]
mod tests;
