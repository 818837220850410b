//! A WASI 0.3 command (`wasi:cli/run@0.3`): prints its arguments (through the Rust standard
//! library) and fails when one of them is `fail`.

struct Command;

impl wasip3::exports::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let args = wasip3::cli::environment::get_arguments();
        println!("p3 args: {}", args.join(" "));
        if args.iter().any(|arg| arg == "fail") {
            return Err(());
        }
        Ok(())
    }
}

wasip3::cli::command::export!(Command);
