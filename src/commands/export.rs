use std::io::IsTerminal;

use crate::cli::ExportArgs;
use cabundle::error::{Error, Result};
use cabundle::export::{self, Export, Format, Made, Set};
use cabundle::state::Paths;

use super::{out_bytes, say};

/// What `kubectl apply` (client-side) can keep of an object.
const KUBECTL_ANNOTATION_MAX: usize = 256 * 1024;

pub fn run(paths: &Paths, args: &ExportArgs) -> Result<()> {
    let spec = Export {
        format: args.format,
        path: args.output.clone(),
        password: args.password.clone(),
        name: Some(args.name.clone()),
        namespace: args.namespace.clone(),
        key: Some(args.key.clone()),
        with_keystores: args.with_keystores,
        api: args.api,
    };
    // Refused before anything is read: a keystore on a terminal, a folder
    // with nowhere to go.
    if spec.path.is_none() {
        if args.format == Format::OpensslDir {
            return Err(Error::BadExport(
                "--format openssl-dir writes a folder: give it with -o DIR".into(),
            ));
        }
        if args.format.is_binary() && std::io::stdout().is_terminal() {
            return Err(Error::BadExport(format!(
                "--format {} is binary: give a file with -o FILE, or redirect stdout",
                args.format.name()
            )));
        }
    }
    let set = Set::current(paths)?;
    let made = export::make(&set, &spec)?;
    if args.format == Format::TrustManager
        && args.with_keystores
        && args.api == export::Api::ClusterBundle
    {
        say!("note: a ClusterBundle has no JKS target: only the PKCS#12 is asked for");
    }
    if let Made::Bytes(bytes) = &made {
        // Client-side apply keeps the whole object in an annotation, which
        // the API server caps at 256 KiB.
        let kube = matches!(
            args.format,
            Format::Configmap | Format::Secret | Format::TrustManager
        );
        if kube && bytes.len() > KUBECTL_ANNOTATION_MAX {
            say!(
                "note: this is {} KiB: apply it with `kubectl apply --server-side -f -` (client-side \
                 apply keeps a copy in an annotation, limited to 256 KiB)",
                bytes.len() / 1024
            );
        }
    }
    match (&spec.path, &made) {
        (Some(path), made) => {
            let changed = export::write(path, made)?;
            say!(
                "{} {} ({}, {})",
                if changed { "wrote" } else { "unchanged:" },
                path.display(),
                args.format.name(),
                cabundle::cert::count(set.certs.len(), "certificate")
            );
            Ok(())
        }
        (None, Made::Bytes(bytes)) => out_bytes(bytes),
        (None, Made::Folder(_)) => unreachable!("refused above"),
    }
}
