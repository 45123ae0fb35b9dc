//! The headline program with std threads: 10 threads each print "secondary thread";
//! the main thread reports creating and then joining them.

fn main() {
    let handles: Vec<_> = (0..10)
        .map(|_| std::thread::spawn(|| println!("secondary thread")))
        .collect();
    println!("Created {} threads", handles.len());
    let count = handles.len();
    for h in handles {
        if h.join().is_err() {
            println!("FAIL: a thread panicked");
            std::process::exit(1);
        }
    }
    println!("Joined {count} threads");
}
