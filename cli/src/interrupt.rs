//! Noticing that the process is asked to stop, for the commands that run until then (`watch`,
//! `serve`).

/// Completes when the process is asked to stop (Ctrl-C, SIGTERM, SIGHUP). Once only per process.
pub fn interrupted() -> tokio::sync::oneshot::Receiver<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let stop = std::sync::Mutex::new(Some(stop));
    let installed = ctrlc::set_handler(move || {
        let taken = stop.lock().ok().and_then(|mut s| s.take());
        match taken {
            Some(stop) => {
                let _ = stop.send(());
            }
            // Asked twice: stop now.
            None => std::process::exit(130),
        }
    });
    if let Err(e) = installed {
        tracing::warn!("cannot handle interruptions: {e}");
    }
    stopped
}
