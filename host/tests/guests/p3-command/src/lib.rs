//! A WASI 0.3 command (`wasi:cli/run@0.3`): prints its arguments (through the Rust standard
//! library) and fails when one of them is `fail`. Asked to, it shows what WASI 0.3 gives it, to
//! compare with `wasmtime run`: `exit N` exits with status N (`wasi:cli/exit@0.3`
//! `exit-with-code`), `env NAME` prints the variable, `preopens` the preopened directories.

struct Command;

impl wasip3::exports::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let args = wasip3::cli::environment::get_arguments();
        println!("p3 args: {}", args.join(" "));
        let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
        match rest.as_slice() {
            ["exit", code, ..] => {
                wasip3::cli::exit::exit_with_code(code.parse().unwrap_or(1));
            }
            ["env", name, ..] => {
                let value = wasip3::cli::environment::get_environment()
                    .into_iter()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value);
                println!("env {name}: {}", value.as_deref().unwrap_or("(unset)"));
            }
            ["preopens", ..] => {
                let names: Vec<String> = wasip3::filesystem::preopens::get_directories()
                    .into_iter()
                    .map(|(_, name)| name)
                    .collect();
                println!("preopens: [{}]", names.join(", "));
            }
            _ => {}
        }
        if args.iter().any(|arg| arg == "fail") {
            return Err(());
        }
        Ok(())
    }
}

wasip3::cli::command::export!(Command);
