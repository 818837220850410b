//! How to load one plugin: its name and version, its grants, limits, settings, the extension
//! point it is checked against, its hash pin and its quarantine policy.

use std::sync::Arc;

use semver::Version;

use crate::capability::Grants;
use crate::compat::extension_point::ExtensionPoint;
use crate::plugin::quarantine::QuarantinePolicy;
use crate::store::Settings;
use crate::store::limits::Limits;

/// How to load one plugin: its name, its grants and its limits.
#[derive(Debug, Clone, Default)]
pub struct PluginOptions {
    pub(crate) name: Option<String>,
    pub(crate) version: Option<Version>,
    pub(crate) grants: Grants,
    pub(crate) limits: Limits,
    pub(crate) quarantine: Option<QuarantinePolicy>,
    pub(crate) pin_sha256: Option<[u8; 32]>,
    pub(crate) extension_point: Option<Arc<ExtensionPoint>>,
    pub(crate) settings: Settings,
    pub(crate) judge: Option<Judge>,
    pub(crate) requests: Requests,
}

/// Who asked for a plugin's grants: what a refusal of an ungranted import says is missing.
#[derive(Clone, Debug, Default)]
pub(crate) enum Requests {
    /// The options were given in code: the grants are the application's own.
    #[default]
    InCode,
    /// A load pipeline read the plugin, which has no manifest to request anything.
    NoManifest,
    /// A load pipeline read the plugin's manifest, which requests these grants of the policy.
    Manifest(Box<Grants>),
}

impl Requests {
    /// What to do about `import`, an application interface the plugin was not granted.
    pub(crate) fn remedy(&self, import: &str) -> String {
        match self {
            Requests::InCode => format!(
                "grant it with `Grants::interface(\"{import}\")` (grants TOML: interfaces = \
                 [\"{import}\"])"
            ),
            Requests::NoManifest => format!(
                "it has no manifest to request it: give it a plugin.toml with [capabilities] \
                 interfaces = [\"{import}\"] (which the operator's policy must allow), or have \
                 the operator grant it"
            ),
            Requests::Manifest(requested) if requested.grants_interface(import) => format!(
                "its manifest requests it, but the operator's policy does not allow it: the \
                 policy rule's [plugin.allow] needs interfaces = [\"{import}\"]"
            ),
            Requests::Manifest(_) => format!(
                "its manifest does not request it: add interfaces = [\"{import}\"] to the \
                 manifest's [capabilities] (which the operator's policy must allow)"
            ),
        }
    }
}

/// How every later version of a plugin gets its options: the load pipeline that judged its first
/// version ([`PluginSource`](crate::PluginSource)), asked again on each new version's own bytes,
/// so that a reload is judged like a first load. Plugins loaded with options given by hand have
/// none: their reloads keep those options.
#[derive(Clone)]
pub(crate) struct Judge(Arc<JudgeFn>);

/// A judgement: the options of the version whose component is these bytes, or why it is refused.
type JudgeFn = dyn Fn(&[u8]) -> crate::error::Result<PluginOptions> + Send + Sync;

impl Judge {
    pub(crate) fn new(
        judge: impl Fn(&[u8]) -> crate::error::Result<PluginOptions> + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(judge))
    }

    /// The options of the version whose component is `bytes`, or why it is refused.
    pub(crate) fn options_for(&self, bytes: &[u8]) -> crate::error::Result<PluginOptions> {
        (self.0)(bytes)
    }
}

impl std::fmt::Debug for Judge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Judge")
    }
}

impl PluginOptions {
    /// Options with every default: the name from the file, no grants.
    pub fn new() -> Self {
        Self::default()
    }

    /// The plugin's name in errors and logs. Defaults to the file name without its extension.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The plugin's own version (as its manifest gives it), for the application's host functions
    /// ([`PluginState::plugin_version`](crate::PluginState::plugin_version)). Defaults to none.
    pub fn version(mut self, version: Version) -> Self {
        self.version = Some(version);
        self
    }

    /// The limits these options give, as [`limits`](Self::limits) set them.
    pub fn get_limits(&self) -> &Limits {
        &self.limits
    }

    /// The plugin's capabilities. Defaults to [`Grants::none`].
    pub fn grants(mut self, grants: Grants) -> Self {
        self.grants = grants;
        self
    }

    /// The plugin's limits. Defaults to [`Limits::default`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Checks the component against `extension_point` before loading it: an incompatible one is
    /// refused with every problem ([`Error::Incompatible`](crate::Error::Incompatible)), and
    /// calls to functions the extension point added after the plugin's version are
    /// [`Error::NotProvided`](crate::Error::NotProvided).
    pub fn extension_point(mut self, extension_point: impl Into<Arc<ExtensionPoint>>) -> Self {
        self.extension_point = Some(extension_point.into());
        self
    }

    /// The plugin's settings (`componentry:plugin/settings`), as a manifest's `[settings]`
    /// table: strings as written, other values in TOML syntax. Defaults to none.
    pub fn settings(mut self, table: &toml::Table) -> Self {
        self.settings = table
            .iter()
            .map(|(key, value)| {
                let text = match value {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (key.clone(), text)
            })
            .collect();
        self
    }

    /// The grants these options give, as [`grants`](Self::grants) set them.
    pub fn get_grants(&self) -> &Grants {
        &self.grants
    }

    /// Refuses the component unless its bytes have this SHA-256
    /// ([`Error::IntegrityMismatch`](crate::Error::IntegrityMismatch)).
    /// Defaults to no pin.
    pub fn pin_sha256(mut self, sha256: [u8; 32]) -> Self {
        self.pin_sha256 = Some(sha256);
        self
    }

    /// Quarantines the plugin after repeated failures. Defaults to never.
    pub fn quarantine(mut self, policy: QuarantinePolicy) -> Self {
        self.quarantine = Some(policy);
        self
    }

    /// Has every later version of the plugin judged by `judge` on its own bytes.
    pub(crate) fn judged_by(mut self, judge: Judge) -> Self {
        self.judge = Some(judge);
        self
    }

    /// Records who asked for the grants, for explaining a refusal.
    pub(crate) fn requested_by(mut self, requests: Requests) -> Self {
        self.requests = requests;
        self
    }
}
