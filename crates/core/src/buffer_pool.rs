//! Recycled memory for large result buffers.
//!
//! A large result (a whole-table `toArrow()`) is copied out of the column cache into fresh
//! buffers, and on virtual machines the kernel's first touch of fresh pages costs more than
//! the copy itself (profiled: 62% of a 1.6 GB copy in `clear_page_rep`). When a result is
//! dropped (JS collected it), its large blocks come back here instead of to the system, and
//! the next large result reuses pages that are already mapped. The same holds for the
//! sub-megabyte buffers of a filtered read (a 10,000-row result is a few hundred KB per
//! column): fresh, they cost a page fault per 4 KB on every call. Blocks come in size
//! classes (eight per doubling), so a buffer reuses a block at most 1/8 larger than it. The
//! pool holds at most half the column cache's budget; blocks beyond that are freed.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::collections::BTreeMap;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, OnceLock};

use arrow_buffer::Buffer;

use crate::column_cache::budget_bytes;

/// Blocks smaller than this come from the allocator as usual.
pub(crate) const MIN_POOLED: usize = 64 << 10;
const ALIGN: usize = 64;

/// A block of `capacity` bytes from the global allocator.
struct Block {
    ptr: NonNull<u8>,
    capacity: usize,
}

// Safety: a block is plain memory owned by exactly one holder at a time.
unsafe impl Send for Block {}
unsafe impl Sync for Block {}

impl Block {
    fn layout(capacity: usize) -> Layout {
        Layout::from_size_align(capacity, ALIGN).expect("a valid block layout")
    }

    fn new(capacity: usize) -> Block {
        // Zeroed, so the bytes are initialised; for large blocks the allocator maps fresh
        // zero pages rather than writing them. Safety: the layout has a non-zero size
        // (callers pool only large blocks).
        let ptr = unsafe { alloc_zeroed(Self::layout(capacity)) };
        let ptr = NonNull::new(ptr)
            .unwrap_or_else(|| std::alloc::handle_alloc_error(Self::layout(capacity)));
        Block { ptr, capacity }
    }
}

#[derive(Default)]
struct Pool {
    /// Free blocks by capacity (a size class).
    free: BTreeMap<usize, Vec<Block>>,
    bytes: usize,
}

/// The capacity of the blocks that serve `len` bytes (not 0): `len` rounded up to an eighth
/// of the largest power of two not above it.
fn size_class(len: usize) -> usize {
    let floor = 1usize << (usize::BITS - 1 - len.leading_zeros());
    let step = (floor / 8).max(ALIGN);
    len.div_ceil(step) * step
}

fn pool() -> std::sync::MutexGuard<'static, Pool> {
    static POOL: OnceLock<Mutex<Pool>> = OnceLock::new();
    POOL.get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Owns a block while a buffer uses it; gives it back to the pool when the buffer is dropped.
struct Lease(Option<Block>);

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(block) = self.0.take() else {
            return;
        };
        let mut pool = pool();
        if pool.bytes + block.capacity <= budget_bytes() / 2 {
            pool.bytes += block.capacity;
            pool.free.entry(block.capacity).or_default().push(block);
        } else {
            drop(pool);
            // Safety: allocated in `Block::new` with this layout, and no longer used.
            unsafe { dealloc(block.ptr.as_ptr(), Block::layout(block.capacity)) };
        }
    }
}

impl std::panic::RefUnwindSafe for Lease {}

/// A buffer of `len` bytes (at least `MIN_POOLED`) filled by `fill`, on recycled memory when
/// the pool has a block of its size class. `fill` must write all `len` bytes: a recycled
/// block holds an earlier buffer's bytes.
pub(crate) fn filled(len: usize, fill: impl FnOnce(&mut [u8])) -> Buffer {
    let capacity = size_class(len);
    let reused = {
        let mut pool = pool();
        let block = pool.free.get_mut(&capacity).and_then(Vec::pop);
        if let Some(block) = &block {
            pool.bytes -= block.capacity;
        }
        block
    };
    let block = reused.unwrap_or_else(|| Block::new(capacity));
    // Safety: the block has at least `len` bytes and is owned here until the lease takes it.
    let bytes = unsafe { std::slice::from_raw_parts_mut(block.ptr.as_ptr(), len) };
    fill(bytes);
    let ptr = block.ptr;
    // Safety: `ptr` points to `len` initialised bytes that live as long as the lease.
    unsafe { Buffer::from_custom_allocation(ptr, len, Arc::new(Lease(Some(block)))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_buffer_s_block_serves_the_next_one() {
        let len = MIN_POOLED * 3 + 5;
        let first = filled(len, |b| b.fill(7));
        assert!(first.as_slice().iter().all(|b| *b == 7));
        let address = first.as_ptr();
        drop(first);
        let second = filled(len - 1, |b| b.fill(9));
        assert_eq!(second.as_ptr(), address, "the block was not reused");
        assert_eq!(second.len(), len - 1);
        assert!(second.as_slice().iter().all(|b| *b == 9));
        // A block of another size class is not used for a small buffer.
        drop(second);
        let small = filled(MIN_POOLED, |b| b.fill(1));
        assert_ne!(small.as_ptr(), address);
    }

    #[test]
    fn size_classes_waste_at_most_an_eighth() {
        for len in [
            MIN_POOLED,
            MIN_POOLED + 1,
            100_000,
            3 << 20,
            (3 << 20) + 5,
            1_600_000_000,
        ] {
            let class = size_class(len);
            assert!(
                class >= len && class - len <= len / 8 + ALIGN,
                "{len} -> {class}"
            );
            assert_eq!(class % ALIGN, 0);
            assert_eq!(size_class(class), class, "a class is its own class");
        }
    }
}
