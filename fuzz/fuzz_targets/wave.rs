//! Fuzz target `wave`: see `componentry_fuzz_targets::wave`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| componentry_fuzz_targets::wave(data));
