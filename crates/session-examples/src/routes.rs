//! The routes of DESIGN §6 (and §6.1's `/cycle`), written once for both
//! adapters: a server hands over the request's path and a way to get its
//! session, and sends back the [`Reply`].

use std::future::Future;

use percent_encoding::percent_decode_str;
use server_session::{Session, SessionRejection};

/// What a route answers: a status and a `text/plain` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body, sent as `text/plain; charset=utf-8`.
    pub body: String,
}

impl Reply {
    fn ok(body: impl Into<String>) -> Self {
        Self {
            status: 200,
            body: body.into(),
        }
    }

    fn failed(error: impl std::fmt::Display) -> Self {
        Self {
            status: 500,
            body: error.to_string(),
        }
    }

    fn not_found() -> Self {
        Self {
            status: 404,
            body: String::new(),
        }
    }
}

/// The session extractor's answer, as the routes take it: no session (no
/// layer, outside the cookie path, or the store could give none) reads as
/// `Ok(None)`; a lazy load the load-error policy refused answers as the
/// rejection does (its status, an empty body).
pub fn session_or_none(
    extracted: Result<Session, SessionRejection>,
) -> Result<Option<Session>, Reply> {
    match extracted {
        Ok(session) => Ok(Some(session)),
        Err(rejection) if rejection.is_no_session() || rejection.is_missing_layer() => Ok(None),
        Err(rejection) => Err(Reply {
            status: rejection.status().as_u16(),
            body: String::new(),
        }),
    }
}

/// Answers `GET path`. `session` is awaited only by routes that use the
/// session, so `/noop` never loads it (under lazy loading either).
pub async fn answer<F>(path: &str, session: F) -> Reply
where
    F: Future<Output = Result<Option<Session>, Reply>>,
{
    let segments: Option<Vec<String>> = path
        .split('/')
        .skip(1)
        .map(|segment| {
            percent_decode_str(segment)
                .decode_utf8()
                .ok()
                .map(String::from)
        })
        .collect();
    let Some(segments) = segments else {
        return Reply {
            status: 400,
            body: String::from("the path is not UTF-8"),
        };
    };
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    if segments == ["noop"] {
        return Reply::ok("ok");
    }
    if !is_route(&segments) {
        return Reply::not_found();
    }
    let session = match session.await {
        Ok(Some(session)) => session,
        Ok(None) => return Reply::ok("no session"),
        Err(reply) => return reply,
    };
    match route(&session, &segments).await {
        Ok(reply) => reply,
        Err(reply) => reply,
    }
}

fn is_route(segments: &[&str]) -> bool {
    matches!(
        segments,
        ["id"
            | "regenerate"
            | "cycle"
            | "destroy"
            | "reload"
            | "save"
            | "touch"
            | "unset"
            | "cookie"]
            | ["get" | "inc" | "del" | "maxage", _]
            | ["set", _, _]
    )
}

async fn route(session: &Session, segments: &[&str]) -> Result<Reply, Reply> {
    Ok(match segments {
        ["id"] => Reply::ok(session.id()),
        ["get", key] => Reply::ok(match session.get_value(key) {
            Some(value) => value.to_string(),
            None => String::from("undefined"),
        }),
        ["set", key, value] => {
            session.insert(*key, *value).map_err(Reply::failed)?;
            Reply::ok("ok")
        }
        ["inc", key] => {
            let next = session
                .update(*key, |n: Option<i64>| n.unwrap_or(0) + 1)
                .map_err(Reply::failed)?;
            Reply::ok(next.to_string())
        }
        ["del", key] => {
            session.remove_value(key).map_err(Reply::failed)?;
            Reply::ok("ok")
        }
        ["regenerate"] => {
            session.regenerate().await.map_err(Reply::failed)?;
            Reply::ok(session.id())
        }
        ["cycle"] => {
            session.cycle_id().await.map_err(Reply::failed)?;
            Reply::ok(session.id())
        }
        ["destroy"] => {
            session.destroy().await.map_err(Reply::failed)?;
            Reply::ok("destroyed")
        }
        ["reload"] => {
            session.reload().await.map_err(Reply::failed)?;
            Reply::ok("reloaded")
        }
        ["save"] => {
            session.save().await.map_err(Reply::failed)?;
            Reply::ok("saved")
        }
        ["touch"] => {
            session.touch();
            Reply::ok("touched")
        }
        ["unset"] => {
            session.unset();
            Reply::ok("unset")
        }
        ["maxage", ms] => {
            let ms = match *ms {
                "null" => None,
                text => Some(text.parse::<i64>().map_err(|e| Reply {
                    status: 400,
                    body: e.to_string(),
                })?),
            };
            session.cookie().set_max_age_ms(ms);
            Reply::ok("ok")
        }
        ["cookie"] => {
            Reply::ok(serde_json::to_string(&session.cookie().data()).map_err(Reply::failed)?)
        }
        _ => Reply::not_found(),
    })
}
