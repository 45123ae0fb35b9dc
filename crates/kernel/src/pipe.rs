//! Pipes (pipe(7)): a 64 KiB byte queue between a read end and a write end.
//!
//! Linux's rules kept here: a read blocks until some bytes are there, and returns 0
//! (end of file) once every write end is closed; a write of at most `PIPE_BUF` bytes
//! is atomic; a write to a pipe with no read end raises SIGPIPE and fails with EPIPE;
//! `O_NONBLOCK` turns waits into EAGAIN; a signal ends a wait with EINTR.
//!
//! Waiting threads queue on the pipe under its lock and are unparked by the other side
//! (park/unpark permits: a wake between queueing and parking is not lost).

use crate::thread::{self, Thread, Wakeup};
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use spin::Mutex;
use syscall::Errno;

/// Bytes a pipe holds (Linux's default pipe size).
pub const CAPACITY: usize = 64 * 1024;
/// Writes up to this size are atomic (`PIPE_BUF`).
pub const PIPE_BUF: usize = 4096;

pub struct Pipe {
    inner: Mutex<Inner>,
}

struct Inner {
    buf: VecDeque<u8>,
    readers: usize,
    writers: usize,
    waiters: Vec<Arc<Thread>>,
}

impl Inner {
    fn wake_all(&mut self) -> Vec<Arc<Thread>> {
        core::mem::take(&mut self.waiters)
    }
}

fn unpark_all(list: Vec<Arc<Thread>>) {
    for t in &list {
        thread::unpark(t);
    }
}

/// Parks until woken; EINTR when a signal ended the wait.
fn wait() -> Result<(), Errno> {
    match thread::park(None) {
        Wakeup::Interrupted => Err(Errno::EINTR),
        _ => Ok(()),
    }
}

impl Pipe {
    /// A new pipe with one read end and one write end open.
    pub fn new() -> Arc<Pipe> {
        Arc::new(Pipe {
            inner: Mutex::new(Inner {
                buf: VecDeque::new(),
                readers: 1,
                writers: 1,
                waiters: Vec::new(),
            }),
        })
    }

    /// One end was closed for good (its last descriptor went away).
    pub fn close_end(&self, write_end: bool) {
        let woken = {
            let mut p = self.inner.lock();
            if write_end {
                p.writers -= 1;
            } else {
                p.readers -= 1;
            }
            p.wake_all()
        };
        unpark_all(woken);
    }

    /// Reads up to `max` bytes: at least one, or 0 at end of file.
    pub fn read(&self, max: usize, nonblock: bool) -> Result<Vec<u8>, Errno> {
        if max == 0 {
            return Ok(Vec::new());
        }
        loop {
            {
                let mut p = self.inner.lock();
                if !p.buf.is_empty() {
                    let n = max.min(p.buf.len());
                    let out: Vec<u8> = p.buf.drain(..n).collect();
                    let woken = p.wake_all();
                    drop(p);
                    unpark_all(woken);
                    return Ok(out);
                }
                if p.writers == 0 {
                    return Ok(Vec::new());
                }
                if nonblock {
                    return Err(Errno::EAGAIN);
                }
                p.waiters.push(thread::current());
            }
            wait()?;
        }
    }

    /// Writes `data`; returns the bytes written (all of them unless a signal, EAGAIN
    /// or the last reader's going cut it short).
    pub fn write(&self, data: &[u8], nonblock: bool) -> Result<usize, Errno> {
        let mut done = 0;
        loop {
            {
                let mut p = self.inner.lock();
                if p.readers == 0 {
                    drop(p);
                    let me = thread::current();
                    let info =
                        signal::SigInfo::sent(signal::SIGPIPE, signal::info::code::SI_USER, 1, 0);
                    crate::signal::send_to_thread(&me, signal::SIGPIPE, info);
                    return if done > 0 {
                        Ok(done)
                    } else {
                        Err(Errno::EPIPE)
                    };
                }
                let space = CAPACITY - p.buf.len();
                let left = data.len() - done;
                // A small write goes in whole or waits; a large one goes in pieces.
                let n = if left <= PIPE_BUF {
                    if space >= left { left } else { 0 }
                } else {
                    space.min(left)
                };
                if n > 0 {
                    p.buf.extend(&data[done..done + n]);
                    done += n;
                    let woken = p.wake_all();
                    drop(p);
                    unpark_all(woken);
                    if done == data.len() {
                        return Ok(done);
                    }
                    continue;
                }
                if nonblock {
                    return if done > 0 {
                        Ok(done)
                    } else {
                        Err(Errno::EAGAIN)
                    };
                }
                p.waiters.push(thread::current());
            }
            if let Err(e) = wait() {
                return if done > 0 { Ok(done) } else { Err(e) };
            }
        }
    }

    /// poll(2) readiness of one end: (readable, writable, hung up / error).
    pub fn poll(&self, write_end: bool) -> (bool, bool, bool) {
        let p = self.inner.lock();
        if write_end {
            (false, CAPACITY - p.buf.len() >= PIPE_BUF, p.readers == 0)
        } else {
            (!p.buf.is_empty(), false, p.writers == 0)
        }
    }

    /// Bytes waiting (FIONREAD).
    pub fn len(&self) -> usize {
        self.inner.lock().buf.len()
    }
}
