//! Random bytes for getrandom(2) and AT_RANDOM: RDRAND when the CPU has it, else a
//! xorshift generator seeded from the TSC (not cryptographic; logged once at boot).

use core::sync::atomic::{AtomicU64, Ordering};

static STATE: AtomicU64 = AtomicU64::new(0);

fn next_fallback() -> u64 {
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        x = arch::cpu::rdtsc() | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    x.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// Fills `buf` with random bytes.
pub fn fill(buf: &mut [u8]) {
    let hw = crate::cpu::features().rdrand;
    for chunk in buf.chunks_mut(8) {
        let v = if hw {
            arch::cpu::rdrand().unwrap_or_else(next_fallback)
        } else {
            next_fallback()
        };
        chunk.copy_from_slice(&v.to_ne_bytes()[..chunk.len()]);
    }
}
