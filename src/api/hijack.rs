//! Docker's connection hijack, for attach and exec: the client asks with
//! `Connection: Upgrade` and `Upgrade: tcp`, the service answers `101
//! Switching Protocols` (as dockerd does) and the connection then carries
//! the session both ways: the client's input in, the output out, framed
//! with Docker's 8-byte headers (stream, three zero bytes, big-endian
//! length) unless the session has a terminal (raw bytes then).
//!
//! A client that sends no `Upgrade` (curl, old clients) gets a `200` whose
//! body is the same framed output; its input is not read (hyper gives the
//! raw connection only after a 101).
//!
//! Route handlers call [`begin`] for the response and then
//! [`Connection::relay`] with channels of their session's output and
//! input; the session itself (a container's monitor, an exec process) is
//! theirs. The libpod attach/exec routes use the same two calls.

use std::convert::Infallible;
use std::future::Future as _;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::prefix::ApiVersion;

/// The client's input read at once (the monitor's frames are larger).
const INPUT_CHUNK: usize = 32 * 1024;

/// Output chunks queued for a slow client before the session's reader
/// waits: bounds the memory one session holds.
pub const OUTPUT_QUEUE: usize = 16;

/// Input chunks queued before the connection is not read any more.
pub const INPUT_QUEUE: usize = 16;

/// How often a quiet framed stream is probed for a client that went (it
/// half-closes its side at once, so a read tells nothing): a client that
/// vanished from an attach to a container that is silent (or not started
/// yet) is noticed within this, and its session ends.
const PROBE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// One piece of a session's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    Stdout(Bytes),
    Stderr(Bytes),
}

/// How the relay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relayed {
    /// The output ended (the session is over) and went out.
    Finished,
    /// The client hung up first: the caller ends its side of the session.
    ClientGone,
}

enum Kind {
    Upgrade(hyper::upgrade::OnUpgrade),
    Body(mpsc::Sender<Bytes>),
}

/// The client's connection, once the response is on its way.
pub struct Connection {
    kind: Kind,
}

/// Docker's content type for a session's stream: multiplexed (without a
/// terminal) is named so only from API 1.42 on.
pub fn content_type(tty: bool, flavor: ApiVersion) -> &'static str {
    let old = matches!(flavor, ApiVersion::Docker(1, m) if m < 42);
    if tty || old {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    }
}

/// Whether the client asked for the upgrade.
fn wants_upgrade(req: &Request) -> bool {
    let has = |name: header::HeaderName, token: &str| {
        req.headers().get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    has(header::CONNECTION, "upgrade") && req.headers().contains_key(header::UPGRADE)
}

/// The response to send now and the connection to relay on once it went
/// out. Call after every check that can still fail with a status.
pub fn begin(req: &mut Request, tty: bool, flavor: ApiVersion) -> (Response, Connection) {
    let kind = HeaderValue::from_static(content_type(tty, flavor));
    if wants_upgrade(req) {
        let on = hyper::upgrade::on(&mut *req);
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, kind);
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
        return (
            resp,
            Connection {
                kind: Kind::Upgrade(on),
            },
        );
    }
    let (tx, mut rx) = mpsc::channel::<Bytes>(OUTPUT_QUEUE);
    let body = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx).map(|b| b.map(Ok::<_, Infallible>))
    });
    let mut resp = Response::new(Body::from_stream(body));
    resp.headers_mut().insert(header::CONTENT_TYPE, kind);
    // Close-delimited, not chunked: clients that hijack the socket after
    // the header (Podman's `exec start`, old Docker clients) read the
    // frames straight from it, so no chunk sizes may come between them.
    *resp.version_mut() = axum::http::Version::HTTP_10;
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    (
        resp,
        Connection {
            kind: Kind::Body(tx),
        },
    )
}

/// Docker's stdout/stderr framing: stream, three zero bytes, the length
/// (big-endian), the payload. Payloads come from the session's reads
/// (at most a pipe's or the monitor's frame size), far below 4 GiB.
pub fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&[stream, 0, 0, 0]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&payload[..len as usize]);
    out
}

/// A chunk as it goes on the connection.
fn encode(chunk: Chunk, tty: bool) -> Bytes {
    match (chunk, tty) {
        (Chunk::Stdout(b) | Chunk::Stderr(b), true) => b,
        (Chunk::Stdout(b), false) => Bytes::from(frame(1, &b)),
        (Chunk::Stderr(b), false) => Bytes::from(frame(2, &b)),
    }
}

/// A connection whose response went out: the upgraded connection, or the
/// plain response's body.
pub struct Open {
    kind: OpenKind,
}

enum OpenKind {
    Upgraded(TokioIo<hyper::upgrade::Upgraded>),
    Body(mpsc::Sender<Bytes>),
}

impl Connection {
    /// Waits until the response went out; `None` when the client went
    /// first. A session that must not start writing before the client
    /// reads (an exec process) starts after this: clients that take the
    /// socket from under their HTTP library (the Python SDK) lose what
    /// arrived with the response head.
    pub async fn open(self) -> Option<Open> {
        let kind = match self.kind {
            Kind::Body(tx) => OpenKind::Body(tx),
            Kind::Upgrade(on) => OpenKind::Upgraded(TokioIo::new(on.await.ok()?)),
        };
        Some(Open { kind })
    }

    /// [`Connection::open`], then [`Open::relay`].
    pub async fn relay(
        self,
        tty: bool,
        output: mpsc::Receiver<Chunk>,
        input: Option<mpsc::Sender<Option<Bytes>>>,
    ) -> Relayed {
        match self.open().await {
            Some(open) => open.relay(tty, output, input).await,
            None => Relayed::ClientGone,
        }
    }
}

impl Open {
    /// Relays `output` to the client until it ends (the sender dropped),
    /// and, when `input` is given, the client's input into it (`None`
    /// once the client closed its side: the session's stdin ends). A
    /// client that went is seen when its connection fails (a read error,
    /// or a write of the output).
    pub async fn relay(
        self,
        tty: bool,
        mut output: mpsc::Receiver<Chunk>,
        input: Option<mpsc::Sender<Option<Bytes>>>,
    ) -> Relayed {
        let io = match self.kind {
            OpenKind::Body(tx) => {
                // No input on a plain response: the session's stdin is
                // closed at once, as for a client that sent nothing.
                if let Some(input) = input {
                    let _ = input.send(None).await;
                }
                while let Some(chunk) = output.recv().await {
                    if tx.send(encode(chunk, tty)).await.is_err() {
                        return Relayed::ClientGone;
                    }
                }
                return Relayed::Finished;
            }
            OpenKind::Upgraded(io) => io,
        };
        let (mut rd, mut wr) = tokio::io::split(io);
        let (gone_tx, mut gone_rx) = tokio::sync::oneshot::channel::<()>();
        // The reader lives as long as the client's side is open; it says
        // when the client has gone.
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; INPUT_CHUNK];
            loop {
                match rd.read(&mut buf).await {
                    Ok(0) => {
                        // Half-closed (the docker CLI does so after its
                        // input, or at once without): stdin ends, the
                        // output still goes out. A client that went
                        // altogether is seen when the output is written.
                        if let Some(i) = &input {
                            let _ = i.send(None).await;
                        }
                        return;
                    }
                    Ok(n) => {
                        if let Some(i) = &input
                            && i.send(Some(Bytes::copy_from_slice(&buf[..n])))
                                .await
                                .is_err()
                        {
                            // The session takes no more input; keep
                            // reading to see the client go.
                            continue;
                        }
                    }
                    Err(_) => {
                        let _ = gone_tx.send(());
                        return;
                    }
                }
            }
        });
        let mut watching = true;
        let mut probe = Box::pin(tokio::time::sleep(PROBE_INTERVAL));
        let result = loop {
            let next = std::future::poll_fn(|cx| {
                if let std::task::Poll::Ready(c) = output.poll_recv(cx) {
                    return std::task::Poll::Ready(c.map_or(Next::End, Next::Chunk));
                }
                if !tty && probe.as_mut().poll(cx).is_ready() {
                    return std::task::Poll::Ready(Next::Probe);
                }
                if watching
                    && let std::task::Poll::Ready(r) = std::pin::Pin::new(&mut gone_rx).poll(cx)
                {
                    // Err: the reader ended after the client's input; the
                    // client is still there for the output.
                    watching = false;
                    if r.is_ok() {
                        return std::task::Poll::Ready(Next::Gone);
                    }
                }
                std::task::Poll::Pending
            })
            .await;
            match next {
                Next::Chunk(chunk) => {
                    if wr.write_all(&encode(chunk, tty)).await.is_err() || wr.flush().await.is_err()
                    {
                        break Relayed::ClientGone;
                    }
                    probe
                        .as_mut()
                        .reset(tokio::time::Instant::now() + PROBE_INTERVAL);
                }
                Next::End => {
                    let _ = wr.shutdown().await;
                    break Relayed::Finished;
                }
                Next::Gone => break Relayed::ClientGone,
                Next::Probe => {
                    // An empty stdout frame: clients skip it, and a write
                    // to a client that went fails.
                    if wr.write_all(&frame(1, &[])).await.is_err() || wr.flush().await.is_err() {
                        break Relayed::ClientGone;
                    }
                    probe
                        .as_mut()
                        .reset(tokio::time::Instant::now() + PROBE_INTERVAL);
                }
            }
        };
        reader.abort();
        result
    }
}

enum Next {
    Chunk(Chunk),
    End,
    Gone,
    Probe,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_content_types() {
        assert_eq!(frame(1, b"hi"), [1, 0, 0, 0, 0, 0, 0, 2, b'h', b'i']);
        assert_eq!(
            encode(Chunk::Stderr(Bytes::from_static(b"e")), false),
            Bytes::from_static(&[2, 0, 0, 0, 0, 0, 0, 1, b'e'])
        );
        // A terminal's stream is raw, whichever stream it came from.
        assert_eq!(
            encode(Chunk::Stderr(Bytes::from_static(b"e")), true),
            Bytes::from_static(b"e")
        );
        let new = ApiVersion::Docker(1, 47);
        let old = ApiVersion::Docker(1, 41);
        assert_eq!(
            content_type(false, new),
            "application/vnd.docker.multiplexed-stream"
        );
        assert_eq!(content_type(true, new), "application/vnd.docker.raw-stream");
        assert_eq!(
            content_type(false, old),
            "application/vnd.docker.raw-stream"
        );
    }

    #[test]
    fn upgrade_is_asked_with_both_headers() {
        let req = |conn: Option<&str>, up: Option<&str>| {
            let mut b = axum::http::Request::builder().method("POST").uri("/x");
            if let Some(c) = conn {
                b = b.header(header::CONNECTION, c);
            }
            if let Some(u) = up {
                b = b.header(header::UPGRADE, u);
            }
            b.body(Body::empty()).unwrap()
        };
        assert!(wants_upgrade(&req(Some("Upgrade"), Some("tcp"))));
        assert!(wants_upgrade(&req(
            Some("keep-alive, upgrade"),
            Some("tcp")
        )));
        assert!(!wants_upgrade(&req(None, Some("tcp"))));
        assert!(!wants_upgrade(&req(Some("Upgrade"), None)));
        let (resp, _) = begin(
            &mut req(Some("Upgrade"), Some("tcp")),
            false,
            ApiVersion::Docker(1, 47),
        );
        assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
        let (resp, _) = begin(&mut req(None, None), true, ApiVersion::Docker(1, 47));
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/vnd.docker.raw-stream"
        );
    }
}
