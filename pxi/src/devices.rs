//! Devices for pixel drivers: the device table and the capability-checked
//! machine calls behind `SYS_DEVINFO`, `SYS_DEVREAD`, `SYS_DEVWRITE`,
//! `SYS_DMA` and `SYS_DEVWAIT` (see `docs/mailbox.md`).
//!
//! The CPU side never drives a device: it finds devices, describes them in a
//! table (kind, register regions, interrupt line) and lets a pixel driver
//! touch exactly those regions. Every register access is checked against the
//! region's length and the access width; every DMA range against data memory.
//! A host with disks owns a [`Devices`]; the microkernel puts its PCI devices
//! in one the same way, so the same pixel driver runs in both places.

use alloc::boxed::Box;
use alloc::vec::Vec;

/// Most register regions one device may have.
pub const MAX_REGIONS: usize = 6;

/// Device kind in the table: a virtio block device (the virtio device id).
pub const KIND_VIRTIO_BLK: u32 = 2;

/// `SYS_DEVINFO` field: the device kind.
pub const INFO_KIND: u32 = 0;
/// `SYS_DEVINFO` field: the interrupt line (0xFFFFFFFF: completion polled through `SYS_DEVWAIT`).
pub const INFO_IRQ: u32 = 1;
/// `SYS_DEVINFO` field: the number of register regions.
pub const INFO_REGIONS: u32 = 2;
/// `SYS_DEVINFO` field: the length in bytes of region `field - INFO_REGION_LEN`.
pub const INFO_REGION_LEN: u32 = 16;

/// Data memory as a device sees it: DMA reads and writes of whole words at
/// word addresses. False when the range is outside memory (or the executor
/// failed); the device reports that as a device error, never a crash.
pub trait DmaMemory {
    /// Read `out.len()` words starting at word `addr`.
    fn read(&mut self, addr: u32, out: &mut [u32]) -> bool;
    /// Write `words` starting at word `addr`.
    fn write(&mut self, addr: u32, words: &[u32]) -> bool;
}

impl DmaMemory for Vec<u32> {
    fn read(&mut self, addr: u32, out: &mut [u32]) -> bool {
        match self.get(addr as usize..addr as usize + out.len()) {
            Some(words) => {
                out.copy_from_slice(words);
                true
            }
            None => false,
        }
    }

    fn write(&mut self, addr: u32, words: &[u32]) -> bool {
        match self.get_mut(addr as usize..addr as usize + words.len()) {
            Some(dest) => {
                dest.copy_from_slice(words);
                true
            }
            None => false,
        }
    }
}

/// One device's entry in the device table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceInfo {
    /// What it is ([`KIND_VIRTIO_BLK`], ...).
    pub kind: u32,
    /// Interrupt line, or `u32::MAX` when completion is only polled.
    pub irq: u32,
    /// Number of register regions in `regions`.
    pub region_count: u32,
    /// Length in bytes of each register region.
    pub regions: [u32; MAX_REGIONS],
}

/// A device a pixel driver may be granted. Offsets handed to `read`/`write`
/// have already been checked against the region and the width.
pub trait Device {
    /// The table entry.
    fn info(&self) -> DeviceInfo;
    /// Read `width` (1, 2 or 4) bytes at byte `offset` of `region`.
    fn read(&mut self, region: u32, offset: u32, width: u32) -> u32;
    /// Write the low `width` bytes of `value` at byte `offset` of `region`.
    fn write(&mut self, region: u32, offset: u32, width: u32, value: u32);
    /// Interrupt (completion) status since the last call, acknowledged by
    /// reading it; 0 when nothing happened.
    fn take_interrupt(&mut self) -> u32;
    /// Whether the device has work that needs DMA ([`Devices::run_dma`]).
    fn wants_dma(&self) -> bool;
    /// Do the pending work: read requests from and write results to memory.
    fn run_dma(&mut self, memory: &mut dyn DmaMemory, map: &DmaMap);
}

/// How device-visible (bus) addresses map onto data memory: bus address =
/// `base` + 4 × word address. On the host `base` is [`HOST_DMA_BASE`] (not
/// 0, so a driver that forgets to ask `SYS_DMA` fails at once); on metal it
/// is the physical address of the machine's data memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaMap {
    /// Bus address of data word 0.
    pub base: u64,
    /// Data memory size in words.
    pub memory_words: u32,
}

/// Bus address of data word 0 on the host.
pub const HOST_DMA_BASE: u64 = 0x4000_0000;

impl DmaMap {
    /// Bus address of `words` words at word `addr`, or `None` outside memory.
    pub fn bus_address(&self, addr: u32, words: u32) -> Option<u64> {
        let end = addr as u64 + words as u64;
        (end <= self.memory_words as u64).then(|| self.base + 4 * addr as u64)
    }

    /// Byte offset into data memory of `len` bytes at bus address `bus`, or
    /// `None` when any of it lies outside memory.
    pub fn memory_offset(&self, bus: u64, len: u64) -> Option<u64> {
        let offset = bus.checked_sub(self.base)?;
        let end = offset.checked_add(len)?;
        (end <= 4 * self.memory_words as u64).then_some(offset)
    }
}

/// Why a device call failed (mapped to mailbox error results).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceError {
    /// No such device (or field).
    NoDevice,
    /// Region, offset or width outside what the device was granted.
    Denied,
}

/// The device table of one host, with the waits in progress.
pub struct Devices {
    devices: Vec<Box<dyn Device>>,
    /// (request sequence number, deadline in µs) of each `SYS_DEVWAIT` or `SYS_DEVKICK` waiting.
    waits: Vec<(u32, u64)>,
    /// Bus address of data word 0.
    pub dma_base: u64,
}

impl Default for Devices {
    /// An empty table with the host's DMA window.
    fn default() -> Self {
        Devices::new(HOST_DMA_BASE)
    }
}

impl Devices {
    /// An empty table whose DMA window starts at `dma_base`.
    pub fn new(dma_base: u64) -> Devices {
        Devices {
            devices: Vec::new(),
            waits: Vec::new(),
            dma_base,
        }
    }

    /// Add a device; returns its index in the table.
    pub fn add(&mut self, device: Box<dyn Device>) -> u32 {
        self.devices.push(device);
        self.devices.len() as u32 - 1
    }

    /// Number of devices.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    fn device(&mut self, index: u32) -> Result<&mut dyn Device, DeviceError> {
        match self.devices.get_mut(index as usize) {
            Some(device) => Ok(device.as_mut()),
            None => Err(DeviceError::NoDevice),
        }
    }

    /// `SYS_DEVINFO`: field `field` of device `index`.
    pub fn info(&mut self, index: u32, field: u32) -> Result<u32, DeviceError> {
        let info = self.device(index)?.info();
        match field {
            INFO_KIND => Ok(info.kind),
            INFO_IRQ => Ok(info.irq),
            INFO_REGIONS => Ok(info.region_count),
            f if f >= INFO_REGION_LEN && f - INFO_REGION_LEN < info.region_count => {
                Ok(info.regions[(f - INFO_REGION_LEN) as usize])
            }
            _ => Err(DeviceError::NoDevice),
        }
    }

    /// Decode `r1` of a register access (`device | region << 8 | width << 16`)
    /// and check `offset` against the granted region.
    fn checked(
        &mut self,
        selector: u32,
        offset: u32,
    ) -> Result<(&mut dyn Device, u32, u32), DeviceError> {
        let (index, region, width) = (selector & 0xFF, (selector >> 8) & 0xFF, selector >> 16);
        let device = self.device(index)?;
        let info = device.info();
        let aligned = matches!(width, 1 | 2 | 4) && offset.is_multiple_of(width);
        let inside = region < info.region_count
            && offset as u64 + width as u64 <= info.regions[region as usize] as u64;
        if aligned && inside {
            Ok((device, region, width))
        } else {
            Err(DeviceError::Denied)
        }
    }

    /// `SYS_DEVREAD`.
    pub fn read(&mut self, selector: u32, offset: u32) -> Result<u32, DeviceError> {
        let (device, region, width) = self.checked(selector, offset)?;
        Ok(device.read(region, offset, width))
    }

    /// `SYS_DEVWRITE`.
    pub fn write(&mut self, selector: u32, offset: u32, value: u32) -> Result<(), DeviceError> {
        let (device, region, width) = self.checked(selector, offset)?;
        device.write(region, offset, width, value);
        Ok(())
    }

    /// Whether mailbox request `seq` is a wait in progress (served before, not done).
    pub fn waiting(&self, seq: u32) -> bool {
        self.waits.iter().any(|&(s, _)| s == seq)
    }

    /// `SYS_DEVWAIT` (mailbox request `seq`) on device `index` at time `now`:
    /// the first call of a request starts its `timeout_us` clock.
    pub fn wait(&mut self, seq: u32, index: u32, timeout_us: u32, now: u64) -> Wait {
        let status = match self.device(index) {
            Ok(device) => device.take_interrupt(),
            Err(_) => return Wait::NoDevice,
        };
        let slot = self.waits.iter().position(|&(s, _)| s == seq);
        if status != 0 {
            if let Some(i) = slot {
                self.waits.swap_remove(i);
            }
            return Wait::Done(status);
        }
        match slot {
            None => {
                self.waits.push((seq, now + timeout_us as u64));
                Wait::Pending
            }
            Some(i) if now >= self.waits[i].1 => {
                self.waits.swap_remove(i);
                Wait::TimedOut
            }
            Some(_) => Wait::Pending,
        }
    }

    /// Whether any device has DMA work pending.
    pub fn wants_dma(&self) -> bool {
        self.devices.iter().any(|d| d.wants_dma())
    }

    /// Let every device with pending work do its DMA.
    pub fn run_dma(&mut self, memory: &mut dyn DmaMemory, memory_words: u32) {
        let map = DmaMap {
            base: self.dma_base,
            memory_words,
        };
        for device in self.devices.iter_mut().filter(|d| d.wants_dma()) {
            device.run_dma(memory, &map);
        }
    }
}

/// Answer of [`Devices::wait`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// The device signalled this (non-zero) interrupt status, now acknowledged.
    Done(u32),
    /// Nothing yet; ask again later.
    Pending,
    /// The timeout passed without a completion.
    TimedOut,
    /// No such device.
    NoDevice,
}
