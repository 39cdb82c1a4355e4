//! What this machine charges a thread for waking up, measured the way the benchmark measures
//! the server (thread CPU time). `bench/run.sh` runs it pinned to the server's core and prints
//! the figures next to the table: they are the floor under the CPU per run of the levels where
//! the server sleeps between a run's steps (c=1 with the model's 50 ms delay).
//!
//! For each idle time (none, 1 ms, 50 ms) it repeats: wait that long in `epoll_wait` (as a
//! tokio worker parks), then read and write one byte per cache line of a buffer of the given
//! size (none, 256 KiB, 1 MiB, standing in for a run's code and data). It prints one line of
//! JSON per case with the CPU microseconds per iteration.
//!
//! `wake-floor [ITERATIONS_AT_50_MS]` (default 60).

use std::time::Duration;

/// The calling thread's CPU time, in microseconds.
fn thread_cpu_us() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a constant the kernel knows.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e6 + ts.tv_nsec as f64 / 1e3
}

/// Parks the thread for `idle` in `epoll_wait` on an empty epoll set (returns at once if zero).
fn park(epoll: i32, idle: Duration) {
    if idle.is_zero() {
        return;
    }
    let mut event = libc::epoll_event { events: 0, u64: 0 };
    // SAFETY: `epoll` is a live epoll descriptor and `event` has room for the one event asked.
    unsafe { libc::epoll_wait(epoll, &mut event, 1, idle.as_millis() as i32) };
}

/// Touches one byte per 64-byte line of `buf`; returns a sum so the work is not optimized away.
fn touch(buf: &mut [u8]) -> u64 {
    let mut sum = 0u64;
    for byte in buf.iter_mut().step_by(64) {
        *byte = byte.wrapping_add(1);
        sum += u64::from(*byte);
    }
    sum
}

fn main() {
    let at_50: u32 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(60);
    // SAFETY: plain syscall; the descriptor is checked below and lives until the process exits.
    let epoll = unsafe { libc::epoll_create1(0) };
    assert!(epoll >= 0, "epoll_create1 failed");
    let mut checksum = 0u64;
    for idle_ms in [0u64, 1, 50] {
        for kib in [0usize, 256, 1024] {
            let mut buf = vec![1u8; kib * 1024];
            // About three seconds per case at 50 ms, fewer waits for shorter idles.
            let iterations = match idle_ms {
                0 => 2_000,
                1 => 500,
                _ => at_50,
            };
            let idle = Duration::from_millis(idle_ms);
            checksum = checksum.wrapping_add(touch(&mut buf));
            let start = thread_cpu_us();
            for _ in 0..iterations {
                park(epoll, idle);
                checksum = checksum.wrapping_add(touch(&mut buf));
            }
            let per = (thread_cpu_us() - start) / f64::from(iterations);
            println!(r#"{{"idle_ms": {idle_ms}, "touch_kib": {kib}, "cpu_us": {per:.1}}}"#);
        }
    }
    // Printed to stderr so the work above cannot be elided; the benchmark ignores it.
    eprintln!("checksum {checksum}");
}
