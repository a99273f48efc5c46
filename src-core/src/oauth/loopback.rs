//! The loopback redirect (RFC 8252 §7.3): a one-shot HTTP listener on
//! 127.0.0.1 that waits for the browser to come back with `code` and
//! `state`, answers with a small "you can close this tab" page, and closes,
//! so a second callback finds nobody listening. Requests for other paths
//! (a favicon) are answered 404 and ignored; everything is bounded in time and size.

use std::time::Duration;

use subtle::ConstantTimeEq;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use url::Url;

use super::{OAuthError, Provider};
use crate::telemetry::Redacted;

/// The path the browser is redirected to.
pub const CALLBACK_PATH: &str = "/callback";
/// Longest request head read from the browser.
const MAX_HEAD: usize = 16 * 1024;

/// Binds 127.0.0.1:`port` (0: a random free port); returns the listener and its redirect URL.
pub async fn bind(port: u16) -> Result<(TcpListener, Url), OAuthError> {
    let listener =
        TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| OAuthError::Listen {
                port,
                reason: e.to_string(),
            })?;
    let actual = listener
        .local_addr()
        .map_err(|e| OAuthError::Listen {
            port,
            reason: e.to_string(),
        })?
        .port();
    let url = Url::parse(&format!("http://127.0.0.1:{actual}{CALLBACK_PATH}"))
        .expect("a valid loopback URL");
    Ok((listener, url))
}

/// Waits (until `deadline`) for the callback; checks `state`; returns the code.
pub async fn receive(
    listener: TcpListener,
    provider: Provider,
    state: &str,
    deadline: Instant,
    waited: Duration,
) -> Result<Redacted<String>, OAuthError> {
    loop {
        let (stream, _) = match tokio::time::timeout_at(deadline, listener.accept()).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "loopback accept failed");
                continue;
            }
            Err(_) => return Err(OAuthError::TimedOut { waited }),
        };
        if let Some(result) = handle(stream, provider, state).await {
            return result;
        }
    }
}

/// One browser request: `None` when it was not the callback (keep waiting).
async fn handle(
    mut stream: TcpStream,
    provider: Provider,
    state: &str,
) -> Option<Result<Redacted<String>, OAuthError>> {
    let head = match tokio::time::timeout(Duration::from_secs(5), read_head(&mut stream)).await {
        Ok(Some(h)) => h,
        _ => return None,
    };
    let target = head
        .lines()
        .next()
        .and_then(|l| {
            let mut parts = l.split(' ');
            (parts.next() == Some("GET")).then(|| parts.next())?
        })
        .unwrap_or("");
    let Ok(url) = Url::parse(&format!("http://127.0.0.1{target}")) else {
        respond(
            &mut stream,
            400,
            "Bad request",
            "This is not a sign-in callback.",
        )
        .await;
        return None;
    };
    if url.path() != CALLBACK_PATH {
        respond(&mut stream, 404, "Not found", "Nothing here.").await;
        return None;
    }
    let param = |k: &str| {
        url.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    let given = param("state").unwrap_or_default();
    let result = if !bool::from(given.as_bytes().ct_eq(state.as_bytes())) {
        Err(OAuthError::StateMismatch)
    } else if let Some(error) = param("error") {
        let clean =
            |s: &str| crate::telemetry::redact::truncate(&crate::telemetry::pii::scrub(s), 200);
        Err(OAuthError::Refused {
            provider,
            error: clean(&error),
            description: param("error_description").map(|d| clean(&d)),
        })
    } else {
        match param("code").filter(|c| !c.is_empty()) {
            Some(code) => Ok(Redacted::new(code)),
            None => Err(OAuthError::MissingCode),
        }
    };
    match &result {
        Ok(_) => {
            respond(
                &mut stream,
                200,
                "Authorization received",
                &format!(
                    "Gatehouse received the {} authorization and is finishing the connection. You can close this tab and return to Gatehouse.",
                    provider.title()
                ),
            )
            .await
        }
        Err(e) => respond(&mut stream, 400, "Gatehouse could not connect", &e.to_string()).await,
    }
    Some(result)
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while buf.len() < MAX_HEAD {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    String::from_utf8(buf).ok()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn respond(stream: &mut TcpStream, status: u16, title: &str, text: &str) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body style=\"font-family:sans-serif;max-width:40em;margin:4em auto\"><h1>{t}</h1><p>{x}</p></body></html>",
        t = escape(title),
        x = escape(text)
    );
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Starts a listener expecting state "s1", sends `target` to it, returns
    /// the flow's result and the HTTP status line the browser got.
    async fn one(targets: &[&str]) -> (Result<Redacted<String>, OAuthError>, Vec<String>) {
        let (listener, url) = bind(0).await.unwrap();
        let port = url.port().unwrap();
        let flow = tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(5);
            receive(
                listener,
                Provider::GitHub,
                "s1",
                deadline,
                Duration::from_secs(5),
            )
            .await
        });
        let mut statuses = Vec::new();
        for t in targets {
            let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            s.write_all(format!("GET {t} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .await
                .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            statuses.push(out.lines().next().unwrap_or("").to_string());
        }
        (flow.await.unwrap(), statuses)
    }

    #[tokio::test]
    async fn the_callback_with_the_right_state_gives_the_code() {
        let (r, st) = one(&["/favicon.ico", "/callback?code=c1&state=s1"]).await;
        assert_eq!(r.unwrap().expose(), "c1");
        assert_eq!(st, ["HTTP/1.1 404 Not Found", "HTTP/1.1 200 OK"]);
    }

    #[tokio::test]
    async fn a_wrong_state_a_missing_code_and_an_error_are_refused() {
        let (r, st) = one(&["/callback?code=c1&state=other"]).await;
        assert!(matches!(r, Err(OAuthError::StateMismatch)));
        assert_eq!(st, ["HTTP/1.1 400 Bad Request"]);
        let (r, _) = one(&["/callback?state=s1"]).await;
        assert!(matches!(r, Err(OAuthError::MissingCode)));
        let (r, _) = one(&["/callback?state=s1&error=access_denied&error_description=no"]).await;
        match r {
            Err(OAuthError::Refused {
                error, description, ..
            }) => {
                assert_eq!(
                    (error.as_str(), description.as_deref()),
                    ("access_denied", Some("no"))
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn nobody_coming_back_times_out() {
        let (listener, _) = bind(0).await.unwrap();
        let deadline = Instant::now() + Duration::from_millis(50);
        let r = receive(
            listener,
            Provider::Google,
            "s",
            deadline,
            Duration::from_millis(50),
        )
        .await;
        assert!(matches!(r, Err(OAuthError::TimedOut { .. })));
    }

    #[tokio::test]
    async fn a_port_in_use_is_a_clear_error() {
        let (held, url) = bind(0).await.unwrap();
        let e = bind(url.port().unwrap()).await.unwrap_err().to_string();
        assert!(e.contains("cannot listen on 127.0.0.1"), "{e}");
        drop(held);
    }
}
