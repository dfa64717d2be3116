//! `DeviceRepo` in memory: push registrations, one per token.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{DeviceId, SessionId, UserId};
use chat_core::domain::push::{Device, PushToken};
use chat_core::ports::DeviceRepo;

use crate::store::MemoryStore;

/// The registrations, kept inside the store's one lock.
#[derive(Default)]
pub(crate) struct DeviceState {
    devices: HashMap<DeviceId, Device>,
    /// Which registration holds each token: a token is held by one at a time.
    by_token: HashMap<PushToken, DeviceId>,
}

impl DeviceState {
    fn remove(&mut self, id: DeviceId) -> Option<Device> {
        let device = self.devices.remove(&id)?;
        self.by_token.remove(&device.token);
        Some(device)
    }

    /// The devices `keep` selects, oldest first (ties by id, as Postgres orders them).
    fn oldest_first(&self, keep: impl Fn(&Device) -> bool) -> Vec<Device> {
        let mut devices: Vec<Device> = self.devices.values().filter(|device| keep(device)).cloned().collect();
        devices.sort_by_key(|device| (device.registered_at, device.id));
        devices
    }
}

#[async_trait]
impl DeviceRepo for MemoryStore {
    async fn register_device(&self, device: Device) -> Result<Device, PortError> {
        let mut state = self.state.lock();
        // What Postgres's foreign keys refuse.
        if !state.users.contains_key(&device.user_id) {
            return Err(PortError::Internal(format!("device owner {} does not exist", device.user_id)));
        }
        if !state.sessions.contains_key(&device.session_id) {
            return Err(PortError::Internal(format!("device session {} does not exist", device.session_id)));
        }
        let devices = &mut state.devices;
        // A token registered before moves whole to this registration, under its first id.
        let id = match devices.by_token.get(&device.token) {
            Some(held_by) => *held_by,
            None if devices.devices.contains_key(&device.id) => {
                return Err(PortError::Internal(format!("device {} exists already", device.id)));
            }
            None => device.id,
        };
        let stored = Device { id, ..device };
        devices.by_token.insert(stored.token.clone(), id);
        devices.devices.insert(id, stored.clone());
        Ok(stored)
    }

    async fn devices_of(&self, user: UserId) -> Result<Vec<Device>, PortError> {
        Ok(self.state.lock().devices.oldest_first(|device| device.user_id == user))
    }

    async fn devices_of_users(&self, users: &[UserId]) -> Result<Vec<Device>, PortError> {
        let users: HashSet<UserId> = users.iter().copied().collect();
        Ok(self.state.lock().devices.oldest_first(|device| users.contains(&device.user_id)))
    }

    async fn remove_device(&self, user: UserId, id: DeviceId) -> Result<bool, PortError> {
        let mut state = self.state.lock();
        let devices = &mut state.devices;
        if devices.devices.get(&id).is_none_or(|device| device.user_id != user) {
            return Ok(false);
        }
        Ok(devices.remove(id).is_some())
    }

    async fn remove_session_devices(&self, session: SessionId) -> Result<u64, PortError> {
        let mut state = self.state.lock();
        let devices = &mut state.devices;
        let ids: Vec<DeviceId> =
            devices.devices.values().filter(|device| device.session_id == session).map(|device| device.id).collect();
        let removed = ids.into_iter().filter_map(|id| devices.remove(id)).count();
        Ok(u64::try_from(removed).unwrap_or(u64::MAX))
    }

    async fn remove_token(&self, token: &PushToken) -> Result<bool, PortError> {
        let mut state = self.state.lock();
        let devices = &mut state.devices;
        let Some(id) = devices.by_token.get(token).copied() else {
            return Ok(false);
        };
        Ok(devices.remove(id).is_some())
    }
}
