//! `cabundle proxy detect` and `proxy trust`: is a TLS-inspection proxy
//! re-signing this machine's traffic, with which root, and may that root
//! be trusted?
//!
//! [`detect`] captures the chain well-known public hosts present (through
//! `HTTPS_PROXY` when set: [`crate::doctor::capture`], which sends the
//! proxy `CONNECT host:port` and never resolves the host itself) and judges
//! each one:
//!
//! - **public**: chain building (OpenSSL's, [`crate::doctor::verify`])
//!   reaches a root of Mozilla's set, with no signature failing on the way:
//!   nothing re-signs this host;
//! - **re-signed**: a public name presented under a root no public set
//!   holds: no public CA may issue for it from there, so a proxy minted it;
//! - **private**: a name that is not public (loopback, an intranet name)
//!   under a private root: its own CA, not inspection.
//!
//! Re-signed hosts are grouped by their root: the certificate itself when
//! the proxy sends it, else the name and key id of the CA that issued the
//! top certificate it sends (a proxy that sends only its leaves). One group
//! is the usual inspection; several are split tunnelling (each listed with
//! its hosts). The vendor is named when a CA name on the chain carries a
//! known product's name ([`VENDORS`]).
//!
//! [`trust`] adds a group's root only when something other than the
//! network vouches for it:
//!
//! - a **confirming store** ([`Sets::load`]: the OS store as `sync` reads
//!   it, a macOS keychain export, NSS databases, a file the user names, and
//!   the Windows host through [`windows_host_stores`]) holds a CA trusted
//!   there that *anchors the chain the proxy presents*: OpenSSL's chain
//!   building from the presented certificates reaches that store
//!   certificate, every signature on the way checking (host name not
//!   asked). That is the same key under the same name, whatever the
//!   certificate's dates and serial: an identical copy (same SHA-256), or
//!   one re-issued with the same key (a root renewed, the MDM's copy older
//!   or newer than the proxy's). The store already trusts everything that
//!   key signs under that name, so adding its copy grants nothing the store
//!   does not; and what is added is the store's copy, never the server's
//!   bytes. A certificate with the root's name but another key (a
//!   look-alike) anchors nothing, and is reported as such. Byte equality
//!   alone would refuse a renewed root the admin did install; key equality
//!   alone (SPKI, any name) would not anchor anything for OpenSSL, which
//!   chains by name first;
//! - or the user passes the root's SHA-256 (`--fingerprint`, from IT) and
//!   it is the SHA-256 of the root the proxy presents, a CA that anchors
//!   every chain of the group: then the presented root is added, those
//!   exact bytes having been vouched for out of band.
//!
//! Never because a server sent it. Adding goes through [`change::add`], as
//! `cabundle add` does: validated, stored under `proxy-VENDOR`, synced.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::cert::{Cert, Sha256};
use crate::change::{self, AddRequest, Changed};
use crate::clients::nss;
use crate::date::{self, Timestamp};
use crate::decode;
use crate::doctor::capture::{self, Target};
use crate::doctor::verify::{self, Code, Profile};
use crate::doctor::{is_public_host, parse_url};
use crate::error::{Error, Result};
use crate::merge::{self, Policy, Status};
use crate::sources::os::Family;
use crate::sources::user::Added;
use crate::sources::{Distrust, Gathered};
use crate::state::Paths;
use crate::state::config::Config;
use crate::sync;

/// The hosts `detect` tries when given none: what Python and Node
/// installs reach first, run by four different operators (Fastly, GitHub,
/// Cloudflare's npm), so one root over all of them is no coincidence.
pub const DEFAULT_HOSTS: &[&str] = &[
    "pypi.org",
    "files.pythonhosted.org",
    "github.com",
    "registry.npmjs.org",
];

/// Known TLS-inspection products: the name shown, the slug a root of
/// theirs is stored under (`proxy-SLUG`), and phrases their CAs' names
/// carry (matched as whole words, any case).
pub const VENDORS: &[(&str, &str, &[&str])] = &[
    ("Zscaler", "zscaler", &["zscaler"]),
    ("Netskope", "netskope", &["netskope"]),
    (
        "Palo Alto Networks",
        "paloalto",
        &["palo alto networks", "palo alto", "paloalto", "pan os"],
    ),
    ("Fortinet FortiGate", "fortinet", &["fortinet", "fortigate"]),
    (
        "Cisco Umbrella",
        "cisco-umbrella",
        &["cisco umbrella", "umbrella", "opendns"],
    ),
    ("Cloudflare WARP/Gateway", "cloudflare", &["cloudflare"]),
    ("Forcepoint", "forcepoint", &["forcepoint", "websense"]),
    (
        "Blue Coat/Symantec",
        "bluecoat",
        &["blue coat", "bluecoat", "proxysg", "symantec"],
    ),
    ("Sophos", "sophos", &["sophos"]),
    ("Check Point", "checkpoint", &["check point", "checkpoint"]),
    ("Kaspersky", "kaspersky", &["kaspersky"]),
    ("Avast/AVG", "avast", &["avast", "avg"]),
    ("ESET", "eset", &["eset"]),
    ("mitmproxy", "mitmproxy", &["mitmproxy"]),
];

// ------------------------------------------------------------ the stores

/// A trust store consulted for a root: each certificate it trusts as a CA
/// for TLS servers, with the file or entry it came from.
#[derive(Debug, Clone)]
pub struct Store {
    /// For people: "the OS store under / (Debian GNU/Linux 12)".
    pub name: String,
    pub certs: Vec<(String, Cert)>,
}

/// One store read, or not, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct StoreRead {
    pub store: String,
    pub certificates: usize,
    /// Why it could not be read (it then confirms nothing).
    pub error: Option<String>,
}

/// Where to look besides the OS store `sync`'s options name.
#[derive(Debug, Clone, Default)]
pub struct StoreRequest {
    /// NSS databases named by the user (each must hold one).
    pub nss_dbs: Vec<PathBuf>,
    /// Find the user's NSS databases from here (Chromium's, Firefox
    /// profiles) when none is named.
    pub nss_env: Option<nss::Env>,
    /// Files of CA certificates the user names (from IT).
    pub from: Vec<PathBuf>,
}

/// What a chain is judged against: Mozilla's roots (what "public"
/// means), the bundle (what is trusted already), and the confirming
/// stores.
pub struct Sets {
    /// "Mozilla roots (certifi ...)", and the roots.
    pub public: (String, Vec<Cert>),
    /// The bundle's certificates; `None` before the first sync.
    pub bundle: Option<Vec<Cert>>,
    pub stores: Vec<Store>,
    pub reads: Vec<StoreRead>,
    /// What sync would leave out whatever carries it: every distrust the
    /// sources gathered, and the user's blocks and date.
    distrust: Vec<Distrust>,
    distrust_after: HashMap<Sha256, Timestamp>,
    policy: Policy,
}

impl Sets {
    /// Mozilla's roots and the OS store as `sync` would read them with
    /// `opts` (the OS store less every distrust, blocked and expired
    /// certificate), the bundle, and the stores `req` names.
    pub fn load(paths: &Paths, opts: &sync::Options, req: &StoreRequest) -> Result<Sets> {
        let config = Config::load(&paths.config())?;
        let policy = Policy {
            at: opts.at,
            blocked: config.blocked.iter().copied().collect(),
        };
        let gathered = os_and_public(paths, opts, &policy)?;
        let mut sets = Sets {
            public: gathered.public,
            bundle: decode::decode_file(&paths.bundle)
                .ok()
                .map(|d| d.items.into_iter().map(|i| i.cert).collect()),
            stores: Vec::new(),
            reads: Vec::new(),
            distrust: gathered.distrust,
            distrust_after: gathered.distrust_after,
            policy: policy.clone(),
        };
        let os = gathered.stores;
        sets.add_stores(os);
        sets.add_stores(nss_stores(req, &policy)?);
        for file in &req.from {
            sets.add_stores(vec![Ok(from_file(file, &policy)?)]);
        }
        Ok(sets)
    }

    /// Why sync would leave `cert` out of the bundle (a distrust of any
    /// source, a block, its dates), if it would.
    pub fn left_out(&self, cert: &Cert) -> Option<String> {
        let g = Gathered {
            found: vec![(Arc::from("proxy"), decode::Item::plain(cert.clone()))],
            distrusted: self.distrust.clone(),
            distrust_after: self.distrust_after.clone(),
            ..Gathered::default()
        };
        merge::merge(g, &self.policy)
            .into_iter()
            .find(|e| e.status != Status::Kept)
            .map(|e| e.reason)
    }

    /// Consult these stores too (each read, or why it could not be).
    pub fn add_stores(&mut self, stores: Vec<Result<Store, StoreRead>>) {
        for s in stores {
            match s {
                Ok(store) => {
                    self.reads.push(StoreRead {
                        store: store.name.clone(),
                        certificates: store.certs.len(),
                        error: None,
                    });
                    self.stores.push(store);
                }
                Err(read) => self.reads.push(read),
            }
        }
    }
}

/// Mozilla's roots, and the OS store (with anything else `sync` gathers
/// beside it) as sync reads it, each certificate kept only as sync would
/// keep it.
/// What [`os_and_public`] read.
struct OsAndPublic {
    public: (String, Vec<Cert>),
    stores: Vec<Result<Store, StoreRead>>,
    distrust: Vec<Distrust>,
    distrust_after: HashMap<Sha256, Timestamp>,
}

fn os_and_public(paths: &Paths, opts: &sync::Options, policy: &Policy) -> Result<OsAndPublic> {
    let sync::Gathering {
        os,
        gathered,
        from_os,
        mozilla,
        roots,
        ..
    } = sync::gather(paths, &opts.with_config(&Config::load(&paths.config())?))?;
    let public_name = format!("Mozilla roots ({})", roots.provenance.upstream);
    let Gathered {
        mut found,
        distrusted,
        distrust_after,
        unapplied,
        ..
    } = gathered;
    let mut rest = found.split_off(from_os.min(found.len()));
    // After Mozilla's: what sync reads beside the OS store (the Windows
    // host, once that branch is in), trusted as sync trusts it.
    let beside = rest.split_off(mozilla.min(rest.len()));
    let public: Vec<Cert> = rest.into_iter().map(|(_, i)| i.cert).collect();
    let os_name = match (&os.family, &os.name) {
        (Some(Family::Macos), name) => format!(
            "the macOS store ({})",
            name.as_deref().unwrap_or("keychains")
        ),
        (Some(family), name) => format!(
            "the OS store under {} ({})",
            os.root.display(),
            name.clone().unwrap_or_else(|| format!("{family} layout"))
        ),
        (None, _) => format!("the OS store under {}", os.root.display()),
    };
    let mut stores = Vec::new();
    if !unapplied.is_empty() {
        let why: Vec<String> = unapplied.iter().map(ToString::to_string).collect();
        stores.push(Err(StoreRead {
            store: os_name,
            certificates: 0,
            error: Some(format!(
                "not used: a distrust there cannot be applied ({})",
                why.join("; ")
            )),
        }));
        return Ok(OsAndPublic {
            public: (public_name, public),
            stores,
            distrust: distrusted,
            distrust_after,
        });
    }
    if os.family.is_none() {
        stores.push(Err(StoreRead {
            store: os_name.clone(),
            certificates: 0,
            error: Some("no OS trust store found there".into()),
        }));
    }
    let trusted = |found: Vec<(Arc<str>, decode::Item)>| -> Vec<(String, Cert)> {
        let g = Gathered {
            found,
            distrusted: distrusted.clone(),
            distrust_after: distrust_after.clone(),
            ..Gathered::default()
        };
        merge::merge(g, policy)
            .into_iter()
            .filter(|e| e.status == Status::Kept && e.cert.is_ca())
            .map(|e| (e.sources.join(", "), e.cert))
            .collect()
    };
    if os.family.is_some() {
        stores.push(Ok(Store {
            name: os_name,
            certs: trusted(found),
        }));
    }
    let mut by_kind: BTreeMap<String, Vec<(Arc<str>, decode::Item)>> = BTreeMap::new();
    for (label, item) in beside {
        let kind = label.split(':').next().unwrap_or_default().to_string();
        by_kind.entry(kind).or_default().push((label, item));
    }
    for (kind, found) in by_kind {
        stores.push(Ok(Store {
            name: format!("the {kind} store sync reads"),
            certs: trusted(found),
        }));
    }
    Ok(OsAndPublic {
        public: (public_name, public),
        stores,
        distrust: distrusted,
        distrust_after,
    })
}

/// A file of CA certificates the user names (`--from`): each one that is
/// a CA, not expired, blocked or marked distrusted in the file.
fn from_file(file: &Path, policy: &Policy) -> Result<Store> {
    let input = |reason: String| Error::Input {
        what: "--from",
        path: file.to_path_buf(),
        reason,
    };
    let decoded = decode::decode_file(file).map_err(|e| input(e.to_string()))?;
    if decoded.items.is_empty() {
        return Err(input("holds no certificate".into()));
    }
    // A TRUSTED CERTIFICATE the file marks as not for TLS servers is out.
    let certs = decoded
        .items
        .into_iter()
        .filter(|i| i.distrust.is_none())
        .map(|i| (file.display().to_string(), i.cert))
        .collect();
    Ok(Store {
        name: format!("the file {}", file.display()),
        certs: kept(certs, policy),
    })
}

/// The CAs of `certs` that `policy` keeps (not blocked, not expired).
fn kept(certs: Vec<(String, Cert)>, policy: &Policy) -> Vec<(String, Cert)> {
    certs
        .into_iter()
        .filter(|(_, c)| {
            c.is_ca() && !c.is_expired_at(policy.at) && !policy.blocked.contains(&c.sha256)
        })
        .collect()
}

/// The NSS databases named (each must be one), else those found: each
/// certificate trusted there as a CA for TLS servers (`C` in its SSL
/// flags), except what cabundle put there itself (`install --nss`), which
/// confirms nothing.
fn nss_stores(req: &StoreRequest, policy: &Policy) -> Result<Vec<Result<Store, StoreRead>>> {
    let named = !req.nss_dbs.is_empty();
    let dbs: Vec<PathBuf> = if named {
        for dir in &req.nss_dbs {
            if !dir.join("cert9.db").is_file() {
                return Err(Error::Input {
                    what: "--nss-db",
                    path: dir.clone(),
                    reason: "holds no NSS database (cert9.db)".into(),
                });
            }
        }
        req.nss_dbs.clone()
    } else {
        match &req.nss_env {
            Some(env) => nss::discover(env)
                .into_iter()
                .filter(|db| db.exists)
                .map(|db| db.path)
                .collect(),
            None => Vec::new(),
        }
    };
    if dbs.is_empty() {
        return Ok(Vec::new());
    }
    let certutil = match nss::Certutil::find() {
        Ok(c) => c,
        Err(e) if named => return Err(e),
        Err(_) => {
            return Ok(dbs
                .iter()
                .map(|db| {
                    Err(StoreRead {
                        store: format!("the NSS database {}", db.display()),
                        certificates: 0,
                        error: Some(
                            "not read: certutil not found (libnss3-tools, nss-tools)".into(),
                        ),
                    })
                })
                .collect());
        }
    };
    let mut out = Vec::new();
    for db in dbs {
        let name = format!("the NSS database {}", db.display());
        match nss_trusted(&certutil, &db) {
            Ok(certs) => out.push(Ok(Store {
                name,
                certs: kept(certs, policy),
            })),
            Err(e) if named => {
                return Err(Error::Input {
                    what: "--nss-db",
                    path: db,
                    reason: e,
                });
            }
            Err(e) => out.push(Err(StoreRead {
                store: name,
                certificates: 0,
                error: Some(format!("not read: {e}")),
            })),
        }
    }
    Ok(out)
}

fn nss_trusted(certutil: &nss::Certutil, db: &Path) -> Result<Vec<(String, Cert)>, String> {
    let mut certs = Vec::new();
    for listed in certutil.list(db)? {
        let ssl = listed.trust.split(',').next().unwrap_or_default();
        if !ssl.contains('C') || listed.nickname.starts_with(nss::NICKNAME_PREFIX) {
            continue;
        }
        // A nickname names every certificate of its subject: which one
        // the trust is on is certain only when there is one.
        if let [cert] = certutil.certs(db, &listed.nickname)?.as_slice()
            && cert.is_ca()
        {
            certs.push((format!("nss:{}", listed.nickname), cert.clone()));
        }
    }
    Ok(certs)
}

// ------------------------------------------------------------ detect

/// What `detect` is asked.
#[derive(Debug, Clone)]
pub struct DetectRequest {
    /// `https://host[:port]` or `host[:port]`; [`DEFAULT_HOSTS`] when empty.
    pub urls: Vec<String>,
    /// Bounds each host's capture, the proxy's CONNECT included.
    pub timeout: Duration,
    /// Validity is judged as of this time.
    pub at: Timestamp,
}

/// How a host's chain was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Chain building reaches a public root: nothing re-signs it.
    Public,
    /// A public name under a root no public set holds.
    ReSigned,
    /// A name that is not public, under a private root: not inspection.
    Private,
    /// Not reached, or what it presented cannot be read.
    Unreached,
}

/// One certificate a host presented.
#[derive(Debug, Clone, Serialize)]
pub struct Presented {
    pub subject: String,
    pub issuer: String,
    pub sha256: String,
    pub not_before: String,
    pub not_after: String,
}

impl Presented {
    fn of(c: &Cert) -> Presented {
        Presented {
            subject: c.subject.clone(),
            issuer: c.issuer.clone(),
            sha256: c.fingerprint(),
            not_before: date::instant(c.not_before),
            not_after: date::instant(c.not_after),
        }
    }
}

/// One host, as detect saw it.
#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    pub url: String,
    pub host: String,
    pub port: u16,
    /// The proxy it was reached through (`HTTPS_PROXY`, unless `NO_PROXY`).
    pub proxy: Option<String>,
    pub verdict: Verdict,
    /// Why it was not reached.
    pub error: Option<String>,
    pub chain: Vec<Presented>,
    /// The [`RootReport::id`] of the root that re-signs it.
    pub root: Option<String>,
    /// The leaf names this host (`None` when nothing was presented).
    pub leaf_names_host: Option<bool>,
    #[serde(skip)]
    certs: Vec<Cert>,
}

/// A store certificate that anchors a group's chains (or, in
/// `look_alikes`, one with the root's name that does not).
#[derive(Debug, Clone, Serialize)]
pub struct Holding {
    pub store: String,
    /// The file or entry in that store.
    pub source: String,
    pub subject: String,
    pub sha256: String,
    /// The very certificate the proxy sent (same SHA-256); false for a
    /// re-issue with the same key, or when the proxy sent no root.
    pub same_certificate: bool,
    /// For a look-alike: why it is not the root.
    pub detail: Option<String>,
    #[serde(skip)]
    cert: Option<Cert>,
}

/// One root that re-signs public hosts.
#[derive(Debug, Clone, Serialize)]
pub struct RootReport {
    /// `sha256:HEX` when the proxy sends its root, else
    /// `issuer:NAME#KEYID` (the CA it does not send).
    pub id: String,
    /// The proxy sends this root; false: only its leaves (and maybe
    /// intermediates), and `subject` names the CA that issued the top one.
    pub sent: bool,
    /// Only the leaf was sent, nothing above it.
    pub leaf_only: bool,
    pub subject: String,
    /// The root's SHA-256, when sent.
    pub sha256: Option<String>,
    /// The missing issuer's key id (the top certificate's Authority Key
    /// Identifier), when not sent.
    pub authority_key_id: Option<String>,
    pub vendor: Option<String>,
    pub hosts: Vec<String>,
    /// The bundle anchors every chain of this root already.
    pub in_bundle: bool,
    /// Confirming stores whose CA anchors every chain of this root.
    pub held_by: Vec<Holding>,
    /// Store certificates with the root's name that anchor nothing here.
    pub look_alikes: Vec<Holding>,
    #[serde(skip)]
    chains: Vec<Vec<Cert>>,
    #[serde(skip)]
    root: Option<Cert>,
    /// The vendor's slug in [`VENDORS`].
    #[serde(skip)]
    slug: Option<&'static str>,
}

impl RootReport {
    /// A short name for people: the CN of the root (or missing issuer).
    pub fn name(&self) -> String {
        cn_of(&self.subject).unwrap_or_else(|| self.subject.clone())
    }
}

/// What `detect` found (its `--json` shape).
#[derive(Debug, Clone, Serialize)]
pub struct Detection {
    /// Some reached host is re-signed.
    pub inspected: bool,
    /// Every re-signing root is in the bundle already.
    pub trusted: bool,
    /// How many hosts answered.
    pub reached: usize,
    /// What "public" was judged against.
    pub public_roots: String,
    pub hosts: Vec<HostReport>,
    pub roots: Vec<RootReport>,
    pub stores: Vec<StoreRead>,
}

impl Detection {
    /// Roots the bundle does not hold.
    pub fn untrusted(&self) -> impl Iterator<Item = &RootReport> {
        self.roots.iter().filter(|r| !r.in_bundle)
    }
}

/// Capture each host's chain (all at once), judge it, group the
/// re-signed ones by root, and look for each root in the bundle and the
/// stores.
pub fn detect(sets: &Sets, req: &DetectRequest) -> Detection {
    let urls: Vec<String> = if req.urls.is_empty() {
        DEFAULT_HOSTS.iter().map(|h| h.to_string()).collect()
    } else {
        req.urls.clone()
    };
    let mut hosts: Vec<HostReport> = std::thread::scope(|s| {
        let handles: Vec<_> = urls
            .iter()
            .map(|u| s.spawn(|| reach(u, req.timeout)))
            .collect();
        handles
            .into_iter()
            .zip(&urls)
            .map(|(h, u)| h.join().unwrap_or_else(|_| unreached(u, "capture failed")))
            .collect()
    });
    let mut roots: Vec<RootReport> = Vec::new();
    for h in &mut hosts {
        if h.verdict == Verdict::Unreached {
            continue;
        }
        let (verdict, root) = judge(&h.host, &h.certs, &sets.public.1, req.at);
        h.verdict = verdict;
        let Some(mut root) = root else { continue };
        h.root = Some(root.id.clone());
        match roots.iter_mut().find(|r| r.id == root.id) {
            Some(r) => {
                r.hosts.push(h.host.clone());
                r.chains.push(h.certs.clone());
            }
            None => {
                root.hosts.push(h.host.clone());
                root.chains.push(h.certs.clone());
                roots.push(root);
            }
        }
    }
    for r in &mut roots {
        let found = vendor(&r.chains, &r.subject);
        r.vendor = found.map(|(v, _)| v.to_string());
        r.slug = found.map(|(_, s)| s);
        r.in_bundle = sets
            .bundle
            .as_ref()
            .is_some_and(|b| anchors_all(&r.chains, b, req.at).is_some());
        let (held, look_alikes) = holdings(r, &sets.stores, req.at);
        r.held_by = held;
        r.look_alikes = look_alikes;
    }
    let inspected = !roots.is_empty();
    Detection {
        inspected,
        trusted: roots.iter().all(|r| r.in_bundle),
        reached: hosts
            .iter()
            .filter(|h| h.verdict != Verdict::Unreached)
            .count(),
        public_roots: sets.public.0.clone(),
        hosts,
        roots,
        stores: sets.reads.clone(),
    }
}

fn unreached(url: &str, why: &str) -> HostReport {
    HostReport {
        url: url.to_string(),
        host: String::new(),
        port: 0,
        proxy: None,
        verdict: Verdict::Unreached,
        error: Some(why.to_string()),
        chain: Vec::new(),
        root: None,
        leaf_names_host: None,
        certs: Vec::new(),
    }
}

/// The chain `url` presents, through the proxy the environment names.
fn reach(url: &str, timeout: Duration) -> HostReport {
    let Some((host, port)) = parse_url(url) else {
        return unreached(url, "expected https://host[:port][/path] or host[:port]");
    };
    let proxy = capture::proxy_for(&host);
    let mut report = unreached(url, "");
    report.host.clone_from(&host);
    report.port = port;
    report.proxy = proxy.as_ref().map(|(h, p)| match h.contains(':') {
        true => format!("[{h}]:{p}"),
        false => format!("{h}:{p}"),
    });
    let target = Target {
        host: host.clone(),
        port,
        proxy,
        timeout,
    };
    let captured = match capture::capture(&target) {
        Ok(c) => c,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    let mut certs = Vec::new();
    for (i, der) in captured.chain.iter().enumerate() {
        match Cert::from_der(der) {
            Ok(c) => certs.push(c),
            Err(e) => {
                report.error = Some(format!(
                    "it presents a certificate (number {} of {}) that cannot be read: {e}",
                    i + 1,
                    captured.chain.len()
                ));
                return report;
            }
        }
    }
    if certs.is_empty() {
        report.error = Some("it presented no certificate".into());
        return report;
    }
    report.error = None;
    report.verdict = Verdict::Public; // judged later
    report.chain = certs.iter().map(Presented::of).collect();
    report.leaf_names_host = Some(names_host(&certs[0], &host));
    report.certs = certs;
    report
}

/// Public, re-signed (with its root, not yet looked for anywhere) or
/// private.
fn judge(
    host: &str,
    chain: &[Cert],
    public: &[Cert],
    at: Timestamp,
) -> (Verdict, Option<RootReport>) {
    if reaches(chain, public, at).is_some() {
        return (Verdict::Public, None);
    }
    if !is_public_host(host) {
        return (Verdict::Private, None);
    }
    let top = top_of(chain);
    let sent = top.subject == top.issuer;
    let (id, subject, sha256, aki) = if sent {
        (
            format!("sha256:{}", top.fingerprint()),
            top.subject.clone(),
            Some(top.fingerprint()),
            None,
        )
    } else {
        let aki = authority_key_id(top);
        (
            format!("issuer:{}#{}", top.issuer, aki.as_deref().unwrap_or("-")),
            top.issuer.clone(),
            None,
            aki,
        )
    };
    let root = RootReport {
        id,
        sent,
        leaf_only: !sent && chain.len() == 1,
        subject,
        sha256,
        authority_key_id: aki,
        vendor: None,
        hosts: Vec::new(),
        in_bundle: false,
        held_by: Vec::new(),
        look_alikes: Vec::new(),
        chains: Vec::new(),
        root: sent.then(|| top.clone()),
        slug: None,
    };
    (Verdict::ReSigned, Some(root))
}

/// The furthest certificate above the leaf the server sent, following
/// issuer names; the leaf itself when nothing above it was sent.
fn top_of(chain: &[Cert]) -> &Cert {
    let mut at = &chain[0];
    // Bounded by the chain's length: a loop of names cannot spin.
    for _ in 1..chain.len() {
        if at.subject == at.issuer {
            break;
        }
        match chain.iter().skip(1).find(|c| c.subject == at.issuer) {
            Some(c) if c.sha256 != at.sha256 => at = c,
            _ => break,
        }
    }
    at
}

/// The certificate of `set` that chain building from `chain` reaches
/// (OpenSSL's, trusted first; no host name, no key-size level), with no
/// signature failing on the way: the chain's anchor in that set, even when
/// it then fails for another reason (an expired leaf is still the public
/// CA's leaf).
fn reaches(chain: &[Cert], set: &[Cert], at: Timestamp) -> Option<Cert> {
    if set.is_empty() {
        return None;
    }
    let in_set = |c: &Cert| set.iter().any(|s| s.sha256 == c.sha256);
    match verify::verify(chain, set, None, at.unix(), &Profile::openssl_default(0)) {
        Ok(path) => path.last().filter(|c| in_set(c)).cloned(),
        Err(f) => {
            let signature = matches!(
                f.code,
                Code::CertSignatureFailure
                    | Code::UnableToVerifyLeafSignature
                    | Code::UnsupportedAlgorithm
            );
            f.chain
                .last()
                .filter(|c| !signature && f.chain.len() > 1 && in_set(c))
                .cloned()
        }
    }
}

/// The anchors in `set` of every chain, when each has one; else `None`.
fn anchors_all(chains: &[Vec<Cert>], set: &[Cert], at: Timestamp) -> Option<Vec<Cert>> {
    let mut found: Vec<Cert> = Vec::new();
    for chain in chains {
        let anchor = reaches(chain, set, at)?;
        if !found.iter().any(|c| c.sha256 == anchor.sha256) {
            found.push(anchor);
        }
    }
    Some(found)
}

/// Which stores hold a CA that anchors every chain of `r`, and which hold
/// only a certificate with its name.
fn holdings(r: &RootReport, stores: &[Store], at: Timestamp) -> (Vec<Holding>, Vec<Holding>) {
    let mut held = Vec::new();
    let mut look_alikes = Vec::new();
    for store in stores {
        let certs: Vec<Cert> = store.certs.iter().map(|(_, c)| c.clone()).collect();
        let source_of = |c: &Cert| {
            store
                .certs
                .iter()
                .find(|(_, s)| s.sha256 == c.sha256)
                .map(|(l, _)| l.clone())
                .unwrap_or_default()
        };
        let sent = r.root.as_ref().map(|c| c.sha256);
        let anchors = anchors_all(&r.chains, &certs, at).unwrap_or_default();
        for c in &anchors {
            held.push(Holding {
                store: store.name.clone(),
                source: source_of(c),
                subject: c.subject.clone(),
                sha256: c.fingerprint(),
                same_certificate: sent == Some(c.sha256),
                detail: None,
                cert: Some(c.clone()),
            });
        }
        for (source, c) in &store.certs {
            if c.subject != r.subject || anchors.iter().any(|a| a.sha256 == c.sha256) {
                continue;
            }
            let why = match verify::verify(
                &r.chains[0],
                std::slice::from_ref(c),
                None,
                at.unix(),
                &Profile::openssl_default(0),
            ) {
                Err(f) => f.to_string(),
                Ok(_) => "it does not anchor every host's chain".into(),
            };
            let same_key = r.root.as_ref().is_some_and(|s| s.spki() == c.spki());
            look_alikes.push(Holding {
                store: store.name.clone(),
                source: source.clone(),
                subject: c.subject.clone(),
                sha256: c.fingerprint(),
                same_certificate: false,
                detail: Some(if same_key {
                    format!(
                        "same name and key, but the presented chain does not verify to it: {why}"
                    )
                } else {
                    format!(
                        "same name, another key: it did not sign what the proxy presents ({why})"
                    )
                }),
                cert: None,
            });
        }
    }
    (held, look_alikes)
}

/// Does the certificate name `host` (a DNS SAN, wildcard as a whole first
/// label; an IP SAN; the CN only when there is no SAN)?
fn names_host(cert: &Cert, host: &str) -> bool {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let Ok((_, x)) = X509Certificate::from_der(&cert.der) else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    let dns = |name: &str| {
        let name = name.to_ascii_lowercase();
        match name.strip_prefix("*.") {
            Some(rest) => host
                .split_once('.')
                .is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
            None => name == host,
        }
    };
    match x.subject_alternative_name() {
        Ok(Some(san)) => san.value.general_names.iter().any(|n| match n {
            GeneralName::DNSName(d) => dns(d),
            GeneralName::IPAddress(ip) => host.parse::<std::net::IpAddr>().is_ok_and(|h| match h {
                std::net::IpAddr::V4(v) => v.octets().as_slice() == *ip,
                std::net::IpAddr::V6(v) => v.octets().as_slice() == *ip,
            }),
            _ => false,
        }),
        _ => cert.common_name.as_deref().is_some_and(dns),
    }
}

/// The Authority Key Identifier's key id, as OpenSSL prints it
/// (`AB:CD:...`).
fn authority_key_id(cert: &Cert) -> Option<String> {
    use x509_parser::prelude::{FromDer, ParsedExtension, X509Certificate};
    let (_, x) = X509Certificate::from_der(&cert.der).ok()?;
    x.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => aki.key_identifier.as_ref().map(|k| {
                k.0.iter()
                    .map(|b| format!("{b:02X}"))
                    .collect::<Vec<_>>()
                    .join(":")
            }),
            _ => None,
        })
}

/// The CN of a subject as x509-parser renders it (`CN=..., O=...`).
fn cn_of(subject: &str) -> Option<String> {
    subject
        .split(", ")
        .find_map(|part| part.strip_prefix("CN="))
        .map(str::to_string)
}

/// The vendor the CA names of these chains point to: the root's (or
/// missing issuer's) name, each leaf's issuer, and every certificate above
/// the leaves (never a leaf's subject, which names the host).
fn vendor(chains: &[Vec<Cert>], root: &str) -> Option<(&'static str, &'static str)> {
    let mut names: Vec<&str> = vec![root];
    for chain in chains {
        names.extend(chain.first().map(|leaf| leaf.issuer.as_str()));
        for c in chain.iter().skip(1) {
            names.push(&c.subject);
            names.push(&c.issuer);
        }
    }
    vendor_of_names(&names)
}

/// The first product of [`VENDORS`] whose phrase is in one of `names`, as
/// whole words in any case: (name, slug).
pub fn vendor_of_names(names: &[&str]) -> Option<(&'static str, &'static str)> {
    let words = |s: &str| {
        let w: Vec<String> = s
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        format!(" {} ", w.join(" "))
    };
    let names: Vec<String> = names.iter().map(|n| words(n)).collect();
    VENDORS
        .iter()
        .find(|(_, _, phrases)| {
            phrases
                .iter()
                .any(|p| names.iter().any(|n| n.contains(&words(p))))
        })
        .map(|(name, slug, _)| (*name, *slug))
}

// ------------------------------------------------------------ trust

/// What `trust` is asked besides what detect is.
#[derive(Debug, Clone, Default)]
pub struct TrustRequest {
    /// SHA-256s from IT: a presented root with one of them may be added.
    pub fingerprints: Vec<Sha256>,
    /// Store under this name instead of `proxy-VENDOR`.
    pub name: Option<String>,
}

/// What became of one root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// The bundle anchors its chains already.
    AlreadyTrusted,
    /// Added now.
    Added,
    /// Nothing vouches for it: not added.
    Refused,
}

/// One root's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The [`RootReport::id`].
    pub root: String,
    pub subject: String,
    pub state: State,
    /// The name it was stored under, when added.
    pub name: Option<String>,
    /// The certificate added: the store's copy, or the presented root the
    /// fingerprint names.
    pub sha256: Option<String>,
    /// What vouched for it: a store's name, or `--fingerprint`.
    pub confirmed_by: Option<String>,
    pub message: String,
}

/// What `trust` did (its `--json` shape: the detection, then this).
#[derive(Debug, Serialize)]
pub struct Trusted {
    #[serde(flatten)]
    pub detection: Detection,
    pub outcomes: Vec<Outcome>,
    /// Fingerprints given that match no presented root.
    pub unmatched_fingerprints: Vec<String>,
    #[serde(skip)]
    pub changes: Vec<Changed<Added>>,
}

impl Trusted {
    pub fn refused(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| o.state == State::Refused)
            .count()
    }
}

/// Add each re-signing root that a confirming store or a fingerprint
/// vouches for, through `cabundle add`'s engine; refuse the rest.
pub fn trust(
    paths: &Paths,
    sets: &Sets,
    detection: Detection,
    req: &TrustRequest,
    opts: &sync::Options,
) -> Result<Trusted> {
    if let Some(name) = &req.name {
        crate::sources::user::check_name(name)?;
    }
    let mut used: BTreeSet<Sha256> = BTreeSet::new();
    let mut outcomes = Vec::new();
    // name → (certificate, root index) to add.
    let mut to_add: BTreeMap<String, Vec<(Cert, usize)>> = BTreeMap::new();
    for r in &detection.roots {
        let mut o = Outcome {
            root: r.id.clone(),
            subject: r.subject.clone(),
            state: State::Refused,
            name: None,
            sha256: None,
            confirmed_by: None,
            message: String::new(),
        };
        // A fingerprint names this root if it is the presented root's or
        // a confirming store's copy's.
        let shas = r.root.iter().map(|c| c.sha256).chain(
            r.held_by
                .iter()
                .filter_map(|h| h.cert.as_ref().map(|c| c.sha256)),
        );
        used.extend(shas.filter(|sha| req.fingerprints.contains(sha)));
        if r.in_bundle {
            o.state = State::AlreadyTrusted;
            o.message = "the bundle trusts it already".into();
            outcomes.push(o);
            continue;
        }
        let by_store = r
            .held_by
            .iter()
            .max_by_key(|h| h.same_certificate)
            .and_then(|h| Some((h.cert.clone()?, h.store.clone(), h.source.clone())));
        let by_fingerprint = r
            .root
            .as_ref()
            .filter(|c| req.fingerprints.contains(&c.sha256))
            .filter(|c| c.is_ca())
            .filter(|c| anchors_all(&r.chains, std::slice::from_ref(c), opts.at).is_some());
        let chosen = match (by_store, by_fingerprint) {
            (Some((cert, store, source)), _) => Some((
                cert,
                store.clone(),
                format!("the copy in {store} ({source})"),
            )),
            (None, Some(cert)) => Some((
                cert.clone(),
                "--fingerprint".to_string(),
                "the presented root, whose SHA-256 is the one given with --fingerprint".into(),
            )),
            (None, None) => None,
        };
        let left_out = chosen.as_ref().and_then(|(c, _, _)| sets.left_out(c));
        match chosen {
            Some((cert, _, _)) if left_out.is_some() => {
                o.sha256 = Some(cert.fingerprint());
                o.message = format!("sync would leave it out: {}", left_out.unwrap_or_default());
            }
            Some((cert, by, what)) => {
                let name = req.name.clone().unwrap_or_else(|| store_name(r));
                o.name = Some(name.clone());
                o.sha256 = Some(cert.fingerprint());
                o.confirmed_by = Some(by);
                o.message = what;
                to_add.entry(name).or_default().push((cert, outcomes.len()));
            }
            None => o.message = refusal(r, &req.fingerprints),
        }
        outcomes.push(o);
    }
    let mut changes = Vec::new();
    for (name, certs) in to_add {
        let dir = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
        let mut files = Vec::new();
        for (i, (cert, _)) in certs.iter().enumerate() {
            let file = dir.path().join(format!("{name}-{i}.pem"));
            std::fs::write(&file, cert.to_pem()).map_err(|e| Error::io(&file, e))?;
            files.push(file);
        }
        let add = AddRequest {
            files: &files,
            name: Some(&name),
            allow_leaf: false,
        };
        // Refusals name the temp file; say which root it was instead.
        let done = change::add(paths, &add, opts).map_err(|e| match e {
            Error::Refused { path, reason } => {
                let at = files.iter().position(|f| *f == path).unwrap_or(0);
                Error::Refused {
                    path: PathBuf::from(format!("{} ({})", name, certs[at].0.subject)),
                    reason,
                }
            }
            e => e,
        })?;
        for (_, i) in &certs {
            outcomes[*i].state = State::Added;
        }
        changes.push(done);
    }
    let unmatched_fingerprints = req
        .fingerprints
        .iter()
        .filter(|f| !used.contains(f))
        .map(ToString::to_string)
        .collect();
    Ok(Trusted {
        detection,
        outcomes,
        unmatched_fingerprints,
        changes,
    })
}

/// `proxy-VENDOR`, else `proxy-` and the root's CN as a name `add` takes.
fn store_name(r: &RootReport) -> String {
    if let Some(slug) = r.slug {
        return format!("proxy-{slug}");
    }
    let mut slug = String::new();
    for c in r.name().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_end_matches('-').chars().take(50).collect();
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "proxy".into()
    } else {
        format!("proxy-{slug}")
    }
}

/// Why a root was not added, and what to ask IT.
fn refusal(r: &RootReport, fingerprints: &[Sha256]) -> String {
    let mut why = String::from("no store here holds it, and no --fingerprint from IT names it");
    if !fingerprints.is_empty() {
        why = match &r.sha256 {
            Some(sha) => format!(
                "no store here holds it, and its SHA-256 ({sha}) is not the one given with --fingerprint"
            ),
            None => "no store here holds it, and the proxy does not send it, so no --fingerprint can name what it sent".into(),
        };
    }
    if !r.look_alikes.is_empty() {
        why.push_str(&format!(
            "; {} holds a CA of the same name that did not sign these certificates: this is not the root installed there",
            r.look_alikes[0].store
        ));
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendors_are_named_by_whole_words_in_any_case() {
        let v = |n: &str| vendor_of_names(&[n]).map(|(name, _)| name);
        assert_eq!(v("CN=Zscaler Root CA, O=Zscaler Inc."), Some("Zscaler"));
        assert_eq!(v("CN=caadmin.netskope.com"), Some("Netskope"));
        assert_eq!(v("CN=FortiGate CA, O=Fortinet"), Some("Fortinet FortiGate"));
        assert_eq!(v("CN=Fortigate_CA_SSL"), Some("Fortinet FortiGate"));
        assert_eq!(v("CN=Cisco Umbrella Root CA"), Some("Cisco Umbrella"));
        assert_eq!(
            v("CN=Gateway CA - Cloudflare Managed G1"),
            Some("Cloudflare WARP/Gateway")
        );
        assert_eq!(v("CN=ESET SSL Filter CA"), Some("ESET"));
        assert_eq!(v("CN=AVG Web/Mail Shield Root"), Some("Avast/AVG"));
        assert_eq!(v("CN=mitmproxy, O=mitmproxy"), Some("mitmproxy"));
        assert_eq!(v("CN=PAN-OS Forward Trust"), Some("Palo Alto Networks"));
        // Inside another word, no.
        assert_eq!(v("CN=Reset Corp Root"), None);
        assert_eq!(v("CN=Havgard Root"), None);
        assert_eq!(v("CN=Corp TLS Inspection CA"), None);
    }

    #[test]
    fn names_for_the_store() {
        let mut r = RootReport {
            id: String::new(),
            sent: true,
            leaf_only: false,
            subject: "CN=Zscaler Root CA, O=Zscaler Inc.".into(),
            sha256: None,
            authority_key_id: None,
            vendor: Some("Zscaler".into()),
            hosts: Vec::new(),
            in_bundle: false,
            held_by: Vec::new(),
            look_alikes: Vec::new(),
            chains: Vec::new(),
            root: None,
            slug: Some("zscaler"),
        };
        assert_eq!(store_name(&r), "proxy-zscaler");
        r.vendor = None;
        r.slug = None;
        r.subject = "CN=ACME Corp. TLS/SSL Inspection (2024), O=ACME".into();
        assert_eq!(store_name(&r), "proxy-acme-corp-tls-ssl-inspection-2024");
        crate::sources::user::check_name(&store_name(&r)).unwrap();
        r.subject = "O=Nameless".into();
        assert_eq!(store_name(&r), "proxy-o-nameless");
        r.subject = "CN=***".into();
        assert_eq!(store_name(&r), "proxy");
    }

    #[test]
    fn default_hosts_are_public_names() {
        for h in DEFAULT_HOSTS {
            assert!(is_public_host(h), "{h}");
            assert!(parse_url(h).is_some(), "{h}");
        }
    }
}
