//! Expectation files (`tests/programs/NAME.expect`, `tests/programs/rust/NAME.expect`):
//! parsing and comparison with a run.
//!
//! Format (notes/PROTOCOL.md): header lines `key: value` (`args`, `env`, `status`,
//! `order`, `smp`, `timeout`, `kernel`, `libc`), a `---` line, then the expected program
//! output, compared exactly or, with `order: any`, as a multiset of lines.

use crate::outcome::{self, Outcome};
use crate::programs::Libc;

/// How expected output is compared with the program's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Line by line, in order.
    Exact,
    /// As sorted multisets: threads may print in any order.
    Any,
}

/// One parsed expectation file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// Program arguments, already cmdline-quoted: pasted after the program path.
    pub args: String,
    /// `NAME=VALUE` environment entries, in file order.
    pub env: Vec<String>,
    /// The exit status the program must end with.
    pub status: u8,
    pub order: Order,
    /// CPU counts to run with.
    pub smp: Vec<u32>,
    /// Seconds before the run counts as hung.
    pub timeout: u64,
    /// Substrings that some kernel line must contain.
    pub kernel: Vec<String>,
    /// The C builds to run; `None` means every libc.
    pub libc: Option<Vec<Libc>>,
    /// Expected program output lines (kernel lines excluded).
    pub output: Vec<String>,
}

/// Default seconds before a matrix run counts as hung.
pub const DEFAULT_TIMEOUT: u64 = 30;

/// Parses an expectation file; the error names the line.
pub fn parse(text: &str) -> Result<Expectation, String> {
    let mut exp = Expectation {
        args: String::new(),
        env: Vec::new(),
        status: 0,
        order: Order::Exact,
        smp: vec![1],
        timeout: DEFAULT_TIMEOUT,
        kernel: Vec::new(),
        libc: None,
        output: Vec::new(),
    };
    let mut status = None;
    let mut lines = text.lines().enumerate();
    let mut separated = false;
    for (index, line) in lines.by_ref() {
        let number = index + 1;
        if line.trim_end() == "---" {
            separated = true;
            break;
        }
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(format!("line {number}: expected `key: value` or `---`"));
        };
        let value = value.trim();
        let bad = |what: &str| format!("line {number}: bad {what} `{value}`");
        match key.trim() {
            "args" => exp.args = value.to_string(),
            "env" => {
                if !value.contains('=') {
                    return Err(bad("env (want NAME=VALUE)"));
                }
                exp.env.push(value.to_string());
            }
            "status" => status = Some(value.parse::<u8>().map_err(|_| bad("status"))?),
            "order" => {
                exp.order = match value {
                    "exact" => Order::Exact,
                    "any" => Order::Any,
                    _ => return Err(bad("order (want exact or any)")),
                }
            }
            "smp" => {
                let counts: Result<Vec<u32>, _> =
                    value.split_whitespace().map(str::parse::<u32>).collect();
                match counts {
                    Ok(c) if !c.is_empty() && c.iter().all(|&n| (1..=64).contains(&n)) => {
                        exp.smp = c
                    }
                    _ => return Err(bad("smp")),
                }
            }
            "timeout" => match value.parse::<u64>() {
                Ok(secs) if secs > 0 => exp.timeout = secs,
                _ => return Err(bad("timeout")),
            },
            "kernel" => exp.kernel.push(value.to_string()),
            "libc" => {
                let libcs: Option<Vec<Libc>> =
                    value.split_whitespace().map(Libc::from_name).collect();
                match libcs {
                    Some(l) if !l.is_empty() => exp.libc = Some(l),
                    _ => return Err(bad("libc")),
                }
            }
            other => return Err(format!("line {number}: unknown key `{other}`")),
        }
    }
    if !separated {
        return Err("no `---` line before the expected output".to_string());
    }
    exp.status = status.ok_or("no `status:` line")?;
    exp.output = lines.map(|(_, l)| l.to_string()).collect();
    Ok(exp)
}

impl Expectation {
    /// Whether the expectation asks for the given C build.
    pub fn wants(&self, libc: Libc) -> bool {
        self.libc.as_ref().is_none_or(|l| l.contains(&libc))
    }

    /// Compares a run with the expectation: `Ok` on a match, else the lines that explain
    /// the difference (outcome, first differing output lines, missing kernel lines).
    pub fn check(&self, outcome: &Outcome, console: &[String]) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if *outcome != Outcome::Exit(self.status) {
            problems.push(format!(
                "expected exit status {}, got {outcome}",
                self.status
            ));
        }
        let got = outcome::program_lines(console);
        let expected: Vec<&str> = self.output.iter().map(String::as_str).collect();
        match self.order {
            Order::Exact => problems.extend(diff_exact(&expected, &got)),
            Order::Any => problems.extend(diff_multiset(&expected, &got)),
        }
        let kernel = outcome::kernel_lines(console);
        for needle in &self.kernel {
            if !kernel.iter().any(|l| l.contains(needle.as_str())) {
                problems.push(format!("no kernel line contains `{needle}`"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// The first differing line with a little context, or nothing when equal.
pub fn diff_exact(expected: &[&str], got: &[&str]) -> Vec<String> {
    let Some(at) = (0..expected.len().max(got.len())).find(|&i| expected.get(i) != got.get(i))
    else {
        return Vec::new();
    };
    let mut out = vec![format!(
        "output differs at line {} (expected {} lines, got {}):",
        at + 1,
        expected.len(),
        got.len()
    )];
    for i in at..(at + 3) {
        let (e, g) = (expected.get(i), got.get(i));
        if e.is_none() && g.is_none() {
            break;
        }
        let show = |l: Option<&&str>| l.map_or("<none>".to_string(), |l| format!("{l:?}"));
        out.push(format!("  line {}: expected {}", i + 1, show(e)));
        out.push(format!("  line {}: got      {}", i + 1, show(g)));
    }
    out
}

/// Missing and unexpected lines when output is compared as a multiset.
pub fn diff_multiset(expected: &[&str], got: &[&str]) -> Vec<String> {
    let mut missing: Vec<&str> = expected.to_vec();
    let mut unexpected = Vec::new();
    for line in got {
        match missing.iter().position(|m| m == line) {
            Some(i) => {
                missing.swap_remove(i);
            }
            None => unexpected.push(*line),
        }
    }
    missing.sort_unstable();
    let mut out = Vec::new();
    if !missing.is_empty() || !unexpected.is_empty() {
        out.push(format!(
            "output differs as a multiset ({} lines missing, {} unexpected):",
            missing.len(),
            unexpected.len()
        ));
    }
    for line in missing.iter().take(10) {
        out.push(format!("  missing    {line:?}"));
    }
    for line in unexpected.iter().take(10) {
        out.push(format!("  unexpected {line:?}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn console(text: &[&str]) -> Vec<String> {
        text.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn full_header_is_parsed() {
        let exp = parse(
            "args: a b \"c d\"\nenv: K=V\nenv: X=1\nstatus: 3\norder: any\nsmp: 1 2 4\n\
             timeout: 10\nkernel: killed by SIGSEGV\nlibc: musl\n---\nline 1\nline 2\n",
        )
        .unwrap();
        assert_eq!(exp.args, "a b \"c d\"");
        assert_eq!(exp.env, vec!["K=V", "X=1"]);
        assert_eq!(exp.status, 3);
        assert_eq!(exp.order, Order::Any);
        assert_eq!(exp.smp, vec![1, 2, 4]);
        assert_eq!(exp.timeout, 10);
        assert_eq!(exp.kernel, vec!["killed by SIGSEGV"]);
        assert_eq!(exp.libc, Some(vec![Libc::Musl]));
        assert_eq!(exp.output, vec!["line 1", "line 2"]);
        assert!(exp.wants(Libc::Musl) && !exp.wants(Libc::Glibc));
    }

    #[test]
    fn defaults_apply_to_a_minimal_file() {
        let exp = parse("status: 0\n---\n").unwrap();
        assert_eq!(exp.smp, vec![1]);
        assert_eq!(exp.timeout, DEFAULT_TIMEOUT);
        assert_eq!(exp.order, Order::Exact);
        assert!(exp.output.is_empty());
        assert!(exp.wants(Libc::Glibc));
    }

    #[test]
    fn output_keeps_blank_lines_and_colons() {
        let exp = parse("status: 0\n---\nkey: value\n\n---\n").unwrap();
        assert_eq!(exp.output, vec!["key: value", "", "---"]);
    }

    #[test]
    fn missing_status_is_an_error() {
        assert!(parse("order: any\n---\n").unwrap_err().contains("status"));
    }

    #[test]
    fn missing_separator_is_an_error() {
        assert!(parse("status: 0\n").is_err());
    }

    #[test]
    fn unknown_key_and_bad_values_name_the_line() {
        assert_eq!(
            parse("status: 0\ncolour: red\n---\n").unwrap_err(),
            "line 2: unknown key `colour`"
        );
        assert!(
            parse("status: 300\n---\n")
                .unwrap_err()
                .starts_with("line 1")
        );
        assert!(parse("status: 0\nsmp: 0\n---\n").is_err());
        assert!(parse("status: 0\norder: sorted\n---\n").is_err());
        assert!(parse("status: 0\nlibc: bionic\n---\n").is_err());
    }

    #[test]
    fn exact_match_passes_and_kernel_lines_are_ignored_in_output() {
        let exp = parse("status: 0\n---\na\nb\n").unwrap();
        let run = console(&["spindle: [INFO] hi", "a", "b", "spindle: exit status 0"]);
        assert_eq!(exp.check(&Outcome::Exit(0), &run), Ok(()));
    }

    #[test]
    fn exact_mismatch_names_the_first_differing_line() {
        let exp = parse("status: 0\n---\na\nb\nc\n").unwrap();
        let problems = exp
            .check(&Outcome::Exit(0), &console(&["a", "x", "c"]))
            .unwrap_err();
        assert!(problems[0].contains("line 2"));
        assert!(problems.iter().any(|p| p.contains("\"x\"")));
    }

    #[test]
    fn missing_trailing_line_is_a_difference() {
        let exp = parse("status: 0\n---\na\nb\n").unwrap();
        let problems = exp.check(&Outcome::Exit(0), &console(&["a"])).unwrap_err();
        assert!(problems.iter().any(|p| p.contains("<none>")));
    }

    #[test]
    fn any_order_compares_multisets() {
        let exp = parse("status: 0\norder: any\n---\nx\nx\ny\n").unwrap();
        assert_eq!(
            exp.check(&Outcome::Exit(0), &console(&["y", "x", "x"])),
            Ok(())
        );
        let problems = exp
            .check(&Outcome::Exit(0), &console(&["y", "x", "z"]))
            .unwrap_err();
        assert!(problems.iter().any(|p| p.contains("missing    \"x\"")));
        assert!(problems.iter().any(|p| p.contains("unexpected \"z\"")));
    }

    #[test]
    fn wrong_status_or_panic_fails() {
        let exp = parse("status: 139\n---\n").unwrap();
        assert_eq!(exp.check(&Outcome::Exit(139), &[]), Ok(()));
        assert!(exp.check(&Outcome::Exit(0), &[]).is_err());
        assert!(exp.check(&Outcome::KernelPanic, &[]).is_err());
    }

    #[test]
    fn kernel_substrings_must_appear_in_kernel_lines() {
        let exp = parse("status: 139\nkernel: at address 0x0\n---\n").unwrap();
        let good = console(&["spindle: program killed by SIGSEGV at address 0x0, rip 0x401000"]);
        assert_eq!(exp.check(&Outcome::Exit(139), &good), Ok(()));
        // Program output that mentions the text does not count.
        let problems = exp
            .check(&Outcome::Exit(139), &console(&["at address 0x0"]))
            .unwrap_err();
        assert!(problems.iter().any(|p| p.contains("no kernel line")));
    }
}
