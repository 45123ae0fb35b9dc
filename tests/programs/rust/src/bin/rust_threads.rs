//! Rust std's threading toolbox: spawn and join with results, Arc<Mutex>, mpsc channels,
//! Condvar ping-pong and wait_timeout, Barrier, thread::scope, thread_local!, sleep,
//! Instant and available_parallelism. Each part prints one deterministic line.

use std::cell::Cell;
use std::process::exit;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

fn check(ok: bool, what: &str) {
    if ok {
        println!("{what} ok");
    } else {
        println!("FAIL {what}");
        exit(1);
    }
}

thread_local! {
    static LOCAL: Cell<u64> = const { Cell::new(7) };
}

fn spawn_and_join() -> bool {
    let handles: Vec<_> = (0..8u64).map(|i| thread::spawn(move || i * i)).collect();
    let results: Vec<u64> = handles.into_iter().filter_map(|h| h.join().ok()).collect();
    results == (0..8u64).map(|i| i * i).collect::<Vec<_>>()
}

fn mutex_counter() -> bool {
    let counter = Arc::new(Mutex::new(0u64));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let c = Arc::clone(&counter);
            thread::spawn(move || {
                for _ in 0..2000 {
                    if let Ok(mut g) = c.lock() {
                        *g += 1;
                    }
                }
            })
        })
        .collect();
    let joined = handles.into_iter().all(|h| h.join().is_ok());
    joined && counter.lock().map(|g| *g == 16000).unwrap_or(false)
}

fn channels() -> bool {
    let (tx, rx) = mpsc::channel::<u64>();
    let handles: Vec<_> = (0..4u64)
        .map(|id| {
            let tx = tx.clone();
            thread::spawn(move || {
                for i in 0..250 {
                    if tx.send(id * 1000 + i).is_err() {
                        return;
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let sum: u64 = rx.iter().sum();
    let joined = handles.into_iter().all(|h| h.join().is_ok());
    let want: u64 = (0..4u64).map(|id| (0..250).map(|i| id * 1000 + i).sum::<u64>()).sum();
    joined && sum == want
}

fn condvar_ping_pong() -> bool {
    let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
    let other = Arc::clone(&pair);
    let rounds = 1000;
    let t = thread::spawn(move || {
        let (lock, cv) = &*other;
        for i in 0..rounds {
            let Ok(mut g) = lock.lock() else { return false };
            while *g != 2 * i + 1 {
                let Ok(next) = cv.wait(g) else { return false };
                g = next;
            }
            *g += 1;
            cv.notify_one();
        }
        true
    });
    let (lock, cv) = &*pair;
    for i in 0..rounds {
        let Ok(mut g) = lock.lock() else { return false };
        while *g != 2 * i {
            let Ok(next) = cv.wait(g) else { return false };
            g = next;
        }
        *g += 1;
        cv.notify_one();
    }
    t.join().unwrap_or(false) && lock.lock().map(|g| *g == 2 * rounds).unwrap_or(false)
}

fn condvar_timeout() -> bool {
    let lock = Mutex::new(());
    let cv = Condvar::new();
    let start = Instant::now();
    let Ok(mut guard) = lock.lock() else { return false };
    loop {
        let left = Duration::from_millis(50).saturating_sub(start.elapsed());
        let Ok((g, result)) = cv.wait_timeout(guard, left) else { return false };
        guard = g;
        if result.timed_out() {
            break;
        }
    }
    start.elapsed() >= Duration::from_millis(50)
}

fn barrier() -> bool {
    let barrier = Arc::new(Barrier::new(5));
    let arrived = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let b = Arc::clone(&barrier);
            let a = Arc::clone(&arrived);
            thread::spawn(move || {
                a.fetch_add(1, Ordering::SeqCst);
                b.wait().is_leader()
            })
        })
        .collect();
    let main_leader = barrier.wait().is_leader();
    let all_arrived = arrived.load(Ordering::SeqCst) == 4;
    let leaders = handles
        .into_iter()
        .map(|h| h.join().unwrap_or(false))
        .filter(|&l| l)
        .count()
        + usize::from(main_leader);
    all_arrived && leaders == 1
}

fn scoped() -> bool {
    let mut data = vec![1u64; 1000];
    thread::scope(|s| {
        for chunk in data.chunks_mut(250) {
            s.spawn(move || chunk.iter_mut().for_each(|x| *x *= 3));
        }
    });
    data.iter().sum::<u64>() == 3000
}

fn thread_locals() -> bool {
    LOCAL.with(|v| v.set(100));
    let others: Vec<_> = (0..4u64)
        .map(|i| {
            thread::spawn(move || {
                let fresh = LOCAL.with(|v| v.get()) == 7;
                LOCAL.with(|v| v.set(i));
                fresh && LOCAL.with(|v| v.get()) == i
            })
        })
        .collect();
    let ok = others.into_iter().all(|h| h.join().unwrap_or(false));
    ok && LOCAL.with(|v| v.get()) == 100
}

fn sleep() -> bool {
    let start = Instant::now();
    thread::sleep(Duration::from_millis(20));
    start.elapsed() >= Duration::from_millis(20)
}

fn main() {
    check(spawn_and_join(), "spawn and join 8 threads");
    check(mutex_counter(), "Arc<Mutex> counter");
    check(channels(), "mpsc channel");
    check(condvar_ping_pong(), "Condvar ping-pong 1000 rounds");
    check(condvar_timeout(), "Condvar wait_timeout 50 ms");
    check(barrier(), "Barrier with one leader");
    check(scoped(), "thread::scope");
    check(thread_locals(), "thread_local!");
    check(sleep(), "thread::sleep 20 ms");
    let n = thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    check(n >= 1, "available_parallelism");
    println!("PASS");
}
