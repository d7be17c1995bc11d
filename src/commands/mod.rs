//! One module per subcommand: each parses its arguments, calls one engine
//! function of the library and renders what it returns. They print; the
//! library below them does not. What several commands show the same way
//! (the sync summary, notes) is in `render`.

mod add;
mod block;
mod clients;
mod doctor;
mod env;
mod exec;
mod export;
mod fetch;
mod install;
mod list;
mod proxy;
mod python;
mod remove;
mod render;
mod schedule;
mod sync;

use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use clap::CommandFactory;

use crate::cli::{Cli, Command, SyncArgs};
use cabundle::date;
use cabundle::error::{Error, Result};
use cabundle::state::{LockWait, Paths, Waiting};

pub fn run(cli: Cli) -> Result<()> {
    let wait = LockWait {
        timeout: Duration::from_secs(cli.lock_timeout),
        on_wait: waiting,
    };
    let paths = || Paths::discover().map(|p| p.with_lock_wait(wait));
    match cli.command {
        Command::Sync(args) => sync::run(&paths()?, &args),
        Command::Add(args) => add::run(&paths()?, &args),
        Command::Remove(args) => remove::run(&paths()?, &args),
        Command::Fetch(args) => fetch::run(&paths()?, &args),
        Command::Block(args) => block::block(&paths()?, &args),
        Command::Unblock(args) => block::unblock(&paths()?, &args),
        Command::Install(args) => install::install(&paths()?, &args),
        Command::Uninstall(args) => install::uninstall(&paths()?, &args),
        Command::List(args) => list::run(&paths()?, &args),
        Command::Env(args) => env::run(&args),
        Command::Doctor(args) => doctor::run(&paths()?, &args),
        Command::Exec(args) => exec::run(&paths()?, &args),
        Command::Export(args) => export::run(&paths()?, &args),
        Command::Clients(args) => clients::run(&paths()?, &args),
        Command::Python(args) => python::run(&paths()?, args),
        Command::Proxy(args) => proxy::run(&paths()?, &args),
        Command::Schedule(args) => schedule::run(&paths()?, &args),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "cabundle", &mut script);
            out(&String::from_utf8_lossy(&script))
        }
    }
}

/// Write data to stdout. A closed pipe (`cabundle list | head`) is not an
/// error worth a message.
fn out(text: &str) -> Result<()> {
    out_bytes(text.as_bytes())
}

/// [`out`], for bytes that need not be text (a keystore).
fn out_bytes(bytes: &[u8]) -> Result<()> {
    match io::stdout().lock().write_all(bytes) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(Error::io("<stdout>", e)),
        _ => Ok(()),
    }
}

/// `value` as JSON on stdout (`--json`), pretty, one newline after it.
fn out_json(value: &impl serde::Serialize) -> Result<()> {
    let json = serde_json::to_string_pretty(value)
        .map_err(|e| Error::io("<stdout>", io::Error::other(e)))?;
    out(&(json + "\n"))
}

/// A message for people, on stderr. Unlike `eprintln!`, a closed pipe
/// (`cabundle sync 2>&1 | head -1`) is ignored rather than a panic.
/// Messages quote file names and certificate names, which may hold
/// control characters: they are escaped, so nothing can move the cursor,
/// recolour the terminal or fake a line of its own.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let text = cabundle::cert::printable(&format!($($arg)*));
        let _ = writeln!(std::io::stderr(), "cabundle: {text}");
    }};
}
use say;

/// Another writer holds the lock: say who, and that we wait.
fn waiting(w: &Waiting) {
    say!(
        "waiting for the lock on {} (held by {}); giving up after {} s (--lock-timeout)",
        w.path.display(),
        w.holder,
        w.timeout.as_secs()
    );
}

/// The sync every command that changes the state ends with, as its
/// arguments say. `--root` names another system: merging that system's
/// OS store with this one's added CAs and writing this one's bundle is
/// not what anyone means, so it needs CABUNDLE_HOME to say where that
/// system's state is.
fn sync_options(paths: &Paths, args: &SyncArgs) -> Result<cabundle::sync::Options> {
    // A root that is not there is reported by the sync itself, by name.
    let other_system = std::fs::canonicalize(&args.root).is_ok_and(|r| r != Path::new("/"));
    if other_system && cabundle::state::home_override().is_none() {
        return Err(Error::RootNeedsHome {
            root: args.root.clone(),
            bundle: paths.bundle.clone(),
        });
    }
    Ok(cabundle::sync::Options {
        root: args.root.clone(),
        macos_export: args.macos_export.clone(),
        macos_trust_settings: args.macos_trust_settings.clone(),
        windows: cabundle::sources::windows::Request {
            host: args
                .windows_host
                .then(cabundle::sources::windows::Host::this_machine),
            exports: args.windows_export.clone(),
            disallowed: args.windows_disallowed.clone(),
        },
        at: args.at.unwrap_or_else(date::now),
    })
}
