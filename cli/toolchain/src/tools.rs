//! Finding executables: in a project's own tool directories first (`node_modules/.bin`, a
//! virtual environment's `bin`), then on `PATH`.

use std::path::{Path, PathBuf};

/// The pinned version of componentize-py the templates are built and tested with.
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";
/// The pinned version of componentize-js the templates are built and tested with.
pub const COMPONENTIZE_JS_VERSION: &str = "0.23.0";
/// The pinned version of jco that goes with [`COMPONENTIZE_JS_VERSION`].
pub const JCO_VERSION: &str = "1.35.0";

/// The command that installs componentize-py.
pub fn componentize_py_install() -> String {
    format!("pip install componentize-py=={COMPONENTIZE_PY_VERSION}")
}

/// The command that installs componentize-js (and jco) into a project.
pub fn componentize_js_install() -> String {
    format!(
        "npm install --save-dev @bytecodealliance/componentize-js@{COMPONENTIZE_JS_VERSION} \
         @bytecodealliance/jco@{JCO_VERSION}"
    )
}

/// The executable `name`, looked for in `dirs` and then on `PATH`.
pub fn find(name: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    dirs.iter()
        .cloned()
        .chain(std::env::split_paths(&path))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_in_the_projects_own_directories_come_first() {
        let dir = std::env::temp_dir().join(format!("toolchain-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let tool = dir.join("sh");
        std::fs::write(&tool, "#!/bin/sh\n").expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        assert_eq!(find("sh", std::slice::from_ref(&dir)), Some(tool));
        assert!(find("no-such-tool-anywhere", std::slice::from_ref(&dir)).is_none());
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
