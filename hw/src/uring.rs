//! Whole-file reads and writes through io_uring, where a ring pays:
//!
//! - **batched** ([`UringFileIo::new`], the node's choice): a call writing two or more files goes
//!   through the ring, directly as below; a call writing one file, and every read, goes through
//!   plain calls, which the `file_io` benchmark measured faster for them (one 64 KiB shard synced:
//!   0.45–0.69× plain through the ring over three runs; reads 0.74–0.98×), while eight shards in
//!   one call went 1.1–2.9× faster through the ring at every size in two runs (one 0.91× at 1 MiB
//!   in a third).
//! - **direct** ([`UringFileIo::ring_only`]): every file of a call written straight
//!   from the caller's bytes, each write linked to its file's `fdatasync`, all in one submission,
//!   then the directories' syncs in one more; a read goes straight into the returned vector.
//! - **registered** ([`UringFileIo::with_registered_buffers`]): the bytes copied through
//!   [`BUFFERS`] buffers of [`BUFFER_BYTES`] registered with the kernel once (fixed-buffer
//!   operations, up to [`BUFFERS`] pieces in flight), then the syncs in one batch. Registration
//!   pins the buffers' pages; where the memory-lock limit refuses it, the same buffers are used
//!   unregistered, and [`UringFileIo::registered`] says so.
//!
//! The copy costs the registered way more than registration saves on buffered files (see the
//! `file_io` benchmark), hence the node's choice.

// io_uring's submissions hand the kernel raw pointers into this module's buffers; each unsafe block
// below says why the memory outlives the operation.
#![allow(unsafe_code)]

use crate::file_io::{FileIo, StdFileIo, parent_directories};
use io_uring::{IoUring, opcode, squeue, types};
use std::collections::{BTreeSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

/// Buffers registered with the ring: pieces in flight at once.
pub const BUFFERS: usize = 8;
/// Bytes of each buffer: the largest piece one operation moves.
pub const BUFFER_BYTES: usize = 1024 * 1024;
/// Submission queue entries (at least [`BUFFERS`]; syncs are submitted this many at a time).
pub const RING_ENTRIES: u32 = 64;
/// The largest piece one direct read or write moves (the kernel moves at most about 2 GiB at once).
pub const DIRECT_PIECE_BYTES_MAX: usize = 1 << 30;

/// Files read and written through one io_uring.
pub struct UringFileIo {
    ring: IoUring,
    /// Each boxed slice stays where it is for the life of `self`: the kernel holds their addresses.
    /// Empty in the direct way.
    buffers: Vec<Box<[u8]>>,
    registered: bool,
    /// One-file writes and reads go through plain calls.
    batches_only: bool,
}

impl std::fmt::Debug for UringFileIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringFileIo")
            .field("buffers", &self.buffers.len())
            .field("registered", &self.registered)
            .field("batches_only", &self.batches_only)
            .finish()
    }
}

/// A piece of a file to move: which file, where in it, and which bytes of the call's data.
#[derive(Clone, Copy, Debug)]
struct Piece {
    file: usize,
    offset: u64,
    len: usize,
}

impl UringFileIo {
    /// Sets up a ring for batches of files, plain calls for the rest.
    pub fn new() -> io::Result<UringFileIo> {
        Ok(UringFileIo {
            ring: IoUring::new(RING_ENTRIES)?,
            buffers: Vec::new(),
            registered: false,
            batches_only: true,
        })
    }

    /// Sets up a ring for every read and write, direct.
    pub fn ring_only() -> io::Result<UringFileIo> {
        Ok(UringFileIo { batches_only: false, ..UringFileIo::new()? })
    }

    /// Sets up a ring and registers its buffers (unregistered when the kernel refuses to pin them).
    pub fn with_registered_buffers() -> io::Result<UringFileIo> {
        let buffers: Vec<Box<[u8]>> = (0..BUFFERS).map(|_| vec![0u8; BUFFER_BYTES].into_boxed_slice()).collect();
        let mut io = UringFileIo { ring: IoUring::new(RING_ENTRIES)?, buffers, registered: false, batches_only: false };
        io.register();
        Ok(io)
    }

    /// Registers the buffers with the ring, if there are any and the kernel takes them.
    fn register(&mut self) {
        if self.buffers.is_empty() {
            return;
        }
        let iovecs: Vec<libc::iovec> = self
            .buffers
            .iter()
            .map(|buffer| libc::iovec { iov_base: buffer.as_ptr() as *mut libc::c_void, iov_len: buffer.len() })
            .collect();
        // SAFETY: every iovec points at a live boxed slice owned by `self`, which never moves or
        // frees them before the ring (dropped first, as the first field) is closed.
        self.registered = unsafe { self.ring.submitter().register_buffers(&iovecs) }.is_ok();
    }

    /// True when this copies through buffers registered with the kernel (fixed-buffer operations).
    #[must_use]
    pub fn registered(&self) -> bool {
        self.registered
    }

    /// Submits `entries` and waits for all their completions, returning each one's result by its
    /// `user_data`. It waits for every completion even after an error, so that no operation is in
    /// flight on a buffer when it returns.
    ///
    /// Should the kernel refuse the submission itself, the ring (with the entries it never took) is
    /// replaced by a fresh one and the error returned; should waiting fail once operations are in
    /// flight — which leaves memory the kernel may still write to — the process aborts.
    fn run(&mut self, entries: &[io_uring::squeue::Entry]) -> io::Result<Vec<i32>> {
        if entries.len() > RING_ENTRIES as usize {
            return Err(io::Error::other("more io_uring entries than the ring holds"));
        }
        let mut results = vec![0i32; entries.len()];
        for (index, entry) in entries.iter().enumerate() {
            let entry = entry.clone().user_data(index as u64);
            // SAFETY: every entry's memory (this value's registered buffers, or the caller's bytes and
            // the vector a direct read fills, both borrowed across this call) and file descriptor
            // (held by the caller until this returns) outlive the operation: this function waits
            // for every completion below before returning, even after an error.
            unsafe { self.ring.submission().push(&entry) }
                .map_err(|_| io::Error::other("io_uring submission queue is full"))?;
        }
        let mut waiting = entries.len();
        let mut in_flight = false;
        while waiting > 0 {
            match self.ring.submit_and_wait(waiting) {
                Ok(_) => in_flight = true,
                Err(error)
                    if matches!(error.kind(), io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock)
                        || error.raw_os_error() == Some(libc::EBUSY) =>
                {
                    continue;
                }
                Err(error) if !in_flight => {
                    self.ring = IoUring::new(RING_ENTRIES)?;
                    self.register();
                    return Err(error);
                }
                Err(error) => {
                    eprintln!("io_uring: waiting for operations in flight failed ({error}); aborting");
                    std::process::abort();
                }
            }
            for completion in self.ring.completion() {
                let index = usize::try_from(completion.user_data()).unwrap_or(usize::MAX);
                if let Some(slot) = results.get_mut(index) {
                    *slot = completion.result();
                    waiting -= 1;
                }
            }
        }
        Ok(results)
    }

    /// A write or read of `len` bytes at `offset` of `fd` through buffer `buffer`.
    fn transfer(&mut self, write: bool, fd: i32, buffer: usize, offset: u64, len: usize) -> io_uring::squeue::Entry {
        let ptr = self.buffers[buffer].as_mut_ptr();
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        let fd = types::Fd(fd);
        match (write, self.registered) {
            (true, true) => opcode::WriteFixed::new(fd, ptr, len, buffer as u16).offset(offset).build(),
            (true, false) => opcode::Write::new(fd, ptr, len).offset(offset).build(),
            (false, true) => opcode::ReadFixed::new(fd, ptr, len, buffer as u16).offset(offset).build(),
            (false, false) => opcode::Read::new(fd, ptr, len).offset(offset).build(),
        }
    }
}

/// The pieces of `BUFFER_BYTES` or fewer that cover `len` bytes of file `file`.
fn pieces(file: usize, len: usize) -> impl Iterator<Item = Piece> {
    (0..len).step_by(BUFFER_BYTES).map(move |start| Piece {
        file,
        offset: start as u64,
        len: BUFFER_BYTES.min(len - start),
    })
}

fn os_error(result: i32) -> io::Error {
    io::Error::from_raw_os_error(-result)
}

impl UringFileIo {
    /// Writes `files`, opened as `opened`, straight from their bytes, each write linked to its
    /// file's sync when `sync`.
    fn write_direct(&mut self, files: &[(&Path, &[u8])], opened: &[File], sync: bool) -> io::Result<()> {
        // Each file's entries (its writes, then its sync), kept whole within one submission.
        let mut groups: Vec<Vec<(usize, io_uring::squeue::Entry, usize)>> = Vec::new();
        for (index, ((_, bytes), file)) in files.iter().zip(opened).enumerate() {
            let fd = types::Fd(file.as_raw_fd());
            let mut group = Vec::new();
            for start in (0..bytes.len()).step_by(DIRECT_PIECE_BYTES_MAX) {
                let len = DIRECT_PIECE_BYTES_MAX.min(bytes.len() - start);
                let ptr = bytes[start..].as_ptr();
                let mut write = opcode::Write::new(fd, ptr, len as u32).offset(start as u64).build();
                if sync {
                    write = write.flags(squeue::Flags::IO_LINK);
                }
                group.push((index, write, len));
            }
            if sync {
                group.push((index, opcode::Fsync::new(fd).flags(types::FsyncFlags::DATASYNC).build(), 0));
            }
            groups.push(group);
        }
        // Files whose chain broke (a short write cancels the rest): finished with plain calls.
        let mut unfinished = BTreeSet::new();
        let mut batch: Vec<(usize, io_uring::squeue::Entry, usize)> = Vec::new();
        let mut flush = |this: &mut UringFileIo, batch: &mut Vec<(usize, io_uring::squeue::Entry, usize)>| {
            let entries: Vec<_> = batch.iter().map(|(_, entry, _)| entry.clone()).collect();
            for ((file, _, len), result) in batch.drain(..).zip(this.run(&entries)?) {
                match usize::try_from(result) {
                    Ok(done) if done == len || len == 0 => {}
                    Ok(_) => {
                        unfinished.insert(file);
                    }
                    Err(_) if result == -libc::ECANCELED => {
                        unfinished.insert(file);
                    }
                    Err(_) => return Err(os_error(result)),
                }
            }
            Ok::<(), io::Error>(())
        };
        for group in groups {
            if batch.len() + group.len() > RING_ENTRIES as usize {
                flush(self, &mut batch)?;
            }
            batch.extend(group);
        }
        flush(self, &mut batch)?;
        for file in unfinished {
            let mut opened = &opened[file];
            opened.seek(SeekFrom::Start(0))?;
            opened.write_all(files[file].1)?;
            if sync {
                opened.sync_data()?;
            }
        }
        Ok(())
    }

    /// Reads `len` bytes of `file` straight into a vector.
    fn read_direct(&mut self, file: &File, len: usize) -> io::Result<Vec<u8>> {
        let mut bytes = vec![0u8; len];
        let mut done = 0;
        while done < len {
            let piece = DIRECT_PIECE_BYTES_MAX.min(len - done);
            let ptr = bytes[done..].as_mut_ptr();
            let read = opcode::Read::new(types::Fd(file.as_raw_fd()), ptr, piece as u32).offset(done as u64).build();
            let result = self.run(&[read])?[0];
            match usize::try_from(result) {
                Ok(0) => break,
                Ok(read) => done += read,
                Err(_) => return Err(os_error(result)),
            }
        }
        bytes.truncate(done);
        Ok(bytes)
    }

    /// Writes `files`, opened as `opened`, through the registered buffers.
    fn write_registered(&mut self, files: &[(&Path, &[u8])], opened: &[File], sync: bool) -> io::Result<()> {
        let mut queue: VecDeque<Piece> =
            files.iter().enumerate().flat_map(|(file, (_, bytes))| pieces(file, bytes.len())).collect();
        while !queue.is_empty() {
            let round: Vec<Piece> = queue.drain(..queue.len().min(BUFFERS)).collect();
            let mut entries = Vec::with_capacity(round.len());
            for (buffer, piece) in round.iter().enumerate() {
                let start = usize::try_from(piece.offset).unwrap_or(usize::MAX);
                let bytes = &files[piece.file].1[start..start + piece.len];
                self.buffers[buffer][..piece.len].copy_from_slice(bytes);
                let fd = opened[piece.file].as_raw_fd();
                entries.push(self.transfer(true, fd, buffer, piece.offset, piece.len));
            }
            for (piece, result) in round.iter().zip(self.run(&entries)?) {
                let written = usize::try_from(result).map_err(|_| os_error(result))?;
                if written == 0 {
                    return Err(io::Error::new(io::ErrorKind::WriteZero, "io_uring wrote nothing"));
                }
                if written < piece.len {
                    // A short write: the rest goes in a later round.
                    queue.push_back(Piece {
                        file: piece.file,
                        offset: piece.offset + written as u64,
                        len: piece.len - written,
                    });
                }
            }
        }
        if sync {
            let syncs: Vec<io_uring::squeue::Entry> = opened
                .iter()
                .map(|file| opcode::Fsync::new(types::Fd(file.as_raw_fd())).flags(types::FsyncFlags::DATASYNC).build())
                .collect();
            self.sync_all(&syncs)?;
        }
        Ok(())
    }

    /// Runs `syncs`, a batch at a time; fails with the first error.
    fn sync_all(&mut self, syncs: &[io_uring::squeue::Entry]) -> io::Result<()> {
        for batch in syncs.chunks(RING_ENTRIES as usize) {
            if let Some(&result) = self.run(batch)?.iter().find(|&&result| result < 0) {
                return Err(os_error(result));
            }
        }
        Ok(())
    }

    /// Reads `len` bytes of `file` through the registered buffers.
    fn read_registered(&mut self, file: &File, len: usize) -> io::Result<Vec<u8>> {
        let mut bytes = vec![0u8; len];
        let mut queue: VecDeque<Piece> = pieces(0, len).collect();
        let mut end = len;
        while !queue.is_empty() {
            let round: Vec<Piece> = queue.drain(..queue.len().min(BUFFERS)).collect();
            let entries: Vec<_> = round
                .iter()
                .enumerate()
                .map(|(buffer, piece)| self.transfer(false, file.as_raw_fd(), buffer, piece.offset, piece.len))
                .collect();
            for (buffer, (piece, result)) in round.iter().zip(self.run(&entries)?).enumerate() {
                let read = usize::try_from(result).map_err(|_| os_error(result))?;
                let start = usize::try_from(piece.offset).unwrap_or(usize::MAX);
                bytes[start..start + read].copy_from_slice(&self.buffers[buffer][..read]);
                if read == 0 {
                    // The file shrank since its length was read: it ends here.
                    end = end.min(start);
                } else if read < piece.len {
                    queue.push_back(Piece { file: 0, offset: piece.offset + read as u64, len: piece.len - read });
                }
            }
        }
        bytes.truncate(end);
        Ok(bytes)
    }
}

impl FileIo for UringFileIo {
    fn write_new_files(&mut self, files: &[(&Path, &[u8])], sync: bool) -> io::Result<()> {
        if self.batches_only && files.len() < 2 {
            return StdFileIo.write_new_files(files, sync);
        }
        let opened: Vec<File> = files
            .iter()
            .map(|(path, _)| OpenOptions::new().write(true).create_new(true).open(path))
            .collect::<io::Result<_>>()?;
        if self.buffers.is_empty() {
            self.write_direct(files, &opened, sync)?;
        } else {
            self.write_registered(files, &opened, sync)?;
        }
        if sync {
            let directories: Vec<File> =
                parent_directories(files).into_iter().map(File::open).collect::<io::Result<_>>()?;
            let syncs: Vec<_> = directories
                .iter()
                .map(|directory| opcode::Fsync::new(types::Fd(directory.as_raw_fd())).build())
                .collect();
            self.sync_all(&syncs)?;
        }
        Ok(())
    }

    fn read_file(&mut self, path: &Path) -> io::Result<Vec<u8>> {
        if self.batches_only {
            return StdFileIo.read_file(path);
        }
        let file = File::open(path)?;
        let len = usize::try_from(file.metadata()?.len()).map_err(|_| io::Error::other("file too large"))?;
        if self.buffers.is_empty() { self.read_direct(&file, len) } else { self.read_registered(&file, len) }
    }

    fn name(&self) -> &'static str {
        match (self.batches_only, self.buffers.is_empty()) {
            (true, _) => "io_uring",
            (false, true) => "io_uring-ring-only",
            (false, false) => "io_uring-registered",
        }
    }
}
