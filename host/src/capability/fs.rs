//! Filesystem grants: host directories mapped to guest paths, read-only or read-write.
//!
//! wasmtime-wasi resolves every path the guest opens beneath a granted directory (with cap-std),
//! so `..`, absolute paths and symlinks cannot leave it. `open-at`, the door to every file, is
//! wrapped (on synchronous and asynchronous hosts alike) so that each refusal is also logged with
//! the plugin, the path and the grant that would allow it.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::FsPerms;
use wasmtime_wasi::filesystem::WasiFilesystemView;
use wasmtime_wasi::p2::bindings::sync::filesystem::types::{
    self as fs, Descriptor, DescriptorFlags, ErrorCode, OpenFlags, PathFlags,
};

use super::kind::{Kind, Takes, Unit, Wiring, Word, add_new, entries, list_or};
use crate::error::{Error, Result};
use crate::store::PluginState;

/// A host directory granted to a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirGrant {
    /// The directory on the host.
    pub host: PathBuf,
    /// Where the plugin sees it.
    pub guest: String,
    /// Whether the plugin may create, change and delete files in it.
    pub writable: bool,
}

impl DirGrant {
    /// Parses `HOST[::GUEST]`; without `::GUEST` the plugin sees the directory at its host path.
    pub fn parse(text: &str, writable: bool) -> Result<Self> {
        Self::parse_reason(text, writable)
            .map_err(|reason| Error::syntax("directory grant", text, reason))
    }

    fn parse_reason(text: &str, writable: bool) -> std::result::Result<Self, String> {
        let (host, guest) = match text.split_once("::") {
            Some((host, guest)) => (host, guest),
            None => (text, text),
        };
        if host.is_empty() || guest.is_empty() || text.contains('\0') {
            return Err(format!("`{text}` is not HOST[::GUEST]"));
        }
        Ok(Self {
            host: normalize(Path::new(host)),
            guest: guest.to_owned(),
            writable,
        })
    }

    /// The same grant with a relative host path taken relative to `base` (the directory of the
    /// file that names it).
    pub(crate) fn relative_to(mut self, base: &Path) -> Self {
        if self.host.is_relative() {
            self.host = normalize(&base.join(&self.host));
        }
        self
    }

    /// What `allowed` (an entry of a policy) gives a plugin that requests `self`: the same host
    /// directory at the same guest path, read-write only where both say so.
    pub(crate) fn granted_by(&self, allowed: &DirGrant) -> Option<DirGrant> {
        let same = normalize(&self.host) == normalize(&allowed.host) && self.guest == allowed.guest;
        same.then(|| DirGrant {
            writable: self.writable && allowed.writable,
            ..self.clone()
        })
    }

    /// `dir HOST::GUEST` or `dir-rw HOST::GUEST`, in the grant vocabulary.
    pub(crate) fn vocabulary(&self) -> String {
        let flag = if self.writable { "dir-rw" } else { "dir" };
        format!("{flag} {}::{}", self.host.display(), self.guest)
    }

    /// `/host -> /guest (read-only)`, for listings.
    pub fn describe(&self) -> String {
        let mode = if self.writable {
            "read-write"
        } else {
            "read-only"
        };
        if self.host.to_string_lossy() == self.guest {
            format!("{} ({mode})", self.guest)
        } else {
            format!("{} -> {} ({mode})", self.host.display(), self.guest)
        }
    }
}

/// `path` without `.` components, and without `..` where a parent precedes it (judged on the
/// text alone: symlinks are resolved by the sandbox when the plugin opens files, not here).
fn normalize(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(normal.components().next_back(), Some(Component::Normal(_))) =>
            {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    if normal.as_os_str().is_empty() {
        normal.push(".");
    }
    normal
}

/// The host directories granted to a plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Dirs(pub(crate) Vec<DirGrant>);

const DIR: Word = Word {
    name: "dir",
    takes: Takes::List,
    value_name: "HOST[::GUEST]",
    help: "Grant a host directory read-only, seen by the plugin at GUEST (default: the same path).",
    flag: true,
};

const DIR_RW: Word = Word {
    name: "dir-rw",
    takes: Takes::List,
    value_name: "HOST[::GUEST]",
    help: "Grant a host directory read-write.",
    flag: true,
};

impl Kind for Dirs {
    const WORDS: &'static [Word] = &[DIR, DIR_RW];
    /// Files: `wasi:filesystem`, only within the granted directories.
    const UNITS: &'static [Unit<Self>] = &[Unit {
        name: "wasi:filesystem",
        covers: &["wasi:filesystem/"],
        describe: |dirs| {
            list_or(
                dirs.0.iter().map(DirGrant::describe).collect(),
                &format!(
                    "no directories (grant one with {} or {})",
                    DIR.hint(),
                    DIR_RW.hint()
                ),
            )
        },
    }];
    type Ready = ();

    fn add(&mut self, word: &str, value: &toml::Value) -> Result<()> {
        for entry in entries(word, value)? {
            self.0.push(DirGrant::parse(entry, word == DIR_RW.name)?);
        }
        Ok(())
    }

    fn merge(&mut self, other: Self) {
        add_new(&mut self.0, other.0);
    }

    fn describe(&self, lines: &mut Vec<String>) {
        lines.extend(self.0.iter().map(DirGrant::vocabulary));
    }

    fn restrict(&self, allowed: &Self, excess: &mut Vec<String>) -> Self {
        let mut granted = Dirs::default();
        for dir in &self.0 {
            match allowed.0.iter().find_map(|a| dir.granted_by(a)) {
                Some(given) => {
                    if dir.writable && !given.writable {
                        excess.push(format!("{} (allowed read-only)", dir.vocabulary()));
                    }
                    granted.0.push(given);
                }
                None => excess.push(dir.vocabulary()),
            }
        }
        granted
    }

    fn relative_to(self, base: &Path) -> Self {
        Dirs(self.0.into_iter().map(|d| d.relative_to(base)).collect())
    }

    fn prepare(&self, _plugin: &Arc<str>) -> Result<()> {
        Ok(())
    }

    fn wire(&self, (): &(), wiring: &mut Wiring<'_>) -> Result<()> {
        for dir in &self.0 {
            let perms = if dir.writable {
                FsPerms::ReadWrite
            } else {
                FsPerms::ReadOnly
            };
            wiring
                .builder
                .preopened_dir(&dir.host, &dir.guest, perms)
                .map_err(|e| Error::Grant {
                    plugin: wiring.plugin.to_string(),
                    reason: format!(
                        "cannot open the granted directory {}: {e:#}",
                        dir.host.display()
                    ),
                    source: Some(e.into()),
                })?;
        }
        Ok(())
    }
}

/// The `wasi:filesystem/types` instance as wasmtime-wasi defines it.
const TYPES: &str = "wasi:filesystem/types@0.2.12";

/// WASI 0.3's `wasi:filesystem/types` instance as wasmtime-wasi defines it.
const P3_TYPES: &str = "wasi:filesystem/types@0.3.0";

type OpenAtParams = (
    Resource<Descriptor>,
    PathFlags,
    String,
    OpenFlags,
    DescriptorFlags,
);

/// Replaces `open-at` in `linker` by one that logs refusals and otherwise does the same, with
/// wasmtime-wasi's synchronous or asynchronous filesystem as the host is.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<PluginState<T>>,
    asynchronous: bool,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let defined = if asynchronous {
        add_async_open_at(linker)
    } else {
        add_sync_open_at(linker)
    };
    let defined = defined.and_then(|()| add_p3_open_at(linker));
    linker.allow_shadowing(false);
    defined
}

/// WASI 0.3's `open-at` (an async function, on any host), logging refusals as 0.2's does.
fn add_p3_open_at<T: Send + 'static>(linker: &mut Linker<PluginState<T>>) -> wasmtime::Result<()> {
    use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
    use wasmtime_wasi::p3::bindings::filesystem::types::{
        self as p3fs, HostDescriptorWithStore as _,
    };
    type P3OpenAtParams = (
        Resource<Descriptor>,
        p3fs::PathFlags,
        String,
        p3fs::OpenFlags,
        p3fs::DescriptorFlags,
    );
    linker.instance(P3_TYPES)?.func_wrap_concurrent(
        "[method]descriptor.open-at",
        |accessor, (fd, path_flags, path, oflags, flags): P3OpenAtParams| {
            Box::pin(async move {
                let writing = flags.contains(p3fs::DescriptorFlags::WRITE)
                    || flags.contains(p3fs::DescriptorFlags::MUTATE_DIRECTORY)
                    || oflags.contains(p3fs::OpenFlags::CREATE)
                    || oflags.contains(p3fs::OpenFlags::TRUNCATE);
                let plugin = accessor.with(|mut store| store.get().plugin_name().to_owned());
                let refusal = Refusal::new(&plugin, &path, writing);
                let filesystem = accessor.with_getter::<WasiFilesystem>(
                    <PluginState<T> as WasiFilesystemView>::filesystem,
                );
                let opened =
                    WasiFilesystem::open_at(&filesystem, fd, path_flags, path, oflags, flags).await;
                match opened {
                    Ok(fd) => Ok((Ok(fd),)),
                    Err(error) => {
                        let code = error.downcast()?;
                        refusal.log_if(matches!(
                            code,
                            p3fs::ErrorCode::NotPermitted
                                | p3fs::ErrorCode::Access
                                | p3fs::ErrorCode::ReadOnly
                        ));
                        Ok((Err(code),))
                    }
                }
            })
        },
    )
}

fn add_sync_open_at<T: Send + 'static>(
    linker: &mut Linker<PluginState<T>>,
) -> wasmtime::Result<()> {
    linker.instance(TYPES)?.func_wrap(
        "[method]descriptor.open-at",
        |mut store: StoreContextMut<'_, PluginState<T>>,
         (fd, path_flags, path, oflags, flags): OpenAtParams| {
            let refusal = Refusal::new(store.data().plugin_name(), &path, writing(oflags, flags));
            let mut view = store.data_mut().filesystem();
            match fs::HostDescriptor::open_at(&mut view, fd, path_flags, path, oflags, flags) {
                Ok(fd) => Ok((Ok(fd),)),
                Err(error) => {
                    let code = fs::Host::convert_error_code(&mut view, error)?;
                    refusal.log_if(matches!(
                        code,
                        ErrorCode::NotPermitted | ErrorCode::Access | ErrorCode::ReadOnly
                    ));
                    Ok((Err(code),))
                }
            }
        },
    )
}

fn add_async_open_at<T: Send + 'static>(
    linker: &mut Linker<PluginState<T>>,
) -> wasmtime::Result<()> {
    use wasmtime_wasi::p2::bindings::filesystem::types as afs;
    type AsyncOpenAtParams = (
        Resource<Descriptor>,
        afs::PathFlags,
        String,
        afs::OpenFlags,
        afs::DescriptorFlags,
    );
    linker.instance(TYPES)?.func_wrap_async(
        "[method]descriptor.open-at",
        |mut store: StoreContextMut<'_, PluginState<T>>,
         (fd, path_flags, path, oflags, flags): AsyncOpenAtParams| {
            Box::new(async move {
                let writing = flags.contains(afs::DescriptorFlags::WRITE)
                    || flags.contains(afs::DescriptorFlags::MUTATE_DIRECTORY)
                    || oflags.contains(afs::OpenFlags::CREATE)
                    || oflags.contains(afs::OpenFlags::TRUNCATE);
                let refusal = Refusal::new(store.data().plugin_name(), &path, writing);
                let mut view = store.data_mut().filesystem();
                let opened =
                    afs::HostDescriptor::open_at(&mut view, fd, path_flags, path, oflags, flags)
                        .await;
                match opened {
                    Ok(fd) => Ok((Ok(fd),)),
                    Err(error) => {
                        let code = afs::Host::convert_error_code(&mut view, error)?;
                        refusal.log_if(matches!(
                            code,
                            afs::ErrorCode::NotPermitted
                                | afs::ErrorCode::Access
                                | afs::ErrorCode::ReadOnly
                        ));
                        Ok((Err(code),))
                    }
                }
            })
        },
    )
}

/// Whether an `open-at` with these flags writes.
fn writing(oflags: OpenFlags, flags: DescriptorFlags) -> bool {
    flags.contains(DescriptorFlags::WRITE)
        || flags.contains(DescriptorFlags::MUTATE_DIRECTORY)
        || oflags.contains(OpenFlags::CREATE)
        || oflags.contains(OpenFlags::TRUNCATE)
}

/// An `open-at` that may be refused: what the log says if it is.
struct Refusal {
    plugin: String,
    /// The path as the plugin wrote it, escaped: it cannot forge a log line.
    shown: String,
    writing: bool,
}

impl Refusal {
    fn new(plugin: &str, path: &str, writing: bool) -> Self {
        Self {
            plugin: plugin.to_owned(),
            shown: crate::text::escape_untrusted(path).into_owned(),
            writing,
        }
    }

    /// Logs the refusal, with the grant that would allow it, when `refused`.
    fn log_if(self, refused: bool) {
        if !refused {
            return;
        }
        let (what, grant) = if self.writing {
            (
                "writing",
                "--dir-rw HOST::GUEST (grants TOML: dir-rw = [\"HOST::GUEST\"])",
            )
        } else {
            (
                "reading",
                "--dir HOST::GUEST (grants TOML: dir = [\"HOST::GUEST\"])",
            )
        };
        let (plugin, shown) = (self.plugin, self.shown);
        tracing::warn!(
            target: crate::store::output::LOG_TARGET,
            plugin,
            "refused {what} `{shown}`: it is outside the plugin's granted directories \
             (or they are read-only); grant its directory with {grant}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_guest_paths() {
        let d = DirGrant::parse("/srv/data::/data", false).expect("parse");
        assert_eq!(d.host, PathBuf::from("/srv/data"));
        assert_eq!(d.guest, "/data");
        let same = DirGrant::parse("/tmp", true).expect("parse");
        assert_eq!(same.guest, "/tmp");
        assert_eq!(same.describe(), "/tmp (read-write)");
        assert!(DirGrant::parse("::/x", false).is_err());
    }

    #[test]
    fn coverage_compares_normalized_host_paths_and_the_guest_path() {
        let allowed = DirGrant::parse("/srv/data/::/data", false).expect("parse");
        let request = DirGrant::parse("/srv/./data::/data", true).expect("parse");
        let granted = request.granted_by(&allowed).expect("same directory");
        assert!(!granted.writable, "read-only where the policy says so");
        assert!(
            DirGrant::parse("/srv/data/../etc::/data", false)
                .expect("parse")
                .granted_by(&allowed)
                .is_none()
        );
        assert!(
            DirGrant::parse("/srv/data::/other", false)
                .expect("parse")
                .granted_by(&allowed)
                .is_none()
        );
    }

    #[test]
    fn relative_paths_are_taken_from_the_file_that_names_them() {
        let dir = DirGrant::parse("data::/data", false)
            .expect("parse")
            .relative_to(Path::new("/plugins/shout"));
        assert_eq!(dir.host, PathBuf::from("/plugins/shout/data"));
        let absolute = DirGrant::parse("/srv::/srv", false)
            .expect("parse")
            .relative_to(Path::new("/plugins"));
        assert_eq!(absolute.host, PathBuf::from("/srv"));
    }
}
