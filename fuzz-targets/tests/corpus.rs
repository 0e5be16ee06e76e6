//! Replays the stored fuzz corpus on stable: every file under `fuzz/corpus/TARGET/` (seeds and what
//! the fuzzer kept) and `fuzz/regressions/TARGET/` (inputs that once crashed a target, kept after
//! the fix) runs through its target's function, as `cargo +nightly fuzz run TARGET` would run it.

use pangea_fuzz_targets::seeds::seeds;
use pangea_fuzz_targets::{TARGETS, Target};
use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// The `fuzz/` directory of the repository.
fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("fuzz")
}

/// The files in `directory`, sorted (none when it does not exist).
fn files(directory: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(directory) else { return Vec::new() };
    let mut files: Vec<PathBuf> =
        entries.filter_map(Result::ok).map(|entry| entry.path()).filter(|path| path.is_file()).collect();
    files.sort();
    files
}

/// Runs `bytes` through `target`, describing a panic.
fn run(target: &Target, bytes: &[u8]) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| (target.run)(bytes))).map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
            .unwrap_or_else(|| "a panic".to_owned())
    })
}

#[test]
fn every_stored_input_runs_clean() {
    let mut failures = Vec::new();
    let mut ran = 0;
    for target in TARGETS {
        let mut seen = 0;
        for kind in ["corpus", "regressions"] {
            for path in files(&fuzz_dir().join(kind).join(target.name)) {
                let bytes = std::fs::read(&path).expect("a corpus file reads");
                if let Err(why) = run(target, &bytes) {
                    failures.push(format!("{}: {why}", path.display()));
                }
                seen += 1;
            }
        }
        assert!(seen > 0, "no stored input for target {} under fuzz/corpus/{}/", target.name, target.name);
        ran += seen;
    }
    assert!(failures.is_empty(), "{} of {ran} stored inputs failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn seeds_decode_and_are_stored() {
    let names: BTreeSet<&str> = TARGETS.iter().map(|target| target.name).collect();
    let write = std::env::var_os("PANGEA_WRITE_SEEDS").is_some_and(|value| value == "1");
    for seed in seeds() {
        assert!(names.contains(seed.target), "seed {} for unknown target {}", seed.name, seed.target);
        let target = TARGETS.iter().find(|target| target.name == seed.target).expect("a known target");
        run(target, &seed.bytes).unwrap_or_else(|why| panic!("seed {} of {} fails: {why}", seed.name, seed.target));
        let path = fuzz_dir().join("corpus").join(seed.target).join(format!("seed-{}", seed.name));
        if write && !path.exists() {
            std::fs::create_dir_all(path.parent().expect("a corpus directory")).expect("the corpus directory");
            std::fs::write(&path, &seed.bytes).expect("a seed writes");
        }
    }
    for target in TARGETS {
        assert!(
            seeds().iter().any(|seed| seed.target == target.name),
            "target {} has no seed in pangea_fuzz_targets::seeds",
            target.name
        );
    }
}

/// Every `[[bin]]` of `fuzz/Cargo.toml` is a target here and every target has a `[[bin]]` and a file
/// under `fuzz/fuzz_targets/` that calls its function.
#[test]
fn the_fuzz_crate_lists_every_target() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml reads");
    let bins: BTreeSet<String> = manifest
        .split("[[bin]]")
        .skip(1)
        .filter_map(|section| section.lines().find_map(|line| line.trim().strip_prefix("name = ")))
        .map(|name| name.trim_matches('"').to_owned())
        .collect();
    let names: BTreeSet<String> = TARGETS.iter().map(|target| target.name.to_owned()).collect();
    assert_eq!(bins, names, "fuzz/Cargo.toml's [[bin]]s and pangea_fuzz_targets::TARGETS differ");
    for target in TARGETS {
        let path = fuzz_dir().join("fuzz_targets").join(format!("{}.rs", target.name));
        let source = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{} is missing", path.display()));
        assert!(source.contains(&format!("::{}(", target.name)), "{} does not call its function", path.display());
    }
}
