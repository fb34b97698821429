//! The local control channel of a running service: a Unix socket `control.sock` in the org
//! folder (mode 0600, and only the service's own user or root are answered) on Linux, the named
//! pipe `\\.\pipe\eas-connector-<org>` on Windows.
//!
//! The protocol is one request per line, one JSON reply per line. A request is JSON
//! (`{"cmd":"sync","kind":"full","wait":true}`, `{"cmd":"status"}`, `{"cmd":"reload"}`) or the
//! same in words for people with `socat` (`sync full`, `sync quick nowait`, `status`,
//! `reload`). This module only carries requests and replies; it must not run syncs or read
//! configuration itself, and it must never listen on anything but this local endpoint.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::status::{Status, SyncRecord};
use crate::config::ConfigLocation;
use crate::engine::SyncKind;

/// The longest request line accepted.
pub const MAX_LINE: usize = 4096;
/// File name of the socket in the org folder (Unix).
pub const SOCKET_FILE_NAME: &str = "control.sock";

/// A request to the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "lowercase")]
pub enum Request {
    /// Run a sync; with `wait`, the reply comes when it is done.
    Sync {
        kind: SyncKind,
        #[serde(default = "yes")]
        wait: bool,
    },
    /// The service's status, as in the status file but current.
    Status,
    /// Re-read the configuration and the passwords.
    Reload,
}

fn yes() -> bool {
    true
}

/// A reply from the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// The sync finished.
    Synced {
        sync: SyncRecord,
    },
    /// The sync ran and failed.
    SyncFailed {
        kind: SyncKind,
        error: String,
    },
    /// The sync will run (after the one in progress, if any).
    Queued {
        kind: SyncKind,
    },
    Status {
        status: Box<Status>,
    },
    Reloaded {
        detail: String,
    },
    /// The request was not understood or could not be done.
    Error {
        error: String,
    },
}

/// Parse one request line (JSON, or words).
pub fn parse_request(line: &str) -> Result<Request, String> {
    let line = line.trim();
    if line.starts_with('{') {
        return serde_json::from_str(line).map_err(|e| format!("bad request: {e}"));
    }
    let words: Vec<String> = line
        .split_whitespace()
        .map(|w| w.to_ascii_lowercase())
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let kind = |w: &str| match w {
        "quick" => Ok(SyncKind::Quick),
        "full" => Ok(SyncKind::Full),
        other => Err(format!("'{other}' is not a sync kind; use quick or full")),
    };
    match words.as_slice() {
        ["sync", k] => Ok(Request::Sync {
            kind: kind(k)?,
            wait: true,
        }),
        ["sync", k, "nowait" | "no-wait"] => Ok(Request::Sync {
            kind: kind(k)?,
            wait: false,
        }),
        ["status"] => Ok(Request::Status),
        ["reload"] => Ok(Request::Reload),
        [] => Err("empty request".into()),
        _ => Err(format!(
            "unknown request '{line}'; use: sync quick|full [nowait], status, reload"
        )),
    }
}

/// One reply as the line sent.
pub fn reply_line(r: &Reply) -> String {
    let mut s = serde_json::to_string(r).unwrap_or_else(|e| {
        format!("{{\"reply\":\"error\",\"error\":\"reply not serializable: {e}\"}}")
    });
    s.push('\n');
    s
}

/// Why the control channel failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("the service for organization '{org}' is not running (no answer on {endpoint}); start it with `eas-connector service start --org {org}` or run `eas-connector run --org {org}`")]
    NotRunning { org: String, endpoint: String },
    #[error("another eas-connector service for organization '{org}' is already running (it answers on {endpoint})")]
    AlreadyRunning { org: String, endpoint: String },
    #[error("control channel {endpoint}: {detail}")]
    Io { endpoint: String, detail: String },
    #[error("control channel {endpoint}: the service's reply was not understood: {detail}")]
    BadReply { endpoint: String, detail: String },
    #[error("control channel {endpoint}: no reply within {secs} s")]
    Timeout { endpoint: String, secs: u64 },
}

/// The endpoint's name for `loc`: a socket path on Unix, a pipe name on Windows.
pub fn endpoint(loc: &ConfigLocation) -> PathBuf {
    #[cfg(windows)]
    {
        PathBuf::from(format!(r"\\.\pipe\eas-connector-{}", loc.org()))
    }
    #[cfg(not(windows))]
    {
        loc.org_dir().join(SOCKET_FILE_NAME)
    }
}

#[cfg(unix)]
type ClientStream = std::os::unix::net::UnixStream;
#[cfg(windows)]
type ClientStream = std::fs::File;

fn connect(loc: &ConfigLocation) -> Result<ClientStream, ControlError> {
    let ep = endpoint(loc);
    let not_running = || ControlError::NotRunning {
        org: loc.org().to_string(),
        endpoint: ep.display().to_string(),
    };
    #[cfg(unix)]
    let r = std::os::unix::net::UnixStream::connect(&ep);
    #[cfg(windows)]
    let r = std::fs::OpenOptions::new().read(true).write(true).open(&ep);
    r.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => not_running(),
        _ => ControlError::Io {
            endpoint: ep.display().to_string(),
            detail: e.to_string(),
        },
    })
}

/// Whether a service answers on `loc`'s endpoint.
pub fn is_running(loc: &ConfigLocation) -> bool {
    connect(loc).is_ok()
}

/// Send one request and wait up to `timeout` for the reply (blocking; for the CLI).
pub fn request(
    loc: &ConfigLocation,
    req: &Request,
    timeout: Duration,
) -> Result<Reply, ControlError> {
    let ep = endpoint(loc).display().to_string();
    let stream = connect(loc)?;
    let io = |e: std::io::Error| ControlError::Io {
        endpoint: ep.clone(),
        detail: e.to_string(),
    };
    #[cfg(unix)]
    {
        stream.set_read_timeout(Some(timeout)).map_err(io)?;
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .map_err(io)?;
    }
    let mut line = serde_json::to_string(req).map_err(|e| ControlError::BadReply {
        endpoint: ep.clone(),
        detail: e.to_string(),
    })?;
    line.push('\n');
    let mut w = &stream;
    w.write_all(line.as_bytes()).map_err(io)?;
    w.flush().map_err(io)?;
    let mut reader = BufReader::new(&stream);
    let mut answer = String::new();
    match reader.read_line(&mut answer) {
        Ok(0) => Err(ControlError::Io {
            endpoint: ep.clone(),
            detail: "the service closed the connection without a reply (it may be stopping)".into(),
        }),
        Ok(_) => serde_json::from_str(answer.trim()).map_err(|e| ControlError::BadReply {
            endpoint: ep.clone(),
            detail: e.to_string(),
        }),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Err(ControlError::Timeout {
                endpoint: ep.clone(),
                secs: timeout.as_secs(),
            })
        }
        Err(e) => Err(io(e)),
    }
}

/// A request from a client, with the way back.
#[derive(Debug)]
pub struct Incoming {
    pub request: Request,
    pub reply: tokio::sync::oneshot::Sender<Reply>,
}

/// Serve one connection: read request lines, hand each to `tx`, write back the replies.
async fn serve_connection<S>(stream: S, tx: tokio::sync::mpsc::Sender<Incoming>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let (r, mut w) = tokio::io::split(stream);
    let mut lines = tokio::io::BufReader::new(r.take(64 * MAX_LINE as u64)).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim().is_empty() {
            continue;
        }
        let reply = if line.len() > MAX_LINE {
            Reply::Error {
                error: format!("request longer than {MAX_LINE} bytes"),
            }
        } else {
            match parse_request(&line) {
                Err(error) => Reply::Error { error },
                Ok(request) => {
                    let (otx, orx) = tokio::sync::oneshot::channel();
                    if tx
                        .send(Incoming {
                            request,
                            reply: otx,
                        })
                        .await
                        .is_err()
                    {
                        return;
                    }
                    match orx.await {
                        Ok(r) => r,
                        Err(_) => Reply::Error {
                            error: "the service is stopping".into(),
                        },
                    }
                }
            }
        };
        if w.write_all(reply_line(&reply).as_bytes()).await.is_err() {
            return;
        }
        let _ = w.flush().await;
    }
}

/// The listening end, owned by the running service. Dropping it removes the socket file.
pub struct Server {
    endpoint: PathBuf,
    #[cfg(unix)]
    listener: tokio::net::UnixListener,
    #[cfg(windows)]
    next: tokio::net::windows::named_pipe::NamedPipeServer,
}

impl Server {
    /// Listen on `loc`'s endpoint; fails when another service already answers there.
    /// Must be called inside a tokio runtime.
    pub fn bind(loc: &ConfigLocation) -> Result<Server, ControlError> {
        let ep = endpoint(loc);
        let io = |e: std::io::Error| ControlError::Io {
            endpoint: ep.display().to_string(),
            detail: e.to_string(),
        };
        if is_running(loc) {
            return Err(ControlError::AlreadyRunning {
                org: loc.org().to_string(),
                endpoint: ep.display().to_string(),
            });
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::create_dir_all(loc.org_dir()).map_err(io)?;
            // A socket left by a killed service: nobody answers on it (checked above).
            match std::fs::remove_file(&ep) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(e)),
            }
            // Bound under a temporary name, restricted, then moved into place, so the
            // socket is never reachable under its name with wider permissions.
            let tmp = loc
                .org_dir()
                .join(format!(".{SOCKET_FILE_NAME}.{}", std::process::id()));
            let _ = std::fs::remove_file(&tmp);
            let listener = tokio::net::UnixListener::bind(&tmp).map_err(|e| {
                io(std::io::Error::new(
                    e.kind(),
                    format!("{e} (a socket path may be at most 107 bytes)"),
                ))
            })?;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
                .and_then(|()| std::fs::rename(&tmp, &ep))
                .inspect_err(|_| {
                    let _ = std::fs::remove_file(&tmp);
                })
                .map_err(io)?;
            Ok(Server {
                endpoint: ep,
                listener,
            })
        }
        #[cfg(windows)]
        {
            use tokio::net::windows::named_pipe::ServerOptions;
            // The pipe's default DACL gives full control to LocalSystem, Administrators and
            // the creating account only; everyone else may at most read, which is not
            // enough to send a request. Remote clients are refused.
            let next = ServerOptions::new()
                .first_pipe_instance(true)
                .reject_remote_clients(true)
                .create(&ep)
                .map_err(|e| {
                    if e.kind() == std::io::ErrorKind::PermissionDenied {
                        ControlError::AlreadyRunning {
                            org: loc.org().to_string(),
                            endpoint: ep.display().to_string(),
                        }
                    } else {
                        io(e)
                    }
                })?;
            Ok(Server { endpoint: ep, next })
        }
    }

    pub fn endpoint(&self) -> &std::path::Path {
        &self.endpoint
    }

    /// Accept connections until the task is dropped, handing requests to `tx`.
    #[allow(unused_mut)] // the Windows pipe server replaces its instance
    pub async fn serve(mut self, tx: tokio::sync::mpsc::Sender<Incoming>) {
        loop {
            #[cfg(unix)]
            {
                let Ok((stream, _)) = self.listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                // Only the service's own user (or root) may control it.
                let me = rustix::process::geteuid().as_raw();
                let allowed = stream
                    .peer_cred()
                    .map(|c| c.uid() == me || c.uid() == 0)
                    .unwrap_or(false);
                if !allowed {
                    tracing::warn!("control channel: refused a connection from another user");
                    continue;
                }
                tokio::spawn(serve_connection(stream, tx.clone()));
            }
            #[cfg(windows)]
            {
                use tokio::net::windows::named_pipe::ServerOptions;
                if self.next.connect().await.is_err() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                let Ok(fresh) = ServerOptions::new()
                    .reject_remote_clients(true)
                    .create(&self.endpoint)
                else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let connected = std::mem::replace(&mut self.next, fresh);
                tokio::spawn(serve_connection(connected, tx.clone()));
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            let _ = std::fs::remove_file(&self.endpoint);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_from_json_and_words() {
        assert_eq!(
            parse_request(r#"{"cmd":"sync","kind":"full"}"#),
            Ok(Request::Sync {
                kind: SyncKind::Full,
                wait: true
            })
        );
        assert_eq!(
            parse_request(r#"{"cmd":"sync","kind":"quick","wait":false}"#),
            Ok(Request::Sync {
                kind: SyncKind::Quick,
                wait: false
            })
        );
        assert_eq!(parse_request(r#"{"cmd":"status"}"#), Ok(Request::Status));
        assert_eq!(parse_request("  RELOAD \r"), Ok(Request::Reload));
        assert_eq!(
            parse_request("sync quick nowait"),
            Ok(Request::Sync {
                kind: SyncKind::Quick,
                wait: false
            })
        );
        assert!(parse_request("sync medium")
            .unwrap_err()
            .contains("quick or full"));
        assert!(parse_request("").is_err());
        assert!(parse_request("rm -rf /").unwrap_err().contains("unknown"));
        assert!(parse_request(r#"{"cmd":"sync"}"#).is_err());
        assert!(parse_request(r#"{"cmd":"shutdown"}"#).is_err());
        // What the client sends parses back.
        for r in [
            Request::Status,
            Request::Reload,
            Request::Sync {
                kind: SyncKind::Full,
                wait: false,
            },
        ] {
            assert_eq!(parse_request(&serde_json::to_string(&r).unwrap()), Ok(r));
        }
    }

    #[test]
    fn replies_are_one_line_and_round_trip() {
        let replies = [
            Reply::Queued {
                kind: SyncKind::Quick,
            },
            Reply::SyncFailed {
                kind: SyncKind::Full,
                error: "line one\nline two".into(),
            },
            Reply::Status {
                status: Box::default(),
            },
        ];
        for r in replies {
            let line = reply_line(&r);
            assert_eq!(line.matches('\n').count(), 1, "{line}");
            assert_eq!(serde_json::from_str::<Reply>(line.trim()).unwrap(), r);
        }
    }

    #[cfg(unix)]
    #[test]
    fn socket_is_private_and_answers() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let loc = ConfigLocation::new(Some(dir.path()), "contoso").unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(async { Server::bind(&loc) }).unwrap();
        let ep = endpoint(&loc);
        let mode = std::fs::metadata(&ep).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A second service for the same org is refused.
        assert!(matches!(
            rt.block_on(async { Server::bind(&loc) }),
            Err(ControlError::AlreadyRunning { .. })
        ));
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Incoming>(4);
        rt.spawn(server.serve(tx));
        rt.spawn(async move {
            while let Some(inc) = rx.recv().await {
                let r = match inc.request {
                    Request::Sync { kind, .. } => Reply::Queued { kind },
                    _ => Reply::Reloaded {
                        detail: "ok".into(),
                    },
                };
                let _ = inc.reply.send(r);
            }
        });
        let r = request(
            &loc,
            &Request::Sync {
                kind: SyncKind::Full,
                wait: false,
            },
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(
            r,
            Reply::Queued {
                kind: SyncKind::Full
            }
        );
        // Words work too, and garbage gets an error reply, on one connection.
        let mut s = std::os::unix::net::UnixStream::connect(&ep).unwrap();
        s.write_all(b"sync full nowait\nfrobnicate\n").unwrap();
        let mut lines = BufReader::new(s).lines();
        assert!(lines.next().unwrap().unwrap().contains("queued"));
        assert!(lines.next().unwrap().unwrap().contains("unknown request"));
        drop(rt);
    }
}
