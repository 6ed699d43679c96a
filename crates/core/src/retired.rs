//! Values a handle let go of on the calling (JS) thread, freed later on a worker thread.
//!
//! A checkout answered at once replaces the handle's dataset. Freeing the one it replaces
//! costs time that grows with the table (the last reference to a version's manifest lists
//! every fragment), and handing it to another thread costs a wake-up: both more than the
//! checkout itself. So the old dataset is parked here and freed by the handle's next async
//! call, which runs on a worker thread anyway.

use std::sync::{Arc, Mutex, MutexGuard};

/// Most values parked at once; beyond it the oldest is freed on the spot, so a caller that
/// only ever checks out at once still holds a bounded amount.
const MAX_PARKED: usize = 4;

pub(crate) struct Retired<T> {
    parked: Mutex<Vec<Arc<T>>>,
}

impl<T> Default for Retired<T> {
    fn default() -> Self {
        Self {
            parked: Mutex::new(Vec::new()),
        }
    }
}

impl<T> Retired<T> {
    fn parked(&self) -> MutexGuard<'_, Vec<Arc<T>>> {
        self.parked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Parks `value` when this is its last reference (otherwise dropping it only decrements
    /// a count, done here).
    pub(crate) fn park(&self, value: Arc<T>) {
        if Arc::strong_count(&value) > 1 {
            return;
        }
        let oldest = {
            let mut parked = self.parked();
            parked.push(value);
            (parked.len() > MAX_PARKED).then(|| parked.remove(0))
        };
        drop(oldest);
    }

    /// Frees everything parked (outside the lock).
    pub(crate) fn free(&self) {
        let parked = std::mem::take(&mut *self.parked());
        drop(parked);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parks_last_references_until_freed_and_bounds_how_many() {
        let retired = Retired::default();
        let shared = Arc::new(1);
        retired.park(shared.clone());
        assert_eq!(
            Arc::strong_count(&shared),
            1,
            "a shared value is not parked"
        );

        let values: Vec<Arc<i32>> = (0..MAX_PARKED as i32 + 2).map(Arc::new).collect();
        let weak: Vec<_> = values.iter().map(Arc::downgrade).collect();
        for value in values {
            retired.park(value);
        }
        let alive = |w: &[std::sync::Weak<i32>]| w.iter().filter(|w| w.upgrade().is_some()).count();
        // The two oldest were freed to keep the bound; the rest wait.
        assert!(weak[0].upgrade().is_none() && weak[1].upgrade().is_none());
        assert_eq!(alive(&weak), MAX_PARKED);
        retired.free();
        assert_eq!(alive(&weak), 0);
    }
}
