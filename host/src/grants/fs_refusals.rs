//! Actionable refusals for the filesystem: wasmtime-wasi refuses paths that leave a granted
//! directory and writes into a read-only one; this wraps `open-at`, the door to every file, so
//! each refusal is also logged with the plugin, the path and the grant that would allow it.

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::filesystem::WasiFilesystemView;
use wasmtime_wasi::p2::bindings::sync::filesystem::types::{
    self as fs, Descriptor, DescriptorFlags, ErrorCode, OpenFlags, PathFlags,
};

use crate::state::PluginState;

/// The `wasi:filesystem/types` instance as wasmtime-wasi defines it.
const TYPES: &str = "wasi:filesystem/types@0.2.12";

type OpenAtParams = (
    Resource<Descriptor>,
    PathFlags,
    String,
    OpenFlags,
    DescriptorFlags,
);

/// Replaces `open-at` in `linker` by one that logs refusals and otherwise does the same.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<PluginState<T>>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let defined = linker.instance(TYPES)?.func_wrap(
        "[method]descriptor.open-at",
        |mut store: StoreContextMut<'_, PluginState<T>>, (fd, path_flags, path, oflags, flags): OpenAtParams| {
            let plugin = store.data().plugin_name().to_owned();
            let writing = flags.contains(DescriptorFlags::WRITE)
                || flags.contains(DescriptorFlags::MUTATE_DIRECTORY)
                || oflags.contains(OpenFlags::CREATE)
                || oflags.contains(OpenFlags::TRUNCATE);
            let mut view = store.data_mut().filesystem();
            // The path is the plugin's own text: shown escaped, it cannot forge a log line.
            let shown = crate::text::escape_untrusted(&path).into_owned();
            match fs::HostDescriptor::open_at(&mut view, fd, path_flags, path, oflags, flags) {
                Ok(fd) => Ok((Ok(fd),)),
                Err(error) => {
                    let code = fs::Host::convert_error_code(&mut view, error)?;
                    if matches!(code, ErrorCode::NotPermitted | ErrorCode::Access | ErrorCode::ReadOnly) {
                        let (what, grant) = if writing {
                            ("writing", "--dir-rw HOST::GUEST (grants TOML: dir-rw = [\"HOST::GUEST\"])")
                        } else {
                            ("reading", "--dir HOST::GUEST (grants TOML: dir = [\"HOST::GUEST\"])")
                        };
                        tracing::warn!(
                            target: crate::LOG_TARGET,
                            plugin,
                            "refused {what} `{shown}`: it is outside the plugin's granted directories \
                             (or they are read-only); grant its directory with {grant}"
                        );
                    }
                    Ok((Err(code),))
                }
            }
        },
    );
    linker.allow_shadowing(false);
    defined
}
