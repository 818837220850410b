//! Fuzz target `policy`: see `componentry_fuzz_targets::policy`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| componentry_fuzz_targets::policy(data));
