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
        .map(|days| date::now().saturating_add(i64::from(days) * 86_400));
    let records: Vec<_> = manifest
        .certificates
        .iter()
        .filter(|r| args.all || r.status == Status::Kept)
        // A date the manifest does not hold as cabundle writes it counts as
        // expiring: better shown than hidden.
        .filter(|r| cutoff.is_none_or(|c| date::parse_instant(&r.not_after).is_none_or(|t| t <= c)))
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
        if let (Some(at), Status::Kept) = (&r.distrust_after, &r.status) {
            let until = r.kept_until.as_deref().unwrap_or("?");
            status.push_str(&format!(
                "  [Mozilla distrusts leaves issued after {}; kept until {}]",
                head(at, 10),
                head(until, 10)
            ));
        }
        text.push_str(&format!(
            "{}  {}  {}  ({}){status}\n",
            head(&r.not_after, 10),
            head(&r.sha256, 16),
            r.subject,
            r.sources.join(", ")
        ));
    }
    for fp in &manifest.blocked {
        let seen = manifest.certificates.iter().find(|r| &r.sha256 == fp);
        let what = seen.map_or("not in any source now", |r| r.subject.as_str());
        text.push_str(&format!("blocked     {}  {what}\n", head(fp, 16)));
    }
    out(&text)
}

/// The first `n` characters of `s` (the manifest is a file anyone may
/// have edited: never cut inside a character).
fn head(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

#[cfg(test)]
mod tests {
    use super::head;

    #[test]
    fn heads_never_cut_a_character() {
        assert_eq!(head("2030-01-01T00:00:00Z", 10), "2030-01-01");
        assert_eq!(head("2030-01-0é", 10), "2030-01-0é");
        assert_eq!(head("ü", 10), "ü");
        assert_eq!(head("üüüüüüüüüüüü", 10), "üüüüüüüüüü");
        assert_eq!(head("", 16), "");
    }
}
