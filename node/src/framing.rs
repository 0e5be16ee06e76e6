//! Length-prefixed frames on a byte stream: a `u32` big-endian length, then that many bytes.
//!
//! A frame longer than [`FRAME_BYTES_MAX`] is refused before its body is read; the transport then
//! closes the connection, since the stream can no longer be parsed.

use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest frame body accepted or sent, in bytes (16 MiB).
pub const FRAME_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Bytes set aside for a frame's body before any of it has arrived: a length prefix is a claim, so
/// a larger body grows as its bytes come in rather than on the prefix's word (else four bytes on a
/// stream would make the node allocate 16 MiB, and a hundred streams 1.6 GiB).
pub const FRAME_PREALLOCATION_BYTES_MAX: usize = 64 * 1024;

/// Why a frame could not be read or written.
#[derive(Debug, Error)]
pub enum FrameError {
    /// The length prefix announces more than [`FRAME_BYTES_MAX`] bytes.
    #[error("frame of {bytes} bytes is over the {FRAME_BYTES_MAX}-byte limit")]
    TooLarge {
        /// The announced length.
        bytes: u64,
    },
    /// The stream ended inside a frame.
    #[error("the stream ended inside a frame")]
    Truncated,
    /// Bytes followed the one frame a stream may carry.
    #[error("bytes follow the stream's only frame")]
    Trailing,
    /// The stream failed.
    #[error("stream error: {0}")]
    Io(#[from] std::io::Error),
}

/// Writes `bytes` as one frame.
pub async fn write_frame<W: AsyncWrite + Unpin>(stream: &mut W, bytes: &[u8]) -> Result<(), FrameError> {
    let length = u32::try_from(bytes.len())
        .ok()
        .filter(|&length| length as usize <= FRAME_BYTES_MAX)
        .ok_or(FrameError::TooLarge { bytes: bytes.len() as u64 })?;
    stream.write_all(&length.to_be_bytes()).await?;
    stream.write_all(bytes).await?;
    Ok(())
}

/// Reads one frame; `None` when the stream ends cleanly between frames.
pub async fn read_frame<R: AsyncRead + Unpin>(stream: &mut R) -> Result<Option<Vec<u8>>, FrameError> {
    let mut header = [0u8; 4];
    let mut filled = 0;
    while filled < header.len() {
        let read = stream.read(&mut header[filled..]).await?;
        if read == 0 {
            return if filled == 0 { Ok(None) } else { Err(FrameError::Truncated) };
        }
        filled += read;
    }
    let length = u32::from_be_bytes(header);
    if length as usize > FRAME_BYTES_MAX {
        return Err(FrameError::TooLarge { bytes: u64::from(length) });
    }
    let mut body = Vec::with_capacity((length as usize).min(FRAME_PREALLOCATION_BYTES_MAX));
    let read = (&mut *stream).take(u64::from(length)).read_to_end(&mut body).await?;
    if read < length as usize {
        return Err(FrameError::Truncated);
    }
    Ok(Some(body))
}

/// Reads the one frame a stream carries and then its end; `None` when it ends before a frame.
///
/// Reading the end matters on QUIC: a receive stream dropped before its end is read makes the
/// peer a STOP_SENDING frame, one more packet to send, acknowledge and process per request.
pub async fn read_only_frame<R: AsyncRead + Unpin>(stream: &mut R) -> Result<Option<Vec<u8>>, FrameError> {
    let Some(frame) = read_frame(stream).await? else { return Ok(None) };
    let mut after = [0u8; 1];
    match stream.read(&mut after).await? {
        0 => Ok(Some(frame)),
        _ => Err(FrameError::Trailing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_bad_lengths_are_refused() {
        let (mut writer, mut reader) = tokio::io::duplex(1024);
        write_frame(&mut writer, b"hello").await.unwrap();
        write_frame(&mut writer, b"").await.unwrap();
        writer.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
        assert_eq!(read_frame(&mut reader).await.unwrap(), Some(b"hello".to_vec()));
        assert_eq!(read_frame(&mut reader).await.unwrap(), Some(Vec::new()));
        assert!(matches!(read_frame(&mut reader).await, Err(FrameError::TooLarge { .. })));

        let (mut writer, mut reader) = tokio::io::duplex(1024);
        writer.write_all(&[0, 0, 0, 9, 1, 2]).await.unwrap();
        drop(writer);
        assert!(matches!(read_frame(&mut reader).await, Err(FrameError::Truncated)));

        let (writer, mut reader) = tokio::io::duplex(1024);
        drop(writer);
        assert!(read_frame(&mut reader).await.unwrap().is_none());
    }

    /// A reader of `bytes` that records the largest buffer it was offered.
    struct Offered<'a> {
        bytes: &'a [u8],
        largest: usize,
    }

    impl AsyncRead for Offered<'_> {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            self.largest = self.largest.max(buf.remaining());
            let count = buf.remaining().min(self.bytes.len());
            buf.put_slice(&self.bytes[..count]);
            self.bytes = &self.bytes[count..];
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_length_prefix_alone_allocates_no_body() {
        // 16 MiB announced, 100 bytes sent: the reader is never offered room for the 16 MiB.
        let mut stream = (FRAME_BYTES_MAX as u32).to_be_bytes().to_vec();
        stream.extend_from_slice(&[7; 100]);
        let mut reader = Offered { bytes: &stream, largest: 0 };
        assert!(matches!(read_frame(&mut reader).await, Err(FrameError::Truncated)));
        assert!(reader.largest <= 2 * FRAME_PREALLOCATION_BYTES_MAX, "offered {} bytes", reader.largest);
        // A whole large frame still reads, growing as it arrives.
        let body = vec![9; 3 * FRAME_PREALLOCATION_BYTES_MAX + 5];
        let mut stream = (body.len() as u32).to_be_bytes().to_vec();
        stream.extend_from_slice(&body);
        let mut reader = Offered { bytes: &stream, largest: 0 };
        assert_eq!(read_frame(&mut reader).await.unwrap(), Some(body));
    }

    #[tokio::test]
    async fn an_only_frame_must_end_its_stream() {
        let (mut writer, mut reader) = tokio::io::duplex(1024);
        write_frame(&mut writer, b"one").await.unwrap();
        drop(writer);
        assert_eq!(read_only_frame(&mut reader).await.unwrap(), Some(b"one".to_vec()));

        let (mut writer, mut reader) = tokio::io::duplex(1024);
        write_frame(&mut writer, b"one").await.unwrap();
        write_frame(&mut writer, b"two").await.unwrap();
        drop(writer);
        assert!(matches!(read_only_frame(&mut reader).await, Err(FrameError::Trailing)));

        let (writer, mut reader) = tokio::io::duplex(1024);
        drop(writer);
        assert!(read_only_frame(&mut reader).await.unwrap().is_none());
    }
}
