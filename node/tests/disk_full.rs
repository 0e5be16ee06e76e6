//! A real `pangea` node whose data directory sits on a size-limited tmpfs: filled by puts of
//! 100 KB values until the client is told the disk is full, then the filesystem grown. Writes must
//! resume without a restart, within a bound, and every acknowledged value must read back.
//!
//! Mounting needs root (or CAP_SYS_ADMIN); where it is not allowed the test says so and passes
//! without running, since nothing about the node can be learned without the small filesystem.

mod common;

use common::{Node, field, free_addr, pangea};
use pangea_core::metadata::records::{KvOp, KvResult};
use pangea_node::api::{ApiError, Client};
use pangea_node::hex;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The filesystem's size while it fills, and after it is grown.
const SMALL: &str = "size=40m";
const GROWN: &str = "size=120m";
/// Most puts before the disk must have filled (40 MiB holds far fewer 100 KB values).
const PUTS_MAX: usize = 2_000;
/// Longest time from growing the filesystem to the first acknowledged put.
const RESUME_BOUND: Duration = Duration::from_secs(20);

/// A tmpfs mounted at a directory, unmounted when dropped.
struct Tmpfs {
    at: PathBuf,
}

impl Tmpfs {
    fn mount(at: &Path) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(at).map_err(|error| error.to_string())?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", SMALL, "tmpfs", at.to_str().unwrap()])
            .output()
            .map_err(|error| format!("cannot run mount: {error}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).trim().to_owned());
        }
        Ok(Tmpfs { at: at.to_owned() })
    }

    fn grow(&self) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{GROWN}"), self.at.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(status.success(), "remounting the tmpfs larger failed");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").args(["-l", self.at.to_str().unwrap()]).status();
    }
}

fn value_for(index: usize) -> Vec<u8> {
    let mut value = vec![0u8; 100 * 1024];
    for (offset, byte) in value.iter_mut().enumerate() {
        *byte = (index.wrapping_mul(31) ^ offset.wrapping_mul(7)) as u8;
    }
    value
}

fn key_for(index: usize) -> Vec<u8> {
    format!("value-{index:05}").into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_reported_and_writes_resume_when_it_grows() {
    let temp = tempfile::tempdir().unwrap();
    let mount_point = temp.path().join("small");
    let tmpfs = match Tmpfs::mount(&mount_point) {
        Ok(tmpfs) => tmpfs,
        Err(why) => {
            eprintln!("SKIPPED: cannot mount a size-limited tmpfs here ({why}); run as root to test a full disk");
            return;
        }
    };
    let dir = mount_point.join("n0");
    let output = pangea(&["init", "--data-dir", dir.to_str().unwrap()]);
    assert!(output.status.success(), "{output:?}");
    let token = hex::decode_32(&field(&String::from_utf8(output.stdout).unwrap(), "client token:")).unwrap();
    let mut node = Node { dir, addr: free_addr(), child: None, log: temp.path().join("n0.log") };
    node.start(None);
    let log = || std::fs::read_to_string(&node.log).unwrap_or_default();
    let mut client = Client::new(vec![node.addr], token, Duration::from_secs(20));

    // Fill the disk: every put is acknowledged until the client is told why the next is not.
    let mut acknowledged = Vec::new();
    let refusal = loop {
        let index = acknowledged.len();
        assert!(index < PUTS_MAX, "{PUTS_MAX} puts of 100 KB fit a 40 MiB filesystem\n{}", log());
        match client.command(KvOp::Put { key: key_for(index), value: value_for(index) }).await {
            Ok(KvResult::Done) => acknowledged.push(index),
            Ok(other) => panic!("a put answered {other:?}"),
            Err(error) => break error,
        }
    };
    let ApiError::CannotWrite { cause, .. } = &refusal else {
        panic!("after {} puts the client got {refusal:?}, not the disk-full error\n{}", acknowledged.len(), log());
    };
    assert!(cause.starts_with("disk full"), "{refusal}");
    assert!(refusal.to_string().contains("cannot write: disk full"), "{refusal}");
    assert!(log().contains("storage failed: disk full"), "the failure is logged at once\n{}", log());
    let (view, _) = client.status(node.addr).await.unwrap();
    println!("{} puts acknowledged before the disk filled; status says {:?}", acknowledged.len(), view.storage);

    // Grow the filesystem: the node reopens its storage by itself and writes resume.
    tmpfs.grow();
    let grown = Instant::now();
    let index = acknowledged.len();
    loop {
        match client.command(KvOp::Put { key: key_for(index), value: value_for(index) }).await {
            Ok(KvResult::Done) => break,
            Ok(other) => panic!("a put answered {other:?}"),
            Err(error) => {
                assert!(grown.elapsed() < RESUME_BOUND, "writes did not resume: {error}\n{}", log());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let resumed_after = grown.elapsed();
    acknowledged.push(index);
    println!("writes resumed {resumed_after:?} after the filesystem grew");
    assert!(resumed_after < RESUME_BOUND);
    assert!(log().contains("storage reopened"), "{}", log());
    let storage_lines: Vec<String> = log().lines().filter(|line| line.contains("storage")).map(str::to_owned).collect();
    println!("the node's storage log lines:\n{}", storage_lines.join("\n"));

    // Every acknowledged value reads back, through the log.
    for index in acknowledged {
        let read = client.command(KvOp::Get { key: key_for(index) }).await.unwrap();
        assert_eq!(read, KvResult::Value(Some(value_for(index))), "value {index} after the disk filled and grew");
    }
    drop(node);
}
