//! Virtio 1.x over PCI: the vendor capabilities that locate a device's register structures
//! (common configuration, notification, ISR status, device configuration), turned into the
//! register regions the device table hands to pixel drivers (docs/mailbox.md). Plain logic,
//! unit-tested on the host; `arch::blk` maps the regions.

use crate::pci::{Bar, PciId};

/// Virtio block devices: the modern id and the transitional one QEMU's `virtio-blk-pci` uses.
pub const VIRTIO_BLK_IDS: [PciId; 2] = [
    PciId {
        vendor: 0x1af4,
        device: 0x1042,
    },
    PciId {
        vendor: 0x1af4,
        device: 0x1001,
    },
];

/// Register 0x04: the status half's "capabilities list" bit.
const STATUS_CAP_LIST: u32 = 1 << (16 + 4);
/// Register 0x34: the first capability.
const CAP_POINTER: u8 = 0x34;
/// Capability id of a vendor-specific (virtio) capability.
const CAP_VENDOR: u32 = 0x09;
/// At most this many capabilities are followed (a looping list is not followed forever).
const MAX_CAPS: usize = 48;

/// One register structure: `length` bytes at `offset` into BAR `bar`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapRegion {
    pub bar: u8,
    pub offset: u32,
    pub length: u32,
}

/// The four structures, in the device table's region order (0 common, 1 notify, 2 ISR,
/// 3 device), and the notification offset multiplier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtioRegions {
    pub regions: [CapRegion; 4],
    pub notify_multiplier: u32,
}

impl VirtioRegions {
    /// Walks the capability list through `read` (a configuration dword at an aligned offset).
    /// `None` when a structure is missing.
    pub fn find(read: impl Fn(u8) -> u32) -> Option<Self> {
        if read(0x04) & STATUS_CAP_LIST == 0 {
            return None;
        }
        let mut found: [Option<CapRegion>; 4] = [None; 4];
        let mut notify_multiplier = 0;
        let mut at = (read(CAP_POINTER) & 0xfc) as u8;
        for _ in 0..MAX_CAPS {
            if at == 0 {
                break;
            }
            let head = read(at);
            let (id, next, cfg_type) = (head & 0xff, (head >> 8) as u8 & 0xfc, head >> 24);
            if id == CAP_VENDOR && (1..=4).contains(&cfg_type) {
                let slot = &mut found[cfg_type as usize - 1];
                // The first structure of each type is the one to use (virtio 1.x, 4.1.4).
                if slot.is_none() {
                    *slot = Some(CapRegion {
                        bar: read(at + 4) as u8,
                        offset: read(at + 8),
                        length: read(at + 12),
                    });
                    if cfg_type == 2 {
                        notify_multiplier = read(at + 16);
                    }
                }
            }
            at = next;
        }
        let [Some(common), Some(notify), Some(isr), Some(device)] = found else {
            return None;
        };
        Some(Self {
            regions: [common, notify, isr, device],
            notify_multiplier,
        })
    }

    /// The physical address of each region inside `bars`, or `None` when a region lies outside
    /// its BAR (or in an I/O BAR).
    pub fn addresses(&self, bars: &[Option<Bar>]) -> Option<[u64; 4]> {
        let mut addresses = [0; 4];
        for (address, region) in addresses.iter_mut().zip(&self.regions) {
            let bar = bars.get(usize::from(region.bar)).copied().flatten()?;
            let (base, size) = bar.memory_range()?;
            let end = u64::from(region.offset) + u64::from(region.length);
            if end > size {
                return None;
            }
            *address = base + u64::from(region.offset);
        }
        Some(addresses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// A configuration space with virtio-blk capabilities at 0xa0, 0x90, 0x80, 0x68, then MSI-X.
    fn config() -> alloc::vec::Vec<u32> {
        let mut space = vec![0u32; 64];
        space[1] = STATUS_CAP_LIST;
        space[0x34 / 4] = 0xa0;
        let caps: [(u8, u8, u32, u32, u32); 4] = [
            (0xa0, 0x90, 1, 0x0000, 0x38), // common
            (0x90, 0x80, 3, 0x1000, 1),    // ISR
            (0x80, 0x68, 4, 0x2000, 0x3c), // device
            (0x68, 0x60, 2, 0x3000, 4),    // notify (+ multiplier)
        ];
        for (at, next, cfg_type, offset, length) in caps {
            let i = usize::from(at) / 4;
            space[i] = CAP_VENDOR | u32::from(next) << 8 | 16 << 16 | cfg_type << 24;
            space[i + 1] = 4;
            space[i + 2] = offset;
            space[i + 3] = length;
        }
        space[0x68 / 4 + 4] = 4;
        space[0x60 / 4] = 0x11; // MSI-X, the end of the list
        space
    }

    #[test]
    fn finds_the_four_structures_in_region_order() {
        let space = config();
        let found = VirtioRegions::find(|at| space[usize::from(at) / 4]).unwrap();
        let offsets: alloc::vec::Vec<u32> = found.regions.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, [0x0000, 0x3000, 0x1000, 0x2000]);
        assert_eq!(found.notify_multiplier, 4);
        let bar = Bar::Memory64 {
            address: 0xfe00_0000,
            size: 0x4000,
            prefetchable: true,
        };
        let bars = [None, None, None, None, Some(bar), None];
        assert_eq!(
            found.addresses(&bars),
            Some([0xfe00_0000, 0xfe00_3000, 0xfe00_1000, 0xfe00_2000])
        );
        let small = Bar::Memory64 {
            address: 0xfe00_0000,
            size: 0x2000,
            prefetchable: true,
        };
        let small_bars = [None, None, None, None, Some(small), None];
        assert_eq!(found.addresses(&small_bars), None, "a region past its BAR");
    }

    #[test]
    fn a_missing_structure_or_a_looping_list_is_no_device() {
        let mut space = config();
        space[0x68 / 4] = 0x11 | 0x68 << 8; // the notify capability replaced by one pointing at itself
        assert_eq!(VirtioRegions::find(|at| space[usize::from(at) / 4]), None);
        let mut no_list = config();
        no_list[1] = 0;
        assert_eq!(VirtioRegions::find(|at| no_list[usize::from(at) / 4]), None);
    }
}
