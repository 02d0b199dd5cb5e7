//! [`SentinelConfig`]: where Redis Sentinel runs, which master it watches,
//! and how to log in to that master; and the `redis+sentinel://` URL form.

use std::fmt;

use redis::{
    ConnectionAddr, ConnectionInfo, ErrorKind, IntoConnectionInfo, RedisConnectionInfo, RedisError,
    RedisResult,
};

use crate::connection::{config_error, host_list, split_credentials};

/// The URL scheme that names a master by its sentinels.
pub(crate) const SENTINEL_SCHEME: &str = "redis+sentinel://";

/// Sentinel's own port, taken when an address gives none.
pub const DEFAULT_SENTINEL_PORT: u16 = 26379;

/// A Redis master found through Redis Sentinel: the sentinels' addresses,
/// the name they know the master by, and how to log in to the master.
/// Pass it to [`RedisStore::connect_sentinel`](crate::RedisStore::connect_sentinel).
///
/// ```no_run
/// use server_session_redis::{RedisStore, SentinelConfig};
///
/// # async fn run() -> Result<(), server_session::StoreError> {
/// let sentinel = SentinelConfig::new("mymaster", ["10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3"])
///     .with_password("master-secret")
///     .with_db(2);
/// let store = RedisStore::connect_sentinel(sentinel).await?;
/// // The same, as a URL:
/// let same = RedisStore::connect(
///     "redis+sentinel://:master-secret@10.0.0.1:26379,10.0.0.2:26379,10.0.0.3/mymaster?db=2",
/// )
/// .await?;
/// # let _ = (store, same);
/// # Ok(())
/// # }
/// ```
///
/// The credentials and database apply to the master (and so to whichever
/// replica Sentinel promotes); the sentinels' own credentials, if they
/// have any (`requirepass` in `sentinel.conf`), are set apart with
/// [`with_sentinel_password`](Self::with_sentinel_password).
#[derive(Clone)]
pub struct SentinelConfig {
    master_name: String,
    sentinels: Vec<String>,
    username: Option<String>,
    password: Option<String>,
    db: i64,
    sentinel_username: Option<String>,
    sentinel_password: Option<String>,
}

impl SentinelConfig {
    /// The master Sentinel knows as `master_name` (`sentinel monitor <name> …`),
    /// asked of the sentinels at these addresses, each `host[:port]` (port
    /// [`DEFAULT_SENTINEL_PORT`], 26379, when left out; an IPv6 address in
    /// brackets: `[::1]:26379`).
    pub fn new<I, S>(master_name: impl Into<String>, sentinels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            master_name: master_name.into(),
            sentinels: sentinels.into_iter().map(Into::into).collect(),
            username: None,
            password: None,
            db: 0,
            sentinel_username: None,
            sentinel_password: None,
        }
    }

    /// Parses a `redis+sentinel://` URL:
    ///
    /// `redis+sentinel://[username:password@]host[:port][,host[:port]…]/master-name[?db=N][&sentinel_username=U][&sentinel_password=P]`
    ///
    /// The credentials before the `@` are the master's; the sentinels'
    /// own come as query parameters. Percent-encode reserved characters in
    /// credentials (`@` as `%40`, `/` as `%2F`, `:` as `%3A`, `?` as `%3F`,
    /// `#` as `%23`, `&` as `%26`).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`](server_session::StoreError::Backend), saying
    /// what is wrong, for a URL of another scheme or shape.
    pub fn from_url(url: &str) -> Result<Self, server_session::StoreError> {
        parse_url(url).map_err(server_session::StoreError::backend)
    }

    /// The user the store logs in to the master as (Redis 6 ACL); none by default.
    #[must_use]
    pub fn with_username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// The master's password; none by default.
    #[must_use]
    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// The master's database number (default 0).
    #[must_use]
    pub fn with_db(mut self, db: i64) -> Self {
        self.db = db;
        self
    }

    /// The user the store logs in to the sentinels as; none by default.
    #[must_use]
    pub fn with_sentinel_username(mut self, username: impl Into<String>) -> Self {
        self.sentinel_username = Some(username.into());
        self
    }

    /// The sentinels' password (`requirepass` in `sentinel.conf`); none by
    /// default.
    #[must_use]
    pub fn with_sentinel_password(mut self, password: impl Into<String>) -> Self {
        self.sentinel_password = Some(password.into());
        self
    }

    /// The name Sentinel knows the master by.
    pub fn master_name(&self) -> &str {
        &self.master_name
    }

    /// The sentinels' addresses, as given.
    pub fn sentinels(&self) -> &[String] {
        &self.sentinels
    }

    /// The master's database number.
    pub fn db(&self) -> i64 {
        self.db
    }

    /// Checks the configuration and resolves it into what the connection
    /// needs.
    pub(crate) fn resolve(&self) -> RedisResult<ResolvedSentinel> {
        if self.master_name.is_empty() {
            return Err(config_error(
                "a Sentinel configuration needs the master's name",
            ));
        }
        if self
            .master_name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(config_error(
                "a Sentinel master name cannot hold spaces or control characters",
            ));
        }
        if self.sentinels.is_empty() {
            return Err(config_error(
                "a Sentinel configuration needs at least one sentinel address",
            ));
        }
        if self.db < 0 {
            return Err(config_error("a Redis database number cannot be negative"));
        }
        let sentinel_login = RedisConnectionInfo {
            username: self.sentinel_username.clone(),
            password: self.sentinel_password.clone(),
            ..RedisConnectionInfo::default()
        };
        let sentinels = self
            .sentinels
            .iter()
            .map(|address| {
                let (host, port) = host_and_port(address)?;
                Ok(ConnectionInfo {
                    addr: ConnectionAddr::Tcp(host, port),
                    redis: sentinel_login.clone(),
                })
            })
            .collect::<RedisResult<Vec<_>>>()?;
        Ok(ResolvedSentinel {
            master_name: self.master_name.clone(),
            sentinels,
            master: RedisConnectionInfo {
                db: self.db,
                username: self.username.clone(),
                password: self.password.clone(),
                ..RedisConnectionInfo::default()
            },
        })
    }
}

impl fmt::Debug for SentinelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Passwords are left out; whether there is one is shown.
        f.debug_struct("SentinelConfig")
            .field("master_name", &self.master_name)
            .field("sentinels", &self.sentinels)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("db", &self.db)
            .field("sentinel_username", &self.sentinel_username)
            .field(
                "sentinel_password",
                &self.sentinel_password.as_ref().map(|_| "…"),
            )
            .finish()
    }
}

/// A checked [`SentinelConfig`].
#[cfg_attr(not(feature = "sentinel"), allow(dead_code))]
pub(crate) struct ResolvedSentinel {
    pub(crate) master_name: String,
    /// Each sentinel, with the sentinels' credentials.
    pub(crate) sentinels: Vec<ConnectionInfo>,
    /// The master's credentials and database.
    pub(crate) master: RedisConnectionInfo,
}

/// See [`SentinelConfig::from_url`].
pub(crate) fn parse_url(url: &str) -> RedisResult<SentinelConfig> {
    let Some(rest) = url.strip_prefix(SENTINEL_SCHEME) else {
        return Err(config_error("a Sentinel URL starts with redis+sentinel://"));
    };
    if rest.contains('#') {
        return Err(config_error(
            "a redis+sentinel:// URL takes no fragment (percent-encode `#` in credentials as %23)",
        ));
    }
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let (credentials, rest) = split_credentials(rest);
    let Some((hosts, master_name)) = rest.split_once('/') else {
        return Err(config_error(
            "a redis+sentinel:// URL names the master after the hosts: redis+sentinel://host:port,host:port/master-name",
        ));
    };
    if master_name.is_empty() {
        return Err(config_error(
            "a redis+sentinel:// URL names the master after the hosts: redis+sentinel://host:port,host:port/master-name",
        ));
    }
    if master_name.contains(['/', ',', '%']) {
        return Err(config_error(
            "a Sentinel master name in a URL is one path segment of plain characters (no `/`, `,` or `%`); the database goes in ?db=N",
        ));
    }
    let sentinels: Vec<String> = host_list(hosts).map(str::to_owned).collect();
    if sentinels.is_empty() {
        return Err(config_error(
            "a redis+sentinel:// URL needs at least one sentinel host",
        ));
    }
    let mut config = SentinelConfig::new(master_name, sentinels);
    if let Some(credentials) = credentials {
        let login = decode_login(credentials)?;
        config.username = login.username;
        config.password = login.password;
    }
    let (mut sentinel_username, mut sentinel_password) = (None, None);
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "db" => {
                config.db = value.parse().ok().filter(|db: &i64| *db >= 0).ok_or_else(|| {
                    config_error("?db= in a redis+sentinel:// URL takes a database number (0, 1, …)")
                })?;
            }
            "sentinel_username" => sentinel_username = Some(value),
            "sentinel_password" => sentinel_password = Some(value),
            _ => {
                return Err(RedisError::from((
                    ErrorKind::InvalidClientConfig,
                    "unknown query parameter in a redis+sentinel:// URL (known: db, sentinel_username, sentinel_password)",
                    name.to_owned(),
                )))
            }
        }
    }
    if sentinel_username.is_some() || sentinel_password.is_some() {
        let encoded = format!(
            "{}:{}",
            sentinel_username.unwrap_or_default(),
            sentinel_password.unwrap_or_default()
        );
        if sentinel_username.is_some_and(|user| user.contains(':')) || encoded.contains(['@', '/'])
        {
            return Err(config_error(
                "percent-encode `@`, `/` and `:` in sentinel_username and sentinel_password",
            ));
        }
        let login = decode_login(&encoded)?;
        config.sentinel_username = login.username;
        config.sentinel_password = login.password;
    }
    Ok(config)
}

/// Percent-decodes `user:password` (either part may be empty) the way
/// redis-rs decodes a `redis://` URL's credentials.
fn decode_login(credentials: &str) -> RedisResult<RedisConnectionInfo> {
    format!("redis://{credentials}@sentinel-master")
        .into_connection_info()
        .map(|info| info.redis)
        .map_err(|_| {
            config_error("the credentials of a redis+sentinel:// URL are not valid URL userinfo")
        })
}

/// `host[:port]` or `[v6]:port`, with Sentinel's default port.
fn host_and_port(address: &str) -> RedisResult<(String, u16)> {
    let address = address.trim();
    if address.contains("://") {
        return Err(config_error(
            "a sentinel address is host[:port], without a scheme (credentials go in with_sentinel_password)",
        ));
    }
    let (host, port) = if let Some(bracketed) = address.strip_prefix('[') {
        let Some((host, after)) = bracketed.split_once(']') else {
            return Err(config_error(
                "an IPv6 sentinel address lacks its closing `]`",
            ));
        };
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(config_error("a sentinel address is host[:port]")),
            },
        }
    } else {
        match address.split_once(':') {
            Some((host, port)) if !port.contains(':') => (host, Some(port)),
            Some(_) => {
                return Err(config_error(
                    "an IPv6 sentinel address goes in brackets: [::1]:26379",
                ))
            }
            None => (address, None),
        }
    };
    if host.is_empty() || host.contains(['/', '@', '?', '#', ' ']) {
        return Err(config_error("a sentinel address is host[:port]"));
    }
    let port = match port {
        None => DEFAULT_SENTINEL_PORT,
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|port| *port != 0)
            .ok_or_else(|| config_error("a sentinel port is a number from 1 to 65535"))?,
    };
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> SentinelConfig {
        parse_url(url).unwrap_or_else(|error| panic!("{url}: {error}"))
    }

    fn refused(url: &str) -> String {
        match parse_url(url).and_then(|config| config.resolve().map(|_| config)) {
            Ok(config) => panic!("{url} parsed as {config:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn urls_name_the_sentinels_the_master_and_its_login() {
        let config = parse("redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/mymaster");
        assert_eq!(config.master_name(), "mymaster");
        assert_eq!(config.sentinels(), ["127.0.0.1:26379", "127.0.0.1:26380"]);
        assert_eq!(config.db(), 0);
        assert!(config.username.is_none() && config.password.is_none());

        let config = parse("redis+sentinel://app:p%40ss@w0rd@a, b:1 ,[::1]:2/prod.cache-1?db=3");
        assert_eq!(config.sentinels(), ["a", "b:1", "[::1]:2"]);
        assert_eq!(config.master_name(), "prod.cache-1");
        assert_eq!(config.db(), 3);
        assert_eq!(config.username.as_deref(), Some("app"));
        assert_eq!(config.password.as_deref(), Some("p@ss@w0rd"));
        let resolved = config.resolve().expect("valid");
        let addresses: Vec<String> = resolved
            .sentinels
            .iter()
            .map(|info| info.addr.to_string())
            .collect();
        assert_eq!(addresses, ["a:26379", "b:1", "::1:2"]);
        assert_eq!(resolved.master.db, 3);
        assert!(resolved.sentinels[0].redis.password.is_none());

        let config = parse(
            "redis+sentinel://:secret@h/m?sentinel_password=s%26cret&sentinel_username=watch&db=0",
        );
        assert_eq!(config.username, None);
        assert_eq!(config.password.as_deref(), Some("secret"));
        assert_eq!(config.sentinel_username.as_deref(), Some("watch"));
        assert_eq!(config.sentinel_password.as_deref(), Some("s&cret"));
        let resolved = config.resolve().expect("valid");
        assert_eq!(
            resolved.sentinels[0].redis.password.as_deref(),
            Some("s&cret")
        );
        assert_eq!(resolved.master.password.as_deref(), Some("secret"));
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        let cases = [
            (
                "redis://127.0.0.1/mymaster",
                "starts with redis+sentinel://",
            ),
            ("redis+sentinel://127.0.0.1:26379", "names the master"),
            ("redis+sentinel://127.0.0.1:26379/", "names the master"),
            ("redis+sentinel:///mymaster", "at least one sentinel host"),
            ("redis+sentinel://,/mymaster", "at least one sentinel host"),
            ("redis+sentinel://h/mymaster/2", "one path segment"),
            ("redis+sentinel://h/mymaster?db=x", "?db= "),
            ("redis+sentinel://h/mymaster?db=-1", "?db= "),
            (
                "redis+sentinel://h/mymaster?timeout=3",
                "unknown query parameter",
            ),
            ("redis+sentinel://h/mymaster#x", "no fragment"),
            ("redis+sentinel://h:0/mymaster", "port is a number"),
            ("redis+sentinel://h:port/mymaster", "port is a number"),
            ("redis+sentinel://h:99999/mymaster", "port is a number"),
            ("redis+sentinel://::1:26379/mymaster", "in brackets"),
            ("redis+sentinel://[::1/mymaster", "closing `]`"),
            ("redis+sentinel://h/my%20master", "plain characters"),
            (
                "redis+sentinel://h/m?sentinel_password=a/b",
                "percent-encode",
            ),
        ];
        for (url, expected) in cases {
            let error = refused(url);
            assert!(error.contains(expected), "{url}: {error}");
        }
        // An unknown parameter is named, its value is not.
        let error = refused("redis+sentinel://h/m?password=hunter2");
        assert!(
            error.contains("password") && !error.contains("hunter2"),
            "{error}"
        );
    }

    #[test]
    fn configurations_are_checked() {
        let check = |config: SentinelConfig| match config.resolve() {
            Ok(_) => panic!("{config:?} resolved"),
            Err(error) => error.to_string(),
        };
        assert!(check(SentinelConfig::new("", ["h"])).contains("master's name"));
        assert!(check(SentinelConfig::new("a b", ["h"])).contains("spaces"));
        assert!(check(SentinelConfig::new("m", Vec::<String>::new())).contains("at least one"));
        assert!(check(SentinelConfig::new("m", ["h"]).with_db(-2)).contains("negative"));
        assert!(check(SentinelConfig::new("m", ["redis://h:26379"])).contains("without a scheme"));
        assert!(SentinelConfig::new("m", ["h", "h:1"]).resolve().is_ok());
    }

    #[test]
    fn debug_output_holds_no_password() {
        let config = SentinelConfig::new("m", ["h"])
            .with_password("hunter2")
            .with_sentinel_password("swordfish");
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("swordfish"),
            "{shown}"
        );
    }
}
