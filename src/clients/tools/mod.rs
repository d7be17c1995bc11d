//! Tools whose own configuration decides what they trust (pip, npm, conda,
//! git, AWS, gcloud...): what each one on this machine will use and why
//! (the engine of `cabundle clients`), and setting each one's own key to
//! the bundle (`install --clients`), reversibly (see [`edit`]).
//!
//! One module per tool, each a [`Tool`] in [`TOOLS`]: how to tell it is
//! here, how it picks its CA file (as the tool itself does, with its
//! precedence), and, where it has a config file cabundle may write, the
//! key it owns there.

pub mod aws;
pub mod cargo;
pub mod conda;
pub mod curl;
pub mod edit;
pub mod gcloud;
pub mod git;
pub mod npm;
pub mod pip;
pub mod runtimes;
pub mod systemd;
pub mod uv;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cert::{Cert, Sha256};
use crate::error::Result;
use crate::state::Paths;

/// What a tool's check reads of this machine, passed in (never the
/// process's own environment directly), so tests can give their own.
#[derive(Debug, Clone)]
pub struct Context {
    pub home: PathBuf,
    /// The environment the tools would run with.
    pub env: BTreeMap<String, String>,
    pub bundle: PathBuf,
    pub cert_dir: PathBuf,
    /// The bundle's certificates, and the user's added CAs, by SHA-256:
    /// what a CA file is judged against.
    pub bundle_certs: HashSet<Sha256>,
    pub added: Vec<(String, Sha256)>,
    /// cabundle's state (NSS's report reads the config's blocked list).
    pub paths: Paths,
}

impl Context {
    /// This machine, as `paths` and the process's environment say.
    pub fn from_process(paths: &Paths) -> Context {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        let home = env.get("HOME").map(PathBuf::from).unwrap_or_default();
        let bundle_certs = crate::decode::read_bounded_max(&paths.bundle, 1 << 30)
            .map(|pem| {
                crate::decode::decode(&pem)
                    .items
                    .into_iter()
                    .map(|i| i.cert.sha256)
                    .collect()
            })
            .unwrap_or_default();
        let added = crate::sources::user::list(&paths.cas, None)
            .unwrap_or_default()
            .into_iter()
            .map(|a| (a.name, a.cert.sha256))
            .collect();
        Context {
            home,
            env,
            bundle: paths.bundle.clone(),
            cert_dir: paths.cert_dir(),
            bundle_certs,
            added,
            paths: paths.clone(),
        }
    }

    /// A variable, when set and not empty (every tool here treats an empty
    /// one as unset).
    pub fn var(&self, name: &str) -> Option<&str> {
        self.env
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A program on the context's PATH.
    pub fn program(&self, name: &str) -> Option<PathBuf> {
        let path = self.env.get("PATH")?;
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        which::which_in(name, Some(path), cwd).ok()
    }

    /// `~/REL`.
    pub fn in_home(&self, rel: &str) -> PathBuf {
        self.home.join(rel)
    }

    /// `$XDG_CONFIG_HOME/REL`, else `~/.config/REL`.
    pub fn in_config(&self, rel: &str) -> PathBuf {
        match self.var("XDG_CONFIG_HOME") {
            Some(dir) if Path::new(dir).is_absolute() => Path::new(dir).join(rel),
            _ => self.home.join(".config").join(rel),
        }
    }
}

#[cfg(test)]
impl Context {
    /// A context for unit tests: `home`, the environment `env`, cabundle's
    /// state under `home/cabundle`, and no certificates yet.
    pub(crate) fn for_test(home: &Path, env: &[(&str, &str)]) -> Context {
        let paths = Paths::in_one(&home.join("cabundle"));
        Context {
            home: home.to_path_buf(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            bundle: paths.bundle.clone(),
            cert_dir: paths.cert_dir(),
            bundle_certs: HashSet::new(),
            added: Vec::new(),
            paths,
        }
    }
}

/// Whether a tool trusts what the bundle holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// It reads the bundle (or a file with exactly its certificates).
    UsesBundle,
    /// It reads something else: see `lacks`.
    UsesOther,
    /// Nothing points it anywhere: it uses its own default.
    NotSetUp,
}

/// What one tool will trust, where that comes from, and the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub tool: &'static str,
    /// The program found on PATH.
    pub program: Option<PathBuf>,
    pub state: State,
    /// The CA file it will read, or its own store in words.
    pub uses: String,
    /// Where that setting comes from ("GIT_SSL_CAINFO", "~/.gitconfig
    /// http.sslCAInfo", "its default").
    pub from: String,
    /// What it lacks against the bundle, in words, when it uses something
    /// else ("no corp (added CA); 8 expired roots").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lacks: Option<String>,
    /// The command that points it at the bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// One tool cabundle knows.
pub struct Tool {
    pub name: &'static str,
    /// Any of these on PATH means the tool is here.
    pub programs: &'static [&'static str],
    /// What it will trust (called only when one of `programs` is found, or
    /// its config exists).
    pub report: fn(&Context, Option<PathBuf>) -> Report,
    /// Its own config file and key, which `install --clients` sets.
    pub config: Option<edit::Owned>,
}

/// Every tool, in the order `clients` lists them.
pub static TOOLS: &[&Tool] = &[
    &pip::PIP,
    &uv::UV,
    &conda::CONDA,
    &npm::NPM,
    &git::GIT,
    &curl::CURL,
    &aws::AWS,
    &gcloud::GCLOUD,
    &cargo::CARGO,
    &systemd::SYSTEMD,
];

/// What a CA file a tool reads holds, against the bundle: the state, and
/// what it lacks in words.
pub fn judge(ctx: &Context, file: &Path) -> (State, Option<String>) {
    if same_file(file, &ctx.bundle) {
        return (State::UsesBundle, None);
    }
    let bytes = match crate::decode::read_bounded(file) {
        Ok(b) => b,
        Err(e) => return (State::UsesOther, Some(format!("cannot be read ({e})"))),
    };
    let certs: Vec<Cert> = crate::decode::decode(&bytes)
        .items
        .into_iter()
        .map(|i| i.cert)
        .collect();
    let theirs: HashSet<Sha256> = certs.iter().map(|c| c.sha256).collect();
    if !ctx.bundle_certs.is_empty() && theirs == ctx.bundle_certs {
        return (State::UsesBundle, None);
    }
    if certs.is_empty() {
        return (State::UsesOther, Some("holds no certificate".into()));
    }
    let now = crate::date::now();
    let expired = certs.iter().filter(|c| c.is_expired_at(now)).count();
    (State::UsesOther, lacking(ctx, &theirs, expired))
}

/// What a set of certificates lacks against the bundle, in words: the
/// added CAs it does not hold (by name), its expired roots, and how many
/// of the bundle's other roots it misses.
pub fn lacking(ctx: &Context, theirs: &HashSet<Sha256>, expired: usize) -> Option<String> {
    let mut lacks = Vec::new();
    let missing: Vec<&str> = ctx
        .added
        .iter()
        .filter(|(_, sha)| !theirs.contains(sha))
        .map(|(name, _)| name.as_str())
        .collect();
    if !missing.is_empty() {
        lacks.push(format!("no {} (added CA)", missing.join(", ")));
    }
    if expired > 0 {
        lacks.push(format!("{} expired", crate::cert::count(expired, "root")));
    }
    let public_missing = ctx
        .bundle_certs
        .iter()
        .filter(|sha| !theirs.contains(sha) && !ctx.added.iter().any(|(_, a)| a == *sha))
        .count();
    if public_missing > 0 {
        lacks.push(format!(
            "{public_missing} of the bundle's other roots missing"
        ));
    }
    (!lacks.is_empty()).then(|| lacks.join("; "))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// A report for a tool pointed at `file` by `from`.
pub fn pointed_at(
    ctx: &Context,
    tool: &'static str,
    program: Option<PathBuf>,
    file: &Path,
    from: String,
) -> Report {
    let (state, lacks) = judge(ctx, file);
    Report {
        tool,
        program,
        state,
        uses: file.display().to_string(),
        from,
        lacks,
        fix: (state != State::UsesBundle).then(|| fix(tool)),
    }
}

/// The command that points `tool` at the bundle.
pub fn fix(tool: &str) -> String {
    format!("cabundle install --clients {tool}")
}

/// What `cabundle clients` can be asked about by name, beside [`TOOLS`]:
/// the runtimes reported one by one.
pub const RUNTIMES: [&str; 3] = ["python", "java", "nss"];

/// The engine of `cabundle clients`: a report for each tool found, then
/// each Python interpreter, each JVM and each NSS database; only those
/// named in `only`, when it names any. All at once: several ask their own
/// program, which takes a while each.
pub fn reports(ctx: &Context, only: &[String]) -> Result<Vec<Report>> {
    let known = || {
        TOOLS
            .iter()
            .map(|t| t.name)
            .chain(RUNTIMES)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(unknown) = only
        .iter()
        .find(|n| !TOOLS.iter().any(|t| t.name == *n) && !RUNTIMES.contains(&n.as_str()))
    {
        return Err(crate::error::Error::UnknownTool {
            name: unknown.clone(),
            known: known(),
        });
    }
    let wanted = |name: &str| only.is_empty() || only.iter().any(|n| n == name);
    Ok(std::thread::scope(|s| {
        let pythons = wanted("python").then(|| s.spawn(|| runtimes::pythons(ctx)));
        let jvms = wanted("java").then(|| s.spawn(|| runtimes::jvms(ctx)));
        let nss = wanted("nss").then(|| s.spawn(|| runtimes::nss(ctx)));
        let handles: Vec<_> = TOOLS
            .iter()
            .filter(|t| wanted(t.name))
            .filter_map(|t| {
                let program = t.programs.iter().find_map(|p| ctx.program(p));
                let configured = t.config.as_ref().is_some_and(|c| c.path(ctx).exists());
                (program.is_some() || configured).then(|| s.spawn(move || (t.report)(ctx, program)))
            })
            .collect();
        let mut all: Vec<Report> = handles.into_iter().filter_map(|h| h.join().ok()).collect();
        for runtime in [pythons, jvms, nss].into_iter().flatten() {
            all.extend(runtime.join().unwrap_or_default());
        }
        all
    }))
}

/// `install --clients [TOOL...]`: each named tool (every one found when
/// none are) gets its own key set to the bundle.
pub fn install(
    paths: &Paths,
    ctx: &Context,
    names: &[String],
    force: bool,
) -> Result<Vec<edit::Outcome>> {
    let _lock = paths.lock()?;
    let tools = chosen(ctx, names)?;
    let mut record = edit::Record::load(paths)?;
    let mut out = Vec::new();
    for tool in tools {
        if let Some(owned) = &tool.config {
            out.push(edit::set(paths, &mut record, ctx, tool.name, owned, force)?);
        }
    }
    Ok(out)
}

/// `uninstall --clients [TOOL...]`: each recorded change (of the named
/// tools) undone, see [`edit::unset`].
pub fn uninstall(paths: &Paths, ctx: &Context, names: &[String]) -> Result<Vec<edit::Outcome>> {
    let _lock = paths.lock()?;
    let mut record = edit::Record::load(paths)?;
    let mut out = Vec::new();
    for tool in TOOLS {
        if !names.is_empty() && !names.iter().any(|n| n == tool.name) {
            continue;
        }
        if let Some(owned) = &tool.config
            && let Some(o) = edit::unset(paths, &mut record, ctx, tool.name, owned)?
        {
            out.push(o);
        }
    }
    Ok(out)
}

/// The tools named (each must be known and have a config cabundle
/// writes), or every such tool found on PATH.
fn chosen(ctx: &Context, names: &[String]) -> Result<Vec<&'static Tool>> {
    if names.is_empty() {
        return Ok(TOOLS
            .iter()
            .copied()
            .filter(|t| t.config.is_some())
            .filter(|t| {
                t.programs.iter().any(|p| ctx.program(p).is_some())
                    || t.config.as_ref().is_some_and(|c| c.path(ctx).exists())
            })
            .collect());
    }
    names
        .iter()
        .map(|n| {
            TOOLS
                .iter()
                .copied()
                .find(|t| t.name == n && t.config.is_some())
                .ok_or_else(|| crate::error::Error::UnknownTool {
                    name: n.clone(),
                    known: TOOLS
                        .iter()
                        .filter(|t| t.config.is_some())
                        .map(|t| t.name)
                        .collect::<Vec<_>>()
                        .join(", "),
                })
        })
        .collect()
}
