//! `UserRepo` on Postgres.

use async_trait::async_trait;
use chat_core::domain::account::{Credentials, PasswordHash, Phone, User, Username};
use chat_core::domain::error::PortError;
use chat_core::domain::ids::UserId;
use chat_core::domain::social::fold_for_search;
use chat_core::ports::{UserConflict, UserRepo};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::PgStore;
use crate::error::{from_diesel, is_unique_violation};
use crate::rows::UserRow;
use crate::schema::users;

fn conflict_of(error: &diesel::result::Error) -> Option<UserConflict> {
    if is_unique_violation(error, "users_username_key") {
        Some(UserConflict::Username)
    } else if is_unique_violation(error, "users_phone_key") {
        Some(UserConflict::Phone)
    } else {
        None
    }
}

#[async_trait]
impl UserRepo for PgStore {
    async fn insert_user(
        &self,
        user: User,
        password_hash: PasswordHash,
    ) -> Result<Result<(), UserConflict>, PortError> {
        let row = UserRow::from_user(&user)?;
        let mut conn = self.conn().await?;
        let inserted = diesel::insert_into(users::table)
            .values((
                row,
                users::password_hash.eq(password_hash.into_encoded()),
                users::search_text.eq(search_text(&user)),
            ))
            .execute(&mut conn)
            .await;
        match inserted {
            Ok(_) => Ok(Ok(())),
            Err(error) => conflict_of(&error).map(Err).ok_or_else(|| from_diesel(error)),
        }
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, PortError> {
        let mut conn = self.conn().await?;
        let row = users::table
            .find(id.0)
            .select(UserRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(from_diesel)?;
        row.map(UserRow::into_user).transpose()
    }

    async fn users(&self, ids: &[UserId]) -> Result<Vec<User>, PortError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<uuid::Uuid> = ids.iter().map(|id| id.0).collect();
        let mut conn = self.conn().await?;
        let rows = users::table
            .filter(users::id.eq_any(ids))
            .select(UserRow::as_select())
            .load(&mut conn)
            .await
            .map_err(from_diesel)?;
        rows.into_iter().map(UserRow::into_user).collect()
    }

    async fn credentials(&self, username: &Username) -> Result<Option<Credentials>, PortError> {
        let mut conn = self.conn().await?;
        let row: Option<(uuid::Uuid, String)> = users::table
            .filter(users::username.eq(username.as_str()))
            .select((users::id, users::password_hash))
            .first(&mut conn)
            .await
            .optional()
            .map_err(from_diesel)?;
        Ok(row.map(|(id, password_hash)| Credentials {
            user_id: UserId(id),
            password_hash: PasswordHash::new(password_hash),
        }))
    }

    async fn search_users(&self, folded_query: &str, limit: usize) -> Result<Vec<User>, PortError> {
        let pattern = escape_like(folded_query);
        let mut conn = self.conn().await?;
        // Trigram index for the containment test; names starting with the query rank first.
        let starts = diesel::dsl::sql::<diesel::sql_types::Bool>("(search_text LIKE ")
            .bind::<diesel::sql_types::Text, _>(format!("{pattern}%"))
            .sql(" OR search_text LIKE ")
            .bind::<diesel::sql_types::Text, _>(format!("% {pattern}%"))
            .sql(")");
        let rows = users::table
            .filter(users::search_text.like(format!("%{pattern}%")))
            .order((starts.desc(), users::username.asc()))
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .select(UserRow::as_select())
            .load(&mut conn)
            .await
            .map_err(from_diesel)?;
        rows.into_iter().map(UserRow::into_user).collect()
    }

    async fn users_by_phones(&self, phones: &[Phone]) -> Result<Vec<User>, PortError> {
        if phones.is_empty() {
            return Ok(Vec::new());
        }
        let phones: Vec<&str> = phones.iter().map(Phone::as_str).collect();
        let mut conn = self.conn().await?;
        let rows = users::table
            .filter(users::phone.eq_any(phones))
            .select(UserRow::as_select())
            .load(&mut conn)
            .await
            .map_err(from_diesel)?;
        rows.into_iter().map(UserRow::into_user).collect()
    }

    async fn update_user(&self, user: &User) -> Result<Result<(), UserConflict>, PortError> {
        let row = UserRow::from_user(user)?;
        let mut conn = self.conn().await?;
        let updated = diesel::update(users::table.find(user.id.0))
            .set((
                users::display_name.eq(row.display_name),
                users::phone.eq(row.phone),
                users::avatar_media_id.eq(row.avatar_media_id),
                users::bio.eq(row.bio),
                users::settings.eq(row.settings),
                users::updated_at.eq(row.updated_at),
                users::search_text.eq(search_text(user)),
            ))
            .execute(&mut conn)
            .await;
        match updated {
            Ok(_) => Ok(Ok(())),
            Err(error) => conflict_of(&error).map(Err).ok_or_else(|| from_diesel(error)),
        }
    }
}

/// What user search matches against: username and display name, folded.
fn search_text(user: &User) -> String {
    fold_for_search(&format!("{} {}", user.username.as_str(), user.display_name.as_str()))
}

/// A LIKE pattern matching `text` literally (`%`, `_` and `\` escaped; `\` is the default
/// escape character).
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}
