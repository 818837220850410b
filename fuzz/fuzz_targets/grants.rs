//! Fuzz target `grants`: see `componentry_fuzz_targets::grants`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| componentry_fuzz_targets::grants(data));
