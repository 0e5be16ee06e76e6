//! Builds the XDP firewall's BPF object (`bpf/firewall.bpf.c`) with clang when feature `ebpf` is
//! on; does nothing otherwise.
//!
//! The object lands in `$OUT_DIR/firewall.bpf.o`, where `src/xdp.rs` embeds it. The compiler is
//! `$CLANG` if set, else `clang`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The BPF program's source, relative to the crate root.
const SOURCE: &str = "bpf/firewall.bpf.c";
/// What to do when clang is missing or fails.
const REMEDY: &str = "install `clang` and `libbpf-dev` (Debian/Ubuntu: `apt-get install clang \
                      libbpf-dev`), or build without feature `ebpf`";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={SOURCE}");
    println!("cargo:rerun-if-env-changed=CLANG");
    if env::var_os("CARGO_FEATURE_EBPF").is_none() {
        return;
    }
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let object = out_dir.join("firewall.bpf.o");
    let manifest_dir = env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let source = Path::new(&manifest_dir).join(SOURCE);
    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".to_owned());

    let mut command = Command::new(&clang);
    command.args(["-O2", "-g", "-target", "bpf", "-Wall"]);
    if let Some(include) = multiarch_include_dir(&clang) {
        command.arg(format!("-I{}", include.display()));
    }
    command.arg("-c").arg(source).arg("-o").arg(&object);

    let output = match command.output() {
        Ok(output) => output,
        Err(error) => panic!(
            "feature `ebpf` needs clang to build {SOURCE}, but running `{clang}` failed ({error}): \
             {REMEDY}"
        ),
    };
    assert!(
        output.status.success(),
        "`{clang}` failed to build {SOURCE} ({}):\n{}\n{}\nIf headers such as \
             <bpf/bpf_helpers.h> or <asm/types.h> are missing: {REMEDY}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    // Compiler warnings would otherwise be invisible.
    for line in String::from_utf8_lossy(&output.stderr).lines() {
        println!("cargo:warning={line}");
    }
}

/// The Debian-style multiarch include directory holding `asm/types.h` for the build machine
/// (`/usr/include/x86_64-linux-gnu` on x86-64), if it exists.
///
/// The BPF target has no `asm/` headers of its own; the host's are right for the UAPI types the
/// program uses. The multiarch name is asked of the compiler first and derived from the host
/// triple (`x86_64-unknown-linux-gnu` → `x86_64-linux-gnu`) if the compiler does not say.
fn multiarch_include_dir(clang: &str) -> Option<PathBuf> {
    let from_compiler = [clang, "cc"].iter().find_map(|compiler| {
        let output = Command::new(compiler).arg("-print-multiarch").output().ok()?;
        let name = String::from_utf8(output.stdout).ok()?.trim().to_owned();
        (output.status.success() && !name.is_empty()).then_some(name)
    });
    let from_host = env::var("HOST").ok().and_then(|host| {
        let mut parts = host.split('-');
        let arch = parts.next()?;
        let rest: Vec<&str> = parts.skip(1).collect();
        (!rest.is_empty()).then(|| format!("{arch}-{}", rest.join("-")))
    });
    [from_compiler, from_host]
        .into_iter()
        .flatten()
        .map(|name| Path::new("/usr/include").join(name))
        .find(|dir| dir.join("asm").is_dir())
}
