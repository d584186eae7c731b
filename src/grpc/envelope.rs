//! The gRPC envelope of a Keyward request, checked before tonic sees it. tonic answers a body
//! that ends inside its frame ("Unexpected EOF decoding stream"), an empty body ("Missing
//! request message") or a bad compressed-flag with `INTERNAL`: the caller's garbage would look
//! like a server fault. Every Keyward RPC takes one request message (all are unary but
//! WatchSessionEvents, which streams only its answer), so the body is one frame — flag 0 (Keyward
//! accepts no compressed requests), a 4-byte length, that many bytes — and is read whole (it is
//! bounded by `max_request_bytes` anyway). Anything else is `INVALID_ARGUMENT` /
//! `MALFORMED_MESSAGE` (see `codec.rs`), an oversized frame `OUT_OF_RANGE` as tonic would say.
//! Other services on the port (health, reflection — which streams) pass through untouched.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use tonic::Status;
use tower::{Layer, Service};

use super::codec::malformed_message;

/// gRPC frame header: compressed-flag (1 byte) + message length (4 bytes, big-endian).
const FRAME_HEADER_BYTES: usize = 5;
/// The path prefix of Keyward's own services (one request message each).
const KEYWARD_SERVICES: &str = "/keyward.v1.";

/// Checks the envelope of Keyward's requests; see the module doc.
#[derive(Debug, Clone, Copy)]
pub struct UnaryEnvelopeLayer {
    max_message_bytes: usize,
}

impl UnaryEnvelopeLayer {
    pub fn new(max_message_bytes: usize) -> Self {
        Self { max_message_bytes }
    }
}

impl<S> Layer<S> for UnaryEnvelopeLayer {
    type Service = UnaryEnvelope<S>;

    fn layer(&self, inner: S) -> Self::Service {
        UnaryEnvelope { inner, max_message_bytes: self.max_message_bytes }
    }
}

#[derive(Debug, Clone)]
pub struct UnaryEnvelope<S> {
    inner: S,
    max_message_bytes: usize,
}

impl<S> Service<http::Request<Body>> for UnaryEnvelope<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        if !request.uri().path().starts_with(KEYWARD_SERVICES) {
            return Box::pin(self.inner.call(request));
        }
        // The clone is the service that was not polled ready; swap so `self` keeps a fresh one
        // and the ready one handles this request (tower's documented pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let max_message_bytes = self.max_message_bytes;
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            match read_frame(body, max_message_bytes).await {
                Ok(frame) => inner.call(http::Request::from_parts(parts, Body::from(frame))).await,
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}

/// Reads the body, at most one frame of at most `max_message_bytes`, and checks its header.
async fn read_frame(mut body: Body, max_message_bytes: usize) -> Result<Bytes, Status> {
    let limit = max_message_bytes + FRAME_HEADER_BYTES;
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Status::cancelled("the request body was not received"))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(too_large(max_message_bytes));
            }
            buf.extend_from_slice(&data);
        }
    }
    let Some((&flag, rest)) = buf.split_first() else { return Err(malformed_message()) };
    let Some(length) = rest.get(..4).and_then(|b| <[u8; 4]>::try_from(b).ok()).map(u32::from_be_bytes) else {
        return Err(malformed_message());
    };
    let length = usize::try_from(length).unwrap_or(usize::MAX);
    if length > max_message_bytes {
        return Err(too_large(max_message_bytes));
    }
    if flag != 0 || length != buf.len() - FRAME_HEADER_BYTES {
        return Err(malformed_message());
    }
    Ok(buf.freeze())
}

fn too_large(max_message_bytes: usize) -> Status {
    use tonic_types::{ErrorDetails, StatusExt};
    Status::with_error_details(
        tonic::Code::OutOfRange,
        format!("the request message is larger than the limit of {max_message_bytes} bytes"),
        ErrorDetails::with_error_info(
            crate::pb::ErrorReason::MessageTooLarge.as_str_name(),
            super::ERROR_DOMAIN,
            std::collections::HashMap::new(),
        ),
    )
}
