//! Fuzz target `wit_component`: see `componentry_fuzz_targets::wit_component`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| componentry_fuzz_targets::wit_component(data));
