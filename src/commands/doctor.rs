use std::time::Duration;

use crate::cli::DoctorArgs;
use cabundle::date;
use cabundle::doctor::{self, Level, Report, UrlOptions};
use cabundle::error::{Error, Result};
use cabundle::state::Paths;

use super::{out, out_json};

pub fn run(paths: &Paths, args: &DoctorArgs) -> Result<()> {
    let opts = UrlOptions {
        timeout: Duration::from_secs(args.timeout.max(1)),
        now: date::now(),
        save_issuer: args.save_issuer.clone(),
    };
    let report = doctor::examine(paths, &args.urls, &opts);
    if args.json {
        out_json(&report)?;
    } else {
        out(&render(&report))?;
    }
    match report.problems() {
        0 => Ok(()),
        n => Err(Error::Unhealthy(n)),
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
