//! The server's transport over any byte pipe (stdin/stdout in `serve`). It
//! answers bad input itself (parse errors, invalid requests, oversized
//! lines) and hands rmcp only well-formed messages, so one bad line never
//! ends the connection.

use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::model::ClientRequest;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::wire::classify::{self, Inbound, error_response};
use crate::wire::lines::{Line, LineReader};
use crate::wire::write::write_line;

/// Methods rmcp knows: if one arrives as a "custom" request, its params were wrong.
const KNOWN_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "server/discover",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
];

/// Newline-delimited JSON-RPC, server side.
pub struct ServerTransport<R, W> {
    reader: LineReader<R>,
    writer: Arc<Mutex<W>>,
    max_message_bytes: usize,
    /// Until the first request, rmcp only expects requests: anything else would end the session.
    seen_request: bool,
    /// Cancelled when the client hangs up, so calls waiting for approval stop at once.
    closed: CancellationToken,
}

impl<R, W> ServerTransport<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    /// A transport reading `read` and writing `write`, refusing lines over `max_message_bytes`.
    /// `closed` is cancelled when the client hangs up.
    pub fn new(read: R, write: W, max_message_bytes: usize, closed: CancellationToken) -> Self {
        Self {
            reader: LineReader::new(read, max_message_bytes),
            writer: Arc::new(Mutex::new(write)),
            max_message_bytes,
            seen_request: false,
            closed,
        }
    }

    fn answer(&self, reply: Value) -> impl Future<Output = bool> + Send + 'static {
        let writer = self.writer.clone();
        async move { write_line(&writer, &reply).await.is_ok() }
    }
}

impl<R, W> Transport<RoleServer> for ServerTransport<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let writer = self.writer.clone();
        async move { write_line(&writer, &item).await }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            match self.reader.next().await {
                Line::Whole(line) => {
                    match classify::classify::<RxJsonRpcMessage<RoleServer>>(&line) {
                        Inbound::Message(msg) => {
                            if let RxJsonRpcMessage::<RoleServer>::Request(req) = &msg {
                                if let ClientRequest::CustomRequest(c) = &req.request
                                    && KNOWN_METHODS.contains(&c.method.as_str())
                                {
                                    let id = serde_json::to_value(&req.id).unwrap_or(Value::Null);
                                    let msg = format!("Invalid params for {}", c.method);
                                    if !self
                                        .answer(error_response(id, classify::INVALID_PARAMS, &msg))
                                        .await
                                    {
                                        return None;
                                    }
                                    continue;
                                }
                                self.seen_request = true;
                            } else if !self.seen_request {
                                tracing::debug!(
                                    "skipping a non-request message before the first request"
                                );
                                continue;
                            }
                            return Some(msg);
                        }
                        Inbound::Answer(reply) => {
                            tracing::warn!(code = %reply["error"]["code"], "answered a malformed message from the client");
                            if !self.answer(reply).await {
                                return None;
                            }
                        }
                        Inbound::Skip(why) => {
                            tracing::debug!(why, "skipped a message from the client")
                        }
                    }
                }
                Line::Oversized { .. } => {
                    tracing::warn!(
                        max_message_bytes = self.max_message_bytes,
                        "skipped an oversized message from the client"
                    );
                    let msg = format!(
                        "Invalid Request: message larger than max_message_bytes ({} bytes); it was skipped",
                        self.max_message_bytes
                    );
                    if !self
                        .answer(error_response(Value::Null, classify::INVALID_REQUEST, &msg))
                        .await
                    {
                        return None;
                    }
                }
                Line::Eof => {
                    self.closed.cancel();
                    return None;
                }
                Line::Failed(e) => {
                    tracing::warn!(error = %e, "reading from the client failed");
                    self.closed.cancel();
                    return None;
                }
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.writer.lock().await.flush().await
    }
}
