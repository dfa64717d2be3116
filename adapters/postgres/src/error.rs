//! Turning database failures into port errors: transient ones are retryable `Unavailable`,
//! the rest `Internal`. Expected constraint outcomes are handled where they occur.
//!
//! The SQLSTATE decides (diesel 2.4 exposes it through `DatabaseErrorInformation::sqlstate`):
//! only the classes a retry can cure are `Unavailable`, so a bug in a query (42xxx), a value
//! Postgres refuses (22xxx) or an unexpected constraint violation (23xxx) is a 500 with its
//! code and message, not a 503 that tells clients to retry forever.

use chat_core::domain::error::PortError;
use diesel::pg::sql_state;
use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error as DieselError, SqlState};
use diesel_async::pooled_connection::PoolError;

pub fn from_diesel(error: DieselError) -> PortError {
    match error {
        DieselError::DatabaseError(kind, info) => from_database(kind, info.as_ref()),
        // The transaction manager gives up on a connection whose BEGIN/COMMIT/ROLLBACK failed,
        // which in practice means the connection is gone.
        DieselError::BrokenTransactionManager => PortError::Unavailable("connection lost mid-transaction".into()),
        // A failed COMMIT followed by a failed ROLLBACK: the commit's error says why.
        DieselError::RollbackErrorOnCommit { commit_error, .. } => from_diesel(*commit_error),
        other => PortError::Internal(other.to_string()),
    }
}

pub fn from_pool(error: bb8::RunError<PoolError>) -> PortError {
    match error {
        bb8::RunError::TimedOut => PortError::Unavailable("no database connection free in time".into()),
        // Opening a connection fails while the server is down, restarting or full (53300):
        // all worth retrying, and a misconfigured URL already fails at startup.
        bb8::RunError::User(PoolError::ConnectionError(error)) => {
            PortError::Unavailable(format!("database connection: {error}"))
        }
        // The pool's health check on a connection it hands out failed.
        bb8::RunError::User(PoolError::QueryError(error)) => from_diesel(error),
    }
}

/// Whether a database error is worth retrying, from its SQLSTATE, or from diesel's kind when
/// there is no SQLSTATE (the server never answered: the connection is gone).
pub fn is_transient(kind: DatabaseErrorKind, code: Option<SqlState>) -> bool {
    let Some(code) = code else {
        return matches!(kind, DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand);
    };
    matches!(
        code.class().as_str(),
        // connection_exception, insufficient_resources (disk full, out of memory, too many
        // connections)
        "08" | "53"
    ) || matches!(
        code,
        sql_state::T_R_SERIALIZATION_FAILURE
            | sql_state::T_R_DEADLOCK_DETECTED
            | sql_state::LOCK_NOT_AVAILABLE
            // statement_timeout, or a cancel sent by an operator.
            | sql_state::QUERY_CANCELED
            | sql_state::ADMIN_SHUTDOWN
            | sql_state::CRASH_SHUTDOWN
            | sql_state::CANNOT_CONNECT_NOW
            // Writing to a server that became a standby mid-failover; the pool reconnects
            // to the new primary.
            | sql_state::READ_ONLY_SQL_TRANSACTION
    )
}

fn from_database(kind: DatabaseErrorKind, info: &(dyn DatabaseErrorInformation + Send + Sync)) -> PortError {
    let code = info.sqlstate();
    let detail = match code {
        Some(code) => format!("SQLSTATE {code}: {}", info.message()),
        None => format!("{kind:?}: {}", info.message()),
    };
    if is_transient(kind, code) { PortError::Unavailable(detail) } else { PortError::Internal(detail) }
}

/// Whether a failure is the unique constraint `constraint`.
pub fn is_unique_violation(error: &DieselError, constraint: &str) -> bool {
    matches!(error, DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) if info.constraint_name() == Some(constraint))
}

/// A stored value the domain refuses: the row was written by something else or is corrupt.
pub fn corrupt(what: &str, detail: impl std::fmt::Display) -> PortError {
    PortError::Internal(format!("stored {what} is invalid: {detail}"))
}

/// Why a transaction closure stopped: a database error, a domain-level failure, or an
/// outcome that must undo what the transaction wrote (the rollback carries the outcome).
pub enum TxStop<T> {
    Db(DieselError),
    Repo(PortError),
    Rollback(T),
}

impl<T> From<DieselError> for TxStop<T> {
    fn from(error: DieselError) -> Self {
        TxStop::Db(error)
    }
}

impl<T> From<PortError> for TxStop<T> {
    fn from(error: PortError) -> Self {
        TxStop::Repo(error)
    }
}

/// Splits a transaction's result into the committed value, the rolled-back outcome, or the
/// error.
pub fn settle<V, T>(result: Result<V, TxStop<T>>) -> Result<Result<V, T>, PortError> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(TxStop::Rollback(outcome)) => Ok(Err(outcome)),
        Err(TxStop::Db(error)) => Err(from_diesel(error)),
        Err(TxStop::Repo(error)) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> Option<SqlState> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn transient_sqlstates_are_retryable() {
        for text in [
            "08000", "08003", "08006", "08P01", "40001", "40P01", "53000", "53100", "53200", "53300", "55P03", "57014",
            "57P01", "57P02", "57P03", "25006",
        ] {
            assert!(is_transient(DatabaseErrorKind::Unknown, code(text)), "{text} should be transient");
        }
    }

    #[test]
    fn query_data_and_constraint_errors_are_not_retryable() {
        for (kind, text) in [
            (DatabaseErrorKind::Unknown, "42601"), // syntax_error
            (DatabaseErrorKind::Unknown, "42703"), // undefined_column
            (DatabaseErrorKind::Unknown, "42P01"), // undefined_table
            (DatabaseErrorKind::Unknown, "22021"), // character_not_in_repertoire (a NUL in text)
            (DatabaseErrorKind::Unknown, "22P02"), // invalid_text_representation
            (DatabaseErrorKind::UniqueViolation, "23505"),
            (DatabaseErrorKind::ForeignKeyViolation, "23503"),
            (DatabaseErrorKind::CheckViolation, "23514"),
            (DatabaseErrorKind::Unknown, "XX000"), // internal_error
            (DatabaseErrorKind::Unknown, "57P04"), // database_dropped: not cured by a retry
            (DatabaseErrorKind::Unknown, "58030"), // io_error
        ] {
            assert!(!is_transient(kind, code(text)), "{text} should not be transient");
        }
    }

    #[test]
    fn without_a_sqlstate_only_a_lost_connection_is_retryable() {
        assert!(is_transient(DatabaseErrorKind::ClosedConnection, None));
        assert!(is_transient(DatabaseErrorKind::UnableToSendCommand, None));
        assert!(!is_transient(DatabaseErrorKind::Unknown, None));
    }

    #[test]
    fn the_detail_names_the_sqlstate_and_the_message() {
        let error = DieselError::DatabaseError(DatabaseErrorKind::Unknown, Box::new(Coded("42703", "no such column")));
        assert_eq!(from_diesel(error), PortError::Internal("SQLSTATE 42703: no such column".into()));
        let error =
            DieselError::DatabaseError(DatabaseErrorKind::Unknown, Box::new(Coded("40P01", "deadlock detected")));
        assert_eq!(from_diesel(error), PortError::Unavailable("SQLSTATE 40P01: deadlock detected".into()));
        // diesel-async reports a connection that died under a query with a bare string.
        let error = DieselError::DatabaseError(
            DatabaseErrorKind::UnableToSendCommand,
            Box::new("connection closed".to_owned()),
        );
        assert_eq!(from_diesel(error), PortError::Unavailable("UnableToSendCommand: connection closed".into()));
    }

    #[test]
    fn a_failed_commit_is_classified_by_the_commit_error() {
        let lost = || DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, Box::new("closed".to_owned()));
        let error =
            DieselError::RollbackErrorOnCommit { rollback_error: Box::new(lost()), commit_error: Box::new(lost()) };
        assert!(matches!(from_diesel(error), PortError::Unavailable(_)));
        assert!(matches!(from_diesel(DieselError::NotFound), PortError::Internal(_)));
    }

    /// A database error carrying a SQLSTATE, as diesel-async's Postgres connection reports one.
    struct Coded(&'static str, &'static str);

    impl DatabaseErrorInformation for Coded {
        fn message(&self) -> &str {
            self.1
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
        fn sqlstate(&self) -> Option<SqlState> {
            self.0.parse().ok()
        }
    }
}
