//! The line's page (`ucrypto station serve`, `ucrypto station run --serve`): an HTTP server on
//! its own thread (axum on a one-thread tokio runtime) that shows the stations, their devices'
//! steps, failures and totals per hour, live through server-sent events, with a search over the
//! devices recorded and the exports of `records export`. It only reads: every route is a GET.
//! Bound to loopback by default; any other address needs a token.
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::records::{self, now_ms};
use crate::{Observer, Status};

pub mod board;
mod routes;
mod shared;

pub use board::Board;
use shared::Shared;

/// How often the records are read for news from the line.
const POLL: Duration = Duration::from_millis(500);

/// Where the token comes from: never the command line itself (it would be in `ps` and shell
/// history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Env(String),
    File(PathBuf),
}

impl TokenSource {
    /// `env:VAR` or `file:PATH`.
    pub fn parse(text: &str) -> Result<Self> {
        match text.split_once(':') {
            Some(("env", var)) if !var.is_empty() => Ok(TokenSource::Env(var.to_string())),
            Some(("file", path)) if !path.is_empty() => Ok(TokenSource::File(path.into())),
            _ => Err(Error::input(
                "--token takes env:VAR or file:PATH (the token itself never goes on the command line)",
            )),
        }
    }

    /// Reads the token; it must not be empty.
    fn read(&self) -> Result<String> {
        let (token, from) = match self {
            TokenSource::Env(var) => (
                std::env::var(var).map_err(|_| {
                    Error::input(format!("--token env:{var}: the variable {var} is not set"))
                })?,
                format!("env:{var}"),
            ),
            TokenSource::File(path) => (
                std::fs::read_to_string(path)
                    .map_err(|e| Error::input(format!("--token file:{}: {e}", path.display())))?,
                format!("file:{}", path.display()),
            ),
        };
        let token = token.trim().to_string();
        if token.len() < 16 {
            return Err(Error::input(format!(
                "--token {from}: the token is shorter than 16 characters; use a long random one \
                 (e.g. `openssl rand -hex 32`)"
            )));
        }
        Ok(token)
    }
}

/// Where and how the page is served.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub token: Option<TokenSource>,
}

/// A running page server; dropping it stops it.
pub struct Server {
    shared: Arc<Shared>,
    address: SocketAddr,
    threads: Vec<JoinHandle<()>>,
}

impl Server {
    /// Checks the options, binds the address and starts serving `board`, with the records at
    /// `records_url` for the line's other stations, the totals, the search and the exports.
    pub fn start(options: &ServeOptions, records_url: &str, board: Board) -> Result<Server> {
        let token = match &options.token {
            Some(source) => Some(source.read()?),
            None if !options.listen.ip().is_loopback() => {
                return Err(Error::input(format!(
                    "{} is reachable from other machines: pass --token env:VAR or --token \
                     file:PATH, or listen on 127.0.0.1",
                    options.listen
                )))
            }
            None => None,
        };
        let records = records::open(records_url)?;
        let listener = TcpListener::bind(options.listen).map_err(|e| {
            Error::input(format!(
                "cannot listen on {}: {e}; pick another address or port",
                options.listen
            ))
        })?;
        let address = listener
            .local_addr()
            .map_err(|e| Error::input(format!("cannot listen on {}: {e}", options.listen)))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::input(format!("cannot listen on {address}: {e}")))?;
        let (changed, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            board: Mutex::new(board),
            changed,
            records,
            token,
            stop: AtomicBool::new(false),
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| Error::input(format!("cannot start the page's server: {e}")))?;
        let spawn = |name: &str, work: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.to_string())
                .spawn(work)
                .map_err(|e| Error::input(format!("cannot start the page's server: {e}")))
        };
        let served = Arc::clone(&shared);
        let server = spawn(
            "station-page",
            Box::new(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let stop = Arc::clone(&served);
                    let app = routes::router(served);
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            while !stop.stop.load(Ordering::SeqCst) {
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        })
                        .await;
                });
            }),
        )?;
        let polled = Arc::clone(&shared);
        let poller = spawn(
            "station-page-records",
            Box::new(move || {
                while !polled.stop.load(Ordering::SeqCst) {
                    refresh(&polled);
                    std::thread::sleep(POLL);
                }
            }),
        )?;
        Ok(Server {
            shared,
            address,
            threads: vec![server, poller],
        })
    }

    /// The address the page is served on (with the port chosen, when 0 was asked for).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// An observer that shows a running station's workers on the page, then passes each
    /// status on to `inner` (the terminal's display).
    pub fn observer<'a>(&'a self, inner: &'a mut dyn Observer) -> impl Observer + 'a {
        LiveObserver {
            shared: &self.shared,
            inner,
        }
    }

    /// The running station's run is over: every open page is sent the last state (within
    /// `grace`) before the server stops.
    pub fn finish(self, grace: Duration) {
        self.shared.board().finish();
        self.shared.touch();
        let deadline = Instant::now() + grace;
        // Each page's event stream ends after sending a finished board.
        while self.shared.changed.receiver_count() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the open event streams, which end on seeing the stop.
        self.shared.touch();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

struct LiveObserver<'a> {
    shared: &'a Shared,
    inner: &'a mut dyn Observer,
}

impl Observer for LiveObserver<'_> {
    fn update(&mut self, status: &Status) -> Result<()> {
        self.shared.board().apply(status);
        self.shared.touch();
        self.inner.update(status)
    }
}

/// Reads what the line recorded since the last look: the stations and their latest runs, and
/// the new events. The events are read by id, so each poll reads only what is new.
fn refresh(shared: &Shared) {
    let since = now_ms() - board::HOURS_SHOWN * 3_600_000;
    let read = || -> Result<(Vec<_>, Vec<_>)> {
        let stations = shared.records.stations()?;
        let after = (shared.board().last_event - board::EVENT_OVERLAP).max(0);
        let mut events = Vec::new();
        loop {
            let last = events
                .last()
                .map_or(after, |e: &records::floor::EventRow| e.event_id);
            let batch = shared.records.events_after(last, since, 5000)?;
            let more = batch.len() == 5000;
            events.extend(batch);
            if !more {
                break;
            }
        }
        Ok((stations, events))
    };
    let result = read();
    let mut board = shared.board();
    match result {
        Ok((stations, events)) => {
            let mut changed = board.records_error.is_some()
                || serde_json::to_value(&stations).ok() != board.stations_json();
            board.records_error = None;
            board.set_stations(stations);
            for event in &events {
                changed |= board.fold(event);
            }
            board.prune();
            drop(board);
            if changed {
                shared.touch();
            }
        }
        Err(e) => {
            let reason = e.to_string();
            if board.records_error.as_deref() != Some(reason.as_str()) {
                board.records_error = Some(reason);
                drop(board);
                shared.touch();
            }
        }
    }
}
