//! The `gmail__*` tools, on the user's Google token: search, read a
//! message, create a draft, send. Results are trimmed (headers that matter,
//! the text cut to 8000 characters, attachment names and sizes) and paged
//! with Gmail's page tokens. Scopes: `gmail.readonly` (search, read) and
//! `gmail.compose` (drafts and sends; `gmail.send` is enough to send).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{Api, segment};
use super::github::{Failure, cut};
use super::mime::{self, Outgoing};
use super::{ToolEntry, ToolKind, builtin};
use crate::oauth::Provider;

const TEXT_CHARS: usize = 8000;
const USER: &str = "gmail/v1/users/me";

/// Arguments of `gmail__search`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// Gmail search syntax, e.g. `from:ann@example.com is:unread newer_than:7d`.
    pub query: String,
    /// `next_page_token` from a previous search, for the next page.
    pub page_token: Option<String>,
    /// Messages per page, 1-25 (default 10).
    pub max_results: Option<u32>,
}

/// Arguments of `gmail__read_message`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadArgs {
    /// The message id (from `gmail__search`).
    pub id: String,
}

/// Arguments of `gmail__create_draft` and `gmail__send`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComposeArgs {
    /// Recipients, comma-separated email addresses.
    pub to: String,
    /// Carbon-copy recipients, comma-separated.
    pub cc: Option<String>,
    /// The subject (one line).
    pub subject: String,
    /// The body, plain text.
    pub body: String,
    /// The thread to add the message to (from `gmail__search` or `gmail__read_message`).
    pub thread_id: Option<String>,
}

/// The Gmail tools.
pub fn entries() -> Vec<ToolEntry> {
    let k = || ToolKind::Api(Provider::Google);
    vec![
        builtin::<SearchArgs>(
            "gmail__search",
            "Search the user's Gmail (Gmail search syntax). Returns id, thread_id, from, to, subject, date and a short \
             snippet per message, plus `next_page_token` when there are more. Needs scope gmail.readonly.",
            true,
            k(),
        ),
        builtin::<ReadArgs>(
            "gmail__read_message",
            "Read one Gmail message: from, to, cc, subject, date, its text (cut to 8000 characters) and the names and \
             sizes of its attachments. Needs scope gmail.readonly.",
            true,
            k(),
        ),
        builtin::<ComposeArgs>(
            "gmail__create_draft",
            "Create a draft in the user's Gmail for the user to review and send. Returns the draft id. Budgeted \
             (10 a minute, 200 a day by default). Needs scope gmail.compose.",
            false,
            k(),
        ),
        builtin::<ComposeArgs>(
            "gmail__send",
            "Send an email from the user's Gmail at once. Prefer gmail__create_draft unless the user asked to send. \
             Budgeted tightly (2 a minute, 10 an hour, 50 a day by default). Needs scope gmail.compose or gmail.send.",
            false,
            k(),
        ),
    ]
}

fn args<T: serde::de::DeserializeOwned>(tool: &str, v: &Value) -> Result<T, Failure> {
    serde_json::from_value(v.clone()).map_err(|e| Failure::BadParams(format!("{tool}: {e}")))
}

fn compose(tool: &str, a: &Value) -> Result<(String, Option<String>), Failure> {
    let x: ComposeArgs = args(tool, a)?;
    let raw = mime::raw(&Outgoing {
        to: &x.to,
        cc: x.cc.as_deref(),
        subject: &x.subject,
        body: &x.body,
    })
    .map_err(|e| Failure::BadParams(format!("{tool}: {e}")))?;
    Ok((raw, x.thread_id))
}

/// Runs the Gmail tool `local` (the name after `gmail__`).
pub async fn run(api: &Api<'_>, local: &str, a: &Value) -> Result<Value, Failure> {
    match local {
        "search" => {
            let x: SearchArgs = args("gmail__search", a)?;
            let n = x.max_results.unwrap_or(10).clamp(1, 25);
            let mut q = vec![("q", x.query), ("maxResults", n.to_string())];
            if let Some(t) = x.page_token.filter(|t| !t.is_empty()) {
                q.push(("pageToken", t));
            }
            let r = api.get(&format!("{USER}/messages"), &q).await?;
            let mut items = Vec::new();
            for m in r["messages"].as_array().into_iter().flatten() {
                // An id that can't be a path segment is no message we can read.
                let Some((id, seg)) = m["id"]
                    .as_str()
                    .and_then(|id| Some((id, segment("id", id).ok()?)))
                else {
                    continue;
                };
                let meta = api
                    .get(
                        &format!("{USER}/messages/{seg}"),
                        &[
                            ("format", "metadata".into()),
                            ("metadataHeaders", "From".into()),
                            ("metadataHeaders", "To".into()),
                            ("metadataHeaders", "Subject".into()),
                            ("metadataHeaders", "Date".into()),
                        ],
                    )
                    .await?;
                let p = &meta["payload"];
                items.push(json!({
                    "id": id, "thread_id": meta["threadId"],
                    "from": mime::header(p, "From"), "to": mime::header(p, "To"),
                    "subject": mime::header(p, "Subject"), "date": mime::header(p, "Date"),
                    "snippet": cut(meta["snippet"].as_str().unwrap_or(""), 200),
                    "unread": meta["labelIds"].as_array().is_some_and(|l| l.iter().any(|x| x == "UNREAD")),
                }));
            }
            Ok(json!({
                "messages": items,
                "next_page_token": r.get("nextPageToken").cloned().unwrap_or(Value::Null),
                "result_size_estimate": r["resultSizeEstimate"],
            }))
        }
        "read_message" => {
            let x: ReadArgs = args("gmail__read_message", a)?;
            let m = api
                .get(
                    &format!("{USER}/messages/{}", segment("id", &x.id)?),
                    &[("format", "full".into())],
                )
                .await?;
            let p = &m["payload"];
            let mut files = Vec::new();
            mime::attachments(p, &mut files);
            Ok(json!({
                "id": m["id"], "thread_id": m["threadId"], "labels": m["labelIds"],
                "from": mime::header(p, "From"), "to": mime::header(p, "To"), "cc": mime::header(p, "Cc"),
                "subject": mime::header(p, "Subject"), "date": mime::header(p, "Date"),
                "text": cut(&mime::text(p), TEXT_CHARS), "attachments": files,
            }))
        }
        "create_draft" => {
            let (raw, thread) = compose("gmail__create_draft", a)?;
            let mut message = json!({"raw": raw});
            if let Some(t) = thread {
                message["threadId"] = json!(t);
            }
            let r = api
                .post(&format!("{USER}/drafts"), &json!({"message": message}))
                .await?;
            Ok(
                json!({"draft_id": r["id"], "message_id": r["message"]["id"], "thread_id": r["message"]["threadId"]}),
            )
        }
        "send" => {
            let (raw, thread) = compose("gmail__send", a)?;
            let mut message = json!({"raw": raw});
            if let Some(t) = thread {
                message["threadId"] = json!(t);
            }
            let r = api.post(&format!("{USER}/messages/send"), &message).await?;
            Ok(json!({"id": r["id"], "thread_id": r["threadId"], "labels": r["labelIds"]}))
        }
        other => Err(Failure::BadParams(format!("no Gmail tool named {other}"))),
    }
}
