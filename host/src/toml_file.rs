//! Reading the TOML files the crate takes (grants, manifests, policies), with errors that name
//! the file.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The most bytes a configuration file may hold: far more than any manifest, policy or grants
/// file needs, and a bound on what a file put where one was expected makes the host read.
pub(crate) const MAX_TOML_BYTES: u64 = 4 << 20;

/// The text of the configuration file at `path`: a regular file (a FIFO or a device put in its
/// place is refused at once, never waited on) of at most [`MAX_TOML_BYTES`], in UTF-8.
pub(crate) fn read(path: &Path) -> Result<String> {
    use std::io::Read as _;
    let failed = |reason: String| Error::Config {
        path: path.to_owned(),
        reason,
    };
    let mut open = std::fs::OpenOptions::new();
    open.read(true);
    // Opening a FIFO for reading blocks until a writer comes; with O_NONBLOCK it opens at once
    // and is refused below as not a regular file.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut open, libc::O_NONBLOCK);
    let file = open.open(path).map_err(|e| failed(e.to_string()))?;
    let metadata = file.metadata().map_err(|e| failed(e.to_string()))?;
    if !metadata.is_file() {
        return Err(failed("not a regular file".to_owned()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_TOML_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| failed(e.to_string()))?;
    if bytes.len() as u64 > MAX_TOML_BYTES {
        return Err(failed(format!(
            "larger than the {} MiB a configuration file may hold",
            MAX_TOML_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|_| failed("not UTF-8 text".to_owned()))
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
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; (MAX_TOML_BYTES + 1) as usize]).expect("write");
        let err = read(&big).expect_err("too big").to_string();
        assert!(err.contains("larger than"), "{err}");
        let binary = dir.path().join("binary.toml");
        std::fs::write(&binary, [0xff, 0xfe]).expect("write");
        assert!(
            read(&binary)
                .expect_err("not UTF-8")
                .to_string()
                .contains("UTF-8")
        );
        // A directory, and (on Unix) a FIFO nobody writes to: refused at once.
        assert!(read(dir.path()).is_err());
        #[cfg(unix)]
        {
            let fifo = dir.path().join("fifo.toml");
            let status = std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .expect("mkfifo");
            assert!(status.success());
            let err = read(&fifo).expect_err("a FIFO").to_string();
            assert!(err.contains("not a regular file"), "{err}");
        }
    }
}
