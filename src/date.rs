//! UTC time as cabundle needs it: moments as Unix seconds ([`Timestamp`])
//! and days ([`Day`]), compared as values and written as text in one place.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use time::{Date, Month, OffsetDateTime};

use crate::error::{Error, Result};

/// A moment, in Unix seconds, between the first second of year 0000 and
/// the last of 9999: what a certificate's time can say (GeneralizedTime has
/// four-digit years; RFC 5280 makes 99991231235959Z "no expiry"). Anything
/// beyond is held at that end, which changes no comparison cabundle makes,
/// and keeps the text form fixed-width, so that dates sort as text too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// A UTC day, held as its midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(Timestamp);

const DAY_SECS: i64 = 86_400;

impl Timestamp {
    /// 0000-01-01T00:00:00Z.
    pub const MIN: Timestamp = Timestamp(-62_167_219_200);
    /// 9999-12-31T23:59:59Z.
    pub const MAX: Timestamp = Timestamp(253_402_300_799);

    /// Unix seconds, held within [`Timestamp::MIN`] and [`Timestamp::MAX`].
    pub const fn from_unix(secs: i64) -> Timestamp {
        if secs < Timestamp::MIN.0 {
            Timestamp::MIN
        } else if secs > Timestamp::MAX.0 {
            Timestamp::MAX
        } else {
            Timestamp(secs)
        }
    }

    pub const fn unix(self) -> i64 {
        self.0
    }

    /// The system clock.
    pub fn now() -> Timestamp {
        Timestamp::from_unix(match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
        })
    }

    /// This moment plus (or minus) `secs`, held within the range.
    pub fn plus_secs(self, secs: i64) -> Timestamp {
        Timestamp::from_unix(self.0.saturating_add(secs))
    }

    pub fn plus_days(self, days: i64) -> Timestamp {
        self.plus_secs(days.saturating_mul(DAY_SECS))
    }

    /// The day this moment falls on.
    pub fn day(self) -> Day {
        Day(Timestamp(self.0 - self.0.rem_euclid(DAY_SECS)))
    }

    fn datetime(self) -> OffsetDateTime {
        // In range by construction: years 0000 to 9999 are all `time`'s.
        OffsetDateTime::from_unix_timestamp(self.0).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

impl Day {
    /// Its first second.
    pub fn midnight(self) -> Timestamp {
        self.0
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&text(*self, true))
    }
}

/// `YYYY-MM-DD`.
impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&text(self.0, false))
    }
}

/// The text of a moment. Digits are written by hand: a sync formats a few
/// dates per certificate, and `format!` with padding cost more than the
/// rest of rendering.
fn text(ts: Timestamp, with_time: bool) -> String {
    let t = ts.datetime();
    let mut out = String::with_capacity(20);
    let mut push = |n: u32, width: u32, sep: Option<char>| {
        for i in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10u32.pow(i) % 10) as u8));
        }
        if let Some(c) = sep {
            out.push(c);
        }
    };
    // 0 to 9999: see `Timestamp`.
    push(t.year().unsigned_abs(), 4, Some('-'));
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

/// A date or time that is not in the form asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a {form}")]
pub struct BadTime {
    pub text: String,
    pub form: &'static str,
}

/// `YYYY-MM-DD`, as its midnight.
fn parse_date(s: &str) -> Option<Day> {
    let mut parts = s.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if !(all_digits(y) && all_digits(m) && all_digits(d)) {
        return None;
    }
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    let date = Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()?;
    Some(Day(Timestamp::from_unix(
        date.midnight().assume_utc().unix_timestamp(),
    )))
}

impl FromStr for Day {
    type Err = BadTime;
    fn from_str(s: &str) -> Result<Day, BadTime> {
        parse_date(s).ok_or_else(|| BadTime {
            text: s.to_string(),
            form: "date as YYYY-MM-DD",
        })
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`, as [`Timestamp`] writes it; or `@SECS`, which
/// earlier builds wrote for a year outside 0000 to 9999.
impl FromStr for Timestamp {
    type Err = BadTime;
    fn from_str(s: &str) -> Result<Timestamp, BadTime> {
        let instant = || {
            if let Some(secs) = s.strip_prefix('@') {
                return secs.parse().ok().map(Timestamp::from_unix);
            }
            let (day, rest) = s.split_once('T')?;
            let hms = rest.strip_suffix('Z')?;
            let mut parts = hms
                .split(':')
                .map(|p| (p.len() == 2).then(|| p.parse::<u8>().ok()).flatten());
            let (Some(Some(h)), Some(Some(m)), Some(Some(sec)), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return None;
            };
            let midnight = parse_date(day)?.midnight();
            (h < 24 && m < 60 && sec < 60).then(|| {
                midnight.plus_secs(i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(sec))
            })
        };
        instant().ok_or_else(|| BadTime {
            text: s.to_string(),
            form: "time as YYYY-MM-DDTHH:MM:SSZ",
        })
    }
}

crate::serde_as_text!(Timestamp);
crate::serde_as_text!(Day);

pub fn now() -> Timestamp {
    Timestamp::now()
}

/// `YYYY-MM-DD` (as on the command line) to that day's midnight, UTC.
pub fn parse_day(s: &str) -> Result<Timestamp> {
    s.parse::<Day>()
        .map(Day::midnight)
        .map_err(|_| Error::BadDate(s.to_string()))
}

/// `YYYY-MM-DDTHH:MM:SSZ`, as [`instant`] writes it.
pub fn parse_instant(s: &str) -> Option<Timestamp> {
    s.parse().ok()
}

/// A moment's day as `YYYY-MM-DD`.
pub fn day(ts: Timestamp) -> String {
    ts.day().to_string()
}

/// A moment as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn instant(ts: Timestamp) -> String {
    ts.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix(secs)
    }

    #[test]
    fn days_round_trip() {
        assert_eq!(parse_day("1970-01-01").unwrap(), at(0));
        assert_eq!(parse_day("2038-01-19").unwrap(), at(2147472000));
        assert_eq!(day(at(2147483647)), "2038-01-19");
        assert_eq!(instant(at(2147483647)), "2038-01-19T03:14:07Z");
        assert_eq!(parse_instant("2038-01-19T03:14:07Z"), Some(at(2147483647)));
        assert_eq!(parse_instant("2038-01-19T24:00:00Z"), None);
        assert_eq!(parse_instant("2038-01-19T3:14:07Z"), None);
        assert_eq!(parse_instant("2038-01-19"), None);
        // The far ends of what X.509 times can say.
        assert_eq!(instant(at(-62167219200)), "0000-01-01T00:00:00Z");
        assert_eq!(instant(at(253402300799)), "9999-12-31T23:59:59Z");
        for ts in [
            0, 1, 59, 3600, 951782400, 1709164800, 4102444800, -1, -86401,
        ] {
            assert_eq!(parse_instant(&instant(at(ts))), Some(at(ts)), "{ts}");
            assert_eq!(at(ts).day().midnight(), parse_day(&day(at(ts))).unwrap());
        }
    }

    /// Past either end, a moment is held at it: its text keeps four-digit
    /// years, so text and values sort alike (an `@SECS` form did not).
    #[test]
    fn moments_past_the_ends_are_held_there_and_sort_as_text() {
        assert_eq!(at(i64::MAX), Timestamp::MAX);
        assert_eq!(at(i64::MIN), Timestamp::MIN);
        assert_eq!(Timestamp::MAX.plus_days(1), Timestamp::MAX);
        assert_eq!(Timestamp::MIN.plus_secs(-1), Timestamp::MIN);
        let mut moments: Vec<Timestamp> = [
            i64::MIN,
            -62167219201,
            -1,
            0,
            253402300799,
            253402300800,
            i64::MAX,
        ]
        .into_iter()
        .map(at)
        .collect();
        moments.sort();
        let texts: Vec<String> = moments.iter().map(ToString::to_string).collect();
        let mut sorted = texts.clone();
        sorted.sort();
        assert_eq!(texts, sorted);
        // What earlier versions wrote for such years is still read.
        assert_eq!(parse_instant("@-62167219201"), Some(Timestamp::MIN));
        assert_eq!(
            parse_instant(&format!("@{}", i64::MAX)),
            Some(Timestamp::MAX)
        );
        assert_eq!(parse_instant("@x"), None);
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
            "+024-01-01",
            "x",
        ] {
            assert!(parse_day(s).is_err(), "{s}");
        }
    }

    #[test]
    fn text_forms_are_what_serde_writes_and_reads() {
        let t = at(1709164800);
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2024-02-29T00:00:00Z\""
        );
        assert_eq!(serde_json::to_string(&t.day()).unwrap(), "\"2024-02-29\"");
        assert_eq!(
            serde_json::from_str::<Timestamp>("\"2024-02-29T00:00:00Z\"").unwrap(),
            t
        );
        assert_eq!(
            serde_json::from_str::<Day>("\"2024-02-29\"").unwrap(),
            t.day()
        );
        let err = serde_json::from_str::<Day>("\"2024-2-29\"").unwrap_err();
        assert!(err.to_string().contains("YYYY-MM-DD"), "{err}");
    }
}
