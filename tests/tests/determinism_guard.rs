//! A source-level guard that backs up the clippy lints of `core/clippy.toml` and `sim/clippy.toml`:
//! no clock, OS randomness, thread, environment or randomly hashed collection in `core/` or `sim/`.

use std::path::{Path, PathBuf};

const FORBIDDEN: &[&str] = &[
    "Instant::now",
    "SystemTime::now",
    "thread_rng",
    "rand::rng(",
    "from_entropy",
    "OsRng",
    "getrandom",
    "std::thread::spawn",
    "thread::sleep",
    "tokio::",
    "std::env::var",
    "env::var(",
    "HashMap",
    "HashSet",
    "RandomState",
];

fn rust_files(directory: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(directory).expect("readable source folder") {
        let path = entry.expect("readable entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn core_and_sim_take_time_and_randomness_only_through_the_context() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
    let mut files = Vec::new();
    for crate_dir in ["core", "sim"] {
        rust_files(&root.join(crate_dir), &mut files);
    }
    assert!(files.len() > 10, "found only {} source files", files.len());
    let mut hits = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable source");
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for pattern in FORBIDDEN {
                if code.contains(pattern) {
                    hits.push(format!("{}:{}: {}", file.display(), number + 1, line.trim()));
                }
            }
        }
    }
    assert!(hits.is_empty(), "determinism rules broken:\n{}", hits.join("\n"));
}
