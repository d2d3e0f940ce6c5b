//! Keeping resident memory close to what is in use. glibc's malloc keeps
//! freed memory in its arenas rather than giving it back: DuckDB frees and
//! reallocates its 256 KiB buffers all the time, and batches of rows come
//! and go, so without help the process holds memory it no longer uses.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod imp {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};

    /// Set the allocator up; call before any thread exists.
    pub fn tune() {
        // SAFETY: mallopt only sets allocator tunables, and runs before any
        // other thread could be allocating.
        unsafe {
            // Every thread that allocates gets its own arena otherwise (up
            // to 8 per core), each holding freed memory apart.
            libc::mallopt(libc::M_ARENA_MAX, 2);
            // (A fixed M_MMAP_THRESHOLD, so that DuckDB's 256 KiB buffers
            // are their own mappings, saved ~10 MiB at 100k events/s but
            // cost ~12% of ingest throughput: left at glibc's default.)
        }
    }

    static LAST_TRIM_MS: AtomicU64 = AtomicU64::new(0);

    /// Give free memory back to the system, at most every `every_ms`
    /// (a trim walks the arenas: a few milliseconds at most).
    pub fn trim_now_and_then(every_ms: u64) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let last = LAST_TRIM_MS.load(Ordering::Relaxed);
        if now.saturating_sub(last) < every_ms
            || LAST_TRIM_MS
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        // SAFETY: malloc_trim only returns free pages to the system.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    pub fn tune() {}
    pub fn trim_now_and_then(_every_ms: u64) {}
}

pub use imp::{trim_now_and_then, tune};
