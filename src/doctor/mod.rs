//! `cabundle doctor`: why "certificate verify failed", and the one command
//! that fixes it, or word that the fault is the server's. [`setup`] checks
//! this machine; [`url`] checks what a server presents ([`capture`]), as
//! OpenSSL judges it ([`verify`]), and [`classify`] names the failure.

pub mod capture;
pub(crate) mod classify;
pub(crate) mod setup;
pub(crate) mod trust;
pub(crate) mod url;
pub(crate) mod verify;

pub use classify::{Class, is_public_host};
pub use setup::{Finding, Level, local};
pub use trust::TrustSets;
pub use url::{UrlOptions, UrlReport, check_url, parse_url};

use serde::Serialize;

use crate::state::Paths;

/// What `doctor` found (its `--json` shape).
#[derive(Debug, Serialize)]
pub struct Report {
    pub healthy: bool,
    pub findings: Vec<Finding>,
    pub urls: Vec<UrlReport>,
}

impl Report {
    /// How many problems: findings at that level, and URLs that fail.
    pub fn problems(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.level == Level::Problem)
            .count()
            + self.urls.iter().filter(|u| !u.ok).count()
    }
}

/// The engine of `doctor`: this machine's setup when no URL is given,
/// else each URL as `opts` says.
pub fn examine(paths: &Paths, urls: &[String], opts: &UrlOptions) -> Report {
    let mut report = if urls.is_empty() {
        Report {
            healthy: true,
            findings: local(paths, opts.now),
            urls: Vec::new(),
        }
    } else {
        let sets = TrustSets::load(paths);
        Report {
            healthy: true,
            findings: Vec::new(),
            urls: urls.iter().map(|u| check_url(&sets, u, opts)).collect(),
        }
    };
    report.healthy = report.problems() == 0;
    report
}
