//! The page's routes, all GET: the page itself (HTML, CSS and JS embedded in the binary), its
//! event stream, the floor as JSON, the device search and history, and the exports.
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::Stream;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::shared::Shared;
use crate::records::report::write_csv;

const INDEX_HTML: &str = include_str!("page/index.html");
const PAGE_CSS: &str = include_str!("page/page.css");
const PAGE_JS: &str = include_str!("page/page.js");

/// The cookie a browser keeps the token in, once it opened the page with `?token=`.
const TOKEN_COOKIE: &str = "ucrypto_station_token";

/// Most devices a search returns.
const SEARCH_LIMIT: usize = 200;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/page.css", get(|| async { text("text/css", PAGE_CSS) }))
        .route(
            "/page.js",
            get(|| async { text("text/javascript", PAGE_JS) }),
        )
        .route("/events", get(events))
        .route("/api/floor", get(floor))
        .route("/api/devices", get(search))
        .route("/api/devices/{device_id}", get(device))
        .route("/export.csv", get(export_csv))
        .route("/export.json", get(export_json))
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), guard))
        .with_state(shared)
}

fn text(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn index() -> Response {
    text("text/html; charset=utf-8", INDEX_HTML)
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// Lets a request through when the server has no token and the request names a loopback host
/// (a page of another site cannot reach it by a name of its own), or when it carries the token
/// (`Authorization: Bearer`, the page's cookie, or `?token=` once, which sets the cookie).
/// Every response is marked not to be cached and to load nothing from elsewhere.
async fn guard(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<TokenQuery>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let mut response = match &shared.token {
        None if loopback_host(headers) => next.run(request).await,
        None => refused(
            StatusCode::FORBIDDEN,
            "this page answers to localhost, 127.0.0.1 or [::1] only",
        ),
        Some(token) => {
            let presented = bearer(headers).or_else(|| cookie(headers));
            if query.token.as_deref().is_some_and(|t| same(t, token)) {
                // The token leaves the address bar: the browser keeps it in a cookie.
                let mut response = Redirect::to(request.uri().path()).into_response();
                let cookie = format!("{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
                if let Ok(value) = HeaderValue::from_str(&cookie) {
                    response.headers_mut().insert(header::SET_COOKIE, value);
                }
                response
            } else if presented.is_some_and(|t| same(&t, token)) {
                next.run(request).await
            } else {
                refused(
                    StatusCode::UNAUTHORIZED,
                    "this page needs the station's token: open /?token=TOKEN once, or send \
                     Authorization: Bearer TOKEN",
                )
            }
        }
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
             img-src 'self'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn refused(status: StatusCode, message: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain")], message).into_response()
}

fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    name == "localhost"
        || name == "[::1]"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(|t| t.trim().to_string())
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == TOKEN_COOKIE)
        .map(|(_, value)| value.to_string())
}

/// Compares in time independent of where the two differ (digests, so of their length too).
fn same(presented: &str, token: &str) -> bool {
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(token.as_bytes());
    a.ct_eq(&b).into()
}

async fn floor(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    Json(shared.board().snapshot())
}

/// The floor as it changes: one `floor` event with the whole state now, then one per change
/// (changes in between are folded into the next). A finished run's stream ends after its last
/// state, and every stream ends when the server stops.
async fn events(
    State(shared): State<Arc<Shared>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let changes = shared.changed.subscribe();
    let stream = futures_util::stream::unfold(
        (shared, changes, true, false),
        |(shared, mut changes, first, ended)| async move {
            if ended {
                return None;
            }
            if first {
                changes.borrow_and_update();
            } else if changes.changed().await.is_err() || shared.stop.load(Ordering::SeqCst) {
                // The server is stopping: the stream ends so that it can.
                return None;
            }
            let (snapshot, finished) = {
                let board = shared.board();
                (board.snapshot(), board.finished())
            };
            let event = Event::default().event("floor").data(snapshot.to_string());
            Some((Ok(event), (shared, changes, false, finished)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// Runs a records read off the server's thread (the stores block).
async fn read<T: Send + 'static>(
    shared: &Arc<Shared>,
    work: impl FnOnce(&Shared) -> crate::error::Result<T> + Send + 'static,
) -> Result<T, Response> {
    let shared = Arc::clone(shared);
    match tokio::task::spawn_blocking(move || work(&shared)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err((
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the records cannot be read: {e}"),
        )
            .into_response()),
        Err(_) => Err(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
    }
}

async fn search(State(shared): State<Arc<Shared>>, Query(query): Query<SearchQuery>) -> Response {
    match read(&shared, move |s| {
        s.records.search_devices(&query.q, SEARCH_LIMIT)
    })
    .await
    {
        Ok(devices) => Json(devices).into_response(),
        Err(response) => response,
    }
}

async fn device(State(shared): State<Arc<Shared>>, Path(device_id): Path<String>) -> Response {
    let wanted = device_id.trim().to_ascii_lowercase();
    match read(&shared, move |s| s.records.device(&wanted)).await {
        Ok(Some(history)) => Json(history).into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no such device in the records").into_response(),
        Err(response) => response,
    }
}

fn attachment(content_type: &'static str, disposition: &'static str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}

/// What `ucrypto records export --format csv` writes.
async fn export_csv(State(shared): State<Arc<Shared>>) -> Response {
    match read(&shared, |s| s.records.devices()).await {
        Ok(devices) => {
            let mut bytes = Vec::new();
            match write_csv(&devices, &mut bytes) {
                Ok(()) => attachment(
                    "text/csv; charset=utf-8",
                    "attachment; filename=\"devices.csv\"",
                    bytes,
                ),
                Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            }
        }
        Err(response) => response,
    }
}

/// What `ucrypto records export --format json` writes.
async fn export_json(State(shared): State<Arc<Shared>>) -> Response {
    match read(&shared, |s| s.records.devices()).await {
        Ok(devices) => {
            let mut bytes = serde_json::to_vec(&devices).expect("devices serialize");
            bytes.push(b'\n');
            attachment(
                "application/json",
                "attachment; filename=\"devices.json\"",
                bytes,
            )
        }
        Err(response) => response,
    }
}
