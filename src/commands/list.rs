use crate::cli::ListArgs;
use cabundle::cert::count;
use cabundle::date;
use cabundle::error::Result;
use cabundle::merge::Status;
use cabundle::state::Paths;
use cabundle::state::manifest::{self, Filter, Record};

use super::{out, out_json, say};

pub fn run(paths: &Paths, args: &ListArgs) -> Result<()> {
    let filter = Filter {
        all: args.all,
        expiring_by: args
            .expiring
            .map(|days| date::now().plus_days(i64::from(days))),
    };
    let listing = manifest::list(paths, filter)?;
    let m = &listing.manifest;
    if args.json {
        let records: Vec<&Record> = listing.records().collect();
        return out_json(&records);
    }
    let os = match (&m.os.family, &m.os.name) {
        (Some(f), Some(n)) => format!("{n} ({f})"),
        (Some(f), None) => f.to_string(),
        _ => "no OS store".into(),
    };
    let what = match (args.all, args.expiring) {
        (false, None) => String::new(),
        (all, expiring) => format!(
            " ({}{})",
            if all { "with those left out" } else { "kept" },
            expiring
                .map(|d| format!(", expiring within {}", count(d as usize, "day")))
                .unwrap_or_default()
        ),
    };
    say!(
        "{} as of {}: {} listed{what}; of these, {} from {os}, {} from Mozilla {}, {} added",
        m.bundle.display(),
        m.as_of,
        count(listing.shown.len(), "certificate"),
        listing.from_os,
        listing.from_mozilla,
        m.mozilla.version,
        listing.added,
    );
    let mut text = String::new();
    for r in listing.records() {
        let mut status = match r.status {
            Status::Kept => String::new(),
            _ => format!("  [{}]", r.reason),
        };
        if r.status == Status::Kept && r.not_yet_valid_on(m.as_of) {
            status.push_str(&format!("  [not valid until {}]", date::day(r.not_before)));
        }
        if let (Some(at), Status::Kept) = (&r.distrust_after, &r.status) {
            let until = r.kept_until.map_or("?".into(), date::day);
            status.push_str(&format!(
                "  [Mozilla distrusts leaves issued after {}; kept until {until}]",
                date::day(*at),
            ));
        }
        text.push_str(&format!(
            "{}  {}  {}  ({}){status}\n",
            date::day(r.not_after),
            r.sha256.short(),
            r.subject,
            r.sources.join(", ")
        ));
    }
    for fp in &m.blocked {
        let seen = m.certificates.iter().find(|r| &r.sha256 == fp);
        let what = seen.map_or("not in any source now", |r| r.subject.as_str());
        text.push_str(&format!("blocked     {}  {what}\n", fp.short()));
    }
    out(&text)
}
