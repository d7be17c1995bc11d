//! The library's error type. It is rendered once, in `main.rs`.

use std::fmt;
use std::io;
use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A file given by the user (to `add`) that cannot be used as it is.
    #[error("{}: {reason}; nothing was changed", path.display())]
    Refused { path: PathBuf, reason: String },

    /// A file that could not be read at all.
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: crate::decode::ReadError,
    },

    /// `config.toml`, there but not settings cabundle can use.
    #[error("{}: {reason}", path.display())]
    BadConfig { path: PathBuf, reason: ConfigError },

    #[error("{}: not a cabundle manifest ({source}); run `cabundle sync` to rewrite it", path.display())]
    BadManifest {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    /// The record of what `install --system` wrote, there but unreadable:
    /// nothing it names is touched.
    #[error("{}: not a record cabundle wrote ({source}); nothing was changed", path.display())]
    BadInstallRecord {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    /// Our own data that cannot be written in its format (which cannot
    /// happen to what cabundle makes, but is not worth a panic).
    #[error("{}: cannot be written: {source}", path.display())]
    Encode {
        path: PathBuf,
        #[source]
        source: EncodeError,
    },

    /// A path cabundle must write into a setting (a shell line, a `.pth`
    /// file, a link name) that it cannot carry.
    #[error("{}: {reason}", path.display())]
    UnusablePath { path: PathBuf, reason: String },

    /// Distrust the admin asked for that cannot be applied: trusting the
    /// certificate anyway would re-trust it, so nothing is written.
    #[error(
        "a distrust cannot be applied, so nothing was written (fix or remove the file):{}",
        .0.iter().map(|p| format!("\n  {p}")).collect::<String>()
    )]
    Unapplied(Vec<Problem>),

    /// A file or folder named on the command line that cannot be used.
    #[error("{what} {}: {reason}; nothing was written", path.display())]
    Input {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },

    #[error("{0:?} is not a date as YYYY-MM-DD")]
    BadDate(String),

    #[error(
        "--name {0:?}: use letters, digits, '.', '_' and '-' only (1 to 64 characters, not starting with '.')"
    )]
    BadName(String),

    #[error("no bundle yet at {}: run `cabundle sync` first", .0.display())]
    NoBundle(PathBuf),

    /// The bundle and its manifest disagree: something other than sync
    /// wrote one of them. Nothing is made from it.
    #[error("{}: {reason}; run `cabundle sync` to write it again", path.display())]
    Mismatch { path: PathBuf, reason: String },

    #[error(
        "no JVM found (JAVA_HOME, java on PATH, /usr/lib/jvm, /opt/java, SDKMAN, ~/.jdks, \
         ~/.gradle/jdks, JetBrains' jbr); name one with --java-home DIR"
    )]
    NoJvm,

    /// JVMs whose trust store could not be changed (each said above).
    #[error("{} left unchanged (each said above)", crate::cert::count(*.0, "JVM trust store"))]
    JvmsLeft(usize),

    /// `install --nss` / `uninstall --nss` without NSS's certutil.
    #[error(
        "certutil not found: apt-get install libnss3-tools (Debian/Ubuntu), dnf install nss-tools \
         (Fedora/RHEL), zypper install mozilla-nss-tools (openSUSE), pacman -S nss (Arch), \
         apk add nss-tools (Alpine); nothing was changed"
    )]
    NoCertutil,

    /// No absolute `$HOME`: the NSS databases are found from it.
    #[error("HOME is not set (or not an absolute path), so the NSS databases cannot be found")]
    NssNoHome,

    /// NSS databases that could not be changed (each said above).
    #[error("{} left unchanged (each said above)", crate::cert::count(*.0, "NSS database"))]
    NssLeft(usize),

    /// Exports or JVM trust stores a sync could not bring up to date.
    #[error(
        "the bundle is written, but {} listed above {} not up to date",
        crate::cert::count(*.0, "output"),
        if *.0 == 1 { "is" } else { "are" }
    )]
    OutputsLeft(usize),

    /// Tools' config files `install --clients` could not change.
    #[error("{} left unchanged (each said above)", crate::cert::count(*.0, "tool config"))]
    ClientsLeft(usize),

    /// `clients` found tools that do not use the bundle.
    #[error("{} not using the bundle (listed above)", crate::cert::count(*.0, "tool"))]
    ClientsElsewhere(usize),

    /// `install --clients NAME` for a tool cabundle does not set up.
    #[error("{name:?}: not a tool cabundle knows here (it knows: {known})")]
    UnknownTool { name: String, known: String },

    /// An export's settings that its format cannot carry.
    #[error("{0}")]
    BadExport(String),

    /// A Kubernetes object cabundle will not write (a name the API server
    /// would refuse, too much data).
    #[error(transparent)]
    Kube(#[from] crate::outputs::kube::KubeError),

    /// `--windows-host` where the Windows host cannot be reached: why, and
    /// everything that was looked at.
    #[error(
        "--windows-host: {reason}. Checked: {checked}. Without interop, export the stores on \
         Windows (Export-Certificate -Type SST) and give them with --windows-export (Root) and \
         --windows-disallowed (Disallowed); nothing was written"
    )]
    WindowsInterop { reason: String, checked: String },

    /// `powershell.exe` ran, but did not list the Windows stores: which of
    /// them the host disallows is unknown, so nothing is written.
    #[error(
        "--windows-host: {}: {reason}; the Windows stores (and what they disallow) are unknown, \
         so nothing was written",
        program.display()
    )]
    WindowsHost { program: PathBuf, reason: String },

    #[error("no known OS trust store layout under {}", .0.display())]
    NoLayout(PathBuf),

    #[error("{0} changes the OS trust store and needs root; run it with sudo")]
    NeedRoot(&'static str),

    #[error("{program}: {reason}; the CA files stay in place: fix that and run it yourself")]
    Updater { program: String, reason: String },

    /// `schedule`: nowhere to put the job, or a program that failed.
    #[error("schedule: {0}")]
    Schedule(String),

    #[error("fetch from {from}: {reason}; the cache and the bundle are unchanged")]
    Fetch {
        from: String,
        reason: crate::sources::fetch::FetchError,
    },

    #[error("{program}: {source}")]
    Exec {
        program: String,
        #[source]
        source: std::io::Error,
    },

    #[error("no python3 on PATH; give one with --python")]
    NoPython,

    #[error("{}: {reason}", python.display())]
    Python { python: PathBuf, reason: String },

    #[error("doctor found {0} problem(s)")]
    Unhealthy(usize),

    /// `proxy detect`: roots re-signing public hosts that the bundle does
    /// not hold.
    #[error(
        "TLS inspection found: {} the bundle does not trust (see above)",
        crate::cert::count(*.0, "root")
    )]
    ProxyFound(usize),

    /// `proxy trust`: roots nothing here vouches for, left out.
    #[error(
        "{} not added: nothing here vouches for {} (no store holds {}, no --fingerprint given names {}); see above",
        crate::cert::count(*.0, "TLS-inspection root"),
        if *.0 == 1 { "it" } else { "them" },
        if *.0 == 1 { "it" } else { "them" },
        if *.0 == 1 { "it" } else { "them" }
    )]
    ProxyNotTrusted(usize),

    /// `proxy detect`/`trust`: not one host answered, so nothing was judged.
    #[error("no host could be reached (see above), so nothing could be judged")]
    ProxyUnreached,

    #[error("cannot find a home folder for cabundle's state; set CABUNDLE_HOME")]
    NoHome,

    /// A state folder or file that cabundle, as root, will not use: someone
    /// else could change what root trusts through it.
    #[error("{}: {reason}", path.display())]
    UnsafeState { path: PathBuf, reason: String },

    /// Another writer held the lock for longer than `--lock-timeout`.
    #[error(
        "{}: still locked by {holder} after {secs} s; nothing was changed (let it finish, or wait longer with --lock-timeout SECS)",
        path.display()
    )]
    LockTimeout {
        path: PathBuf,
        holder: String,
        secs: u64,
    },

    /// `installed.json` named files that `install --system` never writes.
    #[error(
        "{}: named {count} file(s) that `install --system` does not write (listed above); they were left alone",
        path.display()
    )]
    RecordRefused { path: PathBuf, count: usize },

    /// An id given to `remove`, `block` or `unblock` that names nothing
    /// there: `among` says what was searched ("added CA", ...).
    #[error("no {among} matches {id:?} ({hint}); nothing was changed")]
    NoMatch {
        id: String,
        among: &'static str,
        hint: &'static str,
    },

    /// An id that names more than one certificate: each is listed, so the
    /// user can pick one. `among` is plural ("added CAs", ...).
    #[error(
        "{id:?} matches {} {among}, so nothing was changed; give more of the SHA-256 of the one you mean:{}",
        candidates.len(),
        candidates.iter().map(|c| format!("\n  {c}")).collect::<String>()
    )]
    Ambiguous {
        id: String,
        among: &'static str,
        candidates: Vec<String>,
    },

    /// `install --system` with nothing in the store it looked at. Under
    /// sudo that is root's store, not the user's: say so, and how to add.
    #[error("{}", no_added_cas(cas, sudo_user.as_deref()))]
    NoAddedCas {
        cas: PathBuf,
        sudo_user: Option<String>,
    },

    /// `--root` names another system while the state (added CAs, blocked
    /// list, bundle) would be this one's.
    #[error(
        "--root {}: that system's OS store would be merged with this machine's added CAs and \
         blocked list, and written over this machine's bundle ({}). Say where that system's \
         cabundle state lives with CABUNDLE_HOME (CABUNDLE_HOME={} for the image's own); \
         nothing was written",
        root.display(),
        bundle.display(),
        root.join("etc/cabundle").display()
    )]
    RootNeedsHome { root: PathBuf, bundle: PathBuf },
}

fn no_added_cas(cas: &std::path::Path, sudo_user: Option<&str>) -> String {
    let cas = cas.display();
    match sudo_user {
        Some(user) => format!(
            "no added CAs to install: root's store {cas} holds none. CAs that {user} added \
             are {user}'s, not root's: add them for root with `sudo cabundle add FILE`"
        ),
        None => format!("no added CAs to install: {cas} holds none; `cabundle add FILE` first"),
    }
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Why `config.toml` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("not UTF-8")]
    NotUtf8,
    /// toml's message names the line and what it expected there.
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    #[error("{0}")]
    Export(String),
}

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Toml(#[from] toml::ser::Error),
}

impl Error {
    /// [`Error::Encode`] of `path`.
    pub fn encode(path: impl Into<PathBuf>, source: impl Into<EncodeError>) -> Self {
        Error::Encode {
            path: path.into(),
            source: source.into(),
        }
    }
}

/// Attach the path to an `io::Result`.
pub trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}

/// A file that could not be used, and why. Reported, then skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Paths and reasons (which quote file contents) may hold control
        // characters; they must not reach a terminal or a log as such.
        let reason = crate::cert::printable(&self.reason);
        write!(f, "{}: {reason}", crate::cert::shown(&self.path))
    }
}
