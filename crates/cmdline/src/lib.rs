//! The kernel command line: kernel options, then `--`, then the program to run.
//!
//! ```text
//! log=debug env=LANG=C "env=GREETING=hello world" -- /bin/args one "two words" ""
//! ```
//!
//! Words are separated by ASCII whitespace. A word may contain double-quoted parts, in
//! which whitespace is kept; `\"` and `\\` stand for `"` and `\` (inside or outside
//! quotes; any other backslash is literal). Before a standalone unquoted `--` come
//! `key=value` kernel options; after it, the program path and its arguments (`argv[0]`
//! is the path). Without `--` there is no program and the kernel runs its default.
//!
//! Options: `log=off|error|warn|info|debug|trace`, `test=NAME` (a boot self-test),
//! `sched=NAME` (policy hint, free-form), `env=NAME=VALUE` (repeatable, builds `envp`
//! in order). Anything else, and a known key with a bad value, lands in
//! [`Cmdline::unknown`] for the kernel to warn about: a typo never stops the boot.
//!
//! xtask builds the line with [`Cmdline::render`] (or [`quote`]), so any argument —
//! spaces, quotes, backslashes, empty strings — arrives unchanged. This crate owns the
//! syntax only; what each test or scheduler name means is the kernel's business.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Maximum log level from `log=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Off,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn from_name(name: &str) -> Option<LogLevel> {
        Some(match name {
            "off" => LogLevel::Off,
            "error" => LogLevel::Error,
            "warn" => LogLevel::Warn,
            "info" => LogLevel::Info,
            "debug" => LogLevel::Debug,
            "trace" => LogLevel::Trace,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Off => "off",
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// The program named after `--`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Program {
    /// `argv`, with `argv[0]` the program path; never empty.
    pub argv: Vec<String>,
}

impl Program {
    /// The path of the executable (`argv[0]`).
    pub fn path(&self) -> &str {
        self.argv.first().map_or("", String::as_str)
    }
}

/// A parsed command line. Later options override earlier ones, except `env`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cmdline {
    pub log: Option<LogLevel>,
    pub test: Option<String>,
    pub sched: Option<String>,
    /// `NAME=VALUE` strings for the program's `envp`, in command-line order.
    pub env: Vec<String>,
    pub program: Option<Program>,
    /// Option words that were not understood, unquoted, in order.
    pub unknown: Vec<String>,
}

/// Why a line cannot be split into words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmdlineError {
    /// A `"` opened at this byte offset is never closed.
    UnterminatedQuote { offset: usize },
}

impl fmt::Display for CmdlineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CmdlineError::UnterminatedQuote { offset } => {
                write!(f, "command line: quote at byte {offset} is never closed")
            }
        }
    }
}

/// One word of the line, unquoted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    /// Whether any part was quoted or escaped (a quoted `"--"` is an argument, not the
    /// separator).
    pub quoted: bool,
}

/// Splits a line into words, removing quotes and escapes.
pub fn split_words(line: &str) -> Result<Vec<Word>, CmdlineError> {
    let mut words = Vec::new();
    let mut chars = line.char_indices().peekable();
    loop {
        while chars.next_if(|&(_, c)| c.is_ascii_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(words);
        }
        let mut word = Word {
            text: String::new(),
            quoted: false,
        };
        let mut open_quote: Option<usize> = None;
        while let Some((offset, c)) = chars.next() {
            match c {
                '"' => {
                    word.quoted = true;
                    open_quote = if open_quote.is_some() {
                        None
                    } else {
                        Some(offset)
                    };
                }
                '\\' if matches!(chars.peek(), Some((_, '"' | '\\'))) => {
                    word.quoted = true;
                    if let Some((_, escaped)) = chars.next() {
                        word.text.push(escaped);
                    }
                }
                c if c.is_ascii_whitespace() && open_quote.is_none() => break,
                c => word.text.push(c),
            }
        }
        if let Some(offset) = open_quote {
            return Err(CmdlineError::UnterminatedQuote { offset });
        }
        words.push(word);
    }
}

/// Parses a kernel command line.
pub fn parse(line: &str) -> Result<Cmdline, CmdlineError> {
    let mut cmdline = Cmdline::default();
    let mut words = split_words(line)?.into_iter();
    for word in words.by_ref() {
        if word.text == "--" && !word.quoted {
            break;
        }
        cmdline.apply_option(word.text);
    }
    let argv: Vec<String> = words.map(|w| w.text).collect();
    if !argv.is_empty() {
        cmdline.program = Some(Program { argv });
    }
    Ok(cmdline)
}

impl Cmdline {
    fn apply_option(&mut self, word: String) {
        let Some((key, value)) = word.split_once('=') else {
            self.unknown.push(word);
            return;
        };
        match key {
            "log" => match LogLevel::from_name(value) {
                Some(level) => self.log = Some(level),
                None => self.unknown.push(word),
            },
            "test" if !value.is_empty() => self.test = Some(value.into()),
            "sched" if !value.is_empty() => self.sched = Some(value.into()),
            // An environment entry needs a non-empty NAME before its `=`.
            "env" if value.find('=').is_some_and(|i| i > 0) => self.env.push(value.into()),
            _ => self.unknown.push(word),
        }
    }

    /// The command line that parses back to `self` (unknown words included).
    pub fn render(&self) -> String {
        let mut words: Vec<String> = Vec::new();
        if let Some(level) = self.log {
            words.push(alloc::format!("log={}", level.name()));
        }
        if let Some(test) = &self.test {
            words.push(alloc::format!("test={test}"));
        }
        if let Some(sched) = &self.sched {
            words.push(alloc::format!("sched={sched}"));
        }
        words.extend(self.env.iter().map(|e| alloc::format!("env={e}")));
        words.extend(self.unknown.iter().cloned());
        let mut line = join(&words);
        if let Some(program) = &self.program {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str("-- ");
            line.push_str(&join(&program.argv));
        }
        line
    }
}

/// Quotes one word so that [`split_words`] gives it back unchanged.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word != "--"
        && !word
            .chars()
            .any(|c| c.is_ascii_whitespace() || c == '"' || c == '\\');
    if plain {
        return word.into();
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('"');
    for c in word.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Quotes each word and joins them with single spaces.
pub fn join<S: AsRef<str>>(words: &[S]) -> String {
    let mut line = String::new();
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        line.push_str(&quote(word.as_ref()));
    }
    line
}

#[cfg(test)]
mod tests;
