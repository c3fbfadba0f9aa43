//! Where the kernel heap goes: the RAM after the kernel image, as the PVH memory map describes
//! it. Plain logic, unit-tested on the host; `arch::heap` hands the result to the allocator.

use core::fmt;

/// Smallest heap the kernel boots with: the virtio-gpu framebuffer (1280x800x4 = 4 MB), the
/// decoded os.pxi and the interpreter's memory, with room to spare.
pub const MIN_HEAP_BYTES: u64 = 24 << 20;

/// Heap alignment (a page).
const ALIGN: u64 = 4096;

/// A half-open range of physical addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start: u64,
    pub end: u64,
}

impl Range {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// Why no heap could be placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeapError {
    /// No RAM entry of the memory map holds the end of the kernel image.
    NoRamAfterKernel { kernel_end: u64 },
    /// The RAM after the kernel is smaller than [`MIN_HEAP_BYTES`].
    TooSmall { available: u64, needed: u64 },
}

impl fmt::Display for HeapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MIB: u64 = 1 << 20;
        match *self {
            HeapError::NoRamAfterKernel { kernel_end } => write!(
                f,
                "the memory map has no RAM at the end of the kernel ({kernel_end:#x})"
            ),
            HeapError::TooSmall { available, needed } => write!(
                f,
                "only {} KiB of RAM after the kernel, the heap needs {} MiB: give QEMU more \
                 memory (-m {}M or more)",
                available / 1024,
                needed / MIB,
                (needed / MIB + 8).next_power_of_two()
            ),
        }
    }
}

/// The heap: from the end of the kernel image (rounded up to a page) to the end of the RAM
/// range that holds it, cut at `mapped_end` (the end of the identity map). `ram` lists the
/// memory map's RAM ranges.
pub fn heap_range(
    ram: impl IntoIterator<Item = Range>,
    kernel_end: u64,
    mapped_end: u64,
) -> Result<Range, HeapError> {
    let start = kernel_end.next_multiple_of(ALIGN);
    let holder = ram
        .into_iter()
        .find(|r| r.start <= kernel_end && kernel_end < r.end)
        .ok_or(HeapError::NoRamAfterKernel { kernel_end })?;
    let end = holder.end.min(mapped_end) & !(ALIGN - 1);
    let available = end.saturating_sub(start);
    if available < MIN_HEAP_BYTES {
        return Err(HeapError::TooSmall {
            available,
            needed: MIN_HEAP_BYTES,
        });
    }
    Ok(Range { start, end })
}

/// Kernel command-line word `memory=WORDS` (a count, or with a K or M suffix: × 1024 or
/// × 1048576): grow the OS image's data memory to WORDS, the words past its programs being the
/// arena of large data windows (docs/abi.md). `Ok(None)` without the word; `Err` with the word's
/// text when it is not a count.
pub fn memory_words(command_line: &str) -> Result<Option<u32>, &str> {
    let Some(value) = command_line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("memory="))
    else {
        return Ok(None);
    };
    pxi::program::parse_words(value).map(Some).ok_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    /// The RAM entries QEMU's q35 gives a PVH kernel with `-m SIZE` (below 2 GiB).
    fn q35(size: u64) -> [Range; 2] {
        [
            Range {
                start: 0,
                end: 0x9fc00,
            },
            Range {
                start: MIB,
                end: size - 128 * 1024,
            },
        ]
    }

    #[test]
    fn the_heap_is_the_ram_after_the_kernel() {
        let heap = heap_range(q35(128 * MIB), 0x23_4567, 4 * GIB).unwrap();
        assert_eq!(heap.start, 0x23_5000);
        assert_eq!(heap.end, 128 * MIB - 128 * 1024);
        assert!(heap.len() > 120 * MIB);
    }

    #[test]
    fn too_little_ram_is_a_clear_error() {
        let error = heap_range(q35(16 * MIB), 0x23_4567, 4 * GIB).unwrap_err();
        let available = 16 * MIB - 128 * 1024 - 0x23_5000;
        assert_eq!(
            error,
            HeapError::TooSmall {
                available,
                needed: MIN_HEAP_BYTES
            }
        );
        assert!(
            error
                .to_string()
                .ends_with("the heap needs 24 MiB: give QEMU more memory (-m 32M or more)"),
            "{error}"
        );
    }

    #[test]
    fn the_heap_stays_inside_the_identity_map() {
        let ram = [Range {
            start: MIB,
            end: 6 * GIB,
        }];
        assert_eq!(heap_range(ram, 2 * MIB, 4 * GIB).unwrap().end, 4 * GIB);
    }

    #[test]
    fn a_kernel_outside_ram_is_reported() {
        assert_eq!(
            heap_range(q35(128 * MIB), 200 * MIB, 4 * GIB),
            Err(HeapError::NoRamAfterKernel {
                kernel_end: 200 * MIB
            })
        );
        assert_eq!(
            heap_range([], MIB, 4 * GIB),
            Err(HeapError::NoRamAfterKernel { kernel_end: MIB })
        );
    }

    #[test]
    fn memory_word_of_the_command_line() {
        assert_eq!(memory_words("exit-on-stop"), Ok(None));
        assert_eq!(memory_words("exit-on-stop memory=20M"), Ok(Some(20 << 20)));
        assert_eq!(memory_words("memory=64k"), Ok(Some(65536)));
        assert_eq!(memory_words("memory=1000"), Ok(Some(1000)));
        assert_eq!(memory_words("memory=lots"), Err("lots"));
        assert_eq!(memory_words("memory=9999M"), Err("9999M"));
    }
}
