//! The soak run is the test target `soak` (`src/main.rs`): see `cargo xtask soak`.
