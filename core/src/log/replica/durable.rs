//! What the replica keeps in storage, and how it comes back after a restart.
//!
//! - [`ACCEPTOR_TABLE`]: the promised ballot and the accepted entries, synced before any promise or
//!   acceptance leaves the node (losing them would let an acceptor break its word);
//! - [`CHOSEN_TABLE`]: chosen entries not yet in a snapshot, written without a sync (they can be
//!   learned again from the other replicas; one that rotted is dropped at recovery);
//! - [`SNAPSHOT_TABLE`]: the latest snapshot image, synced.

use super::{LogNotification, Replica};
use crate::codec::{decode_serde, encode_serde};
use crate::log::ballot::Ballot;
use crate::log::config::LogPlantedBug;
use crate::log::entry::Entry;
use crate::log::names::{probes, sites};
use crate::log::snapshot::Snapshot;
use crate::log::state_machine::StateMachine;
use crate::log::{ACCEPTOR_TABLE, CHOSEN_TABLE, SNAPSHOT_TABLE};
use crate::node::{Context, TraceEvent};
use crate::storage::{StorageError, WriteBatch, read_all};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

const PROMISED_KEY: &[u8] = b"promised";
const ACCEPTED_PREFIX: u8 = b'a';
const SNAPSHOT_KEY: &[u8] = b"latest";
/// Most corrupt chosen entries dropped in one recovery before it gives up (a rotting disk).
const CORRUPT_CHOSEN_DROPPED_MAX: usize = 16;

impl<S: StateMachine> Replica<S> {
    /// Reads the durable state back. On failure the replica stays unrecovered and retries later.
    pub(super) fn recover(&mut self, cx: &mut dyn Context<Self>) {
        match self.load(cx) {
            Ok(()) => {
                self.recovered = true;
                let learner = &self.learner;
                cx.sometimes(
                    probes::RECOVERED_STATE,
                    learner.commit_index > 0 || self.acceptor.promised != Ballot::ZERO,
                );
                let detail = format!(
                    "promised {} accepted {} snapshot {} commit {}",
                    self.acceptor.promised,
                    self.acceptor.accepted.len(),
                    learner.snapshot.index,
                    learner.commit_index
                );
                cx.trace(TraceEvent::new("log_recovered", detail));
                let members = self.learner.members.clone();
                self.notify(LogNotification::MembersChanged(members));
            }
            Err(error) => {
                cx.sometimes(probes::RECOVERY_FAILED, true);
                cx.trace(TraceEvent::new("storage_error", format!("recovering the log: {error}")));
            }
        }
    }

    fn load(&mut self, cx: &mut dyn Context<Self>) -> Result<(), StorageError> {
        let promised: Ballot = match cx.storage().get(ACCEPTOR_TABLE, PROMISED_KEY)? {
            Some(bytes) => decode_record(ACCEPTOR_TABLE, PROMISED_KEY, &bytes)?,
            None => Ballot::ZERO,
        };
        let mut accepted = BTreeMap::new();
        for (key, value) in read_all(cx.storage(), ACCEPTOR_TABLE, &[ACCEPTED_PREFIX], Some(&[ACCEPTED_PREFIX + 1]))? {
            let slot = slot_of(ACCEPTOR_TABLE, &key[1..])?;
            let pair: AcceptedRecord<S::Command> = decode_record(ACCEPTOR_TABLE, &key, &value)?;
            accepted.insert(slot, pair);
        }
        let snapshot = match cx.storage().get(SNAPSHOT_TABLE, SNAPSHOT_KEY)? {
            Some(bytes) => {
                let corrupt = || StorageError::Corrupt { table: SNAPSHOT_TABLE.to_owned(), key: SNAPSHOT_KEY.to_vec() };
                let image = Snapshot::decode::<S::Output>(&bytes).map_err(|_| corrupt())?;
                let mut state = self.learner.state.clone();
                state.restore(&image.state).map_err(|_| corrupt())?;
                Some((Snapshot::from_bytes(image.index, image.members.clone(), bytes), image, state))
            }
            None => None,
        };
        let snapshot_index = snapshot.as_ref().map_or(0, |(snapshot, _, _)| snapshot.index);
        let chosen = self.load_chosen(cx, snapshot_index)?;
        let forget = self.planted(LogPlantedBug::ForgetPromiseOnRestart);
        self.acceptor.promised = if forget { Ballot::ZERO } else { promised };
        self.acceptor.promised_written = self.acceptor.promised;
        self.election.highest_ballot_seen = self.election.highest_ballot_seen.max(promised);
        self.acceptor.accepted = accepted;
        if let Some((snapshot, image, state)) = snapshot {
            self.learner.install(snapshot, image, state);
        }
        self.learner.chosen = chosen;
        self.advance(cx);
        Ok(())
    }

    /// Reads the chosen entries after `snapshot_index`. A corrupt (rotten) chosen entry is dropped:
    /// it can be learned again from the other replicas, unlike the acceptor's state, whose loss
    /// would be fatal.
    fn load_chosen(
        &mut self,
        cx: &mut dyn Context<Self>,
        snapshot_index: u64,
    ) -> Result<BTreeMap<u64, Entry<S::Command>>, StorageError> {
        for _ in 0..CORRUPT_CHOSEN_DROPPED_MAX {
            let pairs = match read_all(cx.storage(), CHOSEN_TABLE, &(snapshot_index + 1).to_be_bytes(), None) {
                Ok(pairs) => pairs,
                Err(StorageError::Corrupt { key, .. }) => {
                    self.drop_chosen_key(cx, key)?;
                    continue;
                }
                Err(other) => return Err(other),
            };
            let mut chosen = BTreeMap::new();
            let mut bad = None;
            for (key, value) in pairs {
                let decoded = slot_of(CHOSEN_TABLE, &key)
                    .and_then(|slot| Ok((slot, decode_record::<Entry<S::Command>>(CHOSEN_TABLE, &key, &value)?)));
                match decoded {
                    Ok((slot, entry)) => {
                        chosen.insert(slot, entry);
                    }
                    Err(_) => {
                        bad = Some(key);
                        break;
                    }
                }
            }
            match bad {
                None => return Ok(chosen),
                Some(key) => self.drop_chosen_key(cx, key)?,
            }
        }
        Err(StorageError::Io("chosen entries keep reading back corrupt".to_owned()))
    }

    fn drop_chosen_key(&mut self, cx: &mut dyn Context<Self>, key: Vec<u8>) -> Result<(), StorageError> {
        cx.sometimes(probes::CORRUPT_CHOSEN_ENTRY_DROPPED, true);
        cx.trace(TraceEvent::new("storage_error", "dropped a corrupt chosen entry; it will be learned again"));
        let mut batch = WriteBatch::new();
        batch.remove(CHOSEN_TABLE, key);
        cx.storage().write(batch)
    }

    /// Durably records the promise and, with it, `accepts`. False if the disk refused: then nothing
    /// may be promised or acknowledged.
    pub(super) fn persist_acceptor(
        &mut self,
        cx: &mut dyn Context<Self>,
        accepts: &[(u64, Ballot, Entry<S::Command>)],
    ) -> bool {
        let promised = self.acceptor.promised;
        assert!(
            promised >= self.acceptor.promised_written,
            "the promise would go back from {} to {promised}",
            self.acceptor.promised_written
        );
        let batch = || -> Result<WriteBatch, StorageError> {
            let mut batch = WriteBatch::new();
            batch.put(ACCEPTOR_TABLE, PROMISED_KEY.to_vec(), encode_record(&promised)?);
            for (slot, ballot, entry) in accepts {
                batch.put(ACCEPTOR_TABLE, accepted_key(*slot), encode_record(&(ballot, entry))?);
            }
            Ok(batch)
        };
        let skip_sync = self.planted(LogPlantedBug::SkipSync);
        let result = batch().and_then(|batch| cx.storage().write(batch)).and_then(|()| {
            if cx.buggify(sites::ACCEPTOR_SYNC_SKIPPED_IS_NOT_ALLOWED) {
                // A fault point that must never weaken durability: it only makes the sync happen twice.
                cx.storage().sync()?;
            }
            if skip_sync { Ok(()) } else { cx.storage().sync() }
        });
        match result {
            Ok(()) => {
                self.acceptor.promised_written = promised;
                true
            }
            Err(error) => {
                cx.sometimes(probes::ACCEPTOR_WRITE_FAILED, true);
                cx.trace(TraceEvent::new("storage_error", format!("acceptor state: {error}")));
                if self.planted(LogPlantedBug::IgnorePoisonedStorage) {
                    self.acceptor.promised_written = promised;
                    return true;
                }
                false
            }
        }
    }

    /// Writes newly chosen entries (not synced: they can always be learned again).
    pub(super) fn persist_chosen(&mut self, cx: &mut dyn Context<Self>, slots: &[u64]) {
        let mut batch = WriteBatch::new();
        for slot in slots {
            if let Some(entry) = self.learner.chosen.get(slot) {
                match encode_record(entry) {
                    Ok(bytes) => batch.put(CHOSEN_TABLE, slot.to_be_bytes().to_vec(), bytes),
                    Err(error) => {
                        cx.trace(TraceEvent::new("storage_error", format!("chosen entry {slot}: {error}")));
                        continue;
                    }
                };
            }
        }
        if batch.is_empty() {
            return;
        }
        if let Err(error) = cx.storage().write(batch) {
            cx.trace(TraceEvent::new("storage_error", format!("chosen entries: {error}")));
        }
    }

    /// Writes and syncs `snapshot` as the latest. False if the disk refused.
    pub(super) fn persist_snapshot(&mut self, cx: &mut dyn Context<Self>, snapshot: &Snapshot, why: &str) -> bool {
        let mut batch = WriteBatch::new();
        batch.put(SNAPSHOT_TABLE, SNAPSHOT_KEY.to_vec(), snapshot.bytes.as_ref().clone());
        match cx.storage().write(batch).and_then(|()| cx.storage().sync()) {
            Ok(()) => true,
            Err(error) => {
                cx.trace(TraceEvent::new("storage_error", format!("{why}: {error}")));
                false
            }
        }
    }

    /// Drops, in memory and on disk, the entries the snapshot covers (they are chosen and applied).
    pub(super) fn compact(&mut self, cx: &mut dyn Context<Self>) {
        let index = self.learner.snapshot.index;
        let mut batch = WriteBatch::new();
        let chosen: Vec<u64> = self.learner.chosen.range(..=index).map(|(slot, _)| *slot).collect();
        for slot in chosen {
            self.learner.chosen.remove(&slot);
            batch.remove(CHOSEN_TABLE, slot.to_be_bytes().to_vec());
        }
        let accepted: Vec<u64> = self.acceptor.accepted.range(..=index).map(|(slot, _)| *slot).collect();
        for slot in accepted {
            self.acceptor.accepted.remove(&slot);
            batch.remove(ACCEPTOR_TABLE, accepted_key(slot));
        }
        // Removals need no sync: entries that come back after a crash are covered by the snapshot.
        if !batch.is_empty()
            && let Err(error) = cx.storage().write(batch)
        {
            cx.trace(TraceEvent::new("storage_error", format!("compacting: {error}")));
        }
    }
}

fn accepted_key(slot: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(9);
    key.push(ACCEPTED_PREFIX);
    key.extend_from_slice(&slot.to_be_bytes());
    key
}

fn slot_of(table: &str, bytes: &[u8]) -> Result<u64, StorageError> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| StorageError::Corrupt { table: table.to_owned(), key: bytes.to_vec() })
}

/// What the acceptor keeps for an accepted slot: the ballot it accepted the entry in, and the entry.
pub type AcceptedRecord<C> = (Ballot, Entry<C>);

/// The stored form of a value of the log's tables (an error only for a state machine whose command
/// type postcard cannot express).
///
/// # Errors
/// [`StorageError::Io`] when the value cannot be encoded.
pub fn encode_record<T: Serialize>(value: &T) -> Result<Vec<u8>, StorageError> {
    let mut out = Vec::new();
    encode_serde(value, &mut out).map_err(|error| StorageError::Io(format!("cannot encode a log record: {error}")))?;
    Ok(out)
}

/// A value of the log's tables read back from its stored bytes — the promised [`Ballot`], an
/// [`AcceptedRecord`], a chosen [`Entry`]. They come from a disk, so any bytes at all give a value or
/// [`StorageError::Corrupt`] naming `table` and `key`, never a panic.
///
/// # Errors
/// [`StorageError::Corrupt`] for bytes that are not a `T`.
pub fn decode_record<T: DeserializeOwned>(table: &str, key: &[u8], bytes: &[u8]) -> Result<T, StorageError> {
    decode_serde(bytes).map_err(|_| StorageError::Corrupt { table: table.to_owned(), key: key.to_vec() })
}
