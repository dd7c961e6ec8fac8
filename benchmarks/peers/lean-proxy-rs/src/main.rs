//! A bare HTTP/1.1 pass-through on a compiled stack with one thread (tokio's current-thread
//! runtime, hyper): the Rust counterpart of the Python floor in `make bench-router`. Each
//! client connection gets its own kept-alive connection to one upstream URL; a POST body is
//! forwarded there and the upstream's status, content type and body come back; GET answers
//! 200 {}. Nothing else: no graph, no headers, no metrics.
//!
//!     lean-proxy-rs LISTEN_ADDR UPSTREAM_HOST:PORT PATH
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

async fn relay(
    request: Request<Incoming>,
    upstream: Upstream,
    addr: Rc<str>,
    path: Rc<str>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    if request.method() != Method::POST {
        return Ok(answer(StatusCode::OK, "{}"));
    }
    let body = request.into_body().collect().await?.to_bytes();
    let needs_connection = upstream.borrow().as_ref().map_or(true, |s| s.is_closed());
    if needs_connection {
        match connect(&addr).await {
            Ok(sender) => *upstream.borrow_mut() = Some(sender),
            Err(_) => return Ok(answer(StatusCode::BAD_GATEWAY, "{\"error\":\"connect\"}")),
        }
    }
    let forwarded = Request::post(&*path)
        .header("host", &*addr)
        .header("content-type", "application/json")
        .body(Full::new(body))
        .expect("a request from valid parts");
    let sent = upstream.borrow_mut().as_mut().expect("connected").send_request(forwarded);
    let Ok(reply) = sent.await else {
        *upstream.borrow_mut() = None;
        return Ok(answer(StatusCode::BAD_GATEWAY, "{\"error\":\"upstream\"}"));
    };
    let (parts, reply_body) = reply.into_parts();
    let bytes = reply_body.collect().await?.to_bytes();
    let mut response = Response::new(Full::new(bytes));
    *response.status_mut() = parts.status;
    if let Some(kind) = parts.headers.get("content-type") {
        response.headers_mut().insert("content-type", kind.clone());
    }
    Ok(response)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: lean-proxy-rs LISTEN_ADDR UPSTREAM_HOST:PORT PATH");
        std::process::exit(2);
    }
    let listener = TcpListener::bind(&args[1]).await.expect("listen");
    let addr: Rc<str> = args[2].as_str().into();
    let path: Rc<str> = args[3].as_str().into();
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let _ = stream.set_nodelay(true);
                let (addr, path) = (addr.clone(), path.clone());
                tokio::task::spawn_local(async move {
                    let upstream: Upstream = Rc::new(RefCell::new(None));
                    let service = service_fn(move |request| {
                        relay(request, upstream.clone(), addr.clone(), path.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        })
        .await;
}
