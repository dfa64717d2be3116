//! Push registrations: a logged-in device gives its push token, sees its devices, removes
//! one. A registration belongs to the session that made it and goes with it at logout.

use serde::{Deserialize, Serialize};

use crate::domain::account::Locale;
use crate::domain::ids::DeviceId;
use crate::domain::push::{Device, Platform, PushToken};

use super::errors::DeviceError;
use super::{Actor, Deps};

/// The most devices a user keeps registered; registering one more drops the oldest, since
/// phones are replaced more often than they are logged out of.
pub const MAX_DEVICES: usize = 10;

/// A device registering for push.
#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterDevice {
    /// `android`, `ios` or `web`.
    pub platform: Platform,
    /// The token the device's push SDK gave (FCM registration token).
    pub token: String,
    /// The device's language (`vi` or `en`); the user's setting applies when absent.
    pub locale: Option<Locale>,
}

/// A registration as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceView {
    /// Its id, for `DELETE /api/v1/devices/{id}`.
    pub id: DeviceId,
    /// `android`, `ios` or `web`.
    pub platform: Platform,
    /// The device's language, if it said.
    pub locale: Option<Locale>,
    /// When it was registered.
    pub registered_at: chrono::DateTime<chrono::Utc>,
    /// Whether it belongs to the session asking.
    pub current: bool,
}

impl DeviceView {
    fn of(device: &Device, actor: Actor) -> DeviceView {
        DeviceView {
            id: device.id,
            platform: device.platform,
            locale: device.locale,
            registered_at: device.registered_at,
            current: device.session_id == actor.session_id,
        }
    }
}

/// Registers the caller's device for push on their session. A token registered before, by
/// anyone, moves here: the newest login on a phone is the one it notifies.
pub async fn register(deps: &Deps, actor: Actor, command: RegisterDevice) -> Result<DeviceView, DeviceError> {
    let token = PushToken::parse(&command.token)?;
    let device = Device {
        id: DeviceId(deps.ids.new_id()),
        user_id: actor.user_id,
        session_id: actor.session_id,
        platform: command.platform,
        token,
        locale: command.locale,
        registered_at: deps.clock.now(),
    };
    let stored = deps.devices.register_device(device).await?;
    let devices = deps.devices.devices_of(actor.user_id).await?;
    for old in devices.iter().take(devices.len().saturating_sub(MAX_DEVICES)) {
        deps.devices.remove_device(actor.user_id, old.id).await?;
    }
    Ok(DeviceView::of(&stored, actor))
}

/// The caller's registered devices, oldest first.
pub async fn list(deps: &Deps, actor: Actor) -> Result<Vec<DeviceView>, DeviceError> {
    let devices = deps.devices.devices_of(actor.user_id).await?;
    Ok(devices.iter().map(|device| DeviceView::of(device, actor)).collect())
}

/// Removes one of the caller's devices; anyone else's answers 404.
pub async fn remove(deps: &Deps, actor: Actor, id: DeviceId) -> Result<(), DeviceError> {
    if deps.devices.remove_device(actor.user_id, id).await? { Ok(()) } else { Err(DeviceError::DeviceNotFound) }
}
