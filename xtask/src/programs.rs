//! Building what QEMU boots: the kernel image, the static test programs and the initrd.
//!
//! Paths and flags follow notes/PROTOCOL.md. The kernel's RUSTFLAGS are set on the one
//! `cargo build -p kernel` command and nowhere else, so host builds keep their own flags
//! and their cache. C programs are rebuilt only when their source (or a header beside
//! it) is newer than the binary.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// Scheduler policies the kernel offers as cargo features `sched-NAME`; the first is the
/// kernel's default feature.
pub const SCHEDULERS: &[&str] = &["round-robin", "fair"];

/// The program `cargo xtask run` boots without a PROGRAM argument.
pub const HEADLINE: &str = "threads10";

const KERNEL_RUSTFLAGS: &str = "-C relocation-model=static -C code-model=kernel -C no-redzone=yes";
const TARGET: &str = "x86_64-unknown-linux-gnu";

/// Which build of a test program: a C program with one of two libcs, or a Rust bin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Libc {
    Glibc,
    Musl,
    Rust,
}

impl Libc {
    pub fn name(self) -> &'static str {
        match self {
            Libc::Glibc => "glibc",
            Libc::Musl => "musl",
            Libc::Rust => "rust",
        }
    }

    pub fn from_name(name: &str) -> Option<Libc> {
        match name {
            "glibc" => Some(Libc::Glibc),
            "musl" => Some(Libc::Musl),
            "rust" => Some(Libc::Rust),
            _ => None,
        }
    }

    /// The C compiler and flags for this libc (None for Rust).
    fn c_compiler(self) -> Option<(&'static str, &'static [&'static str])> {
        match self {
            Libc::Glibc => Some(("gcc", &["-O2", "-static", "-pthread"])),
            Libc::Musl => Some(("musl-gcc", &["-O2", "-static"])),
            Libc::Rust => None,
        }
    }
}

/// Where everything lives: the workspace root and the directories xtask writes.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
}

impl Workspace {
    pub fn locate() -> Workspace {
        let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = xtask.parent().unwrap_or(xtask).to_path_buf();
        Workspace { root }
    }

    pub fn programs_dir(&self) -> PathBuf {
        self.root.join("tests/programs")
    }

    pub fn out_dir(&self, what: &str) -> PathBuf {
        self.root.join("target").join(what)
    }

    /// The expectation file of a test program.
    pub fn expect_path(&self, name: &str, libc: Libc) -> PathBuf {
        match libc {
            Libc::Rust => self
                .programs_dir()
                .join("rust")
                .join(format!("{name}.expect")),
            _ => self.programs_dir().join(format!("{name}.expect")),
        }
    }

    /// Names of C test programs (`tests/programs/c/NAME.c`), sorted.
    pub fn c_programs(&self) -> Vec<String> {
        names_with_ext(&self.programs_dir().join("c"), "c")
    }

    /// Names of benchmark programs (`tests/programs/bench/NAME.c`), sorted.
    pub fn bench_programs(&self) -> Vec<String> {
        names_with_ext(&self.programs_dir().join("bench"), "c")
    }

    /// Names of Rust test programs (`src/bin/NAME.rs` or `src/bin/NAME/main.rs`), sorted.
    pub fn rust_programs(&self) -> Vec<String> {
        let bin = self.programs_dir().join("rust/src/bin");
        let mut names = names_with_ext(&bin, "rs");
        if let Ok(dir) = fs::read_dir(&bin) {
            for entry in dir.flatten() {
                if entry.path().join("main.rs").is_file() {
                    names.push(entry.file_name().to_string_lossy().into_owned());
                }
            }
        }
        names.sort();
        names
    }

    fn rust_manifest(&self) -> PathBuf {
        self.programs_dir().join("rust/Cargo.toml")
    }
}

fn names_with_ext(dir: &Path, ext: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension() == Some(OsStr::new(ext)))
        .filter_map(|p| Some(p.file_stem()?.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    names
}

fn cargo() -> Command {
    // Under `cargo xtask`, $CARGO is the cargo that started us (same toolchain).
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn run_status(mut cmd: Command, what: &str) -> Result<(), String> {
    match cmd.status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("{what} failed ({s})")),
        Err(e) => Err(format!("{what}: cannot start: {e}")),
    }
}

/// Builds the kernel image, with `sched` selecting a scheduler feature (None: the
/// kernel's default features); returns a copy named after the scheduler, so the test
/// matrix can keep one image per policy.
pub fn build_kernel(ws: &Workspace, sched: Option<&str>) -> Result<PathBuf, String> {
    let target_dir = ws.out_dir("kernel");
    let mut cmd = cargo();
    cmd.current_dir(&ws.root)
        .args([
            "build",
            "-p",
            "kernel",
            "--release",
            "--target",
            TARGET,
            "--target-dir",
        ])
        .arg(&target_dir)
        .env("RUSTFLAGS", KERNEL_RUSTFLAGS)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR");
    if let Some(name) = sched {
        cmd.args([
            "--no-default-features",
            "--features",
            &format!("sched-{name}"),
        ]);
    }
    run_status(cmd, "kernel build")?;
    let built = target_dir.join(TARGET).join("release/kernel");
    let copy = target_dir.join(format!("spindle-{}", sched.unwrap_or("default")));
    // Copy beside and rename, for the same reason as the initrd (a running QEMU may
    // still read the previous image).
    let tmp = copy.with_extension(format!("{}.tmp", std::process::id()));
    fs::copy(&built, &tmp).map_err(|e| format!("copy {}: {e}", built.display()))?;
    fs::rename(&tmp, &copy).map_err(|e| format!("{}: {e}", copy.display()))?;
    Ok(copy)
}

fn mtime(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Compiles one C file statically for `libc` into `out` unless `out` is newer than the
/// source and every header beside it.
pub fn build_c(src: &Path, libc: Libc, out: &Path) -> Result<(), String> {
    let (cc, flags) = libc
        .c_compiler()
        .ok_or("Rust programs are not built with a C compiler")?;
    let dir = src.parent().unwrap_or(Path::new("."));
    let newest_input = names_with_ext(dir, "h")
        .iter()
        .filter_map(|h| mtime(&dir.join(format!("{h}.h"))))
        .chain(mtime(src))
        .max();
    if let (Some(built), Some(input)) = (mtime(out), newest_input)
        && built >= input
    {
        return Ok(());
    }
    if let Some(parent) = out.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let mut cmd = Command::new(cc);
    cmd.args(flags)
        .arg("-I")
        .arg(dir)
        .arg("-o")
        .arg(out)
        .arg(src)
        .arg("-lm");
    let output = cmd
        .output()
        .map_err(|e| format!("{cc}: cannot start: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        let _ = fs::remove_file(out);
        Err(format!(
            "{cc} {} failed:\n{}",
            src.display(),
            String::from_utf8_lossy(&output.stderr).trim_end()
        ))
    }
}

/// Where a C test program's build for `libc` goes.
pub fn c_program_path(ws: &Workspace, libc: Libc, name: &str) -> PathBuf {
    ws.out_dir("programs").join(libc.name()).join(name)
}

/// Builds one C test program.
pub fn build_c_program(ws: &Workspace, libc: Libc, name: &str) -> Result<PathBuf, String> {
    let src = ws.programs_dir().join("c").join(format!("{name}.c"));
    let out = c_program_path(ws, libc, name);
    build_c(&src, libc, &out)?;
    Ok(out)
}

/// Builds one benchmark program.
pub fn build_bench_program(ws: &Workspace, libc: Libc, name: &str) -> Result<PathBuf, String> {
    let src = ws.programs_dir().join("bench").join(format!("{name}.c"));
    let out = ws
        .out_dir("programs")
        .join(format!("bench-{}", libc.name()))
        .join(name);
    build_c(&src, libc, &out)?;
    Ok(out)
}

/// Builds every Rust test program; returns `(name, binary)` pairs.
pub fn build_rust_programs(ws: &Workspace) -> Result<Vec<(String, PathBuf)>, String> {
    let names = ws.rust_programs();
    if names.is_empty() || !ws.rust_manifest().is_file() {
        return Ok(Vec::new());
    }
    let target_dir = ws.out_dir("programs/rust");
    let mut cmd = cargo();
    cmd.current_dir(ws.programs_dir().join("rust"))
        .args(["build", "--release", "--target", TARGET, "--manifest-path"])
        .arg(ws.rust_manifest())
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR");
    run_status(cmd, "Rust test programs build")?;
    let release = target_dir.join(TARGET).join("release");
    Ok(names
        .into_iter()
        .map(|n| (n.clone(), release.join(n)))
        .collect())
}

/// One file for the initrd: its path inside (without leading `/`) and its host source.
#[derive(Debug, Clone)]
pub struct InitrdFile {
    pub path: String,
    pub source: PathBuf,
    pub executable: bool,
}

/// The data files, under `data/` in the initrd.
pub fn data_files(ws: &Workspace) -> Vec<InitrdFile> {
    let mut files = Vec::new();
    collect_files(&ws.programs_dir().join("data"), "data", &mut files);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

fn collect_files(dir: &Path, prefix: &str, out: &mut Vec<InitrdFile>) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let inner = format!("{prefix}/{}", entry.file_name().to_string_lossy());
        if path.is_dir() {
            collect_files(&path, &inner, out);
        } else if path.is_file() {
            out.push(InitrdFile {
                path: inner,
                source: path,
                executable: false,
            });
        }
    }
}

/// The initrd entry of a program at `/bin/NAME`.
pub fn bin_file(name: &str, source: PathBuf) -> InitrdFile {
    InitrdFile {
        path: format!("bin/{name}"),
        source,
        executable: true,
    }
}

/// Writes a cpio newc archive (crates/initrd's writer) with the given files and their
/// parent directories to `target/initrd/NAME.cpio`.
pub fn write_initrd(ws: &Workspace, name: &str, files: &[InitrdFile]) -> Result<PathBuf, String> {
    let mut archive = initrd::Writer::new();
    for file in files {
        let data = fs::read(&file.source).map_err(|e| format!("{}: {e}", file.source.display()))?;
        let mode = if file.executable { 0o755 } else { 0o644 };
        archive
            .add_file(&file.path, mode, &data)
            .map_err(|e| e.to_string())?;
    }
    let out = ws.out_dir("initrd").join(format!("{name}.cpio"));
    fs::create_dir_all(ws.out_dir("initrd")).map_err(|e| format!("target/initrd: {e}"))?;
    // Write beside and rename: a QEMU of another xtask run may have the old file mapped,
    // and rewriting it in place would change (or truncate) what that guest reads.
    let tmp = out.with_extension(format!("cpio.{}.tmp", std::process::id()));
    fs::write(&tmp, archive.finish()).map_err(|e| format!("{}: {e}", tmp.display()))?;
    fs::rename(&tmp, &out).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(out)
}

/// The kernel command line: options, `env=` options, then `--`, the program path and its
/// (already quoted) arguments. Without a program there is no `--`.
pub fn kernel_cmdline(options: &str, env: &[String], program: Option<&str>, args: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    if !options.trim().is_empty() {
        words.push(options.trim().to_string());
    }
    words.extend(env.iter().map(|e| cmdline::quote(&format!("env={e}"))));
    if let Some(path) = program {
        words.push("--".to_string());
        words.push(cmdline::quote(path));
        if !args.trim().is_empty() {
            words.push(args.trim().to_string());
        }
    }
    words.join(" ")
}

/// Quotes host-side arguments for the kernel command line.
pub fn quote_args(args: &[String]) -> String {
    args.iter()
        .map(|a| cmdline::quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_puts_options_first_then_program_after_double_dash() {
        let line = kernel_cmdline("log=debug", &["K=V".into()], Some("/bin/args"), "a \"b c\"");
        assert_eq!(line, "log=debug env=K=V -- /bin/args a \"b c\"");
    }

    #[test]
    fn cmdline_without_program_has_no_double_dash() {
        assert_eq!(kernel_cmdline("test=panic", &[], None, ""), "test=panic");
        assert_eq!(kernel_cmdline("", &[], None, ""), "");
    }

    #[test]
    fn env_values_with_spaces_are_quoted_as_one_word() {
        let line = kernel_cmdline("", &["GREETING=hello world".into()], Some("/bin/x"), "");
        assert_eq!(line, "\"env=GREETING=hello world\" -- /bin/x");
    }

    #[test]
    fn host_arguments_are_quoted_word_by_word() {
        let args = vec![
            "42".to_string(),
            "two words".to_string(),
            "q\"uote".to_string(),
        ];
        assert_eq!(quote_args(&args), "42 \"two words\" \"q\\\"uote\"");
    }

    #[test]
    fn schedulers_match_the_kernel_features() {
        let manifest = Workspace::locate().root.join("crates/kernel/Cargo.toml");
        let text = std::fs::read_to_string(manifest).unwrap();
        // Only the [features] table: dependencies may be named sched-* too.
        let features: Vec<&str> = text
            .lines()
            .skip_while(|l| l.trim() != "[features]")
            .skip(1)
            .take_while(|l| !l.trim_start().starts_with('['))
            .filter_map(|l| {
                l.trim()
                    .strip_prefix("sched-")?
                    .split_once(" =")
                    .map(|(n, _)| n)
            })
            .collect();
        let mut ours = SCHEDULERS.to_vec();
        ours.sort_unstable();
        let mut theirs = features.clone();
        theirs.sort_unstable();
        assert_eq!(
            ours, theirs,
            "SCHEDULERS must list the kernel's sched-* features"
        );
        let default = format!("default = [\"sched-{}\"]", SCHEDULERS[0]);
        assert!(
            text.contains(&default),
            "the first scheduler must be the kernel's default"
        );
    }

    #[test]
    fn libc_names_round_trip() {
        for libc in [Libc::Glibc, Libc::Musl, Libc::Rust] {
            assert_eq!(Libc::from_name(libc.name()), Some(libc));
        }
        assert_eq!(Libc::from_name("uclibc"), None);
    }
}
