//! Write cabundle's man pages, one per command (cabundle.1, cabundle-sync.1,
//! cabundle-proxy-detect.1...), with clap_mangen from the CLI's own clap
//! types: `cargo run --example man_pages -- OUT_DIR [DATE]`. The Debian
//! package is built with them (scripts/build-deb.sh); DATE (YYYY-MM-DD,
//! the last commit's in that script) goes in each page's footer, so the
//! same commit gives the same pages.
//!
//! clap_mangen is a dev-dependency, which examples may use, so the
//! cabundle binary neither links nor builds it.

// The clap types live with the binary (src/main.rs has `mod cli;`), not in
// the library, and an example links only the library. Including the very
// same file compiles the very same types, so the pages cannot drift from
// `--help`; it needs nothing but clap and `cabundle::` paths, which name
// the library here as they do in the binary. The alternatives cost more:
// moving cli.rs into the library would make the clap types public API,
// and a build script could not reach the binary's modules either (and
// would build clap_mangen into every build).
#[path = "../src/cli.rs"]
#[allow(dead_code)] // the fields are read by the binary, not here
mod cli;

use std::fs;
use std::io;
use std::path::Path;

use clap::CommandFactory;
use roff::{Roff, roman};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(out), date, None) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: man_pages OUT_DIR [YYYY-MM-DD]");
        std::process::exit(2);
    };
    let mut written = 0;
    if let Err(e) = write_all(Path::new(&out), date.as_deref().unwrap_or(""), &mut written) {
        eprintln!("man_pages: {out}: {e}");
        std::process::exit(1);
    }
    eprintln!("man_pages: {written} pages in {out}");
}

fn write_all(out: &Path, date: &str, written: &mut usize) -> io::Result<()> {
    fs::create_dir_all(out)?;
    // No `help` subcommand page; built, so every subcommand has its display
    // name (cabundle-proxy-detect) and the global options.
    let mut cmd = cli::Cli::command().disable_help_subcommand(true);
    cmd.build();
    write_page(&cmd, None, out, date, written)
}

/// `cmd`'s page, then its subcommands' (not the hidden ones). `parent` is
/// the page a subcommand's SEE ALSO points back to.
fn write_page(
    cmd: &clap::Command,
    parent: Option<&str>,
    out: &Path,
    date: &str,
    written: &mut usize,
) -> io::Result<()> {
    let name = cmd.get_display_name().unwrap_or(cmd.get_name()).to_string();
    let man = clap_mangen::Man::new(cmd.clone())
        .date(date)
        .source(format!("cabundle {}", env!("CARGO_PKG_VERSION")))
        .manual("cabundle manual");
    // clap_mangen's sections, but the text after the options as EXAMPLES
    // and NOTES rather than its one filled EXTRA paragraph, which runs the
    // example lines together.
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut page)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut page)?;
    }
    if let Some(text) = cmd.get_after_long_help().or(cmd.get_after_help()) {
        after_help(&text.to_string()).to_writer(&mut page)?;
    }
    if cmd.get_version().is_some() {
        man.render_version_section(&mut page)?;
    }
    // SEE ALSO: the command above this one, and the README.
    let mut see_also = Roff::new();
    see_also.control("SH", ["SEE ALSO"]);
    if let Some(parent) = parent {
        see_also.control("BR", [parent, "(1),"]);
    }
    see_also.text([roman("/usr/share/doc/cabundle/README.md.gz")]);
    see_also.to_writer(&mut page)?;
    fs::write(out.join(man.get_filename()), page)?;
    *written += 1;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_page(sub, Some(&name), out, date, written)?;
    }
    Ok(())
}

/// A command's `after_help`: an "Examples:" block (each line as it is, not
/// filled) under EXAMPLES, and the paragraphs after it under NOTES.
fn after_help(text: &str) -> Roff {
    let mut roff = Roff::new();
    let mut blocks = text.split("\n\n");
    let mut notes = Vec::new();
    if let Some(first) = blocks.next() {
        let mut lines = first.lines();
        match lines.next() {
            Some("Examples:" | "Example:") => {
                roff.control("SH", ["EXAMPLES"]);
                roff.control("nf", []);
                for line in lines {
                    roff.text([roman(line.strip_prefix("  ").unwrap_or(line))]);
                }
                roff.control("fi", []);
            }
            _ => notes.push(first),
        }
    }
    notes.extend(blocks);
    if !notes.is_empty() {
        roff.control("SH", ["NOTES"]);
        for (i, paragraph) in notes.iter().enumerate() {
            if i > 0 {
                roff.control("PP", []);
            }
            roff.text([roman(paragraph.replace('\n', " "))]);
        }
    }
    roff
}
