//! COM1 as the console's byte sink, and the kernel's console and logger statics.

use console::{Console, Logger, Sink};
use uart_16550::Uart16550;
use uart_16550::backend::PioBackend;

pub struct Com1(Option<Uart16550<PioBackend>>);

impl Sink for Com1 {
    fn write_bytes(&mut self, mut bytes: &[u8]) {
        let Some(uart) = self.0.as_mut() else { return };
        while !bytes.is_empty() {
            let n = uart.send_bytes(bytes);
            bytes = &bytes[n..];
        }
    }
}

pub static CONSOLE: Console<Com1> = Console::new(Com1(None));
pub static LOGGER: Logger<Com1> = Logger::new(&CONSOLE);

/// Sets up COM1.
pub fn init() {
    // SAFETY: 0x3f8 is COM1 on every PC-compatible machine QEMU emulates, used only here.
    let uart = unsafe { Uart16550::new_port(0x3f8) };
    if let Ok(mut uart) = uart {
        let _ = uart.init(uart_16550::Config::default());
        CONSOLE.replace_sink(Com1(Some(uart)));
    }
}

/// Installs the logger as the global `tracing` subscriber (needs the heap).
pub fn init_logging(level: Option<tracing::Level>) {
    LOGGER.set_level(level);
    let _ = tracing::dispatcher::set_global_default(tracing::Dispatch::new(&LOGGER));
}

/// Writes a `spindle: ` line.
#[macro_export]
macro_rules! kprintln {
    ($($arg:tt)*) => { $crate::serial::CONSOLE.line(format_args!($($arg)*)) };
}
