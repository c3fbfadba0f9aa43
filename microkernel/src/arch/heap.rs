//! The kernel heap: `linked_list_allocator` over the RAM after the kernel image, as the PVH
//! memory map describes it (`crate::memory::heap_range`). It also backs virtio DMA buffers,
//! which works because memory is identity mapped.

use linked_list_allocator::LockedHeap;

use super::pvh::BootInfo;
use crate::memory::{HeapError, Range, heap_range};

/// End of the identity map built by the boot stub (`arch/boot.rs`).
const MAPPED_END: u64 = 1 << 32;

/// PVH memory-map type of usable RAM.
const E820_RAM: u32 = 1;

#[global_allocator]
static ALLOCATOR: LockedHeap = LockedHeap::empty();

unsafe extern "C" {
    /// First byte after the kernel image, `.bss` included (`linker.ld`).
    static __kernel_end: u8;
}

/// Hands the RAM after the kernel to the allocator and returns where that is. Call once, before
/// the first allocation.
pub fn init(boot: &BootInfo) -> Result<Range, HeapError> {
    let kernel_end = (&raw const __kernel_end) as u64;
    let ram = boot
        .memory_map
        .iter()
        .filter(|entry| entry.kind == E820_RAM)
        .map(|entry| Range {
            start: entry.address,
            end: entry.address.saturating_add(entry.size),
        });
    let heap = heap_range(ram, kernel_end, MAPPED_END)?;
    // SAFETY: `heap` is RAM according to the firmware's memory map, lies after everything the
    // kernel image occupies and inside the identity map, and nothing else uses it; `init` runs
    // once, and afterwards the range is only accessed through the allocator.
    unsafe {
        ALLOCATOR
            .lock()
            .init(heap.start as usize as *mut u8, heap.len() as usize)
    };
    Ok(heap)
}
