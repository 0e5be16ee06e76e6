//! Why a history file could not be read or checked: every error names the line it is about, where
//! there is one.

use super::ModelKind;
use super::edn::EdnError;
use super::jsonl::RecordError;
use thiserror::Error;

/// A history file that cannot be read, or a history the chosen model cannot check.
#[derive(Debug, Error)]
pub enum HistoryFileError {
    /// The file is larger than [`super::FILE_BYTES_MAX`] (or the limit given).
    #[error("the file is {bytes} bytes or more, over the limit of {limit} bytes")]
    FileTooLarge {
        /// Its size (at least).
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// A line is longer than [`super::LINE_BYTES_MAX`].
    #[error("line {line} is {bytes} bytes long, over the limit of {limit} bytes")]
    LineTooLong {
        /// The line (from 1).
        line: usize,
        /// Its length.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// A key or value is longer than [`super::VALUE_BYTES_MAX`].
    #[error("line {line}: a key or value of {bytes} bytes, over the limit of {limit} bytes")]
    ValueTooLong {
        /// The line.
        line: usize,
        /// Its length.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// The history holds more than [`super::OPERATIONS_MAX`] operations.
    #[error("more than {limit} operations")]
    TooManyOperations {
        /// The limit.
        limit: usize,
    },
    /// The file is not UTF-8 text.
    #[error("line {line} is not UTF-8 text")]
    NotText {
        /// The first line that is not.
        line: usize,
    },
    /// The first line looks like none of the formats.
    #[error("cannot tell the format from line {line} ({start}); give --format edn, porcupine or jsonl")]
    UnknownFormat {
        /// The first line that is not blank.
        line: usize,
        /// Its beginning.
        start: String,
    },
    /// The file holds no operation.
    #[error("the file holds no operation")]
    Empty,
    /// EDN that cannot be read.
    #[error(transparent)]
    Edn(#[from] EdnError),
    /// A line of Pangea's JSONL that is not a valid record.
    #[error("line {line}: {problem}")]
    Record {
        /// The line.
        line: usize,
        /// What is wrong with it.
        problem: RecordError,
    },
    /// An event (a Jepsen map or a porcupine log line) that does not make sense.
    #[error("line {line}: {problem}")]
    Event {
        /// The line the event starts on.
        line: usize,
        /// What is wrong with it.
        problem: EventProblem,
    },
    /// An operation the chosen model has no meaning for.
    #[error("line {line}: {call} is not an operation of the {model} model ({hint})")]
    Unsupported {
        /// The operation's line.
        line: usize,
        /// The operation's name.
        call: &'static str,
        /// The model.
        model: ModelKind,
        /// What the model does take.
        hint: &'static str,
    },
}

/// What is wrong with one event of a Jepsen-style history.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum EventProblem {
    /// An event that is not a map.
    #[error("an event must be a map, like {{:type :invoke, :f :read, :value nil, :process 0}}")]
    NotAMap,
    /// A field every event needs is missing.
    #[error("the event has no {0}")]
    Missing(&'static str),
    /// A field of the wrong kind.
    #[error("{field} must be {expected}")]
    Field {
        /// The field.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// A `:type` other than `:invoke`, `:ok`, `:fail` or `:info`.
    #[error("unknown :type {0} (known: :invoke, :ok, :fail, :info)")]
    UnknownType(String),
    /// An `:f` the models do not know.
    #[error("unknown :f {0} (known: :read/:get, :write/:put, :cas, :append, :remove)")]
    UnknownFunction(String),
    /// A process invoked an operation while its previous one had not completed.
    #[error("process {process} invokes an operation while its operation of line {since_line} is still pending")]
    AlreadyPending {
        /// The process.
        process: u64,
        /// The line of the operation in flight.
        since_line: usize,
    },
    /// A completion with no invocation in flight for its process.
    #[error("process {process} completes an operation it did not invoke")]
    NotPending {
        /// The process.
        process: u64,
    },
    /// A completion whose `:f` is not its invocation's.
    #[error("the completion's :f differs from its invocation's (line {invocation_line})")]
    FunctionDiffers {
        /// The invocation's line.
        invocation_line: usize,
    },
    /// A completion whose key is not its invocation's.
    #[error("the completion's key differs from its invocation's (line {invocation_line})")]
    KeyDiffers {
        /// The invocation's line.
        invocation_line: usize,
    },
    /// A write or append without a value.
    #[error("a write or append needs a value (a string or an integer)")]
    NeedsValue,
    /// A compare-and-set whose value is not `[old new]`.
    #[error("a compare-and-set's value must be [old new]")]
    CasNeedsPair,
    /// A read that returned a pair.
    #[error("a read must return one value, not a pair")]
    ReadOfPair,
    /// A line of a porcupine log that is neither a Jepsen map nor a logger's line.
    #[error("not a line of porcupine's logs (a Jepsen map, or `INFO  jepsen.util - ...`)")]
    NotALogLine,
    /// Something after the event on its line.
    #[error("text after the event")]
    Trailing,
}
