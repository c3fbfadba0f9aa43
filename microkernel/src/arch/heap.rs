//! The kernel heap: a fixed region in `.bss` behind `linked_list_allocator`. It also backs
//! virtio DMA buffers, which works because memory is identity mapped.

use linked_list_allocator::LockedHeap;

/// Heap size; the virtio-gpu framebuffer alone takes 4 MB at 1280x800.
pub const HEAP_BYTES: usize = 24 * 1024 * 1024;

#[repr(C, align(4096))]
struct HeapArea([u8; HEAP_BYTES]);

static mut HEAP_AREA: HeapArea = HeapArea([0; HEAP_BYTES]);

#[global_allocator]
static ALLOCATOR: LockedHeap = LockedHeap::empty();

/// Hands the heap area to the allocator. Call once, before the first allocation.
pub fn init() {
    // SAFETY: `init` runs once; after it, HEAP_AREA is only ever accessed through the allocator.
    unsafe {
        ALLOCATOR
            .lock()
            .init((&raw mut HEAP_AREA).cast::<u8>(), HEAP_BYTES)
    };
}
