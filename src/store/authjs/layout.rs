//! Which Auth.js adapter made the source database: table names by adapter family, the columns
//! each table has, and the optional ones (password, timestamps, ids) found there. Pure: works on
//! the catalog read by `mod.rs`.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
};

/// The tables and columns of the source database's schema, exactly as named there.
pub(in crate::store) type Catalog = BTreeMap<String, BTreeSet<String>>;

/// The adapter family whose table names the source uses. Column names are the same in all of
/// them (Auth.js's model: `userId`, `providerAccountId`, `emailVerified`, `sessionToken`,
/// `credentialID`, … and the OAuth token fields in snake case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutKind {
    /// `@auth/prisma-adapter` (and `@auth/kysely-adapter`): `"User"`, `"Account"`, `"Session"`,
    /// `"VerificationToken"`, `"Authenticator"`.
    Prisma,
    /// `@auth/pg-adapter` and the other SQL adapters: `users`, `accounts`, `sessions`,
    /// `verification_token`, `authenticators`.
    SqlAdapter,
    /// `@auth/drizzle-adapter` defaults: `user`, `account`, `session`, `verificationToken`,
    /// `authenticator`.
    Drizzle,
}

impl fmt::Display for LayoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Prisma => "Prisma adapter layout (also Kysely's)",
            Self::SqlAdapter => "SQL adapter layout (@auth/pg-adapter and alike)",
            Self::Drizzle => "Drizzle adapter layout",
        })
    }
}

/// One family's table names: users, accounts, sessions, verification tokens, authenticators.
struct Family {
    kind: LayoutKind,
    users: &'static str,
    accounts: &'static str,
    sessions: &'static str,
    verification_tokens: &'static [&'static str],
    authenticators: &'static str,
}

const FAMILIES: [Family; 3] = [
    Family {
        kind: LayoutKind::Prisma,
        users: "User",
        accounts: "Account",
        sessions: "Session",
        verification_tokens: &["VerificationToken"],
        authenticators: "Authenticator",
    },
    Family {
        kind: LayoutKind::SqlAdapter,
        users: "users",
        accounts: "accounts",
        sessions: "sessions",
        verification_tokens: &["verification_token", "verification_tokens"],
        authenticators: "authenticators",
    },
    Family {
        kind: LayoutKind::Drizzle,
        users: "user",
        accounts: "account",
        sessions: "session",
        verification_tokens: &["verificationToken", "verification_token"],
        authenticators: "authenticator",
    },
];

/// Where the credentials tutorials put the password hash on the user table.
const PASSWORD_COLUMNS: [&str; 4] = ["password", "hashedPassword", "passwordHash", "password_hash"];

/// A source table and the columns it has.
#[derive(Debug, Clone)]
pub struct SourceTable {
    pub name: String,
    columns: BTreeSet<String>,
}

impl SourceTable {
    pub fn has(&self, column: &str) -> bool {
        self.columns.contains(column)
    }
}

/// What was found: the family, each table (accounts, sessions, verification tokens and
/// authenticators may be absent), and the user table's password column if any.
#[derive(Debug, Clone)]
pub struct Layout {
    pub kind: LayoutKind,
    pub users: SourceTable,
    pub accounts: Option<SourceTable>,
    pub sessions: Option<SourceTable>,
    pub verification_tokens: Option<SourceTable>,
    pub authenticators: Option<SourceTable>,
    pub password_column: Option<String>,
}

impl Layout {
    /// Finds the first family whose user table exists and checks the columns Keyward reads.
    pub(super) fn detect(catalog: &Catalog) -> Result<Self, String> {
        let Some(family) = FAMILIES.iter().find(|family| catalog.contains_key(family.users)) else {
            let looked_for: Vec<&str> = FAMILIES.iter().map(|family| family.users).collect();
            return Err(format!("no Auth.js user table found (looked for {})", looked_for.join(", ")));
        };
        let table = |name: &str, required: &[&str]| -> Result<Option<SourceTable>, String> {
            let Some(columns) = catalog.get(name) else { return Ok(None) };
            if let Some(missing) = required.iter().find(|column| !columns.contains(**column)) {
                return Err(format!("table {name:?} has no column {missing:?}"));
            }
            Ok(Some(SourceTable { name: name.to_owned(), columns: columns.clone() }))
        };
        let users = table(family.users, &["id", "email"])?.ok_or("user table vanished")?;
        let verification_tokens = family
            .verification_tokens
            .iter()
            .map(|name| table(name, &["identifier", "expires"]))
            .find_map(Result::transpose)
            .transpose()?;
        let password_column =
            PASSWORD_COLUMNS.iter().find(|column| users.has(column)).map(|column| (*column).to_owned());
        Ok(Self {
            kind: family.kind,
            accounts: table(family.accounts, &["userId", "type", "provider", "providerAccountId"])?,
            sessions: table(family.sessions, &["sessionToken", "userId", "expires"])?,
            authenticators: table(
                family.authenticators,
                &["credentialID", "userId", "credentialPublicKey", "counter"],
            )?,
            verification_tokens,
            users,
            password_column,
        })
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tables: Vec<String> = [
            Some(&self.users),
            self.accounts.as_ref(),
            self.sessions.as_ref(),
            self.verification_tokens.as_ref(),
            self.authenticators.as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(|table| format!("{:?}", table.name))
        .collect();
        write!(f, "{}: tables {}", self.kind, tables.join(", "))?;
        match &self.password_column {
            Some(column) => write!(f, "; password hashes in {:?}.{column:?}", self.users.name),
            None => write!(f, "; no password column on {:?}", self.users.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(tables: &[(&str, &[&str])]) -> Catalog {
        tables
            .iter()
            .map(|(name, columns)| ((*name).to_owned(), columns.iter().map(|c| (*c).to_owned()).collect()))
            .collect()
    }

    #[test]
    fn detects_each_family_and_the_optional_parts() {
        let prisma = catalog(&[
            ("User", &["id", "email", "name", "password", "createdAt"]),
            ("Account", &["userId", "type", "provider", "providerAccountId"]),
            ("Session", &["sessionToken", "userId", "expires"]),
            ("VerificationToken", &["identifier", "token", "expires"]),
            ("Authenticator", &["credentialID", "userId", "credentialPublicKey", "counter"]),
            ("Post", &["id"]),
        ]);
        let layout = Layout::detect(&prisma).unwrap();
        assert_eq!(layout.kind, LayoutKind::Prisma);
        assert_eq!(layout.password_column.as_deref(), Some("password"));
        assert!(layout.authenticators.is_some() && layout.users.has("createdAt"));

        let pg = catalog(&[
            ("users", &["id", "email", "hashedPassword"]),
            ("accounts", &["userId", "type", "provider", "providerAccountId"]),
            ("verification_token", &["identifier", "token", "expires"]),
        ]);
        let layout = Layout::detect(&pg).unwrap();
        assert_eq!(layout.kind, LayoutKind::SqlAdapter);
        assert_eq!(layout.password_column.as_deref(), Some("hashedPassword"));
        assert!(layout.sessions.is_none() && layout.authenticators.is_none());
        assert_eq!(layout.verification_tokens.unwrap().name, "verification_token");
    }

    #[test]
    fn says_what_is_missing() {
        assert!(Layout::detect(&catalog(&[("people", &["id"])])).unwrap_err().contains("no Auth.js user table"));
        let no_email = catalog(&[("users", &["id", "name"])]);
        assert_eq!(Layout::detect(&no_email).unwrap_err(), r#"table "users" has no column "email""#);
        let bad_sessions = catalog(&[("users", &["id", "email"]), ("sessions", &["userId"])]);
        assert!(Layout::detect(&bad_sessions).unwrap_err().contains("sessionToken"));
    }
}
