//! `cargo xtask test`: host unit tests, then the QEMU matrix — every test program ×
//! build (glibc, musl, Rust) × CPU count from its expectation × scheduler policy, plus the
//! kernel's boot self-tests — with a few QEMUs at a time, a table row per run and a
//! `N passed, N failed` summary.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::expect::{self, Expectation};
use crate::outcome::{self, Outcome};
use crate::programs::{self, InitrdFile, Libc, SCHEDULERS, Workspace};
use crate::qemu::{self, Accel};

#[derive(clap::Args)]
pub struct TestArgs {
    /// Default scheduler only, and each program at its largest CPU count only.
    #[arg(long)]
    quick: bool,
    /// Only matrix runs whose row contains this (host tests are then skipped).
    #[arg(long)]
    filter: Option<String>,
    /// QEMUs run at the same time.
    #[arg(short = 'j', long = "jobs", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..=16))]
    jobs: u32,
}

/// A kernel self-test selected with `test=NAME`: it must end in a kernel panic whose
/// kernel lines name the exception (compared case-insensitively).
struct BootTest {
    name: &'static str,
    needles: &'static [&'static str],
}

const BOOT_TESTS: &[BootTest] = &[
    BootTest {
        name: "page-fault",
        needles: &["page fault"],
    },
    BootTest {
        name: "panic",
        needles: &["kernel panic"],
    },
    BootTest {
        name: "double-fault",
        needles: &["double fault"],
    },
];
const BOOT_TEST_TIMEOUT: u64 = 20;

enum Check {
    Program(Box<Expectation>),
    Boot(&'static [&'static str]),
    /// Could not even be prepared (build or expectation error).
    Broken(String),
}

struct Entry {
    name: String,
    libc: String,
    smp: u32,
    sched: String,
    kernel: Option<PathBuf>,
    initrd: Option<PathBuf>,
    append: String,
    timeout: u64,
    check: Check,
}

impl Entry {
    fn row(&self) -> String {
        format!(
            "{:<26} {:<6} {:>3}  {:<12}",
            self.name, self.libc, self.smp, self.sched
        )
    }
}

struct Done {
    row: String,
    passed: bool,
    result: String,
    secs: f64,
    details: Vec<String>,
}

pub fn test(ws: &Workspace, args: TestArgs) -> Result<u8, String> {
    let mut results: Vec<Done> = Vec::new();
    if args.filter.is_none() {
        results.push(host_tests(ws));
    }
    qemu::ensure_tool(qemu::QEMU, "qemu-system-x86")?;
    qemu::ensure_tool("musl-gcc", "musl-tools")?;

    let scheds: Vec<&str> = if args.quick {
        vec![SCHEDULERS[0]]
    } else {
        SCHEDULERS.to_vec()
    };
    let mut kernels = Vec::new();
    for sched in &scheds {
        eprintln!("xtask: building the kernel with sched-{sched}");
        kernels.push((sched.to_string(), programs::build_kernel(ws, Some(sched))));
    }
    let entries = plan(ws, &kernels, args.quick);
    let entries: Vec<Entry> = match &args.filter {
        Some(f) => entries
            .into_iter()
            .filter(|e| e.row().contains(f.as_str()))
            .collect(),
        None => entries,
    };

    println!(
        "{:<26} {:<6} {:>3}  {:<12} {:<8} {:>7}",
        "program", "libc", "smp", "sched", "result", "time"
    );
    for done in &results {
        print_done(done);
    }
    results.extend(run_all(entries, args.jobs as usize));
    let passed = results.iter().filter(|d| d.passed).count();
    let failed = results.len() - passed;
    if failed > 0 {
        println!("failed:");
        for d in results.iter().filter(|d| !d.passed) {
            println!("  {} {}", d.row.trim_end(), d.result);
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 { 0 } else { 1 })
}

fn host_tests(ws: &Workspace) -> Done {
    eprintln!("xtask: cargo test (host-testable crates)");
    let start = Instant::now();
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(&ws.root)
        .args([
            "test",
            "--workspace",
            "--exclude",
            "kernel",
            "--exclude",
            "boot",
            "--exclude",
            "arch",
        ])
        .status();
    let passed = status.as_ref().is_ok_and(|s| s.success());
    Done {
        row: format!(
            "{:<26} {:<6} {:>3}  {:<12}",
            "host unit tests", "-", "-", "-"
        ),
        passed,
        result: if passed { "pass".into() } else { "FAIL".into() },
        secs: start.elapsed().as_secs_f64(),
        details: match status {
            Ok(s) if !s.success() => vec![format!("cargo test failed ({s}); see its output above")],
            Err(e) => vec![format!("cargo test: {e}")],
            Ok(_) => Vec::new(),
        },
    }
}

/// A test program's name and its build (or why it did not build).
type Built = (String, Result<PathBuf, String>);

/// Builds the programs and initrds and lists every run.
fn plan(ws: &Workspace, kernels: &[(String, Result<PathBuf, String>)], quick: bool) -> Vec<Entry> {
    let mut builds: Vec<(Libc, Vec<Built>)> = Vec::new();
    for libc in [Libc::Glibc, Libc::Musl] {
        let built = ws
            .c_programs()
            .into_iter()
            .map(|n| {
                let r = programs::build_c_program(ws, libc, &n);
                (n, r)
            })
            .collect();
        builds.push((libc, built));
    }
    eprintln!("xtask: building the Rust test programs");
    let rust = match programs::build_rust_programs(ws) {
        Ok(list) => list.into_iter().map(|(n, p)| (n, Ok(p))).collect(),
        Err(e) => ws
            .rust_programs()
            .into_iter()
            .map(|n| (n, Err(e.clone())))
            .collect(),
    };
    builds.push((Libc::Rust, rust));

    let mut initrds = Vec::new();
    for (libc, built) in &builds {
        let mut files: Vec<InitrdFile> = built
            .iter()
            .filter_map(|(n, r)| r.as_ref().ok().map(|p| programs::bin_file(n, p.clone())))
            .collect();
        files.extend(programs::data_files(ws));
        initrds.push((*libc, programs::write_initrd(ws, libc.name(), &files)));
    }

    let mut entries = Vec::new();
    for (sched, kernel) in kernels {
        let kernel_path = kernel.as_ref().ok().cloned();
        let kernel_broken = kernel.as_ref().err().map(|e| format!("kernel build: {e}"));
        for (libc, built) in &builds {
            let initrd = initrds.iter().find(|(l, _)| l == libc).map(|(_, r)| r);
            for (name, binary) in built {
                let parsed = std::fs::read_to_string(ws.expect_path(name, *libc))
                    .map_err(|e| format!("no expectation: {e}"))
                    .and_then(|text| {
                        expect::parse(&text).map_err(|e| format!("{name}.expect: {e}"))
                    });
                if let Ok(exp) = &parsed
                    && *libc != Libc::Rust
                    && !exp.wants(*libc)
                {
                    continue;
                }
                let smps = match &parsed {
                    Ok(exp) if quick => exp.smp.iter().max().map(|&m| vec![m]).unwrap_or(vec![1]),
                    Ok(exp) => exp.smp.clone(),
                    Err(_) => vec![1],
                };
                for smp in smps {
                    let broken = kernel_broken
                        .clone()
                        .or_else(|| binary.as_ref().err().map(|e| format!("build: {e}")))
                        .or_else(|| match initrd {
                            Some(Err(e)) => Some(format!("initrd: {e}")),
                            _ => None,
                        })
                        .or_else(|| parsed.as_ref().err().cloned());
                    let (append, timeout, check) = match (&parsed, broken) {
                        (_, Some(why)) => (String::new(), 1, Check::Broken(why)),
                        (Ok(exp), None) => (
                            programs::kernel_cmdline(
                                "",
                                &exp.env,
                                Some(&format!("/bin/{name}")),
                                &exp.args,
                            ),
                            exp.timeout,
                            Check::Program(Box::new(exp.clone())),
                        ),
                        (Err(e), None) => (String::new(), 1, Check::Broken(e.clone())),
                    };
                    entries.push(Entry {
                        name: name.clone(),
                        libc: libc.name().into(),
                        smp,
                        sched: sched.clone(),
                        kernel: kernel_path.clone(),
                        initrd: initrd.and_then(|r| r.as_ref().ok().cloned()),
                        append,
                        timeout,
                        check,
                    });
                }
            }
        }
        let glibc_initrd = initrds
            .iter()
            .find(|(l, _)| *l == Libc::Glibc)
            .and_then(|(_, r)| r.as_ref().ok().cloned());
        for test in BOOT_TESTS {
            entries.push(Entry {
                name: format!("test={}", test.name),
                libc: "-".into(),
                smp: 1,
                sched: sched.clone(),
                kernel: kernel_path.clone(),
                initrd: glibc_initrd.clone(),
                append: format!("test={}", test.name),
                timeout: BOOT_TEST_TIMEOUT,
                check: match &kernel_broken {
                    Some(why) => Check::Broken(why.clone()),
                    None => Check::Boot(test.needles),
                },
            });
        }
    }
    entries
}

fn run_all(entries: Vec<Entry>, jobs: usize) -> Vec<Done> {
    let queue = Arc::new(Mutex::new(entries.into_iter().collect::<VecDeque<_>>()));
    let (tx, rx) = mpsc::channel();
    let workers: Vec<_> = (0..jobs.max(1))
        .map(|_| {
            let queue = Arc::clone(&queue);
            let tx = tx.clone();
            std::thread::spawn(move || {
                loop {
                    let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                    let Some(entry) = next else { break };
                    if tx.send(run_entry(&entry)).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let mut done = Vec::new();
    for result in rx {
        print_done(&result);
        done.push(result);
    }
    for worker in workers {
        let _ = worker.join();
    }
    done
}

fn print_done(d: &Done) {
    println!("{} {:<8} {:>6.2}s", d.row, d.result, d.secs);
    for line in &d.details {
        println!("    {line}");
    }
}

fn run_entry(entry: &Entry) -> Done {
    let row = entry.row();
    let (kernel, initrd) = match (&entry.check, &entry.kernel) {
        (Check::Broken(why), _) => {
            return Done {
                row,
                passed: false,
                result: "BROKEN".into(),
                secs: 0.0,
                details: vec![why.clone()],
            };
        }
        (_, None) => {
            return Done {
                row,
                passed: false,
                result: "BROKEN".into(),
                secs: 0.0,
                details: vec!["no kernel".into()],
            };
        }
        (_, Some(kernel)) => (kernel.clone(), entry.initrd.clone()),
    };
    let config = qemu::Config {
        kernel,
        initrd,
        append: entry.append.clone(),
        smp: entry.smp,
        memory: "512M".into(),
        accel: Accel::Tcg,
    };
    let run = qemu::run(&config, Duration::from_secs(entry.timeout), false);
    let outcome = run.outcome();
    let verdict = match &entry.check {
        Check::Program(exp) => exp.check(&outcome, &run.lines),
        Check::Boot(needles) => check_boot_test(&outcome, &run.lines, needles),
        Check::Broken(_) => Ok(()),
    };
    let secs = run.elapsed.as_secs_f64();
    match verdict {
        Ok(()) => Done {
            row,
            passed: true,
            result: "pass".into(),
            secs,
            details: Vec::new(),
        },
        Err(mut details) => {
            details.insert(0, format!("cmdline: {}", entry.append));
            if let Some(note) = outcome::note(run.termination, &run.lines) {
                details.push(note);
            }
            details.push("kernel lines:".into());
            let kernel_lines = outcome::kernel_lines(&run.lines);
            let skip = kernel_lines.len().saturating_sub(30);
            details.extend(kernel_lines.iter().skip(skip).map(|l| format!("  {l}")));
            if !run.stderr.trim().is_empty() {
                details.push(format!("qemu stderr: {}", run.stderr.trim()));
            }
            let result = match outcome {
                Outcome::Exit(_) => "FAIL".to_string(),
                Outcome::KernelPanic => "PANIC".to_string(),
                Outcome::TimedOut(_) => "TIMEOUT".to_string(),
                Outcome::QemuFailed(_) => "QEMU".to_string(),
            };
            Done {
                row,
                passed: false,
                result,
                secs,
                details,
            }
        }
    }
}

/// A boot self-test passes when the kernel panicked and named the exception.
fn check_boot_test(
    outcome: &Outcome,
    lines: &[String],
    needles: &[&str],
) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    if *outcome != Outcome::KernelPanic {
        problems.push(format!("expected kernel panic, got {outcome}"));
    }
    let kernel: Vec<String> = outcome::kernel_lines(lines)
        .iter()
        .map(|l| l.to_lowercase())
        .collect();
    for needle in needles {
        if !kernel.iter().any(|l| l.contains(needle)) {
            problems.push(format!("no kernel line names `{needle}`"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn boot_test_passes_on_a_panic_naming_the_exception() {
        let console = lines(&["spindle: kernel panic: Page Fault at rip 0x1, CR2 0x0"]);
        assert_eq!(
            check_boot_test(&Outcome::KernelPanic, &console, &["page fault", "cr2"]),
            Ok(())
        );
    }

    #[test]
    fn boot_test_fails_when_the_kernel_exits_normally() {
        let console = lines(&["spindle: exit status 0"]);
        assert!(check_boot_test(&Outcome::Exit(0), &console, &["kernel panic"]).is_err());
    }

    #[test]
    fn boot_test_fails_when_the_wrong_exception_is_named() {
        let console = lines(&["spindle: kernel panic: page fault"]);
        assert!(check_boot_test(&Outcome::KernelPanic, &console, &["double fault"]).is_err());
    }
}
