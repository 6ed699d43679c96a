//! Cached columns' large buffers live in memory files (`memfd`), and results that are a
//! large run of such a buffer (a whole column, a range's slice) map the same pages
//! copy-on-write instead of copying them.
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
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::ptr::NonNull;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex, OnceLock, Weak};

    use arrow_buffer::Buffer;

    use crate::array_copy::copy_in_parallel;

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

    /// One of a counter's limited slots, given back when dropped.
    struct Slot(&'static AtomicUsize);

    impl Slot {
        fn take(counter: &'static AtomicUsize, limit: usize) -> Option<Slot> {
            counter
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < limit).then_some(n + 1)
                })
                .ok()
                .map(|_| Slot(counter))
        }
    }

    impl Drop for Slot {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// A mapping of `len` bytes of a memory file, unmapped when dropped.
    struct Mapping {
        base: NonNull<u8>,
        len: usize,
    }

    // Safety: the mapping is owned by this value alone; shared mappings are read-only once
    // filled, private ones belong to the one buffer that owns them.
    unsafe impl Send for Mapping {}
    unsafe impl Sync for Mapping {}

    impl Mapping {
        /// Maps `len` bytes of `fd` from `offset` (page-aligned), readable and writable.
        fn new(fd: &OwnedFd, len: usize, offset: usize, flags: libc::c_int) -> Option<Mapping> {
            let prot = libc::PROT_READ | libc::PROT_WRITE;
            // Safety: a fresh mapping of a file this process holds open; nothing aliases it.
            let base = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    prot,
                    flags,
                    fd.as_raw_fd(),
                    offset as libc::off_t,
                )
            };
            if base == libc::MAP_FAILED {
                return None;
            }
            NonNull::new(base.cast::<u8>()).map(|base| Mapping { base, len })
        }
    }

    impl Drop for Mapping {
        fn drop(&mut self) {
            // Safety: `base..base+len` is this value's own mapping.
            unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
        }
    }

    /// A memory file and the cache's read-only mapping of all of it. Private mappings of the
    /// file keep its pages alive after the region is gone: when it goes, the pages that no
    /// private mapping covers are released, so a result that maps a small part of a large
    /// column keeps only that part.
    pub(super) struct Region {
        mapping: Mapping,
        fd: OwnedFd,
        /// The file's page ranges that live private mappings cover.
        pins: Arc<Pins>,
        _slot: Slot,
    }

    impl Drop for Region {
        fn drop(&mut self) {
            regions()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&(self.mapping.base.as_ptr() as usize));
            let pinned = self.pins.ranges.lock().unwrap_or_else(|e| e.into_inner());
            if !pinned.is_empty() {
                release_unpinned(&self.fd, self.mapping.len, pinned.keys());
            }
        }
    }

    /// Byte ranges (`start..end`, page-aligned) of a memory file that private mappings
    /// cover, each with how many mappings cover it.
    #[derive(Default)]
    struct Pins {
        ranges: Mutex<BTreeMap<(usize, usize), usize>>,
    }

    /// Frees the pages of the memory file `fd` (`len` bytes) outside every range of `pinned`
    /// (ranges in ascending order of their starts, as a BTreeMap's keys come): nothing maps
    /// them any more once the cache's own mapping is gone.
    fn release_unpinned<'a>(
        fd: &OwnedFd,
        len: usize,
        pinned: impl Iterator<Item = &'a (usize, usize)>,
    ) {
        let mut from = 0;
        let punch = |start: usize, end: usize| {
            if end > start {
                // Safety: fallocate on a descriptor this process owns; failing leaves the
                // pages in place, which is only memory.
                unsafe {
                    libc::fallocate(
                        fd.as_raw_fd(),
                        libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                        start as libc::off_t,
                        (end - start) as libc::off_t,
                    )
                };
            }
        };
        for &(start, end) in pinned {
            punch(from, start);
            from = from.max(end);
        }
        punch(from, len.next_multiple_of(page_size()));
    }

    /// A private (copy-on-write) mapping handed out as a result buffer.
    struct PrivateMapping {
        _mapping: Mapping,
        /// Its range of the file, in `pins` until it is unmapped.
        range: (usize, usize),
        pins: Arc<Pins>,
        _slot: Slot,
    }

    impl Drop for PrivateMapping {
        fn drop(&mut self) {
            let mut ranges = self.pins.ranges.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(count) = ranges.get_mut(&self.range) {
                *count -= 1;
                if *count == 0 {
                    ranges.remove(&self.range);
                }
            }
        }
    }

    /// Live regions by start address, so a result can find the file behind a cached slice.
    /// Weak: the registry must not keep an evicted column's memory alive.
    fn regions() -> &'static Mutex<BTreeMap<usize, Weak<Region>>> {
        static REGIONS: OnceLock<Mutex<BTreeMap<usize, Weak<Region>>>> = OnceLock::new();
        REGIONS.get_or_init(Mutex::default)
    }

    fn page_size() -> usize {
        static PAGE: OnceLock<usize> = OnceLock::new();
        // Safety: sysconf has no preconditions.
        *PAGE.get_or_init(|| unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize)
    }

    #[cfg(test)]
    pub(super) fn region_at(base: usize) -> Option<Arc<Region>> {
        regions()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&base)?
            .upgrade()
    }

    #[cfg(test)]
    impl Region {
        pub(super) fn fd(&self) -> &OwnedFd {
            &self.fd
        }
    }

    /// `bytes` in a new memory file, or `None` when the system refuses one.
    pub(super) fn store(bytes: &[u8]) -> Option<Buffer> {
        let slot = Slot::take(&REGIONS_LIVE, max_regions())?;
        let len = bytes.len();
        // Safety: memfd_create has no preconditions; a non-negative result is a descriptor
        // this process now owns.
        let fd = unsafe { libc::memfd_create(c"palimpsest-column".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        // Safety: see above.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // Safety: sizes the file this process just created.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) } != 0 {
            return None;
        }
        let mapping = Mapping::new(&fd, len, 0, libc::MAP_SHARED)?;
        // Safety: the mapping is `len` writable bytes that nothing else references yet; it
        // is made read-only before anyone else can see it.
        unsafe {
            copy_in_parallel(
                std::slice::from_raw_parts_mut(mapping.base.as_ptr(), len),
                bytes,
            );
            libc::mprotect(mapping.base.as_ptr().cast(), len, libc::PROT_READ);
        }
        let base = mapping.base;
        let region = Arc::new(Region {
            mapping,
            fd,
            pins: Arc::default(),
            _slot: slot,
        });
        regions()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(base.as_ptr() as usize, Arc::downgrade(&region));
        // Safety: the region owns `len` initialised bytes at `base` for as long as it lives.
        Some(unsafe { Buffer::from_custom_allocation(base, len, region) })
    }

    /// A private mapping of `bytes` when they lie in a live region. The mapping starts on
    /// the page holding their first byte; the buffer starts at that byte.
    pub(super) fn map_private(bytes: &[u8]) -> Option<Buffer> {
        let start = bytes.as_ptr() as usize;
        let region = {
            let regions = regions().lock().unwrap_or_else(|e| e.into_inner());
            regions.range(..=start).next_back()?.1.upgrade()?
        };
        let base = region.mapping.base.as_ptr() as usize;
        let offset = start - base;
        if offset + bytes.len() > region.mapping.len {
            return None;
        }
        let lead = offset % page_size();
        let slot = Slot::take(&MAPPINGS_LIVE, MAX_MAPPINGS)?;
        let mapping = Mapping::new(
            &region.fd,
            lead + bytes.len(),
            offset - lead,
            libc::MAP_PRIVATE,
        )?;
        // Safety: `lead` is less than a page, inside the mapping.
        let first = unsafe { NonNull::new_unchecked(mapping.base.as_ptr().add(lead)) };
        // Pinned while `region` is still held, so its drop cannot miss this mapping.
        let range = (
            offset - lead,
            (offset + bytes.len()).next_multiple_of(page_size()),
        );
        region
            .pins
            .ranges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(range)
            .and_modify(|count| *count += 1)
            .or_insert(1);
        let owner = Arc::new(PrivateMapping {
            _mapping: mapping,
            range,
            pins: region.pins.clone(),
            _slot: slot,
        });
        // Safety: the mapping holds `bytes.len()` initialised bytes (the region's) from
        // `first` for as long as `owner` lives.
        Some(unsafe { Buffer::from_custom_allocation(first, bytes.len(), owner) })
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

/// Results shorter than this are copied: below it a mapping (and unmapping it later) costs
/// about as much as the copy.
pub(crate) const MIN_MAPPED: usize = 256 << 10;

/// A copy-on-write view of `bytes` as a buffer of the caller's own, when they are a run of a
/// cached buffer in shared memory; `None` means copy them.
pub(crate) fn map_private(bytes: &[u8]) -> Option<Buffer> {
    if bytes.len() < MIN_MAPPED {
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

    /// The cap on private mappings is process-wide: these tests take turns.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn private_mappings_stop_at_the_cap_and_resume_when_one_is_dropped() {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
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

    /// A duplicate of the descriptor of the region `cached` lives in, to look at the file
    /// after the region is gone.
    fn file_of(cached: &Buffer) -> std::os::fd::OwnedFd {
        use std::os::fd::{AsRawFd, FromRawFd};
        let base = cached.as_ptr() as usize;
        let region = linux::region_at(base).expect("a live region");
        // Safety: dup of a descriptor the region owns; the copy is ours.
        unsafe { std::os::fd::OwnedFd::from_raw_fd(libc::dup(region.fd().as_raw_fd())) }
    }

    /// Bytes of memory the file holds.
    fn allocated(fd: &std::os::fd::OwnedFd) -> usize {
        use std::os::fd::AsRawFd;
        // Safety: fstat fills the struct it is given.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::fstat(fd.as_raw_fd(), &mut stat) }, 0);
        stat.st_blocks as usize * 512
    }

    #[test]
    fn a_dropped_region_keeps_only_the_pages_live_results_map() {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let page = 4096;
        let bytes: Vec<u8> = (0..1024 * page).map(|i| (i % 251) as u8).collect();
        let cached = store(&bytes).expect("a memory file");
        let file = file_of(&cached);
        assert!(allocated(&file) >= bytes.len());
        // From inside page 100 to inside page 200 (400 KB), and a result dropped at once.
        let slice = 100 * page + 123..200 * page + 45;
        let mapped = map_private(&cached.as_slice()[slice.clone()]).expect("mapped");
        drop(map_private(&cached.as_slice()[600 * page..900 * page]).expect("mapped"));
        drop(cached);
        let kept = allocated(&file);
        assert!(
            (100 * page..=102 * page).contains(&kept),
            "the file keeps the mapped pages alone: {kept} bytes"
        );
        assert_eq!(
            mapped.as_slice(),
            &bytes[slice],
            "the result still reads its bytes"
        );
        drop(mapped);
    }
}
