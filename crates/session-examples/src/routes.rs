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
            | "cookie"
            | "sessions"
            | "revoke-others"
            | "revoke-all"]
            | ["get" | "inc" | "del" | "maxage" | "login" | "revoke", _]
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
        ["login", user] => {
            session.sign_in(*user).await.map_err(|error| Reply {
                status: error.status().as_u16(),
                body: error.to_string(),
            })?;
            Reply::ok(session.id())
        }
        ["sessions"] => user_sessions::list(session).await?,
        ["revoke", reference] => user_sessions::revoke(session, reference).await?,
        ["revoke-others"] => user_sessions::revoke_all(session, false).await?,
        ["revoke-all"] => user_sessions::revoke_all(session, true).await?,
        _ => Reply::not_found(),
    })
}

/// The routes on the signed-in user's sessions (DESIGN §6.1).
mod user_sessions {
    use server_session::users::{RevokeError, SessionRef};
    use server_session::Session;

    use super::Reply;

    fn epoch_ms(time: Option<std::time::SystemTime>) -> serde_json::Value {
        time.and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
            .and_then(|since| u64::try_from(since.as_millis()).ok())
            .map_or(serde_json::Value::Null, serde_json::Value::from)
    }

    /// `/sessions`: the signed-in user's live sessions, `[]` when nobody is
    /// signed in.
    pub(super) async fn list(session: &Session) -> Result<Reply, Reply> {
        if session.user().is_none() {
            return Ok(Reply::ok("[]"));
        }
        let listed = session
            .user_sessions()
            .list_for(session)
            .await
            .map_err(Reply::failed)?;
        let listed: Vec<serde_json::Value> = listed
            .iter()
            .map(|info| {
                serde_json::json!({
                    "ref": info.reference.as_str(),
                    "current": info.current,
                    "created": epoch_ms(info.created),
                    "lastActive": epoch_ms(info.last_active),
                    "expires": epoch_ms(info.expires),
                })
            })
            .collect();
        Ok(Reply::ok(serde_json::Value::from(listed).to_string()))
    }

    /// `/revoke/{ref}`: `revoked`, or 404 `unknown` for a reference that
    /// names no session of this user (or is not a reference at all).
    pub(super) async fn revoke(session: &Session, reference: &str) -> Result<Reply, Reply> {
        let unknown = || Reply {
            status: 404,
            body: String::from("unknown"),
        };
        let (Some(user), Ok(reference)) = (session.user(), reference.parse::<SessionRef>()) else {
            return Ok(unknown());
        };
        match session.user_sessions().revoke(&user, &reference).await {
            Ok(()) => Ok(Reply::ok("revoked")),
            Err(RevokeError::UnknownReference) => Ok(unknown()),
            Err(error) => Err(Reply::failed(error)),
        }
    }

    /// `/revoke-others` and `/revoke-all`: how many sessions were revoked.
    pub(super) async fn revoke_all(session: &Session, this_one_too: bool) -> Result<Reply, Reply> {
        let Some(user) = session.user() else {
            return Ok(Reply::ok("0"));
        };
        let sessions = session.user_sessions();
        let revoked = if this_one_too {
            sessions.revoke_all(&user).await
        } else {
            sessions.revoke_others(session).await
        };
        revoked
            .map(|count| Reply::ok(count.to_string()))
            .map_err(Reply::failed)
    }
}
