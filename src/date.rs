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
    format_ts(ts, false)
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn instant(ts: i64) -> String {
    format_ts(ts, true)
}

/// Digits written by hand: a sync formats a few dates per certificate, and
/// `format!` with padding cost more than the rest of rendering.
fn format_ts(ts: i64, with_time: bool) -> String {
    let t = match OffsetDateTime::from_unix_timestamp(ts) {
        Ok(t) if (0..=9999).contains(&t.year()) => t,
        _ => return format!("@{ts}"),
    };
    let mut out = String::with_capacity(20);
    let mut push = |n: u32, width: u32, sep: Option<char>| {
        for i in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10u32.pow(i) % 10) as u8));
        }
        if let Some(c) = sep {
            out.push(c);
        }
    };
    push(t.year() as u32, 4, Some('-'));
    push(u32::from(t.month() as u8), 2, Some('-'));
    if !with_time {
        push(u32::from(t.day()), 2, None);
        return out;
    }
    push(u32::from(t.day()), 2, Some('T'));
    push(u32::from(t.hour()), 2, Some(':'));
    push(u32::from(t.minute()), 2, Some(':'));
    push(u32::from(t.second()), 2, Some('Z'));
    out
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
        // The far ends of what X.509 times can say, and past them.
        assert_eq!(instant(-62167219200), "0000-01-01T00:00:00Z");
        assert_eq!(instant(253402300799), "9999-12-31T23:59:59Z");
        assert_eq!(day(-62167219201), "@-62167219201");
        assert_eq!(day(i64::MAX), format!("@{}", i64::MAX));
        for ts in [0, 1, 59, 3600, 951782400, 1709164800, 4102444800] {
            assert_eq!(parse_instant(&instant(ts)), Some(ts), "{ts}");
        }
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
