//! Running QEMU: the command line (notes/PROTOCOL.md), a real timeout that kills it, the
//! serial console streamed line by line, and installing QEMU/musl-gcc when missing.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::outcome::{self, Outcome, Termination};

pub const QEMU: &str = "qemu-system-x86_64";

/// How QEMU executes guest code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Accel {
    Tcg,
    Kvm,
}

/// Everything that goes on the QEMU command line.
#[derive(Debug, Clone)]
pub struct Config {
    pub kernel: PathBuf,
    pub initrd: Option<PathBuf>,
    pub append: String,
    pub smp: u32,
    pub memory: String,
    pub accel: Accel,
}

/// The QEMU arguments for a configuration.
pub fn args(c: &Config) -> Vec<String> {
    let (accel, cpu) = match c.accel {
        Accel::Tcg => ("tcg", "max"),
        // The KVM on some hosts emulates ring 0 without SSE: never the default.
        Accel::Kvm => ("kvm", "host"),
    };
    let mut a: Vec<String> = [
        "-M",
        "microvm",
        "-accel",
        accel,
        "-cpu",
        cpu,
        "-m",
        &c.memory,
        "-smp",
        &c.smp.to_string(),
        "-nodefaults",
        "-display",
        "none",
        "-no-reboot",
        "-serial",
        "stdio",
        "-device",
        "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-kernel",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.push(c.kernel.display().to_string());
    if let Some(initrd) = &c.initrd {
        a.push("-initrd".into());
        a.push(initrd.display().to_string());
    }
    a.push("-append".into());
    a.push(c.append.clone());
    a
}

/// What one run produced.
#[derive(Debug, Clone)]
pub struct Run {
    /// Console lines, `\r` stripped.
    pub lines: Vec<String>,
    pub termination: Termination,
    pub stderr: String,
    /// Wall time from spawning QEMU to its end.
    pub elapsed: Duration,
}

impl Run {
    pub fn outcome(&self) -> Outcome {
        outcome::decode(self.termination, &self.lines, &self.stderr)
    }
}

/// Boots `config`, killing QEMU after `timeout`; with `echo`, console lines go to stdout
/// as they arrive.
pub fn run(config: &Config, timeout: Duration, echo: bool) -> Run {
    let start = Instant::now();
    let spawned = Command::new(QEMU)
        .args(args(config))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            return Run {
                lines: Vec::new(),
                termination: Termination::Exited(-1),
                stderr: format!("cannot start {QEMU}: {e}"),
                elapsed: start.elapsed(),
            };
        }
    };
    let (tx, rx) = mpsc::channel::<String>();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut raw = Vec::new();
            while matches!(reader.read_until(b'\n', &mut raw), Ok(n) if n > 0) {
                let text = String::from_utf8_lossy(&raw);
                for line in outcome::split_console_line(text.trim_end_matches('\n')) {
                    if tx.send(line).is_err() {
                        return;
                    }
                }
                raw.clear();
            }
        });
    }
    let stderr_reader = child.stderr.take().map(|mut err| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        })
    });

    let secs = timeout.as_secs();
    let deadline = start + timeout;
    let mut lines = Vec::new();
    let mut timed_out = false;
    let stdout = std::io::stdout();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if echo {
                    let mut out = stdout.lock();
                    let _ = writeln!(out, "{line}");
                    let _ = out.flush();
                }
                lines.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    // The console closed (QEMU is ending) or time is up: wait, still bounded.
    let termination = loop {
        if timed_out {
            let _ = child.kill();
            let _ = child.wait();
            break Termination::TimedOut(secs);
        }
        match child.try_wait() {
            Ok(Some(status)) => break termination_of(status),
            Ok(None) if Instant::now() >= deadline => timed_out = true,
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(_) => timed_out = true,
        }
    };
    let elapsed = start.elapsed();
    let stderr = match (timed_out, stderr_reader) {
        (false, Some(reader)) => reader.join().unwrap_or_default(),
        _ => String::new(),
    };
    Run {
        lines,
        termination,
        stderr,
        elapsed,
    }
}

fn termination_of(status: std::process::ExitStatus) -> Termination {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => Termination::Exited(code),
        (None, Some(sig)) => Termination::Signalled(sig),
        (None, None) => Termination::Exited(-1),
    }
}

/// Whether a command is on PATH.
pub fn on_path(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(cmd).is_file()))
        .unwrap_or(false)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let uid_line = s.lines().find(|l| l.starts_with("Uid:"))?.to_string();
            Some(uid_line.split_whitespace().nth(2)? == "0")
        })
        .unwrap_or(false)
}

fn apt_install(package: &str) -> bool {
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", package])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    if install() {
        return true;
    }
    // A fresh machine may have no package lists yet.
    let updated = Command::new("apt-get")
        .arg("update")
        .status()
        .is_ok_and(|s| s.success());
    updated && install()
}

/// Makes sure `command` exists, installing Debian's `package` with apt-get when running
/// as root on a Debian-like system; otherwise an error naming the package.
pub fn ensure_tool(command: &str, package: &str) -> Result<(), String> {
    if on_path(command) {
        return Ok(());
    }
    if is_root() && Path::new("/usr/bin/apt-get").exists() {
        eprintln!("xtask: {command} is missing; installing Debian's {package} with apt-get");
        if apt_install(package) && on_path(command) {
            return Ok(());
        }
        return Err(format!(
            "{command} is missing and `apt-get install -y {package}` failed"
        ));
    }
    Err(format!(
        "{command} not found: install the `{package}` package"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
            kernel: PathBuf::from("/k"),
            initrd: Some(PathBuf::from("/i.cpio")),
            append: "log=off -- /bin/hello".into(),
            smp: 4,
            memory: "512M".into(),
            accel: Accel::Tcg,
        }
    }

    fn has_pair(args: &[String], flag: &str, value: &str) -> bool {
        args.windows(2).any(|w| w[0] == flag && w[1] == value)
    }

    #[test]
    fn command_line_follows_the_protocol() {
        let a = args(&config());
        for (flag, value) in [
            ("-M", "microvm"),
            ("-accel", "tcg"),
            ("-cpu", "max"),
            ("-m", "512M"),
            ("-smp", "4"),
            ("-display", "none"),
            ("-serial", "stdio"),
            ("-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"),
            ("-kernel", "/k"),
            ("-initrd", "/i.cpio"),
            ("-append", "log=off -- /bin/hello"),
        ] {
            assert!(has_pair(&a, flag, value), "missing {flag} {value} in {a:?}");
        }
        assert!(a.contains(&"-nodefaults".to_string()));
        assert!(a.contains(&"-no-reboot".to_string()));
    }

    #[test]
    fn kvm_swaps_accelerator_and_cpu_model() {
        let a = args(&Config {
            accel: Accel::Kvm,
            ..config()
        });
        assert!(has_pair(&a, "-accel", "kvm") && has_pair(&a, "-cpu", "host"));
    }

    #[test]
    fn no_initrd_means_no_initrd_flag() {
        let a = args(&Config {
            initrd: None,
            ..config()
        });
        assert!(!a.contains(&"-initrd".to_string()));
    }

    #[test]
    fn a_missing_binary_is_a_qemu_failure_not_a_hang() {
        // Spawning fails when QEMU cannot run the kernel file; either way it must end.
        let run = run(
            &Config {
                kernel: PathBuf::from("/nonexistent/kernel"),
                ..config()
            },
            Duration::from_secs(20),
            false,
        );
        assert!(matches!(run.outcome(), Outcome::QemuFailed(_)));
    }
}
