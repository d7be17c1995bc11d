//! The runtimes `cabundle clients` reports one by one: each Python
//! interpreter (as `python status` sees it), each JVM's trust store, and
//! each browser's NSS database.

use std::collections::HashSet;
use std::path::PathBuf;

use super::{Context, Report, State, lacking};
use crate::cert::Sha256;
use crate::clients::{java, nss, python};
use crate::outputs::keystore;

/// One report per Python interpreter: the bundle when every TLS client of
/// it (ssl, requests, httpx, pip) reads the bundle; else the first that
/// does not, and why.
pub fn pythons(ctx: &Context) -> Vec<Report> {
    let Ok(status) = python::status(&[], &ctx.bundle) else {
        return Vec::new();
    };
    // One that does not run (a shim to an interpreter not installed) runs
    // no client: `python status` names those.
    status
        .interpreters
        .into_iter()
        .filter(|i| i.ok)
        .map(|i| {
            let program = Some(i.python.clone());
            match i.clients.iter().find(|c| !c.uses_bundle) {
                None => Report {
                    tool: "python",
                    program,
                    state: State::UsesBundle,
                    uses: ctx.bundle.display().to_string(),
                    from: i
                        .clients
                        .iter()
                        .map(|c| c.client.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    lacks: None,
                    fix: None,
                },
                Some(c) => {
                    let uses = c.ca_file.clone().unwrap_or_else(|| "its default".into());
                    let lacks = c.ca_file.as_ref().and_then(|f| {
                        let (_, lacks) = super::judge(ctx, std::path::Path::new(f));
                        lacks
                    });
                    Report {
                        tool: "python",
                        program,
                        state: if c.ca_file.is_some() {
                            State::UsesOther
                        } else {
                            State::NotSetUp
                        },
                        uses,
                        from: format!("{}: {}", c.client, c.detail),
                        lacks,
                        fix: Some(format!(
                            "cabundle python install --python {}",
                            i.python.display()
                        )),
                    }
                }
            }
        })
        .collect()
}

/// One report per JVM found: its cacerts against the bundle, by the
/// certificates it holds as trusted entries.
pub fn jvms(ctx: &Context) -> Vec<Report> {
    let env = java::Env {
        home: Some(ctx.home.clone()),
        java_home: ctx.var("JAVA_HOME").map(PathBuf::from),
        path: ctx.env.get("PATH").map(Into::into),
    };
    java::discover(&env, &[])
        .into_iter()
        .map(|jvm| {
            let program = Some(jvm.home.clone());
            let fix = Some("cabundle install --java".to_string());
            let Some(cacerts) = java::trust_store(&jvm.home) else {
                return Report {
                    tool: "java",
                    program,
                    state: State::NotSetUp,
                    uses: "no trust store (lib/security/cacerts)".into(),
                    from: jvm.found_by,
                    lacks: None,
                    fix: None,
                };
            };
            let uses = cacerts.display().to_string();
            let opened = crate::decode::read_bounded(&cacerts)
                .map_err(|e| e.to_string())
                .and_then(|b| keystore::open(&b, &["changeit", ""]).map_err(|e| e.to_string()));
            let (state, lacks) = match opened {
                Err(e) => (State::UsesOther, Some(format!("cannot be read ({e})"))),
                Ok(ks) if ks.encrypted_entries => (
                    State::UsesOther,
                    Some("its entries are encrypted, so cabundle cannot tell".into()),
                ),
                Ok(ks) => {
                    let theirs: HashSet<Sha256> = ks.trusted.into_iter().collect();
                    if theirs == ctx.bundle_certs {
                        (State::UsesBundle, None)
                    } else {
                        (State::UsesOther, lacking(ctx, &theirs, 0))
                    }
                }
            };
            Report {
                tool: "java",
                program,
                state,
                uses,
                from: format!("its cacerts ({})", jvm.found_by),
                lacks,
                fix: (state != State::UsesBundle).then_some(fix).flatten(),
            }
        })
        .collect()
}

/// One report per NSS database that exists: NSS has Mozilla's roots built
/// in, so it uses the bundle when it trusts every added CA for TLS
/// servers. An expired or blocked root the user trusts there is named.
pub fn nss(ctx: &Context) -> Vec<Report> {
    let env = nss::Env {
        home: ctx.home.clone(),
        xdg_data_home: ctx.var("XDG_DATA_HOME").map(PathBuf::from),
        xdg_config_home: ctx.var("XDG_CONFIG_HOME").map(PathBuf::from),
    };
    nss::discover(&env)
        .into_iter()
        .filter(|db| db.exists)
        .filter_map(|db| nss::report(&ctx.paths, &db).ok())
        .map(|r| {
            let program = Some(r.database.path.clone());
            let uses = format!("{} database", r.database.kind.describe());
            if let Some(skip) = &r.skipped {
                return Report {
                    tool: "nss",
                    program,
                    state: State::UsesOther,
                    uses,
                    from: match skip {
                        nss::Skip::Unreadable { reason } => {
                            format!("certutil cannot read it: {reason}")
                        }
                        nss::Skip::Link { .. } => "a link, which cabundle does not follow".into(),
                        nss::Skip::Password => "it has a primary password".into(),
                        nss::Skip::DbmOnly => "only a legacy cert8.db".into(),
                        nss::Skip::OtherUser { uid } => format!("it belongs to uid {uid}"),
                        _ => "it cannot be read as a database".into(),
                    },
                    lacks: None,
                    fix: None,
                };
            }
            let trusted: HashSet<Sha256> = r
                .entries
                .iter()
                .filter(|e| e.trusted_for_servers)
                .flat_map(|e| e.certificates.iter().map(|c| c.sha256))
                .collect();
            let missing: Vec<&str> = ctx
                .added
                .iter()
                .filter(|(_, sha)| !trusted.contains(sha))
                .map(|(name, _)| name.as_str())
                .collect();
            let mut lacks = Vec::new();
            if !missing.is_empty() {
                lacks.push(format!("no {} (added CA)", missing.join(", ")));
            }
            for (_, cert) in r.stale() {
                let why = if cert.blocked {
                    "blocked in cabundle"
                } else {
                    "expired"
                };
                lacks.push(format!("trusts {} ({why}): take it out", cert.subject));
            }
            let state = if lacks.is_empty() {
                State::UsesBundle
            } else {
                State::UsesOther
            };
            Report {
                tool: "nss",
                program,
                state,
                uses,
                from: "its built-in Mozilla roots and what it was given".into(),
                lacks: (!lacks.is_empty()).then(|| lacks.join("; ")),
                fix: (!missing.is_empty()).then(|| "cabundle install --nss".to_string()),
            }
        })
        .collect()
}
