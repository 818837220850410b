//! Fuzz target `cases`: see `componentry_fuzz_targets::cases`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| componentry_fuzz_targets::cases(data));
