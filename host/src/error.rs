//! The crate's error type: one enum whose variants a caller can match on.
//!
//! Every variant that concerns a plugin names it, so a message read in a log says which plugin
//! failed and why without further context; [`Error::plugin`] gives it. Causes are kept, not
//! flattened: [`std::error::Error::source`] walks the chain down to what wasmtime or the system
//! said.

use std::path::PathBuf;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The cause of an error, kept for its chain.
pub type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The error a typed call returns when the plugin's version lacks the function it wanted:
/// made by a [`versioned_world!`](crate::versioned_world)'s `not_provided`, and reported as
/// [`Error::NotProvided`].
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{function}` arrived in {since}; the plugin provides {plugin_version}")]
pub struct NotProvided {
    /// The function that was wanted.
    pub function: String,
    /// The version that added it.
    pub since: String,
    /// The version the plugin provides.
    pub plugin_version: String,
}

/// Everything that can go wrong while loading, inspecting or calling a plugin.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The plugin's file could not be read.
    #[error("plugin '{plugin}': cannot read {}: {source}", path.display())]
    Read {
        /// The plugin's name.
        plugin: String,
        /// The path that was read.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// The bytes are not WebAssembly at all.
    #[error("plugin '{plugin}': not a WebAssembly file ({detail})")]
    NotWasm {
        /// The plugin's name.
        plugin: String,
        /// What was found instead.
        detail: String,
    },

    /// The bytes are a core WebAssembly module that the WASI preview1 adapter cannot make a
    /// component of (it imports what preview1 does not offer, say).
    #[error(
        "plugin '{plugin}': a core WebAssembly module that cannot be run as a WASI preview1 \
         module: {reason}; build it for wasm32-wasip1 or wasm32-wasip2"
    )]
    CoreModule {
        /// The plugin's name.
        plugin: String,
        /// Why the adapter cannot serve it.
        reason: String,
    },

    /// The bytes start like WebAssembly but are truncated or malformed.
    #[error("plugin '{plugin}': invalid WebAssembly: {reason}")]
    Invalid {
        /// The plugin's name.
        plugin: String,
        /// The decoder's or validator's explanation.
        reason: String,
        /// What the decoder or validator said, when there is more to it.
        #[source]
        source: Option<Source>,
    },

    /// The component is valid but the engine refused to compile it (for example it uses a proposal
    /// this engine does not enable).
    #[error("plugin '{plugin}': the component was rejected by the engine: {reason}")]
    Rejected {
        /// The plugin's name.
        plugin: String,
        /// The engine's explanation.
        reason: String,
        /// What the engine said.
        #[source]
        source: Option<Source>,
    },

    /// The component imports something the host does not provide (or provides with another
    /// type).
    #[error("plugin '{plugin}': imports `{import}`, which this host does not provide{hint}")]
    MissingImport {
        /// The plugin's name.
        plugin: String,
        /// The import, as named in the component (`pkg:name/iface@version`).
        import: String,
        /// What the host does provide that is closest, when something is (`; the host
        /// registers acme:app/kv@2.0.0`), or empty.
        hint: String,
        /// What the linker said.
        #[source]
        source: Option<Source>,
    },

    /// The component imports an application host interface that this plugin was not granted.
    #[error("plugin '{plugin}': imports `{import}`, which it was not granted; {remedy}")]
    NotGranted {
        /// The plugin's name.
        plugin: String,
        /// The import, as named in the component.
        import: String,
        /// Which side is missing and how to grant it: for a plugin read through a
        /// [`PluginSource`](crate::PluginSource), whether its manifest does not request the
        /// interface or the operator's policy does not allow it; else how to grant it in code.
        remedy: String,
    },

    /// The plugin requests capabilities beyond the host's policy, whose rule says to refuse.
    #[error(
        "plugin '{plugin}': requests beyond the host's policy: {}; {selection}",
        requests.join(", ")
    )]
    PolicyDenied {
        /// The plugin's name.
        plugin: String,
        /// Each request beyond the policy, in the grants vocabulary (`allow-net 10.0.0.1:22`).
        requests: Vec<String>,
        /// Which rule of the policy applied and what to do; or, when none did, what was compared
        /// (name, path, hash) and which rules selected the plugin's name only.
        selection: String,
    },

    /// The component's bytes are not the ones the policy pins.
    #[error(
        "plugin '{plugin}': the component's SHA-256 is {found}, but the policy pins {expected}; refusing to load it"
    )]
    IntegrityMismatch {
        /// The plugin's name.
        plugin: String,
        /// The pinned hash, in hex.
        expected: String,
        /// The component's hash, in hex.
        found: String,
    },

    /// A grant cannot be given as written (for example a granted directory does not exist).
    #[error("plugin '{plugin}': bad grant: {reason}")]
    Grant {
        /// The plugin's name.
        plugin: String,
        /// What is wrong with it.
        reason: String,
        /// What the system said.
        #[source]
        source: Option<Source>,
    },

    /// Text in the grant, limit or manifest vocabulary is not well formed (`10.*.example:80` as a
    /// network pattern, say).
    #[error("invalid {what}: {reason}")]
    Syntax {
        /// What the text should have been: `network pattern`, `HTTP pattern`, ...
        what: &'static str,
        /// The text.
        text: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A configuration file (grants, manifest, policy) is unreadable or malformed.
    #[error("{}: {reason}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and key where known.
        reason: String,
    },

    /// The component does not fit the world the host expects (missing export, other signature).
    #[error("plugin '{plugin}': incompatible with the host's world: {reason}")]
    Incompatible {
        /// The plugin's name.
        plugin: String,
        /// What does not match.
        reason: String,
        /// What wasmtime said, when it found the mismatch.
        #[source]
        source: Option<Source>,
    },

    /// No export of the plugin has the requested name.
    #[error("plugin '{plugin}': no exported function `{name}`; it exports: {available}")]
    ExportNotFound {
        /// The plugin's name.
        plugin: String,
        /// The name that was asked for.
        name: String,
        /// The functions the plugin does export, comma-separated.
        available: String,
    },

    /// The function exists in the extension point, but arrived in a later version than the one
    /// the plugin was built for.
    #[error(
        "plugin '{plugin}': `{function}` is not provided by this plugin's version: it arrived in \
         {since}, the plugin was built against {plugin_version}"
    )]
    NotProvided {
        /// The plugin's name.
        plugin: String,
        /// The function that was called.
        function: String,
        /// The extension point version that added it.
        since: String,
        /// The extension point version the plugin was built against.
        plugin_version: String,
    },

    /// The arguments of a dynamic call do not fit the function's parameters.
    #[error("plugin '{plugin}': bad arguments for `{function}`: {reason}")]
    BadArguments {
        /// The plugin's name.
        plugin: String,
        /// The function that was called.
        function: String,
        /// What is wrong with them.
        reason: String,
    },

    /// The plugin trapped: a panic, `unreachable`, an out-of-bounds access, a stack overflow, or a
    /// host function that failed.
    #[error("plugin '{plugin}' trapped in `{function}`: {message}")]
    Trap {
        /// The plugin's name.
        plugin: String,
        /// The export that was running.
        function: String,
        /// The trap code, when wasmtime reported one.
        code: Option<wasmtime::Trap>,
        /// The trap's description.
        message: Box<str>,
        /// The wasm backtrace (function names where the component has them), if captured.
        backtrace: Option<Box<str>>,
        /// The last bytes (up to 4 KiB) the plugin wrote to stderr during the call: where a
        /// language runtime reports the error behind the trap (a Python traceback, a JavaScript
        /// exception, a Rust panic message, a C program's message before `abort`).
        stderr: Option<Box<str>>,
        /// The error a host function failed with, when that ended the call.
        #[source]
        source: Option<Source>,
    },

    /// The call burned its whole fuel budget.
    #[error(
        "plugin '{plugin}' ran out of fuel in `{function}` after consuming {consumed} units; \
         raise its fuel budget if the work is legitimate"
    )]
    FuelExhausted {
        /// The plugin's name.
        plugin: String,
        /// The export that was running.
        function: String,
        /// The fuel consumed: the whole budget.
        consumed: u64,
    },

    /// The call ran past its wall-clock deadline.
    #[error(
        "plugin '{plugin}' exceeded its deadline of {deadline:?} in `{function}` and was stopped"
    )]
    DeadlineExceeded {
        /// The plugin's name.
        plugin: String,
        /// The export that was running.
        function: String,
        /// The deadline that was exceeded.
        deadline: std::time::Duration,
    },

    /// The plugin tried to grow its linear memory (all its memories together) past its limit, or
    /// the streams and futures a dynamic call of it returned held more than that on the host.
    #[error(
        "plugin '{plugin}' hit its memory limit in `{function}`: it asked for {requested} bytes \
         of linear memory in all (or its returned streams held that many on the host), the limit \
         is {limit} bytes"
    )]
    MemoryLimit {
        /// The plugin's name.
        plugin: String,
        /// The export that was running.
        function: String,
        /// The limit, in bytes.
        limit: usize,
        /// The linear memory the instance would have had, all memories together, in bytes.
        requested: usize,
    },

    /// The plugin tried to grow its tables (all together) past their limit.
    #[error(
        "plugin '{plugin}' hit its table limit in `{function}`: it asked for {requested} elements, \
         the limit is {limit}"
    )]
    TableLimit {
        /// The plugin's name.
        plugin: String,
        /// The export that was running.
        function: String,
        /// The limit, in elements.
        limit: usize,
        /// The size the plugin asked for.
        requested: usize,
    },

    /// The plugin tried to hold more host resources open at once (files, sockets, streams,
    /// pollables, HTTP bodies, ...) than its limit allows.
    #[error(
        "plugin '{plugin}' hit its limit of {limit} open handles (files, sockets, streams, \
         pollables) in `{function}`; raise `max-handles` if the plugin legitimately needs more"
    )]
    HandleLimit {
        /// The plugin's name.
        plugin: String,
        /// The export that was running.
        function: String,
        /// The limit.
        limit: usize,
    },

    /// The plugin tried to hold more of the component model's own handles at once than its
    /// limit allows: its resources, streams, futures, subtasks (async calls under way), waitable
    /// sets and error contexts, which a guest makes without asking the host.
    #[error(
        "plugin '{plugin}' hit its limit of {limit} component handles (resources, streams, \
         futures, async calls under way) in `{function}`; raise `max-component-handles` if the \
         plugin legitimately needs more"
    )]
    ComponentHandleLimit {
        /// The plugin's name.
        plugin: String,
        /// The export that was running.
        function: String,
        /// The limit.
        limit: usize,
    },

    /// Two plugins claim the same name and a policy rule binds it to the other one (or, in a
    /// watched directory, the other one had it first): this one is refused.
    #[error(
        "plugin '{plugin}': the name is already taken by the plugin from {}; refusing the one from {} \
         (a plugin's name comes from its manifest, or its file name: rename one of them)",
        first.display(),
        path.display()
    )]
    DuplicateName {
        /// The name both claim.
        plugin: String,
        /// Where the refused plugin comes from.
        path: PathBuf,
        /// Where the plugin already loaded under that name comes from.
        first: PathBuf,
    },

    /// Several plugins claim the same name and no policy rule binds the name to one of them:
    /// none of them is loaded.
    #[error(
        "plugin '{plugin}': the name is claimed by {} and also by {}; none of them is loaded \
         (a plugin's name comes from its manifest, or its file name: rename all but one, or bind \
         the name in the policy with a rule that has `match` and `path` or `match-sha256`)",
        path.display(),
        others.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    ContestedName {
        /// The name they claim.
        plugin: String,
        /// Where this claimant comes from.
        path: PathBuf,
        /// Where the other claimants come from.
        others: Vec<PathBuf>,
    },

    /// The plugin claims a name that a policy rule binds to another path or hash (a rule with
    /// `match` and `path` or `match-sha256` that does not select it): it is refused.
    #[error(
        "plugin '{plugin}': the policy binds this name to another path or hash (a rule with \
         `match` and `path` or `match-sha256`); refusing the one from {}",
        path.display()
    )]
    NameReserved {
        /// The name it claims.
        plugin: String,
        /// Where it comes from.
        path: PathBuf,
    },

    /// The instance was called after an earlier call of it failed in the plugin's code (a trap,
    /// a limit) or was cancelled half-way; its state may be inconsistent.
    #[error(
        "plugin '{plugin}': this instance failed in an earlier call (a trap, a limit, or a \
         cancelled call) and takes no more calls; make a new instance"
    )]
    InstanceFailed {
        /// The plugin's name.
        plugin: String,
    },

    /// The plugin failed too often and is quarantined: it refuses calls for a while.
    #[error(
        "plugin '{plugin}' is quarantined after repeated failures; it accepts calls again in {remaining:?}"
    )]
    Quarantined {
        /// The plugin's name.
        plugin: String,
        /// How long until it accepts calls again.
        remaining: std::time::Duration,
    },

    /// There was no room for another instance: the engine's instance pool is full, or a
    /// plugin's pool of instances stayed busy longer than it may wait.
    #[error("plugin '{plugin}': no room for another instance: {reason}")]
    Exhausted {
        /// The plugin's name.
        plugin: String,
        /// Which capacity ran out.
        reason: String,
    },

    /// An HTTP plugin (`wasi:http/incoming-handler`) gave no response to a request, or answered
    /// it with an error instead of a response.
    #[error("plugin '{plugin}' gave no HTTP response: {reason}")]
    BadResponse {
        /// The plugin's name.
        plugin: String,
        /// What it did instead.
        reason: String,
    },

    /// A command plugin (`wasi:cli/run`) ended with a failure status.
    #[error("plugin '{plugin}' exited with status {status}")]
    Exit {
        /// The plugin's name.
        plugin: String,
        /// The exit status; `run` returning an error is status 1.
        status: i32,
    },

    /// A limit the engine was not built to enforce: a fuel budget without
    /// `EngineBuilder::fuel(true)`, a deadline without epoch interruption, or more memory or
    /// table elements than the pooling allocator's slots hold. Refused at load rather than not
    /// enforced.
    #[error("plugin '{plugin}': {reason}")]
    LimitUnsupported {
        /// The plugin's name.
        plugin: String,
        /// Which limit, and what the engine needs for it.
        reason: String,
    },

    /// A synchronous call on an asynchronous host (use the `*_async` methods), or an asynchronous
    /// call on a synchronous host (build it with `Host::builder_async`).
    #[error(
        "plugin '{plugin}': {}",
        if *asynchronous_host {
            "this host is asynchronous: call its plugins with the `*_async` methods"
        } else {
            "this host is synchronous: build it with `Host::builder_async` to call plugins asynchronously"
        }
    )]
    WrongMode {
        /// The plugin's name.
        plugin: String,
        /// Whether the host is asynchronous (and the call was not).
        asynchronous_host: bool,
    },

    /// Host code running for this plugin panicked (the task of an HTTP request, the trial of a
    /// new version): a bug of the host or of an application's host function, never of the plugin.
    #[error("plugin '{plugin}': {during} panicked")]
    Panicked {
        /// The plugin's name.
        plugin: String,
        /// What was running.
        during: String,
    },

    /// The engine or the host could not be set up as asked.
    #[error("{message}")]
    Engine {
        /// What could not be done.
        message: String,
        /// What wasmtime or the system said.
        #[source]
        source: Option<Source>,
    },
}

impl Error {
    /// An [`Error::Engine`] whose message quotes its cause, which stays in the chain.
    pub(crate) fn engine(message: impl std::fmt::Display, source: impl Into<Source>) -> Self {
        let source = source.into();
        Error::Engine {
            message: format!("{message}: {source}"),
            source: Some(source),
        }
    }

    /// An [`Error::Syntax`]: `text` is not a valid `what`, because `reason` (which quotes it).
    pub(crate) fn syntax(what: &'static str, text: &str, reason: impl Into<String>) -> Self {
        Error::Syntax {
            what,
            text: text.to_owned(),
            reason: reason.into(),
        }
    }

    /// The name of the plugin this error concerns, if any.
    pub fn plugin(&self) -> Option<&str> {
        match self {
            Error::Read { plugin, .. }
            | Error::NotWasm { plugin, .. }
            | Error::CoreModule { plugin, .. }
            | Error::Invalid { plugin, .. }
            | Error::Rejected { plugin, .. }
            | Error::MissingImport { plugin, .. }
            | Error::NotGranted { plugin, .. }
            | Error::PolicyDenied { plugin, .. }
            | Error::IntegrityMismatch { plugin, .. }
            | Error::Grant { plugin, .. }
            | Error::Incompatible { plugin, .. }
            | Error::ExportNotFound { plugin, .. }
            | Error::NotProvided { plugin, .. }
            | Error::BadArguments { plugin, .. }
            | Error::Trap { plugin, .. }
            | Error::FuelExhausted { plugin, .. }
            | Error::DeadlineExceeded { plugin, .. }
            | Error::MemoryLimit { plugin, .. }
            | Error::TableLimit { plugin, .. }
            | Error::HandleLimit { plugin, .. }
            | Error::ComponentHandleLimit { plugin, .. }
            | Error::DuplicateName { plugin, .. }
            | Error::ContestedName { plugin, .. }
            | Error::NameReserved { plugin, .. }
            | Error::InstanceFailed { plugin }
            | Error::Quarantined { plugin, .. }
            | Error::Exhausted { plugin, .. }
            | Error::BadResponse { plugin, .. }
            | Error::Exit { plugin, .. }
            | Error::LimitUnsupported { plugin, .. }
            | Error::WrongMode { plugin, .. }
            | Error::Panicked { plugin, .. } => Some(plugin),
            Error::Engine { .. } | Error::Config { .. } | Error::Syntax { .. } => None,
        }
    }

    /// Every kind [`kind`](Self::kind) gives, in the order it lists them.
    pub const KINDS: &'static [&'static str] = &[
        "load",
        "missing-import",
        "not-granted",
        "policy-denied",
        "integrity",
        "grant",
        "syntax",
        "config",
        "incompatible",
        "not-found",
        "not-provided",
        "bad-arguments",
        "trap",
        "fuel",
        "deadline",
        "memory",
        "table",
        "handles",
        "component-handles",
        "duplicate-name",
        "instance-failed",
        "quarantined",
        "exhausted",
        "bad-response",
        "exit",
        "unsupported-limit",
        "wrong-mode",
        "panic",
        "engine",
    ];

    /// A stable, kebab-case name for the kind of error, for matching in configuration (as
    /// `componentry test` does with `expect-error`) and for counting errors by kind:
    /// `load` (unreadable, not wasm, a core module, invalid, rejected), `missing-import`,
    /// `not-granted`, `policy-denied`, `integrity`, `grant`, `syntax`, `config`, `incompatible`,
    /// `not-found`, `not-provided`, `bad-arguments`, `trap`, `fuel`, `deadline`, `memory`, `table`,
    /// `handles`, `duplicate-name`, `instance-failed`, `quarantined`, `exhausted`,
    /// `bad-response`, `exit`, `unsupported-limit`, `wrong-mode`, `panic`, `engine`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Read { .. }
            | Error::NotWasm { .. }
            | Error::CoreModule { .. }
            | Error::Invalid { .. }
            | Error::Rejected { .. } => "load",
            Error::MissingImport { .. } => "missing-import",
            Error::NotGranted { .. } => "not-granted",
            Error::PolicyDenied { .. } => "policy-denied",
            Error::IntegrityMismatch { .. } => "integrity",
            Error::Grant { .. } => "grant",
            Error::Syntax { .. } => "syntax",
            Error::Config { .. } => "config",
            Error::Incompatible { .. } => "incompatible",
            Error::ExportNotFound { .. } => "not-found",
            Error::NotProvided { .. } => "not-provided",
            Error::BadArguments { .. } => "bad-arguments",
            Error::Trap { .. } => "trap",
            Error::FuelExhausted { .. } => "fuel",
            Error::DeadlineExceeded { .. } => "deadline",
            Error::MemoryLimit { .. } => "memory",
            Error::TableLimit { .. } => "table",
            Error::HandleLimit { .. } => "handles",
            Error::ComponentHandleLimit { .. } => "component-handles",
            Error::DuplicateName { .. }
            | Error::ContestedName { .. }
            | Error::NameReserved { .. } => "duplicate-name",
            Error::InstanceFailed { .. } => "instance-failed",
            Error::Quarantined { .. } => "quarantined",
            Error::Exhausted { .. } => "exhausted",
            Error::BadResponse { .. } => "bad-response",
            Error::Exit { .. } => "exit",
            Error::LimitUnsupported { .. } => "unsupported-limit",
            Error::WrongMode { .. } => "wrong-mode",
            Error::Panicked { .. } => "panic",
            Error::Engine { .. } => "engine",
        }
    }

    /// True for errors where the plugin's own code failed: a trap, or a limit it ran into.
    pub fn is_guest_failure(&self) -> bool {
        matches!(
            self,
            Error::Trap { .. }
                | Error::FuelExhausted { .. }
                | Error::DeadlineExceeded { .. }
                | Error::MemoryLimit { .. }
                | Error::TableLimit { .. }
                | Error::HandleLimit { .. }
                | Error::ComponentHandleLimit { .. }
        )
    }

    /// True for errors that mean the plugin needs a capability it was not given.
    pub fn is_capability_error(&self) -> bool {
        matches!(
            self,
            Error::MissingImport { .. } | Error::NotGranted { .. } | Error::PolicyDenied { .. }
        )
    }

    /// True for errors that mean the plugin could not be loaded at all (bad file, not a component,
    /// rejected by the engine, incompatible with the host).
    pub fn is_load_error(&self) -> bool {
        matches!(
            self,
            Error::Read { .. }
                | Error::NotWasm { .. }
                | Error::CoreModule { .. }
                | Error::Invalid { .. }
                | Error::Rejected { .. }
                | Error::Incompatible { .. }
                | Error::IntegrityMismatch { .. }
        )
    }
}

/// Maps an error that came out of running a plugin's code (instantiation or a call) into the
/// crate's error, once, here.
pub(crate) fn from_guest(
    plugin: &str,
    function: &str,
    error: wasmtime::Error,
    stderr: Option<String>,
) -> Error {
    if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return Error::Exit {
            plugin: plugin.to_owned(),
            status: exit.0,
        };
    }
    let code = error.downcast_ref::<wasmtime::Trap>().copied();
    let backtrace = error
        .downcast_ref::<wasmtime::WasmBacktrace>()
        .map(|bt| bt.to_string())
        .filter(|bt| !bt.trim().is_empty());
    // A trap's own text, or the outermost message of a host function's error (whose causes stay
    // in the chain); the backtrace is kept apart so that one-line messages stay one line.
    let (message, source) = match code {
        Some(trap) => (trap.to_string(), None),
        None => {
            let message = error
                .chain()
                .map(|cause| cause.to_string())
                .find(|cause| Some(cause) != backtrace.as_ref())
                .unwrap_or_default();
            (message, Some(error.into()))
        }
    };
    Error::Trap {
        plugin: plugin.to_owned(),
        function: function.to_owned(),
        code,
        message: message.into_boxed_str(),
        backtrace: backtrace.map(String::into_boxed_str),
        stderr: stderr.map(String::into_boxed_str),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::Error;

    /// `KINDS` is what `kind` gives: each kind `kind` names is listed, and nothing else.
    #[test]
    fn kinds_lists_every_kind() {
        let source = include_str!("error.rs");
        let body = source
            .split("pub fn kind(&self)")
            .nth(1)
            .and_then(|rest| rest.split("\n    }\n").next())
            .expect("the body of `kind`");
        let named: Vec<&str> = body
            .split("=> \"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert_eq!(
            named,
            Error::KINDS,
            "`Error::KINDS` and `Error::kind` disagree"
        );
    }
}
