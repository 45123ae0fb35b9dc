//! `cargo xtask`: builds Spindle's kernel image, the static test programs and the initrd,
//! boots them under QEMU microvm, and reports outcomes.
//!
//! It owns the host side of the kernel<->xtask protocol (notes/PROTOCOL.md): the QEMU
//! command line, the kernel command line, the initrd layout, and decoding the outcome
//! from QEMU's exit code and the serial console. It does not know kernel internals.
//!
//! Commands: `build`, `run`, `test` (host tests, then the QEMU matrix) and `bench`
//! (Spindle against a Linux guest under the same QEMU configuration).

mod bench;
mod elf;
mod expect;
mod matrix;
mod outcome;
mod programs;
mod qemu;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::builder::PossibleValuesParser;
use clap::{Args, Parser, Subcommand};

use programs::{HEADLINE, InitrdFile, Libc, SCHEDULERS, Workspace};
use qemu::Accel;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Build, boot and test Spindle"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build the kernel image (target/kernel/.../release/kernel).
    Build {
        /// Scheduler policy compiled into the kernel.
        #[arg(long, value_parser = PossibleValuesParser::new(SCHEDULERS))]
        sched: Option<String>,
    },
    /// Build everything and boot one program under QEMU, streaming the console.
    Run(RunArgs),
    /// Host unit tests, then every test program under QEMU (the matrix).
    Test(matrix::TestArgs),
    /// Benchmarks on Spindle and, with --linux, on a Linux guest.
    Bench(bench::BenchArgs),
}

#[derive(Args)]
struct RunArgs {
    /// Number of CPUs.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    smp: u32,
    /// Guest memory, as QEMU's -m takes it (e.g. 512M, 1G).
    #[arg(long, default_value = "512M", value_parser = parse_memory)]
    memory: String,
    /// QEMU accelerator.
    #[arg(long, value_enum, default_value_t = Accel::Tcg)]
    accel: Accel,
    /// Seconds before QEMU is killed and the run reported as timed out.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// Kernel options put before `--` (e.g. "log=debug test=page-fault").
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    append: String,
    /// Scheduler policy compiled into the kernel.
    #[arg(long, value_parser = PossibleValuesParser::new(SCHEDULERS))]
    sched: Option<String>,
    /// Boot this kernel image instead of building one.
    #[arg(long, value_name = "PATH", conflicts_with = "sched")]
    kernel: Option<PathBuf>,
    /// Build of a test program: C with glibc (default) or musl, or the Rust bin.
    #[arg(long, value_enum)]
    libc: Option<Libc>,
    /// A test program name from tests/programs, or a path to a static x86_64 ELF.
    program: Option<String>,
    /// Arguments for the program.
    #[arg(last = true)]
    args: Vec<String>,
}

fn parse_memory(s: &str) -> Result<String, String> {
    let digits = s.trim_end_matches(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't']);
    let suffix_len = s.len() - digits.len();
    if !digits.is_empty() && suffix_len <= 1 && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_string())
    } else {
        Err("expected a size like 512M or 1G".to_string())
    }
}

/// An error that ends xtask with a message and an exit code.
struct Failure {
    message: String,
    code: u8,
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure { message, code: 1 }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ws = Workspace::locate();
    let result = match cli.command {
        Cmd::Build { sched } => programs::build_kernel(&ws, sched.as_deref())
            .map(|path| {
                println!("kernel image: {}", path.display());
                0
            })
            .map_err(Failure::from),
        Cmd::Run(args) => run(&ws, args),
        Cmd::Test(args) => matrix::test(&ws, args).map_err(Failure::from),
        Cmd::Bench(args) => bench::bench(&ws, args).map_err(Failure::from),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("xtask: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// What `run` boots: the initrd contents and the program's path inside it.
struct Selection {
    initrd_name: String,
    files: Vec<InitrdFile>,
    program: Option<String>,
}

fn refuse(message: String) -> Failure {
    Failure { message, code: 2 }
}

/// Resolves PROGRAM to the files to pack, building what is needed.
fn select(ws: &Workspace, program: Option<&str>, libc: Option<Libc>) -> Result<Selection, Failure> {
    let c_names = ws.c_programs();
    let rust_names = ws.rust_programs();
    let name = program.unwrap_or(HEADLINE);
    let is_path = name.contains('/')
        || (!c_names.iter().any(|n| n == name) && !rust_names.iter().any(|n| n == name));
    if is_path {
        if program.is_none() {
            // No headline program yet: boot the kernel alone (banner, exit 0).
            return Ok(Selection {
                initrd_name: "empty".into(),
                files: Vec::new(),
                program: None,
            });
        }
        return select_host_binary(ws, name);
    }
    let flavour = match libc {
        Some(libc) => libc,
        None if c_names.iter().any(|n| n == name) => Libc::Glibc,
        None => Libc::Rust,
    };
    let (names, known) = match flavour {
        Libc::Rust => (&rust_names, rust_names.iter().any(|n| n == name)),
        _ => (&c_names, c_names.iter().any(|n| n == name)),
    };
    if !known {
        return Err(refuse(format!(
            "`{name}` has no {} build in tests/programs",
            flavour.name()
        )));
    }
    let mut files = Vec::new();
    match flavour {
        Libc::Rust => {
            for (n, path) in programs::build_rust_programs(ws)? {
                files.push(programs::bin_file(&n, path));
            }
        }
        libc => {
            if libc == Libc::Musl {
                qemu::ensure_tool("musl-gcc", "musl-tools")?;
            }
            // The chosen program must build; the others are packed when they do.
            files.push(programs::bin_file(
                name,
                programs::build_c_program(ws, libc, name)?,
            ));
            for other in names.iter().filter(|n| *n != name) {
                match programs::build_c_program(ws, libc, other) {
                    Ok(path) => files.push(programs::bin_file(other, path)),
                    Err(e) => eprintln!("xtask: warning: {other} left out: {e}"),
                }
            }
        }
    }
    files.extend(programs::data_files(ws));
    Ok(Selection {
        initrd_name: flavour.name().to_string(),
        files,
        program: Some(format!("/bin/{name}")),
    })
}

fn select_host_binary(ws: &Workspace, path: &str) -> Result<Selection, Failure> {
    let host = PathBuf::from(path);
    let bytes = std::fs::read(&host).map_err(|e| {
        refuse(format!(
            "{path}: not a test program name and not readable: {e}"
        ))
    })?;
    elf::check_static_x86_64(&bytes).map_err(|why| refuse(format!("{path} {why}")))?;
    let base = Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "program".into());
    let mut files = vec![programs::bin_file(&base, host)];
    files.extend(programs::data_files(ws));
    Ok(Selection {
        // One initrd per run: two runs of different host binaries may overlap.
        initrd_name: format!("host-{}", std::process::id()),
        files,
        program: Some(format!("/bin/{base}")),
    })
}

fn run(ws: &Workspace, args: RunArgs) -> Result<u8, Failure> {
    qemu::ensure_tool(qemu::QEMU, "qemu-system-x86")?;
    let selection = select(ws, args.program.as_deref(), args.libc)?;
    let kernel = match args.kernel {
        Some(path) => path,
        None => programs::build_kernel(ws, args.sched.as_deref())?,
    };
    let initrd = programs::write_initrd(ws, &selection.initrd_name, &selection.files)?;
    let append = programs::kernel_cmdline(
        &args.append,
        &[],
        selection.program.as_deref(),
        &programs::quote_args(&args.args),
    );
    let config = qemu::Config {
        kernel,
        initrd: Some(initrd),
        append,
        smp: args.smp,
        memory: args.memory,
        accel: args.accel,
    };
    let run = qemu::run(&config, Duration::from_secs(args.timeout), true);
    if selection.initrd_name.starts_with("host-")
        && let Some(initrd) = &config.initrd
    {
        let _ = std::fs::remove_file(initrd);
    }
    let outcome = run.outcome();
    if let Some(note) = outcome::note(run.termination, &run.lines) {
        eprintln!("xtask: {note}");
    }
    println!("{outcome}");
    Ok(outcome.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_takes_a_program_and_arguments_after_double_dash() {
        let cli = Cli::try_parse_from([
            "xtask",
            "run",
            "--smp",
            "4",
            "exit-status",
            "--",
            "42",
            "-x",
        ])
        .unwrap();
        let Cmd::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.smp, 4);
        assert_eq!(args.program.as_deref(), Some("exit-status"));
        assert_eq!(args.args, vec!["42", "-x"]);
        assert_eq!(args.timeout, 60);
        assert_eq!(args.memory, "512M");
    }

    #[test]
    fn bad_values_are_refused_by_the_parser() {
        for bad in [
            &["xtask", "run", "--smp", "0"][..],
            &["xtask", "run", "--memory", "lots"],
            &["xtask", "run", "--accel", "hvf"],
            &["xtask", "run", "--libc", "bionic"],
            &["xtask", "run", "--sched", "lottery"],
            &["xtask", "test", "-j", "0"],
            &["xtask", "frobnicate"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn memory_sizes_take_an_optional_unit() {
        assert!(parse_memory("512M").is_ok() && parse_memory("1024").is_ok());
        assert!(parse_memory("1GB").is_err() && parse_memory("M").is_err());
    }
}
