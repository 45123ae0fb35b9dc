//! `cargo xtask bench`: the benchmark programs (tests/programs/bench/*.c, glibc and musl)
//! on Spindle and, with `--linux`, on a Linux guest under the same QEMU configuration;
//! medians of repeated runs side by side with the Spindle/Linux ratio.
//!
//! Programs print `bench NAME VALUE UNIT` lines. Boot-to-exit is the wall time of a whole
//! QEMU run of an empty static program. The Linux guest boots the uncompressed `vmlinux`
//! through PVH (unpacked from a bzImage with the host's gzip/xz/zstd when needed) with
//! an initramfs whose `/init` (bench_init.c) runs the program and ends QEMU through
//! isa-debug-exit. Under TCG, Linux needs `tsc_early_khz` or its boot may hang.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::builder::PossibleValuesParser;

use crate::outcome::{self, Outcome};
use crate::programs::{self, InitrdFile, Libc, SCHEDULERS, Workspace};
use crate::qemu::{self, Accel};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// A Linux kernel (vmlinux, or a vmlinuz/bzImage to unpack) to compare against.
    #[arg(long)]
    linux: Option<PathBuf>,
    /// Runs per program and system; medians are reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    repeat: u32,
    /// Number of CPUs.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    smp: u32,
    /// Scheduler policy compiled into the kernel.
    #[arg(long, value_parser = PossibleValuesParser::new(SCHEDULERS))]
    sched: Option<String>,
    /// Boot this Spindle kernel image instead of building one.
    #[arg(long, value_name = "PATH", conflicts_with = "sched")]
    kernel: Option<PathBuf>,
    /// Seconds before one run is killed.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
}

const INIT_SOURCE: &str = include_str!("bench_init.c");
const EMPTY_SOURCE: &str = "int main(void) { return 0; }\n";
const EMPTY: &str = "empty";
const BOOT_FIGURE: &str = "boot-to-exit (empty program)";
const LINUX_EXIT_PREFIX: &str = "linux-init: exit status ";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum System {
    Spindle,
    Linux,
}

/// Values of one figure (`bench NAME ...` for one libc) from every run.
#[derive(Debug, Default)]
struct Figure {
    unit: String,
    spindle: Vec<f64>,
    linux: Vec<f64>,
}

/// Parses `bench NAME VALUE UNIT`; anything else is not a figure.
fn parse_bench_line(line: &str) -> Option<(String, f64, String)> {
    let mut words = line.split_whitespace();
    if words.next()? != "bench" {
        return None;
    }
    let name = words.next()?.to_string();
    let value = words
        .next()?
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())?;
    let unit = words.collect::<Vec<_>>().join(" ");
    if unit.is_empty() {
        None
    } else {
        Some((name, value, unit))
    }
}

fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// The host's TSC frequency in kHz, measured against the monotonic clock: under TCG the
/// guest's TSC runs at the host's rate.
fn host_tsc_khz() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        let t0 = Instant::now();
        // SAFETY: rdtsc has no memory effects and exists on every x86_64 CPU.
        let c0 = unsafe { core::arch::x86_64::_rdtsc() };
        std::thread::sleep(Duration::from_millis(200));
        // SAFETY: as above.
        let c1 = unsafe { core::arch::x86_64::_rdtsc() };
        let secs = t0.elapsed().as_secs_f64();
        (c1.wrapping_sub(c0) as f64 / secs / 1000.0) as u64
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        1_000_000
    }
}

/// Decompresses `input` with a host tool, returning its output even when the tool
/// complains about the trailing data that follows the payload inside a bzImage.
fn decompress(tool: &str, args: &[&str], input: &[u8]) -> Option<Vec<u8>> {
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut out = Vec::new();
    let _ = child.stdout.take()?.read_to_end(&mut out);
    let _ = writer.join();
    let _ = child.wait();
    Some(out)
}

/// Offsets of compressed-stream magics in a bzImage, with the tool that unpacks each.
fn payload_candidates(image: &[u8]) -> Vec<(usize, &'static str, &'static [&'static str])> {
    const MAGICS: [(&[u8], &str, &[&str]); 3] = [
        (&[0x1f, 0x8b, 0x08], "gzip", &["-dc"]),
        (
            &[0xfd, b'7', b'z', b'X', b'Z', 0x00],
            "xz",
            &["-dc", "--single-stream"],
        ),
        (&[0x28, 0xb5, 0x2f, 0xfd], "zstd", &["-dc"]),
    ];
    let mut found = Vec::new();
    for (magic, tool, args) in MAGICS {
        for at in 0..image.len().saturating_sub(magic.len()) {
            if &image[at..at + magic.len()] == magic {
                found.push((at, tool, args));
            }
        }
    }
    found.sort_by_key(|c| c.0);
    found
}

/// The uncompressed ELF vmlinux for `path`: the file itself, or its unpacked payload.
fn vmlinux(ws: &Workspace, path: &Path) -> Result<PathBuf, String> {
    let image = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if image.starts_with(b"\x7fELF") {
        return Ok(path.to_path_buf());
    }
    for (at, tool, args) in payload_candidates(&image).into_iter().take(64) {
        if let Some(out) = decompress(tool, args, &image[at..])
            && out.starts_with(b"\x7fELF")
        {
            let dest = ws.out_dir("bench").join("vmlinux");
            fs::create_dir_all(ws.out_dir("bench")).map_err(|e| e.to_string())?;
            fs::write(&dest, out).map_err(|e| format!("{}: {e}", dest.display()))?;
            eprintln!(
                "xtask: unpacked the {tool} payload of {} to {}",
                path.display(),
                dest.display()
            );
            return Ok(dest);
        }
    }
    Err(format!(
        "{}: not an ELF vmlinux and no gzip/xz/zstd payload with an ELF kernel inside",
        path.display()
    ))
}

fn write_source(ws: &Workspace, name: &str, text: &str) -> Result<PathBuf, String> {
    let dir = ws.out_dir("bench");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(name);
    // Rewrite only on change so the mtime-based rebuild check stays quiet.
    if fs::read_to_string(&path).ok().as_deref() != Some(text) {
        fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(path)
}

pub fn bench(ws: &Workspace, args: BenchArgs) -> Result<u8, String> {
    qemu::ensure_tool(qemu::QEMU, "qemu-system-x86")?;
    qemu::ensure_tool("musl-gcc", "musl-tools")?;
    let names = ws.bench_programs();
    if names.is_empty() {
        eprintln!("xtask: no benchmark programs in tests/programs/bench; measuring boot only");
    }
    let kernel = match &args.kernel {
        Some(path) => path.clone(),
        None => programs::build_kernel(ws, args.sched.as_deref())?,
    };
    let empty_src = write_source(ws, "empty.c", EMPTY_SOURCE)?;
    let linux = match &args.linux {
        Some(path) => {
            let init_src = write_source(ws, "init.c", INIT_SOURCE)?;
            let init = ws.out_dir("bench").join("init");
            programs::build_c(&init_src, Libc::Glibc, &init)?;
            Some((vmlinux(ws, path)?, init, host_tsc_khz()))
        }
        None => None,
    };

    // One initrd per libc and system: the benchmarks and the empty program at /bin.
    let mut setups = Vec::new();
    for libc in [Libc::Glibc, Libc::Musl] {
        let mut files = vec![];
        let empty = ws.out_dir("bench").join(format!("empty-{}", libc.name()));
        programs::build_c(&empty_src, libc, &empty)?;
        files.push(programs::bin_file(EMPTY, empty));
        let mut runnable = vec![EMPTY.to_string()];
        for name in &names {
            match programs::build_bench_program(ws, libc, name) {
                Ok(path) => {
                    files.push(programs::bin_file(name, path));
                    runnable.push(name.clone());
                }
                Err(e) => eprintln!(
                    "xtask: warning: bench {name} ({}) left out: {e}",
                    libc.name()
                ),
            }
        }
        files.extend(programs::data_files(ws));
        let spindle = programs::write_initrd(ws, &format!("bench-{}", libc.name()), &files)?;
        let linux_initrd = match &linux {
            Some((_, init, _)) => {
                let mut with_init = files.clone();
                with_init.push(InitrdFile {
                    path: "init".into(),
                    source: init.clone(),
                    executable: true,
                });
                Some(programs::write_initrd(
                    ws,
                    &format!("bench-linux-{}", libc.name()),
                    &with_init,
                )?)
            }
            None => None,
        };
        setups.push((libc, runnable, spindle, linux_initrd));
    }

    let mut figures: BTreeMap<(String, Libc), Figure> = BTreeMap::new();
    let timeout = Duration::from_secs(args.timeout);
    for round in 1..=args.repeat {
        eprintln!("xtask: bench round {round}/{}", args.repeat);
        for (libc, runnable, spindle_initrd, linux_initrd) in &setups {
            for name in runnable {
                let mut systems = vec![(
                    System::Spindle,
                    qemu::Config {
                        kernel: kernel.clone(),
                        initrd: Some(spindle_initrd.clone()),
                        append: programs::kernel_cmdline(
                            "log=error",
                            &[],
                            Some(&format!("/bin/{name}")),
                            "",
                        ),
                        smp: args.smp,
                        memory: "512M".into(),
                        accel: Accel::Tcg,
                    },
                )];
                if let (Some((vmlinux, _, khz)), Some(initrd)) = (&linux, linux_initrd) {
                    systems.push((
                        System::Linux,
                        qemu::Config {
                            kernel: vmlinux.clone(),
                            initrd: Some(initrd.clone()),
                            append: format!(
                                "console=ttyS0 tsc_early_khz={khz} panic=-1 quiet -- /bin/{name}"
                            ),
                            smp: args.smp,
                            memory: "512M".into(),
                            accel: Accel::Tcg,
                        },
                    ));
                }
                for (system, config) in systems {
                    let run = qemu::run(&config, timeout, false);
                    let status = match system {
                        System::Spindle => run.outcome(),
                        System::Linux => linux_outcome(&run),
                    };
                    if status != Outcome::Exit(0) {
                        eprintln!("xtask: {name} ({}) on {system:?}: {status}", libc.name());
                        for line in run.lines.iter().rev().take(10).rev() {
                            eprintln!("    {line}");
                        }
                        continue;
                    }
                    let mut record = |figure: String, value: f64, unit: String| {
                        let f = figures.entry((figure, *libc)).or_default();
                        f.unit = unit;
                        match system {
                            System::Spindle => f.spindle.push(value),
                            System::Linux => f.linux.push(value),
                        }
                    };
                    if name == EMPTY {
                        record(
                            BOOT_FIGURE.into(),
                            run.elapsed.as_secs_f64() * 1000.0,
                            "ms".into(),
                        );
                    }
                    let lines: Vec<&str> = match system {
                        System::Spindle => outcome::program_lines(&run.lines),
                        System::Linux => run.lines.iter().map(String::as_str).collect(),
                    };
                    for (figure, value, unit) in lines.iter().filter_map(|l| parse_bench_line(l)) {
                        record(figure, value, unit);
                    }
                }
            }
        }
    }
    print_table(&figures, linux.is_some());
    Ok(0)
}

/// A Linux guest run ends well when /init reported status 0 and QEMU exited through
/// isa-debug-exit (or power-off).
fn linux_outcome(run: &qemu::Run) -> Outcome {
    let status = run
        .lines
        .iter()
        .rev()
        .find_map(|l| l.trim().strip_prefix(LINUX_EXIT_PREFIX))
        .and_then(|s| s.trim().parse::<u8>().ok());
    match (run.termination, status) {
        (outcome::Termination::TimedOut(s), _) => Outcome::TimedOut(s),
        (_, Some(status)) => Outcome::Exit(status),
        _ => Outcome::QemuFailed("no `linux-init: exit status` line".into()),
    }
}

fn show(v: Option<f64>) -> String {
    match v {
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.3}"),
        None => "-".into(),
    }
}

fn print_table(figures: &BTreeMap<(String, Libc), Figure>, with_linux: bool) {
    println!(
        "{:<32} {:<6} {:<10} {:>12} {:>12} {:>14}",
        "figure", "libc", "unit", "spindle", "linux", "spindle/linux"
    );
    for ((name, libc), f) in figures {
        let spindle = median(&f.spindle);
        let linux = if with_linux { median(&f.linux) } else { None };
        let ratio = match (spindle, linux) {
            (Some(s), Some(l)) if l != 0.0 => format!("{:.2}", s / l),
            _ => "-".into(),
        };
        println!(
            "{:<32} {:<6} {:<10} {:>12} {:>12} {:>14}",
            name,
            libc.name(),
            f.unit,
            show(spindle),
            show(linux),
            ratio
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_lines_are_parsed_and_other_lines_ignored() {
        assert_eq!(
            parse_bench_line("bench getpid 123.5 ns/op"),
            Some(("getpid".into(), 123.5, "ns/op".into()))
        );
        assert_eq!(parse_bench_line("benchmark done"), None);
        assert_eq!(parse_bench_line("bench x notanumber ns"), None);
        assert_eq!(parse_bench_line("bench x 1"), None);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn compressed_payload_magics_are_found_in_order() {
        let mut image = vec![0u8; 16];
        image.extend([0x28, 0xb5, 0x2f, 0xfd]);
        image.extend([0u8; 4]);
        image.extend([0x1f, 0x8b, 0x08, 0x00]);
        let found: Vec<_> = payload_candidates(&image)
            .into_iter()
            .map(|c| (c.0, c.1))
            .collect();
        assert_eq!(found, vec![(16, "zstd"), (24, "gzip")]);
    }

    #[test]
    fn gzip_payload_after_a_header_is_unpacked() {
        let Some(gz) = decompress("gzip", &["-c"], b"\x7fELF fake kernel") else {
            return;
        };
        let mut image = b"MZ bzImage setup code".to_vec();
        image.extend(&gz);
        image.extend(b"trailing data");
        let (at, tool, args) = payload_candidates(&image)[0];
        assert_eq!(
            decompress(tool, args, &image[at..]).unwrap(),
            b"\x7fELF fake kernel"
        );
    }
}
