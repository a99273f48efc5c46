//! The `github__*` tools, on the user's GitHub token: search issues and
//! pull requests, read an issue with its comments, list notifications,
//! create an issue, comment. Results are trimmed to what an agent needs
//! (long bodies cut, URLs and logins kept) and paged. Scopes: `repo` (or
//! `public_repo` for public repositories only) and `notifications`; a GitHub
//! App needs Issues read/write and Notifications read.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{Api, ApiFailure, BadSegment, segment};
use super::{ToolEntry, ToolKind, builtin};
use crate::oauth::Provider;

/// Longest issue or comment body returned, in characters.
const BODY_CHARS: usize = 4000;

/// Arguments of `github__search_issues`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// GitHub search syntax, e.g. `repo:owner/name is:open label:bug crash`; add `is:pr` or `is:issue` to narrow.
    pub query: String,
    /// Page number, from 1 (default 1).
    pub page: Option<u32>,
    /// Results per page, 1-50 (default 10).
    pub per_page: Option<u32>,
}

/// Arguments of `github__get_issue`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueArgs {
    /// Repository owner (user or organisation).
    pub owner: String,
    /// Repository name.
    pub repo: String,
    /// Issue or pull request number.
    pub number: u64,
    /// Page of comments, from 1 (default 1; 20 comments a page).
    pub comments_page: Option<u32>,
}

/// Arguments of `github__list_notifications`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationsArgs {
    /// Include notifications already read (default false: unread only).
    pub all: Option<bool>,
    /// Page number, from 1 (default 1).
    pub page: Option<u32>,
    /// Results per page, 1-50 (default 20).
    pub per_page: Option<u32>,
}

/// Arguments of `github__create_issue`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIssueArgs {
    /// Repository owner.
    pub owner: String,
    /// Repository name.
    pub repo: String,
    /// The issue's title.
    pub title: String,
    /// The issue's body, in Markdown.
    pub body: Option<String>,
    /// Labels to set (they must exist in the repository).
    pub labels: Option<Vec<String>>,
}

/// Arguments of `github__comment`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentArgs {
    /// Repository owner.
    pub owner: String,
    /// Repository name.
    pub repo: String,
    /// Issue or pull request number.
    pub number: u64,
    /// The comment, in Markdown.
    pub body: String,
}

/// The GitHub tools.
pub fn entries() -> Vec<ToolEntry> {
    let k = || ToolKind::Api(Provider::GitHub);
    vec![
        builtin::<SearchArgs>(
            "github__search_issues",
            "Search GitHub issues and pull requests the user can see (GitHub search syntax). Returns number, title, \
             state, repository, author, labels, comment count and URL per result, plus `next_page` when there are more. \
             Needs scope `repo` (or `public_repo`).",
            true,
            k(),
        ),
        builtin::<IssueArgs>(
            "github__get_issue",
            "Read one GitHub issue or pull request with its comments (bodies cut to 4000 characters, 20 comments a \
             page, `comments_next_page` when there are more). Needs scope `repo` (or `public_repo`).",
            true,
            k(),
        ),
        builtin::<NotificationsArgs>(
            "github__list_notifications",
            "List the user's GitHub notifications (unread only unless `all`): reason, subject title and type, \
             repository, when updated. Needs scope `notifications` (or `repo`).",
            true,
            k(),
        ),
        builtin::<CreateIssueArgs>(
            "github__create_issue",
            "Create an issue in a GitHub repository as the user. Returns its number and URL. Writes are budgeted \
             tightly (5 a minute, 50 a day by default). Needs scope `repo` (or `public_repo`).",
            false,
            k(),
        ),
        builtin::<CommentArgs>(
            "github__comment",
            "Comment on a GitHub issue or pull request as the user. Returns the comment's id and URL. Budgeted \
             (10 a minute, 200 a day by default). Needs scope `repo` (or `public_repo`).",
            false,
            k(),
        ),
    ]
}

/// Why a GitHub tool call failed.
pub enum Failure {
    /// The arguments don't fit the tool.
    BadParams(String),
    /// The API answered with an error.
    Api(ApiFailure),
}

impl From<ApiFailure> for Failure {
    fn from(f: ApiFailure) -> Self {
        Failure::Api(f)
    }
}

impl From<BadSegment> for Failure {
    fn from(e: BadSegment) -> Self {
        Failure::BadParams(e.to_string())
    }
}

fn args<T: serde::de::DeserializeOwned>(tool: &str, v: &Value) -> Result<T, Failure> {
    serde_json::from_value(v.clone()).map_err(|e| Failure::BadParams(format!("{tool}: {e}")))
}

fn page(p: Option<u32>) -> u32 {
    p.unwrap_or(1).max(1)
}

fn per_page(p: Option<u32>, default: u32) -> u32 {
    p.unwrap_or(default).clamp(1, 50)
}

/// Cuts `s` to `max` characters, saying so.
pub fn cut(s: &str, max: usize) -> Value {
    if s.chars().count() <= max {
        json!(s)
    } else {
        json!(format!(
            "{}… [cut at {max} characters]",
            s.chars().take(max).collect::<String>()
        ))
    }
}

fn login(v: &Value) -> Value {
    v.get("login").cloned().unwrap_or(Value::Null)
}

fn labels(v: &Value) -> Value {
    json!(
        v.as_array()
            .map(|a| a
                .iter()
                .filter_map(|l| l.get("name").cloned())
                .collect::<Vec<_>>())
            .unwrap_or_default()
    )
}

fn repo_of(item: &Value) -> Value {
    // "https://api.github.com/repos/OWNER/REPO" → "OWNER/REPO"
    item.get("repository_url")
        .and_then(Value::as_str)
        .and_then(|u| u.split("/repos/").nth(1))
        .map_or(Value::Null, |r| json!(r))
}

/// Runs the GitHub tool `local` (the name after `github__`).
pub async fn run(api: &Api<'_>, local: &str, a: &Value) -> Result<Value, Failure> {
    match local {
        "search_issues" => {
            let x: SearchArgs = args("github__search_issues", a)?;
            let (p, n) = (page(x.page), per_page(x.per_page, 10));
            let r = api
                .get(
                    "search/issues",
                    &[
                        ("q", x.query),
                        ("page", p.to_string()),
                        ("per_page", n.to_string()),
                    ],
                )
                .await?;
            let items: Vec<Value> = r["items"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|i| {
                            json!({
                                "number": i["number"], "title": i["title"], "state": i["state"],
                                "is_pull_request": i.get("pull_request").is_some(),
                                "repository": repo_of(i), "author": login(&i["user"]),
                                "labels": labels(&i["labels"]), "comments": i["comments"],
                                "updated_at": i["updated_at"], "url": i["html_url"],
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            let total = r["total_count"].as_u64().unwrap_or(0);
            let more = u64::from(p) * u64::from(n) < total && !items.is_empty();
            Ok(json!({"total_count": total, "items": items, "next_page": more.then_some(p + 1)}))
        }
        "get_issue" => {
            let x: IssueArgs = args("github__get_issue", a)?;
            let base = format!(
                "repos/{}/{}/issues/{}",
                segment("owner", &x.owner)?,
                segment("repo", &x.repo)?,
                x.number
            );
            let i = api.get(&base, &[]).await?;
            let cp = page(x.comments_page);
            let comments = api
                .get(
                    &format!("{base}/comments"),
                    &[("page", cp.to_string()), ("per_page", "20".into())],
                )
                .await?;
            let list: Vec<Value> = comments
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|c| json!({"id": c["id"], "author": login(&c["user"]), "created_at": c["created_at"], "body": cut(c["body"].as_str().unwrap_or(""), BODY_CHARS)}))
                        .collect()
                })
                .unwrap_or_default();
            let total = i["comments"].as_u64().unwrap_or(0);
            let more = u64::from(cp) * 20 < total;
            Ok(json!({
                "number": i["number"], "title": i["title"], "state": i["state"],
                "is_pull_request": i.get("pull_request").is_some(),
                "author": login(&i["user"]), "labels": labels(&i["labels"]),
                "created_at": i["created_at"], "updated_at": i["updated_at"], "url": i["html_url"],
                "body": cut(i["body"].as_str().unwrap_or(""), BODY_CHARS),
                "comments_total": total, "comments": list, "comments_next_page": more.then_some(cp + 1),
            }))
        }
        "list_notifications" => {
            let x: NotificationsArgs = args("github__list_notifications", a)?;
            let (p, n) = (page(x.page), per_page(x.per_page, 20));
            let r = api
                .get(
                    "notifications",
                    &[
                        ("all", x.all.unwrap_or(false).to_string()),
                        ("page", p.to_string()),
                        ("per_page", n.to_string()),
                    ],
                )
                .await?;
            let items: Vec<Value> = r
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|t| json!({
                            "id": t["id"], "reason": t["reason"], "unread": t["unread"], "updated_at": t["updated_at"],
                            "title": t["subject"]["title"], "type": t["subject"]["type"],
                            "repository": t["repository"]["full_name"],
                        }))
                        .collect()
                })
                .unwrap_or_default();
            let more = items.len() as u32 == n;
            Ok(json!({"items": items, "next_page": more.then_some(p + 1)}))
        }
        "create_issue" => {
            let x: CreateIssueArgs = args("github__create_issue", a)?;
            if x.title.trim().is_empty() {
                return Err(Failure::BadParams(
                    "github__create_issue: title must not be empty".into(),
                ));
            }
            let mut body = json!({"title": x.title});
            if let Some(b) = x.body {
                body["body"] = json!(b);
            }
            if let Some(l) = x.labels {
                body["labels"] = json!(l);
            }
            let path = format!(
                "repos/{}/{}/issues",
                segment("owner", &x.owner)?,
                segment("repo", &x.repo)?
            );
            let r = api.post(&path, &body).await?;
            Ok(json!({"number": r["number"], "url": r["html_url"], "state": r["state"]}))
        }
        "comment" => {
            let x: CommentArgs = args("github__comment", a)?;
            if x.body.trim().is_empty() {
                return Err(Failure::BadParams(
                    "github__comment: body must not be empty".into(),
                ));
            }
            let path = format!(
                "repos/{}/{}/issues/{}/comments",
                segment("owner", &x.owner)?,
                segment("repo", &x.repo)?,
                x.number
            );
            let r = api.post(&path, &json!({"body": x.body})).await?;
            Ok(json!({"id": r["id"], "url": r["html_url"]}))
        }
        other => Err(Failure::BadParams(format!("no GitHub tool named {other}"))),
    }
}
