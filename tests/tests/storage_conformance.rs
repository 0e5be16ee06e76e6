//! Storage conformance: the simulator's disk and the node's redb store against one contract.
//!
//! Both worlds implement the storage contract of `core/src/storage.rs`. This harness runs the same
//! generated operation sequences, with the same faults, against both, and checks every answer with
//! an executable model of the contract ([`model::ContractModel`]), which allows the contract's
//! nondeterminism (which unsynced batches a failure or a crash keeps, whole)
//! by tracking every state the store may be in:
//!
//! - `the_simulated_disk_keeps_the_contract`: `SimDisk` with torn writes on.
//! - `redb_keeps_the_contract`: `RedbStorage`, its redb file and its write-ahead file each on a
//!   [`backend::FaultyBackend`], a file image in memory with a page cache, a durable image, armed
//!   I/O errors, a full disk, and crashes that keep a prefix of the writes since the last sync and
//!   may tear the last (redb must drop it whole).
//! - `the_old_contract_disagrees_with_redb`: under the contract the simulator followed before ("a
//!   failure refuses that one operation and the store keeps working"), redb disagrees: it latches
//!   its first I/O error. This is why the contract poisons.
//! - `redb_latches_its_first_io_error` and `redb_answers_cached_reads_after_its_latch`: the latch,
//!   on a raw `redb::Database`, and its limit (a read served from redb's cache still answers).
//! - `a_store_poisoned_by_a_full_disk_reopens_once_the_disk_is_freed` and
//!   `a_healthy_reopen_whose_close_fails_is_a_failed_reopen` pin what each store does around a
//!   full disk and a reopen whose close cannot write.
//! - `a_close_never_makes_durable_what_the_write_ahead_file_may_lose` replays the case that found
//!   a bug in the node's first write-ahead file.
//!
//! Sequences come from proptest, so a disagreement shrinks to a minimal sequence; the failure
//! prints the sequence (with the seed of the stores' own draws), what the store answered at each
//! step, and the disagreement. Each store runs [`CASES_DEFAULT`] cases; set
//! `PANGEA_CONFORMANCE_CASES` to run more (or fewer), for example
//! `PANGEA_CONFORMANCE_CASES=3000 cargo test --release -p pangea-tests --test storage_conformance`.
//! `PROPTEST_RNG_SEED` pins the generator's seed.

#[path = "storage_conformance/backend.rs"]
mod backend;
#[path = "storage_conformance/model.rs"]
mod model;
#[path = "storage_conformance/runner.rs"]
mod runner;
#[path = "storage_conformance/steps.rs"]
mod steps;
#[path = "storage_conformance/worlds.rs"]
mod worlds;

use model::{Contract, DisagreementKind};
use pangea_core::StorageError;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestError, TestRunner};
use runner::{Failure, Record, Tally, run_case};
use std::cell::RefCell;
use steps::{Case, ChangeSpec, Step};
use worlds::{RedbWorld, SimWorld, World};

/// Cases per store when `PANGEA_CONFORMANCE_CASES` is not set.
const CASES_DEFAULT: u32 = 300;

/// The environment variable that sets the cases per store.
const CASES_VARIABLE: &str = "PANGEA_CONFORMANCE_CASES";

fn cases() -> u32 {
    std::env::var(CASES_VARIABLE).ok().and_then(|value| value.parse().ok()).unwrap_or(CASES_DEFAULT)
}

/// Which store a run targets.
#[derive(Clone, Copy, Debug)]
enum Store {
    Sim,
    Redb,
}

/// Runs `case` against a fresh `store` under `contract`.
fn run_against(store: Store, contract: Contract, case: &Case) -> Result<(Tally, Vec<Record>), Box<Failure>> {
    let mut world: Box<dyn World> = match store {
        Store::Sim => Box::new(SimWorld::new(case.seed)),
        Store::Redb => match RedbWorld::new(case.seed) {
            Ok(world) => Box::new(world),
            Err(error) => panic!("redb does not open an empty image with no fault armed: {error}"),
        },
    };
    run_case(world.as_mut(), contract, case).map_err(Box::new)
}

/// Runs `cases` generated cases against `store`; the tally of the passing ones, and proptest's
/// verdict (with the minimal failing case).
fn explore(store: Store, contract: Contract, cases: u32) -> (Tally, Result<(), TestError<Case>>) {
    let tally = RefCell::new(Tally::default());
    let config = ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(cases) };
    let mut runner = TestRunner::new(config);
    let verdict = runner.run(&steps::case(), |case| match run_against(store, contract, &case) {
        Ok((passed, _)) => {
            tally.borrow_mut().add(&passed);
            Ok(())
        }
        Err(failure) => Err(TestCaseError::fail(failure.to_string())),
    });
    (tally.into_inner(), verdict)
}

/// Runs the generated cases against `store` under the current contract; fails with the minimal
/// disagreement.
fn keeps_the_contract(store: Store) {
    let started = std::time::Instant::now();
    let (tally, verdict) = explore(store, Contract::Poisoning, cases());
    eprintln!("{store:?}: {tally:?} in {:.1} s", started.elapsed().as_secs_f64());
    match verdict {
        Ok(()) => {}
        Err(TestError::Fail(reason, minimal)) => {
            panic!("{store:?} breaks the storage contract; minimal case:\n{minimal}\n{reason}")
        }
        Err(TestError::Abort(reason)) => panic!("the {store:?} run was aborted: {reason}"),
    }
}

#[test]
fn the_simulated_disk_keeps_the_contract() {
    keeps_the_contract(Store::Sim);
}

#[test]
fn redb_keeps_the_contract() {
    keeps_the_contract(Store::Redb);
}

#[test]
fn the_old_contract_disagrees_with_redb() {
    let (_, verdict) = explore(Store::Redb, Contract::RefusesOneOperation, cases());
    let minimal = match verdict {
        Err(TestError::Fail(_, minimal)) => minimal,
        Ok(()) => panic!("redb kept the old contract in every case: no failure was ever followed by an operation"),
        Err(TestError::Abort(reason)) => panic!("the run was aborted: {reason}"),
    };
    let failure = match run_against(Store::Redb, Contract::RefusesOneOperation, &minimal) {
        Err(failure) => failure,
        Ok(_) => panic!("the minimal case does not replay its disagreement:\n{minimal}"),
    };
    eprintln!("{failure}");
    assert_eq!(failure.disagreement.kind, DisagreementKind::UnexpectedPoisoned, "{failure}");
    // The minimal case: an operation fails, and the next operation is refused as poisoned.
    let failed_at =
        failure.transcript.iter().position(|record| record.error.as_ref().is_some_and(StorageError::poisons));
    let Some(failed_at) = failed_at.filter(|failed_at| *failed_at < failure.step) else {
        panic!("no failure precedes the refusal: {failure}");
    };
    let between = &failure.transcript[failed_at + 1..failure.step];
    assert!(between.iter().all(|record| record.step.is_fault()), "the refusal is the next operation: {failure}");
}

/// Runs `steps` (seed 0) against `store` under the current contract, checked by the model; the
/// transcript.
fn pinned(store: Store, steps: Vec<Step>) -> Vec<Record> {
    let case = Case { seed: 0, steps };
    match run_against(store, Contract::Poisoning, &case) {
        Ok((_, transcript)) => {
            eprintln!("{store:?}:");
            for (index, record) in transcript.iter().enumerate() {
                eprintln!("  {index:>2}: {} -> {}", record.step, record.answer);
            }
            transcript
        }
        Err(failure) => panic!("{failure}"),
    }
}

const LATCH_TABLE: redb::TableDefinition<'static, &'static [u8], &'static [u8]> = redb::TableDefinition::new("t");

/// Commits `key = value` in one durable write transaction.
fn put_durably(database: &redb::Database, key: &[u8], value: &[u8]) -> Result<(), redb::Error> {
    let transaction = database.begin_write()?;
    transaction.open_table(LATCH_TABLE)?.insert(key, value)?;
    transaction.commit()?;
    Ok(())
}

/// Reads `key` in a new read transaction.
fn read(database: &redb::Database, key: &[u8]) -> Result<Option<Vec<u8>>, redb::Error> {
    use redb::ReadableDatabase;
    let transaction = database.begin_read()?;
    let table = transaction.open_table(LATCH_TABLE)?;
    Ok(table.get(key)?.map(|value| value.value().to_vec()))
}

#[test]
fn redb_latches_its_first_io_error() {
    use backend::{BackendCall, FaultyBackend, lock, new_image};
    let image = new_image();
    // No cache: every read goes to the backend, as a read of a page not yet cached does.
    let open = || redb::Builder::new().set_cache_size(0).create_with_backend(FaultyBackend::open(&image));
    let database = open().expect("redb opens an empty image");
    put_durably(&database, b"synced", b"1").expect("a durable commit with no fault");
    lock(&image).arm(BackendCall::Sync);
    let failed = put_durably(&database, b"unsynced", b"2");
    assert!(matches!(failed, Err(redb::Error::Io(_))), "the sync error fails the commit: {failed:?}");
    // Latched: writes and reads answer "Previous I/O error" though the device works again.
    let write = put_durably(&database, b"later", b"3");
    assert!(matches!(write, Err(redb::Error::PreviousIo)), "a later write: {write:?}");
    let read_back = read(&database, b"synced");
    assert!(matches!(read_back, Err(redb::Error::PreviousIo)), "a later read: {read_back:?}");
    let closed = database.close();
    assert!(closed.is_err(), "the close reports the latched error: {closed:?}");
    // A new database on the same image works: the latch lives in the handle, not the file.
    let database = open().expect("redb opens the image again");
    assert_eq!(read(&database, b"synced").expect("a read after reopening"), Some(b"1".to_vec()));
    put_durably(&database, b"later", b"3").expect("a write after reopening");
    assert_eq!(read(&database, b"later").expect("a read of it"), Some(b"3".to_vec()));
}

#[test]
fn redb_answers_cached_reads_after_its_latch() {
    use backend::{BackendCall, FaultyBackend, lock, new_image};
    // redb checks its latch where it touches the file: a read its cache serves still answers after
    // an I/O error. That is why `RedbStorage` latches itself and refuses reads too.
    let image = new_image();
    let database = redb::Builder::new().create_with_backend(FaultyBackend::open(&image)).expect("redb opens");
    put_durably(&database, b"synced", b"1").expect("a durable commit with no fault");
    lock(&image).arm(BackendCall::Sync);
    assert!(put_durably(&database, b"unsynced", b"2").is_err(), "the sync error fails the commit");
    assert!(matches!(put_durably(&database, b"later", b"3"), Err(redb::Error::PreviousIo)));
    assert_eq!(read(&database, b"synced").expect("a cached read after the latch"), Some(b"1".to_vec()));
}

/// Large writes after the disk fills: enough live data that redb must grow its file (it reuses the
/// pages of overwritten values, so the writes go to different keys).
const WRITES_WHILE_FULL: u8 = 8;

#[test]
fn a_store_poisoned_by_a_full_disk_reopens_once_the_disk_is_freed() {
    let mut steps = vec![Step::Put { table: 0, key: 0, value_len: 100 }, Step::Sync, Step::DiskFull];
    steps.extend((0..WRITES_WHILE_FULL).map(|index| Step::Put {
        table: index % 2,
        key: index / 2 % 5,
        value_len: 300_000,
    }));
    steps.extend([Step::Sync, Step::Get { table: 0, key: 0 }, Step::Reopen, Step::Get { table: 0, key: 0 }]);
    let freed = steps.len();
    steps.extend([
        Step::DiskFreed,
        Step::Reopen,
        Step::Put { table: 0, key: 2, value_len: 100 },
        Step::Sync,
        Step::Get { table: 0, key: 0 },
        Step::Get { table: 0, key: 2 },
    ]);
    for store in [Store::Sim, Store::Redb] {
        let transcript = pinned(store, steps.clone());
        let errors: Vec<Option<&StorageError>> = transcript.iter().map(|record| record.error.as_ref()).collect();
        let full_at = errors.iter().position(|error| matches!(error, Some(StorageError::Full(_))));
        assert!(full_at.is_some_and(|full_at| full_at < freed), "{store:?}: the full disk refuses a write or the sync");
        let refused = errors[full_at.unwrap_or(0) + 1..freed - 2]
            .iter()
            .all(|error| matches!(error, Some(StorageError::Poisoned { .. })));
        assert!(refused, "{store:?}: every operation after the failure is refused until the reopen");
        // Pinned behaviour, not contract: a reopen while the disk is still full succeeds in both
        // worlds (the refused write was never applied, so there is nothing to flush or grow), and
        // the store answers reads again.
        assert_eq!(errors[freed - 2], None, "{store:?}: the reopen while the disk is full");
        assert_eq!(errors[freed - 1], None, "{store:?}: the read after it");
        for (index, error) in errors.iter().enumerate().skip(freed + 1) {
            assert!(error.is_none(), "{store:?}: step {index} succeeds once the disk is freed and the store reopened");
        }
    }
}

/// A reopen of a healthy store whose close cannot write (redb's close makes the unsynced commits
/// durable; here its write fails): the reopen must fail, not report success over lost writes.
#[test]
fn a_healthy_reopen_whose_close_fails_is_a_failed_reopen() {
    let steps = vec![
        Step::Put { table: 0, key: 0, value_len: 100 },
        Step::ArmWriteError,
        Step::Reopen,
        Step::Get { table: 0, key: 0 },
        Step::Reopen,
        steps::scan(0),
    ];
    let errors = |transcript: &[Record]| -> Vec<Option<StorageError>> {
        transcript.iter().map(|record| record.error.clone()).collect()
    };
    // The simulated disk's reopen does not write, so the armed fault waits for the next write.
    let sim = errors(&pinned(Store::Sim, steps.clone()));
    assert!(sim.iter().all(Option::is_none), "the simulated disk: {sim:?}");
    let redb = errors(&pinned(Store::Redb, steps));
    assert!(matches!(redb[2], Some(StorageError::Io(_))), "redb: the reopen whose close failed: {:?}", redb[2]);
    assert!(matches!(redb[3], Some(StorageError::Poisoned { .. })), "redb: the read after it: {:?}", redb[3]);
    assert_eq!(redb[4], None, "redb: the next reopen opens what reached the file");
}

/// The case that found a bug in the first write-ahead file (seed and steps as proptest shrank
/// them): a read appended the kept batches to the file without syncing it and committed them to
/// redb; a reopen of the poisoned store closed redb, which made that commit durable; the crash
/// then cut the unsynced record, and replaying the record before it moved a key back. The store
/// now syncs the file before any commit reaches redb.
#[test]
fn a_close_never_makes_durable_what_the_write_ahead_file_may_lose() {
    let change = |table, key, value_len| ChangeSpec { table, key, value_len };
    let steps = vec![
        Step::Put { table: 0, key: 3, value_len: 0 },
        Step::ArmSyncError,
        Step::Get { table: 0, key: 0 },
        Step::Batch(vec![change(0, 3, None)]),
        Step::Put { table: 1, key: 0, value_len: 0 },
        Step::ArmReadError,
        Step::Sync,
        Step::ArmWriteError,
        Step::Reopen,
        Step::ArmWriteError,
        Step::DiskFull,
        Step::Reopen,
        Step::Crash,
        steps::scan(0),
        steps::scan(1),
    ];
    let case = Case { seed: 10_644_756_149_882_061_449, steps };
    if let Err(failure) = run_against(Store::Redb, Contract::Poisoning, &case) {
        panic!("{failure}");
    }
}
