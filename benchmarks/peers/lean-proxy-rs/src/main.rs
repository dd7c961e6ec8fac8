//! A bare HTTP/1.1 pass-through on a compiled stack with one thread (tokio's current-thread
//! runtime, hyper): the Rust counterpart of the Python floor in `make bench-router`. Each
//! client connection gets its own kept-alive connection to one upstream URL; a POST body is
//! forwarded there and the upstream's status, content type and body come back; GET answers
//! 200 {}. Nothing else: no graph, no headers, no metrics.
//!
//! Given several paths it is the Ensemble's floor instead: the body goes to every path at
//! once, each on its own kept-alive connection (the first path's request written first), and
//! the answer is one V2 response with every answer's `outputs`, in path order (serde_json).
//!
//!     lean-proxy-rs LISTEN_ADDR UPSTREAM_HOST:PORT PATH [PATH...]
use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

type Upstream = Rc<RefCell<Option<SendRequest<Full<Bytes>>>>>;
type Failure = Response<Full<Bytes>>;
type Sent = std::pin::Pin<Box<dyn std::future::Future<Output = hyper::Result<Response<Incoming>>>>>;

fn answer(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
}

async fn connect(addr: &str) -> Result<SendRequest<Full<Bytes>>, Box<dyn std::error::Error>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::task::spawn_local(connection);
    Ok(sender)
}

/// Send `body` to `path` on `upstream` (connected first when it has no open connection); the
/// answer's future, or the 502 to give when no connection can be made.
async fn send(upstream: &Upstream, addr: &str, path: &str, body: Bytes) -> Result<Sent, Failure> {
    let needs_connection = upstream.borrow().as_ref().map_or(true, |s| s.is_closed());
    if needs_connection {
        match connect(addr).await {
            Ok(sender) => *upstream.borrow_mut() = Some(sender),
            Err(_) => return Err(answer(StatusCode::BAD_GATEWAY, "{\"error\":\"connect\"}")),
        }
    }
    let forwarded = Request::post(path)
        .header("host", addr)
        .header("content-type", "application/json")
        .body(Full::new(body))
        .expect("a request from valid parts");
    Ok(Box::pin(
        upstream
            .borrow_mut()
            .as_mut()
            .expect("connected")
            .send_request(forwarded),
    ))
}

/// The whole answer to a request sent on `upstream`: status, content type, body.
async fn receive(
    upstream: &Upstream,
    sent: Sent,
) -> Result<(StatusCode, Option<hyper::header::HeaderValue>, Bytes), Failure> {
    let Ok(reply) = sent.await else {
        *upstream.borrow_mut() = None;
        return Err(answer(StatusCode::BAD_GATEWAY, "{\"error\":\"upstream\"}"));
    };
    let (parts, reply_body) = reply.into_parts();
    let Ok(bytes) = reply_body.collect().await.map(|b| b.to_bytes()) else {
        *upstream.borrow_mut() = None;
        return Err(answer(StatusCode::BAD_GATEWAY, "{\"error\":\"upstream\"}"));
    };
    Ok((
        parts.status,
        parts.headers.get("content-type").cloned(),
        bytes,
    ))
}

async fn relay(
    request: Request<Incoming>,
    upstreams: Rc<Vec<Upstream>>,
    addr: Rc<str>,
    paths: Rc<Vec<String>>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    if request.method() != Method::POST {
        return Ok(answer(StatusCode::OK, "{}"));
    }
    let body = request.into_body().collect().await?.to_bytes();
    let mut sent = Vec::with_capacity(paths.len());
    for (upstream, path) in upstreams.iter().zip(paths.iter()) {
        match send(upstream, &addr, path, body.clone()).await {
            Ok(future) => sent.push(future),
            Err(failure) => return Ok(failure),
        }
    }
    let mut replies = Vec::with_capacity(sent.len());
    for (upstream, future) in upstreams.iter().zip(sent) {
        match receive(upstream, future).await {
            Ok(reply) => replies.push(reply),
            Err(failure) => return Ok(failure),
        }
    }
    if replies.len() == 1 {
        let (status, kind, bytes) = replies.pop().expect("one reply");
        let mut response = Response::new(Full::new(bytes));
        *response.status_mut() = status;
        if let Some(kind) = kind {
            response.headers_mut().insert("content-type", kind);
        }
        return Ok(response);
    }
    let mut outputs = Vec::new();
    for (status, _, bytes) in replies {
        let parsed: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
        match parsed
            .as_ref()
            .and_then(|v| v.get("outputs"))
            .and_then(|o| o.as_array())
        {
            Some(found) if status == StatusCode::OK => outputs.extend(found.iter().cloned()),
            _ => return Ok(answer(StatusCode::BAD_GATEWAY, "{\"error\":\"member\"}")),
        }
    }
    let merged = serde_json::json!({"model_name": "ensemble", "outputs": outputs});
    let mut response = Response::new(Full::new(Bytes::from(merged.to_string())));
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: lean-proxy-rs LISTEN_ADDR UPSTREAM_HOST:PORT PATH [PATH...]");
        std::process::exit(2);
    }
    let listener = TcpListener::bind(&args[1]).await.expect("listen");
    let addr: Rc<str> = args[2].as_str().into();
    let paths: Rc<Vec<String>> = Rc::new(args[3..].to_vec());
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let (addr, paths) = (addr.clone(), paths.clone());
                tokio::task::spawn_local(async move {
                    let upstreams: Rc<Vec<Upstream>> =
                        Rc::new(paths.iter().map(|_| Rc::new(RefCell::new(None))).collect());
                    let service = service_fn(move |request| {
                        relay(request, upstreams.clone(), addr.clone(), paths.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        })
        .await;
}
