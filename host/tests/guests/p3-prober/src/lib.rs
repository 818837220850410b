//! A hostile WASI 0.3 plugin: it tries to read files and environment variables through WASI
//! 0.3's own interfaces, and reports what it reached instead of trapping. The tests give it the
//! grants they give the WASI 0.2 `prober` and expect the same answers.

componentry_sdk::wit_bindgen::generate!({
    path: "../wit",
    world: "p3-prober",
    runtime_path: "componentry_sdk::wit_bindgen::rt",
});

use wasip3::cli::environment;
use wasip3::filesystem::preopens;
use wasip3::filesystem::types::{DescriptorFlags, OpenFlags, PathFlags};

struct P3Prober;

impl Guest for P3Prober {
    async fn read_at(dir: String, path: String) -> Result<String, String> {
        let (directory, _) = preopens::get_directories()
            .into_iter()
            .find(|(_, name)| *name == dir)
            .ok_or_else(|| format!("no preopened directory `{dir}`"))?;
        // Following symlinks, as an attacker would: a link pointing out must still be refused.
        let file = directory
            .open_at(
                PathFlags::SYMLINK_FOLLOW,
                path,
                OpenFlags::empty(),
                DescriptorFlags::READ,
            )
            .await
            .map_err(|e| format!("{e:?}"))?;
        let (stream, done) = file.read_via_stream(0);
        let bytes = stream.collect().await;
        done.await.map_err(|e| format!("{e:?}"))?;
        String::from_utf8(bytes).map_err(|e| e.to_string())
    }

    async fn preopens() -> Vec<String> {
        preopens::get_directories()
            .into_iter()
            .map(|(_, name)| name)
            .collect()
    }

    async fn get_env(name: String) -> Option<String> {
        environment::get_environment()
            .into_iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }
}

export!(P3Prober);
