//! Keeping resident memory close to what is in use. glibc's malloc keeps
//! freed memory in its arenas rather than giving it back: DuckDB frees and
//! reallocates its 256 KiB buffers all the time, and batches of rows come
//! and go, so without help the process holds memory it no longer uses.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod imp {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};

    /// Set the allocator up; call before any thread exists. glibc's own
    /// variables (`MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_`) win if set.
    pub fn tune() {
        let unset = |name: &str| std::env::var_os(name).is_none();
        // SAFETY: mallopt only sets allocator tunables, and runs before any
        // other thread could be allocating.
        unsafe {
            // Every thread that allocates gets its own arena otherwise (up
            // to 8 per core), each holding freed memory apart.
            if unset("MALLOC_ARENA_MAX") {
                libc::mallopt(libc::M_ARENA_MAX, 2);
            }
            // A fixed threshold (glibc's starting one, 128 KiB), so that each
            // block of DuckDB's buffer pool (256 KiB) and each large batch is
            // a mapping of its own, given back whole when freed. Left
            // dynamic, glibc raises the threshold to the size of each large
            // block freed, up to 32 MiB, and such blocks then come from the
            // arenas and fragment them: 12 MB more at the median at 100,000
            // events/s (docs/PERFORMANCE.md).
            if unset("MALLOC_MMAP_THRESHOLD_") {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
            }
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

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// The binary's allocator: the system's (glibc's malloc, tuned above),
/// counting heap allocations (and reallocations) while
/// [`count_allocations`] is on — for `courier bench`'s allocations per
/// event. Off, the cost is one relaxed load per allocation. DuckDB's own
/// C++ allocations do not pass through it.
pub struct CountingAllocator;

// SAFETY: every call is passed on to `System` unchanged; the counter has no
// effect on the memory handed out.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[inline]
fn count() {
    if COUNTING.load(Ordering::Relaxed) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Start (or stop) counting allocations.
pub fn count_allocations(on: bool) {
    COUNTING.store(on, Ordering::Relaxed);
}

/// Allocations counted so far (0 where the binary does not use
/// [`CountingAllocator`], as in the library's own tests).
pub fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// How many more elements to reserve so that `more` fit after `len` in a
/// buffer of `capacity` (None: they fit): doubling as the standard
/// collections do, but never past `limit`, the buffer's bound, unless
/// `len + more` needs it. A buffer sized for its bound up front holds mostly
/// nothing at ordinary rates; one grown by plain doubling overshoots it.
pub fn room_to_reserve(len: usize, capacity: usize, more: usize, limit: usize) -> Option<usize> {
    let need = len + more;
    (need > capacity).then(|| (capacity * 2).max(256).min(limit).max(need) - len)
}

#[cfg(test)]
mod tests {
    use super::room_to_reserve;

    #[test]
    fn a_buffer_grows_by_doubling_up_to_its_bound_and_past_it_only_when_needed() {
        assert_eq!(room_to_reserve(0, 0, 10, 1000), Some(256));
        assert_eq!(room_to_reserve(100, 256, 10, 1000), None, "room left");
        assert_eq!(room_to_reserve(256, 256, 1, 1000), Some(256), "doubles to 512");
        assert_eq!(
            room_to_reserve(512, 512, 100, 1000),
            Some(488),
            "stops at the bound (1000)"
        );
        assert_eq!(
            room_to_reserve(1000, 1000, 5, 1000),
            Some(5),
            "past it: exactly the room needed"
        );
        assert_eq!(
            room_to_reserve(0, 0, 10, 100),
            Some(100),
            "a bound below the first step"
        );
    }
}
