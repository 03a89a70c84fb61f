//! glibc's allocator tuned for a host that moves megabytes of text in a short run.
//!
//! By default glibc serves every allocation over 128 KiB with its own `mmap` and returns it
//! with `munmap` when freed (after a free the threshold grows, but only up to that block's
//! size), and trims the heap whenever 128 KiB at its top are free: the state file read in,
//! the index text lifted out of the component and the spool's parts then each come in fresh
//! pages, faulted in one by one. Kept in the heap they are reused: a cached index takes
//! about 20% fewer page faults (5,000-item watchlist: 1,670 -> 1,345), a 100,000-play index
//! 6% (see https://man7.org/linux/man-pages/man3/mallopt.3.html, M_MMAP_THRESHOLD and
//! M_TRIM_THRESHOLD).

/// Blocks up to this size come from the heap (a history text's part is about 2 MiB, a
/// watchlist's text a few MiB).
pub const MMAP_THRESHOLD: i32 = 64 << 20;
/// Free memory at the top of the heap is kept up to this much.
pub const TRIM_THRESHOLD: i32 = 128 << 20;

/// Set the thresholds; call once, at the start of `main`.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes two parameters of glibc's allocator, which it reads under
    // its own lock; it is called before any thread of ours starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}
