//! The pipeline: the steps in order, each a plugin called through the world's typed bindings,
//! and what each did to the document.

use anyhow::bail;
use componentry::{Plugin, Typed};

use crate::bindings::Transformer;

/// The steps, in order.
pub struct Pipeline {
    steps: Vec<Step>,
}

struct Step {
    plugin: Plugin<()>,
    typed: Typed<(), Transformer>,
}

/// A document after the pipeline.
pub struct Rendered {
    pub text: String,
}

impl Pipeline {
    /// The pipeline of `plugins` in the order `order` names them (every plugin, by name, when
    /// empty). A step named but not loaded is an error.
    pub fn new(mut plugins: Vec<Plugin<()>>, order: &[String]) -> anyhow::Result<Self> {
        plugins.sort_by(|a, b| a.name().cmp(b.name()));
        let chosen: Vec<Plugin<()>> = if order.is_empty() {
            plugins
        } else {
            let mut chosen = Vec::new();
            for name in order {
                let Some(plugin) = plugins.iter().find(|p| p.name() == name) else {
                    let loaded: Vec<&str> = plugins.iter().map(|p| p.name()).collect();
                    bail!("no step `{name}` loaded (loaded: {})", loaded.join(", "));
                };
                chosen.push(plugin.clone());
            }
            chosen
        };
        let steps = chosen
            .into_iter()
            .map(|plugin| {
                let typed = plugin.typed::<Transformer>()?;
                Ok(Step { plugin, typed })
            })
            .collect::<componentry::Result<_>>()?;
        Ok(Self { steps })
    }

    /// The plugins of the steps.
    pub fn plugins(&self) -> Vec<Plugin<()>> {
        self.steps.iter().map(|s| s.plugin.clone()).collect()
    }

    /// Runs `document` through every step, printing a line per step. A step that fails (its
    /// own error, a trap, a limit) is skipped and the rest go on.
    pub fn render(&self, document: &str) -> Rendered {
        println!("mdpipe: rendering through {} steps", self.steps.len());
        let mut text = document.to_owned();
        for step in &self.steps {
            let name = step.plugin.name();
            let before = text.lines().count();
            let outcome = step
                .typed
                .call(|world, store| world.mdpipe_plugin_step().call_transform(store, &text));
            match outcome {
                Ok(Ok(next)) => {
                    let after = next.lines().count();
                    println!("  {name:<12} ok: {before} -> {after} lines");
                    text = next;
                }
                Ok(Err(message)) => println!("  {name:<12} declined: {message}; skipped"),
                Err(error) => println!("  {name:<12} stopped: {}; skipped", why(&error)),
            }
        }
        Rendered { text }
    }
}

/// `plugin` in one line: name, version, hash.
pub fn describe(plugin: &Plugin<()>) -> String {
    let version = plugin
        .version()
        .map_or_else(|| "-".to_owned(), |v| v.to_string());
    let sha = componentry_sha(plugin);
    format!("{} {version} (sha256:{sha})", plugin.name())
}

fn componentry_sha(plugin: &Plugin<()>) -> String {
    plugin.sha256()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why a step stopped, in a few words.
fn why(error: &componentry::Error) -> String {
    use componentry::Error;
    match error {
        Error::FuelExhausted { consumed, .. } => format!("ran out of fuel after {consumed} units"),
        Error::DeadlineExceeded { .. } => "ran past its deadline".to_owned(),
        Error::MemoryLimit { .. } => "hit its memory limit".to_owned(),
        Error::Trap { message, .. } => format!("trapped: {}", first_line(message)),
        other => first_line(&other.to_string()).to_owned(),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}
