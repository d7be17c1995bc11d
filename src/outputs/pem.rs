//! The PEM bundle, the output every client reads.

use std::io::{self, Write};

use crate::date;
use crate::merge::{Entry, Status};

/// The bundle: kept certificates as PEM, each after `#` lines saying what it
/// is and where it came from. No timestamps: same inputs, same bytes.
pub fn render(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * 2400);
    // Writing to a Vec cannot fail.
    let _ = render_to(entries, &mut out);
    out
}

/// [`render`], streamed: a 100k-certificate bundle is never held whole.
pub fn render_to(entries: &[Entry], out: &mut impl Write) -> io::Result<()> {
    let kept = entries.iter().filter(|e| e.status == Status::Kept);
    writeln!(
        out,
        "# CA bundle written by cabundle: {} certificates.\n\
         # Do not edit; run `cabundle sync` (or `cabundle add FILE`) to change it.",
        kept.clone().count()
    )?;
    for e in kept {
        write!(out, "\n# Subject: {}\n# Sources: ", e.cert.subject)?;
        for (i, s) in e.sources.iter().enumerate() {
            write!(out, "{}{s}", if i == 0 { "" } else { ", " })?;
        }
        write!(
            out,
            "\n# SHA256: {}\n# Not after: {}\n",
            e.cert.fingerprint(),
            date::instant(e.cert.not_after)
        )?;
        if let Some(at) = e.distrust_after {
            writeln!(
                out,
                "# Mozilla distrusts leaves issued after: {}; kept until {}",
                date::instant(at),
                date::instant(crate::lifetime::last_valid(at))
            )?;
        }
        out.write_all(e.cert.to_pem().as_bytes())?;
    }
    Ok(())
}
