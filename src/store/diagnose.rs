//! Why the database could not be opened at start, in one line an operator can
//! act on: refused, unknown host, authentication, no such database,
//! read-only, full. sqlx's own messages repeat their cause chain and say
//! "pool timed out" for a refused connection.

use std::io::ErrorKind;

use sqlx::migrate::MigrateError;

use super::StoreError;

/// Where `DATABASE_URL` points, without its password: what a message may name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    Sqlite { path: String },
    Postgres { host: String, port: u16, user: String, database: String },
}

impl Target {
    pub(super) fn of(url: &str) -> Target {
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            return Target::Sqlite { path: rest.split('?').next().unwrap_or_default().to_owned() };
        }
        let parsed = url::Url::parse(url).ok();
        let parsed = parsed.as_ref();
        Target::Postgres {
            host: parsed.and_then(|u| u.host_str()).unwrap_or("localhost").to_owned(),
            port: parsed.and_then(url::Url::port).unwrap_or(5432),
            user: parsed.map(|u| u.username().to_owned()).filter(|u| !u.is_empty()).unwrap_or_default(),
            database: parsed.map(|u| u.path().trim_matches('/').to_owned()).unwrap_or_default(),
        }
    }

    pub(super) fn place(&self) -> String {
        match self {
            Target::Sqlite { path } => path.clone(),
            Target::Postgres { host, port, .. } => format!("{host}:{port}"),
        }
    }
}

/// One line saying why the database at `target` could not be opened.
pub(super) fn start_error(target: &Target, error: &StoreError) -> String {
    match error {
        StoreError::Database(error) => database_error(target, error),
        StoreError::Migrate(MigrateError::Execute(error) | MigrateError::ExecuteMigration(error, _)) => {
            database_error(target, error)
        }
        StoreError::Migrate(MigrateError::VersionMissing(version)) => format!(
            "the database was set up by a newer sora-bot (it has migration {version}, which this one does not know)"
        ),
        StoreError::Migrate(error) => format!("could not set up the tables: {error}"),
        StoreError::Corrupt(what) => what.clone(),
    }
}

fn database_error(target: &Target, error: &sqlx::Error) -> String {
    let place = target.place();
    match error {
        sqlx::Error::Io(io) => match io.kind() {
            ErrorKind::ConnectionRefused => {
                format!("connection refused by {place} (is PostgreSQL running and listening there?)")
            }
            ErrorKind::TimedOut => format!("no answer from {place} (a firewall, or the wrong address?)"),
            _ if io.to_string().contains("lookup address") => match target {
                Target::Postgres { host, .. } => format!("unknown host {host} (the name does not resolve)"),
                Target::Sqlite { .. } => format!("cannot reach {place}: {io}"),
            },
            _ => format!("cannot reach {place}: {io}"),
        },
        sqlx::Error::PoolTimedOut => format!("no connection to {place} within the time-out"),
        sqlx::Error::Configuration(cause) => format!("is not a usable database URL: {cause}"),
        sqlx::Error::Tls(cause) => format!("TLS with {place} failed: {cause}"),
        sqlx::Error::Database(db) => {
            let message = db.message();
            let code = db.code().unwrap_or_default();
            match target {
                Target::Postgres { user, database, .. } => match code.as_ref() {
                    "28P01" => format!("authentication failed for user {user:?} at {place} (wrong password?)"),
                    "28000" => format!("authentication refused at {place}: {message}"),
                    "3D000" => format!("database {database:?} does not exist at {place} (create it, or fix the name)"),
                    "25006" => format!("the database at {place} is read-only ({message})"),
                    "53100" => format!("the disk of the database server at {place} is full ({message})"),
                    "42501" => format!("user {user:?} may not create the bot's tables at {place} ({message})"),
                    _ => format!("the database at {place} refused: {message}"),
                },
                // SQLite's primary result code is the low byte of an extended one.
                Target::Sqlite { path } => match code.parse::<i64>().map(|code| code & 0xff) {
                    Ok(8) => format!("the SQLite file {path} is read-only ({message})"),
                    Ok(13) => format!("the SQLite file {path} or its disk is full ({message})"),
                    Ok(14) => format!("cannot open the SQLite file {path} ({message})"),
                    Ok(26) => format!("{path} is not a SQLite database ({message})"),
                    _ => format!("SQLite file {path}: {message}"),
                },
            }
        }
        other => format!("{place}: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: ErrorKind, text: &str) -> StoreError {
        StoreError::Database(sqlx::Error::Io(std::io::Error::new(kind, text)))
    }

    #[test]
    fn a_target_names_no_password() {
        let target = Target::of("postgres://bot:hunter2@db.internal:6543/sora?sslmode=require");
        assert_eq!(
            target,
            Target::Postgres { host: "db.internal".into(), port: 6543, user: "bot".into(), database: "sora".into() }
        );
        assert_eq!(
            Target::of("sqlite:///var/lib/sora/bot.db?mode=rwc"),
            Target::Sqlite { path: "/var/lib/sora/bot.db".into() }
        );
        assert_eq!(Target::of("sqlite:bot.db"), Target::Sqlite { path: "bot.db".into() });
    }

    #[test]
    fn network_causes_in_words() {
        let pg = Target::of("postgres://bot:pw@db:5433/sora");
        assert_eq!(
            start_error(&pg, &io(ErrorKind::ConnectionRefused, "Connection refused (os error 111)")),
            "connection refused by db:5433 (is PostgreSQL running and listening there?)"
        );
        assert_eq!(
            start_error(&pg, &io(ErrorKind::Other, "failed to lookup address information: Name or service not known")),
            "unknown host db (the name does not resolve)"
        );
        let migrate = StoreError::Migrate(MigrateError::VersionMissing(9));
        assert!(start_error(&pg, &migrate).contains("newer sora-bot"));
    }
}
