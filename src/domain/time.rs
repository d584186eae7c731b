//! Checked date arithmetic. `DateTime + Duration` panics where chrono's range ends; a request
//! path must never panic, so every "now plus a configured or provider-sent duration" goes
//! through here and turns an impossible date into an internal error instead.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::error::{Error, Result};

/// `at + by`.
pub fn later(at: DateTime<Utc>, by: Duration) -> Result<DateTime<Utc>> {
    TimeDelta::from_std(by).ok().and_then(|by| at.checked_add_signed(by)).ok_or_else(out_of_range)
}

/// `at - by`.
pub fn earlier(at: DateTime<Utc>, by: Duration) -> Result<DateTime<Utc>> {
    TimeDelta::from_std(by).ok().and_then(|by| at.checked_sub_signed(by)).ok_or_else(out_of_range)
}

fn out_of_range() -> Error {
    Error::internal("date arithmetic out of range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_range_adds_and_out_of_range_is_an_error_not_a_panic() {
        let now = Utc::now();
        assert_eq!(later(now, Duration::from_secs(60)).unwrap(), now + TimeDelta::seconds(60));
        assert_eq!(earlier(now, Duration::from_secs(60)).unwrap(), now - TimeDelta::seconds(60));
        assert!(later(now, Duration::from_secs(u64::MAX)).is_err());
        assert!(earlier(now, Duration::from_secs(u64::MAX)).is_err());
        assert!(later(DateTime::<Utc>::MAX_UTC, Duration::from_secs(1)).is_err());
    }
}
