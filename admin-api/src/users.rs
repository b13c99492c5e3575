//! People who use the admin UI: accounts with a role and the sites they may
//! see, passwords hashed with argon2id (the `argon2` crate's defaults: 19 MiB,
//! 2 passes), never stored or logged in clear.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
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

pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::BadRequest(format!("cannot hash the password: {e}")))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
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
    if password.chars().count() < 10 {
        return Err(ApiError::BadRequest("password: at least 10 characters".into()));
    }
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
    .bind(pipeline::events::now_ms())
    .execute(db)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(ApiError::Conflict(format!("user {username:?} already exists")));
    }
    Ok(user)
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
        None => DUMMY.get_or_init(|| hash_password("not a real account's password").unwrap_or_default()).clone(),
    };
    let ok = tokio::task::spawn_blocking({
        let password = password.to_string();
        move || verify_password(&password, &hash)
    })
    .await
    .unwrap_or(false);
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

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Guard < Role::Admin && Role::Admin < Role::Superadmin);
        let u = User { id: "1".into(), username: "g".into(), role: Role::Guard, sites: vec!["a".into()] };
        assert!(u.sees_site("a") && !u.sees_site("b"));
    }
}
