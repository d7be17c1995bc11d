use std::time::Duration;

use serde::Serialize;

use crate::cli::DoctorArgs;
use cabundle::date;
use cabundle::doctor::{self, Finding, Level, UrlOptions, UrlReport};
use cabundle::error::{Error, Result};
use cabundle::state::Paths;

use super::out;

#[derive(Serialize)]
struct Report {
    healthy: bool,
    findings: Vec<Finding>,
    urls: Vec<UrlReport>,
}

pub fn run(paths: &Paths, args: &DoctorArgs) -> Result<()> {
    let now = date::now();
    let (findings, urls) = if args.urls.is_empty() {
        (doctor::local(paths, now), Vec::new())
    } else {
        let opts = UrlOptions {
            timeout: Duration::from_secs(args.timeout.max(1)),
            now,
            save_issuer: args.save_issuer.clone(),
        };
        let sets = doctor::TrustSets::load(paths);
        (
            Vec::new(),
            args.urls
                .iter()
                .map(|u| doctor::check_url(&sets, u, &opts))
                .collect(),
        )
    };
    let problems = findings
        .iter()
        .filter(|f| f.level == Level::Problem)
        .count()
        + urls.iter().filter(|u| !u.ok).count();
    let report = Report {
        healthy: problems == 0,
        findings,
        urls,
    };
    if args.json {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::io("<stdout>", std::io::Error::other(e)))?;
        out(&(json + "\n"))?;
    } else {
        out(&render(&report))?;
    }
    if problems == 0 {
        Ok(())
    } else {
        Err(Error::Unhealthy(problems))
    }
}

fn render(r: &Report) -> String {
    let mut text = String::new();
    for f in &r.findings {
        let mark = match f.level {
            Level::Ok => "ok     ",
            Level::Info => "info   ",
            Level::Warning => "warning",
            Level::Problem => "PROBLEM",
        };
        text.push_str(&format!("{mark}  {}\n", f.message));
        if let Some(fix) = &f.fix {
            text.push_str(&format!("         fix: {fix}\n"));
        }
    }
    for u in &r.urls {
        let via = u
            .proxy
            .as_deref()
            .map(|p| format!(" via proxy {p}"))
            .unwrap_or_default();
        text.push_str(&format!("{}{via}\n", u.url));
        if let Some(p) = u.protocol {
            let suite = u.cipher.map(|c| format!(", {c}")).unwrap_or_default();
            text.push_str(&format!("  {}{suite}\n", p.name()));
        }
        for (i, c) in u.chain.iter().enumerate() {
            let state = if c.expired {
                "  EXPIRED"
            } else if c.not_yet_valid {
                "  NOT YET VALID"
            } else {
                ""
            };
            text.push_str(&format!(
                "  {i}: {}\n     issuer: {}\n     valid {} .. {}{state}\n",
                c.subject, c.issuer, c.not_before, c.not_after
            ));
        }
        for t in &u.trust {
            let res = match &t.error {
                None => "accepts".to_string(),
                Some(e) => format!("rejects ({e})"),
            };
            text.push_str(&format!("  {:<9} {res}: {}\n", t.trust_set, t.source));
        }
        for c in &u.clients {
            text.push_str(&format!("  {}: {}\n", c.client, c.detail));
        }
        if let Some(e) = &u.openssl_error {
            let code = e.code.map(|n| format!("error {n} ")).unwrap_or_default();
            text.push_str(&format!(
                "  OpenSSL: {code}at depth {}: {}\n",
                e.depth, e.text
            ));
        }
        let mark = if u.ok { "ok" } else { "PROBLEM" };
        let class = u
            .failure
            .map(|f| format!(" [{}]", f.as_str()))
            .unwrap_or_default();
        text.push_str(&format!("  {mark}{class}: {}\n", u.message));
        if let Some(fix) = &u.fix {
            text.push_str(&format!("  fix: {}\n", fix.replace("URL", &u.url)));
        }
        if let Some(saved) = &u.saved_issuer {
            text.push_str(&format!(
                "  saved the presented issuer to {} for review; it was NOT added\n",
                saved.display()
            ));
        }
    }
    text
}
