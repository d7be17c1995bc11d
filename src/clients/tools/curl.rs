//! curl, the command-line tool: the CA file and CA folder it will load,
//! and `cacert`/`capath` in its config file.
//!
//! Its precedence (curl's `src/tool_operate.c`, `tool_findfile.c`,
//! `tool_parsecfg.c`; the same from 7.73 to 8.x but where noted):
//!
//! 1. `--cacert`/`--capath` on its command line (per command: not
//!    reported).
//! 2. `cacert`/`capath` in its config file: the first of
//!    `$CURL_HOME/.curlrc`, `$XDG_CONFIG_HOME/.curlrc`, `~/.curlrc`, and,
//!    when `XDG_CONFIG_HOME` is unset, `$CURL_HOME/.config/curlrc` and
//!    `~/.config/curlrc` that exists (`-q` first on a command line skips
//!    it). Lines are `cacert = "FILE"`, `cacert FILE`, `cacert: FILE` or
//!    `--cacert FILE`, names in any case; the last of each wins. When it
//!    sets either option the environment is not read at all, and the one
//!    it does not set stays its build's default.
//! 3. `CURL_CA_BUNDLE`: its CA file; its CA folder stays its build's.
//! 4. Else `SSL_CERT_DIR` (its folder) and `SSL_CERT_FILE` (its file);
//!    curl 7.x reads `SSL_CERT_FILE` only when `SSL_CERT_DIR` is unset.
//! 5. Its build's defaults: Debian's and Ubuntu's libcurl loads
//!    `/etc/ssl/certs/ca-certificates.crt` *and* the folder
//!    `/etc/ssl/certs`, which holds roots cabundle may have pruned or
//!    blocked.
//!
//! Steps 3 to 5 are asked of curl itself, which is cheap: `curl -q -v` to
//! a listener on 127.0.0.1 that hangs up at once prints the CAfile and
//! CApath it loads (with `-q` no config file is read, so nothing in the
//! user's `.curlrc` runs); the options of the config file are passed to
//! that run as `--cacert`/`--capath`. A curl that prints neither (another
//! TLS library) is judged from the settings alone.
//!
//! cabundle sets both options in the config file curl reads (`~/.curlrc`
//! when there is none): `cacert` to the bundle and `capath` to the hashed
//! folder beside it, so the build's folder no longer adds what cabundle
//! pruned. Only the curl tool reads `.curlrc`: programs linking libcurl
//! (git, cargo, PHP) read neither it nor these variables.

use std::collections::HashSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::edit::{self, Format, Owned};
use super::{Context, Report, State, Tool, fix, judge};
use crate::cert::Sha256;

pub static CURL: Tool = Tool {
    name: "curl",
    programs: &["curl"],
    report,
    config: Some(Owned {
        file: config_file,
        format: Format::Curlrc,
        value: bundle,
    }),
};

fn bundle(ctx: &Context) -> String {
    ctx.bundle.display().to_string()
}

/// Where curl looks for its config file, in its order.
fn candidates(ctx: &Context) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let curl_home = ctx.var("CURL_HOME").map(PathBuf::from);
    let xdg = ctx.var("XDG_CONFIG_HOME").map(PathBuf::from);
    let home = (!ctx.home.as_os_str().is_empty()).then(|| ctx.home.clone());
    for dir in [&curl_home, &xdg, &home].into_iter().flatten() {
        out.push(dir.join(".curlrc"));
    }
    if xdg.is_none() {
        for dir in [&curl_home, &home].into_iter().flatten() {
            out.push(dir.join(".config/curlrc"));
        }
    }
    out
}

/// The config file curl reads: the first that it can open.
fn found(ctx: &Context) -> Option<PathBuf> {
    candidates(ctx)
        .into_iter()
        .find(|p| p.is_file() && std::fs::File::open(p).is_ok())
}

/// The file cabundle sets: the one curl reads, else `~/.curlrc`.
fn config_file(ctx: &Context) -> PathBuf {
    found(ctx).unwrap_or_else(|| ctx.in_home(".curlrc"))
}

/// A CA file or folder curl will load, and where that comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Source {
    path: PathBuf,
    from: String,
}

/// What curl will load: its CA file and CA folder, each when it has one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Loads {
    file: Option<Source>,
    dir: Option<Source>,
}

fn report(ctx: &Context, program: Option<PathBuf>) -> Report {
    let rc = found(ctx).and_then(|path| {
        let text = String::from_utf8(crate::decode::read_bounded(&path).ok()?).ok()?;
        Some((path, edit::curlrc_settings(&text)))
    });
    let loads = resolve(ctx, program.as_deref(), rc.as_ref());
    verdict(ctx, program, &loads)
}

/// What curl loads, from its config file's options (`rc`) or the
/// environment, and its own answer where it gives one.
fn resolve(
    ctx: &Context,
    curl: Option<&Path>,
    rc: Option<&(PathBuf, [Option<String>; 2])>,
) -> Loads {
    let set_by_rc = rc.filter(|(_, [f, d])| f.is_some() || d.is_some());
    if let Some((path, [file, dir])) = set_by_rc {
        let mut args = Vec::new();
        if let Some(f) = file {
            args.extend(["--cacert".to_string(), f.clone()]);
        }
        if let Some(d) = dir {
            args.extend(["--capath".to_string(), d.clone()]);
        }
        let (got_file, got_dir) =
            curl.and_then(|c| ask(c, ctx, &args, false))
                .unwrap_or_else(|| {
                    (
                        file.as_ref().map(PathBuf::from),
                        dir.as_ref().map(PathBuf::from),
                    )
                });
        let source = |p: PathBuf, what: &str, given: &Option<String>| Source {
            from: if given.as_deref().map(Path::new) == Some(p.as_path()) {
                format!("{}: {what}", path.display())
            } else {
                "its build's default".into()
            },
            path: p,
        };
        return Loads {
            file: got_file.map(|p| source(p, "cacert", file)),
            dir: got_dir.map(|p| source(p, "capath", dir)),
        };
    }
    let env_file = ctx
        .var("CURL_CA_BUNDLE")
        .map(|v| (v, "CURL_CA_BUNDLE"))
        .or_else(|| ctx.var("SSL_CERT_FILE").map(|v| (v, "SSL_CERT_FILE")));
    let env_dir = match ctx.var("CURL_CA_BUNDLE") {
        Some(_) => None,
        None => ctx.var("SSL_CERT_DIR"),
    };
    let (file, dir) = match curl.and_then(|c| ask(c, ctx, &[], true)) {
        Some(answer) => answer,
        None => (env_file.map(|(v, _)| v.into()), env_dir.map(PathBuf::from)),
    };
    let file = file.map(|path| Source {
        from: match env_file {
            Some((v, var)) if Path::new(v) == path => var.to_string(),
            _ => "its build's default".into(),
        },
        path,
    });
    let dir = dir.map(|path| Source {
        from: match env_dir {
            Some(v) if Path::new(v) == path => "SSL_CERT_DIR".into(),
            _ => "its build's default".into(),
        },
        path,
    });
    Loads { file, dir }
}

/// The report for what curl loads.
fn verdict(ctx: &Context, program: Option<PathBuf>, loads: &Loads) -> Report {
    let set_up = |s: &Option<Source>| s.as_ref().is_some_and(|s| !s.from.starts_with("its "));
    let configured = set_up(&loads.file) || set_up(&loads.dir);
    // No CA file known: its build's default, which this curl did not name.
    let (mut state, mut lacks) = match &loads.file {
        Some(file) => judge(ctx, &file.path),
        None => (State::NotSetUp, None),
    };
    if let Some(dir) = &loads.dir {
        let extra = extra_in_folder(ctx, &dir.path);
        if extra > 0 {
            let words = format!(
                "also trusts {} the bundle does not hold, from the CA folder {} ({})",
                crate::cert::count(extra, "certificate"),
                dir.path.display(),
                dir.from
            );
            lacks = Some(match lacks {
                Some(l) => format!("{l}; {words}"),
                None => words,
            });
            state = State::UsesOther;
        }
    }
    state = match (configured, state) {
        (_, State::UsesBundle) => State::UsesBundle,
        (false, _) => State::NotSetUp,
        (true, _) => State::UsesOther,
    };
    let uses = match &loads.file {
        Some(file) => file.path.display().to_string(),
        None => "its build's default".into(),
    };
    let from = match (&loads.file, configured) {
        (_, false) => "nothing set".to_string(),
        (Some(file), true) if !file.from.starts_with("its ") => file.from.clone(),
        (_, true) => loads.dir.as_ref().map_or(String::new(), |d| d.from.clone()),
    };
    Report {
        tool: "curl",
        program,
        state,
        uses,
        from,
        lacks,
        fix: (state != State::UsesBundle).then(|| fix("curl")),
    }
}

/// How many certificates of a hashed folder (the `HASH.N` files OpenSSL
/// looks up) the bundle does not hold; none when it is cabundle's own
/// folder, or when there is no bundle to compare with.
fn extra_in_folder(ctx: &Context, dir: &Path) -> usize {
    let same = |a: &Path, b: &Path| match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    if ctx.bundle_certs.is_empty() || same(dir, &ctx.cert_dir) {
        return 0;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut extra: HashSet<Sha256> = HashSet::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !hashed_name(name) {
            continue;
        }
        let Ok(bytes) = crate::decode::read_bounded(&entry.path()) else {
            continue;
        };
        for item in crate::decode::decode(&bytes).items {
            if !ctx.bundle_certs.contains(&item.cert.sha256) {
                extra.insert(item.cert.sha256);
            }
        }
    }
    extra.len()
}

/// `HASH.N`, as `openssl rehash` names a certificate (8 hex digits).
fn hashed_name(name: &str) -> bool {
    name.split_once('.').is_some_and(|(hash, n)| {
        hash.len() == 8
            && hash.chars().all(|c| c.is_ascii_hexdigit())
            && !n.is_empty()
            && n.chars().all(|c| c.is_ascii_digit())
    })
}

/// curl's own answer: the CA file and folder it loads for a TLS connection
/// (to a listener on 127.0.0.1 that hangs up at once), with no config file
/// (`-q`) and `args`; with the context's CA variables when `env`, else
/// without them. `None` when it says neither.
fn ask(
    curl: &Path,
    ctx: &Context,
    args: &[String],
    env: bool,
) -> Option<(Option<PathBuf>, Option<PathBuf>)> {
    let listener = TcpListener::bind("127.0.0.1:0").ok()?;
    listener.set_nonblocking(true).ok()?;
    let port = listener.local_addr().ok()?.port();
    let mut cmd = Command::new(curl);
    cmd.arg("-q")
        .args(["-v", "-s", "-o", "/dev/null", "--noproxy", "*"])
        .args(["--max-time", "5"])
        .args(args)
        .arg(format!("https://127.0.0.1:{port}/"))
        .env_clear()
        .envs(&ctx.env)
        .env_remove("SSLKEYLOGFILE")
        .current_dir(&ctx.home)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if !ctx.home.is_dir() {
        cmd.current_dir("/");
    }
    if !env {
        for var in ["CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"] {
            cmd.env_remove(var);
        }
    }
    let mut child = cmd.spawn().ok()?;
    let deadline = Instant::now() + Duration::from_secs(6);
    loop {
        if let Ok((stream, _)) = listener.accept() {
            drop(stream);
        }
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
        }
    }
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take()?, &mut err).ok()?;
    parse_verbose(&err)
}

/// The CAfile and CApath lines of `curl -v` (OpenSSL builds print them
/// before the handshake, and name the file they could not load).
fn parse_verbose(text: &str) -> Option<(Option<PathBuf>, Option<PathBuf>)> {
    let mut file = None;
    let mut dir = None;
    let path = |v: &str| {
        let v = v.trim();
        (v != "none" && !v.is_empty()).then(|| PathBuf::from(v))
    };
    for line in text.lines() {
        if let Some((_, v)) = line.split_once("CAfile: ") {
            file = Some(path(v));
        } else if let Some((_, v)) = line.split_once("CApath: ") {
            dir = Some(path(v));
        } else if let Some((_, v)) = line.split_once("error setting certificate file: ") {
            file = Some(path(v));
        } else if let Some((_, v)) = line.split_once("error setting certificate path: ") {
            dir = Some(path(v));
        }
    }
    (file.is_some() || dir.is_some()).then(|| (file.flatten(), dir.flatten()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(home: &Path, env: &[(&str, &str)]) -> Context {
        Context::for_test(home, env)
    }
    #[test]
    fn the_config_file_is_found_in_curls_order() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        let curl_home = tmp.path().join("curl-home");
        let xdg = tmp.path().join("xdg");
        for d in [&home, &curl_home, &xdg] {
            std::fs::create_dir_all(d.join(".config")).unwrap();
        }
        let env = [
            ("CURL_HOME", curl_home.to_str().unwrap()),
            ("XDG_CONFIG_HOME", xdg.to_str().unwrap()),
        ];
        let c = ctx(&home, &env);
        assert_eq!(
            candidates(&c),
            vec![
                curl_home.join(".curlrc"),
                xdg.join(".curlrc"),
                home.join(".curlrc")
            ]
        );
        // None yet: cabundle would write ~/.curlrc.
        assert_eq!(config_file(&c), home.join(".curlrc"));
        std::fs::write(home.join(".curlrc"), "").unwrap();
        std::fs::write(xdg.join(".curlrc"), "").unwrap();
        assert_eq!(config_file(&c), xdg.join(".curlrc"));
        std::fs::write(curl_home.join(".curlrc"), "").unwrap();
        assert_eq!(config_file(&c), curl_home.join(".curlrc"));
        // Without XDG_CONFIG_HOME, ~/.config/curlrc (no dot) comes last.
        let c = ctx(&home, &[]);
        assert_eq!(
            candidates(&c),
            vec![home.join(".curlrc"), home.join(".config/curlrc")]
        );
        std::fs::remove_file(home.join(".curlrc")).unwrap();
        std::fs::write(home.join(".config/curlrc"), "").unwrap();
        assert_eq!(config_file(&c), home.join(".config/curlrc"));
    }

    #[test]
    fn the_config_file_wins_over_every_variable() {
        let tmp = tempfile::tempdir().unwrap();
        let env = [
            ("CURL_CA_BUNDLE", "/env/bundle.pem"),
            ("SSL_CERT_FILE", "/env/file.pem"),
            ("SSL_CERT_DIR", "/env/dir"),
        ];
        let c = ctx(tmp.path(), &env);
        // Not asking curl: judged from the settings alone.
        let rc = (
            tmp.path().join(".curlrc"),
            [Some("/rc/ca.pem".to_string()), None],
        );
        let loads = resolve(&c, None, Some(&rc));
        assert_eq!(
            loads.file,
            Some(Source {
                path: "/rc/ca.pem".into(),
                from: format!("{}: cacert", rc.0.display())
            })
        );
        assert_eq!(loads.dir, None, "the build's folder, unknown without curl");
        // Only capath in the file: the variables are still not read.
        let rc = (rc.0, [None, Some("/rc/dir".to_string())]);
        let loads = resolve(&c, None, Some(&rc));
        assert_eq!(loads.file, None);
        assert_eq!(loads.dir.unwrap().path, PathBuf::from("/rc/dir"));
    }

    #[test]
    fn curl_ca_bundle_then_ssl_cert_file_and_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let c = ctx(
            tmp.path(),
            &[
                ("CURL_CA_BUNDLE", "/env/bundle.pem"),
                ("SSL_CERT_FILE", "/env/file.pem"),
                ("SSL_CERT_DIR", "/env/dir"),
            ],
        );
        let loads = resolve(&c, None, None);
        let file = loads.file.unwrap();
        assert_eq!(
            (file.path.to_str().unwrap(), file.from.as_str()),
            ("/env/bundle.pem", "CURL_CA_BUNDLE")
        );
        assert_eq!(loads.dir, None, "CURL_CA_BUNDLE leaves the folder alone");
        let c = ctx(
            tmp.path(),
            &[
                ("SSL_CERT_FILE", "/env/file.pem"),
                ("SSL_CERT_DIR", "/env/dir"),
            ],
        );
        let loads = resolve(&c, None, None);
        assert_eq!(loads.file.unwrap().from, "SSL_CERT_FILE");
        assert_eq!(loads.dir.unwrap().from, "SSL_CERT_DIR");
        // An empty variable is unset.
        let c = ctx(tmp.path(), &[("CURL_CA_BUNDLE", "")]);
        assert_eq!(resolve(&c, None, None), Loads::default());
        assert_eq!(verdict(&c, None, &Loads::default()).state, State::NotSetUp);
    }

    #[test]
    fn curls_verbose_lines_are_read() {
        let text = "* ALPN: offers h2,http/1.1\n*  CAfile: /etc/ssl/certs/ca-certificates.crt\n\
                    *  CApath: /etc/ssl/certs\n* OpenSSL SSL_connect: SSL_ERROR_SYSCALL\n";
        assert_eq!(
            parse_verbose(text),
            Some((
                Some("/etc/ssl/certs/ca-certificates.crt".into()),
                Some("/etc/ssl/certs".into())
            ))
        );
        assert_eq!(
            parse_verbose("*  CAfile: /b.pem\n*  CApath: none\n"),
            Some((Some("/b.pem".into()), None))
        );
        assert_eq!(
            parse_verbose("* error setting certificate file: /missing.pem\n"),
            Some((Some("/missing.pem".into()), None))
        );
        assert_eq!(parse_verbose("* Connected\n"), None);
        assert!(hashed_name("9d04f354.0") && hashed_name("9D04F354.12"));
        assert!(!hashed_name("ca-certificates.crt") && !hashed_name("9d04f354.r0"));
    }
}
