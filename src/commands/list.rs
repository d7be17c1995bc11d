use crate::bundle::Status;
use crate::cli::ListArgs;
use crate::date;
use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::store::Paths;

use super::{out, say};

pub fn run(paths: &Paths, args: &ListArgs) -> Result<()> {
    let manifest = Manifest::read(&paths.manifest, &paths.bundle)?;
    let cutoff = args
        .expiring
        .map(|days| date::instant(date::now() + i64::from(days) * 86_400));
    let records: Vec<_> = manifest
        .certificates
        .iter()
        .filter(|r| args.all || r.status == Status::Kept)
        .filter(|r| cutoff.as_ref().is_none_or(|c| r.not_after <= *c))
        .collect();
    if args.json {
        let json = serde_json::to_string_pretty(&records).map_err(|e| Error::Config {
            path: paths.manifest.clone(),
            reason: e.to_string(),
        })?;
        return out(&(json + "\n"));
    }
    let os = match (&manifest.os.family, &manifest.os.name) {
        (Some(f), Some(n)) => format!("{n} ({f})"),
        (Some(f), None) => f.clone(),
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
        if let Some(at) = &r.distrust_after {
            status.push_str(&format!(
                "  [Mozilla distrusts leaves issued after {}]",
                &at[..10.min(at.len())]
            ));
        }
        text.push_str(&format!(
            "{}  {}  {}  ({}){status}\n",
            &r.not_after[..10.min(r.not_after.len())],
            &r.sha256[..16.min(r.sha256.len())],
            r.subject,
            r.sources.join(", ")
        ));
    }
    for fp in &manifest.blocked {
        let seen = manifest.certificates.iter().find(|r| &r.sha256 == fp);
        let what = seen.map_or("not in any source now", |r| r.subject.as_str());
        text.push_str(&format!(
            "blocked     {}  {what}\n",
            &fp[..16.min(fp.len())]
        ));
    }
    out(&text)
}
