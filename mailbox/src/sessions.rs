//! Server-side sessions: the browser holds only a random id in a `__Host-` cookie (Secure,
//! HttpOnly, SameSite=Strict, Path=/). Each session has its own CSRF token, checked on every
//! form; the id changes whenever the session gains rights (after the password, after the
//! second factor), so an id planted before login is worth nothing; idle sessions expire.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::constant_time;

/// The session cookie's name (`__Host-`: the browser keeps it only for this host, secure,
/// path /).
pub const COOKIE: &str = "__Host-sealpost_session";

/// How far a login has come.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Nobody yet (the login form's CSRF token lives here).
    Anonymous,
    /// The password was right; the TOTP code is next.
    PasswordChecked { login: String },
    /// Both factors, but the password must be changed first.
    MustChangePassword { login: String },
    /// Logged in.
    LoggedIn { login: String },
}

/// How the person of a session proved who they are: in words (for the handover of a letter
/// they open and the audit log), and the authentication level it counts as (a message type
/// may need a least level to be opened).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginMethod {
    pub how: String,
    pub level: u8,
}

#[derive(Clone, Debug)]
pub struct Session {
    pub stage: Stage,
    pub csrf: String,
    /// Unix seconds.
    pub last_seen: u64,
    /// Set once the person is authenticated (kept as the session advances).
    pub login_method: Option<LoginMethod>,
}

/// Every live session.
#[derive(Debug)]
pub struct Sessions {
    idle_timeout_s: u64,
    live: Mutex<HashMap<String, Session>>,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // aws-lc aborts if the system RNG fails; nothing sensible is left to do then.
    aws_lc_rs::rand::fill(&mut bytes).expect("system random number generator");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Sessions {
    pub fn new(idle_timeout_s: u64) -> Sessions {
        Sessions {
            idle_timeout_s,
            live: Mutex::new(HashMap::new()),
        }
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new session at `stage`; its id.
    pub fn start(&self, stage: Stage, now: u64) -> String {
        self.start_with(stage, None, now)
    }

    /// A new session at `stage`, authenticated by `login_method`; its id.
    pub fn start_with(&self, stage: Stage, login_method: Option<LoginMethod>, now: u64) -> String {
        let id = random_token();
        let mut live = self.live();
        // Forget idle sessions as new ones come.
        let timeout = self.idle_timeout_s;
        live.retain(|_, s| now.saturating_sub(s.last_seen) < timeout);
        live.insert(
            id.clone(),
            Session {
                stage,
                csrf: random_token(),
                last_seen: now,
                login_method,
            },
        );
        id
    }

    /// The session of `id`, if it exists and is not idle for too long; touching it.
    pub fn get(&self, id: &str, now: u64) -> Option<Session> {
        let mut live = self.live();
        let idle = live
            .get(id)
            .is_some_and(|s| now.saturating_sub(s.last_seen) >= self.idle_timeout_s);
        if idle {
            live.remove(id);
            return None;
        }
        let session = live.get_mut(id)?;
        session.last_seen = now;
        Some(session.clone())
    }

    /// Moves the session `id` to `stage` under a new id (the old one stops working), keeping
    /// how it was authenticated; the new id.
    pub fn advance(&self, id: &str, stage: Stage, now: u64) -> Option<String> {
        let old = self.live().remove(id)?;
        Some(self.start_with(stage, old.login_method, now))
    }

    /// Moves the session `id` to `stage`, now authenticated by `login_method`, under a new
    /// id; the new id.
    pub fn authenticate(
        &self,
        id: &str,
        stage: Stage,
        login_method: LoginMethod,
        now: u64,
    ) -> Option<String> {
        self.live().remove(id)?;
        Some(self.start_with(stage, Some(login_method), now))
    }

    pub fn end(&self, id: &str) {
        self.live().remove(id);
    }

    /// Whether `token` is the CSRF token of session `id` (compared in constant time).
    pub fn csrf_ok(&self, id: &str, token: &str) -> bool {
        self.live().get(id).is_some_and(|s| {
            constant_time::verify_slices_are_equal(s.csrf.as_bytes(), token.as_bytes()).is_ok()
        })
    }
}

/// The `Set-Cookie` value for session `id`.
pub fn cookie(id: &str) -> String {
    format!("{COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Strict")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn cookie_removal() -> String {
    format!("{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The session id of a `Cookie` header, if any.
pub fn session_id(cookie_header: &str) -> Option<&str> {
    cookie_header
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_changes_the_id_and_the_old_one_stops_working() {
        let sessions = Sessions::new(900);
        let planted = sessions.start(Stage::Anonymous, 0);
        let next = sessions
            .advance(
                &planted,
                Stage::PasswordChecked {
                    login: "marie".into(),
                },
                10,
            )
            .expect("advanced");
        assert_ne!(planted, next);
        assert!(sessions.get(&planted, 10).is_none());
        assert!(sessions.advance(&planted, Stage::Anonymous, 10).is_none());
        assert_eq!(
            sessions.get(&next, 11).map(|s| s.stage),
            Some(Stage::PasswordChecked {
                login: "marie".into()
            })
        );
    }

    #[test]
    fn idle_sessions_expire_and_csrf_tokens_belong_to_their_session() {
        let sessions = Sessions::new(900);
        let a = sessions.start(Stage::Anonymous, 0);
        let b = sessions.start(Stage::Anonymous, 0);
        let token_a = sessions.get(&a, 1).expect("a").csrf;
        assert!(sessions.csrf_ok(&a, &token_a));
        assert!(!sessions.csrf_ok(&b, &token_a));
        assert!(!sessions.csrf_ok(&a, ""));
        assert!(sessions.get(&a, 899).is_some());
        assert!(sessions.get(&a, 1799).is_none(), "idle for 900 s");
        assert!(sessions.get(&b, 1799).is_none());
    }

    #[test]
    fn the_cookie_is_host_only_secure_http_only_and_strict() {
        let c = cookie(&"ab".repeat(32));
        for flag in ["__Host-", "Path=/", "Secure", "HttpOnly", "SameSite=Strict"] {
            assert!(c.contains(flag), "{c}");
        }
        assert!(!c.contains("Domain"));
        let id = "cd".repeat(32);
        assert_eq!(
            session_id(&format!("lang=fr; {COOKIE}={id}; x=y")),
            Some(id.as_str())
        );
        assert_eq!(session_id(&format!("{COOKIE}=short")), None);
    }
}
