//! npm (and yarn classic, which reads npm's config): which CA file it
//! verifies with, read as npm does.
//!
//! npm's `cafile` names a CA file that replaces Node's roots: npm hands
//! its certificates to Node as the `ca` option, and Node then trusts those
//! alone, `NODE_EXTRA_CA_CERTS` included (nodejs/node#14705; checked with
//! npm 11 on Node 20). npm resolves `cafile` like every option of its
//! config, highest first: the command line, `npm_config_cafile` in the
//! environment (any case), the project's `.npmrc`, the user's (`~/.npmrc`,
//! or `npm_config_userconfig`), the global one (`$PREFIX/etc/npmrc`), and
//! npm's builtin one. npm itself is asked (`npm config ls`, run in the
//! home folder: the user's settings, not one project's), which gives each
//! value with the file it comes from. `strict-ssl=false` turns
//! verification off, as does `NODE_TLS_REJECT_UNAUTHORIZED=0`: both are
//! reported as such.
//!
//! Without a `cafile` (or an inline `ca`), Node decides: its own bundled
//! roots, plus the file in `NODE_EXTRA_CA_CERTS`; plus the system store
//! (OpenSSL's default file, `SSL_CERT_FILE` when set) with
//! `--use-system-ca` in `NODE_OPTIONS` (Node 23.9, 22.15 and later on
//! Linux) or `NODE_USE_SYSTEM_CA=1` (Node 24.6, 22.19 and later); or the
//! system store instead of its own roots with `--use-openssl-ca`.
//!
//! cabundle owns `cafile` in `~/.npmrc`: it then replaces the global
//! npmrc's, and Node's roots with exactly the bundle. The file may hold
//! auth tokens: it keeps its mode (see [`super::edit`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::edit::{Format, Owned};
use super::pip::{ask, major_minor, missing_added, system_store};
use super::{Context, Report, State, Tool, fix, judge, pointed_at};

pub static NPM: Tool = Tool {
    name: "npm",
    programs: &["npm", "yarn"],
    report,
    config: Some(Owned {
        file: user_npmrc,
        format: Format::Lines { key: "cafile" },
        value: bundle,
    }),
};

fn bundle(ctx: &Context) -> String {
    ctx.bundle.display().to_string()
}

fn user_npmrc(ctx: &Context) -> PathBuf {
    ctx.in_home(".npmrc")
}

/// Where a value of npm's config comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Source {
    /// npm's name for it: cli, env, project, user, global, builtin.
    kind: String,
    /// The file, for those read from one.
    file: Option<PathBuf>,
}

/// npm's config as it resolves it: every key in force, with its source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Npm {
    values: BTreeMap<String, (String, Source)>,
    /// The Node npm runs on.
    node: Option<(u32, u32)>,
    /// npm itself answered (else only the environment and the user's file
    /// were read).
    asked: bool,
}

impl Npm {
    /// A key in force, unless unset (npm prints `null`) or empty.
    fn get(&self, key: &str) -> Option<&(String, Source)> {
        self.values
            .get(key)
            .filter(|(v, _)| !v.is_empty() && v != "null")
    }
}

/// `npm config ls`: sections headed `; "user" config from /home/u/.npmrc`,
/// each with `key = value` lines (values as JSON), where a value that
/// another source overrides is commented out (`; key = value ; overridden
/// by user`), then `; node version = v20.1.0` among the closing comments.
fn parse_config_ls(text: &str) -> Npm {
    let mut npm = Npm {
        asked: true,
        ..Npm::default()
    };
    let mut source = Source {
        kind: String::new(),
        file: None,
    };
    for line in text.lines() {
        let line = line.trim();
        if let Some(comment) = line.strip_prefix(';') {
            let comment = comment.trim();
            if let Some(rest) = comment.strip_prefix('"')
                && let Some((kind, rest)) = rest.split_once("\" config from ")
            {
                let file = Path::new(rest.trim());
                source = Source {
                    kind: kind.to_string(),
                    file: file.is_absolute().then(|| file.to_path_buf()),
                };
            } else if let Some(v) = comment.strip_prefix("node version = ") {
                npm.node = major_minor(v);
            }
            continue;
        }
        let Some((key, value)) = line.split_once(" = ") else {
            continue;
        };
        let value = value.trim();
        let value = serde_json::from_str::<String>(value).unwrap_or_else(|_| value.to_string());
        npm.values
            .insert(key.trim().to_string(), (value, source.clone()));
    }
    npm
}

/// What npm reads without npm to ask: `npm_config_KEY` variables and the
/// user's file.
fn read_without_npm(ctx: &Context) -> Npm {
    let mut npm = Npm::default();
    let env_var = |key: &str| {
        let want = format!("npm_config_{}", key.replace('-', "_"));
        ctx.env
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case(&want) && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let user = env_var("userconfig")
        .map(PathBuf::from)
        .unwrap_or_else(|| user_npmrc(ctx));
    if let Ok(text) = std::fs::read_to_string(&user) {
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with(['#', ';', '[']) {
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                let v = v.trim().trim_matches('"').to_string();
                let source = Source {
                    kind: "user".into(),
                    file: Some(user.clone()),
                };
                npm.values.insert(k.trim().to_string(), (v, source));
            }
        }
    }
    for key in ["cafile", "ca", "strict-ssl"] {
        if let Some(v) = env_var(key) {
            let source = Source {
                kind: "env".into(),
                file: None,
            };
            npm.values.insert(key.to_string(), (v, source));
        }
    }
    npm
}

fn report(ctx: &Context, program: Option<PathBuf>) -> Report {
    // yarn classic reads npm's config; npm is what can say what it is.
    let npm_program = program
        .as_deref()
        .filter(|p| p.file_name().is_some_and(|n| n == "npm"))
        .map(Path::to_path_buf)
        .or_else(|| ctx.program("npm"));
    let npm = npm_program
        .and_then(|npm| ask(ctx, &npm, &["config", "ls"]))
        .filter(|a| a.ok)
        .map(|a| parse_config_ls(&a.stdout))
        .unwrap_or_else(|| read_without_npm(ctx));
    decide(ctx, program, &npm)
}

/// Words for where `key` comes from.
fn from_words(ctx: &Context, key: &str, source: &Source) -> String {
    match (&source.file, source.kind.as_str()) {
        (Some(file), kind) => format!("{} ({kind} config): {key}", file.display()),
        (None, "env") => {
            let want = format!("npm_config_{}", key.replace('-', "_"));
            ctx.env
                .keys()
                .find(|k| k.eq_ignore_ascii_case(&want))
                .cloned()
                .unwrap_or(want)
        }
        (None, kind) => format!("npm's {kind} config: {key}"),
    }
}

/// The report, from npm's config as npm resolves it and Node's variables.
fn decide(ctx: &Context, program: Option<PathBuf>, npm: &Npm) -> Report {
    let not_asked = if npm.asked {
        ""
    } else {
        " (npm could not be asked: its global and project config were not read)"
    };
    // A source above the user's file: the fix is there, not in ~/.npmrc.
    let above_user = |s: &Source| matches!(s.kind.as_str(), "cli" | "env" | "project");
    let fix_for = |key: &str, s: &Source| {
        if above_user(s) {
            format!(
                "{} overrides ~/.npmrc: change it there",
                from_words(ctx, key, s)
            )
        } else {
            fix("npm")
        }
    };

    let strict_off = npm.get("strict-ssl").filter(|(v, _)| v == "false");
    let reject_off = ctx.var("NODE_TLS_REJECT_UNAUTHORIZED") == Some("0");
    if strict_off.is_some() || reject_off {
        let (from, fix) = match strict_off {
            Some((_, s)) => (
                format!("{}=false", from_words(ctx, "strict-ssl", s)),
                "remove strict-ssl=false there, then cabundle install --clients npm".to_string(),
            ),
            None => (
                "NODE_TLS_REJECT_UNAUTHORIZED=0".to_string(),
                "unset NODE_TLS_REJECT_UNAUTHORIZED".to_string(),
            ),
        };
        return Report {
            tool: "npm",
            program,
            state: State::UsesOther,
            uses: "NO VERIFICATION: any certificate is accepted".into(),
            from,
            lacks: Some("certificate verification is off".into()),
            fix: Some(fix),
        };
    }

    if let Some((file, source)) = npm.get("cafile") {
        let from = format!(
            "{} (it replaces Node's roots and NODE_EXTRA_CA_CERTS){not_asked}",
            from_words(ctx, "cafile", source)
        );
        let mut r = pointed_at(ctx, "npm", program, Path::new(file), from);
        if r.state != State::UsesBundle {
            r.fix = Some(fix_for("cafile", source));
        }
        return r;
    }
    if let Some((_, source)) = npm.get("ca") {
        return Report {
            tool: "npm",
            program,
            state: State::UsesOther,
            uses: "the certificates written into npm's `ca` setting".into(),
            from: from_words(ctx, "ca", source),
            lacks: None,
            fix: Some(fix_for("ca", source)),
        };
    }

    // No CA of npm's own: Node's.
    let node = npm.node;
    let at_least = |v: (u32, u32)| node.is_none_or(|n| n >= v);
    let in_line = |from: (u32, u32), to: (u32, u32)| node.is_none_or(|n| n >= from && n < to);
    let options: Vec<&str> = ctx
        .var("NODE_OPTIONS")
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let openssl_ca = options.contains(&"--use-openssl-ca");
    let system_ca = (options.contains(&"--use-system-ca")
        && (at_least((23, 9)) || in_line((22, 15), (23, 0))))
        || (ctx.var("NODE_USE_SYSTEM_CA") == Some("1")
            && (at_least((24, 6)) || in_line((22, 19), (23, 0))));
    let extra = ctx.var("NODE_EXTRA_CA_CERTS").map(PathBuf::from);
    let system = (openssl_ca || system_ca)
        .then(|| system_store(ctx))
        .flatten();

    let is_bundle = |f: &Path| judge(ctx, f).0 == State::UsesBundle;
    let mut parts: Vec<String> = Vec::new();
    let mut from: Vec<&str> = Vec::new();
    if !openssl_ca {
        parts.push("Node's bundled roots".into());
    }
    if let Some(s) = &system {
        parts.push(format!("the system store ({})", s.display()));
        from.push(if openssl_ca {
            "NODE_OPTIONS --use-openssl-ca"
        } else if options.contains(&"--use-system-ca") {
            "NODE_OPTIONS --use-system-ca"
        } else {
            "NODE_USE_SYSTEM_CA"
        });
    }
    if let Some(e) = &extra {
        parts.push(e.display().to_string());
        from.push("NODE_EXTRA_CA_CERTS");
    }
    let through_bundle = extra.as_deref().is_some_and(is_bundle)
        || (ctx.var("SSL_CERT_FILE").is_some() && system.as_deref().is_some_and(is_bundle));
    let mut files: Vec<&Path> = Vec::new();
    files.extend(system.as_deref());
    files.extend(extra.as_deref());
    let missing = missing_added(ctx, &files);
    let state = if through_bundle {
        State::UsesBundle
    } else if from.is_empty() {
        State::NotSetUp
    } else {
        State::UsesOther
    };
    Report {
        tool: "npm",
        program,
        state,
        uses: parts.join(", "),
        from: if from.is_empty() {
            format!("no cafile set{not_asked}")
        } else {
            format!("{}{not_asked}", from.join(", "))
        },
        lacks: (state != State::UsesBundle && !missing.is_empty())
            .then(|| format!("no {} (added CA)", missing.join(", "))),
        fix: (state != State::UsesBundle).then(|| fix("npm")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::pip::fixture::Fixture;
    use super::*;

    const LS: &str = r#"; "global" config from /usr/etc/npmrc

; cafile = "/etc/ssl/certs/ca-certificates.crt" ; overridden by user

; "user" config from /home/u/.npmrc

//reg.example/:_authToken = (protected)
cafile = "/home/u/my ca.pem"
strict-ssl = true

; node bin location = /usr/bin/node
; node version = v20.20.2
; npm local prefix = /home/u
; npm version = 11.19.1
; Run `npm config ls -l` to show all defaults.
"#;

    fn source(kind: &str, file: Option<&str>) -> Source {
        Source {
            kind: kind.into(),
            file: file.map(PathBuf::from),
        }
    }

    fn npm(values: &[(&str, &str, Source)]) -> Npm {
        Npm {
            values: values
                .iter()
                .map(|(k, v, s)| (k.to_string(), (v.to_string(), s.clone())))
                .collect(),
            node: Some((20, 20)),
            asked: true,
        }
    }

    #[test]
    fn npm_config_ls_is_read_with_its_sources() {
        let npm = parse_config_ls(LS);
        let (cafile, from) = npm.get("cafile").unwrap();
        assert_eq!(cafile, "/home/u/my ca.pem");
        assert_eq!(from, &source("user", Some("/home/u/.npmrc")));
        assert_eq!(npm.get("strict-ssl").unwrap().0, "true");
        assert_eq!(npm.node, Some((20, 20)));
        let env = "; \"env\" config from environment\n\ncafile = \"/x.pem\"\n";
        assert_eq!(
            parse_config_ls(env).get("cafile").unwrap().1,
            source("env", None)
        );
    }

    #[test]
    fn npm_cafile_replaces_node_roots_and_its_source_decides_the_fix() {
        let mut f = Fixture::new();
        let (bundle, other) = (f.bundle(), f.other());
        let user = || source("user", Some("/h/.npmrc"));
        // The user's cafile, the bundle: even NODE_EXTRA_CA_CERTS of another
        // file does not matter.
        f.set("NODE_EXTRA_CA_CERTS", &other);
        let r = decide(&f.ctx, None, &npm(&[("cafile", &bundle, user())]));
        assert_eq!(r.state, State::UsesBundle, "{r:?}");
        assert!(
            r.from.starts_with("/h/.npmrc (user config): cafile"),
            "{r:?}"
        );
        // The global one, another file: install sets the user's.
        let global = source("global", Some("/usr/etc/npmrc"));
        let r = decide(&f.ctx, None, &npm(&[("cafile", &other, global)]));
        assert_eq!(r.state, State::UsesOther);
        assert!(r.lacks.as_deref().unwrap().contains("no corp"), "{r:?}");
        assert_eq!(r.fix.as_deref(), Some("cabundle install --clients npm"));
        // NODE_EXTRA_CA_CERTS, the bundle, is ignored under a cafile.
        f.set("NODE_EXTRA_CA_CERTS", &bundle);
        f.set("NPM_CONFIG_CAFILE", &other);
        let r = decide(
            &f.ctx,
            None,
            &npm(&[("cafile", &other, source("env", None))]),
        );
        assert_eq!(r.state, State::UsesOther);
        assert!(r.from.starts_with("NPM_CONFIG_CAFILE"), "{r:?}");
        assert!(
            r.fix.as_deref().unwrap().contains("change it there"),
            "{r:?}"
        );
    }

    #[test]
    fn without_a_cafile_node_decides() {
        let mut f = Fixture::new();
        let (bundle, other) = (f.bundle(), f.other());
        let r = decide(&f.ctx, None, &npm(&[]));
        assert_eq!(r.state, State::NotSetUp);
        assert_eq!(r.uses, "Node's bundled roots");
        assert!(r.lacks.as_deref().unwrap().contains("no corp"), "{r:?}");
        f.set("NODE_EXTRA_CA_CERTS", &other);
        let r = decide(&f.ctx, None, &npm(&[]));
        assert_eq!(r.state, State::UsesOther, "{r:?}");
        f.set("NODE_EXTRA_CA_CERTS", &bundle);
        let r = decide(&f.ctx, None, &npm(&[]));
        assert_eq!(r.state, State::UsesBundle, "{r:?}");
        assert_eq!(r.from, "NODE_EXTRA_CA_CERTS");
        // The system store through SSL_CERT_FILE, when Node reads it: not
        // NODE_USE_SYSTEM_CA on Node 20, which does not know it.
        f.ctx.env.remove("NODE_EXTRA_CA_CERTS");
        f.set("SSL_CERT_FILE", &bundle);
        f.set("NODE_USE_SYSTEM_CA", "1");
        let r = decide(&f.ctx, None, &npm(&[]));
        assert_eq!(r.state, State::NotSetUp, "{r:?}");
        let mut newer = npm(&[]);
        newer.node = Some((24, 6));
        let r = decide(&f.ctx, None, &newer);
        assert_eq!(r.state, State::UsesBundle, "{r:?}");
        f.ctx.env.remove("NODE_USE_SYSTEM_CA");
        f.set("NODE_OPTIONS", "--max-old-space-size=4096 --use-openssl-ca");
        let r = decide(&f.ctx, None, &npm(&[]));
        assert_eq!(r.state, State::UsesBundle, "{r:?}");
        assert!(!r.uses.contains("Node's bundled roots"), "{r:?}");
    }

    #[test]
    fn verification_off_is_said_loudly() {
        let mut f = Fixture::new();
        let bundle = f.bundle();
        let user = source("user", Some("/h/.npmrc"));
        let r = decide(
            &f.ctx,
            None,
            &npm(&[
                ("strict-ssl", "false", user.clone()),
                ("cafile", &bundle, user),
            ]),
        );
        assert_eq!(r.state, State::UsesOther);
        assert!(r.uses.starts_with("NO VERIFICATION"), "{r:?}");
        assert!(r.from.contains("strict-ssl=false"), "{r:?}");
        f.set("NODE_TLS_REJECT_UNAUTHORIZED", "0");
        let r = decide(&f.ctx, None, &npm(&[]));
        assert!(r.uses.starts_with("NO VERIFICATION"), "{r:?}");
    }

    #[test]
    fn without_npm_the_environment_and_the_users_file_are_read() {
        let mut f = Fixture::new();
        let bundle = f.bundle();
        f.write(
            "home/.npmrc",
            &format!("# mine\n//r.example/:_authToken=s\ncafile=\"{bundle}\"\n"),
        );
        let npm = read_without_npm(&f.ctx);
        assert!(!npm.asked);
        let r = decide(&f.ctx, None, &npm);
        assert_eq!(r.state, State::UsesBundle, "{r:?}");
        assert!(r.from.contains("not read"), "{r:?}");
        f.set("npm_config_cafile", f.other());
        let r = decide(&f.ctx, None, &read_without_npm(&f.ctx));
        assert_eq!(r.state, State::UsesOther, "{r:?}");
        assert!(r.from.starts_with("npm_config_cafile"), "{r:?}");
    }
}
