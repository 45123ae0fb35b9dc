use super::*;
use alloc::string::ToString;
use alloc::vec;

fn argv(c: &Cmdline) -> Vec<&str> {
    c.program
        .as_ref()
        .map_or(vec![], |p| p.argv.iter().map(String::as_str).collect())
}

#[test]
fn options_before_separator_and_program_after() {
    let c = parse("log=debug test=panic sched=fifo env=A=1 env=B=x=y -- /bin/hello a b").unwrap();
    assert_eq!(c.log, Some(LogLevel::Debug));
    assert_eq!(c.test.as_deref(), Some("panic"));
    assert_eq!(c.sched.as_deref(), Some("fifo"));
    assert_eq!(c.env, ["A=1", "B=x=y"]);
    assert_eq!(argv(&c), ["/bin/hello", "a", "b"]);
    assert_eq!(c.program.unwrap().path(), "/bin/hello");
    assert!(c.unknown.is_empty());
}

#[test]
fn no_separator_means_no_program() {
    let c = parse("log=info").unwrap();
    assert_eq!(c.program, None);
    assert_eq!(parse("").unwrap(), Cmdline::default());
    assert_eq!(parse("   \t\n ").unwrap(), Cmdline::default());
    assert_eq!(parse("log=warn --").unwrap().program, None);
}

#[test]
fn words_after_separator_are_never_options() {
    let c = parse("-- prog log=debug -- env=X=1").unwrap();
    assert_eq!(c.log, None);
    assert!(c.env.is_empty());
    assert_eq!(argv(&c), ["prog", "log=debug", "--", "env=X=1"]);
}

#[test]
fn unknown_keys_and_bad_values_are_kept_not_fatal() {
    let c = parse("quiet foo=bar log=loud env=NOEQUALS env==x test= log=error").unwrap();
    assert_eq!(
        c.unknown,
        [
            "quiet",
            "foo=bar",
            "log=loud",
            "env=NOEQUALS",
            "env==x",
            "test="
        ]
    );
    assert_eq!(c.log, Some(LogLevel::Error));
}

#[test]
fn later_option_overrides_earlier() {
    assert_eq!(parse("log=debug log=off").unwrap().log, Some(LogLevel::Off));
}

#[test]
fn quotes_keep_spaces_and_escapes_give_quote_and_backslash() {
    let c = parse(r#""env=G=hello world" -- prog "two words" "" a"b c"d \"q\" back\\slash C:\dir"#)
        .unwrap();
    assert_eq!(c.env, ["G=hello world"]);
    assert_eq!(
        argv(&c),
        [
            "prog",
            "two words",
            "",
            "ab cd",
            "\"q\"",
            "back\\slash",
            "C:\\dir"
        ]
    );
}

#[test]
fn quoted_separator_is_an_ordinary_word() {
    let c = parse(r#"log=info "--" -- x"#).unwrap();
    assert_eq!(c.unknown, ["--"]);
    assert_eq!(argv(&c), ["x"]);
}

#[test]
fn unterminated_quote_is_an_error() {
    assert_eq!(
        parse(r#"-- a "b c"#),
        Err(CmdlineError::UnterminatedQuote { offset: 5 })
    );
    assert!(parse(r#"-- "\""#).is_err());
}

#[test]
fn quote_round_trips_awkward_words() {
    let words = [
        "",
        " ",
        "--",
        "-",
        "a b",
        "\"",
        "\\",
        "\\\"",
        "tab\there",
        "new\nline",
        "x=y",
        "ünï",
        "trailing\\",
        "\"quoted\"",
        "a\\b",
    ];
    let line = join(&words);
    let back: Vec<String> = split_words(&line)
        .unwrap()
        .into_iter()
        .map(|w| w.text)
        .collect();
    assert_eq!(back, words);
    assert_eq!(quote("plain"), "plain");
    assert_eq!(quote(""), "\"\"");
}

#[test]
fn render_parses_back_to_the_same_cmdline() {
    let c = Cmdline {
        log: Some(LogLevel::Trace),
        test: Some("page-fault".into()),
        sched: Some("round robin".into()),
        env: vec!["PATH=/bin".into(), "MSG=a \"b\" \\c".into()],
        program: Some(Program {
            argv: vec!["/bin/args".into(), "".into(), "--".into(), "x y".into()],
        }),
        unknown: vec!["quiet".into()],
    };
    let line = c.render();
    assert_eq!(parse(&line).unwrap(), c, "{line}");
    assert_eq!(
        parse(&Cmdline::default().render()).unwrap(),
        Cmdline::default()
    );
}

#[test]
fn every_prefix_of_a_line_parses_or_errors_without_panicking() {
    let line = r#"log=debug "env=A=b c" -- "x\"y" z\\ "ü""#;
    for (i, _) in line.char_indices() {
        let _ = parse(&line[..i]);
    }
    assert_eq!(
        CmdlineError::UnterminatedQuote { offset: 3 }.to_string(),
        "command line: quote at byte 3 is never closed"
    );
}
