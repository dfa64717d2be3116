//! `UserRepo` in memory.

use async_trait::async_trait;
use std::collections::HashSet;

use chat_core::domain::account::{Credentials, PasswordHash, Phone, User, Username};
use chat_core::domain::error::PortError;
use chat_core::domain::ids::UserId;
use chat_core::domain::social::fold_for_search;
use chat_core::ports::{UserConflict, UserRepo};

use crate::store::{MemoryStore, StoredUser};

#[async_trait]
impl UserRepo for MemoryStore {
    async fn insert_user(
        &self,
        user: User,
        password_hash: PasswordHash,
    ) -> Result<Result<(), UserConflict>, PortError> {
        let mut state = self.state.lock();
        if state.user_by_name.contains_key(user.username.as_str()) {
            return Ok(Err(UserConflict::Username));
        }
        if let Some(phone) = &user.phone {
            if state.user_by_phone.contains_key(phone.as_str()) {
                return Ok(Err(UserConflict::Phone));
            }
            state.user_by_phone.insert(phone.as_str().to_owned(), user.id);
        }
        state.user_by_name.insert(user.username.as_str().to_owned(), user.id);
        state.users.insert(user.id, StoredUser { user, password_hash });
        Ok(Ok(()))
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, PortError> {
        Ok(self.state.lock().users.get(&id).map(|stored| stored.user.clone()))
    }

    async fn users(&self, ids: &[UserId]) -> Result<Vec<User>, PortError> {
        let state = self.state.lock();
        Ok(ids.iter().filter_map(|id| state.users.get(id)).map(|stored| stored.user.clone()).collect())
    }

    async fn credentials(&self, username: &Username) -> Result<Option<Credentials>, PortError> {
        let state = self.state.lock();
        let credentials = state
            .user_by_name
            .get(username.as_str())
            .and_then(|id| state.users.get(id))
            .map(|stored| Credentials { user_id: stored.user.id, password_hash: stored.password_hash.clone() });
        Ok(credentials)
    }

    async fn search_users(&self, folded_query: &str, limit: usize) -> Result<Vec<User>, PortError> {
        let state = self.state.lock();
        let mut found: Vec<(bool, &User)> = state
            .users
            .values()
            .map(|stored| &stored.user)
            .filter_map(|user| {
                let name = fold_for_search(user.username.as_str());
                let display = fold_for_search(user.display_name.as_str());
                let prefix = name.starts_with(folded_query) || display.starts_with(folded_query);
                (prefix || name.contains(folded_query) || display.contains(folded_query)).then_some((prefix, user))
            })
            .collect();
        // Prefix matches first, then by name for a stable order.
        found.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.username.as_str().cmp(b.1.username.as_str())));
        Ok(found.into_iter().take(limit).map(|(_, user)| user.clone()).collect())
    }

    async fn users_by_phones(&self, phones: &[Phone]) -> Result<Vec<User>, PortError> {
        let state = self.state.lock();
        let ids: HashSet<UserId> = phones.iter().filter_map(|p| state.user_by_phone.get(p.as_str()).copied()).collect();
        Ok(ids.into_iter().filter_map(|id| state.users.get(&id)).map(|stored| stored.user.clone()).collect())
    }

    async fn update_user(&self, user: &User) -> Result<Result<(), UserConflict>, PortError> {
        let mut state = self.state.lock();
        let Some(old_phone) = state.users.get(&user.id).map(|stored| stored.user.phone.clone()) else {
            return Ok(Ok(()));
        };
        if let Some(phone) = &user.phone {
            let owner = state.user_by_phone.get(phone.as_str());
            if owner.is_some_and(|owner| *owner != user.id) {
                return Ok(Err(UserConflict::Phone));
            }
        }
        if let Some(old) = old_phone {
            state.user_by_phone.remove(old.as_str());
        }
        if let Some(phone) = &user.phone {
            state.user_by_phone.insert(phone.as_str().to_owned(), user.id);
        }
        if let Some(stored) = state.users.get_mut(&user.id) {
            stored.user = user.clone();
        }
        Ok(Ok(()))
    }
}
