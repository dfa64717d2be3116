//! Push: the devices users registered, and the service that delivers to them.

use async_trait::async_trait;

use crate::domain::error::PortError;
use crate::domain::ids::{DeviceId, SessionId, UserId};
use crate::domain::push::{Device, PushNotification, PushOutcome, PushToken};

/// Storage of push registrations.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait DeviceRepo: Send + Sync {
    /// Registers a device. A token is held by one registration at a time: registering a token
    /// that exists moves it to this user and session (the newest login on that phone wins),
    /// keeping its id; the stored device is returned.
    async fn register_device(&self, device: Device) -> Result<Device, PortError>;
    /// A user's devices, oldest first.
    async fn devices_of(&self, user: UserId) -> Result<Vec<Device>, PortError>;
    /// The devices of several users at once (a message's recipients).
    async fn devices_of_users(&self, users: &[UserId]) -> Result<Vec<Device>, PortError>;
    /// Removes one of a user's devices: `false` when the user has no such device.
    async fn remove_device(&self, user: UserId, id: DeviceId) -> Result<bool, PortError>;
    /// Removes the devices of a session (logout, revocation); returns how many.
    async fn remove_session_devices(&self, session: SessionId) -> Result<u64, PortError>;
    /// Removes every registration of a token the push service said is gone.
    async fn remove_token(&self, token: &PushToken) -> Result<bool, PortError>;
}

/// A push service (FCM): delivers one notification to one device.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait PushSender: Send + Sync {
    /// Sends it and says what the service answered. `Err` only when the sender itself could
    /// not work (no credentials); a network failure or an overloaded service is
    /// `PushOutcome::RetryLater`.
    async fn send(&self, notification: &PushNotification) -> Result<PushOutcome, PortError>;
}
