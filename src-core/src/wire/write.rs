//! Writing one JSON-RPC message as one line, shared by the server side (to
//! the client's stdout) and the upstream side (to a child's stdin). The
//! writer sits behind a lock so concurrent sends never interleave a line.

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;

/// Serialises `msg`, appends `\n`, and writes and flushes it as one piece.
pub async fn write_line<W, T>(writer: &Mutex<W>, msg: &T) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
    T: serde::Serialize,
{
    let mut bytes = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    let mut w = writer.lock().await;
    w.write_all(&bytes).await?;
    w.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_message_is_one_line() {
        let out = Mutex::new(Vec::new());
        write_line(&out, &serde_json::json!({"a": "x\ny"}))
            .await
            .unwrap();
        write_line(&out, &serde_json::json!(1)).await.unwrap();
        assert_eq!(out.into_inner(), b"{\"a\":\"x\\ny\"}\n1\n");
    }
}
