//! The Windows host's trust stores, for a WSL distribution: read live
//! through WSL interop (`powershell.exe`), or from exports made on Windows
//! (`Export-Certificate`), which can be given on any OS.
//!
//! What is read, and as what:
//! - `LocalMachine\Root` and `CurrentUser\Root`: anchors. LocalMachine's
//!   Root is the logical store, which already holds the AuthRoot (the
//!   Microsoft roots Windows has fetched so far), Group Policy and
//!   Enterprise physical stores: where an employer's TLS-inspection root
//!   lands.
//! - `LocalMachine\CA` and `CurrentUser\CA`: intermediates. Windows keeps
//!   them only to complete chains; they are never anchors. The bundle holds
//!   anchors only (an OpenSSL client, and Python 3.13's strict default with
//!   partial chains, would trust whatever an intermediate in it issued), and
//!   servers send their intermediates, so cabundle has no use for them:
//!   they are listed, counted and left out.
//! - `LocalMachine\Disallowed` and `CurrentUser\Disallowed`: distrust, which
//!   wins over every source (the OS store, Mozilla's roots, the user's own
//!   CAs). Windows names a disallowed certificate by its hash, so the
//!   distrust is of that exact certificate (its SHA-256): a cross-signed
//!   twin with the same key stays, as it does on Windows. A Disallowed
//!   store that cannot be read whole fails the sync.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use wait_timeout::ChildExt;

use super::{Fingerprint, Gathered};
use crate::cert::Sha256;
use crate::decode::{self, pkcs7, sst};
use crate::error::{Error, Result};

/// The stores the script lists, in the order it lists them.
pub const STORES: [&str; 6] = [
    r"LocalMachine\Root",
    r"CurrentUser\Root",
    r"LocalMachine\CA",
    r"CurrentUser\CA",
    r"LocalMachine\Disallowed",
    r"CurrentUser\Disallowed",
];

/// What `powershell.exe -NoProfile -NonInteractive -Command` runs: for each
/// store, one line per certificate, `STORE<TAB>BASE64-DER`, then
/// `#end<TAB>STORE<TAB>COUNT` once the store was listed whole, or
/// `#error<TAB>STORE<TAB>MESSAGE` if it could not be. The end line is what
/// tells a complete Disallowed store from output cut short. Each store's
/// certificates are collected before any is written, so a store that fails
/// midway writes no certificate line.
///
/// One line and no double quotes: WSL interop passes arguments to Windows
/// through a command line, where double quotes (and backslashes before
/// them) would be re-read; single quotes and `[char]` codes pass through
/// as they are. Not `-EncodedCommand`, which would avoid quoting too, but is
/// what endpoint protection flags in the corporate machines this is for.
pub const SCRIPT: &str = concat!(
    "$ErrorActionPreference='Stop'; $ProgressPreference='SilentlyContinue'; ",
    "$t=[char]9; $n=[char]10; $o=[Console]::Out; ",
    r"foreach($s in 'LocalMachine\Root','CurrentUser\Root','LocalMachine\CA',",
    r"'CurrentUser\CA','LocalMachine\Disallowed','CurrentUser\Disallowed'){ ",
    r"try { $c=@(Get-ChildItem -LiteralPath ('Cert:\'+$s)); ",
    "foreach($x in $c){ $o.Write($s+$t+[Convert]::ToBase64String($x.RawData)+$n) }; ",
    "$o.Write('#end'+$t+$s+$t+$c.Count+$n) } ",
    r"catch { $o.Write('#error'+$t+$s+$t+($_.Exception.Message -replace '\s+',' ')+$n) } }; ",
    "$o.Flush()"
);

/// The label of a store read through interop, in `list` and the bundle.
pub const HOST_PREFIX: &str = "windows-host:";
/// The label of an anchors export (`--windows-export`).
pub const EXPORT_PREFIX: &str = "windows-export:";

/// Where to look for WSL and `powershell.exe`: this machine's places
/// ([`Host::this_machine`]), or a test's.
#[derive(Debug, Clone)]
pub struct Host {
    /// `WSL_DISTRO_NAME`.
    pub distro: Option<OsString>,
    /// `PATH`, searched for `powershell.exe`.
    pub path: Option<OsString>,
    /// `/proc/sys/kernel/osrelease`: WSL kernels say "microsoft".
    pub osrelease: PathBuf,
    /// binfmt_misc's interop entries: `WSLInterop`, and `WSLInterop-late`
    /// (its name under systemd). systemd-binfmt may remove them.
    pub interop: Vec<PathBuf>,
    /// Where Windows keeps `powershell.exe`, for when PATH does not lead
    /// there (`appendWindowsPath = false` in wsl.conf).
    pub powershell: PathBuf,
    /// How long the script may run.
    pub timeout: Duration,
}

impl Host {
    pub fn this_machine() -> Host {
        Host {
            distro: std::env::var_os("WSL_DISTRO_NAME"),
            path: std::env::var_os("PATH"),
            osrelease: PathBuf::from("/proc/sys/kernel/osrelease"),
            interop: vec![
                PathBuf::from("/proc/sys/fs/binfmt_misc/WSLInterop"),
                PathBuf::from("/proc/sys/fs/binfmt_misc/WSLInterop-late"),
            ],
            powershell: PathBuf::from(
                "/mnt/c/Windows/System32/WindowsPowerShell/v1.0/powershell.exe",
            ),
            // PowerShell's cold start through interop takes seconds.
            timeout: Duration::from_secs(60),
        }
    }
}

/// What `sync` reads from Windows.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Read the host's stores through interop (`--windows-host`).
    pub host: Option<Host>,
    /// Exports of Root stores: anchors (`--windows-export`).
    pub exports: Vec<PathBuf>,
    /// Exports of Disallowed stores: distrust (`--windows-disallowed`).
    pub disallowed: Vec<PathBuf>,
}

impl Request {
    pub fn is_empty(&self) -> bool {
        self.host.is_none() && self.exports.is_empty() && self.disallowed.is_empty()
    }
}

/// What a store or export was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Anchors,
    /// Listed and left out (see the module's comment).
    Intermediates,
    Distrust,
}

/// One store or export read, for the sync's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreRead {
    pub label: String,
    pub role: Role,
    pub certificates: usize,
}

/// Read what `req` names into `out`: anchors as found certificates under
/// their labels, Disallowed ones as distrust. A path named on the command
/// line that cannot be used, or a host that cannot be reached, is an error:
/// a sync without them would look complete and not be.
pub fn load(req: &Request, out: &mut Gathered) -> Result<Vec<StoreRead>> {
    let mut read = Vec::new();
    if let Some(host) = &req.host {
        let powershell = locate(host)?;
        let output = run_script(&powershell, host)?;
        apply_listing(&parse_listing(&output), out, &mut read);
    }
    for path in &req.exports {
        load_export(path, Role::Anchors, out, &mut read)?;
    }
    for path in &req.disallowed {
        load_export(path, Role::Distrust, out, &mut read)?;
    }
    Ok(read)
}

// ---- Finding the host -------------------------------------------------

/// One thing looked at, and what was there.
struct Check {
    found: bool,
    said: String,
}

fn wsl_checks(host: &Host) -> (Check, Check, Vec<Check>) {
    let distro = match host.distro.as_ref().filter(|d| !d.is_empty()) {
        Some(d) => Check {
            found: true,
            said: format!("WSL_DISTRO_NAME={}", d.to_string_lossy()),
        },
        None => Check {
            found: false,
            said: "WSL_DISTRO_NAME unset".into(),
        },
    };
    let kernel = match std::fs::read(&host.osrelease) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes).trim().to_string();
            let found = text.to_ascii_lowercase().contains("microsoft");
            Check {
                found,
                said: format!(
                    "{} is {text:?}{}",
                    host.osrelease.display(),
                    if found { "" } else { " (no \"microsoft\")" }
                ),
            }
        }
        Err(e) => Check {
            found: false,
            said: format!("{}: {e}", host.osrelease.display()),
        },
    };
    let interop = host
        .interop
        .iter()
        .map(|entry| match std::fs::read(entry) {
            // binfmt_misc's entry says "enabled" or "disabled" first.
            Ok(bytes) if bytes.starts_with(b"enabled") => Check {
                found: true,
                said: format!("{} enabled", entry.display()),
            },
            Ok(_) => Check {
                found: false,
                said: format!("{} disabled", entry.display()),
            },
            Err(_) => Check {
                found: false,
                said: format!("no {}", entry.display()),
            },
        })
        .collect();
    (distro, kernel, interop)
}

/// The interop error: why, and everything that was checked.
fn no_interop(host: &Host, why: Option<String>, found: Option<&Path>) -> Error {
    let (distro, kernel, interop) = wsl_checks(host);
    let wsl = distro.found || kernel.found;
    let interop_on = interop.iter().any(|c| c.found);
    let reason = why.unwrap_or_else(|| {
        if !wsl {
            "this does not look like WSL, and powershell.exe is not found".into()
        } else if !interop_on {
            "Windows interop is off: no enabled WSLInterop entry in binfmt_misc (systemd-binfmt \
             removes it unless WSL's is kept, or /etc/wsl.conf sets [interop] enabled=false), \
             and powershell.exe is not found"
                .into()
        } else {
            "powershell.exe is not found (is C: mounted at /mnt/c?)".into()
        }
    });
    let mut checked: Vec<String> = [distro, kernel]
        .into_iter()
        .chain(interop)
        .map(|c| c.said)
        .collect();
    match found {
        Some(p) => checked.push(format!("powershell.exe found at {}", p.display())),
        None => {
            checked.push("no powershell.exe on PATH".into());
            checked.push(format!("no {}", host.powershell.display()));
        }
    }
    Error::WindowsInterop {
        reason,
        checked: checked.join("; "),
    }
}

/// `powershell.exe`: on PATH, else where Windows keeps it. The WSL markers
/// only explain a failure; they are not required, since `sudo`, cron and
/// systemd drop WSL_DISTRO_NAME and a custom WSL kernel may not say
/// "microsoft", while a `powershell.exe` that runs is the interop itself.
fn locate(host: &Host) -> Result<PathBuf> {
    let on_path = host.path.as_ref().and_then(|path| {
        which::which_in_global("powershell.exe", Some(path))
            .ok()?
            .next()
    });
    if let Some(found) = on_path {
        return Ok(found);
    }
    if host.powershell.is_file() {
        return Ok(host.powershell.clone());
    }
    Err(no_interop(host, None, None))
}

/// The script's output can never be near this: ~2 KiB a certificate.
const MAX_OUTPUT: u64 = 64 << 20;
/// What is kept of stderr, to quote its last line.
const MAX_STDERR: u64 = 64 << 10;

/// Run the script in `powershell`, within the host's time limit.
fn run_script(powershell: &Path, host: &Host) -> Result<Vec<u8>> {
    let failed = |reason: String| Error::WindowsHost {
        program: powershell.to_path_buf(),
        reason,
    };
    let mut cmd = Command::new(powershell);
    cmd.args(["-NoProfile", "-NonInteractive", "-Command", SCRIPT])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // From a Linux folder, Windows starts the program in a \\wsl$ path;
    // its own folder is a Windows one.
    if let Some(dir) = powershell.parent().filter(|d| d.is_dir()) {
        cmd.current_dir(dir);
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        // What running a Windows program gives when interop is off.
        Err(e) if e.raw_os_error() == Some(libc::ENOEXEC) => {
            return Err(no_interop(
                host,
                Some(format!(
                    "{} cannot be run ({e}): Windows interop is off",
                    powershell.display()
                )),
                Some(powershell),
            ));
        }
        Err(e) => return Err(failed(format!("cannot run it: {e}"))),
    };
    let drain = |stream: Option<Box<dyn Read + Send>>, max: u64| {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            if let Some(mut s) = stream {
                let _ = (&mut s).take(max + 1).read_to_end(&mut kept);
                // The rest is read and dropped, so the child never blocks.
                let _ = std::io::copy(&mut s, &mut std::io::sink());
            }
            kept
        })
    };
    let stdout = drain(child.stdout.take().map(|s| Box::new(s) as _), MAX_OUTPUT);
    let stderr = drain(child.stderr.take().map(|s| Box::new(s) as _), MAX_STDERR);
    let status = match child.wait_timeout(host.timeout) {
        Ok(Some(status)) => status,
        Ok(None) => {
            // Child::kill acts on this child, never on a reused pid: it is
            // not reaped until the wait below.
            let _ = child.kill();
            let _ = child.wait();
            return Err(failed(format!(
                "did not finish within {} s",
                host.timeout.as_secs()
            )));
        }
        Err(e) => return Err(failed(format!("cannot wait for it: {e}"))),
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let said = String::from_utf8_lossy(&stderr);
    let last = said.lines().map(str::trim).rfind(|l| !l.is_empty());
    if !status.success() {
        // glibc runs a file the kernel cannot execute as a shell script,
        // and the shell says so: the same interop that is off.
        if status.code() == Some(126) || said.contains("Exec format error") {
            return Err(no_interop(
                host,
                Some(format!(
                    "{} cannot be run ({}): Windows interop is off",
                    powershell.display(),
                    last.unwrap_or("exit status 126")
                )),
                Some(powershell),
            ));
        }
        return Err(failed(format!(
            "ended ({status}){}",
            last.map(|l| format!(": {l}")).unwrap_or_default()
        )));
    }
    if stdout.len() as u64 > MAX_OUTPUT {
        return Err(failed(format!(
            "wrote more than {} MiB, far more than certificate stores hold",
            MAX_OUTPUT >> 20
        )));
    }
    Ok(stdout)
}

// ---- The script's output ----------------------------------------------

/// One store as the script listed it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Listed {
    ders: Vec<Vec<u8>>,
    /// The count its `#end` line gave.
    end: Option<u64>,
    /// Its `#error` line's message.
    error: Option<String>,
}

impl Listed {
    /// Why the listing cannot be taken as the whole store, if it cannot.
    fn incomplete(&self) -> Option<String> {
        match (&self.error, self.end) {
            (Some(e), _) => Some(format!("Windows could not list it: {e}")),
            (None, None) => Some("the listing has no end line: cut short".into()),
            (None, Some(n)) if n != self.ders.len() as u64 => Some(format!(
                "the listing says {n} certificates, and {} were read",
                self.ders.len()
            )),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
struct Listing {
    stores: [Listed; STORES.len()],
    /// Lines that are not the script's, by number.
    problems: Vec<String>,
}

const MAX_PROBLEMS: usize = 5;

/// Parse the script's output strictly: every line is a certificate, an end
/// or an error line of a known store; anything else is a problem, named by
/// its line number, and is not read.
fn parse_listing(output: &[u8]) -> Listing {
    let mut listing = Listing::default();
    let output = output.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(output);
    let store = |name: &[u8]| STORES.iter().position(|s| s.as_bytes() == name);
    let mut bad = 0usize;
    for (i, line) in output.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&[u8]> = line.splitn(3, |b| *b == b'\t').collect();
        let problem = match fields[..] {
            [b"#end", name, count] => match (store(name), std::str::from_utf8(count)) {
                (Some(s), Ok(count)) => match count.parse::<u64>() {
                    Ok(n) if listing.stores[s].end.is_none() => {
                        listing.stores[s].end = Some(n);
                        None
                    }
                    Ok(_) => Some("a second end line for the same store".to_string()),
                    Err(_) => Some(format!("an end line with count {count:?}")),
                },
                _ => Some("an end line for no known store".into()),
            },
            [b"#error", name, message] => match store(name) {
                Some(s) => {
                    listing.stores[s].error =
                        Some(String::from_utf8_lossy(message).trim().to_string());
                    None
                }
                None => Some("an error line for no known store".into()),
            },
            [name, base64] => match store(name) {
                Some(s) => match data_encoding::BASE64.decode(base64) {
                    Ok(der) if !der.is_empty() => {
                        listing.stores[s].ders.push(der);
                        None
                    }
                    _ => Some(format!("{}: not a certificate in base64", STORES[s])),
                },
                None => Some(snippet("not STORE<TAB>BASE64", line)),
            },
            _ => Some(snippet("not STORE<TAB>BASE64", line)),
        };
        if let Some(p) = problem {
            bad += 1;
            if listing.problems.len() < MAX_PROBLEMS {
                listing
                    .problems
                    .push(format!("line {} of the script's output: {p}", i + 1));
            }
        }
    }
    if bad > MAX_PROBLEMS {
        listing.problems.push(format!(
            "and {} more lines that are not the script's",
            bad - MAX_PROBLEMS
        ));
    }
    listing
}

/// `what`, quoting the start of `line` (escaped when shown).
fn snippet(what: &str, line: &[u8]) -> String {
    const SHOWN: usize = 40;
    let text = String::from_utf8_lossy(&line[..line.len().min(SHOWN)]).into_owned();
    let more = if line.len() > SHOWN { "..." } else { "" };
    format!("{what}: {text:?}{more}")
}

fn apply_listing(listing: &Listing, out: &mut Gathered, read: &mut Vec<StoreRead>) {
    let shown = Path::new("windows-host");
    for p in &listing.problems {
        out.problem(shown, p);
    }
    for (name, listed) in STORES.iter().zip(&listing.stores) {
        let label = format!("{HOST_PREFIX}{name}");
        let incomplete = listed.incomplete();
        let role = if name.ends_with("Root") {
            Role::Anchors
        } else if name.ends_with(r"\CA") {
            Role::Intermediates
        } else {
            Role::Distrust
        };
        match role {
            Role::Anchors => {
                if let Some(why) = incomplete {
                    out.problem(Path::new(&label), why);
                }
                let items = certificates(&listed.ders, &label, out);
                read.push(StoreRead {
                    label: label.clone(),
                    role,
                    certificates: items.len(),
                });
                out.found_in(&label, items);
            }
            // Listed so that the host's view is complete, and left out:
            // the bundle holds anchors only (see the module's comment).
            Role::Intermediates => read.push(StoreRead {
                label,
                role,
                certificates: listed.ders.len(),
            }),
            Role::Distrust => {
                if let Some(why) = incomplete {
                    out.unapplied(Path::new(&label), why);
                }
                distrust(
                    &listed.ders,
                    &format!("in the Windows host's {name} store"),
                    out,
                );
                read.push(StoreRead {
                    label,
                    role,
                    certificates: listed.ders.len(),
                });
            }
        }
    }
}

/// Certificates from DER, each that does not parse a problem of `label`.
fn certificates(ders: &[Vec<u8>], label: &str, out: &mut Gathered) -> Vec<decode::Item> {
    let mut items = Vec::new();
    for (i, der) in ders.iter().enumerate() {
        match out.memo.cert(der) {
            Ok(cert) => items.push(decode::Item::plain(cert)),
            Err(e) => out.problem(Path::new(label), format!("certificate {}: {e}", i + 1)),
        }
    }
    items
}

/// Distrust each certificate by the SHA-256 of its DER, which needs no
/// parsing: one that x509-parser would refuse is distrusted all the same.
fn distrust(ders: &[Vec<u8>], reason: &str, out: &mut Gathered) {
    for der in ders {
        out.distrust(Fingerprint::Sha256(Sha256::of(der)), reason);
    }
}

// ---- Exports ----------------------------------------------------------

/// The extensions a folder of exports is read for.
const EXPORT_EXTENSIONS: [&str; 7] = ["cer", "crt", "der", "pem", "p7b", "p7c", "sst"];

/// An export named on the command line: a file, or a folder of them.
fn load_export(
    path: &Path,
    role: Role,
    out: &mut Gathered,
    read: &mut Vec<StoreRead>,
) -> Result<()> {
    let what = match role {
        Role::Distrust => "--windows-disallowed",
        _ => "--windows-export",
    };
    let input = |path: &Path, reason: String| Error::Input {
        what,
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| input(path, e.to_string()))?;
    let files = if meta.is_dir() {
        let files = export_files(path).map_err(|e| input(path, e.to_string()))?;
        if files.is_empty() {
            return Err(input(
                path,
                format!("holds no .{} file", EXPORT_EXTENSIONS.join(", .")),
            ));
        }
        files
    } else {
        vec![path.to_path_buf()]
    };
    let named = !meta.is_dir();
    for file in files {
        let bytes = match decode::read_bounded(&file) {
            Ok(bytes) => bytes,
            Err(e) if named => return Err(input(&file, e.to_string())),
            Err(e) if role == Role::Distrust => {
                out.unapplied(&file, e);
                continue;
            }
            Err(e) => {
                out.problem(&file, e);
                continue;
            }
        };
        let export = read_export(&bytes);
        if role == Role::Distrust {
            if !export.errors.is_empty() {
                out.unapplied(&file, export.errors.join("; "));
            }
            let reason = format!("in the Windows Disallowed export {}", file.display());
            distrust(&export.ders, &reason, out);
            read.push(StoreRead {
                label: format!("windows-disallowed:{}", file.display()),
                role,
                certificates: export.ders.len(),
            });
            continue;
        }
        let label = format!("{EXPORT_PREFIX}{}", file.display());
        for e in &export.errors {
            out.problem(&file, e);
        }
        let items = certificates(&export.ders, &label, out);
        if items.is_empty() && named {
            let why = match export.errors.first() {
                Some(e) => format!("holds no certificate that can be read ({e})"),
                None => "holds no certificate".into(),
            };
            return Err(input(&file, why));
        }
        read.push(StoreRead {
            label: label.clone(),
            role,
            certificates: items.len(),
        });
        out.found_in(&label, items);
    }
    Ok(())
}

/// The export files in a folder (not below it), by name.
fn export_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let wanted = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXPORT_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
        if wanted && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// What an export file holds: each certificate's DER, and what could not be
/// read.
#[derive(Debug, Default)]
struct Export {
    ders: Vec<Vec<u8>>,
    errors: Vec<String>,
}

/// An export in any of the forms Windows writes: a serialized store
/// (.sst), PKCS#7 (.p7b, DER or PEM), a certificate (.cer, DER or base64,
/// with or without PEM lines), or a PEM bundle.
fn read_export(bytes: &[u8]) -> Export {
    read_export_at(bytes, true)
}

fn read_export_at(bytes: &[u8], unwrap_base64: bool) -> Export {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut export = Export::default();
    if sst::is_sst(bytes) {
        let store = sst::read(bytes);
        export.ders = store.certificates.into_iter().map(<[u8]>::to_vec).collect();
        export.errors = store
            .errors
            .iter()
            .map(|e| format!("serialized store: {e}"))
            .collect();
    } else if pkcs7::is_pkcs7(bytes) {
        pkcs7_into(bytes, &mut export);
    } else if memchr::memmem::find(bytes, b"-----BEGIN ").is_some() {
        // PEM: certificates through the one PEM decoder, PKCS7 blocks here.
        let decoded = decode::decode(bytes);
        for item in decoded.items {
            match item.distrust {
                None => export.ders.push(item.cert.der.clone()),
                Some(why) => export.errors.push(format!(
                    "{}: distrusted by its own trust data ({why})",
                    item.cert.name()
                )),
            }
        }
        for e in decoded.errors {
            if e.label() != Some("PKCS7") {
                export.errors.push(e.to_string());
            }
        }
        for block in pem_pkcs7_blocks(bytes) {
            match block {
                Some(der) => pkcs7_into(&der, &mut export),
                None => export.errors.push("a PKCS7 block in bad base64".into()),
            }
        }
    } else if unwrap_base64
        && bytes.iter().any(|b| !b.is_ascii_whitespace())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b) || b.is_ascii_whitespace())
    {
        // A .cer in base64 without its PEM lines.
        match decode::base64(&mut bytes.to_vec()) {
            Some(der) => return read_export_at(&der, false),
            None => export.errors.push("neither DER nor base64".into()),
        }
    } else {
        let decoded = decode::decode(bytes);
        export.ders = decoded
            .items
            .into_iter()
            .map(|i| i.cert.der.clone())
            .collect();
        export.errors = decoded.errors.iter().map(ToString::to_string).collect();
    }
    export
}

fn pkcs7_into(der: &[u8], export: &mut Export) {
    match pkcs7::certificates(der) {
        Ok(certs) => export.ders.extend(certs.into_iter().map(<[u8]>::to_vec)),
        Err(e) => export.errors.push(format!("PKCS#7: {e}")),
    }
}

/// The DER of each `PKCS7` PEM block (as `openssl crl2pkcs7` writes by
/// default); `None` for one whose base64 is bad.
fn pem_pkcs7_blocks(bytes: &[u8]) -> Vec<Option<Vec<u8>>> {
    let mut blocks = Vec::new();
    let mut body: Option<Vec<u8>> = None;
    for line in bytes.split(|b| *b == b'\n') {
        let line = line.trim_ascii();
        if line == b"-----BEGIN PKCS7-----" {
            body = Some(Vec::new());
        } else if line == b"-----END PKCS7-----" {
            if let Some(mut b) = body.take() {
                blocks.push(decode::base64(&mut b));
            }
        } else if let Some(b) = body.as_mut() {
            b.extend_from_slice(line);
        }
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots() -> Vec<crate::cert::Cert> {
        crate::test_support::roots()
    }

    fn line(store: &str, der: &[u8]) -> String {
        format!("{store}\t{}\n", data_encoding::BASE64.encode(der))
    }

    fn end(store: &str, n: usize) -> String {
        format!("#end\t{store}\t{n}\n")
    }

    /// A complete listing: the first root in LocalMachine\Root, the second
    /// in CurrentUser\Root, the third as an intermediate, the fourth
    /// disallowed; every other store empty.
    fn listing(roots: &[crate::cert::Cert]) -> String {
        let mut out = String::new();
        for (s, store) in STORES.iter().enumerate() {
            let mine = match s {
                0 => vec![&roots[0]],
                1 => vec![&roots[1]],
                2 => vec![&roots[2]],
                4 => vec![&roots[3]],
                _ => vec![],
            };
            for c in &mine {
                out += &line(store, &c.der);
            }
            out += &end(store, mine.len());
        }
        out.replace('\n', "\r\n")
    }

    #[test]
    fn the_script_survives_a_windows_command_line() {
        assert!(!SCRIPT.contains('"'), "{SCRIPT}");
        assert!(!SCRIPT.contains('\n'));
        // Every store the parser knows is the script's, in its order.
        let named: Vec<&str> = SCRIPT
            .split('\'')
            .filter(|s| s.contains(r"\Root") || s.contains(r"\CA") || s.contains("Disallowed"))
            .collect();
        assert_eq!(named, STORES);
    }

    #[test]
    fn a_listing_gives_anchors_distrust_and_leaves_intermediates_out() {
        let roots = roots();
        let mut out = Gathered::default();
        let mut read = Vec::new();
        apply_listing(
            &parse_listing(listing(&roots).as_bytes()),
            &mut out,
            &mut read,
        );
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        assert!(out.unapplied.is_empty(), "{:?}", out.unapplied);
        let found: Vec<(String, Sha256)> = out
            .found
            .iter()
            .map(|(l, i)| (l.to_string(), i.cert.sha256))
            .collect();
        assert_eq!(
            found,
            [
                (
                    r"windows-host:LocalMachine\Root".to_string(),
                    roots[0].sha256
                ),
                (
                    r"windows-host:CurrentUser\Root".to_string(),
                    roots[1].sha256
                ),
            ]
        );
        assert_eq!(out.distrusted.len(), 1);
        assert_eq!(out.distrusted[0].by, Fingerprint::Sha256(roots[3].sha256));
        assert!(
            out.distrusted[0]
                .reason
                .contains(r"LocalMachine\Disallowed")
        );
        let counts: Vec<(Role, usize)> = read.iter().map(|r| (r.role, r.certificates)).collect();
        assert_eq!(
            counts,
            [
                (Role::Anchors, 1),
                (Role::Anchors, 1),
                (Role::Intermediates, 1),
                (Role::Intermediates, 0),
                (Role::Distrust, 1),
                (Role::Distrust, 0),
            ]
        );
    }

    /// Lines that are not the script's are problems, by number; a
    /// Disallowed store that is not listed whole cannot be applied.
    #[test]
    fn strict_parsing_and_a_disallowed_store_listed_whole_or_not_at_all() {
        let roots = roots();
        let good = listing(&roots);
        let noisy = format!(
            "\u{feff}garbage\nLocalMachine\\Root\tnot base64!\nLocalMachine\\Nope\tAAAA\n\
             #end\tLocalMachine\\Root\tmany\n\t\n{good}"
        );
        let parsed = parse_listing(noisy.as_bytes());
        assert_eq!(parsed.problems.len(), 5, "{:?}", parsed.problems);
        assert!(
            parsed.problems[0].starts_with("line 1 "),
            "{:?}",
            parsed.problems
        );
        assert!(parsed.problems[0].contains("garbage"));
        let mut out = Gathered::default();
        apply_listing(&parsed, &mut out, &mut Vec::new());
        // The bad Root line makes LocalMachine\Root's count disagree.
        assert!(
            out.problems
                .iter()
                .any(|p| p.reason.contains("says 1 certificates, and 2")
                    || p.reason.contains("not a certificate")),
            "{:?}",
            out.problems
        );
        assert!(out.unapplied.is_empty(), "{:?}", out.unapplied);

        // Cut before CurrentUser\Disallowed's end line: cannot be applied.
        let cut = &good[..good.rfind("#end").unwrap()];
        let mut out = Gathered::default();
        apply_listing(&parse_listing(cut.as_bytes()), &mut out, &mut Vec::new());
        assert_eq!(out.unapplied.len(), 1, "{:?}", out.unapplied);
        assert!(
            out.unapplied[0]
                .path
                .ends_with(r"windows-host:CurrentUser\Disallowed")
        );
        // A Disallowed store Windows could not open.
        let failed = good.replace(
            "#end\tLocalMachine\\Disallowed\t1",
            "#error\tLocalMachine\\Disallowed\tAccess is denied.",
        );
        let mut out = Gathered::default();
        apply_listing(&parse_listing(failed.as_bytes()), &mut out, &mut Vec::new());
        assert_eq!(out.unapplied.len(), 1);
        assert!(out.unapplied[0].reason.contains("Access is denied."));
        // A Disallowed line whose base64 is bad: its count disagrees.
        let bad = good.replacen(
            "LocalMachine\\Disallowed\t",
            "LocalMachine\\Disallowed\t!",
            1,
        );
        let mut out = Gathered::default();
        apply_listing(&parse_listing(bad.as_bytes()), &mut out, &mut Vec::new());
        assert_eq!(out.unapplied.len(), 1, "{:?}", out.unapplied);
        // Any bytes at all: never a panic.
        for junk in [
            &b"\t\t\t"[..],
            b"#end",
            b"#end\t\t",
            b"\xff\xfe\x00",
            b"\n\n\r\n",
        ] {
            let _ = parse_listing(junk);
        }
    }

    /// A certificate Windows disallows but x509-parser refuses is still
    /// distrusted, by the SHA-256 of its bytes.
    #[test]
    fn unparsable_disallowed_certificates_are_distrusted_by_their_bytes() {
        let mut out = Gathered::default();
        distrust(&[b"not a certificate".to_vec()], "why", &mut out);
        assert_eq!(
            out.distrusted[0].by,
            Fingerprint::Sha256(Sha256::of(b"not a certificate"))
        );
    }

    fn fake_host(dir: &Path) -> Host {
        Host {
            distro: None,
            path: Some(dir.join("bin").into_os_string()),
            osrelease: dir.join("osrelease"),
            interop: vec![dir.join("WSLInterop"), dir.join("WSLInterop-late")],
            powershell: dir.join("c/powershell.exe"),
            timeout: Duration::from_secs(10),
        }
    }

    fn script(path: &Path, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// What the interop error says depends on what was found, and it
    /// names everything it checked.
    #[test]
    fn the_interop_error_says_what_was_checked() {
        let dir = tempfile::tempdir().unwrap();
        let mut host = fake_host(dir.path());
        let err = locate(&host).unwrap_err().to_string();
        assert!(err.contains("does not look like WSL"), "{err}");
        assert!(err.contains("WSL_DISTRO_NAME unset"), "{err}");
        assert!(err.contains("--windows-export"), "{err}");
        // WSL, with interop removed by systemd-binfmt.
        host.distro = Some("Ubuntu".into());
        std::fs::write(
            dir.path().join("osrelease"),
            "5.15.167.4-microsoft-standard-WSL2\n",
        )
        .unwrap();
        let err = locate(&host).unwrap_err().to_string();
        assert!(err.contains("interop is off"), "{err}");
        assert!(err.contains("WSL_DISTRO_NAME=Ubuntu"), "{err}");
        assert!(err.contains("microsoft-standard-WSL2"), "{err}");
        assert!(
            err.contains("no ") && err.contains("WSLInterop-late"),
            "{err}"
        );
        // Disabled (`echo 0 > WSLInterop`), then enabled but no program.
        std::fs::write(dir.path().join("WSLInterop"), "disabled\n").unwrap();
        assert!(locate(&host).unwrap_err().to_string().contains("disabled"));
        std::fs::write(
            dir.path().join("WSLInterop-late"),
            "enabled\ninterpreter /init\n",
        )
        .unwrap();
        let err = locate(&host).unwrap_err().to_string();
        assert!(err.contains("/mnt/c"), "{err}");
        // Where Windows keeps it, then on PATH, which comes first.
        script(&host.powershell, "exit 0");
        assert_eq!(locate(&host).unwrap(), host.powershell);
        let on_path = dir.path().join("bin/powershell.exe");
        script(&on_path, "exit 0");
        assert_eq!(locate(&host).unwrap(), on_path);
        host.path = None;
        assert_eq!(locate(&host).unwrap(), host.powershell);
    }

    #[test]
    fn the_script_runs_with_its_arguments_within_the_time_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut host = fake_host(dir.path());
        let ps = dir.path().join("bin/powershell.exe");
        script(&ps, r#"printf '%s\n' "$@""#);
        let out = run_script(&ps, &host).unwrap();
        let args = String::from_utf8(out).unwrap();
        assert_eq!(
            args,
            format!("-NoProfile\n-NonInteractive\n-Command\n{SCRIPT}\n")
        );
        script(&ps, "echo 'running scripts is disabled' >&2; exit 1");
        let err = run_script(&ps, &host).unwrap_err().to_string();
        assert!(err.contains("running scripts is disabled"), "{err}");
        assert!(err.contains("nothing was written"), "{err}");
        host.timeout = Duration::from_millis(300);
        script(&ps, "exec sleep 30");
        let err = run_script(&ps, &host).unwrap_err().to_string();
        assert!(err.contains("did not finish"), "{err}");
    }

    /// A Windows program where interop is off: the kernel cannot run it.
    #[test]
    fn a_windows_program_without_interop_is_the_interop_error() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let host = fake_host(dir.path());
        let ps = dir.path().join("bin/powershell.exe");
        std::fs::create_dir_all(ps.parent().unwrap()).unwrap();
        let mut pe = b"MZ\x90\x00\x03\x00\x00\x00".to_vec();
        pe.resize(512, 0);
        std::fs::write(&ps, pe).unwrap();
        std::fs::set_permissions(&ps, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = run_script(&ps, &host).unwrap_err().to_string();
        assert!(err.contains("interop is off"), "{err}");
        assert!(err.contains("--windows-export"), "{err}");
    }

    #[test]
    fn exports_are_read_in_every_form_windows_writes() {
        let roots = roots();
        let (a, b) = (&roots[0], &roots[1]);
        let ders = |e: Export| {
            assert!(e.errors.is_empty(), "{:?}", e.errors);
            e.ders
        };
        // DER .cer, base64 .cer with and without its PEM lines, PEM bundle.
        assert_eq!(ders(read_export(&a.der)), std::slice::from_ref(&a.der));
        let b64 = data_encoding::BASE64.encode(&a.der);
        assert_eq!(
            ders(read_export(b64.as_bytes())),
            std::slice::from_ref(&a.der)
        );
        let wrapped: String = b64
            .as_bytes()
            .chunks(64)
            .map(|c| format!("{}\r\n", std::str::from_utf8(c).unwrap()))
            .collect();
        assert_eq!(
            ders(read_export(wrapped.as_bytes())),
            std::slice::from_ref(&a.der)
        );
        let pem = format!("{}{}", a.to_pem(), b.to_pem());
        assert_eq!(
            ders(read_export(pem.as_bytes())),
            [a.der.clone(), b.der.clone()]
        );
        // Garbage is an error, not a certificate.
        assert!(!read_export(b"\x00\x01garbage").errors.is_empty());
        assert!(!read_export(b"Zm9v").errors.is_empty());
    }
}
