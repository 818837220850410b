//! Fuzz target `component`: see `componentry_fuzz_targets::component`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| componentry_fuzz_targets::component(data));
