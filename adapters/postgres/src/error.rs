//! Turning database failures into port errors: transient ones are retryable `Unavailable`,
//! the rest `Internal`. Expected constraint outcomes are handled where they occur.

use chat_core::domain::error::PortError;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::PoolError;

pub fn from_diesel(error: DieselError) -> PortError {
    match &error {
        DieselError::DatabaseError(kind, info) => match kind {
            // Lost connections (diesel-async reports a drop mid-query as UnableToSendCommand),
            // serialization failures, a read-only server (mid-failover) and server-side aborts
            // (shutdown, deadlock: Unknown) are all worth retrying. diesel does not expose the
            // SQLSTATE, so a rare bug that lands in Unknown shows as 503 too; the use case logs
            // the detail either way.
            DatabaseErrorKind::SerializationFailure
            | DatabaseErrorKind::ClosedConnection
            | DatabaseErrorKind::UnableToSendCommand
            | DatabaseErrorKind::ReadOnlyTransaction
            | DatabaseErrorKind::Unknown => PortError::Unavailable(info.message().to_owned()),
            _ => PortError::Internal(format!("{kind:?}: {}", info.message())),
        },
        DieselError::BrokenTransactionManager => PortError::Unavailable("connection lost mid-transaction".into()),
        _ => PortError::Internal(error.to_string()),
    }
}

pub fn from_pool(error: bb8::RunError<PoolError>) -> PortError {
    match error {
        bb8::RunError::TimedOut => PortError::Unavailable("no database connection free in time".into()),
        bb8::RunError::User(error) => PortError::Unavailable(format!("database connection: {error}")),
    }
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
