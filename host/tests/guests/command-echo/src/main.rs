//! An ordinary WASI command: prints its arguments to stdout, one per line, and a note to stderr.
//! Given the argument `fail`, it exits with a failure status.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    for arg in &args {
        println!("{arg}");
    }
    eprintln!("command-echo: {} argument(s)", args.len());
    if args.iter().any(|a| a == "fail") {
        std::process::exit(1);
    }
}
