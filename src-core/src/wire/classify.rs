//! Sorting one received line: a message to hand to rmcp, an error to answer
//! at once (bad bytes get JSON-RPC errors, never silence), or nothing.
//! Non-JSON or non-UTF-8 is `-32700` with `id: null`; JSON that is no
//! JSON-RPC message is `-32600` with its id where readable; a request whose
//! params don't fit its method is `-32602`.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// JSON-RPC: the line is not JSON.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC: valid JSON, but not a valid request.
pub const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC: the method's params are wrong.
pub const INVALID_PARAMS: i64 = -32602;

/// What to do with a line.
#[derive(Debug)]
pub enum Inbound<M> {
    /// A message for rmcp.
    Message(M),
    /// Answer with this JSON-RPC error response and keep serving.
    Answer(Value),
    /// Nothing to do; the reason is for debug logs (it holds no content).
    Skip(&'static str),
}

/// A JSON-RPC error response.
pub fn error_response(id: Value, code: i64, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}

/// The request id of `obj` if it is a valid one (string or integer).
fn valid_id(obj: &Map<String, Value>) -> Option<Value> {
    match obj.get("id")? {
        v @ Value::String(_) => Some(v.clone()),
        v @ Value::Number(n) if n.is_i64() || n.is_u64() => Some(v.clone()),
        _ => None,
    }
}

/// Sorts `line` (without its newline).
pub fn classify<M: DeserializeOwned>(line: &[u8]) -> Inbound<M> {
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Inbound::Skip("blank line");
    }
    let Ok(text) = std::str::from_utf8(line) else {
        return Inbound::Answer(error_response(
            Value::Null,
            PARSE_ERROR,
            "Parse error: the message is not valid UTF-8",
        ));
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => {
            return Inbound::Answer(error_response(
                Value::Null,
                PARSE_ERROR,
                "Parse error: the message is not valid JSON",
            ));
        }
    };
    let obj = match value {
        Value::Object(obj) => obj,
        Value::Array(_) => {
            return Inbound::Answer(error_response(
                Value::Null,
                INVALID_REQUEST,
                "Invalid Request: JSON-RPC batches are not supported by MCP; send one message per line",
            ));
        }
        _ => {
            return Inbound::Answer(error_response(
                Value::Null,
                INVALID_REQUEST,
                "Invalid Request: a message must be a JSON object",
            ));
        }
    };
    let id = valid_id(&obj);
    let id_or_null = id.clone().unwrap_or(Value::Null);
    if obj.contains_key("id") && id.is_none() && !obj.get("id").is_some_and(Value::is_null) {
        return Inbound::Answer(error_response(
            Value::Null,
            INVALID_REQUEST,
            "Invalid Request: id must be a string or an integer",
        ));
    }
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Inbound::Answer(error_response(
            id_or_null,
            INVALID_REQUEST,
            "Invalid Request: \"jsonrpc\" must be \"2.0\"",
        ));
    }
    let method = match obj.get("method") {
        None => None,
        Some(Value::String(m)) => Some(m.clone()),
        Some(_) => {
            return Inbound::Answer(error_response(
                id_or_null,
                INVALID_REQUEST,
                "Invalid Request: \"method\" must be a string",
            ));
        }
    };
    let is_reply = obj.contains_key("result") || obj.contains_key("error");
    if method.is_none() && !is_reply {
        return Inbound::Answer(error_response(
            id_or_null,
            INVALID_REQUEST,
            "Invalid Request: a message needs a \"method\" (request or notification) or a \"result\"/\"error\" (response)",
        ));
    }
    if method.is_some()
        && obj
            .get("params")
            .is_some_and(|p| !p.is_object() && !p.is_null())
    {
        return match id {
            Some(id) => Inbound::Answer(error_response(
                id,
                INVALID_PARAMS,
                "Invalid params: \"params\" must be an object",
            )),
            None => Inbound::Skip("notification with non-object params"),
        };
    }
    match serde_json::from_value::<M>(Value::Object(obj)) {
        Ok(m) => Inbound::Message(m),
        Err(e) => match (method, id) {
            (Some(m), Some(id)) => Inbound::Answer(error_response(
                id,
                INVALID_PARAMS,
                &format!(
                    "Invalid params for {}: {e}",
                    m.chars().take(64).collect::<String>()
                ),
            )),
            (Some(_), None) => Inbound::Skip("unreadable notification"),
            (None, _) => Inbound::Skip("unreadable response"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(line: &str) -> Value {
        match classify::<Value>(line.as_bytes()) {
            Inbound::Answer(v) => v,
            other => panic!("expected an answer for {line}, got {other:?}"),
        }
    }

    #[test]
    fn garbage_is_a_parse_error_with_null_id() {
        let a = answer("{not json");
        assert_eq!(a["error"]["code"], -32700);
        assert_eq!(a["id"], Value::Null);
        let bin = classify::<Value>(b"\xff\xfe\x00garbage");
        assert!(matches!(bin, Inbound::Answer(v) if v["error"]["code"] == -32700));
    }

    #[test]
    fn json_that_is_no_request_is_invalid_request_with_its_id() {
        assert_eq!(answer("[1,2]")["error"]["code"], -32600);
        assert_eq!(answer("42")["error"]["code"], -32600);
        let a = answer(r#"{"jsonrpc":"1.0","id":9,"method":"ping"}"#);
        assert_eq!(
            (a["error"]["code"].clone(), a["id"].clone()),
            (json!(-32600), json!(9))
        );
        let a = answer(r#"{"jsonrpc":"2.0","id":"x"}"#);
        assert_eq!(
            (a["error"]["code"].clone(), a["id"].clone()),
            (json!(-32600), json!("x"))
        );
        assert_eq!(
            answer(r#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#)["id"],
            Value::Null
        );
    }

    #[test]
    fn wrong_params_type_is_invalid_params() {
        let a = answer(r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":"echo"}"#);
        assert_eq!(
            (a["error"]["code"].clone(), a["id"].clone()),
            (json!(-32602), json!(3))
        );
    }

    #[test]
    fn blank_lines_are_skipped_and_messages_pass() {
        assert!(matches!(classify::<Value>(b"  "), Inbound::Skip(_)));
        assert!(matches!(
            classify::<Value>(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            Inbound::Message(_)
        ));
    }
}
