//! Reading the TOML files the crate takes (grants, manifests, policies), with errors that name
//! the file.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The most bytes a configuration file may hold: far more than any manifest, policy or grants
/// file needs, and a bound on what a file put where one was expected makes the host read.
pub(crate) const MAX_TOML_BYTES: u64 = 4 << 20;

/// The text of the operator's configuration file at `path` (a policy, a grants file): at most
/// [`MAX_TOML_BYTES`], in UTF-8. It may be a pipe (`--policy <(...)`): the operator's own.
pub(crate) fn read(path: &Path) -> Result<String> {
    let file = std::fs::File::open(path).map_err(|e| config_error(path, e.to_string()))?;
    read_bounded(path, file)
}

/// The text of a configuration file a plugin ships (its manifest): a regular file (a FIFO or a
/// device put in its place is refused at once, never waited on) of at most [`MAX_TOML_BYTES`],
/// in UTF-8.
pub(crate) fn read_regular(path: &Path) -> Result<String> {
    let mut open = std::fs::OpenOptions::new();
    open.read(true);
    // Opening a FIFO for reading blocks until a writer comes; with O_NONBLOCK it opens at once
    // and is refused below as not a regular file.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut open, libc::O_NONBLOCK);
    let file = open
        .open(path)
        .map_err(|e| config_error(path, e.to_string()))?;
    let metadata = file
        .metadata()
        .map_err(|e| config_error(path, e.to_string()))?;
    if !metadata.is_file() {
        return Err(config_error(path, "not a regular file".to_owned()));
    }
    read_bounded(path, file)
}

/// At most [`MAX_TOML_BYTES`] of `file`, as UTF-8 text.
fn read_bounded(path: &Path, file: std::fs::File) -> Result<String> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    file.take(MAX_TOML_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| config_error(path, e.to_string()))?;
    if bytes.len() as u64 > MAX_TOML_BYTES {
        return Err(config_error(
            path,
            format!(
                "larger than the {} MiB a configuration file may hold",
                MAX_TOML_BYTES >> 20
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|_| config_error(path, "not UTF-8 text".to_owned()))
}

fn config_error(path: &Path, reason: String) -> Error {
    Error::Config {
        path: path.to_owned(),
        reason,
    }
}

/// `text` parsed as TOML into `T`; errors give the file, the line and the key.
pub(crate) fn parse<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T> {
    toml::from_str(text).map_err(|e| Error::Config {
        path: path.to_owned(),
        reason: e.to_string().trim_end().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_of_bounded_size_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("good.toml");
        std::fs::write(&good, "a = 1\n").expect("write");
        assert_eq!(read(&good).expect("read"), "a = 1\n");
        assert_eq!(read_regular(&good).expect("read"), "a = 1\n");
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; (MAX_TOML_BYTES + 1) as usize]).expect("write");
        let err = read(&big).expect_err("too big").to_string();
        assert!(err.contains("larger than"), "{err}");
        let err = read_regular(&big).expect_err("too big").to_string();
        assert!(err.contains("larger than"), "{err}");
        let binary = dir.path().join("binary.toml");
        std::fs::write(&binary, [0xff, 0xfe]).expect("write");
        assert!(
            read(&binary)
                .expect_err("not UTF-8")
                .to_string()
                .contains("UTF-8")
        );
        // A plugin's manifest that is a directory, or (on Unix) a FIFO nobody writes to:
        // refused at once.
        assert!(read_regular(dir.path()).is_err());
        #[cfg(unix)]
        {
            let fifo = dir.path().join("fifo.toml");
            let status = std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .expect("mkfifo");
            assert!(status.success());
            let err = read_regular(&fifo).expect_err("a FIFO").to_string();
            assert!(err.contains("not a regular file"), "{err}");
            // The operator's own files may be pipes (`--policy <(...)`).
            let writer = std::thread::spawn({
                let fifo = fifo.clone();
                move || std::fs::write(&fifo, "b = 2\n")
            });
            assert_eq!(read(&fifo).expect("a pipe the operator gives"), "b = 2\n");
            writer.join().expect("writer").expect("written");
        }
    }
}
