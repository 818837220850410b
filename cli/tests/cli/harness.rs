//! `componentry test` (a plugin author's test harness) and `componentry new`.

use std::path::Path;

use crate::{Run, guest, path_arg, stderr, stdout};

fn cases(dir: &Path, text: &str) -> String {
    let path = dir.join("cases.toml");
    std::fs::write(&path, text).expect("write cases");
    path_arg(&path)
}

#[test]
fn passing_cases_exit_0_with_a_line_each() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = cases(
        dir.path(),
        r#"
[[case]]
name = "greets"
call = 'greet("Ada")'
expect = '"Hello, Ada!"'
log-contains = "greeting Ada"

[[case]]
call = 'greet("Bo")'
settings = { greeting = "Howdy" }
expect = '"Howdy, Bo!"'
"#,
    );
    let out = Run::new(&["test", &path_arg(&guest("hello-rust")), &file]).expect(0);
    assert_eq!(
        stdout(&out),
        "ok     greets\nok     greet(\"Bo\")\n2 passed, 0 failed\n"
    );
}

#[test]
fn failing_cases_say_why_and_exit_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = cases(
        dir.path(),
        r#"
[[case]]
name = "wrong result"
call = 'greet("Ada")'
expect = '"Goodbye, Ada!"'

[[case]]
name = "wrong log"
call = 'greet("Ada")'
log-contains = "Bo"

[[case]]
name = "an error that does not come"
call = 'greet("Ada")'
expect-error = "trap"

[[case]]
name = "right"
call = 'greet("Ada")'
"#,
    );
    let out = Run::new(&["test", &path_arg(&guest("hello-rust")), &file]).expect(1);
    let text = stdout(&out);
    assert!(
        text.contains(
            r#"FAILED wrong result (line 2): expected "Goodbye, Ada!", got "Hello, Ada!""#
        ),
        "{text}"
    );
    assert!(
        text.contains("FAILED wrong log (line 7): the plugin's log does not contain `Bo`"),
        "{text}"
    );
    assert!(
        text.contains("FAILED an error that does not come (line 12): expected a `trap` error"),
        "{text}"
    );
    assert!(text.contains("ok     right\n"), "{text}");
    assert!(text.ends_with("1 passed, 3 failed\n"), "{text}");
}

#[test]
fn error_kinds_limits_and_grants_per_case() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = cases(
        dir.path(),
        r#"
[defaults]
limits = { fuel = 100000000 }

[[case]]
call = 'forever()'
limits = { fuel = 100000 }
expect-error = "fuel"

[[case]]
call = 'forever()'
limits = { timeout-ms = 50 }
expect-error = "deadline"

[[case]]
call = 'allocate(64)'
limits = { max-memory = 16777216 }
expect-error = "memory"

[[case]]
call = 'panic-with("boom")'
expect-error = "trap"
error-contains = "boom"

[[case]]
call = 'divide(1)'
expect-error = "bad-arguments"

[[case]]
call = 'spin(10)'
"#,
    );
    let out = Run::new(&["test", &path_arg(&guest("faults")), &file]).expect(0);
    assert!(
        stdout(&out).ends_with("6 passed, 0 failed\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn stubs_stand_in_for_the_applications_imports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stubbed = cases(
        dir.path(),
        r#"
[stubs]
"vault#secret" = '"from a stub"'

[[case]]
call = 'peek()'
expect = '"the secret is from a stub"'
"#,
    );
    let vault_user = path_arg(&guest("vault-user"));
    Run::new(&["test", &vault_user, &stubbed]).expect(0);

    let unstubbed = cases(
        dir.path(),
        "[[case]]\ncall = 'peek()'\nexpect-error = \"trap\"\nerror-contains = \"has no stub\"\n",
    );
    Run::new(&["test", &vault_user, &unstubbed]).expect(0);

    let unknown = cases(
        dir.path(),
        "[stubs]\n\"vault#nothing\" = '1'\n[[case]]\ncall = 'peek()'\n",
    );
    let out = Run::new(&["test", &vault_user, &unknown]).expect(2);
    assert!(
        stderr(&out).contains("`vault#nothing` is not a function the plugin imports")
            && stderr(&out).contains("componentry:test/vault@0.1.0#secret"),
        "{}",
        stderr(&out)
    );

    let bad_value = cases(
        dir.path(),
        "[stubs]\n\"vault#secret\" = '42'\n[[case]]\ncall = 'peek()'\n",
    );
    let out = Run::new(&["test", &vault_user, &bad_value]).expect(1);
    assert!(stdout(&out).contains("not valid WAVE"), "{}", stdout(&out));
}

#[test]
fn a_case_brings_its_own_stubs_and_run_and_watch_take_them_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stubbed = cases(
        dir.path(),
        r#"
[stubs]
"vault#secret" = '"from the file"'

[[case]]
call = 'peek()'
expect = '"the secret is from the file"'

[[case]]
call = 'peek()'
stubs = { "vault#secret" = '"from the case"' }
expect = '"the secret is from the case"'

[[case]]
name = "the file's stubs again"
call = 'peek()'
expect = '"the secret is from the file"'
"#,
    );
    let vault_user = path_arg(&guest("vault-user"));
    let out = Run::new(&["test", &vault_user, &stubbed]).expect(0);
    assert!(
        stdout(&out).ends_with("3 passed, 0 failed\n"),
        "{}",
        stdout(&out)
    );

    // A case's stub replaces the file's for the same function, whatever the spelling; two keys
    // for one function in one table are a mistake; a stub of an interface the plugin does not
    // import at all is only warned about. (Each cases file of these in a directory of its own:
    // `cases` writes one file per directory.)
    let more = tempfile::tempdir().expect("tempdir");
    let spelled = cases(
        more.path(),
        r#"
[stubs]
"componentry:test/vault#secret" = '"from the file"'
"acme:elsewhere/clock#now" = '0'

[[case]]
call = 'peek()'
stubs = { "vault#secret" = '"from the case"' }
expect = '"the secret is from the case"'
"#,
    );
    let out = Run::new(&["test", &vault_user, &spelled]).expect(0);
    assert!(
        stderr(&out).contains("`acme:elsewhere/clock#now`: the plugin does not import"),
        "{}",
        stderr(&out)
    );
    let twice = cases(
        more.path(),
        "[stubs]\n\"vault#secret\" = '\"a\"'\n\"componentry:test/vault@0.1.0#secret\" = '\"b\"'\n\
         [[case]]\ncall = 'peek()'\n",
    );
    let out = Run::new(&["test", &vault_user, &twice]).expect(2);
    assert!(stderr(&out).contains("both stub"), "{}", stderr(&out));
    let wrong_version = cases(
        more.path(),
        "[stubs]\n\"componentry:test/vault@9.0.0#secret\" = '\"a\"'\n[[case]]\ncall = 'peek()'\n",
    );
    Run::new(&["test", &vault_user, &wrong_version]).expect(2);

    // `run` takes the same [stubs]; without them the plugin lacks its application.
    let out = Run::new(&[
        "run",
        &vault_user,
        "--stubs",
        &stubbed,
        "--invoke",
        "peek()",
    ])
    .expect(0);
    assert_eq!(stdout(&out), "\"the secret is from the file\"\n");
    let out = Run::new(&["run", &vault_user, "--invoke", "peek()"]).output();
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("componentry:test/vault"),
        "{}",
        stderr(&out)
    );
    let only_stubs = dir.path().join("stubs.toml");
    std::fs::write(&only_stubs, "[stubs]\n\"vault#secret\" = '\"only\"'\n").expect("write");
    let out = Run::new(&[
        "run",
        &vault_user,
        "--stubs",
        &path_arg(&only_stubs),
        "--invoke",
        "peek()",
    ])
    .expect(0);
    assert_eq!(stdout(&out), "\"the secret is only\"\n");
    std::fs::write(&only_stubs, "[stubs]\n\"vault#nothing\" = '1'\n").expect("write");
    let out = Run::new(&["run", &vault_user, "--stubs", &path_arg(&only_stubs)]).expect(2);
    assert!(stderr(&out).contains("`vault#nothing`"), "{}", stderr(&out));
    std::fs::write(&only_stubs, "[stubs]\n\"vault#secret\" = '\"open'\n").expect("write");
    let out = Run::new(&["run", &vault_user, "--stubs", &path_arg(&only_stubs)]).expect(2);
    assert!(stderr(&out).contains("not valid WAVE"), "{}", stderr(&out));

    // `watch` stands in for the imports of the plugins there when it starts.
    let watched = tempfile::tempdir().expect("tempdir");
    std::fs::copy(guest("vault-user"), watched.path().join("vault-user.wasm")).expect("copy");
    let watching = crate::Watching::start(
        &[
            &path_arg(watched.path()),
            "--stubs",
            &stubbed,
            "--invoke",
            "peek()",
        ],
        &[],
    );
    let line = watching.next_line();
    assert!(
        line.starts_with("loaded vault-user ")
            && line.ends_with("-> \"the secret is from the file\""),
        "{line}"
    );
}

#[test]
fn new_on_wit_that_does_not_resolve_says_where_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wit = dir.path().join("wit");
    std::fs::create_dir(&wit).expect("wit dir");
    std::fs::write(
        wit.join("app.wit"),
        "package acme:app@1.0.0;\n\ninterface x {\n  f: func(a: strin) -> u32;\n}\n\nworld w {\n  export x;\n}\n",
    )
    .expect("write");
    let out = Run::new(&["new", "rust", "p", "--wit", &path_arg(&wit)])
        .current_dir(dir.path())
        .expect(2);
    assert!(
        stderr(&out).contains("`strin` does not exist") && stderr(&out).contains("app.wit:4:"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_bad_cases_file_names_the_file_and_the_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hello = path_arg(&guest("hello-rust"));
    let file = cases(
        dir.path(),
        "[[case]]\ncall = 'greet(\"x\")'\nexpect-eror = \"trap\"\n",
    );
    let out = Run::new(&["test", &hello, &file]).expect(2);
    assert!(
        stderr(&out).contains("cases.toml")
            && stderr(&out).contains("line 3")
            && stderr(&out).contains("expect-eror"),
        "{}",
        stderr(&out)
    );
    let file = cases(dir.path(), "# nothing\n");
    let out = Run::new(&["test", &hello, &file]).expect(2);
    assert!(stderr(&out).contains("no [[case]]"), "{}", stderr(&out));
}

#[test]
fn new_makes_a_project_ready_to_build() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = dir.path().join("greeter-py");
    let out = Run::new(&["new", "python", &path_arg(&project)]).expect(0);
    assert!(
        stdout(&out).contains("componentry build"),
        "{}",
        stdout(&out)
    );
    for file in [
        "app.py",
        "plugin.toml",
        "cases.toml",
        "README.md",
        "wit/plugin.wit",
    ] {
        assert!(project.join(file).is_file(), "{file}");
    }
    let manifest = std::fs::read_to_string(project.join("plugin.toml")).expect("manifest");
    assert!(manifest.contains("name = \"greeter-py\""), "{manifest}");
    // Never over an existing project; never with a name that is not a plugin name.
    Run::new(&["new", "python", &path_arg(&project)]).expect(2);
    Run::new(&["new", "rust", &path_arg(&dir.path().join("Bad Name"))]).expect(2);
    let out = Run::new(&["new", "cobol", &path_arg(&dir.path().join("x"))]).expect(2);
    assert!(stderr(&out).contains("rust"), "{}", stderr(&out));
}

#[test]
fn new_generates_stubs_for_an_applications_world() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wit = dir.path().join("wit");
    std::fs::create_dir(&wit).expect("mkdir");
    std::fs::write(
        wit.join("text.wit"),
        "package acme:text@1.2.0;\ninterface transform { upper: func(text: string) -> string; }\n\
         world transformer { export transform; export count: func(text: string) -> u32; }\n",
    )
    .expect("wit");
    for language in ["rust", "python", "js"] {
        let project = dir.path().join(format!("text-{language}"));
        Run::new(&[
            "new",
            language,
            &path_arg(&project),
            "--wit",
            &path_arg(&wit),
            "--world",
            "transformer",
        ])
        .expect(0);
        let manifest = std::fs::read_to_string(project.join("plugin.toml")).expect("manifest");
        assert!(
            manifest.contains("world = \"acme:text/transformer\""),
            "{manifest}"
        );
        assert!(
            manifest.contains("extension-point = \"acme:text/transformer@^1.2.0\""),
            "{manifest}"
        );
        assert!(project.join("wit/text.wit").is_file());
        let cases = std::fs::read_to_string(project.join("cases.toml")).expect("cases");
        assert!(cases.contains("call = 'transform#upper(\"\")'"), "{cases}");
        // The README describes this project, not the greeter template it started from.
        let readme = std::fs::read_to_string(project.join("README.md")).expect("README");
        assert!(readme.contains("`acme:text/transformer`"), "{readme}");
        assert!(!readme.contains("greet"), "{readme}");
    }
    let out = Run::new(&[
        "new",
        "c",
        &path_arg(&dir.path().join("text-c")),
        "--wit",
        &path_arg(&wit),
    ])
    .expect(2);
    assert!(
        stderr(&out).contains("rust, python and js"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_missing_tool_is_named_with_its_install_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (language, install) in [
        ("python", "pip install componentize-py==0.25.1"),
        (
            "js",
            "npm install --save-dev @bytecodealliance/componentize-js@0.23.0",
        ),
    ] {
        let project = dir.path().join(format!("lonely-{language}"));
        Run::new(&["new", language, &path_arg(&project)]).expect(0);
        // A PATH without the language's tool (the tests' own tools live under target/tools).
        let out = Run::new(&["build", &path_arg(&project)])
            .env("PATH", "/usr/bin:/bin")
            .expect(1);
        let text = stderr(&out);
        assert!(
            text.contains("was not found") && text.contains(install),
            "{language}: {text}"
        );
        assert!(!text.contains("panicked"), "{text}");
    }
    let out = Run::new(&["build", &path_arg(dir.path())]).expect(2);
    assert!(stderr(&out).contains("componentry new"), "{}", stderr(&out));
}

#[test]
fn a_project_builds_when_named_by_a_relative_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    Run::new(&["new", "c", "relative-c"])
        .current_dir(dir.path())
        .expect(0);
    let out = Run::new(&["build", "relative-c"])
        .current_dir(dir.path())
        .expect(0);
    assert!(
        dir.path().join("relative-c/relative-c.wasm").is_file(),
        "{}",
        stderr(&out)
    );
}

#[test]
fn build_runs_a_tool_inside_the_project_only_where_its_manifest_declares_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    Run::new(&["new", "python", "planted"])
        .current_dir(dir.path())
        .expect(0);
    let project = dir.path().join("planted");
    // A project that ships its own `componentize-py`, which would run anything.
    let bin = project.join(".venv/bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let marker = dir.path().join("ran");
    let tool = bin.join("componentize-py");
    std::fs::write(
        &tool,
        format!("#!/bin/sh\ntouch '{}'\nexit 3\n", marker.display()),
    )
    .expect("write");
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    // Undeclared, it is not run: componentize-py comes from PATH (here, none).
    let out = Run::new(&["build", "planted"])
        .current_dir(dir.path())
        .env("PATH", "/usr/bin:/bin")
        .expect(1);
    assert!(!marker.exists(), "an undeclared project tool ran");
    assert!(stderr(&out).contains("componentize-py"), "{}", stderr(&out));
    // Declared in the manifest, it is run, and the build says which one it ran.
    let manifest = project.join("plugin.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    let declared = if text.contains("[build]") {
        text.replace("[build]", "[build]\nvenv = \".venv\"")
    } else {
        format!("{text}\n[build]\nvenv = \".venv\"\n")
    };
    std::fs::write(&manifest, declared).expect("write");
    let out = Run::new(&["build", "planted"])
        .current_dir(dir.path())
        .env("PATH", "/usr/bin:/bin")
        .expect(1);
    assert!(marker.exists(), "the declared venv's tool did not run");
    assert!(
        stderr(&out).contains(&format!("running componentize-py ({})", tool.display())),
        "{}",
        stderr(&out)
    );
    // A venv outside the project is refused.
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(
        &manifest,
        text.replace("venv = \".venv\"", "venv = \"../elsewhere\""),
    )
    .expect("write");
    let out = Run::new(&["build", "planted"])
        .current_dir(dir.path())
        .expect(2);
    assert!(
        stderr(&out).contains("inside the project"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn test_says_what_a_cases_file_grants_before_anything_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = cases(
        dir.path(),
        r#"
[[case]]
name = "reads\u001b[2J home"
call = 'probe#get-env("HOME")'
grants = { env = ["HOME"], dir = ["/tmp::/scratch"] }
expect = 'some("/root")'

[[case]]
name = "asks nothing"
call = 'probe#env-count()'
expect = '0'
"#,
    );
    let out = Run::new(&["test", &path_arg(&guest("prober")), &file])
        .env("HOME", "/root")
        .expect(0);
    let said = stderr(&out);
    let line = said
        .lines()
        .find(|l| l.contains("grants the plugin"))
        .unwrap_or_else(|| panic!("{said}"));
    assert!(
        line.contains("env HOME") && line.contains("dir /tmp::/scratch"),
        "{line}"
    );
    assert!(
        !said.contains('\u{1b}'),
        "a raw escape reached the terminal"
    );
    assert_eq!(
        said.lines()
            .filter(|l| l.contains("grants the plugin"))
            .count(),
        1,
        "a case granting nothing is not listed: {said}"
    );
}
