//! Any bytes through the PEM/DER front door, as a file in an OS store.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = cabundle::decode::decode(data);
});
