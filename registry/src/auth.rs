//! Optional HTTP basic authentication, with two roles.
//!
//! A **reader** may do what changes nothing: every `GET`, a lookup (`POST
//! /subjects/{subject}`) and a compatibility check (`POST /compatibility/...`). An
//! **admin** may also register (`POST /subjects/{subject}/versions`), delete (every
//! `DELETE`) and change levels (every `PUT`, on `/config`). `GET /metrics` stays open:
//! it holds route templates and counts, never a subject or a credential, and
//! Prometheus scrapes it.
//!
//! The users come from the environment (see [`Users::from_lookup`]); a password is read
//! from a variable or from a file, is kept as a [`SecretString`], and is never logged,
//! printed by `Debug` or answered.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// The admin's user name; setting it turns authentication on.
pub const ADMIN_USER: &str = "LEDGERSTREAM_REGISTRY_ADMIN_USER";
/// The admin's password.
pub const ADMIN_PASSWORD: &str = "LEDGERSTREAM_REGISTRY_ADMIN_PASSWORD";
/// A file that holds the admin's password (instead of [`ADMIN_PASSWORD`]).
pub const ADMIN_PASSWORD_FILE: &str = "LEDGERSTREAM_REGISTRY_ADMIN_PASSWORD_FILE";
/// The read-only user's name (optional).
pub const READER_USER: &str = "LEDGERSTREAM_REGISTRY_READER_USER";
/// The read-only user's password.
pub const READER_PASSWORD: &str = "LEDGERSTREAM_REGISTRY_READER_PASSWORD";
/// A file that holds the read-only user's password (instead of [`READER_PASSWORD`]).
pub const READER_PASSWORD_FILE: &str = "LEDGERSTREAM_REGISTRY_READER_PASSWORD_FILE";

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads, lookups and compatibility checks.
    Reader,
    /// Everything: also registering, deleting and changing compatibility levels.
    Admin,
}

/// One user: a name and a password.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// The user name, sent in the clear inside the `Authorization` header.
    pub username: String,
    /// The password. Never printed: `Debug` shows it redacted.
    pub password: SecretString,
}

impl Credentials {
    /// Whether `username` and `password` are these; the comparison takes the same
    /// time wherever the first difference is.
    fn matches(&self, username: &str, password: &str) -> bool {
        let name = self.username.as_bytes().ct_eq(username.as_bytes());
        let secret = self
            .password
            .expose_secret()
            .as_bytes()
            .ct_eq(password.as_bytes());
        (name & secret).into()
    }
}

/// The users of a registry with authentication on: an admin, and optionally a
/// read-only user.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Users {
    /// May do everything.
    pub admin: Credentials,
    /// May only read (lookups and compatibility checks included).
    #[serde(default)]
    pub reader: Option<Credentials>,
}

/// Users that cannot be set up; the message names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct UsersError {
    pub variable: &'static str,
    pub problem: String,
}

/// Why a request was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No credentials, unreadable ones, or ones that match no user: 401.
    Unauthenticated,
    /// A known user without the role the request needs: 403.
    Forbidden,
}

impl Users {
    /// The users from `ADMIN_*` and `READER_*` variables ([`ADMIN_USER`] ...); `None`
    /// when no admin user is set (authentication off). Empty values count as unset.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, UsersError> {
        let lookup = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let admin = credentials(&lookup, ADMIN_USER, ADMIN_PASSWORD, ADMIN_PASSWORD_FILE)?;
        let reader = credentials(&lookup, READER_USER, READER_PASSWORD, READER_PASSWORD_FILE)?;
        match (admin, reader) {
            (Some(admin), reader) => {
                if reader
                    .as_ref()
                    .is_some_and(|reader| reader.username == admin.username)
                {
                    return Err(UsersError {
                        variable: READER_USER,
                        problem: "the read-only user must not have the admin's name".into(),
                    });
                }
                Ok(Some(Self { admin, reader }))
            }
            (None, Some(_)) => Err(UsersError {
                variable: ADMIN_USER,
                problem: "a read-only user is set without an admin; set the admin too, \
                          or nobody could register a schema"
                    .into(),
            }),
            (None, None) => Ok(None),
        }
    }

    /// The role of the user an `Authorization` header names, if any.
    pub fn authenticate(&self, authorization: Option<&[u8]>) -> Result<Role, Denied> {
        let (username, password) = authorization
            .and_then(basic_credentials)
            .ok_or(Denied::Unauthenticated)?;
        if self.admin.matches(&username, &password) {
            return Ok(Role::Admin);
        }
        match &self.reader {
            Some(reader) if reader.matches(&username, &password) => Ok(Role::Reader),
            _ => Err(Denied::Unauthenticated),
        }
    }

    /// Lets a request with this `Authorization` header through, or says why not.
    pub fn admit(&self, authorization: Option<&[u8]>, needs: Role) -> Result<Role, Denied> {
        let role = self.authenticate(authorization)?;
        if role < needs {
            return Err(Denied::Forbidden);
        }
        Ok(role)
    }
}

/// The role a request needs, from its method and route template (`None` for a path
/// that matched no route).
pub fn required_role(method: &str, route: Option<&str>) -> Role {
    match (method, route) {
        ("DELETE" | "PUT", _) => Role::Admin,
        ("POST", Some("/subjects/{subject}/versions")) => Role::Admin,
        _ => Role::Reader,
    }
}

/// Paths served without authentication.
pub fn is_open(route: Option<&str>) -> bool {
    route == Some("/metrics")
}

/// One user from a name variable and a password variable or file.
fn credentials(
    lookup: &impl Fn(&str) -> Option<String>,
    user: &'static str,
    password: &'static str,
    password_file: &'static str,
) -> Result<Option<Credentials>, UsersError> {
    let secret = match (lookup(password), lookup(password_file)) {
        (Some(_), Some(_)) => {
            return Err(UsersError {
                variable: password_file,
                problem: format!("set either {password} or {password_file}, not both"),
            });
        }
        (Some(secret), None) => Some(SecretString::from(secret)),
        (None, Some(path)) => Some(read_password(password_file, Path::new(&path))?),
        (None, None) => None,
    };
    match (lookup(user), secret) {
        (Some(username), Some(password)) => {
            if username.contains(':') {
                return Err(UsersError {
                    variable: user,
                    problem: "a user name cannot hold ':' in basic authentication".into(),
                });
            }
            Ok(Some(Credentials { username, password }))
        }
        (Some(_), None) => Err(UsersError {
            variable: password,
            problem: format!("the user has no password; set {password} or {password_file}"),
        }),
        (None, Some(_)) => Err(UsersError {
            variable: user,
            problem: format!("a password is set without a user; set {user}"),
        }),
        (None, None) => Ok(None),
    }
}

/// A password file's content, without the line break an editor leaves at its end.
fn read_password(variable: &'static str, path: &Path) -> Result<SecretString, UsersError> {
    let text = std::fs::read_to_string(path).map_err(|error| UsersError {
        variable,
        problem: format!("cannot read {}: {error}", path.display()),
    })?;
    let password = text.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(UsersError {
            variable,
            problem: format!("{} is empty", path.display()),
        });
    }
    Ok(SecretString::from(password.to_owned()))
}

/// `Basic base64(user:password)` → (user, password).
fn basic_credentials(header: &[u8]) -> Option<(String, String)> {
    let header = std::str::from_utf8(header).ok()?.trim();
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (username, password) = decoded.split_once(':')?;
    Some((username.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &[(&'static str, String)]) -> impl Fn(&str) -> Option<String> {
        let vars = vars.to_vec();
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        }
    }

    fn users() -> Users {
        Users::from_lookup(lookup(&[
            (ADMIN_USER, "root".into()),
            (ADMIN_PASSWORD, "admin-secret".into()),
            (READER_USER, "app".into()),
            (READER_PASSWORD, "reader-secret".into()),
        ]))
        .unwrap()
        .unwrap()
    }

    fn basic(user: &str, password: &str) -> Vec<u8> {
        format!("Basic {}", STANDARD.encode(format!("{user}:{password}"))).into_bytes()
    }

    #[test]
    fn each_user_gets_its_role_and_nobody_else_gets_in() {
        let users = users();
        let admit = |header: Option<Vec<u8>>, needs| users.admit(header.as_deref(), needs);
        assert_eq!(
            admit(Some(basic("root", "admin-secret")), Role::Admin),
            Ok(Role::Admin)
        );
        assert_eq!(
            admit(Some(basic("app", "reader-secret")), Role::Reader),
            Ok(Role::Reader)
        );
        assert_eq!(
            admit(Some(basic("app", "reader-secret")), Role::Admin),
            Err(Denied::Forbidden)
        );
        for wrong in [
            Some(basic("app", "admin-secret")),
            Some(basic("root", "reader-secret")),
            Some(basic("root", "admin-secret ")),
            Some(b"Bearer admin-secret".to_vec()),
            Some(b"Basic !!!".to_vec()),
            None,
        ] {
            assert_eq!(admit(wrong, Role::Reader), Err(Denied::Unauthenticated));
        }
    }

    #[test]
    fn writes_deletes_and_level_changes_need_the_admin() {
        let versions = Some("/subjects/{subject}/versions");
        assert_eq!(required_role("POST", versions), Role::Admin);
        assert_eq!(required_role("GET", versions), Role::Reader);
        assert_eq!(
            required_role("DELETE", Some("/subjects/{subject}")),
            Role::Admin
        );
        assert_eq!(required_role("PUT", Some("/config")), Role::Admin);
        assert_eq!(
            required_role("POST", Some("/subjects/{subject}")),
            Role::Reader
        );
        let check = Some("/compatibility/subjects/{subject}/versions");
        assert_eq!(required_role("POST", check), Role::Reader);
        assert_eq!(required_role("GET", None), Role::Reader);
        assert!(is_open(Some("/metrics")) && !is_open(Some("/subjects")) && !is_open(None));
    }

    #[test]
    fn passwords_come_from_a_file_and_never_show_in_debug_output() {
        let file = std::env::temp_dir().join(format!("registry-auth-{}", std::process::id()));
        std::fs::write(&file, "from-a-file\n").unwrap();
        let users = Users::from_lookup(lookup(&[
            (ADMIN_USER, "root".into()),
            (ADMIN_PASSWORD_FILE, file.display().to_string()),
        ]))
        .unwrap()
        .unwrap();
        std::fs::remove_file(&file).unwrap();
        assert_eq!(
            users.admit(Some(&basic("root", "from-a-file")), Role::Admin),
            Ok(Role::Admin)
        );
        let shown = format!("{users:?}");
        assert!(!shown.contains("from-a-file"), "{shown}");
    }

    #[test]
    fn settings_that_cannot_work_name_their_variable() {
        let error = |vars: &[(&'static str, String)]| {
            Users::from_lookup(lookup(vars)).unwrap_err().variable
        };
        assert_eq!(error(&[(ADMIN_USER, "root".into())]), ADMIN_PASSWORD);
        assert_eq!(error(&[(ADMIN_PASSWORD, "p".into())]), ADMIN_USER);
        assert_eq!(
            error(&[(READER_USER, "app".into()), (READER_PASSWORD, "p".into())]),
            ADMIN_USER
        );
        assert_eq!(
            error(&[
                (ADMIN_USER, "root".into()),
                (ADMIN_PASSWORD, "p".into()),
                (ADMIN_PASSWORD_FILE, "/x".into()),
            ]),
            ADMIN_PASSWORD_FILE
        );
        assert_eq!(
            error(&[
                (ADMIN_USER, "root".into()),
                (ADMIN_PASSWORD_FILE, "/nonexistent/password".into()),
            ]),
            ADMIN_PASSWORD_FILE
        );
        assert_eq!(
            error(&[(ADMIN_USER, "a:b".into()), (ADMIN_PASSWORD, "p".into())]),
            ADMIN_USER
        );
        assert!(Users::from_lookup(lookup(&[])).unwrap().is_none());
    }
}
