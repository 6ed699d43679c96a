//! Cached columns' large buffers live in memory files (`memfd`), and results that cover a
//! whole buffer map the same pages copy-on-write instead of copying them.
//!
//! A result must be the caller's own: JS may write into it, and that must change neither the
//! table nor later reads. A private mapping (`MAP_PRIVATE`) of the cache's memory file gives
//! exactly that for the cost of a page-table entry: pages are shared until someone writes
//! one, and then only that page is copied, for that mapping alone. So a repeated
//! `toArrow()` of a 1.6 GB table hands out its vectors without copying or clearing 1.6 GB of
//! fresh pages. The cache's own mapping is read-only, so nothing can write through it.
//!
//! Only Linux has memory files; elsewhere, or when the system refuses one (file descriptor
//! limit, memory), buffers stay on the heap and results are copied as before.

use arrow_buffer::Buffer;

/// Buffers smaller than this stay on the heap (a memory file costs a descriptor).
pub(crate) const MIN_SHARED: usize = 1 << 20;

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::BTreeMap;
    use std::ptr::NonNull;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex, OnceLock};

    use arrow_buffer::Buffer;
    use rayon::prelude::*;

    /// Copies are split in pieces of this size across rayon's threads.
    const PIECE: usize = 4 << 20;

    /// Live regions: each holds a file descriptor, and the process's descriptors are shared
    /// with lance's data files, so regions may use at most a quarter of the limit.
    static REGIONS_LIVE: AtomicUsize = AtomicUsize::new(0);
    /// Live private mappings: each is a kernel memory area, and a process may have only
    /// so many (`vm.max_map_count`, 65,530 by default); past this, results are copied.
    static MAPPINGS_LIVE: AtomicUsize = AtomicUsize::new(0);
    const MAX_MAPPINGS: usize = 16_384;

    fn max_regions() -> usize {
        static MAX: OnceLock<usize> = OnceLock::new();
        *MAX.get_or_init(|| {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // Safety: getrlimit writes into the struct it is given.
            let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
            if ok {
                (limit.rlim_cur as usize / 4).min(1 << 20)
            } else {
                0
            }
        })
    }

    /// Takes one of `limit` slots of `counter`; false when none is left.
    fn take_slot(counter: &AtomicUsize, limit: usize) -> bool {
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .is_ok()
    }

    /// A memory file and the cache's read-only mapping of all of it.
    pub(super) struct Region {
        fd: libc::c_int,
        base: NonNull<u8>,
        len: usize,
    }

    // Safety: the mapping is read-only after it is filled, and owned by the `Arc` around it.
    unsafe impl Send for Region {}
    unsafe impl Sync for Region {}

    impl Drop for Region {
        fn drop(&mut self) {
            regions()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&(self.base.as_ptr() as usize));
            // Safety: `base..base+len` is this region's mapping and `fd` its file; private
            // mappings of the file keep its pages alive on their own.
            unsafe {
                libc::munmap(self.base.as_ptr().cast(), self.len);
                libc::close(self.fd);
            }
            REGIONS_LIVE.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// A private (copy-on-write) mapping handed out as a result buffer.
    struct PrivateMapping {
        base: NonNull<u8>,
        len: usize,
    }

    // Safety: the mapping belongs to the one `Buffer` that owns this value.
    unsafe impl Send for PrivateMapping {}
    unsafe impl Sync for PrivateMapping {}

    impl Drop for PrivateMapping {
        fn drop(&mut self) {
            // Safety: `base..base+len` is this value's own mapping.
            unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
            MAPPINGS_LIVE.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Live regions: start address -> (length, region). Weak: the registry must not keep an
    /// evicted column's memory alive.
    type Regions = BTreeMap<usize, (usize, std::sync::Weak<Region>)>;

    /// Live regions, so a result can find the file behind a cached slice.
    fn regions() -> &'static Mutex<Regions> {
        static REGIONS: OnceLock<Mutex<Regions>> = OnceLock::new();
        REGIONS.get_or_init(Mutex::default)
    }

    fn page_size() -> usize {
        static PAGE: OnceLock<usize> = OnceLock::new();
        // Safety: sysconf has no preconditions.
        *PAGE.get_or_init(|| unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize)
    }

    /// `bytes` in a new memory file, or `None` when the system refuses one.
    pub(super) fn store(bytes: &[u8]) -> Option<Buffer> {
        if !take_slot(&REGIONS_LIVE, max_regions()) {
            return None;
        }
        let stored = create_region(bytes);
        if stored.is_none() {
            REGIONS_LIVE.fetch_sub(1, Ordering::AcqRel);
        }
        stored
    }

    /// `bytes` in a new region; its slot is taken by the caller.
    fn create_region(bytes: &[u8]) -> Option<Buffer> {
        let len = bytes.len();
        // Safety: plain system calls on a descriptor and mapping this function owns; the
        // mapping is `len` bytes long and written only before it is made read-only.
        unsafe {
            let fd = libc::memfd_create(c"palimpsest-column".as_ptr(), libc::MFD_CLOEXEC);
            if fd < 0 {
                return None;
            }
            if libc::ftruncate(fd, len as libc::off_t) != 0 {
                libc::close(fd);
                return None;
            }
            let prot = libc::PROT_READ | libc::PROT_WRITE;
            let base = libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_SHARED, fd, 0);
            if base == libc::MAP_FAILED {
                libc::close(fd);
                return None;
            }
            let base = NonNull::new_unchecked(base.cast::<u8>());
            let copy = std::slice::from_raw_parts_mut(base.as_ptr(), len);
            copy.par_chunks_mut(PIECE)
                .zip(bytes.par_chunks(PIECE))
                .for_each(|(to, from)| to.copy_from_slice(from));
            libc::mprotect(base.as_ptr().cast(), len, libc::PROT_READ);
            let region = Arc::new(Region { fd, base, len });
            regions()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(base.as_ptr() as usize, (len, Arc::downgrade(&region)));
            Some(Buffer::from_custom_allocation(base, len, region))
        }
    }

    /// A private mapping of `bytes` when they start on a page of a live region.
    pub(super) fn map_private(bytes: &[u8]) -> Option<Buffer> {
        let start = bytes.as_ptr() as usize;
        let region = {
            let regions = regions().lock().unwrap_or_else(|e| e.into_inner());
            let (&base, (len, region)) = regions.range(..=start).next_back()?;
            if start + bytes.len() > base + len || !(start - base).is_multiple_of(page_size()) {
                return None;
            }
            region.upgrade()?
        };
        if !take_slot(&MAPPINGS_LIVE, MAX_MAPPINGS) {
            return None;
        }
        let offset = start - region.base.as_ptr() as usize;
        // Safety: maps `bytes.len()` bytes of the region's file at a page-aligned offset
        // inside it; the mapping is owned by the returned buffer.
        unsafe {
            let prot = libc::PROT_READ | libc::PROT_WRITE;
            let base = libc::mmap(
                std::ptr::null_mut(),
                bytes.len(),
                prot,
                libc::MAP_PRIVATE,
                region.fd,
                offset as libc::off_t,
            );
            if base == libc::MAP_FAILED {
                MAPPINGS_LIVE.fetch_sub(1, Ordering::AcqRel);
                return None;
            }
            let base = NonNull::new_unchecked(base.cast::<u8>());
            let mapping = Arc::new(PrivateMapping {
                base,
                len: bytes.len(),
            });
            Some(Buffer::from_custom_allocation(base, bytes.len(), mapping))
        }
    }
}

/// `bytes` moved into shared memory when they are large enough and the system allows it;
/// `None` keeps them where they are.
pub(crate) fn store(bytes: &[u8]) -> Option<Buffer> {
    if bytes.len() < MIN_SHARED {
        return None;
    }
    #[cfg(target_os = "linux")]
    return linux::store(bytes);
    #[cfg(not(target_os = "linux"))]
    return None;
}

/// A copy-on-write view of `bytes` as a buffer of the caller's own, when they are a page-
/// aligned run of a cached buffer in shared memory; `None` means copy them.
pub(crate) fn map_private(bytes: &[u8]) -> Option<Buffer> {
    if bytes.len() < MIN_SHARED {
        return None;
    }
    #[cfg(target_os = "linux")]
    return linux::map_private(bytes);
    #[cfg(not(target_os = "linux"))]
    return None;
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn private_mappings_stop_at_the_cap_and_resume_when_one_is_dropped() {
        let cached = store(&vec![7u8; MIN_SHARED]).expect("a memory file");
        let mut held = Vec::new();
        while let Some(mapped) = map_private(cached.as_slice()) {
            held.push(mapped);
            assert!(held.len() <= 16_384, "mappings past the cap");
        }
        assert_eq!(held.len(), 16_384);
        assert!(held.iter().all(|m| m.as_slice() == cached.as_slice()));
        held.pop();
        assert!(map_private(cached.as_slice()).is_some());
    }
}
