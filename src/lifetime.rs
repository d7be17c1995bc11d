//! How long a TLS server certificate may be valid, by the day it was
//! issued: the CA/Browser Forum Baseline Requirements' maximum validity
//! (section 6.3.2), as it has changed over the years. Used for Mozilla's
//! distrust-after dates: a root distrusted for certificates issued after D
//! still anchors those issued before D, until the last of them expires.
//!
//! Sources, in order of the table:
//! - before 2015-04-01: 60 months (BR 1.1, section 9.4.1);
//! - from 2015-04-01: 39 months (BR 1.1.x, effective 2015-04-01);
//! - from 2018-03-01: 825 days (ballot 193);
//! - from 2020-09-01: 398 days (ballot SC-31, following the browsers'
//!   root programme policies);
//! - from 2026-03-15: 200 days, from 2027-03-15: 100 days, from
//!   2029-03-15: 47 days (ballot SC-081).

use time::{Date, Month, OffsetDateTime};

use crate::date::Timestamp;

/// One step of the table: certificates issued before `until` (a day,
/// UTC midnight; `None` for no end) may be valid this long.
enum Max {
    Months(u8),
    Days(u16),
}

/// A day, as (year, month, day).
type Day = (i32, Month, u8);

const TABLE: &[(Option<Day>, Max)] = &[
    (Some((2015, Month::April, 1)), Max::Months(60)),
    (Some((2018, Month::March, 1)), Max::Months(39)),
    (Some((2020, Month::September, 1)), Max::Days(825)),
    (Some((2026, Month::March, 15)), Max::Days(398)),
    (Some((2027, Month::March, 15)), Max::Days(200)),
    (Some((2029, Month::March, 15)), Max::Days(100)),
    (None, Max::Days(47)),
];

/// The latest notAfter a TLS certificate issued at or before `issued_by`
/// can have: the maximum, over issue times t <= issued_by, of t plus the
/// longest validity allowed at t.
pub fn last_valid(issued_by: Timestamp) -> Timestamp {
    let issued_by = issued_by.unix();
    let mut latest = i64::MIN;
    let mut start = i64::MIN;
    for (until, max) in TABLE {
        if start > issued_by {
            break;
        }
        let end = until.map(|(y, m, d)| {
            Date::from_calendar_date(y, m, d)
                .expect("the table's dates are real")
                .midnight()
                .assume_utc()
                .unix_timestamp()
        });
        // Within a step, later issue means later expiry: the step's last
        // second, or `issued_by` if that comes first.
        let t = end.map_or(issued_by, |e| issued_by.min(e - 1));
        latest = latest.max(add(t, max));
        start = end.unwrap_or(i64::MAX);
    }
    Timestamp::from_unix(latest)
}

/// `t` plus a validity period; calendar months keep the day of the month
/// (clamped to the month's length), as a notAfter "60 months later" does.
fn add(t: i64, max: &Max) -> i64 {
    match max {
        Max::Days(d) => t.saturating_add(i64::from(*d) * 86_400),
        Max::Months(n) => {
            let Ok(at) = OffsetDateTime::from_unix_timestamp(t) else {
                return t;
            };
            let months = at.year() * 12 + i32::from(u8::from(at.month())) - 1 + i32::from(*n);
            let (year, month) = (months.div_euclid(12), (months.rem_euclid(12) + 1) as u8);
            let Ok(month) = Month::try_from(month) else {
                return t;
            };
            let day = at.day().min(time::util::days_in_month(month, year));
            match Date::from_calendar_date(year, month, day) {
                Ok(date) => date.with_time(at.time()).assume_utc().unix_timestamp(),
                Err(_) => t,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::date::{instant, parse_instant};

    fn at(s: &str) -> Timestamp {
        parse_instant(s).unwrap()
    }

    /// Each date's kept-until, as `last_valid` gives it.
    fn check(cases: &[(&str, &str)]) {
        for (from, until) in cases {
            assert_eq!(
                instant(last_valid(at(from))),
                *until,
                "distrust after {from}"
            );
        }
    }

    #[test]
    fn the_roots_of_current_certdata() {
        check(&[
            // Entrust's four roots: issued by 2024-11-30, 398 days at most.
            ("2024-11-30T23:59:59Z", "2026-01-02T23:59:59Z"),
            // ePKI: 2025-04-15.
            ("2025-04-15T00:00:00Z", "2026-05-18T00:00:00Z"),
            // Izenpe: 2026-04-15, when only 200 days are allowed; a certificate
            // issued the day before 2026-03-15 still had 398.
            ("2026-04-15T00:00:00Z", "2027-04-16T23:59:59Z"),
        ]);
    }

    #[test]
    fn each_step_and_its_boundary() {
        check(&[
            // 60 months, by the calendar.
            ("2010-02-28T12:00:00Z", "2015-02-28T12:00:00Z"),
            // The last second under 60 months beats 39 months from just after.
            ("2015-06-01T00:00:00Z", "2020-03-31T23:59:59Z"),
            ("2017-06-01T00:00:00Z", "2020-09-01T00:00:00Z"),
            // 47 days from 2029-03-15; the 100-day step's last second gives
            // less.
            ("2029-12-01T00:00:00Z", "2030-01-17T00:00:00Z"),
            ("2029-03-15T00:00:00Z", "2029-06-22T23:59:59Z"),
            ("2035-01-01T00:00:00Z", "2035-02-17T00:00:00Z"),
        ]);
        // Months clamp to the month's length: 39 months after a 31st.
        let add = |t: &str, max| Timestamp::from_unix(add(at(t).unix(), &max));
        assert_eq!(
            instant(add("2016-05-31T00:00:00Z", Max::Months(39))),
            "2019-08-31T00:00:00Z"
        );
        assert_eq!(
            instant(add("2016-01-31T00:00:00Z", Max::Months(1))),
            "2016-02-29T00:00:00Z"
        );
    }

    #[test]
    fn never_earlier_than_the_date_itself_and_never_panics() {
        for t in [i64::MIN, -1, 0, 1, 1_700_000_000, 4_000_000_000, i64::MAX] {
            let t = Timestamp::from_unix(t);
            let v = last_valid(t);
            assert!(v >= t, "{t} {v}");
        }
        // Near the end of time, held there.
        assert_eq!(last_valid(Timestamp::MAX), Timestamp::MAX);
    }
}
