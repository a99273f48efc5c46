//! The client-side transport to an upstream's stdio. The same line limit as
//! for clients guards what an upstream sends: an oversized line is skipped
//! without being held, and when it was a response, the waiting call gets an
//! error at once instead of hanging until its timeout.

use std::sync::{Arc, LazyLock};

use regex::bytes::Regex;
use rmcp::RoleClient;
use rmcp::model::{ErrorCode, ErrorData, NumberOrString};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;

use crate::wire::classify::{self, Inbound};
use crate::wire::lines::{Line, LineReader};
use crate::wire::write::write_line;

/// Newline-delimited JSON-RPC to one upstream.
pub struct UpstreamTransport<R, W> {
    name: String,
    reader: LineReader<R>,
    writer: Arc<Mutex<W>>,
    max_message_bytes: usize,
}

impl<R: AsyncRead + Unpin + Send, W: AsyncWrite + Unpin + Send + 'static> UpstreamTransport<R, W> {
    /// A transport for upstream `name` over its stdout (`read`) and stdin (`write`).
    pub fn new(name: &str, read: R, write: W, max_message_bytes: usize) -> Self {
        Self {
            name: name.to_string(),
            reader: LineReader::new(read, max_message_bytes),
            writer: Arc::new(Mutex::new(write)),
            max_message_bytes,
        }
    }
}

static RESPONSE_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#""id"\s*:\s*(-?\d{1,18}|"[^"\\]{0,200}")"#).expect("valid id pattern")
});

/// The id of a response whose start is `prefix`, if it is visibly a response.
fn response_id(prefix: &[u8]) -> Option<NumberOrString> {
    // A request or notification from the upstream: nobody here waits on it.
    if String::from_utf8_lossy(prefix).contains("\"method\"") {
        return None;
    }
    let caps = RESPONSE_ID.captures(prefix)?;
    let raw = std::str::from_utf8(caps.get(1)?.as_bytes()).ok()?;
    match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(s) => Some(NumberOrString::String(s.into())),
        None => raw.parse().ok().map(NumberOrString::Number),
    }
}

impl<R, W> Transport<RoleClient> for UpstreamTransport<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let writer = self.writer.clone();
        async move { write_line(&writer, &item).await }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        loop {
            match self.reader.next().await {
                Line::Whole(line) => {
                    match classify::classify::<RxJsonRpcMessage<RoleClient>>(&line) {
                        Inbound::Message(m) => return Some(m),
                        // Never answer an upstream's garbage: two peers echoing errors at each other would storm.
                        Inbound::Answer(_) | Inbound::Skip(_) => {
                            tracing::warn!(upstream = %self.name, "skipped a malformed message from the upstream");
                        }
                    }
                }
                Line::Oversized { prefix } => {
                    tracing::warn!(upstream = %self.name, max_message_bytes = self.max_message_bytes, "skipped an oversized message from the upstream");
                    if let Some(id) = response_id(&prefix) {
                        let error = ErrorData::new(
                            ErrorCode::INTERNAL_ERROR,
                            format!(
                                "the upstream's response exceeded max_message_bytes ({} bytes)",
                                self.max_message_bytes
                            ),
                            Some(serde_json::json!({ "gatehouse": "response_too_large" })),
                        );
                        return Some(RxJsonRpcMessage::<RoleClient>::error(error, Some(id)));
                    }
                }
                Line::Eof => return None,
                Line::Failed(e) => {
                    tracing::warn!(upstream = %self.name, error = %e, "reading from the upstream failed");
                    return None;
                }
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.writer.lock().await.shutdown().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_id_of_an_oversized_response() {
        assert_eq!(
            response_id(br#"{"jsonrpc":"2.0","id":12,"result":{"content":[{"#),
            Some(NumberOrString::Number(12))
        );
        assert_eq!(
            response_id(br#"{"result":{"x":"#),
            None,
            "no id visible in the prefix"
        );
        assert_eq!(
            response_id(br#"{"id":"abc","result":{"#),
            Some(NumberOrString::String("abc".into()))
        );
        assert_eq!(
            response_id(br#"{"jsonrpc":"2.0","method":"notifications/message","params":{"#),
            None
        );
    }
}
