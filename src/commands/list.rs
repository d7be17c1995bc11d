use crate::cli::ListArgs;
use cabundle::date;
use cabundle::error::{Error, Result};
use cabundle::merge::Status;
use cabundle::state::Paths;
use cabundle::state::manifest::Manifest;

use super::{out, say};

pub fn run(paths: &Paths, args: &ListArgs) -> Result<()> {
    let manifest = Manifest::read(&paths.manifest, &paths.bundle)?;
    let cutoff = args
        .expiring
        .map(|days| date::now().plus_days(i64::from(days)));
    let records: Vec<_> = manifest
        .certificates
        .iter()
        .filter(|r| args.all || r.status == Status::Kept)
        .filter(|r| cutoff.is_none_or(|c| r.not_after <= c))
        .collect();
    if args.json {
        let json = serde_json::to_string_pretty(&records)
            .map_err(|e| Error::encode(&paths.manifest, e))?;
        return out(&(json + "\n"));
    }
    let os = match (&manifest.os.family, &manifest.os.name) {
        (Some(f), Some(n)) => format!("{n} ({f})"),
        (Some(f), None) => f.to_string(),
        _ => "no OS store".into(),
    };
    say!(
        "{} as of {}: {} from {}, Mozilla {}, {} added",
        manifest.bundle.display(),
        manifest.as_of,
        records.len(),
        os,
        manifest.mozilla.version,
        manifest.added
    );
    let mut text = String::new();
    for r in records {
        let mut status = match r.status {
            Status::Kept => String::new(),
            _ => format!("  [{}]", r.reason),
        };
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
    for fp in &manifest.blocked {
        let seen = manifest.certificates.iter().find(|r| r.sha256 == *fp);
        let what = seen.map_or("not in any source now", |r| r.subject.as_str());
        text.push_str(&format!("blocked     {}  {what}\n", fp.short()));
    }
    out(&text)
}
