//! People who use the admin UI: accounts with a role and the sites they may
//! see, passwords hashed with argon2id (the `argon2` crate's defaults: 19 MiB,
//! 2 passes), never stored or logged in clear.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use serde::{Deserialize, Serialize};
use sqlx::{AnyPool, Row};

use crate::error::ApiError;

/// What a user may do. Ordered: each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Live alerts of assigned sites, and acknowledging them.
    Guard,
    /// Everything for assigned sites: enrolment, the visitor log, statistics.
    Admin,
    /// Users, sites, retention; every site.
    Superadmin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Guard => "guard",
            Role::Admin => "admin",
            Role::Superadmin => "superadmin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "guard" => Some(Role::Guard),
            "admin" => Some(Role::Admin),
            "superadmin" => Some(Role::Superadmin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub role: Role,
    /// Sites this user may see (a superadmin sees all).
    pub sites: Vec<String>,
}

impl User {
    pub fn sees_site(&self, site: &str) -> bool {
        self.role == Role::Superadmin || self.sites.iter().any(|s| s == site)
    }
}

/// argon2 runs at most this many at once (19 MiB each): a flood of logins
/// waits its turn instead of exhausting memory and the blocking pool.
const ARGON2_AT_ONCE: usize = 2;
/// How long a login waits for its turn before it is told to retry.
const ARGON2_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

type Job = Box<dyn FnOnce() + Send>;

/// The threads argon2 runs on: [`ARGON2_AT_ONCE`] of them, always the same.
/// On the shared blocking pool each new thread kept its own 19 MiB malloc
/// arena (measured: 500 parallel logins took the process from 19 MB to
/// 488 MB); on two fixed threads the memory is two arenas, whatever comes.
fn argon2_threads() -> Option<&'static std::sync::Mutex<std::sync::mpsc::Sender<Job>>> {
    static POOL: std::sync::OnceLock<Option<std::sync::Mutex<std::sync::mpsc::Sender<Job>>>> =
        std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for i in 0..ARGON2_AT_ONCE {
            let rx = std::sync::Arc::clone(&rx);
            let spawned = std::thread::Builder::new().name(format!("argon2-{i}")).spawn(move || {
                loop {
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(p) => p.into_inner().recv(),
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password-hashing thread");
                return None;
            }
        }
        Some(std::sync::Mutex::new(tx))
    })
    .as_ref()
}

/// Runs an argon2 computation on its own threads, at most
/// [`ARGON2_AT_ONCE`] at a time; a request that cannot get a turn within
/// [`ARGON2_WAIT`] is told to retry.
async fn with_argon2<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    static SLOTS: std::sync::OnceLock<std::sync::Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    let slots = SLOTS.get_or_init(|| std::sync::Arc::new(tokio::sync::Semaphore::new(ARGON2_AT_ONCE)));
    let slot = tokio::time::timeout(ARGON2_WAIT, std::sync::Arc::clone(slots).acquire_owned())
        .await
        .map_err(|_| ApiError::TooMany("too many sign-ins at once; try again in a few seconds".into()))?
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let (done, result) = tokio::sync::oneshot::channel();
    // The turn travels with the job: a request abandoned by its client
    // (the socket closed) keeps its turn until its job is skipped, so the
    // queue never holds more than ARGON2_AT_ONCE jobs.
    let job: Job = Box::new(move || {
        let _slot = slot;
        if !done.is_closed() {
            let _ = done.send(work());
        }
    });
    let threads = argon2_threads().ok_or_else(|| ApiError::Unavailable("password checking is not available".into()))?;
    threads
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send(job)
        .map_err(|_| ApiError::Unavailable("password checking stopped".into()))?;
    result.await.map_err(|_| ApiError::Unavailable("password check failed".into()))
}

thread_local! {
    /// argon2's working memory (19 MiB), kept by each of its threads and
    /// reused: allocating it per call grew the process by ~19 MB per login
    /// that was never given back (measured: 12 logins, 19 → 234 MB).
    static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// argon2 of `password` with `salt` into `out`, in this thread's kept memory.
fn argon2_into(argon: &Argon2, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<(), argon2::Error> {
    BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        let n = argon.params().block_count();
        if blocks.len() != n {
            blocks.resize(n, argon2::Block::default());
        }
        argon.hash_password_into_with_memory(password, salt, out, &mut blocks[..])
    })
}

pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let fail = |e: String| ApiError::BadRequest(format!("cannot hash the password: {e}"));
    let salt = SaltString::generate(&mut OsRng);
    let argon = Argon2::default();
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt.decode_b64(&mut salt_bytes).map_err(|e| fail(e.to_string()))?;
    let mut out = [0u8; 32];
    argon2_into(&argon, password.as_bytes(), salt_raw, &mut out).map_err(|e| fail(e.to_string()))?;
    let hash = PasswordHash {
        algorithm: argon2::Algorithm::Argon2id.ident(),
        version: Some(argon2::Version::V0x13.into()),
        params: argon2::password_hash::ParamsString::try_from(argon.params()).map_err(|e| fail(e.to_string()))?,
        salt: Some(salt.as_salt()),
        hash: Some(argon2::password_hash::Output::new(&out).map_err(|e| fail(e.to_string()))?),
    };
    Ok(hash.to_string())
}

fn verify_password(password: &str, hash: &str) -> bool {
    let check = || -> Option<bool> {
        let parsed = PasswordHash::new(hash).ok()?;
        let algorithm = argon2::Algorithm::try_from(parsed.algorithm).ok()?;
        let version = parsed.version.map(argon2::Version::try_from).transpose().ok()?.unwrap_or_default();
        let params = argon2::Params::try_from(&parsed).ok()?;
        let expected = parsed.hash?;
        let mut salt = [0u8; 64];
        let salt = parsed.salt?.decode_b64(&mut salt).ok()?;
        let mut out = vec![0u8; expected.len()];
        argon2_into(&Argon2::new(algorithm, version, params), password.as_bytes(), salt, &mut out).ok()?;
        // `Output`'s equality is constant-time.
        Some(argon2::password_hash::Output::new(&out).ok()? == expected)
    };
    check().unwrap_or(false)
}

fn split_sites(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

pub fn user_from_row(row: &sqlx::any::AnyRow) -> Result<User, ApiError> {
    let role: String = row.try_get("role")?;
    let sites: String = row.try_get("sites")?;
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        role: Role::parse(&role).ok_or_else(|| ApiError::BadRequest(format!("stored role {role:?} is unknown")))?,
        sites: split_sites(&sites),
    })
}

/// The password policy, said once for every way a password is set.
fn check_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < 10 {
        return Err(ApiError::BadRequest("password: at least 10 characters".into()));
    }
    if password.len() > 1024 {
        return Err(ApiError::BadRequest("password: at most 1024 bytes".into()));
    }
    Ok(())
}

pub fn valid_username(u: &str) -> bool {
    (3..=64).contains(&u.len()) && u.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

pub async fn create(
    db: &AnyPool,
    username: &str,
    password: &str,
    role: Role,
    sites: &[String],
) -> Result<User, ApiError> {
    if !valid_username(username) {
        return Err(ApiError::BadRequest("username: 3–64 letters, digits, '.', '_' or '-'".into()));
    }
    check_password(password)?;
    if role != Role::Superadmin && sites.is_empty() {
        return Err(ApiError::BadRequest("sites: a guard or admin needs at least one site".into()));
    }
    let user =
        User { id: uuid::Uuid::new_v4().to_string(), username: username.to_string(), role, sites: sites.to_vec() };
    let inserted = sqlx::query(
        "INSERT INTO users (id, username, password_hash, role, sites, created_ms) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (username) DO NOTHING",
    )
    .bind(&user.id)
    .bind(&user.username)
    .bind(hash_password(password)?)
    .bind(role.as_str())
    .bind(sites.join(","))
    .bind(wire::time::now_ms())
    .execute(db)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(ApiError::Conflict(format!("user {username:?} already exists")));
    }
    Ok(user)
}

/// What can be done to an account to take access away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// The account can no longer sign in; its sessions end.
    Disable,
    /// The account can sign in again (its password unchanged).
    Enable,
    /// Every session of the account ends (signed out everywhere).
    EndSessions,
}

impl Revocation {
    pub fn audit_action(self) -> &'static str {
        match self {
            Revocation::Disable => "user_disabled",
            Revocation::Enable => "user_enabled",
            Revocation::EndSessions => "sessions_ended",
        }
    }
}

/// Applies a revocation to `username`; `NotFound` when there is no such account.
pub async fn revoke(db: &AnyPool, username: &str, what: Revocation) -> Result<(), ApiError> {
    let mut tx = db.begin().await?;
    let disabled = match what {
        Revocation::Disable => Some(1),
        Revocation::Enable => Some(0),
        Revocation::EndSessions => None,
    };
    let found = match disabled {
        Some(d) => sqlx::query("UPDATE users SET disabled = $2 WHERE username = $1")
            .bind(username)
            .bind(d)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
        None => sqlx::query("SELECT id FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?
            .map_or(0, |_| 1),
    };
    if found == 0 {
        return Err(ApiError::NotFound(format!("no user {username:?}")));
    }
    if what != Revocation::Enable {
        sqlx::query("DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = $1)")
            .bind(username)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Sets a new password and ends every session of the account except
/// `keep` (the session that changed its own password).
pub async fn set_password(db: &AnyPool, username: &str, password: &str, keep: Option<&str>) -> Result<(), ApiError> {
    check_password(password)?;
    let hash = {
        let password = password.to_string();
        with_argon2(move || hash_password(&password)).await??
    };
    let mut tx = db.begin().await?;
    let changed = sqlx::query("UPDATE users SET password_hash = $2 WHERE username = $1")
        .bind(username)
        .bind(hash)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if changed == 0 {
        return Err(ApiError::NotFound(format!("no user {username:?}")));
    }
    sqlx::query("DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = $1) AND id_sha256 <> $2")
        .bind(username)
        .bind(keep.unwrap_or(""))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Whether `password` is this user's (for a change of one's own password).
pub async fn password_is(db: &AnyPool, user_id: &str, password: &str) -> Result<bool, ApiError> {
    let Some(row) =
        sqlx::query("SELECT password_hash FROM users WHERE id = $1").bind(user_id).fetch_optional(db).await?
    else {
        return Ok(false);
    };
    let hash: String = row.try_get("password_hash")?;
    let password = password.to_string();
    with_argon2(move || verify_password(&password, &hash)).await
}

/// Registers edge agent `id` for `site`; its new bearer token (stored
/// hashed, so shown once). A revoked agent (a replaced gate box) is
/// registered again; one holding a valid token is refused.
pub async fn register_agent(db: &AnyPool, id: &str, site: &str) -> Result<String, ApiError> {
    let token = crate::auth::new_token();
    let done = sqlx::query(
        "INSERT INTO agents (id, site, token_sha256, created_ms) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET site = $2, token_sha256 = $3, created_ms = $4, revoked_ms = NULL
         WHERE agents.revoked_ms IS NOT NULL",
    )
    .bind(id)
    .bind(site)
    .bind(crate::auth::hash_token(&token))
    .bind(wire::time::now_ms())
    .execute(db)
    .await?;
    if done.rows_affected() != 1 {
        return Err(ApiError::Conflict(format!(
            "agent {id:?} is registered with a valid token already: revoke it first (admin-api revoke-agent --id {id})"
        )));
    }
    Ok(token)
}

/// Revokes an edge agent's token: refused from the next request on.
pub async fn revoke_agent(db: &AnyPool, id: &str) -> Result<(), ApiError> {
    let done = sqlx::query("UPDATE agents SET revoked_ms = $2 WHERE id = $1 AND revoked_ms IS NULL")
        .bind(id)
        .bind(wire::time::now_ms())
        .execute(db)
        .await?
        .rows_affected();
    if done == 0 {
        return Err(ApiError::NotFound(format!("no agent {id:?} with a valid token")));
    }
    // A revoked id may be registered again, maybe for another site: nothing
    // of this box (camera passwords, snapshots) may pass to it.
    crate::fleet::forget_agent(db, None, id).await
}

/// The user with these credentials, if they are right and the account is active.
pub async fn authenticate(db: &AnyPool, username: &str, password: &str) -> Result<Option<User>, ApiError> {
    let row =
        sqlx::query("SELECT id, username, password_hash, role, sites FROM users WHERE username = $1 AND disabled = 0")
            .bind(username)
            .fetch_optional(db)
            .await?;
    // A missing account costs the same work as a wrong password, so that
    // timing does not tell which usernames exist.
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash: String = match &row {
        Some(r) => r.try_get("password_hash")?,
        None => match DUMMY.get() {
            Some(h) => h.clone(),
            None => {
                let h = with_argon2(|| hash_password("not a real account's password").unwrap_or_default()).await?;
                DUMMY.get_or_init(|| h).clone()
            }
        },
    };
    let ok = with_argon2({
        let password = password.to_string();
        move || verify_password(&password, &hash)
    })
    .await?;
    match row {
        Some(r) if ok => user_from_row(&r).map(Some),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_salted_argon2id_and_verify() {
        let a = hash_password("correct horse battery").expect("hash");
        let b = hash_password("correct horse battery").expect("hash");
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salted");
        assert!(verify_password("correct horse battery", &a));
        assert!(!verify_password("wrong horse battery", &a));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn argon2_runs_at_most_two_at_a_time_however_many_ask() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let (now, most) = (Arc::clone(&now), Arc::clone(&most));
                tokio::spawn(with_argon2(move || {
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    now.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for t in tasks {
            t.await.expect("task").expect("a turn within the wait");
        }
        assert_eq!(most.load(Ordering::SeqCst), ARGON2_AT_ONCE);
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Guard < Role::Admin && Role::Admin < Role::Superadmin);
        let u = User { id: "1".into(), username: "g".into(), role: Role::Guard, sites: vec!["a".into()] };
        assert!(u.sees_site("a") && !u.sees_site("b"));
    }
}
