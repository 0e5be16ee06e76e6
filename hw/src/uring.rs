//! Whole-file reads and writes through io_uring: every piece of every file of a call submitted in
//! one batch (up to [`BUFFERS`] pieces of [`BUFFER_BYTES`] at a time), from buffers registered with
//! the kernel once, and the syncs of all files and their directories in one more batch.
//!
//! Registration pins the buffers' pages; where the memory-lock limit refuses it, the same buffers
//! are used unregistered (plain `Write`/`Read` operations), and [`UringFileIo::registered`] says so.

// io_uring's submissions hand the kernel raw pointers into this module's buffers; each unsafe block
// below says why the memory outlives the operation.
#![allow(unsafe_code)]

use crate::file_io::{FileIo, parent_directories};
use io_uring::{IoUring, opcode, types};
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Buffers registered with the ring: pieces in flight at once.
pub const BUFFERS: usize = 8;
/// Bytes of each buffer: the largest piece one operation moves.
pub const BUFFER_BYTES: usize = 1024 * 1024;
/// Submission queue entries (at least [`BUFFERS`]; syncs are submitted this many at a time).
pub const RING_ENTRIES: u32 = 64;

/// Files read and written through one io_uring.
pub struct UringFileIo {
    ring: IoUring,
    /// Each boxed slice stays where it is for the life of `self`: the kernel holds their addresses.
    buffers: Vec<Box<[u8]>>,
    registered: bool,
}

impl std::fmt::Debug for UringFileIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringFileIo").field("registered", &self.registered).finish()
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
    /// Sets up a ring and registers its buffers (unregistered when the kernel refuses to pin them).
    pub fn new() -> io::Result<UringFileIo> {
        let ring = IoUring::new(RING_ENTRIES)?;
        let buffers: Vec<Box<[u8]>> = (0..BUFFERS).map(|_| vec![0u8; BUFFER_BYTES].into_boxed_slice()).collect();
        let iovecs: Vec<libc::iovec> = buffers
            .iter()
            .map(|buffer| libc::iovec { iov_base: buffer.as_ptr() as *mut libc::c_void, iov_len: buffer.len() })
            .collect();
        // SAFETY: every iovec points at a live boxed slice owned by the returned value, which never
        // moves or frees them before the ring (dropped first, as the first field) is closed.
        let registered = unsafe { ring.submitter().register_buffers(&iovecs) }.is_ok();
        Ok(UringFileIo { ring, buffers, registered })
    }

    /// True when the buffers are registered with the kernel (fixed-buffer operations).
    #[must_use]
    pub fn registered(&self) -> bool {
        self.registered
    }

    /// Submits `entries` and waits for all their completions, returning each one's result by its
    /// `user_data`. It waits for every completion even after an error, so that no operation is in
    /// flight on a buffer when it returns.
    fn run(&mut self, entries: &[io_uring::squeue::Entry]) -> io::Result<Vec<i32>> {
        let mut results = vec![0i32; entries.len()];
        for (index, entry) in entries.iter().enumerate() {
            let entry = entry.clone().user_data(index as u64);
            // SAFETY: the entries' buffers (this value's registered buffers) and file descriptors
            // (held by the caller until this returns) outlive the operation: this function waits
            // for every completion below before returning.
            unsafe { self.ring.submission().push(&entry) }
                .map_err(|_| io::Error::other("io_uring submission queue is full"))?;
        }
        let mut waiting = entries.len();
        while waiting > 0 {
            match self.ring.submit_and_wait(waiting) {
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
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

impl FileIo for UringFileIo {
    fn write_new_files(&mut self, files: &[(&Path, &[u8])], sync: bool) -> io::Result<()> {
        let opened: Vec<File> = files
            .iter()
            .map(|(path, _)| OpenOptions::new().write(true).create_new(true).open(path))
            .collect::<io::Result<_>>()?;
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
            let directories: Vec<File> =
                parent_directories(files).into_iter().map(File::open).collect::<io::Result<_>>()?;
            let syncs: Vec<io_uring::squeue::Entry> = opened
                .iter()
                .map(|file| opcode::Fsync::new(types::Fd(file.as_raw_fd())).flags(types::FsyncFlags::DATASYNC).build())
                .chain(directories.iter().map(|directory| opcode::Fsync::new(types::Fd(directory.as_raw_fd())).build()))
                .collect();
            for batch in syncs.chunks(RING_ENTRIES as usize) {
                if let Some(&result) = self.run(batch)?.iter().find(|&&result| result < 0) {
                    return Err(os_error(result));
                }
            }
        }
        Ok(())
    }

    fn read_file(&mut self, path: &Path) -> io::Result<Vec<u8>> {
        let file = File::open(path)?;
        let len = usize::try_from(file.metadata()?.len()).map_err(|_| io::Error::other("file too large"))?;
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

    fn name(&self) -> &'static str {
        "io_uring"
    }
}
