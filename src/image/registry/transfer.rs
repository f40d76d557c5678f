//! Moving bytes between `oci-client`'s async streams and the synchronous
//! [`BlobStore`] without ever holding a whole blob in memory, and carrying
//! progress events from wherever they arise to the caller's callback.
//!
//! The store writes (and hashes) on tokio's blocking pool, fed through a
//! short bounded channel; uploads read files there the same way. Only the
//! caller's thread ever calls the progress callback, which need not be `Send`.

use std::fs::File;
use std::future::Future;
use std::io::{self, Read};
use std::pin::pin;

use bytes::Bytes;
use futures_util::future::{Either, select};
use futures_util::{Stream, StreamExt};
use hutch_storage::blobs::{BlobError, BlobStore};
use hutch_storage::digest::Digest;
use oci_client::errors::OciDistributionError;
use tokio::sync::mpsc;

use super::ProgressEvent;

/// How many pieces may wait between network and disk: enough to smooth out
/// bursts, few enough that memory stays a few hundred KiB per blob.
const PIECES_IN_FLIGHT: usize = 8;

/// Read size for uploads.
const UPLOAD_CHUNK: usize = 64 * 1024;

pub(super) type Events = mpsc::UnboundedSender<ProgressEvent>;

pub(super) fn emit(events: &Events, event: ProgressEvent) {
    // Sending fails only once the transfer has returned and nobody listens.
    let _ = events.send(event);
}

/// Runs the transfer that `body` builds, handing every event it sends to
/// `progress` as it arrives.
///
/// Delivery stops when the transfer's future finishes, not when the last
/// sender drops: a request body (holding a sender) may outlive its request
/// inside the HTTP client's connection, and waiting for it could hang.
pub(super) async fn reporting<T, F>(
    progress: &mut dyn FnMut(ProgressEvent),
    body: impl FnOnce(Events) -> F,
) -> T
where
    F: Future<Output = T>,
{
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut work = pin!(body(tx));
    loop {
        let next = match select(work.as_mut(), pin!(rx.recv())).await {
            Either::Left((out, _)) => Err(out),
            Either::Right((event, _)) => Ok(event),
        };
        match next {
            Ok(Some(event)) => progress(event),
            Ok(None) => return work.await,
            Err(out) => {
                while let Ok(event) = rx.try_recv() {
                    progress(event);
                }
                return out;
            }
        }
    }
}

/// Why a download did not end up in the store. In every case the store
/// holds nothing for the blob afterwards.
#[derive(Debug)]
pub(super) enum StoreFailure {
    /// The stream broke off, or `oci-client`'s own verification failed.
    Stream(io::Error),
    /// The registry sent more than the manifest declares.
    TooLarge,
    /// The store refused the content; a digest mismatch ends up here.
    Store(BlobError),
}

/// The blob writers one registry call started on the blocking pool. A
/// writer outlives the download it serves when that download is dropped
/// (a sibling layer failed): it then sees its channel close, fails and
/// removes its temporary file. The call waits for that before it returns,
/// so that a failed pull has left nothing behind when the caller looks
/// (the shared runtime, unlike one per call, is not dropped to wait).
#[derive(Default)]
pub(super) struct Writers {
    running: std::sync::Mutex<usize>,
    idle: std::sync::Condvar,
}

tokio::task_local! {
    pub(super) static WRITERS: std::sync::Arc<Writers>;
}

impl Writers {
    /// Blocks until every writer started under this tracker has ended.
    pub(super) fn wait_idle(&self) {
        let mut n = self.running.lock().unwrap_or_else(|p| p.into_inner());
        while *n > 0 {
            n = self.idle.wait(n).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Counts one writer for as long as it lives.
struct WriterGuard(std::sync::Arc<Writers>);

impl WriterGuard {
    /// A guard on the current call's tracker, if there is one (tests that
    /// drive `store_stream` on their own runtime have none).
    fn start() -> Option<WriterGuard> {
        WRITERS
            .try_with(|w| {
                *w.running.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                WriterGuard(w.clone())
            })
            .ok()
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        let mut n = self.0.running.lock().unwrap_or_else(|p| p.into_inner());
        *n = n.saturating_sub(1);
        self.0.idle.notify_all();
    }
}

/// Streams `stream` into `blobs`, which verifies it against `expected`
/// before renaming it into place. `on_bytes` hears the running total.
pub(super) async fn store_stream<S>(
    mut stream: S,
    expected: &Digest,
    max_size: u64,
    blobs: &BlobStore,
    mut on_bytes: impl FnMut(u64),
) -> Result<(), StoreFailure>
where
    S: Stream<Item = io::Result<Bytes>> + Unpin,
{
    let (tx, rx) = mpsc::channel(PIECES_IN_FLIGHT);
    let store = blobs.clone();
    let digest = expected.clone();
    let guard = WriterGuard::start();
    let writer = tokio::task::spawn_blocking(move || {
        let _guard = guard;
        store.put(PieceReader::new(rx), Some(&digest))
    });
    let mut done = 0u64;
    let outcome = loop {
        match stream.next().await {
            None => break Ok(()),
            Some(Err(e)) => break Err(StoreFailure::Stream(e)),
            Some(Ok(bytes)) => {
                done += bytes.len() as u64;
                if done > max_size {
                    break Err(StoreFailure::TooLarge);
                }
                if tx.send(Piece::Data(bytes)).await.is_err() {
                    // The writer gave up; its own error says why.
                    break Ok(());
                }
                on_bytes(done);
            }
        }
    };
    if outcome.is_ok() {
        let _ = tx.send(Piece::End).await;
    }
    // Without `End`, the writer sees the channel close, fails, and removes
    // its temporary file.
    drop(tx);
    let stored = match writer.await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(BlobError::Io {
            op: "writing",
            path: blobs.path(expected),
            source: io::Error::other(e),
        }),
    };
    outcome?;
    stored.map(drop).map_err(StoreFailure::Store)
}

enum Piece {
    Data(Bytes),
    /// The download completed; anything else that closes the channel is a
    /// failure, so a truncated blob is never mistaken for a whole one.
    End,
}

/// The blocking end of a download: a `Read` over pieces from the channel.
struct PieceReader {
    rx: mpsc::Receiver<Piece>,
    current: Bytes,
    ended: bool,
}

impl PieceReader {
    fn new(rx: mpsc::Receiver<Piece>) -> PieceReader {
        PieceReader {
            rx,
            current: Bytes::new(),
            ended: false,
        }
    }
}

impl Read for PieceReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            if self.ended {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Piece::Data(bytes)) => self.current = bytes,
                Some(Piece::End) => self.ended = true,
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the download stopped before the end of the blob",
                    ));
                }
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// A stream of `file`'s contents for an upload body, read on the blocking
/// pool. `on_bytes` hears the running total as pieces are handed over.
pub(super) fn file_stream(
    file: File,
    on_bytes: impl FnMut(u64) + Send + 'static,
) -> impl Stream<Item = Result<Bytes, OciDistributionError>> + Send + 'static {
    let (tx, rx) = mpsc::channel(PIECES_IN_FLIGHT);
    tokio::task::spawn_blocking(move || read_into(file, tx));
    futures_util::stream::unfold(
        (rx, 0u64, on_bytes),
        |(mut rx, done, mut on_bytes)| async move {
            let piece: io::Result<Bytes> = rx.recv().await?;
            let done = match &piece {
                Ok(bytes) => {
                    let done = done + bytes.len() as u64;
                    on_bytes(done);
                    done
                }
                Err(_) => done,
            };
            Some((
                piece.map_err(OciDistributionError::from),
                (rx, done, on_bytes),
            ))
        },
    )
}

fn read_into(mut file: File, tx: mpsc::Sender<io::Result<Bytes>>) {
    loop {
        let mut buf = vec![0u8; UPLOAD_CHUNK];
        match file.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                buf.truncate(n);
                if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                    return; // the upload was abandoned
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn pieces(
        parts: Vec<io::Result<&'static [u8]>>,
    ) -> impl Stream<Item = io::Result<Bytes>> + Unpin {
        futures_util::stream::iter(parts.into_iter().map(|p| p.map(Bytes::from_static)))
    }

    #[test]
    fn streams_into_the_store_and_reports_totals() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path()).unwrap();
        let digest = Digest::of(b"hello world");
        let mut seen = Vec::new();
        runtime()
            .block_on(store_stream(
                pieces(vec![Ok(b"hello"), Ok(b" "), Ok(b"world")]),
                &digest,
                11,
                &blobs,
                |n| seen.push(n),
            ))
            .unwrap();
        assert_eq!(blobs.read(&digest).unwrap(), b"hello world");
        assert_eq!(seen, [5, 6, 11]);
    }

    #[test]
    fn failures_store_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path()).unwrap();
        let digest = Digest::of(b"hello world");
        let rt = runtime();
        let broken = rt.block_on(store_stream(
            pieces(vec![Ok(b"hello"), Err(io::Error::other("reset"))]),
            &digest,
            11,
            &blobs,
            |_| {},
        ));
        assert!(matches!(broken, Err(StoreFailure::Stream(_))), "{broken:?}");
        let too_large = rt.block_on(store_stream(
            pieces(vec![Ok(b"hello world, and more")]),
            &digest,
            11,
            &blobs,
            |_| {},
        ));
        assert!(
            matches!(too_large, Err(StoreFailure::TooLarge)),
            "{too_large:?}"
        );
        let corrupt = rt.block_on(store_stream(
            pieces(vec![Ok(b"hello wOrld")]),
            &digest,
            11,
            &blobs,
            |_| {},
        ));
        assert!(
            matches!(
                corrupt,
                Err(StoreFailure::Store(BlobError::Mismatch { .. }))
            ),
            "{corrupt:?}"
        );
        assert!(!blobs.contains(&digest));
        assert!(!blobs.contains(&Digest::of(b"hello wOrld")));
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }

    #[test]
    fn file_stream_yields_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let got = runtime().block_on(async {
            let stream = file_stream(File::open(&path).unwrap(), move |n| {
                let _ = tx.send(n);
            });
            let parts: Vec<Bytes> = stream.map(|p| p.unwrap()).collect().await;
            parts.concat()
        });
        assert_eq!(got, data);
        assert_eq!(rx.iter().last(), Some(200_000));
    }
}
