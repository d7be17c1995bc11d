//! The integration tests: one binary (one link of the crate) with a module
//! per area, over one `common`. Each drives the real `cabundle` binary, and
//! real clients and oracles (openssl, p11-kit, Python, curl, git, Node)
//! where the area has one; `snapshots` pins what people read.

mod common;

mod add_remove;
mod atomic;
mod block;
mod certdata;
mod clients;
mod deb_hook;
mod doctor;
mod env;
mod exec;
mod export;
mod faults;
mod fetch;
mod hostile_input;
mod hostile_trees;
mod install;
mod java;
mod macos;
mod nss;
mod os_layouts;
mod proxy;
mod python_client;
mod python_env;
mod schedule;
mod snapshots;
mod sync;
mod tools_py;
mod tools_sys;
mod usage;
mod wheel;
mod windows;
