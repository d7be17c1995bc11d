//! Any bytes as Mozilla's certdata.txt.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = cabundle::decode::certdata::parse(data);
});
