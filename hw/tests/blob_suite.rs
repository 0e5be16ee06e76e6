//! One suite for blob files through every I/O path this build has: plain file I/O always, io_uring
//! with feature `uring`. Each test runs against each path.
//!
//! The crash test runs a writer in a child process (this test binary again, told by an environment
//! variable) and kills it with SIGKILL while it writes: every blob it reported synced must read back
//! whole, and a blob caught mid-write must read back whole or be reported lost, never as other data.

use pangea_hw::blobs::{BlobError, BlobFiles, BlobRef};
use pangea_hw::file_io::{FileIo, every_engine};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Environment variables of the crash test's child: the directory it writes to, and its I/O path.
const CHILD_DIR: &str = "PANGEA_BLOB_CRASH_CHILD_DIR";
const CHILD_IO: &str = "PANGEA_BLOB_CRASH_CHILD_IO";
/// Blobs the parent sees synced before it kills the child.
const SYNCED_BEFORE_KILL: usize = 24;

fn engine(name: &str) -> Box<dyn FileIo> {
    let (_, make) = every_engine().into_iter().find(|(engine, _)| *engine == name).expect("an engine of this build");
    make().expect("an I/O path")
}

/// Deterministic content of blob `number`: a size from 64 KiB to 4 MiB and bytes from a xorshift.
fn content(number: u64) -> Vec<u8> {
    const SIZES: [usize; 6] = [64 * 1024, 100 * 1024 + 3, 256 * 1024, 1024 * 1024, 1024 * 1024 + 1, 4 * 1024 * 1024];
    let len = SIZES[(number % SIZES.len() as u64) as usize];
    let mut state = number.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[test]
fn blobs_of_every_size_read_back_synced_or_not() {
    for (name, make) in every_engine() {
        let dir = tempfile::tempdir().unwrap();
        let mut blobs = BlobFiles::open(dir.path(), make().expect("an I/O path"), &BTreeSet::new()).unwrap();
        assert_eq!(blobs.io_name(), name);
        let contents: Vec<Vec<u8>> = (0..6).map(content).chain([Vec::new(), vec![7u8]]).collect();
        let slices: Vec<&[u8]> = contents.iter().map(Vec::as_slice).collect();
        for sync in [true, false] {
            let refs = blobs.write(&slices, sync).unwrap();
            let numbers: BTreeSet<u64> = refs.iter().map(|blob| blob.number).collect();
            assert_eq!(numbers.len(), refs.len(), "{name}: every blob gets its own file");
            for (blob, expected) in refs.iter().zip(&contents) {
                assert!(&blobs.read(*blob).unwrap() == expected, "{name}: blob {blob:?} reads back other data");
            }
        }
    }
}

#[test]
fn torn_rotten_and_missing_files_are_lost_not_returned() {
    for (name, make) in every_engine() {
        let dir = tempfile::tempdir().unwrap();
        let mut blobs = BlobFiles::open(dir.path(), make().expect("an I/O path"), &BTreeSet::new()).unwrap();
        let contents: Vec<Vec<u8>> = (0..3).map(content).collect();
        let slices: Vec<&[u8]> = contents.iter().map(Vec::as_slice).collect();
        let refs = blobs.write(&slices, true).unwrap();
        let mut rotten = std::fs::read(blobs.path_of(refs[0].number)).unwrap();
        rotten[1000] ^= 0x40;
        std::fs::write(blobs.path_of(refs[0].number), rotten).unwrap();
        let torn = std::fs::read(blobs.path_of(refs[1].number)).unwrap();
        std::fs::write(blobs.path_of(refs[1].number), &torn[..torn.len() / 2]).unwrap();
        std::fs::remove_file(blobs.path_of(refs[2].number)).unwrap();
        for blob in refs {
            assert!(matches!(blobs.read(blob), Err(BlobError::Corrupt { .. })), "{name}: {blob:?}");
        }
    }
}

#[test]
fn garbage_goes_and_numbers_are_never_reused() {
    for (name, make) in every_engine() {
        let dir = tempfile::tempdir().unwrap();
        let mut blobs = BlobFiles::open(dir.path(), make().expect("an I/O path"), &BTreeSet::new()).unwrap();
        let refs = blobs.write(&[b"kept", b"garbage", b"also garbage"], true).unwrap();
        let kept: BTreeSet<u64> = [refs[0].number].into();
        // A reference to a number past every file (its file lost) still moves numbering past it.
        let referenced: BTreeSet<u64> = [refs[0].number, 1000].into();
        let mut reopened = BlobFiles::open(dir.path(), make().expect("an I/O path"), &referenced).unwrap();
        assert_eq!(reopened.collect_garbage(&kept).unwrap(), 2, "{name}");
        assert_eq!(reopened.read(refs[0]).unwrap(), b"kept");
        let fresh = reopened.write(&[b"new"], true).unwrap();
        assert_eq!(fresh[0].number, 1001, "{name}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "{name}");
    }
}

/// The crash test's writer: runs only as the child the test below starts.
#[test]
fn crash_child_writer() {
    let (Ok(dir), Ok(io)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_IO)) else { return };
    let mut blobs = BlobFiles::open(&dir, engine(&io), &BTreeSet::new()).unwrap();
    let mut next = 0;
    for round in 0u64.. {
        // Batches of one to three blobs, so that some kills land in a batch's middle; files are
        // numbered from 0 in order, so blob `n` holds `content(n)`.
        let batch: Vec<Vec<u8>> = (next..next + 1 + round % 3).map(content).collect();
        next += batch.len() as u64;
        let slices: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        for blob in blobs.write(&slices, true).unwrap() {
            println!("synced {}", hex(&blob.to_bytes()));
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap()).collect()
}

#[test]
fn a_writer_killed_mid_write_keeps_what_it_synced_and_returns_nothing_torn() {
    for (name, make) in every_engine() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_child_writer", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR, dir.path())
            .env(CHILD_IO, name)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut synced = Vec::new();
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            if let Some(blob) = line.strip_prefix("synced ") {
                synced.push(BlobRef::from_bytes(&unhex(blob)).unwrap());
                if synced.len() == SYNCED_BEFORE_KILL {
                    break;
                }
            }
        }
        assert_eq!(synced.len(), SYNCED_BEFORE_KILL, "{name}: the child stopped early");
        child.kill().unwrap();
        child.wait().unwrap();

        let mut blobs = BlobFiles::open(dir.path(), make().expect("an I/O path"), &BTreeSet::new()).unwrap();
        for blob in &synced {
            assert!(
                blobs.read(*blob).unwrap() == content(blob.number),
                "{name}: synced blob {blob:?} reads back other data"
            );
        }
        // Files past the last reported one were caught mid-write (or synced, then not reported):
        // read with the reference their writer would have made, each is whole or lost.
        let last = synced.last().unwrap().number;
        let mut whole_or_lost = (0, 0);
        for number in last + 1..last + 8 {
            let expected = content(number);
            let blob =
                BlobRef { number, len: expected.len() as u32, checksum: twox_hash::XxHash3_64::oneshot(&expected) };
            match blobs.read(blob) {
                Ok(bytes) => {
                    assert!(bytes == expected, "{name}: blob {number} returned other data");
                    whole_or_lost.0 += 1;
                }
                Err(BlobError::Corrupt { .. }) => whole_or_lost.1 += 1,
                Err(error) => panic!("{name}: blob {number}: {error}"),
            }
        }
        let referenced: BTreeSet<u64> = synced.iter().map(|blob| blob.number).collect();
        blobs.collect_garbage(&referenced).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), referenced.len(), "{name}");
        eprintln!(
            "{name}: {} synced blobs whole; after them {} whole, {} lost",
            synced.len(),
            whole_or_lost.0,
            whole_or_lost.1
        );
    }
}
