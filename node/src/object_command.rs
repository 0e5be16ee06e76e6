//! `pangea object`: objects from the command line — put, get, delete, list and stat, with the
//! master key file and progress bars. Part of the `pangea` binary (declared in `main.rs`), not of
//! the library; the pipeline and the calls are [`pangea_node::objects`]'.

use crate::{ClientArgs, Usage, complain};
use anyhow::Result;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pangea_core::NodeId;
use pangea_core::ces::{CesParams, ObjectId};
use pangea_core::metadata::manifests::{LIST_LIMIT_MAX, ObjectsOp, ObjectsResult};
use pangea_node::api::ApiError;
use pangea_node::hex;
use pangea_node::objects::{self, Gateways, ObjectStat, ObjectsError};
use std::path::PathBuf;
use std::process::ExitCode;

/// The help after `pangea object --help`.
pub const OBJECT_HELP: &str = "\
An object is stored as chunks; each chunk is compressed (zstd) and encrypted (ChaCha20-Poly1305) here, \
with a key derived from your master key, then cut by a node into K data and M parity shards, each on \
a distinct live member: any K of a chunk's K+M shards rebuild it, so an object survives the loss of \
any M members, and nodes repair lost shards by themselves. Nodes never see the key: keep the key \
file (--key-file, default $PANGEA_KEY_FILE, else ~/.config/pangea/master.key); without it the \
objects cannot be read. The first put creates it if it does not exist.

Exit codes: 0 success, 1 the operation failed (cluster unreachable, no such object, too few live \
members), 2 bad usage (malformed argument, unreadable input file, missing or malformed key file).";

/// The object commands.
#[derive(Subcommand)]
pub enum ObjectCommand {
    /// Store FILE as a new object; print its id (64 hex digits) on standard output.
    Put {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        key: KeyArgs,
        /// The file to store.
        file: PathBuf,
        /// Data shards per chunk (K): any K of a chunk's shards rebuild it.
        #[arg(long, default_value_t = 4, value_name = "K")]
        data_shards: u8,
        /// Parity shards per chunk (M): a chunk survives the loss of any M of its shards. K+M must
        /// not exceed the cluster's live members (each shard goes to a distinct member), nor 16.
        #[arg(long, default_value_t = 2, value_name = "M")]
        parity_shards: u8,
        /// Bytes per chunk, 65536..=67108864 (default: this machine's memory / 1024, rounded down
        /// to a power of two, raised so that the file fits in 1024 chunks).
        #[arg(long, value_name = "BYTES")]
        chunk_bytes: Option<u32>,
        /// The zstd compression level, 1..=19.
        #[arg(long, default_value_t = 1, value_name = "LEVEL")]
        zstd_level: i32,
        /// No progress bar (it only shows when standard error is a terminal anyway).
        #[arg(long, short)]
        quiet: bool,
    },
    /// Read an object (or a byte range of it) into a file.
    Get {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        key: KeyArgs,
        /// The object's id, as `pangea object put` printed it.
        id: String,
        /// Where to write it (`-`: standard output). A file is written under a temporary name and
        /// renamed when complete, so it never holds a partial object.
        #[arg(long, short)]
        output: PathBuf,
        /// Start at this byte.
        #[arg(long, default_value_t = 0, value_name = "BYTES")]
        offset: u64,
        /// Read at most this many bytes (default: to the end). A read of the whole object checks
        /// its content hash.
        #[arg(long, value_name = "BYTES")]
        len: Option<u64>,
        /// No progress bar (it only shows when standard error is a terminal anyway).
        #[arg(long, short)]
        quiet: bool,
    },
    /// Delete an object (exit 1 if there is no such object). Its shards are collected later.
    Rm {
        #[command(flatten)]
        client: ClientArgs,
        /// The object's id.
        id: String,
    },
    /// List the objects: one line each, with the id, the size in bytes and the number of chunks.
    Ls {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show an object's size, chunks and shard layout, and for each chunk how many distinct sound
    /// shards the live members hold (each member checks its shards' hashes to answer).
    Stat {
        #[command(flatten)]
        client: ClientArgs,
        /// The object's id.
        id: String,
        /// Print one JSON object instead, for scripts.
        #[arg(long)]
        json: bool,
    },
}

/// Where the owner's master key is.
#[derive(Args, Clone)]
pub struct KeyArgs {
    /// The master key file: 64 hex digits (default: ~/.config/pangea/master.key). A put creates
    /// it (mode 0600) if it does not exist.
    #[arg(long, env = "PANGEA_KEY_FILE", value_name = "PATH")]
    key_file: Option<PathBuf>,
}

impl KeyArgs {
    fn path(&self) -> Result<PathBuf> {
        match &self.key_file {
            Some(path) => Ok(path.clone()),
            None => objects::default_key_file().ok_or_else(|| {
                Usage("no key file: give --key-file or PANGEA_KEY_FILE (HOME is not set)".to_owned()).into()
            }),
        }
    }
}

/// Runs one object command.
pub async fn run(command: ObjectCommand) -> Result<ExitCode> {
    match command {
        ObjectCommand::Put { client, key, file, data_shards, parity_shards, chunk_bytes, zstd_level, quiet } => {
            let size =
                std::fs::metadata(&file).map_err(|cause| ObjectsError::Input { path: file.clone(), cause })?.len();
            let chunk_bytes = objects::chunk_bytes_for(size, chunk_bytes).map_err(ObjectsError::Ces)?;
            let params = CesParams { data_shards, parity_shards, chunk_bytes, zstd_level };
            params.validate().map_err(ObjectsError::Ces)?;
            let key_path = key.path()?;
            let (master, created) = objects::read_or_create_master_key(&key_path, random_32()?)?;
            if created {
                complain(format_args!(
                    "created a new master key in {}: keep it (and a copy) safe, no object put with it can be read \
                     without it",
                    key_path.display()
                ));
            }
            let mut client = client.client()?;
            let mut gateways = Gateways::new(client.addresses().to_vec());
            objects::check_live_members(&mut client, &gateways, &params).await?;
            let object = ObjectId(random_32()?);
            let bar = progress_bar(size, quiet, "put");
            let summary =
                objects::put_file(&mut client, &mut gateways, &master, object, &file, params, &mut |done: u64| {
                    bar.set_position(done);
                })
                .await;
            bar.finish_and_clear();
            say!("{}", summary?.object);
            Ok(ExitCode::SUCCESS)
        }
        ObjectCommand::Get { client, key, id, output, offset, len, quiet } => {
            let object = parse_object_id(&id)?;
            let master = objects::read_master_key(&key.path()?)?;
            let mut client = client.client()?;
            let mut gateways = Gateways::new(client.addresses().to_vec());
            let bar = progress_bar(0, quiet, "get");
            let mut progress = |done: u64, total: u64| {
                bar.set_length(total);
                bar.set_position(done);
            };
            if output.as_os_str() == "-" {
                let mut out = std::io::stdout().lock();
                let result = objects::get_to_writer(
                    &mut client,
                    &mut gateways,
                    &master,
                    object,
                    offset,
                    len,
                    &mut out,
                    "standard output",
                    &mut progress,
                )
                .await;
                bar.finish_and_clear();
                return match result {
                    Ok(_) => Ok(ExitCode::SUCCESS),
                    // The reader has what it wanted.
                    Err(ObjectsError::Output { cause, .. }) if cause.kind() == std::io::ErrorKind::BrokenPipe => {
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(error) => Err(error.into()),
                };
            }
            let mut partial_name = output.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
            partial_name.push(".pangea-partial");
            let partial = output.with_file_name(partial_name);
            let cannot_write = |cause| ObjectsError::Output { what: partial.display().to_string(), cause };
            let file = std::fs::File::create(&partial).map_err(cannot_write)?;
            let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
            let name = output.display().to_string();
            let result = objects::get_to_writer(
                &mut client,
                &mut gateways,
                &master,
                object,
                offset,
                len,
                &mut out,
                &name,
                &mut progress,
            )
            .await;
            bar.finish_and_clear();
            let finished = result.and_then(|_| {
                let file = out.into_inner().map_err(|error| cannot_write(error.into_error()))?;
                file.sync_all().map_err(cannot_write)?;
                std::fs::rename(&partial, &output).map_err(|cause| ObjectsError::Output { what: name.clone(), cause })
            });
            if let Err(error) = finished {
                let _ = std::fs::remove_file(&partial);
                return Err(error.into());
            }
            Ok(ExitCode::SUCCESS)
        }
        ObjectCommand::Rm { client, id } => {
            let object = parse_object_id(&id)?;
            match client.client()?.objects_command(ObjectsOp::Delete(object)).await? {
                ObjectsResult::Deleted { existed: true } => Ok(ExitCode::SUCCESS),
                ObjectsResult::Deleted { existed: false } => Err(ObjectsError::NotFound(object).into()),
                other => Err(ApiError::Unexpected(format!("{other:?}")).into()),
            }
        }
        ObjectCommand::Ls { client } => {
            let mut client = client.client()?;
            let limit = LIST_LIMIT_MAX as u32;
            let mut after = None;
            loop {
                let page = client.list_objects(after, limit).await?;
                for summary in &page {
                    say!("{} {} {}", summary.object, summary.size, summary.chunks);
                }
                match page.last() {
                    Some(last) if page.len() == limit as usize => after = Some(last.object),
                    _ => return Ok(ExitCode::SUCCESS),
                }
            }
        }
        ObjectCommand::Stat { client, id, json } => {
            let object = parse_object_id(&id)?;
            let mut client = client.client()?;
            let mut gateways = Gateways::new(client.addresses().to_vec());
            let stat = objects::stat(&mut client, &mut gateways, object).await?;
            if json {
                say!("{}", stat_json(&stat));
            } else {
                print_stat(&stat);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// 32 bytes from the operating system's random source (object ids, master keys).
fn random_32() -> Result<[u8; 32]> {
    let mut bytes = [0; 32];
    getrandom::fill(&mut bytes)
        .map_err(|error| anyhow::anyhow!("the operating system gave no random bytes: {error}"))?;
    Ok(bytes)
}

fn parse_object_id(text: &str) -> Result<ObjectId> {
    text.parse().map_err(|_| {
        Usage(format!("'{text}' is not an object id: give the 64 hex digits `pangea object put` printed")).into()
    })
}

/// A progress bar of `total` bytes on standard error; hidden with `--quiet` or when standard error
/// is not a terminal.
fn progress_bar(total: u64, quiet: bool, what: &'static str) -> ProgressBar {
    if quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec}, {eta} left",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what);
    bar
}

fn print_stat(stat: &ObjectStat) {
    let manifest = &stat.manifest;
    let shards = usize::from(manifest.data_shards) + usize::from(manifest.parity_shards);
    say!("object:  {}", manifest.object);
    say!(
        "size:    {} bytes in {} chunks of up to {} bytes",
        manifest.size,
        manifest.chunks.len(),
        manifest.chunk_bytes
    );
    say!(
        "shards:  {}+{} per chunk: any {} of its {shards} rebuild it",
        manifest.data_shards,
        manifest.parity_shards,
        manifest.data_shards
    );
    for chunk in &stat.chunks {
        let holders: Vec<String> = chunk
            .holders
            .iter()
            .filter(|(_, held)| !held.is_empty())
            .map(|(node, held)| {
                let held: Vec<String> = held.iter().map(u8::to_string).collect();
                format!("{} has {}", node.short(), held.join(","))
            })
            .collect();
        let mut line = format!("chunk {}: {} of {shards} shards sound", chunk.chunk, chunk.sound_shards());
        if !holders.is_empty() {
            line.push_str(&format!(" ({})", holders.join("; ")));
        }
        if !chunk.silent.is_empty() {
            let silent: Vec<String> = chunk.silent.iter().map(NodeId::short).collect();
            line.push_str(&format!("; no answer from {}", silent.join(", ")));
        }
        say!("{line}");
    }
}

fn stat_json(stat: &ObjectStat) -> serde_json::Value {
    let manifest = &stat.manifest;
    let chunks: Vec<serde_json::Value> = stat
        .chunks
        .iter()
        .map(|chunk| {
            let holders: Vec<serde_json::Value> = chunk
                .holders
                .iter()
                .map(|(node, held)| serde_json::json!({ "node": hex::encode(&node.0), "shards": held }))
                .collect();
            let silent: Vec<String> = chunk.silent.iter().map(|node| hex::encode(&node.0)).collect();
            serde_json::json!({
                "chunk": chunk.chunk,
                "sound_shards": chunk.sound_shards(),
                "holders": holders,
                "silent": silent,
            })
        })
        .collect();
    serde_json::json!({
        "object": manifest.object.to_string(),
        "size": manifest.size,
        "chunk_bytes": manifest.chunk_bytes,
        "data_shards": manifest.data_shards,
        "parity_shards": manifest.parity_shards,
        "chunks": chunks,
        "fully_redundant": stat.fully_redundant(),
    })
}
