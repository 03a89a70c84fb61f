//! Device-flow codes (`POST /oauth/device/code`), kept per account in `State::devices` and
//! decided by the test hooks (`Emulator::approve_device`, `/_emulator/device/...`).

/// Where a device code stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeviceStatus {
    Pending,
    Approved,
    Denied,
    /// Approved and its tokens handed out.
    Used,
}

/// One issued device code.
#[derive(Clone, Debug)]
pub(crate) struct DeviceCode {
    pub device_code: String,
    pub user_code: String,
    /// Emulator clock, Unix ms.
    pub expires_at_ms: i64,
    /// The last poll that was not answered `429`.
    pub last_poll_ms: Option<i64>,
    pub status: DeviceStatus,
}
