//! Merge and policy: from what the sources found to one entry per
//! certificate, each kept or left out with its reason. Pure functions; the
//! outputs render the entries, `state` writes them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::cert::{Cert, Sha256};
use crate::date::{self, Timestamp};
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
#[derive(Debug, Clone)]
pub struct Policy {
    /// Expiry is judged as of this time.
    pub at: Timestamp,
    /// Fingerprints the user blocked.
    pub blocked: HashSet<Sha256>,
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
    pub distrust_after: Option<Timestamp>,
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
    let mut by_sha: HashMap<Sha256, usize> = HashMap::with_capacity(gathered.found.len());
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
