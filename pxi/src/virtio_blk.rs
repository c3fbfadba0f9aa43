//! A virtio-blk device model (virtio 1.x, PCI register layout, one split
//! virtqueue) over any [`BlockStore`], for hosts without the real thing.
//!
//! The regions mirror what the microkernel resolves from the virtio PCI
//! capabilities of QEMU's `virtio-blk-pci`, so one pixel driver serves both:
//!
//! | region | virtio structure | length |
//! |---|---|---|
//! | 0 | common configuration | 0x38 |
//! | 1 | notification (queue 0 at offset 0; multiplier 0) | 4 |
//! | 2 | ISR status (read clears) | 1 |
//! | 3 | device configuration (capacity, ..., `blk_size`) | 24 |
//!
//! Requests are served when the driver writes the notify register (the
//! host runs the DMA between batches). [`Fault`] makes the device misbehave
//! on purpose so that tests can check that the driver reports I/O errors.

use alloc::vec;
use alloc::vec::Vec;

use crate::devices::{Device, DeviceInfo, DmaMap, DmaMemory, KIND_VIRTIO_BLK};

/// Bytes per sector.
pub const SECTOR: usize = 512;
/// Largest queue the device offers.
pub const QUEUE_MAX: u16 = 64;

/// Feature bit: the device is read-only.
pub const F_RO: u32 = 5;
/// Feature bit: `blk_size` is valid.
pub const F_BLK_SIZE: u32 = 6;
/// Feature bit: the device supports flush.
pub const F_FLUSH: u32 = 9;
/// Feature bit (in the high word: 32 + 0): virtio 1.x.
pub const F_VERSION_1: u32 = 32;

/// Device status bits.
pub mod status {
    /// The driver found the device.
    pub const ACKNOWLEDGE: u32 = 1;
    /// The driver knows how to drive it.
    pub const DRIVER: u32 = 2;
    /// The driver is ready.
    pub const DRIVER_OK: u32 = 4;
    /// Feature negotiation is complete.
    pub const FEATURES_OK: u32 = 8;
    /// The device hit an error it cannot recover from.
    pub const NEEDS_RESET: u32 = 64;
    /// The driver gave up.
    pub const FAILED: u32 = 128;
}

/// Request types.
const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;
/// Request status bytes.
const S_OK: u8 = 0;
const S_IOERR: u8 = 1;
const S_UNSUPP: u8 = 2;

/// Descriptor flags.
const DESC_NEXT: u16 = 1;
const DESC_WRITE: u16 = 2;

/// A transfer failed: the store's I/O failed, or a range lies off the disk or
/// outside memory. The device turns it into an error status or a device error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoError;

/// Storage behind the device, in whole sectors.
pub trait BlockStore {
    /// Number of 512-byte sectors.
    fn sectors(&self) -> u64;
    /// Whether writes are refused.
    fn read_only(&self) -> bool;
    /// Read whole sectors starting at `sector` into `buf`.
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError>;
    /// Write whole sectors starting at `sector`.
    fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), IoError>;
    /// Make written data durable.
    fn flush(&mut self) -> Result<(), IoError>;
}

/// A disk image in memory (tests; the microkernel-free hosts use files).
pub struct MemDisk {
    /// The bytes (a whole number of sectors).
    pub bytes: Vec<u8>,
    /// Refuse writes.
    pub read_only: bool,
}

impl BlockStore for MemDisk {
    fn sectors(&self) -> u64 {
        (self.bytes.len() / SECTOR) as u64
    }
    fn read_only(&self) -> bool {
        self.read_only
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let start = sector as usize * SECTOR;
        buf.copy_from_slice(self.bytes.get(start..start + buf.len()).ok_or(IoError)?);
        Ok(())
    }
    fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), IoError> {
        let start = sector as usize * SECTOR;
        self.bytes
            .get_mut(start..start + buf.len())
            .ok_or(IoError)?
            .copy_from_slice(buf);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), IoError> {
        Ok(())
    }
}

/// Deliberate misbehaviour, for testing drivers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fault {
    /// Behave.
    #[default]
    None,
    /// Complete every request with status IOERR without touching the disk.
    BadStatus,
    /// Put a wrong descriptor id in the used ring.
    WrongUsedId,
    /// Never complete a request (the driver's wait times out).
    NoCompletion,
}

#[derive(Clone, Copy, Debug)]
struct Queue {
    size: u16,
    enabled: bool,
    desc: u64,
    driver: u64,
    device: u64,
    /// Next available-ring index the device will take.
    last_avail: u16,
    used_idx: u16,
}

impl Queue {
    /// After reset the queue size reads as the largest the device offers.
    fn new() -> Queue {
        Queue {
            size: QUEUE_MAX,
            enabled: false,
            desc: 0,
            driver: 0,
            device: 0,
            last_avail: 0,
            used_idx: 0,
        }
    }
}

/// The device.
pub struct VirtioBlk<S: BlockStore> {
    store: S,
    /// Misbehaviour to inject.
    pub fault: Fault,
    device_feature_select: u32,
    driver_feature_select: u32,
    driver_features: u64,
    status: u32,
    queue_select: u32,
    queue: Queue,
    isr: u32,
    notified: bool,
    /// Requests completed (for summaries and tests).
    pub completed: u64,
}

impl<S: BlockStore> VirtioBlk<S> {
    /// A device in reset state over `store`.
    pub fn new(store: S) -> Self {
        VirtioBlk {
            store,
            fault: Fault::None,
            device_feature_select: 0,
            driver_feature_select: 0,
            driver_features: 0,
            status: 0,
            queue_select: 0,
            queue: Queue::new(),
            isr: 0,
            notified: false,
            completed: 0,
        }
    }

    /// The storage (to inspect it in tests).
    pub fn store(&self) -> &S {
        &self.store
    }

    fn device_features(&self) -> u64 {
        let ro = if self.store.read_only() { 1 << F_RO } else { 0 };
        (1 << F_VERSION_1) | (1 << F_BLK_SIZE) | (1 << F_FLUSH) | ro
    }

    /// Writing 0 to the status resets everything but the store, the fault
    /// and the counters.
    fn reset(&mut self) {
        self.device_feature_select = 0;
        self.driver_feature_select = 0;
        self.driver_features = 0;
        self.status = 0;
        self.queue_select = 0;
        self.queue = Queue::new();
        self.isr = 0;
        self.notified = false;
    }

    fn set_status(&mut self, value: u32) {
        if value == 0 {
            self.reset();
            return;
        }
        let mut value = value;
        if value & status::FEATURES_OK != 0 && self.status & status::FEATURES_OK == 0 {
            // Only a subset of what we offer, with VERSION_1, is acceptable.
            let ok = self.driver_features & !self.device_features() == 0
                && self.driver_features & (1 << F_VERSION_1) != 0;
            if !ok {
                value &= !status::FEATURES_OK;
            }
        }
        self.status = value | (self.status & status::NEEDS_RESET);
    }

    fn common_read(&self, offset: u32) -> u32 {
        let q = &self.queue;
        let selected = self.queue_select == 0;
        let features = self.device_features();
        match offset {
            0x00 => self.device_feature_select,
            0x04 => match self.device_feature_select {
                0 => features as u32,
                1 => (features >> 32) as u32,
                _ => 0,
            },
            0x08 => self.driver_feature_select,
            0x0C => match self.driver_feature_select {
                0 => self.driver_features as u32,
                1 => (self.driver_features >> 32) as u32,
                _ => 0,
            },
            0x10 => 0xFFFF,
            0x12 => 1,
            0x14 => self.status,
            0x15 => 0,
            0x16 => self.queue_select,
            0x18 if selected => q.size as u32,
            0x1A => 0xFFFF,
            0x1C if selected => q.enabled as u32,
            0x1E => 0,
            0x20 if selected => q.desc as u32,
            0x24 if selected => (q.desc >> 32) as u32,
            0x28 if selected => q.driver as u32,
            0x2C if selected => (q.driver >> 32) as u32,
            0x30 if selected => q.device as u32,
            0x34 if selected => (q.device >> 32) as u32,
            _ => 0,
        }
    }

    fn common_write(&mut self, offset: u32, value: u32) {
        let selected = self.queue_select == 0;
        let set_low = |x: &mut u64| *x = (*x & !0xFFFF_FFFF) | value as u64;
        let set_high = |x: &mut u64| *x = (*x & 0xFFFF_FFFF) | ((value as u64) << 32);
        let q = &mut self.queue;
        match offset {
            0x00 => self.device_feature_select = value,
            0x08 => self.driver_feature_select = value,
            0x0C => match self.driver_feature_select {
                0 => self.driver_features = (self.driver_features & !0xFFFF_FFFF) | value as u64,
                1 => set_high(&mut self.driver_features),
                _ => {}
            },
            0x14 => self.set_status(value & 0xFF),
            0x16 => self.queue_select = value,
            // A queue size that is not a power of two up to QUEUE_MAX is ignored.
            0x18 if selected && value.is_power_of_two() && value <= QUEUE_MAX as u32 => {
                q.size = value as u16
            }
            0x1C if selected => q.enabled = value & 1 != 0,
            0x20 if selected => set_low(&mut q.desc),
            0x24 if selected => set_high(&mut q.desc),
            0x28 if selected => set_low(&mut q.driver),
            0x2C if selected => set_high(&mut q.driver),
            0x30 if selected => set_low(&mut q.device),
            0x34 if selected => set_high(&mut q.device),
            _ => {}
        }
    }

    fn config_read(&self, offset: u32) -> u32 {
        let capacity = self.store.sectors();
        match offset {
            0 => capacity as u32,
            4 => (capacity >> 32) as u32,
            20 => SECTOR as u32,
            _ => 0,
        }
    }

    /// Serve every request the driver made available.
    fn serve(&mut self, mem: &mut Bus<'_>) -> Result<(), IoError> {
        let q = self.queue;
        if q.size == 0 {
            return Err(IoError);
        }
        let avail_idx = mem.read_u16(q.driver + 2)?;
        let mut last = q.last_avail;
        // At most one lap of the ring per notification: a driver that claims
        // more cannot keep the device busy forever.
        let mut budget = q.size;
        while last != avail_idx && budget > 0 {
            budget -= 1;
            let head = mem.read_u16(q.driver + 4 + 2 * (last % q.size) as u64)?;
            last = last.wrapping_add(1);
            if self.fault == Fault::NoCompletion {
                continue;
            }
            let written = self.request(mem, head)?;
            let id = if self.fault == Fault::WrongUsedId {
                (head as u32 + 1) % q.size as u32
            } else {
                head as u32
            };
            let slot = q.device + 4 + 8 * (self.queue.used_idx % q.size) as u64;
            mem.write_u32(slot, id)?;
            mem.write_u32(slot + 4, written)?;
            self.queue.used_idx = self.queue.used_idx.wrapping_add(1);
            mem.write_u16(q.device + 2, self.queue.used_idx)?;
            self.isr |= 1;
            self.completed += 1;
        }
        self.queue.last_avail = last;
        Ok(())
    }

    /// Serve the request whose chain starts at descriptor `head`; returns
    /// the bytes written into device-writable buffers.
    fn request(&mut self, mem: &mut Bus<'_>, head: u16) -> Result<u32, IoError> {
        let chain = mem.chain(self.queue.desc, self.queue.size, head)?;
        let (Some(header), Some(status)) = (chain.first(), chain.last()) else {
            return Err(IoError);
        };
        if chain.len() < 2 || header.len < 16 || status.flags & DESC_WRITE == 0 {
            return Err(IoError);
        }
        let kind = mem.read_u32(header.addr)?;
        let sector =
            mem.read_u32(header.addr + 8)? as u64 | (mem.read_u32(header.addr + 12)? as u64) << 32;
        let data = &chain[1..chain.len() - 1];
        let mut written = 1;
        let outcome = if self.fault == Fault::BadStatus {
            S_IOERR
        } else {
            match kind {
                T_IN | T_OUT => match self.transfer(mem, kind == T_IN, sector, data) {
                    Ok(bytes) => {
                        written += if kind == T_IN { bytes } else { 0 };
                        S_OK
                    }
                    Err(IoError) => S_IOERR,
                },
                T_FLUSH => match self.store.flush() {
                    Ok(()) => S_OK,
                    Err(IoError) => S_IOERR,
                },
                _ => S_UNSUPP,
            }
        };
        mem.write_u8(status.addr, outcome)?;
        Ok(written)
    }

    /// Move the data buffers of one request between memory and the store.
    fn transfer(
        &mut self,
        mem: &mut Bus<'_>,
        read: bool,
        sector: u64,
        data: &[Desc],
    ) -> Result<u32, IoError> {
        let total: u64 = data.iter().map(|d| d.len as u64).sum();
        let writable = data.iter().all(|d| (d.flags & DESC_WRITE != 0) == read);
        let end = sector.checked_add(total / SECTOR as u64).ok_or(IoError)?;
        if !total.is_multiple_of(SECTOR as u64) || !writable || end > self.store.sectors() {
            return Err(IoError);
        }
        if !read && self.store.read_only() {
            return Err(IoError);
        }
        let mut buf = vec![0u8; total as usize];
        if read {
            self.store.read(sector, &mut buf)?;
        }
        let mut at = 0;
        for d in data {
            let part = &mut buf[at..at + d.len as usize];
            if read {
                mem.write_bytes(d.addr, part)?;
            } else {
                mem.read_bytes(d.addr, part)?;
            }
            at += d.len as usize;
        }
        if !read {
            self.store.write(sector, &buf)?;
        }
        Ok(total as u32)
    }
}

impl<S: BlockStore> Device for VirtioBlk<S> {
    fn info(&self) -> DeviceInfo {
        DeviceInfo {
            kind: KIND_VIRTIO_BLK,
            irq: u32::MAX,
            region_count: 4,
            regions: [0x38, 4, 1, 24, 0, 0],
        }
    }

    fn read(&mut self, region: u32, offset: u32, width: u32) -> u32 {
        // Fields are read at their own offsets (as virtio requires, with
        // their own width); anything else reads 0.
        let value = match region {
            0 => self.common_read(offset),
            2 => core::mem::take(&mut self.isr),
            3 => self.config_read(offset),
            _ => 0,
        };
        match width {
            4 => value,
            2 => value & 0xFFFF,
            _ => value & 0xFF,
        }
    }

    fn write(&mut self, region: u32, offset: u32, width: u32, value: u32) {
        let value = match width {
            4 => value,
            2 => value & 0xFFFF,
            _ => value & 0xFF,
        };
        match region {
            0 => self.common_write(offset, value),
            1 => {
                let ready = status::DRIVER_OK | status::FEATURES_OK;
                if value == 0 && self.status & ready == ready && self.queue.enabled {
                    self.notified = true;
                }
            }
            _ => {}
        }
    }

    fn take_interrupt(&mut self) -> u32 {
        core::mem::take(&mut self.isr)
    }

    fn wants_dma(&self) -> bool {
        self.notified
    }

    fn run_dma(&mut self, memory: &mut dyn DmaMemory, map: &DmaMap) {
        self.notified = false;
        let mut bus = Bus { memory, map };
        if self.serve(&mut bus).is_err() {
            // A malformed ring or a buffer outside memory: the device stops,
            // as real hardware does, and says so in its status.
            self.status |= status::NEEDS_RESET;
            self.isr |= 2;
        }
    }
}

/// One descriptor.
#[derive(Clone, Copy, Debug)]
struct Desc {
    addr: u64,
    len: u32,
    flags: u16,
}

/// Byte-level DMA over word memory, through the bus-address map.
struct Bus<'m> {
    memory: &'m mut dyn DmaMemory,
    map: &'m DmaMap,
}

impl Bus<'_> {
    /// The words covering `len` bytes at bus address `bus`: first word, a buffer of that many
    /// words, and the byte offset into the first.
    fn span(&self, bus: u64, len: usize) -> Result<(u32, Vec<u32>, usize), IoError> {
        let offset = self.map.memory_offset(bus, len as u64).ok_or(IoError)?;
        let first = offset / 4;
        let words = (offset + len as u64).div_ceil(4) - first;
        Ok((
            first as u32,
            vec![0u32; words as usize],
            (offset % 4) as usize,
        ))
    }

    fn read_bytes(&mut self, bus: u64, out: &mut [u8]) -> Result<(), IoError> {
        let (first, mut buf, skip) = self.span(bus, out.len())?;
        if !self.memory.read(first, &mut buf) {
            return Err(IoError);
        }
        if skip == 0 && out.len().is_multiple_of(4) {
            // Whole words (every sector buffer): four bytes at a time.
            for (chunk, word) in out.chunks_exact_mut(4).zip(&buf) {
                chunk.copy_from_slice(&word.to_le_bytes());
            }
            return Ok(());
        }
        for (i, b) in out.iter_mut().enumerate() {
            let at = skip + i;
            *b = (buf[at / 4] >> (8 * (at % 4))) as u8;
        }
        Ok(())
    }

    fn write_bytes(&mut self, bus: u64, bytes: &[u8]) -> Result<(), IoError> {
        let (first, mut buf, skip) = self.span(bus, bytes.len())?;
        let whole = skip == 0 && bytes.len().is_multiple_of(4);
        // Partial words at either end keep their other bytes.
        if !whole && !self.memory.read(first, &mut buf) {
            return Err(IoError);
        }
        if whole {
            for (word, chunk) in buf.iter_mut().zip(bytes.chunks_exact(4)) {
                *word = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            }
        } else {
            for (i, &b) in bytes.iter().enumerate() {
                let at = skip + i;
                let shift = 8 * (at % 4);
                buf[at / 4] = (buf[at / 4] & !(0xFF << shift)) | (b as u32) << shift;
            }
        }
        if self.memory.write(first, &buf) {
            Ok(())
        } else {
            Err(IoError)
        }
    }

    fn read_u16(&mut self, bus: u64) -> Result<u16, IoError> {
        let mut b = [0; 2];
        self.read_bytes(bus, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    fn read_u32(&mut self, bus: u64) -> Result<u32, IoError> {
        let mut b = [0; 4];
        self.read_bytes(bus, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn write_u8(&mut self, bus: u64, value: u8) -> Result<(), IoError> {
        self.write_bytes(bus, &[value])
    }

    fn write_u16(&mut self, bus: u64, value: u16) -> Result<(), IoError> {
        self.write_bytes(bus, &value.to_le_bytes())
    }

    fn write_u32(&mut self, bus: u64, value: u32) -> Result<(), IoError> {
        self.write_bytes(bus, &value.to_le_bytes())
    }

    /// The descriptor chain starting at `head` (at most `size` long, so a
    /// looping chain is an error, not a hang).
    fn chain(&mut self, table: u64, size: u16, head: u16) -> Result<Vec<Desc>, IoError> {
        let mut chain = Vec::new();
        let mut index = head;
        loop {
            if index >= size || chain.len() >= size as usize {
                return Err(IoError);
            }
            let mut raw = [0u8; 16];
            self.read_bytes(table + 16 * index as u64, &mut raw)?;
            let word = |i: usize| u32::from_le_bytes([raw[i], raw[i + 1], raw[i + 2], raw[i + 3]]);
            let desc = Desc {
                addr: word(0) as u64 | (word(4) as u64) << 32,
                len: word(8),
                flags: u16::from_le_bytes([raw[12], raw[13]]),
            };
            chain.push(desc);
            if desc.flags & DESC_NEXT == 0 {
                return Ok(chain);
            }
            index = u16::from_le_bytes([raw[14], raw[15]]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::{DeviceError, Devices, HOST_DMA_BASE};
    use alloc::boxed::Box;

    const DESC: u32 = 0; // word addresses in the test memory
    const AVAIL: u32 = 64;
    const USED: u32 = 80;
    const HEADER: u32 = 120;
    const STATUS: u32 = 124;
    const DATA: u32 = 128;

    fn bus(word: u32) -> u32 {
        HOST_DMA_BASE as u32 + 4 * word
    }

    /// A device over a 4-sector disk, negotiated and with queue 0 set up.
    fn ready(read_only: bool) -> (Devices, Vec<u32>) {
        let disk = MemDisk {
            bytes: (0..4 * SECTOR).map(|i| i as u8).collect(),
            read_only,
        };
        let mut devices = Devices::default();
        devices.add(Box::new(VirtioBlk::new(disk)));
        let common = |width: u32| width << 16;
        let write = |d: &mut Devices, offset, width, value| d.write(common(width), offset, value);
        write(&mut devices, 0x14, 1, 0).unwrap();
        write(&mut devices, 0x14, 1, 3).unwrap();
        write(&mut devices, 0x08, 4, 1).unwrap();
        write(&mut devices, 0x0C, 4, 1).unwrap(); // VERSION_1
        write(&mut devices, 0x14, 1, 11).unwrap();
        assert_eq!(devices.read(common(1), 0x14), Ok(11), "FEATURES_OK sticks");
        write(&mut devices, 0x18, 2, 8).unwrap();
        for (offset, word) in [(0x20, DESC), (0x28, AVAIL), (0x30, USED)] {
            write(&mut devices, offset, 4, bus(word)).unwrap();
        }
        write(&mut devices, 0x1C, 2, 1).unwrap();
        write(&mut devices, 0x14, 1, 15).unwrap();
        (devices, vec![0; 256])
    }

    /// Post one request (header, one data sector, status) and let the device run it.
    fn request(devices: &mut Devices, memory: &mut Vec<u32>, kind: u32, sector: u32) -> u8 {
        publish(memory, kind, sector);
        devices.write(1 << 8 | 2 << 16, 0, 0).unwrap(); // notify
        assert!(devices.wants_dma());
        devices.run_dma(memory, 256);
        memory[STATUS as usize] as u8
    }

    /// Fill in one request (header, one data sector, status) and publish it in the avail ring.
    fn publish(memory: &mut [u32], kind: u32, sector: u32) {
        let read = kind == T_IN;
        memory[HEADER as usize..HEADER as usize + 4].copy_from_slice(&[kind, 0, sector, 0]);
        memory[STATUS as usize] = 0xFF;
        let descs = [
            [bus(HEADER), 0, 16, (DESC_NEXT as u32) | 1 << 16],
            [
                bus(DATA),
                0,
                512,
                (DESC_NEXT | if read { DESC_WRITE } else { 0 }) as u32 | 2 << 16,
            ],
            [bus(STATUS), 0, 1, DESC_WRITE as u32],
        ];
        for (i, d) in descs.iter().enumerate() {
            memory[4 * i..4 * i + 4].copy_from_slice(d);
        }
        let idx = (memory[AVAIL as usize] >> 16) + 1;
        memory[AVAIL as usize] = idx << 16;
    }

    /// A host with nothing but the device table, for `mailbox::service`.
    struct DeviceHost(Devices);

    impl crate::mailbox::Host for DeviceHost {
        fn write(&mut self, _: &[u8]) {}
        fn clock_us(&mut self) -> u64 {
            0
        }
        fn read_byte(&mut self) -> crate::mailbox::Input {
            crate::mailbox::Input::Eof
        }
        fn devices(&mut self) -> Option<&mut Devices> {
            Some(&mut self.0)
        }
    }

    #[test]
    fn a_kick_notifies_once_and_answers_when_the_device_is_done() {
        use crate::mailbox::tests::post;
        use crate::mailbox::*;
        let (devices, mut memory) = ready(false);
        let mut host = DeviceHost(devices);
        let mut mb = vec![0u32; MAILBOX_WORDS];
        let kick = Call::DevKick as u32;
        post(&mut mb, 0, 1, kick, [9 << 8 | 2 << 16, 0, 0]); // region 9: not granted
        let done = service(&mut mb, 256, None, &mut host);
        assert_eq!((done.replied, mb[W_RESULT]), (1, ERR_DENIED));
        assert!(!host.0.wants_dma(), "a denied kick writes nothing");

        publish(&mut memory, T_IN, 1);
        post(&mut mb, 0, 2, kick, [1 << 8 | 2 << 16, 0, 0]); // notify queue 0
        let done = service(&mut mb, 256, None, &mut host);
        assert_eq!((done.replied, done.waiting), (0, 1), "waits for the device");
        assert!(host.0.wants_dma(), "notified");
        host.0.run_dma(&mut memory, 256);
        assert_eq!(memory[STATUS as usize] as u8, S_OK);
        let done = service(&mut mb, 256, None, &mut host);
        assert_eq!(
            (done.replied, mb[W_RESULT]),
            (1, 1),
            "the used-buffer interrupt"
        );
        assert!(
            !host.0.wants_dma(),
            "the second service did not notify again"
        );
        assert_eq!(memory[DATA as usize], u32::from_le_bytes([0, 1, 2, 3]));
    }

    #[test]
    fn reads_and_writes_sectors() {
        let (mut devices, mut memory) = ready(false);
        assert_eq!(request(&mut devices, &mut memory, T_IN, 1), S_OK);
        assert_eq!(memory[DATA as usize], u32::from_le_bytes([0, 1, 2, 3]));
        assert_eq!(memory[USED as usize] >> 16, 1, "used.idx advanced");
        assert_eq!(devices.wait(0, 0, 10, 0), crate::devices::Wait::Done(1));
        memory[DATA as usize] = 0xDEAD_BEEF;
        assert_eq!(request(&mut devices, &mut memory, T_OUT, 3), S_OK);
        memory[DATA as usize] = 0;
        assert_eq!(request(&mut devices, &mut memory, T_IN, 3), S_OK);
        assert_eq!(memory[DATA as usize], 0xDEAD_BEEF);
        assert_eq!(
            request(&mut devices, &mut memory, T_IN, 4),
            S_IOERR,
            "past the end"
        );
    }

    #[test]
    fn a_read_only_disk_refuses_writes() {
        let (mut devices, mut memory) = ready(true);
        devices.write(4 << 16, 0, 0).unwrap(); // device_feature_select = 0
        assert_eq!(
            devices.read(4 << 16, 4),
            Ok(1 << F_RO | 1 << F_BLK_SIZE | 1 << F_FLUSH)
        );
        assert_eq!(request(&mut devices, &mut memory, T_OUT, 0), S_IOERR);
        assert_eq!(request(&mut devices, &mut memory, T_IN, 0), S_OK);
        assert_eq!(memory[DATA as usize], u32::from_le_bytes([0, 1, 2, 3]));
    }

    #[test]
    fn a_looping_chain_stops_the_device_instead_of_hanging() {
        let (mut devices, mut memory) = ready(false);
        memory[3] = DESC_NEXT as u32; // descriptor 0, next 0: 0 -> 0 -> ...
        memory[AVAIL as usize] = 1 << 16;
        devices.write(1 << 8 | 2 << 16, 0, 0).unwrap(); // notify
        devices.run_dma(&mut memory, 256);
        let status = devices.read(1 << 16, 0x14).unwrap();
        assert_ne!(status & status::NEEDS_RESET, 0);
        assert_eq!(devices.wait(0, 0, 10, 0), crate::devices::Wait::Done(2));
    }

    #[test]
    fn features_without_version_1_are_refused() {
        let (mut devices, _) = ready(false);
        devices.write(1 << 16, 0x14, 0).unwrap();
        devices.write(1 << 16, 0x14, 3).unwrap();
        devices.write(1 << 16, 0x14, 11).unwrap();
        assert_eq!(
            devices.read(1 << 16, 0x14),
            Ok(3),
            "FEATURES_OK must not stick"
        );
    }

    #[test]
    fn register_access_is_checked_against_the_regions() {
        let (mut devices, _) = ready(false);
        assert_eq!(
            devices.read(4 << 16, 0x38),
            Err(DeviceError::Denied),
            "past the region"
        );
        assert_eq!(
            devices.read(4 << 16, 0x15),
            Err(DeviceError::Denied),
            "misaligned"
        );
        assert_eq!(
            devices.read(3 << 16, 0),
            Err(DeviceError::Denied),
            "width 3"
        );
        assert_eq!(
            devices.read(4 << 8 | 4 << 16, 0),
            Err(DeviceError::Denied),
            "region 4"
        );
        assert_eq!(devices.read(1 | 4 << 16, 0), Err(DeviceError::NoDevice));
        assert_eq!(devices.info(0, crate::devices::INFO_REGION_LEN + 3), Ok(24));
        let map = DmaMap {
            base: HOST_DMA_BASE,
            memory_words: 256,
        };
        assert_eq!(map.bus_address(250, 7), None);
        assert_eq!(map.memory_offset(HOST_DMA_BASE - 4, 4), None);
    }
}
