//! The command line, as clap derive types.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};

use cabundle::clients::env::{Shell, VARS};

#[derive(Debug, Parser)]
#[command(
    name = "cabundle",
    version,
    about = "One trustworthy CA bundle for this machine or image, and every TLS client pointed at it",
    after_help = "Examples:\n  \
        cabundle sync                    # build the bundle: OS store + Mozilla roots, expired ones pruned\n  \
        cabundle add corp-root.pem       # trust your company's CA too (re-syncs)\n  \
        cabundle env --shell bash >> ~/.bashrc   # point Python, curl, git, Node, pip... at the bundle"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Wait this long for another cabundle that is changing the state (and
    /// say who it is after a second); 0 gives up at once
    #[arg(long, global = true, value_name = "SECS", default_value_t = 60)]
    pub lock_timeout: u64,
}

/// The range every network timeout accepts: a zero timeout cannot succeed,
/// and past a day is a mistake (and would overflow the clock near u64::MAX).
const TIMEOUT_SECS: std::ops::RangeInclusive<u64> = 1..=86_400;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the bundle from the OS trust store, Mozilla's roots and your added CAs
    #[command(after_help = "Examples:\n  \
                            cabundle sync\n  \
                            cabundle sync --at 2027-01-01\n  \
                            cabundle sync --windows-host       # under WSL: Windows' roots too\n  \
                            CABUNDLE_HOME=/mnt/image/etc/cabundle cabundle sync --root /mnt/image")]
    Sync(SyncArgs),

    /// Validate CA certificates, keep them in cabundle's store, and re-sync
    #[command(
        after_help = "Examples:\n  cabundle add corp-root.pem\n  cabundle add --name corp root.crt issuing.crt"
    )]
    Add(AddArgs),

    /// Take added CAs out again (by name, CN or SHA-256), and re-sync
    #[command(
        after_help = "Examples:\n  cabundle remove corp\n  cabundle remove 'Corp Root CA'\n  cabundle remove 3f2a9c0d8e7b6a51"
    )]
    Remove(RemoveArgs),

    /// Show what the bundle holds
    #[command(
        after_help = "Examples:\n  cabundle list\n  cabundle list --expiring 90\n  cabundle list --json | jq -r '.[].subject'"
    )]
    List(ListArgs),

    /// Print the settings that point TLS clients at the bundle
    #[command(after_help = "Examples:\n  \
                            cabundle env --shell bash >> ~/.bashrc\n  \
                            cabundle env --shell zsh >> ~/.zshrc\n  \
                            cabundle env --shell fish > ~/.config/fish/conf.d/cabundle.fish\n  \
                            cabundle env --shell powershell >> $PROFILE\n  \
                            eval \"$(cabundle env)\"             # this shell only, in its own syntax\n  \
                            cabundle env --shell dockerfile   # one ENV instruction\n\n\
                            Without --shell, the syntax follows the name of the program in $SHELL: fish, \
                            pwsh or powershell, else sh (bash, zsh, dash, ksh, or unset). Name the shell \
                            when writing to a file: $SHELL is your login shell, not the file's.")]
    Env(EnvArgs),

    /// Fetch fresh Mozilla roots over verified HTTPS (or from a file), check
    /// them, and cache them for `sync`
    #[command(after_help = "Examples:\n  cabundle fetch && cabundle sync\n  \
                            cabundle fetch --from https://curl.se/ca/cacert.pem\n  \
                            cabundle fetch --from ./certdata.txt\n  \
                            cabundle fetch --embedded   # back to the snapshot built in")]
    Fetch(FetchArgs),

    /// Keep a certificate out of the bundle, whichever source carries it,
    /// and re-sync
    #[command(after_help = "Examples:\n  \
                            cabundle block 3f2a9c0d8e7b6a51   # as `cabundle list` shows it (8 hex digits will do)\n  \
                            cabundle block 'Corp Old Root'    # by CN\n\n\
                            A whole SHA-256 is blocked even when no source carries it yet. An id that \
                            names several certificates changes nothing, and lists them.")]
    Block(BlockArgs),

    /// Undo `cabundle block`, and re-sync
    #[command(after_help = "Examples:\n  cabundle unblock 3f2a9c0d8e7b6a51\n  \
                            cabundle list | grep ^blocked   # what is blocked")]
    Unblock(BlockArgs),

    /// Put your added CAs into the OS trust store (and run its updater) or
    /// the browsers' NSS databases, and/or the whole bundle into every JVM's
    /// cacerts
    #[command(after_help = "Examples:\n  sudo cabundle install --system\n  \
                            cabundle install --system --root /mnt/image --no-update\n  \
                            cabundle install --java                      # every JVM found\n  \
                            cabundle install --java --java-home ~/.jdks/temurin-21\n  \
                            cabundle install --nss                       # Chromium, Firefox, Electron apps\n\n\
                            A JVM's cacerts keeps its format and password (JKS with changeit up to JDK 17, \
                            password-less PKCS#12 from 18). One that links to the distribution's own store \
                            (Debian's /etc/ssl/certs/java/cacerts, RHEL's extracted/java/cacerts) is left to \
                            the distribution: `install --system` puts your CAs where its hook carries them \
                            there; --force replaces the link with a file instead.\n\n\
                            --nss adds your added CAs (not the public roots, which browsers have built in) \
                            to every NSS database found, trusted for TLS servers, through NSS's certutil \
                            (libnss3-tools); `uninstall --nss` takes out exactly those.")]
    Install(InstallArgs),

    /// Take out exactly what `install` put in (and run the updater), or
    /// give each JVM its original cacerts back
    #[command(
        after_help = "Examples:\n  sudo cabundle uninstall --system\n  cabundle uninstall --java\n  \
                      cabundle uninstall --nss"
    )]
    Uninstall(InstallArgs),

    /// Show what each tool on this machine will trust (pip, npm, conda,
    /// git, curl, AWS, gcloud...), where that comes from, and the fix
    #[command(
        after_help = "Examples:\n  cabundle clients\n  cabundle clients --json\n  cabundle clients pip npm java\n\n\
                            Exit status 1 when any tool found does not use the bundle."
    )]
    Clients(ClientsArgs),

    /// Write the bundle in another form: a Java keystore, an OpenSSL
    /// hashed folder, or Kubernetes objects (ConfigMap, Secret,
    /// trust-manager)
    #[command(after_help = "Examples:\n  \
                            cabundle export --format pkcs12 -o truststore.p12\n  \
                            cabundle export --format jks -o cacerts            # password changeit\n  \
                            cabundle export --format openssl-dir -o /srv/certs\n  \
                            cabundle export --format configmap --namespace apps | kubectl apply -f -\n  \
                            cabundle export --format trust-manager --with-keystores | kubectl apply -f -\n\n\
                            Keystores hold every certificate as a trusted entry, aliased by name and \
                            fingerprint; the same bundle on the same day gives the same bytes. \
                            List exports in config.toml ([[export]] with format and path) and `sync` \
                            keeps them current.")]
    Export(ExportArgs),

    /// Run one command with every TLS setting pointed at the bundle
    #[command(
        after_help = "Examples:\n  cabundle exec -- python train.py\n  cabundle exec -- curl https://internal.example/"
    )]
    Exec(ExecArgs),

    /// Show which bundle each Python TLS client will use, or make every
    /// interpreter start pointed at the bundle (a cabundle.pth)
    #[command(
        after_help = "Examples:\n  cabundle python                      # status of every interpreter found\n  \
                            cabundle python status --json\n  \
                            cabundle python install --python ~/venvs/ml/bin/python\n  \
                            cabundle python uninstall"
    )]
    Python(PythonArgs),

    /// Explain "certificate verify failed": check this machine's setup, or
    /// what a server presents, and name the fix
    #[command(
        after_help = "Examples:\n  cabundle doctor\n  cabundle doctor https://pypi.org\n  \
                            cabundle doctor internal.example:8443 --save-issuer issuer.pem\n  cabundle doctor --json"
    )]
    Doctor(DoctorArgs),

    /// Find a TLS-inspection proxy re-signing this machine's traffic, and
    /// trust its root only where a store here or IT confirms it
    #[command(
        after_help = "Examples:\n  cabundle proxy detect\n  cabundle proxy trust\n  \
                            cabundle proxy trust --fingerprint 3f2a9c...   # the root's SHA-256, from IT\n  \
                            cabundle proxy trust --from corp-root.pem --nss-db ~/.pki/nssdb"
    )]
    Proxy(ProxyArgs),

    /// Keep the bundle fresh: a weekly `cabundle sync --refresh`, as a
    /// systemd timer (else a cron entry), added, removed or shown
    #[command(after_help = "Examples:\n  \
                            sudo cabundle schedule enable     # /etc/systemd/system/cabundle-refresh.timer\n  \
                            cabundle schedule enable --user   # ~/.config/systemd/user/, else your crontab\n  \
                            cabundle schedule status --user\n  \
                            cabundle schedule disable --user  # takes out exactly what enable added")]
    Schedule(ScheduleArgs),

    /// Print a shell completion script
    #[command(
        after_help = "Example:\n  cabundle completions bash > /etc/bash_completion.d/cabundle"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    pub action: ScheduleAction,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleAction {
    /// Run `cabundle sync --refresh` weekly: a systemd timer (enabled now
    /// when systemd runs), else a cron entry (/etc/cron.d/cabundle, or a
    /// line in your crontab with --user)
    Enable(ScheduleScope),
    /// Take out exactly what `enable` added
    Disable(ScheduleScope),
    /// Say what is scheduled, how the last refresh went, and how old the
    /// bundle's Mozilla roots are
    Status(ScheduleStatusArgs),
}

#[derive(Debug, Args)]
pub struct ScheduleScope {
    /// Your own schedule (systemd --user, or your crontab), not the
    /// system's (which only root can enable or disable)
    #[arg(long)]
    pub user: bool,
}

#[derive(Debug, Args)]
pub struct ScheduleStatusArgs {
    #[command(flatten)]
    pub scope: ScheduleScope,

    /// Print JSON (shape in README.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// An https URL or a file: Mozilla's certdata.txt, or a PEM bundle such
    /// as curl's cacert.pem (checked against its published .sha256)
    #[arg(long, value_name = "URL|FILE", default_value = cabundle::sources::fetch::DEFAULT_URL)]
    pub from: String,

    /// Give up on the download after this many seconds (1 to 86400)
    #[arg(long, value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(TIMEOUT_SECS))]
    pub timeout: u64,

    /// Let this root back in although Mozilla removed it from its set (its
    /// SHA-256; repeat for each). A set that holds a removed root is refused
    /// otherwise: it is an older set than the one in use
    #[arg(long, value_name = "SHA256", value_parser = parse_sha256)]
    pub allow_removed: Vec<cabundle::cert::Sha256>,

    /// Forget the fetched set: `sync` uses the snapshot built in again
    #[arg(long, conflicts_with_all = ["from", "allow_removed"])]
    pub embedded: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    /// Read the OS trust store under this folder (an image's filesystem).
    /// That system's added CAs, blocked list and bundle are not this one's:
    /// set CABUNDLE_HOME to where they live (IMAGE/etc/cabundle for the
    /// image's own); without it, a root other than / is refused
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,

    /// Use a macOS keychain export as the OS store
    /// (`security find-certificate -a -p KEYCHAIN > FILE`), on any OS
    #[arg(long, value_name = "FILE", conflicts_with = "root")]
    pub macos_export: Option<PathBuf>,

    /// With --macos-export: the admin trust settings
    /// (`security trust-settings-export -d FILE`); denied roots are left out
    #[arg(long, value_name = "FILE", requires = "macos_export")]
    pub macos_trust_settings: Option<PathBuf>,

    /// Under WSL: also trust the Windows host's roots (LocalMachine and
    /// CurrentUser Root, read through powershell.exe), and leave out every
    /// certificate in its Disallowed stores, whichever source carries it
    #[arg(long, conflicts_with = "macos_export")]
    pub windows_host: bool,

    /// Also trust the roots in this export of a Windows Root store: .sst
    /// (Export-Certificate -Type SST), .p7b, .cer (DER or base64) or PEM,
    /// or a folder of them. Repeat for more
    #[arg(long, value_name = "PATH", conflicts_with = "macos_export")]
    pub windows_export: Vec<PathBuf>,

    /// Leave out every certificate in this export of a Windows Disallowed
    /// store (any form --windows-export reads), whichever source carries it.
    /// Repeat for more
    #[arg(long, value_name = "PATH", conflicts_with = "macos_export")]
    pub windows_disallowed: Vec<PathBuf>,

    /// Judge expiry as of this day (UTC) instead of now
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_at)]
    pub at: Option<cabundle::date::Timestamp>,

    /// Fetch fresh Mozilla roots first (as `cabundle fetch`)
    #[arg(long, conflicts_with = "offline")]
    pub refresh: bool,

    /// Never touch the network (the default, unless --refresh)
    #[arg(long)]
    pub offline: bool,

    /// Also list every OS store file read, with its count
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// PEM or DER files holding CA certificates
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Store them under this name (default: each file's name)
    #[arg(long)]
    pub name: Option<String>,

    /// Accept certificates that are not CAs (pinning one server's certificate)
    #[arg(long)]
    pub allow_leaf: bool,

    #[command(flatten)]
    pub sync: SyncArgs,
}

#[derive(Debug, Args)]
pub struct BlockArgs {
    /// What `cabundle list` shows: a SHA-256 or a unique prefix of it (at
    /// least 8 hex digits; colons optional, any case), the name a CA was
    /// added under, or a CN
    #[arg(required = true, value_name = "ID")]
    pub ids: Vec<String>,

    #[command(flatten)]
    pub sync: SyncArgs,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Servers to check: https://host[:port][/path] or host[:port]
    #[arg(value_name = "URL", value_parser = parse_doctor_url)]
    pub urls: Vec<String>,

    /// Print JSON (shape in README.md)
    #[arg(long)]
    pub json: bool,

    /// Save the top certificate a failing server presents here, for review
    /// (it is never added by itself)
    #[arg(long, value_name = "FILE")]
    pub save_issuer: Option<PathBuf>,

    /// Seconds to wait for a connection or an answer (1 to 86400)
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(TIMEOUT_SECS))]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct ProxyArgs {
    #[command(subcommand)]
    pub action: ProxyAction,
}

#[derive(Debug, Subcommand)]
pub enum ProxyAction {
    /// Say whether a proxy re-signs well-known public hosts, with which
    /// root (subject, SHA-256, vendor), and whether a store here holds it
    #[command(after_help = "Examples:\n  cabundle proxy detect\n  \
                            cabundle proxy detect pypi.org https://internal.example/ --json\n\n\
                            Exit status: 0 when nothing re-signs the hosts, or the bundle trusts \
                            the root already; 1 when a root the bundle lacks re-signs them, or no \
                            host could be reached.")]
    Detect(ProxyDetectArgs),
    /// Add the root that re-signs the hosts, through `cabundle add`, only
    /// when a store here holds it (its copy is added) or it has the
    /// SHA-256 given with --fingerprint; never because a server sent it
    #[command(
        after_help = "Examples:\n  cabundle proxy trust                  # a store here holds the root\n  \
                            cabundle proxy trust --fingerprint 3f2a9c...   # its SHA-256, from IT\n  \
                            cabundle proxy trust --from it-root.pem\n\n\
                            Exit status: 0 when every root found is trusted (already, or now); 1 \
                            when one is not (nothing vouches for it)."
    )]
    Trust(ProxyTrustArgs),
}

// Nothing is fetched here: sync's --refresh and --offline mean nothing.
#[derive(Debug, Args)]
#[command(
    mut_arg("refresh", |a| a.hide(true)),
    mut_arg("offline", |a| a.hide(true)),
    mut_arg("verbose", |a| a.help("Also list what each host presents, and every store looked in"))
)]
pub struct ProxyDetectArgs {
    /// Hosts to try: https://host[:port] or host[:port] (default pypi.org,
    /// files.pythonhosted.org, github.com, registry.npmjs.org), through
    /// HTTPS_PROXY when it is set
    #[arg(value_name = "URL", value_parser = parse_doctor_url)]
    pub urls: Vec<String>,

    /// Print JSON (shape in README.md)
    #[arg(long)]
    pub json: bool,

    /// Seconds to wait for each host, the proxy included (1 to 86400)
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(TIMEOUT_SECS))]
    pub timeout: u64,

    /// Look for the root in this NSS database (repeat for more); default:
    /// the user's, found as `install --nss` finds them
    #[arg(long, value_name = "DIR")]
    pub nss_db: Vec<PathBuf>,

    /// Look for the root in this file of CA certificates too (repeat for
    /// more)
    #[arg(long, value_name = "FILE")]
    pub from: Vec<PathBuf>,

    #[command(flatten)]
    pub sync: SyncArgs,
}

#[derive(Debug, Args)]
pub struct ProxyTrustArgs {
    #[command(flatten)]
    pub detect: ProxyDetectArgs,

    /// The root's SHA-256 as IT gives it (colons optional): a presented
    /// root with it may be added though no store holds it. Repeat for more
    #[arg(long, value_name = "SHA256", value_parser = parse_sha256)]
    pub fingerprint: Vec<cabundle::cert::Sha256>,

    /// Store the root under this name (default proxy-VENDOR)
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The command and its arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct PythonArgs {
    #[command(subcommand)]
    pub action: Option<PythonAction>,
}

#[derive(Debug, Subcommand)]
pub enum PythonAction {
    /// For each interpreter: version, OpenSSL, certifi, and whether
    /// requests, urllib, httpx and pip will use the bundle (and why not)
    #[command(
        after_help = "Example:\n  cabundle python status --python /opt/venv/bin/python --json"
    )]
    Status(PythonStatusArgs),
    /// Write cabundle.pth into the interpreter's site-packages: at start it
    /// points each TLS variable the user did not set at the bundle
    #[command(after_help = "Example:\n  cabundle python install --python .venv/bin/python")]
    Install(PythonTarget),
    /// Remove the cabundle.pth that install wrote
    #[command(after_help = "Example:\n  cabundle python uninstall --python .venv/bin/python")]
    Uninstall(PythonTarget),
}

#[derive(Debug, Default, Args)]
pub struct PythonStatusArgs {
    /// Only these interpreters (default: the venv this cabundle is
    /// installed in, $VIRTUAL_ENV, $CONDA_PREFIX, and python3, python,
    /// python3.X on PATH)
    #[arg(long, value_name = "PATH")]
    pub python: Vec<PathBuf>,

    /// Print JSON (shape in README.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PythonTarget {
    /// The interpreter (default: $VIRTUAL_ENV's, else python3 on PATH)
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").args(["system", "java", "clients", "nss"]).required(true).multiple(true)))]
pub struct InstallArgs {
    /// Act on the OS trust store
    #[arg(long)]
    pub system: bool,

    /// Act on every JVM's trust store (cacerts)
    #[arg(long)]
    pub java: bool,

    /// Act on the NSS databases of Chromium, Chrome, Electron apps and
    /// Firefox (~/.pki/nssdb, ~/.local/share/pki/nssdb, Firefox profiles):
    /// your added CAs only, since these have Mozilla's roots built in
    #[arg(long)]
    pub nss: bool,

    /// Only this JVM (its home folder); repeat for several. Default: every
    /// JVM found (JAVA_HOME, java on PATH, /usr/lib/jvm, /opt/java, SDKMAN,
    /// ~/.jdks, Gradle's, JetBrains' bundled runtimes)
    #[arg(long, value_name = "DIR", requires = "java")]
    pub java_home: Vec<PathBuf>,

    /// Set each tool's own config key to the bundle (pip, npm, conda, git,
    /// AWS, gcloud...): the tools named, or every one found
    #[arg(long, value_name = "TOOL", num_args = 0..)]
    pub clients: Option<Vec<String>>,

    /// With --java: also replace a cacerts that links to the distribution's
    /// own store (recorded; uninstall puts the link back). With --clients:
    /// also replace a setting that points elsewhere
    #[arg(long)]
    pub force: bool,

    /// The system's root folder (an image's filesystem)
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,

    /// Do not run the distribution's updater (update-ca-certificates, ...)
    #[arg(long)]
    pub no_update: bool,
}

#[derive(Debug, Args)]
pub struct ClientsArgs {
    /// Only these (pip, uv, conda, npm, git, curl, aws, gcloud, cargo,
    /// systemd, python, java, nss); default: every one found
    #[arg(value_name = "TOOL")]
    pub tools: Vec<String>,

    /// Print JSON: an array of {tool, program, state, uses, from, lacks, fix}
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The form to write
    #[arg(long, value_name = "FORMAT",
          value_parser = PossibleValuesParser::new(cabundle::export::Format::NAMES)
              .map(|s| s.parse::<cabundle::export::Format>().expect("a listed name")))]
    pub format: cabundle::export::Format,

    /// Write here, atomically (openssl-dir: the folder's link); default
    /// stdout, which keystores need redirected
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// pkcs12/jks: the keystore password (pkcs12: none unless given; jks:
    /// changeit unless given)
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<String>,

    /// configmap/secret/trust-manager: the object's name
    #[arg(long, value_name = "NAME", default_value = cabundle::export::DEFAULT_NAME)]
    pub name: String,

    /// configmap/secret/trust-manager: its namespace (trust-manager: where
    /// the source ConfigMap goes, trust-manager's trust namespace,
    /// cert-manager by default)
    #[arg(long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,

    /// configmap/secret/trust-manager: the key the PEM is under
    #[arg(long, value_name = "KEY", default_value = cabundle::export::DEFAULT_KEY)]
    pub key: String,

    /// configmap/secret: also the PKCS#12 and JKS keystores (binaryData);
    /// trust-manager: also as its additional formats
    #[arg(long)]
    pub with_keystores: bool,

    /// trust-manager: the resource kind (Bundle is what released versions read)
    #[arg(long, value_name = "API", default_value = "bundle",
          value_parser = PossibleValuesParser::new(["bundle", "cluster-bundle"])
              .map(|s| if s == "bundle" { cabundle::export::Api::Bundle } else { cabundle::export::Api::ClusterBundle }))]
    pub api: cabundle::export::Api,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The name given at `add`, a subject CN, or a SHA-256 or a unique
    /// prefix of it as `cabundle list` shows it (at least 8 hex digits;
    /// colons optional)
    #[arg(required = true, value_name = "NAME|CN|SHA256")]
    pub what: Vec<String>,

    #[command(flatten)]
    pub sync: SyncArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON: an array of {sha256, subject, issuer, serial, not_before, not_after, sources, status}
    #[arg(long)]
    pub json: bool,

    /// Only certificates that expire within this many days
    #[arg(long, value_name = "DAYS")]
    pub expiring: Option<u32>,

    /// Also show what was left out (expired, distrusted), with the reason
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// Syntax to print (default: from $SHELL's program name: fish,
    /// pwsh/powershell, else sh)
    #[arg(long, value_enum)]
    pub shell: Option<Shell>,

    /// Also JAVA_TOOL_OPTIONS, pointing every JVM at the PKCS#12 beside the
    /// bundle (each JVM then prints "Picked up JAVA_TOOL_OPTIONS" on stderr)
    #[arg(long)]
    pub java: bool,

    /// Only these variables (comma-separated)
    #[arg(long, value_delimiter = ',', value_name = "VAR,...",
          value_parser = PossibleValuesParser::new(VARS))]
    pub only: Vec<String>,
}

fn parse_at(day: &str) -> Result<cabundle::date::Timestamp, String> {
    cabundle::date::parse_day(day).map_err(|e| e.to_string())
}

/// A URL doctor can check, or a usage error (exit 2) saying why not.
fn parse_doctor_url(s: &str) -> Result<String, String> {
    match cabundle::doctor::parse_url(s) {
        Some(_) => Ok(s.to_string()),
        None => Err(
            "expected https://host[:port][/path] or host[:port] (https only, no user name)".into(),
        ),
    }
}

fn parse_sha256(s: &str) -> Result<cabundle::cert::Sha256, String> {
    s.parse()
        .map_err(|_| "expected a SHA-256 fingerprint: 64 hex digits, colons optional".into())
}
