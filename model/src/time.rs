//! UTC times as evidences and WS-Security state them (xsd:dateTime, whole seconds).

use std::time::SystemTime;

use der::DateTime;

/// An xsd:dateTime in UTC, whole seconds (`2026-11-22T20:05:56Z`). A time outside what
/// X.690 GeneralizedTime can carry (after 9999) is written as the latest one it can.
pub fn format_date_time(t: SystemTime) -> String {
    let dt = DateTime::from_system_time(t).unwrap_or(DateTime::INFINITY);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minutes(),
        dt.seconds()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn times_are_written_in_utc_whole_seconds() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_000_000_999);
        assert_eq!(format_date_time(t), "2026-11-18T11:06:40Z");
    }
}
