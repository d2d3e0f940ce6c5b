//! One way to take a lock: a mutex a panicking thread left poisoned still
//! holds consistent data here (every critical section only copies or
//! replaces fields), so the guard is taken anyway instead of panicking too.

use std::sync::{Mutex, MutexGuard, PoisonError};

pub trait LockExt<T> {
    /// The guard, poisoned or not.
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T> LockExt<T> for Mutex<T> {
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
