//! The one load pipeline: from a path to a plugin ready to load. A [`PluginSource`] reads the
//! component once (and the manifest that describes it, found one way), hashes it once, and knows
//! who the plugin is to a policy; [`PluginSource::options`] asks the policy (and the extension
//! points) what it loads with. The library's directory loader and watcher, and every command of
//! the CLI, load plugins through it, and a reload goes through it again: nothing is carried over
//! from the previous version but the handle.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::capability::Grants;
use crate::compat::extension_point::{ExtensionPoint, ExtensionPoints};
use crate::compat::inspect::ComponentWorld;
use crate::config::manifest::Manifest;
use crate::config::policy::{PluginIdentity, Policy};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::plugin::Plugin;
use crate::plugin::options::{Judge, PluginOptions, Requests};

/// The name of a plugin directory's manifest.
pub(crate) const MANIFEST: &str = "plugin.toml";

/// A plugin as found on disk, read once: its component's bytes, the manifest that describes it,
/// and who it is to a policy ([`PluginIdentity`]).
///
/// A source is either a component file (`NAME.wasm`, or `NAME.wat` in the text format), or a
/// plugin directory holding a `plugin.toml` and exactly one component. A component file's
/// manifest is the `plugin.toml` in its directory, when there is one (or the file given to
/// [`open_with_manifest`](Self::open_with_manifest)). The plugin is named by its manifest, or
/// else by its file name without the extension.
///
/// The component is opened once, and the path a policy's `path` selector is compared with is the
/// canonical path of that open file (the component file, also for a plugin directory): a symlink
/// swapped in after the read changes nothing, and the same rule matches the plugin whether it is
/// loaded by `componentry run`, a plugin directory or a watcher.
///
/// ```no_run
/// use componentry::{Engine, Host, PluginSource, Policy};
///
/// let engine = Engine::new()?;
/// let host: Host<()> = Host::new(&engine)?;
/// let policy = Policy::from_file("policy.toml")?;
/// let source = PluginSource::open("plugins/greeter")?;
/// let plugin = source.load(&host, &policy, None)?;
/// # let _ = plugin;
/// # Ok::<(), componentry::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct PluginSource {
    /// The path given: a component file or a plugin directory.
    entry: PathBuf,
    about: Arc<About>,
    /// The manifest's text, to tell a changed manifest from an unchanged one.
    manifest_text: Option<String>,
    bytes: Vec<u8>,
    sha256: [u8; 32],
}

/// What a policy knows of a plugin besides its bytes.
#[derive(Debug)]
struct About {
    name: String,
    /// The canonical path of the component file as it was opened.
    component: PathBuf,
    manifest: Option<Manifest>,
}

impl PluginSource {
    /// Reads the plugin at `path`: a component file (with the `plugin.toml` beside it, if any),
    /// or a plugin directory.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if path.is_dir() {
            let manifest_path = path.join(MANIFEST);
            let (manifest, text) = read_manifest(&manifest_path)?;
            let component = component_in(path, &manifest.name)?;
            return Self::read(path, &component, Some((manifest, text)));
        }
        let beside = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join(MANIFEST);
        let manifest = match beside.is_file() {
            true => Some(read_manifest(&beside)?),
            false => None,
        };
        Self::read(path, path, manifest)
    }

    /// Reads the component file at `component`, described by the manifest at `manifest`.
    pub fn open_with_manifest(
        component: impl AsRef<Path>,
        manifest: impl AsRef<Path>,
    ) -> Result<Self> {
        let component = component.as_ref();
        let manifest = read_manifest(manifest.as_ref())?;
        Self::read(component, component, Some(manifest))
    }

    fn read(entry: &Path, component: &Path, manifest: Option<(Manifest, String)>) -> Result<Self> {
        let (manifest, manifest_text) = manifest.unzip();
        let name = manifest.as_ref().map_or_else(
            || crate::names::plugin_name_from_path(component),
            |m| m.name.clone(),
        );
        let (bytes, canonical) = read_once(&name, component)?;
        let sha256 = crate::engine::compile::sha256(&bytes);
        Ok(Self {
            entry: entry.to_owned(),
            about: Arc::new(About {
                name,
                component: canonical,
                manifest,
            }),
            manifest_text,
            bytes,
            sha256,
        })
    }

    /// The plugin's name: its manifest's, or its file name without the extension.
    pub fn name(&self) -> &str {
        &self.about.name
    }

    /// The path it was opened at: a component file or a plugin directory.
    pub fn path(&self) -> &Path {
        &self.entry
    }

    /// The canonical path of the component file, as opened: what a policy's `path` selector is
    /// compared with.
    pub fn component_path(&self) -> &Path {
        &self.about.component
    }

    /// Its manifest, when it has one.
    pub fn manifest(&self) -> Option<&Manifest> {
        self.about.manifest.as_ref()
    }

    /// The component's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The SHA-256 of the component's bytes.
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// Who the plugin is to a policy: its name, the canonical path of its component file, and
    /// the hash of its bytes.
    pub fn identity(&self) -> PluginIdentity {
        self.about.identity(self.sha256)
    }

    /// What the plugin's manifest requests (nothing without a manifest).
    pub fn requested(&self) -> Grants {
        self.about.requested()
    }

    /// The options the plugin loads with: what `policy` gives for what its manifest requests,
    /// its settings and version, and the extension point it fits among `points` (checked
    /// against the version requirement of its manifest's `extension-point`). Refused as the
    /// policy says ([`Error::PolicyDenied`], [`Error::Incompatible`]).
    ///
    /// The options remember this judgement: each later version of the plugin
    /// ([`Plugin::reload`]) is judged by the same policy, manifest and path on its own bytes.
    pub fn options(
        &self,
        policy: &Policy,
        points: Option<&ExtensionPoints>,
    ) -> Result<PluginOptions> {
        let options = self.about.judge(&self.bytes, self.sha256, policy, points)?;
        let (about, policy, points) = (self.about.clone(), policy.clone(), points.cloned());
        let judge = Judge::new(move |bytes: &[u8]| {
            let sha256 = crate::engine::compile::sha256(bytes);
            about.judge(bytes, sha256, &policy, points.as_ref())
        });
        Ok(options.judged_by(judge))
    }

    /// Loads the plugin into `host` with the [`options`](Self::options) `policy` and `points`
    /// give it.
    pub fn load<T: Send + 'static>(
        &self,
        host: &Host<T>,
        policy: &Policy,
        points: Option<&ExtensionPoints>,
    ) -> Result<Plugin<T>> {
        let options = self.options(policy, points)?;
        self.load_with(host, options)
    }

    /// Loads the plugin into `host` with `options` (made by [`options`](Self::options)). An
    /// application interface the plugin imports without the grant is refused saying which side
    /// is missing ([`Error::NotGranted`]): the manifest's request, or the policy's allowance.
    pub fn load_with<T: Send + 'static>(
        &self,
        host: &Host<T>,
        options: PluginOptions,
    ) -> Result<Plugin<T>> {
        host.load_hashed(self.name().to_owned(), &self.bytes, self.sha256, options)
    }

    /// Whether the manifest's `extension-point` requirement (if it has one) accepts `point`:
    /// its package, world and version. [`options`](Self::options) checks this for the point a
    /// plugin is routed to; `componentry check` for the point it is checked against.
    pub fn accepts(&self, point: &ExtensionPoint) -> Result<()> {
        self.about.accepts(point)
    }

    /// The manifest's text, when there is one.
    pub(crate) fn manifest_text(&self) -> Option<&str> {
        self.manifest_text.as_deref()
    }
}

impl About {
    fn identity(&self, sha256: [u8; 32]) -> PluginIdentity {
        PluginIdentity {
            name: self.name.clone(),
            path: Some(self.component.clone()),
            sha256,
        }
    }

    fn requested(&self) -> Grants {
        self.manifest
            .as_ref()
            .map_or_else(Grants::none, |m| m.capabilities.clone())
    }

    /// The options of the version whose component is `bytes`.
    fn judge(
        &self,
        bytes: &[u8],
        sha256: [u8; 32],
        policy: &Policy,
        points: Option<&ExtensionPoints>,
    ) -> Result<PluginOptions> {
        let requested = self.requested();
        let mut options = policy
            .options_for(&self.identity(sha256), &requested)?
            .requested_by(match &self.manifest {
                Some(_) => Requests::Manifest(Box::new(requested)),
                None => Requests::NoManifest,
            });
        if let Some(manifest) = &self.manifest {
            options = options
                .settings(&manifest.settings)
                .version(manifest.version.clone());
        }
        let Some(points) = points else {
            return Ok(options);
        };
        let world = ComponentWorld::decode(&self.name, bytes)?;
        let point = points.route(&self.name, &world)?;
        self.accepts(&point)?;
        Ok(options.extension_point(point))
    }

    /// Whether the manifest's `extension-point` requirement (if any) accepts `point`.
    fn accepts(&self, point: &ExtensionPoint) -> Result<()> {
        let Some(requirement) = self
            .manifest
            .as_ref()
            .and_then(|m| m.extension_point.as_ref())
        else {
            return Ok(());
        };
        let package = point.package();
        let fits = package.is_some_and(|p| {
            format!("{}:{}", p.namespace, p.name) == requirement.package
                && point.world_name() == requirement.world
                && p.version
                    .as_ref()
                    .is_none_or(|v| requirement.requirement.matches(v))
        });
        if fits {
            return Ok(());
        }
        Err(Error::Incompatible {
            plugin: self.name.clone(),
            reason: format!(
                "its manifest requires {}/{}@{}, but it fits {}/{}",
                requirement.package,
                requirement.world,
                requirement.requirement,
                package.map(|p| p.to_string()).unwrap_or_default(),
                point.world_name()
            ),
            source: None,
        })
    }
}

fn read_manifest(path: &Path) -> Result<(Manifest, String)> {
    let text = crate::toml_file::read_regular(path)?;
    let manifest = Manifest::parse(&text, path)?;
    Ok((manifest, text))
}

/// Opens the component file once and reads it, with the canonical path of the file opened.
fn read_once(plugin: &str, path: &Path) -> Result<(Vec<u8>, PathBuf)> {
    let failed = |source: std::io::Error| Error::Read {
        plugin: plugin.to_owned(),
        path: path.to_owned(),
        source,
    };
    let mut open = std::fs::OpenOptions::new();
    open.read(true);
    // A FIFO (or a device) put where a component was expected must not block the open: with
    // O_NONBLOCK it opens at once, and is refused below as not a regular file.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut open, libc::O_NONBLOCK);
    let mut file = open.open(path).map_err(failed)?;
    let metadata = file.metadata().map_err(failed)?;
    if !metadata.is_file() {
        return Err(failed(std::io::Error::other("not a regular file")));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.read_to_end(&mut bytes).map_err(failed)?;
    let canonical = opened_path(&file)
        .map_or_else(|| canonical_path(path), Ok)
        .map_err(failed)?;
    // Where the kernel could not say which path the open file has, the path was looked up
    // again: it must still lead to the very file read, or a swap in between would choose it.
    if !same_file(&metadata, &canonical) {
        return Err(failed(std::io::Error::other(
            "the file was replaced while it was read; try again",
        )));
    }
    Ok((bytes, canonical))
}

/// Whether `path` leads to the file whose metadata (from the open file) is `opened`.
#[cfg(unix)]
fn same_file(opened: &std::fs::Metadata, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(path).is_ok_and(|now| now.dev() == opened.dev() && now.ino() == opened.ino())
}

#[cfg(not(unix))]
fn same_file(_opened: &std::fs::Metadata, _path: &Path) -> bool {
    true
}

/// The path of the file `file` is open on, as the kernel knows it.
#[cfg(target_os = "linux")]
fn opened_path(file: &std::fs::File) -> Option<PathBuf> {
    use std::os::fd::AsRawFd as _;
    let path = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()?;
    // A file removed since it was opened reads as "PATH (deleted)": not a path to match (the
    // path looked up again instead must then lead to the same file, which it cannot).
    (path.is_absolute() && path.exists()).then_some(path)
}

#[cfg(not(target_os = "linux"))]
fn opened_path(_file: &std::fs::File) -> Option<PathBuf> {
    None
}

fn canonical_path(path: &Path) -> std::io::Result<PathBuf> {
    path.canonicalize()
}

/// The entries of the plugin directory `dir`, in name order: component files and directories
/// (skipping names that start with `.`).
pub(crate) fn entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| !hidden(path) && (is_component_file(path) || path.is_dir()))
        .collect();
    entries.sort();
    Ok(entries)
}

/// The one component file in a plugin directory.
fn component_in(dir: &Path, plugin: &str) -> Result<PathBuf> {
    let components: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::Config {
            path: dir.to_owned(),
            reason: e.to_string(),
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| is_component_file(path))
        .collect();
    match <[PathBuf; 1]>::try_from(components) {
        Ok([component]) => Ok(component),
        Err(found) => Err(Error::Config {
            path: dir.to_owned(),
            reason: format!(
                "plugin '{plugin}': a plugin directory holds exactly one component (.wasm or .wat), found {}",
                found.len()
            ),
        }),
    }
}

/// Whether `path` names a component file: `*.wasm`, or `*.wat` in the text format.
pub(crate) fn is_component_file(path: &Path) -> bool {
    has_component_extension(path) && path.is_file()
}

pub(crate) fn has_component_extension(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "wasm" || e == "wat")
}

pub(crate) fn hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_compared_is_the_file_opened_not_a_symlink_swapped_in_later() {
        let dir = tempfile::tempdir().expect("tempdir");
        let real = dir.path().join("real.wasm");
        std::fs::write(&real, b"(component)").expect("write");
        let link = dir.path().join("link.wasm");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let source = PluginSource::open(&link).expect("open");
        let canonical = real.canonicalize().expect("canonical");
        assert_eq!(source.component_path(), canonical);
        assert_eq!(source.name(), "link");
        // Swapping the link to another file after the read changes nothing for this source.
        let other = dir.path().join("other.wasm");
        std::fs::write(&other, b"(component)").expect("write");
        std::fs::remove_file(&link).expect("unlink");
        std::os::unix::fs::symlink(&other, &link).expect("symlink");
        assert_eq!(source.identity().path.as_deref(), Some(canonical.as_path()));
    }

    #[test]
    fn a_file_deleted_while_it_is_read_is_not_matched_by_another_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("gone.wasm");
        std::fs::write(&path, b"(component)").expect("write");
        let file = std::fs::File::open(&path).expect("open");
        let metadata = file.metadata().expect("metadata");
        // Replaced under the same name: the path now leads to another file.
        std::fs::remove_file(&path).expect("remove");
        std::fs::write(&path, b"(component)").expect("write");
        assert!(opened_path(&file).is_none(), "the open file is gone");
        assert!(
            !same_file(&metadata, &path),
            "another file by the same name"
        );
    }

    #[test]
    fn a_component_file_takes_the_manifest_beside_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("x.wasm"), b"(component)").expect("write");
        std::fs::write(
            dir.path().join(MANIFEST),
            "name = \"named\"\nversion = \"1.0.0\"\n[capabilities]\nenv = [\"HOME\"]\n",
        )
        .expect("write");
        let by_file = PluginSource::open(dir.path().join("x.wasm")).expect("open");
        let by_dir = PluginSource::open(dir.path()).expect("open");
        for source in [&by_file, &by_dir] {
            assert_eq!(source.name(), "named");
            assert_eq!(source.requested().describe(), vec!["env HOME".to_owned()]);
            assert_eq!(source.identity(), by_file.identity());
        }
    }

    #[test]
    fn what_is_not_a_regular_file_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("fifo.wasm");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            return;
        }
        // Opening a FIFO for reading would block until a writer comes: the open must not
        // hang the host, and the file is refused.
        let (sent, opened) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || sent.send(PluginSource::open(&path).map(drop)));
        let err = opened
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the open returned")
            .expect_err("refused");
        assert!(
            matches!(&err, Error::Read { plugin, .. } if plugin == "fifo"),
            "{err}"
        );
    }
}
