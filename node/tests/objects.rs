//! Objects through real `pangea` processes: a 50 MiB file put into a 5-node cluster, read back bit
//! for bit with two nodes killed, and repair restoring every chunk's full redundancy among the
//! survivors; and the `pangea object` commands as a user meets them (round trips of a small and an
//! empty file, a range, listing, deletion, and the errors).
//!
//! Every wait polls a condition with a deadline. The tests that start clusters take turns, so that
//! two clusters do not share the machine's cores and the timings printed mean something (run with
//! `--nocapture` to see them).

mod common;

use common::{Cluster, pangea};
use pangea_core::ces::ObjectId;
use pangea_node::hex;
use pangea_node::objects::{self, Gateways};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng as _, SeedableRng as _};
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

/// The clusters' tests, one at a time.
static CLUSTERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Longest wait for repair to restore every chunk's shards (the node's repair scan runs every 5 s).
const REPAIR_DEADLINE: Duration = Duration::from_secs(120);
const MIB: u64 = 1024 * 1024;

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Writes `size` bytes drawn from a ChaCha8 stream seeded with `seed` to `path`, a mebibyte at a
/// time.
fn write_seeded(path: &Path, size: u64, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut block = vec![0; MIB as usize];
    let mut left = size;
    while left > 0 {
        let take = left.min(MIB) as usize;
        rng.fill_bytes(&mut block[..take]);
        file.write_all(&block[..take]).unwrap();
        left -= take as u64;
    }
    file.flush().unwrap();
}

/// Asserts the two files hold the same bytes, comparing a mebibyte at a time.
fn assert_same_file(expected: &Path, got: &Path) {
    let (mut a, mut b) = (std::fs::File::open(expected).unwrap(), std::fs::File::open(got).unwrap());
    assert_eq!(
        a.metadata().unwrap().len(),
        b.metadata().unwrap().len(),
        "{} and {}",
        expected.display(),
        got.display()
    );
    let (mut block_a, mut block_b) = (vec![0; MIB as usize], vec![0; MIB as usize]);
    let mut at = 0u64;
    loop {
        let read = a.read(&mut block_a).unwrap();
        if read == 0 {
            break;
        }
        b.read_exact(&mut block_b[..read]).unwrap();
        if let Some(first) = block_a[..read].iter().zip(&block_b[..read]).position(|(x, y)| x != y) {
            panic!("{} differs from {} at byte {}", got.display(), expected.display(), at + first as u64);
        }
        at += read as u64;
    }
}

/// `pangea object ARGS --node NODE --token TOKEN --key-file KEY`, run to its end.
fn object(cluster: &Cluster, node: usize, key: &Path, args: &[&str]) -> Output {
    let addr = cluster.nodes[node].addr.to_string();
    let token = hex::encode(&cluster.token);
    let mut all = vec!["object"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--node", &addr, "--token", &token, "--timeout", "60"]);
    if matches!(args.first(), Some(&"put" | &"get")) {
        all.extend_from_slice(&["--key-file", key.to_str().unwrap()]);
    }
    pangea(&all)
}

/// Puts `file` with `extra` arguments and returns the object id printed.
fn put(cluster: &Cluster, node: usize, key: &Path, file: &Path, extra: &[&str]) -> ObjectId {
    let mut args = vec!["put", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let output = object(cluster, node, key, &args);
    assert!(output.status.success(), "put {}: {output:?}\n{}", file.display(), cluster.logs());
    stdout(&output).trim().parse().unwrap_or_else(|_| panic!("not an object id: {output:?}"))
}

/// Gets object `id` into `out` with `extra` arguments.
fn get(cluster: &Cluster, node: usize, key: &Path, id: ObjectId, out: &Path, extra: &[&str]) {
    let id = id.to_string();
    let mut args = vec!["get", id.as_str(), "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let output = object(cluster, node, key, &args);
    assert!(output.status.success(), "get {id}: {output:?}\n{}", cluster.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_mib_survive_two_killed_nodes_and_repair_restores_every_shard() {
    let _turn = CLUSTERS.lock().await;
    let mut cluster = Cluster::start(5);
    let all = [0, 1, 2, 3, 4];
    cluster.wait_for_members(&all, 5).await;
    cluster.wait_for_all_alive(&all).await;
    let size = 50 * MIB;
    let input = cluster.temp.path().join("input.bin");
    write_seeded(&input, size, 11);
    let key = cluster.temp.path().join("keys").join("master.key");

    let started = Instant::now();
    let id = put(&cluster, 0, &key, &input, &["--data-shards", "3", "--parity-shards", "2", "--quiet"]);
    let put_took = started.elapsed();
    assert!(key.exists(), "the first put creates the key file");

    // Every node holds a shard of every chunk (3 + 2 shards over 5 members): kill two, not node 0.
    cluster.nodes[3].kill();
    cluster.nodes[4].kill();
    let output = cluster.temp.path().join("output.bin");
    let started = Instant::now();
    get(&cluster, 0, &key, id, &output, &["--quiet"]);
    let get_took = started.elapsed();
    assert_same_file(&input, &output);

    // Repair doubles shards up on the three survivors until every chunk has all five again.
    let mut client = cluster.client(vec![cluster.nodes[0].addr]);
    let mut gateways = Gateways::new(vec![cluster.nodes[0].addr]);
    let started = Instant::now();
    let mut last = None;
    loop {
        match objects::stat(&mut client, &mut gateways, id).await {
            Ok(stat) if stat.fully_redundant() => break,
            Ok(stat) => last = Some(stat.chunks.iter().map(|chunk| chunk.sound_shards()).collect::<Vec<_>>()),
            Err(error) => eprintln!("stat failed (asking again): {error}"),
        }
        assert!(
            started.elapsed() < REPAIR_DEADLINE,
            "repair did not restore every chunk's 5 shards within {REPAIR_DEADLINE:?}; sound shards per chunk: \
             {last:?}\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let repair_took = started.elapsed();

    // The command line says the same, for scripts.
    let output = object(&cluster, 0, &key, &["stat", &id.to_string(), "--json"]);
    assert!(output.status.success(), "{output:?}");
    let stat: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(stat["size"], size);
    assert_eq!(stat["data_shards"], 3);
    assert_eq!(stat["parity_shards"], 2);
    assert_eq!(stat["fully_redundant"], true, "{stat}");
    let chunks = stat["chunks"].as_array().unwrap();
    assert!(!chunks.is_empty());
    assert!(chunks.iter().all(|chunk| chunk["sound_shards"] == 5), "{stat}");

    let mib_per_second = |took: Duration| size as f64 / MIB as f64 / took.as_secs_f64();
    eprintln!(
        "50 MiB, 3+2 shards, {} chunks: put {put_took:.2?} ({:.1} MiB/s); get with two of five nodes killed \
         {get_took:.2?} ({:.1} MiB/s); repair to full redundancy {repair_took:.2?}",
        chunks.len(),
        mib_per_second(put_took),
        mib_per_second(get_took),
    );
    assert!(!cluster.logs().contains("panicked"), "a node panicked:\n{}", cluster.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_commands_round_trip_small_and_empty_files_ranges_listing_and_deletion() {
    let _turn = CLUSTERS.lock().await;
    let cluster = Cluster::start(3);
    cluster.wait_for_members(&[0, 1, 2], 3).await;
    cluster.wait_for_all_alive(&[0, 1, 2]).await;
    let temp = cluster.temp.path();
    let key = temp.join("master.key");
    let shards = ["--data-shards", "2", "--parity-shards", "1", "--chunk-bytes", "65536"];

    // More shards than live members: refused before any byte is sent, saying what to change.
    let small = temp.join("small.bin");
    write_seeded(&small, 200_000, 5);
    let output = object(&cluster, 0, &key, &["put", small.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(
        stderr(&output).lines().last().unwrap_or_default(),
        "error: a chunk's 6 shards (4 data + 2 parity) need 6 live members, but the cluster has 3: lower \
         --data-shards or --parity-shards"
    );

    // A small file of four chunks (the last one short), through another node than the one put to.
    let small_id = put(&cluster, 0, &key, &small, &shards);
    let back = temp.join("small.out");
    get(&cluster, 1, &key, small_id, &back, &[]);
    assert_same_file(&small, &back);

    // Where its shards are, for people: one line per chunk, every shard sound.
    let output = object(&cluster, 0, &key, &["stat", &small_id.to_string()]);
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(
        text.starts_with(&format!("object:  {small_id}\nsize:    200000 bytes in 4 chunks of up to 65536 bytes\n")),
        "{text}"
    );
    for chunk in 0..4 {
        assert!(text.contains(&format!("chunk {chunk}: 3 of 3 shards sound (")), "{text}");
    }

    // A range across a chunk boundary, and one past the end (clipped).
    let bytes = std::fs::read(&small).unwrap();
    let range = temp.join("range.out");
    get(&cluster, 2, &key, small_id, &range, &["--offset", "60000", "--len", "10000"]);
    assert_eq!(std::fs::read(&range).unwrap(), &bytes[60_000..70_000]);
    get(&cluster, 2, &key, small_id, &range, &["--offset", "199990", "--len", "100"]);
    assert_eq!(std::fs::read(&range).unwrap(), &bytes[199_990..]);

    // An empty file.
    let empty = temp.join("empty.bin");
    std::fs::write(&empty, b"").unwrap();
    let empty_id = put(&cluster, 1, &key, &empty, &shards);
    let empty_back = temp.join("empty.out");
    std::fs::write(&empty_back, b"old contents").unwrap();
    get(&cluster, 0, &key, empty_id, &empty_back, &[]);
    assert_eq!(std::fs::read(&empty_back).unwrap(), b"");

    // Both listed, with sizes and chunk counts.
    let output = object(&cluster, 2, &key, &["ls"]);
    assert!(output.status.success(), "{output:?}");
    let mut listed: Vec<String> = stdout(&output).lines().map(str::to_owned).collect();
    listed.sort();
    let mut expected = vec![format!("{small_id} 200000 4"), format!("{empty_id} 0 0")];
    expected.sort();
    assert_eq!(listed, expected);

    // Deleted: gone from the listing, and reading it fails with exit 1; deleting again too.
    let output = object(&cluster, 0, &key, &["rm", &small_id.to_string()]);
    assert!(output.status.success(), "{output:?}");
    let output = object(&cluster, 0, &key, &["ls"]);
    assert_eq!(stdout(&output), format!("{empty_id} 0 0\n"));
    let output = object(&cluster, 0, &key, &["get", &small_id.to_string(), "-o", back.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(stderr(&output), format!("error: no object {small_id}\n"));
    let output = object(&cluster, 0, &key, &["rm", &small_id.to_string()]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(stderr(&output), format!("error: no object {small_id}\n"));

    // An id that never existed: exit 1, a clear message, and no output file left behind.
    let unknown = ObjectId([0xab; 32]);
    let nowhere = temp.join("never.out");
    let output = object(&cluster, 1, &key, &["get", &unknown.to_string(), "-o", nowhere.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(stderr(&output), format!("error: no object {unknown}\n"));
    assert!(!nowhere.exists());
    assert!(
        std::fs::read_dir(temp)
            .unwrap()
            .all(|entry| { !entry.unwrap().file_name().to_string_lossy().ends_with(".pangea-partial") })
    );

    // Another master key cannot open the object.
    let other_key = temp.join("other.key");
    std::fs::write(&other_key, format!("{}\n", hex::encode(&[1; 32]))).unwrap();
    let small_again = put(&cluster, 0, &key, &small, &shards);
    let output = object(&cluster, 0, &other_key, &["get", &small_again.to_string(), "-o", back.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(stderr(&output).contains("does not open with this master key"), "{output:?}");
}

#[test]
fn object_commands_refuse_bad_ids_and_missing_key_files_before_any_request() {
    let temp = tempfile::tempdir().unwrap();
    let token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let missing = temp.path().join("missing.key");
    let id = ObjectId([7; 32]).to_string();
    let out = temp.path().join("out");
    let base = ["--node", "127.0.0.1:1", "--token", token];

    let mut args = vec!["object", "get", &id, "-o", out.to_str().unwrap(), "--key-file", missing.to_str().unwrap()];
    args.extend_from_slice(&base);
    let output = pangea(&args);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert_eq!(
        stderr(&output),
        format!(
            "error: cannot read the master key file {}: it does not exist (a put creates one; give the key the \
             objects were put with via --key-file or PANGEA_KEY_FILE)\n",
            missing.display()
        )
    );
    assert!(!out.exists());

    let mut args = vec!["object", "stat", "not-an-id"];
    args.extend_from_slice(&base);
    let output = pangea(&args);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert_eq!(
        stderr(&output),
        "error: 'not-an-id' is not an object id: give the 64 hex digits `pangea object put` printed\n"
    );

    let file = temp.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let key = temp.path().join("k");
    let mut args = vec!["object", "put", file.to_str().unwrap(), "--data-shards", "0", "--key-file"];
    args.push(key.to_str().unwrap());
    args.extend_from_slice(&base);
    let output = pangea(&args);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert_eq!(stderr(&output), "error: invalid parameters: at least one data shard is needed\n");
    assert!(!key.exists(), "a refused put creates no key file");

    let output = pangea(&["object", "--help"]);
    assert!(output.status.success());
    assert!(stdout(&output).contains("master key"), "{}", stdout(&output));
}
