//! Turning database failures into port errors: transient ones are retryable `Unavailable`,
//! the rest `Internal`. Expected constraint outcomes are handled where they occur.

use chat_core::domain::error::RepoError;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::PoolError;

pub fn from_diesel(error: DieselError) -> RepoError {
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
            | DatabaseErrorKind::Unknown => RepoError::Unavailable(info.message().to_owned()),
            _ => RepoError::Internal(format!("{kind:?}: {}", info.message())),
        },
        DieselError::BrokenTransactionManager => RepoError::Unavailable("connection lost mid-transaction".into()),
        _ => RepoError::Internal(error.to_string()),
    }
}

pub fn from_pool(error: bb8::RunError<PoolError>) -> RepoError {
    match error {
        bb8::RunError::TimedOut => RepoError::Unavailable("no database connection free in time".into()),
        bb8::RunError::User(error) => RepoError::Unavailable(format!("database connection: {error}")),
    }
}

/// Whether a failure is the unique constraint `constraint`.
pub fn is_unique_violation(error: &DieselError, constraint: &str) -> bool {
    matches!(error, DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) if info.constraint_name() == Some(constraint))
}

/// A stored value the domain refuses: the row was written by something else or is corrupt.
pub fn corrupt(what: &str, detail: impl std::fmt::Display) -> RepoError {
    RepoError::Internal(format!("stored {what} is invalid: {detail}"))
}

/// Why a transaction closure stopped: a database error, a domain-level failure, or an
/// outcome that must undo what the transaction wrote (the rollback carries the outcome).
pub enum TxStop<T> {
    Db(DieselError),
    Repo(RepoError),
    Rollback(T),
}

impl<T> From<DieselError> for TxStop<T> {
    fn from(error: DieselError) -> Self {
        TxStop::Db(error)
    }
}

impl<T> From<RepoError> for TxStop<T> {
    fn from(error: RepoError) -> Self {
        TxStop::Repo(error)
    }
}

/// Splits a transaction's result into the committed value, the rolled-back outcome, or the
/// error.
pub fn settle<V, T>(result: Result<V, TxStop<T>>) -> Result<Result<V, T>, RepoError> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(TxStop::Rollback(outcome)) => Ok(Err(outcome)),
        Err(TxStop::Db(error)) => Err(from_diesel(error)),
        Err(TxStop::Repo(error)) => Err(error),
    }
}
