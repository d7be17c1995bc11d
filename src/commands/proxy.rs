//! `cabundle proxy detect` and `cabundle proxy trust`.

use std::time::Duration;

use crate::cli::{ProxyAction, ProxyArgs, ProxyDetectArgs, ProxyTrustArgs};
use cabundle::cert::printable;
use cabundle::clients::nss;
use cabundle::error::{Error, Result};
use cabundle::proxy::{
    self, DetectRequest, Detection, RootReport, Sets, State, StoreRequest, TrustRequest, Trusted,
    Verdict,
};
use cabundle::state::Paths;

use super::{out, out_json, render, sync_options};

pub fn run(paths: &Paths, args: &ProxyArgs) -> Result<()> {
    match &args.action {
        ProxyAction::Detect(a) => detect(paths, a),
        ProxyAction::Trust(a) => trust(paths, a),
    }
}

/// The stores and the request `a` names.
fn prepare(
    paths: &Paths,
    a: &ProxyDetectArgs,
) -> Result<(cabundle::sync::Options, Sets, DetectRequest)> {
    let opts = sync_options(paths, &a.sync)?;
    let stores = StoreRequest {
        nss_dbs: a.nss_db.clone(),
        // Without HOME there are no databases of the user's to find.
        nss_env: a
            .nss_db
            .is_empty()
            .then(nss::Env::from_process)
            .and_then(Result::ok),
        from: a.from.clone(),
    };
    let sets = Sets::load(paths, &opts, &stores)?;
    let req = DetectRequest {
        urls: a.urls.clone(),
        timeout: Duration::from_secs(a.timeout),
        at: opts.at,
    };
    Ok((opts, sets, req))
}

fn detect(paths: &Paths, a: &ProxyDetectArgs) -> Result<()> {
    let (_, sets, req) = prepare(paths, a)?;
    let d = proxy::detect(&sets, &req);
    if a.json {
        out_json(&d)?;
    } else {
        out(&render_detection(&d, a.sync.verbose))?;
    }
    if d.reached == 0 {
        return Err(Error::ProxyUnreached);
    }
    match d.untrusted().count() {
        0 => Ok(()),
        n => Err(Error::ProxyFound(n)),
    }
}

fn trust(paths: &Paths, a: &ProxyTrustArgs) -> Result<()> {
    let (opts, sets, req) = prepare(paths, &a.detect)?;
    let d = proxy::detect(&sets, &req);
    let reached = d.reached;
    let done = proxy::trust(
        paths,
        &sets,
        d,
        &TrustRequest {
            fingerprints: a.fingerprint.clone(),
            name: a.name.clone(),
        },
        &opts,
    )?;
    if a.detect.json {
        out_json(&done)?;
    } else {
        let mut text = render_detection(&done.detection, a.detect.sync.verbose);
        text.push_str(&render_outcomes(&done));
        out(&text)?;
    }
    for change in &done.changes {
        change.notes.iter().for_each(render::note);
        render::summary(
            paths,
            &opts,
            a.detect.sync.at.is_some(),
            &change.report,
            a.detect.sync.verbose,
        );
    }
    if reached == 0 {
        return Err(Error::ProxyUnreached);
    }
    match done.refused() {
        0 => Ok(()),
        n => Err(Error::ProxyNotTrusted(n)),
    }
}

/// `host:port`, and the proxy it went through.
fn where_(h: &proxy::HostReport) -> String {
    let at = if h.host.is_empty() {
        h.url.clone()
    } else if h.host.contains(':') {
        format!("[{}]:{}", h.host, h.port)
    } else {
        format!("{}:{}", h.host, h.port)
    };
    match &h.proxy {
        Some(p) => format!("{at} via proxy {p}"),
        None => at,
    }
}

fn render_detection(d: &Detection, verbose: bool) -> String {
    let mut t = String::new();
    for h in &d.hosts {
        let top = h.chain.first();
        let line = match h.verdict {
            Verdict::Unreached => {
                format!("not reached: {}", h.error.as_deref().unwrap_or("no answer"))
            }
            Verdict::Public => format!(
                "public: its chain ends at a root of {} (nothing re-signs it)",
                d.public_roots
            ),
            Verdict::Private => format!(
                "private: not a public name, under its own CA ({}): not inspection",
                top.map_or("", |c| c.issuer.as_str())
            ),
            Verdict::ReSigned => {
                let root = d
                    .roots
                    .iter()
                    .find(|r| Some(&r.id) == h.root.as_ref())
                    .map_or_else(String::new, RootReport::name);
                let names = match h.leaf_names_host {
                    Some(false) => format!(" (and that certificate does not even name {})", h.host),
                    _ => String::new(),
                };
                format!(
                    "RE-SIGNED: its certificate is issued under {root}, which is not a public root{names}"
                )
            }
        };
        t.push_str(&format!("{}\n  {line}\n", where_(h)));
        if verbose {
            for (i, c) in h.chain.iter().enumerate() {
                t.push_str(&format!(
                    "    {i}: {}\n       issuer: {}\n       sha256: {}\n",
                    c.subject, c.issuer, c.sha256
                ));
            }
        }
    }
    t.push('\n');
    let unreached = d.hosts.len() - d.reached;
    let unreached_note = match unreached {
        0 => String::new(),
        n => format!(
            " ({} could not be reached)",
            cabundle::cert::count(n, "host")
        ),
    };
    if d.reached == 0 {
        t.push_str("none of the hosts could be reached: nothing to judge\n");
    } else if !d.inspected {
        t.push_str(&format!("no proxy re-signs these hosts{unreached_note}\n"));
    } else if d.roots.len() == 1 {
        let r = &d.roots[0];
        t.push_str(&format!(
            "TLS inspection: one root re-signs {} ({}){unreached_note}\n",
            cabundle::cert::count(r.hosts.len(), "host"),
            r.hosts.join(", ")
        ));
    } else {
        t.push_str(&format!(
            "TLS inspection: {} different roots re-sign these hosts (split tunnelling, or several \
             proxies); each with its hosts{unreached_note}:\n",
            d.roots.len()
        ));
    }
    for r in &d.roots {
        t.push_str(&render_root(r));
    }
    if verbose || d.inspected {
        t.push_str("\nlooked for the roots in:\n");
        for s in &d.stores {
            match &s.error {
                None => t.push_str(&format!(
                    "  {} ({})\n",
                    s.store,
                    cabundle::cert::count(s.certificates, "CA")
                )),
                Some(e) => t.push_str(&format!("  {}: {e}\n", s.store)),
            }
        }
    }
    printable_lines(&t)
}

fn render_root(r: &RootReport) -> String {
    let mut t = String::from("\n");
    let mut field = |k: &str, v: &str| t.push_str(&format!("  {k:<9} {v}\n"));
    if r.sent {
        field("root", &r.subject);
        field("sha256", r.sha256.as_deref().unwrap_or(""));
    } else {
        field(
            "root",
            &format!(
                "NOT SENT: the proxy sends {}, issued by {}",
                if r.leaf_only {
                    "only its leaf certificates"
                } else {
                    "its leaves and intermediates but not its root"
                },
                r.subject
            ),
        );
        if let Some(aki) = &r.authority_key_id {
            field(
                "key id",
                &format!("{aki} (the issuer's Subject Key Identifier)"),
            );
        }
    }
    field("vendor", r.vendor.as_deref().unwrap_or("not recognised"));
    field("hosts", &r.hosts.join(", "));
    field(
        "bundle",
        if r.in_bundle {
            "trusts it already"
        } else {
            "does not trust it"
        },
    );
    for h in &r.held_by {
        field(
            "held by",
            &format!(
                "{}: {} (sha256 {}){}",
                h.store,
                h.source,
                h.sha256,
                if h.same_certificate {
                    ", the same certificate"
                } else if r.sent {
                    ", the same name and key (re-issued)"
                } else {
                    ""
                }
            ),
        );
    }
    for l in &r.look_alikes {
        field(
            "NOT it",
            &format!(
                "{}: {} (sha256 {}): {}",
                l.store,
                l.subject,
                l.sha256,
                l.detail.as_deref().unwrap_or("")
            ),
        );
    }
    if r.in_bundle {
        return t;
    }
    let next = if !r.held_by.is_empty() {
        format!(
            "cabundle proxy trust   (adds the copy {} holds)",
            r.held_by[0].store
        )
    } else if let Some(sha) = &r.sha256 {
        format!(
            "no store here holds it, so nothing vouches for it but the network. Ask IT for the \
             SHA-256 of the TLS-inspection root; if it is {sha}, run: cabundle proxy trust \
             --fingerprint {sha}. Or have IT install the root (MDM, the OS store), then: \
             cabundle proxy trust"
        )
    } else {
        format!(
            "obtain the CA named above{}: it may be in this machine's OS store, in your \
             browser's certificate manager (Authorities), or with IT. Check its SHA-256 with IT, \
             then: cabundle proxy trust --from FILE",
            match &r.authority_key_id {
                Some(k) => format!(" (Subject Key Identifier {k})"),
                None => String::new(),
            }
        )
    };
    field("next", &next);
    t
}

fn render_outcomes(done: &Trusted) -> String {
    let mut t = String::from("\n");
    for o in &done.outcomes {
        let sha = o
            .sha256
            .as_deref()
            .map(|s| format!(" (sha256 {s})"))
            .unwrap_or_default();
        t.push_str(&match o.state {
            State::AlreadyTrusted => format!("already trusted: {}: {}\n", o.subject, o.message),
            State::Added => format!(
                "added {}: {}{sha}: {}\n",
                o.name.as_deref().unwrap_or(""),
                o.subject,
                o.message
            ),
            State::Refused => format!("NOT added: {}: {}\n", o.subject, o.message),
        });
    }
    for f in &done.unmatched_fingerprints {
        t.push_str(&format!(
            "--fingerprint {f} is the SHA-256 of no root presented here, nor of a store's copy of one\n"
        ));
    }
    if done.outcomes.is_empty() && done.detection.reached > 0 {
        t.push_str("nothing to add\n");
    }
    printable_lines(&t)
}

/// Names and labels come from certificates and files: escaped, line by
/// line.
fn printable_lines(t: &str) -> String {
    t.lines().map(|l| printable(l) + "\n").collect()
}
