//! UTC dates as Unix seconds: the only clock arithmetic cabundle needs.

use std::time::{SystemTime, UNIX_EPOCH};

use time::{Date, Month, OffsetDateTime};

use crate::error::{Error, Result};

pub fn now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// `YYYY-MM-DD` to the Unix time of that day's midnight, UTC.
pub fn parse_day(s: &str) -> Result<i64> {
    let bad = || Error::BadDate(s.to_string());
    let mut parts = s.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let y: i32 = y.parse().map_err(|_| bad())?;
    let m: u8 = m.parse().map_err(|_| bad())?;
    let d: u8 = d.parse().map_err(|_| bad())?;
    let month = Month::try_from(m).map_err(|_| bad())?;
    let date = Date::from_calendar_date(y, month, d).map_err(|_| bad())?;
    Ok(date.midnight().assume_utc().unix_timestamp())
}

/// `YYYY-MM-DDTHH:MM:SSZ`, as [`instant`] writes it, to Unix seconds.
pub fn parse_instant(s: &str) -> Option<i64> {
    let (day, rest) = s.split_once('T')?;
    let hms = rest.strip_suffix('Z')?;
    let mut parts = hms.split(':').map(|p| p.parse::<u8>().ok());
    let (Some(Some(h)), Some(Some(m)), Some(Some(sec)), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let midnight = parse_day(day).ok()?;
    (h < 24 && m < 60 && sec < 60)
        .then(|| midnight + i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(sec))
}

/// Unix seconds as `YYYY-MM-DD`.
pub fn day(ts: i64) -> String {
    match OffsetDateTime::from_unix_timestamp(ts) {
        Ok(t) => format!("{:04}-{:02}-{:02}", t.year(), t.month() as u8, t.day()),
        Err(_) => format!("@{ts}"),
    }
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn instant(ts: i64) -> String {
    match OffsetDateTime::from_unix_timestamp(ts) {
        Ok(t) => format!(
            "{}T{:02}:{:02}:{:02}Z",
            day(ts),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => format!("@{ts}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip() {
        assert_eq!(parse_day("1970-01-01").unwrap(), 0);
        assert_eq!(parse_day("2038-01-19").unwrap(), 2147472000);
        assert_eq!(day(2147483647), "2038-01-19");
        assert_eq!(instant(2147483647), "2038-01-19T03:14:07Z");
        assert_eq!(parse_instant("2038-01-19T03:14:07Z"), Some(2147483647));
        assert_eq!(parse_instant("2038-01-19T24:00:00Z"), None);
        assert_eq!(parse_instant("2038-01-19"), None);
    }

    #[test]
    fn bad_days_are_refused() {
        for s in [
            "",
            "2024-13-01",
            "2024-02-30",
            "24-01-01",
            "2024-1-1",
            "2024-01-01-01",
            "x",
        ] {
            assert!(parse_day(s).is_err(), "{s}");
        }
    }
}
