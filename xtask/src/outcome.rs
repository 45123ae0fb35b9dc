//! The outcome of one QEMU run, decoded from QEMU's exit code and the serial console.
//!
//! Follows the kernel<->xtask protocol (notes/PROTOCOL.md): the kernel ends with exactly
//! one of `spindle: exit status N` or `spindle: kernel panic: ...` and then writes 0x10
//! (exit) or 0x11 (panic) to `isa-debug-exit`, which makes QEMU exit with
//! `(value << 1) | 1`, i.e. 33 or 35. With `-no-reboot` a triple fault makes QEMU exit 0,
//! so 0 is never a success.

use std::fmt;

/// Every kernel console line starts with this; everything else is program output.
pub const KERNEL_PREFIX: &str = "spindle: ";
/// The kernel's last line when the program ended normally or by a signal.
pub const EXIT_STATUS_PREFIX: &str = "spindle: exit status ";
/// The kernel's last line when the kernel itself failed.
pub const PANIC_PREFIX: &str = "spindle: kernel panic";
/// QEMU's exit code after the kernel wrote 0x10 to isa-debug-exit.
pub const QEMU_RC_EXIT: i32 = (0x10 << 1) | 1;
/// QEMU's exit code after the kernel wrote 0x11 to isa-debug-exit.
pub const QEMU_RC_PANIC: i32 = (0x11 << 1) | 1;

/// How the QEMU process ended, as seen by the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// QEMU exited by itself with this code.
    Exited(i32),
    /// QEMU was killed by this signal (not by us).
    Signalled(i32),
    /// QEMU ran past the timeout (in seconds) and xtask killed it.
    TimedOut(u64),
}

/// The one thing a run ended with; printed as the final line of `cargo xtask run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The program ended with this status (128 + signal for a killed program).
    Exit(u8),
    /// The kernel panicked, faulted in kernel mode or triple-faulted.
    KernelPanic,
    /// No outcome before the timeout; xtask killed QEMU.
    TimedOut(u64),
    /// QEMU did not run the kernel to an outcome (bad arguments, crash, signal).
    QemuFailed(String),
}

impl Outcome {
    /// The exit code `cargo xtask run` ends with: the program's status, else 255.
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Exit(status) => *status,
            _ => 255,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Exit(status) => write!(f, "exit status {status}"),
            Outcome::KernelPanic => f.write_str("kernel panic"),
            Outcome::TimedOut(secs) => write!(f, "timed out after {secs} s"),
            Outcome::QemuFailed(why) => write!(f, "qemu failed: {why}"),
        }
    }
}

/// Splits one raw console line (without its `\n`) into display lines: strips every `\r`
/// and puts a kernel line that follows unterminated program output on its own line, so
/// `printf("no newline")` before exit still yields the `spindle: exit status` line.
pub fn split_console_line(raw: &str) -> Vec<String> {
    let line: String = raw.chars().filter(|&c| c != '\r').collect();
    match line.find(KERNEL_PREFIX) {
        Some(at) if at > 0 => vec![line[..at].to_string(), line[at..].to_string()],
        _ => vec![line],
    }
}

/// Whether a console line came from the kernel.
pub fn is_kernel_line(line: &str) -> bool {
    line.starts_with(KERNEL_PREFIX)
}

/// Console lines tagged with whether the kernel wrote them. Everything from the first
/// `spindle: kernel panic` line on counts as kernel output: a panic message and the
/// register dump after it may span several lines, and no program runs after a panic.
fn tagged(lines: &[String]) -> impl Iterator<Item = (bool, &str)> {
    let panic_at = lines
        .iter()
        .position(|l| l.starts_with(PANIC_PREFIX))
        .unwrap_or(usize::MAX);
    lines
        .iter()
        .enumerate()
        .map(move |(i, l)| (i >= panic_at || is_kernel_line(l), l.as_str()))
}

/// The console lines that came from the program.
pub fn program_lines(lines: &[String]) -> Vec<&str> {
    tagged(lines)
        .filter(|(kernel, _)| !kernel)
        .map(|(_, l)| l)
        .collect()
}

/// The console lines that came from the kernel.
pub fn kernel_lines(lines: &[String]) -> Vec<&str> {
    tagged(lines)
        .filter(|(kernel, _)| *kernel)
        .map(|(_, l)| l)
        .collect()
}

fn last_exit_status(lines: &[String]) -> Option<u8> {
    lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix(EXIT_STATUS_PREFIX))
        .and_then(|rest| rest.trim().parse::<u8>().ok())
}

fn has_panic_line(lines: &[String]) -> bool {
    lines.iter().any(|l| l.starts_with(PANIC_PREFIX))
}

/// Decodes a run: QEMU's termination, the console lines and QEMU's stderr.
pub fn decode(term: Termination, lines: &[String], stderr: &str) -> Outcome {
    match term {
        Termination::TimedOut(secs) => Outcome::TimedOut(secs),
        Termination::Signalled(sig) => Outcome::QemuFailed(format!("killed by signal {sig}")),
        Termination::Exited(QEMU_RC_EXIT) => match last_exit_status(lines) {
            Some(status) if !has_panic_line(lines) => Outcome::Exit(status),
            _ if has_panic_line(lines) => Outcome::KernelPanic,
            _ => Outcome::QemuFailed(
                "debug-exit 0x10 without a `spindle: exit status N` line".to_string(),
            ),
        },
        Termination::Exited(QEMU_RC_PANIC) => Outcome::KernelPanic,
        // -no-reboot turns the reset after a triple fault into a clean QEMU exit.
        Termination::Exited(0) => Outcome::KernelPanic,
        Termination::Exited(rc) => {
            let first = stderr.lines().map(str::trim).find(|l| !l.is_empty());
            let detail = match first {
                Some(line) => format!("exit code {rc}: {line}"),
                None if rc % 2 == 1 && rc > 1 => {
                    format!("exit code {rc} (debug-exit value {:#x})", rc >> 1)
                }
                None => format!("exit code {rc}"),
            };
            Outcome::QemuFailed(detail)
        }
    }
}

/// An explanation worth printing before the final line, when the outcome alone hides it.
pub fn note(term: Termination, lines: &[String]) -> Option<String> {
    match term {
        Termination::Exited(0) => Some(
            "QEMU exited 0: the guest reset (triple fault) before reporting an outcome".to_string(),
        ),
        Termination::Exited(QEMU_RC_PANIC) if !has_panic_line(lines) => {
            Some("debug-exit 0x11 (panic) without a `spindle: kernel panic` line".to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exit_code_33_with_status_line_is_that_status() {
        let console = lines(&["hello", "spindle: exit status 42"]);
        assert_eq!(
            decode(Termination::Exited(33), &console, ""),
            Outcome::Exit(42)
        );
        assert_eq!(Outcome::Exit(42).exit_code(), 42);
    }

    #[test]
    fn the_last_status_line_counts() {
        let console = lines(&["spindle: exit status 1", "spindle: exit status 139"]);
        assert_eq!(
            decode(Termination::Exited(33), &console, ""),
            Outcome::Exit(139)
        );
    }

    #[test]
    fn exit_code_33_without_status_line_is_a_qemu_failure() {
        let outcome = decode(Termination::Exited(33), &lines(&["hi"]), "");
        assert!(matches!(outcome, Outcome::QemuFailed(_)));
        assert_eq!(outcome.exit_code(), 255);
    }

    #[test]
    fn exit_code_35_is_a_kernel_panic() {
        let console = lines(&["spindle: kernel panic: page fault at 0x0"]);
        assert_eq!(
            decode(Termination::Exited(35), &console, ""),
            Outcome::KernelPanic
        );
        assert_eq!(Outcome::KernelPanic.exit_code(), 255);
    }

    #[test]
    fn exit_code_0_is_a_triple_fault_panic_never_a_pass() {
        assert_eq!(
            decode(Termination::Exited(0), &[], ""),
            Outcome::KernelPanic
        );
        assert!(note(Termination::Exited(0), &[]).is_some());
    }

    #[test]
    fn timeout_is_reported_with_its_seconds() {
        let outcome = decode(Termination::TimedOut(5), &[], "");
        assert_eq!(outcome.to_string(), "timed out after 5 s");
        assert_eq!(outcome.exit_code(), 255);
    }

    #[test]
    fn other_exit_codes_are_qemu_failures_quoting_stderr() {
        let outcome = decode(
            Termination::Exited(1),
            &[],
            "\nqemu: could not load kernel\n",
        );
        assert_eq!(
            outcome.to_string(),
            "qemu failed: exit code 1: qemu: could not load kernel"
        );
    }

    #[test]
    fn a_signal_is_a_qemu_failure() {
        let outcome = decode(Termination::Signalled(9), &[], "");
        assert_eq!(outcome.to_string(), "qemu failed: killed by signal 9");
    }

    #[test]
    fn final_lines_read_exactly_as_the_protocol_says() {
        assert_eq!(Outcome::Exit(0).to_string(), "exit status 0");
        assert_eq!(Outcome::KernelPanic.to_string(), "kernel panic");
    }

    #[test]
    fn console_lines_lose_carriage_returns() {
        assert_eq!(split_console_line("hello\r"), vec!["hello"]);
    }

    #[test]
    fn kernel_line_after_unterminated_output_is_split_off() {
        assert_eq!(
            split_console_line("no newlinespindle: exit status 0\r"),
            vec!["no newline", "spindle: exit status 0"]
        );
    }

    #[test]
    fn program_and_kernel_lines_are_told_apart() {
        let console = lines(&["spindle: [INFO] boot", "out", "spindle: exit status 0"]);
        assert_eq!(program_lines(&console), vec!["out"]);
        assert_eq!(kernel_lines(&console).len(), 2);
    }

    #[test]
    fn lines_after_a_kernel_panic_belong_to_the_kernel() {
        let console = lines(&[
            "out",
            "spindle: kernel panic: panicked at trap.rs:1:1:",
            "page fault at address 0x0",
            "rax 0x0",
        ]);
        assert_eq!(program_lines(&console), vec!["out"]);
        assert_eq!(kernel_lines(&console)[1], "page fault at address 0x0");
    }
}
