//! The little MIME Gmail needs: building an RFC 5322 message for drafts and
//! sends (UTF-8 subject as an RFC 2047 word, base64 body, header injection
//! refused), and reading a message's text out of the API's MIME tree.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::Value;

/// An outgoing message.
pub struct Outgoing<'a> {
    /// `To:` addresses, comma-separated.
    pub to: &'a str,
    /// `Cc:` addresses, if any.
    pub cc: Option<&'a str>,
    /// The subject.
    pub subject: &'a str,
    /// The plain-text body.
    pub body: &'a str,
}

fn header_value(name: &str, v: &str) -> Result<(), String> {
    if v.contains(['\r', '\n']) {
        return Err(format!("{name} must be one line"));
    }
    Ok(())
}

/// The message as Gmail's `raw` field wants it: RFC 5322, base64url.
pub fn raw(m: &Outgoing<'_>) -> Result<String, String> {
    header_value("to", m.to)?;
    header_value("subject", m.subject)?;
    if m.to.trim().is_empty() || !m.to.contains('@') {
        return Err("to must hold at least one email address".into());
    }
    let mut text = format!("To: {}\r\n", m.to.trim());
    if let Some(cc) = m.cc.filter(|c| !c.trim().is_empty()) {
        header_value("cc", cc)?;
        text.push_str(&format!("Cc: {}\r\n", cc.trim()));
    }
    let subject = if m.subject.is_ascii() {
        m.subject.to_string()
    } else {
        format!("=?UTF-8?B?{}?=", STANDARD.encode(m.subject))
    };
    text.push_str(&format!("Subject: {subject}\r\n"));
    text.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    let body = STANDARD.encode(m.body);
    for line in body.as_bytes().chunks(76) {
        text.push_str(std::str::from_utf8(line).unwrap_or_default());
        text.push_str("\r\n");
    }
    Ok(URL_SAFE.encode(text))
}

/// The value of header `name` in a message part's `headers`.
pub fn header(payload: &Value, name: &str) -> Option<String> {
    payload["headers"]
        .as_array()?
        .iter()
        .find(|h| {
            h["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .and_then(|h| h["value"].as_str())
        .map(str::to_string)
}

fn decode(data: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(data.trim_end_matches('=')).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

fn find_part<'a>(part: &'a Value, mime: &str) -> Option<&'a Value> {
    if part["mimeType"].as_str() == Some(mime) && part["body"]["data"].is_string() {
        return Some(part);
    }
    part["parts"]
        .as_array()?
        .iter()
        .find_map(|p| find_part(p, mime))
}

/// The message's text: its `text/plain` part, else its `text/html` with the tags removed.
pub fn text(payload: &Value) -> String {
    if let Some(p) = find_part(payload, "text/plain") {
        return decode(p["body"]["data"].as_str().unwrap_or("")).unwrap_or_default();
    }
    if let Some(p) = find_part(payload, "text/html") {
        let html = decode(p["body"]["data"].as_str().unwrap_or("")).unwrap_or_default();
        return strip_tags(&html);
    }
    String::new()
}

fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Attachments: file name, type and size of every part with a file name.
pub fn attachments(part: &Value, out: &mut Vec<Value>) {
    if let Some(name) = part["filename"].as_str().filter(|n| !n.is_empty()) {
        out.push(serde_json::json!({"filename": name, "mime_type": part["mimeType"], "size": part["body"]["size"]}));
    }
    for p in part["parts"].as_array().into_iter().flatten() {
        attachments(p, out);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_message_is_rfc5322_in_base64url_with_an_encoded_subject() {
        let r = raw(&Outgoing {
            to: "ann@example.com",
            cc: None,
            subject: "Grüße",
            body: "hi",
        })
        .unwrap();
        let text = String::from_utf8(URL_SAFE.decode(r).unwrap()).unwrap();
        assert!(
            text.starts_with("To: ann@example.com\r\nSubject: =?UTF-8?B?"),
            "{text}"
        );
        assert!(text.contains("\r\n\r\naGk=\r\n"), "{text}");
    }

    #[test]
    fn header_injection_is_refused() {
        let bad = Outgoing {
            to: "a@b.c\r\nBcc: x@y.z",
            cc: None,
            subject: "s",
            body: "b",
        };
        assert!(raw(&bad).is_err());
        let bad = Outgoing {
            to: "a@b.c",
            cc: None,
            subject: "s\nBcc: x@y.z",
            body: "b",
        };
        assert!(raw(&bad).is_err());
    }

    #[test]
    fn text_prefers_plain_parts_and_strips_html_otherwise() {
        let plain = URL_SAFE.encode("plain text");
        let html = URL_SAFE_NO_PAD.encode("<p>Hello <b>you</b></p>");
        let msg = json!({"mimeType": "multipart/alternative", "parts": [
            {"mimeType": "text/html", "body": {"data": html}},
            {"mimeType": "text/plain", "body": {"data": plain}}]});
        assert_eq!(text(&msg), "plain text");
        let only_html = json!({"mimeType": "text/html", "body": {"data": html}});
        assert_eq!(text(&only_html), "Hello you");
        assert_eq!(
            header(
                &json!({"headers": [{"name": "Subject", "value": "x"}]}),
                "subject"
            )
            .as_deref(),
            Some("x")
        );
    }
}
