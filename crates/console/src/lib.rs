//! The kernel console: line discipline and the `tracing` subscriber that logs to it.
//!
//! Spindle's console is one byte sink (COM1, which the kernel provides through [`Sink`]).
//! This crate owns what goes through it:
//!
//! - [`Console`]: turns `\n` into `\r\n` as a terminal expects (the serial line has no
//!   tty layer to do it) and serialises writers with a spin lock, so lines from
//!   several CPUs never interleave mid-line within one `write`;
//! - [`Logger`]: a `tracing` subscriber writing `spindle: [LEVEL] target: message k=v`
//!   lines for events at or above a level taken from the command line (`log=debug`).
//!   Every kernel line starts with `spindle: `, which is how `xtask` tells kernel lines
//!   from program output (the protocol is in the README).
//!
//! It does not do input, scrollback or spans (span enter/exit are ignored).
#![cfg_attr(not(test), no_std)]

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Level, Metadata, Subscriber};

/// A byte sink: the serial port in the kernel, a buffer in tests.
pub trait Sink: Send {
    fn write_bytes(&mut self, bytes: &[u8]);
}

/// The console: a sink behind a lock, with `\n` → `\r\n`.
pub struct Console<S: Sink> {
    sink: spin::Mutex<S>,
}

impl<S: Sink> Console<S> {
    pub const fn new(sink: S) -> Self {
        Console {
            sink: spin::Mutex::new(sink),
        }
    }

    /// Replaces the sink (the kernel installs the real UART once it is set up).
    pub fn replace_sink(&self, sink: S) {
        *self.sink.lock() = sink;
    }

    /// Writes raw program output (fd 1 and 2).
    pub fn write(&self, bytes: &[u8]) {
        let mut sink = self.sink.lock();
        write_crlf(&mut *sink, bytes);
    }

    /// Writes one formatted kernel message, `spindle: ` prefixed, as one unit. A message
    /// of several lines gets the prefix on each, so every kernel line stays recognisable.
    pub fn line(&self, args: fmt::Arguments<'_>) {
        let mut sink = self.sink.lock();
        let mut w = Prefixed(&mut *sink);
        w.0.write_bytes(b"spindle: ");
        let _ = w.write_fmt(args);
        w.0.write_bytes(b"\r\n");
    }

    /// Takes the lock away from whoever holds it: for the panic path only, when the
    /// holder may be the CPU that panicked.
    ///
    /// # Safety
    /// No other CPU may be using the console any more (they are stopped or will be
    /// cut off by the VM's exit).
    pub unsafe fn force_unlock(&self) {
        // SAFETY: forwarded from the caller.
        unsafe { self.sink.force_unlock() };
    }
}

fn write_crlf<S: Sink + ?Sized>(sink: &mut S, bytes: &[u8]) {
    let mut rest = bytes;
    while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
        sink.write_bytes(&rest[..pos]);
        sink.write_bytes(b"\r\n");
        rest = &rest[pos + 1..];
    }
    sink.write_bytes(rest);
}

struct CrLf<'a, S: Sink + ?Sized>(&'a mut S);

impl<S: Sink + ?Sized> Write for CrLf<'_, S> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_crlf(self.0, s.as_bytes());
        Ok(())
    }
}

/// Writes with `\n` turned into `\r\n` followed by the `spindle: ` prefix.
struct Prefixed<'a, S: Sink + ?Sized>(&'a mut S);

impl<S: Sink + ?Sized> Write for Prefixed<'_, S> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s.as_bytes();
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            self.0.write_bytes(&rest[..pos]);
            self.0.write_bytes(b"\r\nspindle: ");
            rest = &rest[pos + 1..];
        }
        self.0.write_bytes(rest);
        Ok(())
    }
}

/// Parses a `log=` value: `off`, `error`, `warn`, `info`, `debug`, `trace`.
pub fn parse_level(s: &str) -> Option<Option<Level>> {
    Some(match s {
        "off" => None,
        "error" => Some(Level::ERROR),
        "warn" => Some(Level::WARN),
        "info" => Some(Level::INFO),
        "debug" => Some(Level::DEBUG),
        "trace" => Some(Level::TRACE),
        _ => return None,
    })
}

/// The `tracing` subscriber that writes events to a [`Console`].
pub struct Logger<S: Sink + 'static> {
    console: &'static Console<S>,
    /// 0 = off, 1 = error ... 5 = trace.
    max: AtomicU8,
    next_span: AtomicU64,
}

fn level_rank(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

impl<S: Sink + 'static> Logger<S> {
    pub const fn new(console: &'static Console<S>) -> Self {
        Logger {
            console,
            max: AtomicU8::new(2),
            next_span: AtomicU64::new(1),
        }
    }

    /// Sets the most verbose level written (`None`: nothing).
    pub fn set_level(&self, level: Option<Level>) {
        self.max
            .store(level.as_ref().map_or(0, level_rank), Ordering::Relaxed);
    }
}

struct Fields<'a, W: Write> {
    out: &'a mut W,
}

impl<W: Write> Visit for Fields<'_, W> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.out, "{value:?}");
        } else {
            let _ = write!(self.out, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let _ = self.out.write_str(value);
        } else {
            let _ = write!(self.out, " {}={value}", field.name());
        }
    }
}

impl<S: Sink + 'static> Subscriber for Logger<S> {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        level_rank(metadata.level()) <= self.max.load(Ordering::Relaxed)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed))
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        let mut sink = self.console.sink.lock();
        let mut w = CrLf(&mut *sink);
        let _ = write!(w, "spindle: [{}] {}: ", meta.level(), meta.target());
        event.record(&mut Fields { out: &mut w });
        let _ = w.write_str("\n");
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// `tracing` keeps its subscriber in an `Arc`; the kernel's logger is a static, so the
/// dispatcher holds a reference to it.
impl<S: Sink + 'static> Subscriber for &'static Logger<S> {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        (**self).enabled(metadata)
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        (**self).new_span(attrs)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        (**self).event(event)
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Sink for Buf {
        fn write_bytes(&mut self, bytes: &[u8]) {
            self.0.lock().unwrap().extend_from_slice(bytes);
        }
    }

    #[test]
    fn newlines_become_crlf() {
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let c = Console::new(Buf(out.clone()));
        c.write(b"a\nb\n\nc");
        assert_eq!(&*out.lock().unwrap(), b"a\r\nb\r\n\r\nc");
    }

    #[test]
    fn kernel_lines_carry_the_prefix() {
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let c = Console::new(Buf(out.clone()));
        c.line(format_args!("exit status {}", 3));
        assert_eq!(&*out.lock().unwrap(), b"spindle: exit status 3\r\n");
    }

    #[test]
    fn every_line_of_a_kernel_message_carries_the_prefix() {
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let c = Console::new(Buf(out.clone()));
        c.line(format_args!("kernel panic: a\nb"));
        assert_eq!(
            &*out.lock().unwrap(),
            b"spindle: kernel panic: a\r\nspindle: b\r\n"
        );
    }

    #[test]
    fn log_levels_parse_and_filter() {
        assert_eq!(parse_level("debug"), Some(Some(Level::DEBUG)));
        assert_eq!(parse_level("off"), Some(None));
        assert_eq!(parse_level("loud"), None);
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let console: &'static Console<Buf> = Box::leak(Box::new(Console::new(Buf(out))));
        let logger = Logger::new(console);
        logger.set_level(Some(Level::WARN));
        assert!(level_rank(&Level::ERROR) <= logger.max.load(Ordering::Relaxed));
        assert!(level_rank(&Level::INFO) > logger.max.load(Ordering::Relaxed));
    }
}
