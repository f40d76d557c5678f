//! A small blocking HTTP/1.1 client over a unix socket: one request per
//! connection (`Connection: close`), bodies by Content-Length, chunked, or
//! read to the close (the service's hijacked exec output). Enough for the
//! libpod API and no async runtime in the CLI process.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::{Context as _, bail};

/// Longest status line or header line taken from the service.
const MAX_LINE: usize = 16 * 1024;
/// Most headers taken from one response.
const MAX_HEADERS: usize = 100;
/// Largest body read whole (`json()`, errors); streams are not bounded.
pub const MAX_BODY: u64 = 64 * 1024 * 1024;

pub struct Response {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    body: Box<dyn Read>,
}

impl Response {
    /// The first header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, or the service's error as an error: libpod's
    /// `{"cause","message","response"}`.
    pub fn json(self) -> anyhow::Result<serde_json::Value> {
        let status = self.status;
        let mut bytes = Vec::new();
        self.body
            .take(MAX_BODY)
            .read_to_end(&mut bytes)
            .context("reading the service's answer")?;
        let v: serde_json::Value = if bytes.iter().all(u8::is_ascii_whitespace) {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "the service answered {status} with no JSON: {}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                )
            })?
        };
        if status >= 400 {
            return Err(ApiError {
                status,
                message: v["message"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string()),
            }
            .into());
        }
        Ok(v)
    }

    /// The body as a reader (streams: logs, exec output), after checking
    /// the status.
    pub fn stream(self) -> anyhow::Result<Box<dyn Read>> {
        if self.status >= 400 {
            self.json()?;
            bail!("the service refused the request");
        }
        Ok(self.body)
    }
}

/// An error the service answered with: its status picks the exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

/// Sends one request to the service listening on `socket`.
pub fn request(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> anyhow::Result<Response> {
    let payload = body.map(|b| b.to_string());
    send(
        socket,
        method,
        path,
        payload.as_deref().map(|p| Body::Json(p.as_bytes())),
    )
}

/// What a request carries.
pub enum Body<'a> {
    Json(&'a [u8]),
    /// A tar (`cp` into a container), sent chunked as it is read.
    Tar(&'a mut dyn Read),
}

fn connect(socket: &Path) -> anyhow::Result<UnixStream> {
    UnixStream::connect(socket).with_context(|| {
        format!(
            "unable to connect to the service at unix://{}: is `hutch system service` running there?",
            socket.display()
        )
    })
}

/// Sends one request with `body` and reads the answer's head.
pub fn send(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<Body<'_>>,
) -> anyhow::Result<Response> {
    send_with(socket, method, path, body, &[])
}

/// [`send`] with more headers (`X-Registry-Auth`).
pub fn send_with(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<Body<'_>>,
    extra: &[(&str, &str)],
) -> anyhow::Result<Response> {
    let mut conn = connect(socket)?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n");
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    match &body {
        None => head.push_str("Content-Length: 0\r\n\r\n"),
        Some(Body::Json(p)) => head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            p.len()
        )),
        Some(Body::Tar(_)) => {
            head.push_str("Content-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n")
        }
    }
    conn.write_all(head.as_bytes())
        .context("sending a request to the service")?;
    match body {
        None => {}
        Some(Body::Json(p)) => conn
            .write_all(p)
            .context("sending a request to the service")?,
        Some(Body::Tar(r)) => send_chunked(&mut conn, r)?,
    }
    let mut reader = BufReader::new(conn);
    let (status, headers) = read_head(&mut reader)?;
    let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let chunked = header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let length = header("content-length").and_then(|v| v.parse::<u64>().ok());
    let body: Box<dyn Read> = if chunked {
        Box::new(Chunked {
            inner: reader,
            left: 0,
            done: false,
        })
    } else if let Some(n) = length {
        Box::new(reader.take(n))
    } else {
        Box::new(reader)
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Copies `r` to `conn` as HTTP chunks, then the last chunk.
fn send_chunked(conn: &mut UnixStream, r: &mut dyn Read) -> anyhow::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("reading what to send"),
        };
        conn.write_all(format!("{n:x}\r\n").as_bytes())
            .and_then(|()| conn.write_all(&buf[..n]))
            .and_then(|()| conn.write_all(b"\r\n"))
            .context("sending to the service")?;
    }
    conn.write_all(b"0\r\n\r\n")
        .context("sending to the service")
}

/// The status and the headers (names lower-cased) of an answer.
fn read_head(reader: &mut impl BufRead) -> anyhow::Result<(u16, Vec<(String, String)>)> {
    let status_line = line(reader)?;
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("the service answered {status_line:?}, not HTTP"))?;
    let mut headers = Vec::new();
    loop {
        let l = line(reader)?;
        if l.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            bail!("the service sent more than {MAX_HEADERS} headers");
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    Ok((status, headers))
}

/// A hijacked connection (attach, exec start): the session's output to
/// read (after the answer's head), and the socket to write input to and
/// half-close.
pub struct Hijacked {
    pub output: BufReader<UnixStream>,
    pub input: UnixStream,
}

/// Sends `POST path` asking for Docker's connection upgrade; on `101` (or
/// a `200` from a service that streams instead) the connection carries
/// the session from then on.
pub fn hijack(
    socket: &Path,
    path: &str,
    body: Option<&serde_json::Value>,
) -> anyhow::Result<Hijacked> {
    let mut conn = connect(socket)?;
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        payload.len()
    );
    conn.write_all(head.as_bytes())
        .and_then(|()| conn.write_all(payload.as_bytes()))
        .context("sending a request to the service")?;
    let input = conn.try_clone().context("duplicating the connection")?;
    let mut output = BufReader::new(conn);
    let (status, headers) = read_head(&mut output)?;
    if status >= 400 {
        let length = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse::<u64>().ok());
        let body: Box<dyn Read> = match length {
            Some(n) => Box::new(output.take(n)),
            None => Box::new(output),
        };
        Response {
            status,
            headers,
            body,
        }
        .json()?;
        bail!("the service refused the request");
    }
    Ok(Hijacked { output, input })
}

fn line(r: &mut impl BufRead) -> anyhow::Result<String> {
    let mut buf = Vec::new();
    r.take(MAX_LINE as u64)
        .read_until(b'\n', &mut buf)
        .context("reading the service's answer")?;
    if !buf.ends_with(b"\n") {
        bail!("the service's answer ended early or has a line over {MAX_LINE} bytes");
    }
    Ok(String::from_utf8_lossy(&buf).trim_end().to_owned())
}

/// `Transfer-Encoding: chunked`, read as the chunks arrive (logs -f).
struct Chunked<R> {
    inner: R,
    left: u64,
    done: bool,
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.done || out.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let size = line(&mut self.inner).map_err(std::io::Error::other)?;
            let size = size.split(';').next().unwrap_or("").trim();
            self.left = u64::from_str_radix(size, 16)
                .map_err(|_| std::io::Error::other(format!("bad chunk size {size:?}")))?;
            if self.left == 0 {
                self.done = true;
                return Ok(0);
            }
        }
        let want = out
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut out[..want])?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.left -= n as u64;
        if self.left == 0 {
            // The CRLF after each chunk.
            line(&mut self.inner).map_err(std::io::Error::other)?;
        }
        Ok(n)
    }
}

/// Copies Docker's stdout/stderr frames from `r` to this process's
/// stdout and stderr as they come.
pub fn demux(mut r: impl Read) -> anyhow::Result<()> {
    let mut head = [0u8; 8];
    loop {
        match r.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e).context("reading the output stream"),
        }
        let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as u64;
        let mut payload = Vec::new();
        (&mut r)
            .take(len)
            .read_to_end(&mut payload)
            .context("reading the output stream")?;
        let res = if head[0] == 2 {
            let mut e = std::io::stderr().lock();
            e.write_all(&payload).and_then(|()| e.flush())
        } else {
            let mut o = std::io::stdout().lock();
            o.write_all(&payload).and_then(|()| o.flush())
        };
        if let Err(e) = res {
            // The reader went away (`| head`): the caller ends quietly,
            // as the local command does.
            return Err(e).context("writing the output");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_joined() {
        let raw = b"5\r\nhello\r\n1;x=y\r\n!\r\n0\r\n\r\n";
        let mut c = Chunked {
            inner: &raw[..],
            left: 0,
            done: false,
        };
        let mut s = String::new();
        c.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello!");
    }
}
