//! Fuzz target `manifest`: see `componentry_fuzz_targets::manifest`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| componentry_fuzz_targets::manifest(data));
