//! Which sites a signed-in user may see and act on, decided in one place.
//!
//! A superadmin sees every site; anyone else the sites they were given. Role
//! checks are extractors (`RequireAdmin`, `SignedIn`); the site is most often
//! known only from the row a handler reads (an event's, an agent's), so the
//! scope is asked of the user once that row is in hand, never re-written.

use crate::error::ApiError;
use crate::users::{Role, User};

/// The sites a list (log, statistics, people) may cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every site (a superadmin who named none).
    All,
    /// These sites only.
    Sites(Vec<String>),
}

impl Scope {
    /// The sites named, or `None` for every site.
    pub fn named(self) -> Option<Vec<String>> {
        match self {
            Scope::All => None,
            Scope::Sites(sites) => Some(sites),
        }
    }
}

impl User {
    /// `Ok` if this user sees `site`; else 403 "site … is not yours".
    pub fn require_site(&self, site: &str) -> Result<(), ApiError> {
        if self.sees_site(site) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("site {site:?} is not yours: choose one of your sites")))
        }
    }

    /// `Ok` if this user sees every one of `sites`; else 403 naming the first
    /// that is not theirs.
    pub fn require_sites<'a>(&self, sites: impl IntoIterator<Item = &'a String>) -> Result<(), ApiError> {
        sites.into_iter().try_for_each(|s| self.require_site(s))
    }

    /// The sites a request covers: the one asked for (blank: none asked) if
    /// the user sees it, else every site the user sees.
    pub fn scope(&self, asked: Option<&str>) -> Result<Scope, ApiError> {
        match asked.map(str::trim).filter(|s| !s.is_empty()) {
            Some(site) => self.require_site(site).map(|()| Scope::Sites(vec![site.to_string()])),
            None if self.role == Role::Superadmin => Ok(Scope::All),
            None => Ok(Scope::Sites(self.sites.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role, sites: &[&str]) -> User {
        User { id: "u".into(), username: "u".into(), role, sites: sites.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn a_user_is_held_to_their_sites_and_a_superadmin_to_none() {
        let admin = user(Role::Admin, &["a", "b"]);
        assert!(admin.require_site("a").is_ok());
        assert!(matches!(admin.require_site("c"), Err(ApiError::Forbidden(m)) if m.contains("\"c\"")));
        assert!(admin.require_sites(&["a".to_string(), "b".to_string()]).is_ok());
        assert!(admin.require_sites(&["a".to_string(), "c".to_string()]).is_err());
        assert_eq!(admin.scope(None).ok(), Some(Scope::Sites(vec!["a".into(), "b".into()])));
        assert_eq!(admin.scope(Some(" ")).ok(), Some(Scope::Sites(vec!["a".into(), "b".into()])));
        assert_eq!(admin.scope(Some("b")).ok(), Some(Scope::Sites(vec!["b".into()])));
        assert!(admin.scope(Some("c")).is_err());
        let root = user(Role::Superadmin, &[]);
        assert_eq!(root.scope(None).ok(), Some(Scope::All));
        assert!(root.require_site("anywhere").is_ok());
    }
}
