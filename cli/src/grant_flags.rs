//! The grant flags shared by `run`, `serve`, `watch` and `inspect`: the CLI spelling of
//! `componentry::Grants`. The flags are made from the library's grant vocabulary
//! (`componentry::grants::words`): each word marked as a flag is one, with its value name and
//! help, so a new kind of capability is a new flag without a change here. `--seed` and
//! `--grants` are the CLI's own.

use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches, value_parser};
use componentry::Grants;
use componentry::grants::{Takes, Word, words};

use crate::exit::Failure;

/// The id of `--seed`.
const SEED: &str = "seed";
/// The id of `--grants`.
const GRANTS_FILE: &str = "grants";
/// The word `--seed` goes with.
const DETERMINISTIC: &str = "deterministic";

/// What the plugin may reach. Nothing unless granted here.
#[derive(Debug, Default)]
pub struct GrantFlags {
    /// Each grant given, in the vocabulary: a word and one value (`true` for a switch).
    given: Vec<(&'static str, String)>,
    /// The seed of --deterministic.
    seed: Option<u64>,
    /// A grants TOML file the flags add to.
    grants_file: Option<PathBuf>,
}

/// The words that are flags.
fn flags() -> impl Iterator<Item = &'static Word> {
    words().filter(|word| word.flag)
}

impl Args for GrantFlags {
    fn augment_args(mut command: Command) -> Command {
        for word in flags() {
            let arg = Arg::new(word.name).long(word.name).help(word.help);
            command = command.arg(match word.takes {
                Takes::Switch => arg.action(ArgAction::SetTrue),
                Takes::List => arg.value_name(word.value_name).action(ArgAction::Append),
                _ => arg.value_name(word.value_name).action(ArgAction::Set),
            });
        }
        command
            .arg(
                Arg::new(SEED)
                    .long(SEED)
                    .value_name("N")
                    .value_parser(value_parser!(u64))
                    .requires(DETERMINISTIC)
                    .help("The seed of --deterministic."),
            )
            .arg(
                Arg::new(GRANTS_FILE)
                    .long(GRANTS_FILE)
                    .value_name("FILE.toml")
                    .value_parser(value_parser!(PathBuf))
                    .help(
                        "Read grants from a TOML file (same vocabulary as these flags); flags \
                         add to it.",
                    ),
            )
    }

    fn augment_args_for_update(command: Command) -> Command {
        Self::augment_args(command)
    }
}

impl FromArgMatches for GrantFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = Self::default();
        flags.update_from_arg_matches(matches)?;
        Ok(flags)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for word in flags() {
            match word.takes {
                Takes::Switch => {
                    if matches.get_flag(word.name) {
                        self.given.push((word.name, "true".to_owned()));
                    }
                }
                _ => {
                    let values = matches.get_many::<String>(word.name).into_iter().flatten();
                    self.given
                        .extend(values.map(|value| (word.name, value.clone())));
                }
            }
        }
        self.seed = matches.get_one::<u64>(SEED).copied();
        self.grants_file = matches.get_one::<PathBuf>(GRANTS_FILE).cloned();
        Ok(())
    }
}

impl GrantFlags {
    /// The grants these flags describe.
    pub fn to_grants(&self) -> Result<Grants, Failure> {
        let mut grants = match &self.grants_file {
            Some(path) => Grants::from_file(path)?,
            None => Grants::none(),
        };
        // The flags are the grants vocabulary's words: one parser for both.
        for (word, value) in &self.given {
            grants = grants
                .add(word, value)
                .map_err(|e| Failure::Usage(format!("--{word}: {e}")))?;
        }
        if let Some(seed) = self.seed {
            grants = grants.deterministic(seed);
        }
        Ok(grants)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(args: &[&str]) -> Grants {
        match parse(args).to_grants() {
            Ok(grants) => grants,
            Err(_) => panic!("no grants from {args:?}"),
        }
    }

    fn parse(args: &[&str]) -> GrantFlags {
        let command = GrantFlags::augment_args(Command::new("t").no_binary_name(true));
        let matches = command.try_get_matches_from(args).expect("valid flags");
        GrantFlags::from_arg_matches(&matches).expect("matches")
    }

    #[test]
    fn each_flag_is_its_word() {
        let granted = grants(&[
            "--dir",
            "/srv::/data",
            "--env",
            "LANG",
            "--env",
            "MODE=fast",
            "--allow-net",
            "127.0.0.1:80",
            "--allow-name-lookup",
            "--stdin",
            "--deterministic",
            "--seed",
            "7",
        ]);
        assert_eq!(granted.dirs().len(), 1);
        assert_eq!(granted.env_names(), ["LANG", "MODE"]);
        assert_eq!(granted.net()[0].to_string(), "127.0.0.1:80");
        assert!(granted.name_lookup() && granted.stdin_inherited());
        assert_eq!(granted.deterministic_seed(), Some(7));
        assert_eq!(grants(&["--deterministic"]).deterministic_seed(), Some(0));
    }

    #[test]
    fn every_flag_word_of_the_vocabulary_is_a_flag() {
        let command = GrantFlags::augment_args(Command::new("t"));
        for word in flags() {
            assert!(
                command
                    .get_arguments()
                    .any(|arg| arg.get_long() == Some(word.name)),
                "--{}",
                word.name
            );
        }
    }

    #[test]
    fn a_bad_value_names_its_flag() {
        let Err(Failure::Usage(message)) = parse(&["--allow-net", "nowhere"]).to_grants() else {
            panic!("a usage error");
        };
        assert!(message.starts_with("--allow-net: "), "{message}");
    }
}
