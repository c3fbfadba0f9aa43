//! A virtio-blk device on PCI, offered to pixel drivers through the device table: the kernel
//! only maps the register structures its virtio capabilities name (`crate::virtio_caps`) and
//! passes register reads and writes through; the pixel driver (`examples/lib/virtio_blk.pxs`)
//! does everything else, and the device does DMA into the machine's data memory itself.

use core::sync::atomic::{Ordering, fence};

use super::pci::{ConfigSpace, Function};
use crate::pci::ConfigRegister;
use crate::virtio_caps::VirtioRegions;
use pxi::devices::{Device, DeviceInfo, KIND_VIRTIO_BLK, MAX_REGIONS};

/// The device's four register structures, at identity-mapped physical addresses.
#[derive(Debug)]
pub struct PciVirtioBlk {
    addresses: [u64; 4],
    lengths: [u32; 4],
}

impl PciVirtioBlk {
    /// Finds the virtio structures of `function` and enables it (memory decoding, bus
    /// mastering). `None` when they are missing or lie outside its BARs or the identity map.
    pub fn new(config: ConfigSpace, function: &Function) -> Option<Self> {
        function.check_bars_mapped().ok()?;
        let read = |offset: u8| {
            ConfigRegister::new(offset)
                .map_or(0, |register| config.read(function.address, register))
        };
        let regions = VirtioRegions::find(read)?;
        let addresses = regions.addresses(&function.bars)?;
        config.enable(function.address);
        Some(Self {
            addresses,
            lengths: regions.regions.map(|r| r.length),
        })
    }

    fn register(&self, region: u32, offset: u32) -> usize {
        (self.addresses[region as usize] + u64::from(offset)) as usize
    }
}

impl Device for PciVirtioBlk {
    fn info(&self) -> DeviceInfo {
        let mut regions = [0; MAX_REGIONS];
        regions[..4].copy_from_slice(&self.lengths);
        DeviceInfo {
            kind: KIND_VIRTIO_BLK,
            irq: u32::MAX,
            region_count: 4,
            regions,
        }
    }

    fn read(&mut self, region: u32, offset: u32, width: u32) -> u32 {
        let address = self.register(region, offset);
        // SAFETY: `Devices` checked that offset + width lies inside the region and is aligned
        // to the width; the region is inside a memory BAR in the identity map (`new`), so the
        // address is mapped MMIO of this device. Volatile, at the field's own width, as virtio
        // requires.
        unsafe {
            match width {
                1 => u32::from(core::ptr::read_volatile(address as *const u8)),
                2 => u32::from(core::ptr::read_volatile(address as *const u16)),
                _ => core::ptr::read_volatile(address as *const u32),
            }
        }
    }

    fn write(&mut self, region: u32, offset: u32, width: u32, value: u32) {
        // The driver's stores to its rings and buffers must reach memory before the device is
        // told to look at them.
        fence(Ordering::SeqCst);
        let address = self.register(region, offset);
        // SAFETY: as in `read`.
        unsafe {
            match width {
                1 => core::ptr::write_volatile(address as *mut u8, value as u8),
                2 => core::ptr::write_volatile(address as *mut u16, value as u16),
                _ => core::ptr::write_volatile(address as *mut u32, value),
            }
        }
    }

    fn take_interrupt(&mut self) -> u32 {
        // Reading the ISR status acknowledges it. A zero-length ISR region has nothing to read.
        if self.lengths[2] == 0 {
            return 0;
        }
        let status = self.read(2, 0, 1);
        fence(Ordering::SeqCst);
        status
    }

    fn wants_dma(&self) -> bool {
        false // the device does its own DMA
    }

    fn run_dma(&mut self, _memory: &mut dyn pxi::devices::DmaMemory, _map: &pxi::devices::DmaMap) {}
}
