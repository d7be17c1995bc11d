//! Merge, policy and rendering: from what the sources found to the bundle's
//! bytes and the manifest. Pure functions; writing is `store`'s job.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::cert::Cert;
use crate::date;
use crate::sources::{Fingerprint, Gathered};
use sha1::{Digest, Sha1};

/// What happened to a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Kept,
    /// notAfter before the sync's date.
    Expired,
    /// The admin or the certificate's own trust data said no.
    Distrusted,
    /// The user said no (`cabundle block`).
    Blocked,
}

/// The rules a sync applies to what the sources found.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Expiry is judged as of this Unix time.
    pub at: i64,
    /// Fingerprints the user blocked.
    pub blocked: HashSet<[u8; 32]>,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub cert: Cert,
    /// Sorted, each once.
    pub sources: Vec<Arc<str>>,
    pub status: Status,
    /// Why it was left out; empty when kept.
    pub reason: String,
    /// Mozilla distrusts leaves this root issued after this time.
    pub distrust_after: Option<i64>,
}

/// Dedupe by SHA-256 of the DER, keeping every source's name, then apply
/// the policy: the user's block, then the admin's distrust, then expiry. The
/// result is sorted by subject, then fingerprint, so it does not depend on
/// the order of the inputs.
pub fn merge(gathered: Gathered, policy: &Policy) -> Vec<Entry> {
    let mut distrust: HashMap<Fingerprint, String> = HashMap::new();
    for d in gathered.distrusted {
        distrust.entry(d.by).or_insert(d.reason);
    }
    // Other ways of naming a certificate cost a hash per certificate: each
    // is computed only when some distrust uses it.
    let by_sha1 = distrust.keys().any(|k| matches!(k, Fingerprint::Sha1(_)));
    let by_key = distrust.keys().any(|k| matches!(k, Fingerprint::Spki(_)));
    let by_issuer = distrust
        .keys()
        .any(|k| matches!(k, Fingerprint::IssuerSerial(_)));
    // Entries are large: they are made once, in place, and the map holds
    // only their positions.
    let mut entries: Vec<Entry> = Vec::new();
    let mut by_sha: HashMap<[u8; 32], usize> = HashMap::with_capacity(gathered.found.len());
    for (label, item) in gathered.found {
        if let Some(why) = &item.distrust {
            distrust
                .entry(Fingerprint::Sha256(item.cert.sha256))
                .or_insert_with(|| format!("{label}: {why}"));
        }
        let at = *by_sha.entry(item.cert.sha256).or_insert_with(|| {
            entries.push(Entry {
                cert: item.cert,
                sources: Vec::new(),
                status: Status::Kept,
                reason: String::new(),
                distrust_after: None,
            });
            entries.len() - 1
        });
        entries[at].sources.push(label);
    }
    drop(by_sha);
    for e in &mut entries {
        e.sources.sort_unstable();
        e.sources.dedup();
        e.distrust_after = gathered.distrust_after.get(&e.cert.sha256).copied();
        if policy.blocked.contains(&e.cert.sha256) {
            e.status = Status::Blocked;
            e.reason = "blocked with `cabundle block`".into();
        } else if let Some(why) = distrust
            .get(&Fingerprint::Sha256(e.cert.sha256))
            .or_else(|| {
                let sha1 = || Fingerprint::Sha1(Sha1::digest(&e.cert.der).into());
                let key = || Fingerprint::Spki(e.cert.spki_sha256());
                let issuer = || Fingerprint::IssuerSerial(e.cert.issuer_serial());
                [
                    (by_sha1, &sha1 as &dyn Fn() -> Fingerprint),
                    (by_key, &key),
                    (by_issuer, &issuer),
                ]
                .into_iter()
                .filter(|(wanted, _)| *wanted)
                .find_map(|(_, name)| distrust.get(&name()))
            })
        {
            e.status = Status::Distrusted;
            e.reason = why.clone();
        } else if e.cert.is_expired_at(policy.at) {
            e.status = Status::Expired;
            e.reason = format!("expired {}", date::instant(e.cert.not_after));
        } else if let Some(after) = e.distrust_after
            && policy.at > crate::lifetime::last_valid(after)
        {
            // Mozilla's distrust-after: the root anchors only certificates
            // issued by then, and the last of those has now expired.
            e.status = Status::Distrusted;
            e.reason = format!(
                "Mozilla distrusts TLS certificates it issued after {}, and every one issued \
                 by then has expired (the last possible by {})",
                date::instant(after),
                date::instant(crate::lifetime::last_valid(after))
            );
        }
    }
    // Sort their positions, then move the entries into that order in place,
    // one swap each, without a second copy of them.
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_unstable_by(|&a, &b| {
        let (a, b) = (&entries[a].cert, &entries[b].cert);
        (a.subject.as_str(), a.sha256).cmp(&(b.subject.as_str(), b.sha256))
    });
    permute(&mut entries, &mut order);
    entries
}

/// Reorder `items` so that position i holds what was at `order[i]`; `order`
/// is used up (left as the identity).
fn permute<T>(items: &mut [T], order: &mut [usize]) {
    for start in 0..items.len() {
        let mut at = start;
        while order[at] != start {
            let from = order[at];
            items.swap(at, from);
            order[at] = at;
            at = from;
        }
        order[at] = at;
    }
}

/// The bundle: kept certificates as PEM, each after `#` lines saying what it
/// is and where it came from. No timestamps: same inputs, same bytes.
pub fn render(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * 2400);
    // Writing to a Vec cannot fail.
    let _ = render_to(entries, &mut out);
    out
}

/// [`render`], streamed: a 100k-certificate bundle is never held whole.
pub fn render_to(entries: &[Entry], out: &mut impl Write) -> io::Result<()> {
    let kept = entries.iter().filter(|e| e.status == Status::Kept);
    writeln!(
        out,
        "# CA bundle written by cabundle: {} certificates.\n\
         # Do not edit; run `cabundle sync` (or `cabundle add FILE`) to change it.",
        kept.clone().count()
    )?;
    for e in kept {
        write!(out, "\n# Subject: {}\n# Sources: ", e.cert.subject)?;
        for (i, s) in e.sources.iter().enumerate() {
            write!(out, "{}{s}", if i == 0 { "" } else { ", " })?;
        }
        write!(
            out,
            "\n# SHA256: {}\n# Not after: {}\n",
            e.cert.fingerprint(),
            date::instant(e.cert.not_after)
        )?;
        if let Some(at) = e.distrust_after {
            writeln!(
                out,
                "# Mozilla distrusts leaves issued after: {}; kept until {}",
                date::instant(at),
                date::instant(crate::lifetime::last_valid(at))
            )?;
        }
        out.write_all(e.cert.to_pem().as_bytes())?;
    }
    Ok(())
}

/// The entries as manifest records, made one at a time as they are
/// serialized.
pub struct Records<'a>(pub &'a [Entry]);

impl Serialize for Records<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(Record::from))
    }
}

/// One certificate as the manifest (and `list --json`) shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Record {
    pub sha256: String,
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    pub sources: Vec<String>,
    pub status: Status,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Mozilla's server distrust-after date: leaves issued later are not
    /// trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distrust_after: Option<String>,
    /// With a distrust-after date: when the last TLS certificate issued by
    /// then expires, and the root leaves the bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_until: Option<String>,
}

impl From<&Entry> for Record {
    fn from(e: &Entry) -> Record {
        Record {
            sha256: e.cert.fingerprint(),
            subject: e.cert.subject.clone(),
            issuer: e.cert.issuer.clone(),
            serial: e.cert.serial.clone(),
            not_before: date::instant(e.cert.not_before),
            not_after: date::instant(e.cert.not_after),
            sources: e.sources.iter().map(|s| s.to_string()).collect(),
            status: e.status.clone(),
            reason: e.reason.clone(),
            distrust_after: e.distrust_after.map(date::instant),
            kept_until: e
                .distrust_after
                .map(|d| date::instant(crate::lifetime::last_valid(d))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_puts_each_item_where_the_order_says() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for n in [0, 1, 2, 3, 10, 257] {
            for _ in 0..20 {
                // A random permutation (Fisher-Yates).
                let mut order: Vec<usize> = (0..n).collect();
                for i in (1..n).rev() {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    order.swap(i, (seed % (i as u64 + 1)) as usize);
                }
                let items: Vec<String> = (0..n).map(|i| format!("item {i}")).collect();
                let want: Vec<String> = order.iter().map(|&i| items[i].clone()).collect();
                let mut got = items;
                let mut used = order.clone();
                permute(&mut got, &mut used);
                assert_eq!(got, want, "{order:?}");
                assert!(used.iter().enumerate().all(|(i, &o)| i == o));
            }
        }
    }
}
