//! The write-ahead file beside the redb file: what makes a sync one small append and one fsync.
//!
//! A durable redb commit writes every page the commit touched and syncs them; a sync of the
//! node's store happens once per batch of the log, at the leader and at every follower, so it is
//! on the path of every write. Instead, [`RedbStorage`](crate::store::RedbStorage) appends each
//! batch to this file (one record per append: the batches in it, whole), syncs the file, and
//! commits the batches to redb without durability. Now and then (past [`WAL_BYTES_MAX`], and at
//! every open) a *checkpoint* makes redb durable and starts the file over.
//!
//! Every record carries the file's *generation*, which redb keeps too and a checkpoint advances in
//! the same durable commit; after a checkpoint, records are written from the file's beginning
//! again, over those of older generations, which are never replayed. Replaying stops at the first
//! record that is torn, fails its hash, or belongs to another generation; what follows it was
//! never synced, or is older than the checkpoint. Records are blind puts and removes, so replaying them onto a database that
//! already holds some of them in order ends in the state after the last of them.
//!
//! Record layout (little-endian): payload length (u32), generation (u64), the first 8 bytes of
//! the blake3 hash of the length, generation and payload, then the payload: the batch count
//! (u32), and per batch its op count (u32) and per op the table name (u16 length and bytes), the
//! key (u32 length and bytes) and a tag (0 remove, 1 put, then the value as u32 length and bytes).

use pangea_core::storage::WriteBatch;
use redb::StorageBackend;
use std::io;

/// Bytes of the file past which a sync is followed by a checkpoint.
pub const WAL_BYTES_MAX: u64 = 32 * 1024 * 1024;

/// Bytes of one record's payload, at most: the batches one sync or one read appends, which the
/// store bounds (it commits what it keeps in memory past its own limit of 16 MiB, plus the one
/// batch that crossed it). A longer record read back is treated as torn.
pub const RECORD_PAYLOAD_BYTES_MAX: u32 = 1024 * 1024 * 1024;

/// Bytes before a record's payload: length, generation, hash.
const RECORD_HEADER_BYTES: usize = 4 + 8 + 8;

/// The write-ahead file of one open store.
pub struct Wal {
    file: Box<dyn StorageBackend>,
    /// The generation records are appended with.
    generation: u64,
    /// Where the next record goes (the end of the last good record).
    end: u64,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal").field("generation", &self.generation).field("end", &self.end).finish_non_exhaustive()
    }
}

impl Wal {
    /// Opens `file` and reads back the batches of its records of `generation`, in order, up to the
    /// first that is torn, corrupt or of another generation.
    ///
    /// # Errors
    /// The file's own I/O errors (what the records hold is never an error).
    pub fn open(file: Box<dyn StorageBackend>, generation: u64) -> io::Result<(Wal, Vec<WriteBatch>)> {
        let length = file.len()?;
        let mut batches = Vec::new();
        let mut offset = 0_u64;
        while let Some((record_bytes, mut record)) = read_record(&*file, offset, length, generation)? {
            batches.append(&mut record);
            offset += record_bytes;
        }
        Ok((Wal { file, generation, end: offset }, batches))
    }

    /// The generation records are appended with.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Bytes in the file (of good records).
    pub fn bytes(&self) -> u64 {
        self.end
    }

    /// Appends `batches` as one record and syncs the file. Nothing to do without any.
    ///
    /// # Errors
    /// The file's write or sync error, or `InvalidInput` for batches too large for one record.
    pub fn append(&mut self, batches: &[WriteBatch]) -> io::Result<()> {
        if batches.is_empty() {
            return Ok(());
        }
        let record = encode_record(batches, self.generation)?;
        self.file.write(self.end, &record)?;
        self.end += record.len() as u64;
        self.file.sync_data()
    }

    /// Starts over at the beginning of the file with `generation`. Called once the database holds,
    /// durably, every record and `generation`: what is left in the file is of older generations,
    /// and the first such record that a new one does not overwrite ends any replay. Nothing is
    /// written (the file keeps its length, which also spares each sync an update of it).
    pub fn restart(&mut self, generation: u64) {
        self.generation = generation;
        self.end = 0;
    }

    /// Closes the file.
    ///
    /// # Errors
    /// The file's close error.
    pub fn close(&self) -> io::Result<()> {
        self.file.close()
    }
}

/// The record at `offset` when it is whole, good and of `generation`: its length in bytes and its
/// batches.
fn read_record(
    file: &dyn StorageBackend,
    offset: u64,
    file_length: u64,
    generation: u64,
) -> io::Result<Option<(u64, Vec<WriteBatch>)>> {
    if file_length.saturating_sub(offset) < RECORD_HEADER_BYTES as u64 {
        return Ok(None);
    }
    let mut header = [0_u8; RECORD_HEADER_BYTES];
    file.read(offset, &mut header)?;
    let mut reader = Reader(&header);
    let (Some(payload_length), Some(record_generation), Some(hash)) = (reader.u32(), reader.u64(), reader.bytes(8))
    else {
        return Ok(None);
    };
    let record_bytes = RECORD_HEADER_BYTES as u64 + u64::from(payload_length);
    if record_generation != generation
        || payload_length > RECORD_PAYLOAD_BYTES_MAX
        || file_length.saturating_sub(offset) < record_bytes
    {
        return Ok(None);
    }
    let mut payload = vec![0_u8; payload_length as usize];
    file.read(offset + RECORD_HEADER_BYTES as u64, &mut payload)?;
    if record_hash(payload_length, generation, &payload) != hash {
        return Ok(None);
    }
    Ok(decode_batches(&payload).map(|batches| (record_bytes, batches)))
}

/// The record holding `batches`.
fn encode_record(batches: &[WriteBatch], generation: u64) -> io::Result<Vec<u8>> {
    let too_large = || io::Error::new(io::ErrorKind::InvalidInput, "a write-ahead record over its size limit");
    let payload = encode_batches(batches)?;
    let payload_length = u32::try_from(payload.len()).ok().filter(|length| *length <= RECORD_PAYLOAD_BYTES_MAX);
    let payload_length = payload_length.ok_or_else(too_large)?;
    let mut record = Vec::with_capacity(RECORD_HEADER_BYTES + payload.len());
    record.extend_from_slice(&payload_length.to_le_bytes());
    record.extend_from_slice(&generation.to_le_bytes());
    record.extend_from_slice(&record_hash(payload_length, generation, &payload));
    record.extend_from_slice(&payload);
    Ok(record)
}

/// The payload of a record holding `batches` (the inverse of [`decode_batches`]).
///
/// # Errors
/// `InvalidInput` for a count, table name, key or value too long for its length field.
pub fn encode_batches(batches: &[WriteBatch]) -> io::Result<Vec<u8>> {
    let too_large = || io::Error::new(io::ErrorKind::InvalidInput, "a write-ahead record over its size limit");
    let mut payload = Vec::new();
    put_u32(&mut payload, batches.len()).ok_or_else(too_large)?;
    for batch in batches {
        put_u32(&mut payload, batch.ops.len()).ok_or_else(too_large)?;
        for op in &batch.ops {
            let table_length = u16::try_from(op.table.len()).map_err(|_| too_large())?;
            payload.extend_from_slice(&table_length.to_le_bytes());
            payload.extend_from_slice(op.table.as_bytes());
            put_u32(&mut payload, op.key.len()).ok_or_else(too_large)?;
            payload.extend_from_slice(&op.key);
            match &op.value {
                None => payload.push(0),
                Some(value) => {
                    payload.push(1);
                    put_u32(&mut payload, value.len()).ok_or_else(too_large)?;
                    payload.extend_from_slice(value);
                }
            }
        }
    }
    Ok(payload)
}

/// Appends `value` as a u32, or `None` when it does not fit.
fn put_u32(out: &mut Vec<u8>, value: usize) -> Option<()> {
    out.extend_from_slice(&u32::try_from(value).ok()?.to_le_bytes());
    Some(())
}

/// The first 8 bytes of the blake3 hash of a record's length, generation and payload.
fn record_hash(payload_length: u32, generation: u64, payload: &[u8]) -> [u8; 8] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&payload_length.to_le_bytes());
    hasher.update(&generation.to_le_bytes());
    hasher.update(payload);
    let mut hash = [0_u8; 8];
    hash.copy_from_slice(&hasher.finalize().as_bytes()[..8]);
    hash
}

/// The batches of a record's payload, or `None` when it does not parse (to its last byte). The
/// payload comes from a file, so this never panics, and it allocates in proportion to the payload's
/// length, whatever its counts claim (each item is read from bytes that are there before it is kept).
pub fn decode_batches(payload: &[u8]) -> Option<Vec<WriteBatch>> {
    let mut reader = Reader(payload);
    let batch_count = reader.u32()?;
    let mut batches = Vec::new();
    for _ in 0..batch_count {
        let op_count = reader.u32()?;
        let mut batch = WriteBatch::new();
        for _ in 0..op_count {
            let table_length = u16::from_le_bytes(reader.bytes(2)?.try_into().ok()?);
            let table = std::str::from_utf8(reader.bytes(usize::from(table_length))?).ok()?;
            let key_length = reader.u32()?;
            let key = reader.bytes(key_length as usize)?.to_vec();
            match reader.bytes(1)? {
                [0] => batch.remove(table, key),
                [1] => {
                    let value_length = reader.u32()?;
                    batch.put(table, key, reader.bytes(value_length as usize)?.to_vec())
                }
                _ => return None,
            };
        }
        batches.push(batch);
    }
    reader.0.is_empty().then_some(batches)
}

/// Reads little-endian fields off the front of a slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, count: usize) -> Option<&'a [u8]> {
        if self.0.len() < count {
            return None;
        }
        let (head, rest) = self.0.split_at(count);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(table: &str, key: &[u8], value: Option<&[u8]>) -> WriteBatch {
        let mut batch = WriteBatch::new();
        match value {
            Some(value) => batch.put(table, key.to_vec(), value.to_vec()),
            None => batch.remove(table, key.to_vec()),
        };
        batch
    }

    /// A file in memory whose contents outlive the `Wal` that wrote them; writes grow it, as a
    /// file's do.
    #[derive(Debug, Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Shared {
        fn bytes(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
            self.0.lock().unwrap()
        }
    }

    impl StorageBackend for Shared {
        fn len(&self) -> io::Result<u64> {
            Ok(self.bytes().len() as u64)
        }
        fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
            let start = offset as usize;
            out.copy_from_slice(&self.bytes()[start..start + out.len()]);
            Ok(())
        }
        fn set_len(&self, length: u64) -> io::Result<()> {
            self.bytes().resize(length as usize, 0);
            Ok(())
        }
        fn sync_data(&self) -> io::Result<()> {
            Ok(())
        }
        fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
            let mut bytes = self.bytes();
            let end = offset as usize + data.len();
            if bytes.len() < end {
                bytes.resize(end, 0);
            }
            bytes[offset as usize..end].copy_from_slice(data);
            Ok(())
        }
    }

    #[test]
    fn records_read_back_in_order_up_to_a_torn_one() {
        let file = Shared::default();
        let (mut wal, replayed) = Wal::open(Box::new(file.clone()), 7).unwrap();
        assert!(replayed.is_empty());
        let first = [batch("t", b"a", Some(b"1")), batch("u", b"b", None)];
        let second = [batch("t", b"a", Some(&[9; 1000]))];
        wal.append(&first).unwrap();
        wal.append(&second).unwrap();
        let (_, replayed) = Wal::open(Box::new(file.clone()), 7).unwrap();
        assert_eq!(replayed, [first.as_slice(), second.as_slice()].concat());
        // Another generation's records are not replayed.
        assert!(Wal::open(Box::new(file.clone()), 8).unwrap().1.is_empty());
        // A torn last record is dropped whole; a flipped byte ends the replay at its record.
        let length = file.len().unwrap();
        file.set_len(length - 1).unwrap();
        assert_eq!(Wal::open(Box::new(file.clone()), 7).unwrap().1, first.to_vec());
        file.write(RECORD_HEADER_BYTES as u64 + 2, &[0xff]).unwrap();
        assert!(Wal::open(Box::new(file.clone()), 7).unwrap().1.is_empty());
    }

    #[test]
    fn a_restart_writes_over_older_records_which_end_the_replay() {
        let file = Shared::default();
        let (mut wal, _) = Wal::open(Box::new(file.clone()), 1).unwrap();
        let old = [batch("t", b"a", Some(&[1; 500]))];
        wal.append(&old).unwrap();
        wal.append(&old).unwrap();
        wal.restart(2);
        let new = [batch("t", b"b", Some(b"2"))];
        wal.append(&new).unwrap();
        assert_eq!(wal.generation(), 2);
        // The new record is shorter than the two it overwrote in part: what follows it is garbage
        // or a record of generation 1, and neither is replayed.
        assert_eq!(Wal::open(Box::new(file.clone()), 2).unwrap().1, new.to_vec());
        assert!(Wal::open(Box::new(file.clone()), 1).unwrap().1.is_empty());
    }
}
