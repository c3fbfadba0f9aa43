//! PCI types: addresses, IDs, class codes, command bits and BAR decoding. Pure logic, tested on
//! the host; configuration-space access lives in `arch::pci`.

use core::fmt;

/// A bus/device/function triple; the constructor guarantees device < 32 and function < 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PciAddress {
    bus: u8,
    device: u8,
    function: u8,
}

impl PciAddress {
    pub const DEVICES_PER_BUS: u8 = 32;
    pub const FUNCTIONS_PER_DEVICE: u8 = 8;

    /// `None` when `device` or `function` is out of range.
    pub const fn new(bus: u8, device: u8, function: u8) -> Option<Self> {
        if device < Self::DEVICES_PER_BUS && function < Self::FUNCTIONS_PER_DEVICE {
            Some(Self {
                bus,
                device,
                function,
            })
        } else {
            None
        }
    }

    pub const fn bus(self) -> u8 {
        self.bus
    }

    pub const fn device(self) -> u8 {
        self.device
    }

    pub const fn function(self) -> u8 {
        self.function
    }

    /// The value written to port 0xCF8 (configuration mechanism #1) to reach `register`, a
    /// dword-aligned offset into the 256-byte configuration header.
    pub const fn port_io_selector(self, register: ConfigRegister) -> u32 {
        0x8000_0000
            | (self.bus as u32) << 16
            | (self.device as u32) << 11
            | (self.function as u32) << 8
            | register.offset() as u32
    }

    /// Byte offset of `register` in the PCIe ECAM window.
    pub const fn ecam_offset(self, register: ConfigRegister) -> usize {
        ((self.bus as usize) << 20)
            | ((self.device as usize) << 15)
            | ((self.function as usize) << 12)
            | register.offset() as usize
    }
}

impl fmt::Display for PciAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}:{:02x}.{}", self.bus, self.device, self.function)
    }
}

/// A dword-aligned offset into a function's configuration header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigRegister(u8);

impl ConfigRegister {
    pub const ID: Self = Self(0x00);
    pub const STATUS_COMMAND: Self = Self(0x04);
    pub const CLASS_REVISION: Self = Self(0x08);
    pub const HEADER_TYPE: Self = Self(0x0c);
    pub const BAR_COUNT: u8 = 6;

    /// `None` unless `offset` is dword-aligned.
    pub const fn new(offset: u8) -> Option<Self> {
        if offset.is_multiple_of(4) {
            Some(Self(offset))
        } else {
            None
        }
    }

    /// The register of BAR `index` (0..6).
    pub const fn bar(index: u8) -> Option<Self> {
        if index < Self::BAR_COUNT {
            Some(Self(0x10 + 4 * index))
        } else {
            None
        }
    }

    pub const fn offset(self) -> u8 {
        self.0
    }
}

/// Vendor and device ID, shown as `vvvv:dddd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PciId {
    pub vendor: u16,
    pub device: u16,
}

impl PciId {
    pub const VIRTIO_GPU: Self = Self {
        vendor: 0x1af4,
        device: 0x1050,
    };

    /// Decodes register 0x00; `None` for an empty slot (vendor 0xffff).
    pub const fn from_register(value: u32) -> Option<Self> {
        let vendor = value as u16;
        if vendor == 0xffff {
            None
        } else {
            Some(Self {
                vendor,
                device: (value >> 16) as u16,
            })
        }
    }
}

impl fmt::Display for PciId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{:04x}", self.vendor, self.device)
    }
}

/// Base class, subclass and programming interface; shown as `cccc` like lspci (`0380`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassCode {
    pub class: u8,
    pub subclass: u8,
    pub interface: u8,
}

impl ClassCode {
    /// Decodes register 0x08 (class, subclass, interface, revision from high to low byte).
    pub const fn from_register(value: u32) -> Self {
        Self {
            class: (value >> 24) as u8,
            subclass: (value >> 16) as u8,
            interface: (value >> 8) as u8,
        }
    }

    /// A short name for the classes a q35 machine shows.
    pub const fn name(self) -> &'static str {
        match (self.class, self.subclass) {
            (0x01, 0x06) => "SATA controller",
            (0x01, _) => "storage controller",
            (0x02, _) => "network controller",
            (0x03, 0x00) => "VGA controller",
            (0x03, _) => "display controller",
            (0x06, 0x00) => "host bridge",
            (0x06, 0x01) => "ISA bridge",
            (0x06, 0x04) => "PCI bridge",
            (0x06, _) => "bridge",
            (0x0c, 0x05) => "SMBus controller",
            (0x00, 0xff) | (0xff, _) => "test device",
            _ => "device",
        }
    }
}

impl fmt::Display for ClassCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}{:02x}", self.class, self.subclass)
    }
}

/// Header type register (byte 0x0e).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderType(u8);

impl HeaderType {
    /// Decodes register 0x0c.
    pub const fn from_register(value: u32) -> Self {
        Self((value >> 16) as u8)
    }

    pub const fn is_multi_function(self) -> bool {
        self.0 & 0x80 != 0
    }

    /// Only type-0 headers (endpoints) have six BARs; bridges have two and a different layout.
    pub const fn is_endpoint(self) -> bool {
        self.0 & 0x7f == 0
    }
}

/// Bits of the command register (low half of register 0x04).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command(u16);

impl Command {
    pub const IO_SPACE: Self = Self(1 << 0);
    pub const MEMORY_SPACE: Self = Self(1 << 1);
    pub const BUS_MASTER: Self = Self(1 << 2);

    pub const fn from_register(value: u32) -> Self {
        Self(value as u16)
    }

    pub const fn bits(self) -> u16 {
        self.0
    }

    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    pub const fn without(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

/// A decoded base address register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bar {
    Io {
        port: u32,
        size: u32,
    },
    Memory32 {
        address: u32,
        size: u32,
        prefetchable: bool,
    },
    Memory64 {
        address: u64,
        size: u64,
        prefetchable: bool,
    },
}

/// The two reads that describe a BAR: its value, and what it reads back after writing all ones
/// (the size probe). For a 64-bit BAR each holds both halves, low slot in the low 32 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarProbe {
    pub value: u64,
    pub size_mask: u64,
}

impl Bar {
    /// Whether the BAR register `low` starts a 64-bit memory BAR, which also uses the next slot.
    pub const fn is_64_bit(low: u32) -> bool {
        low & 1 == 0 && (low >> 1) & 0b11 == 0b10
    }

    /// Decodes a probed BAR; `None` for an unimplemented BAR (size probe reads back zero).
    pub const fn decode(probe: BarProbe) -> Option<Self> {
        let low = probe.value as u32;
        if low & 1 == 1 {
            let mask = probe.size_mask as u32 & !0b11;
            // I/O BARs decode 16 bits of address; the upper half of the probe may read zero.
            let mask = mask | 0xffff_0000;
            if mask == 0xffff_0000 {
                return None;
            }
            return Some(Self::Io {
                port: low & !0b11,
                size: (!mask).wrapping_add(1),
            });
        }
        let prefetchable = low & 0b1000 != 0;
        if Self::is_64_bit(low) {
            let mask = probe.size_mask & !0xf;
            if mask == 0 {
                return None;
            }
            Some(Self::Memory64 {
                address: probe.value & !0xf,
                size: (!mask).wrapping_add(1),
                prefetchable,
            })
        } else {
            let mask = probe.size_mask as u32 & !0xf;
            if mask == 0 {
                return None;
            }
            Some(Self::Memory32 {
                address: low & !0xf,
                size: (!mask).wrapping_add(1),
                prefetchable,
            })
        }
    }

    /// Number of BAR slots this BAR occupies (2 for 64-bit memory).
    pub const fn slots(self) -> u8 {
        match self {
            Self::Memory64 { .. } => 2,
            _ => 1,
        }
    }

    /// The memory range `(address, size)`, or `None` for an I/O BAR.
    pub const fn memory_range(self) -> Option<(u64, u64)> {
        match self {
            Self::Io { .. } => None,
            Self::Memory32 { address, size, .. } => Some((address as u64, size as u64)),
            Self::Memory64 { address, size, .. } => Some((address, size)),
        }
    }
}

impl fmt::Display for Bar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefetch = |p: bool| if p { " prefetchable" } else { "" };
        match *self {
            Self::Io { port, size } => write!(f, "io    {port:#06x} size {size:#x}"),
            Self::Memory32 {
                address,
                size,
                prefetchable,
            } => {
                write!(
                    f,
                    "mem32 {address:#010x} size {size:#x}{}",
                    prefetch(prefetchable)
                )
            }
            Self::Memory64 {
                address,
                size,
                prefetchable,
            } => {
                write!(
                    f,
                    "mem64 {address:#014x} size {size:#x}{}",
                    prefetch(prefetchable)
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_rejects_out_of_range_device_and_function() {
        assert!(PciAddress::new(0, 32, 0).is_none());
        assert!(PciAddress::new(0, 0, 8).is_none());
        let address = PciAddress::new(0xff, 31, 7).unwrap();
        assert_eq!(address.to_string(), "ff:1f.7");
    }

    #[test]
    fn selectors_and_ecam_offsets() {
        let address = PciAddress::new(1, 2, 3).unwrap();
        let register = ConfigRegister::bar(1).unwrap();
        assert_eq!(address.port_io_selector(register), 0x8001_1314);
        assert_eq!(address.ecam_offset(register), 0x0011_3014);
        assert_eq!(ConfigRegister::new(0x0e), None);
        assert_eq!(ConfigRegister::bar(6), None);
    }

    #[test]
    fn ids_classes_and_headers() {
        assert_eq!(PciId::from_register(0xffff_ffff), None);
        assert_eq!(PciId::from_register(0x1050_1af4), Some(PciId::VIRTIO_GPU));
        assert_eq!(PciId::VIRTIO_GPU.to_string(), "1af4:1050");
        let class = ClassCode::from_register(0x0380_0001);
        assert_eq!(class.to_string(), "0380");
        assert_eq!(class.name(), "display controller");
        assert!(HeaderType::from_register(0x0080_0000).is_multi_function());
        assert!(HeaderType::from_register(0x0080_0000).is_endpoint());
        assert!(!HeaderType::from_register(0x0001_0000).is_endpoint());
    }

    #[test]
    fn command_bits() {
        let enabled = Command::from_register(0x0010_0000)
            .union(Command::IO_SPACE)
            .union(Command::MEMORY_SPACE)
            .union(Command::BUS_MASTER);
        assert_eq!(enabled.bits(), 0x0007);
        assert!(enabled.contains(Command::BUS_MASTER));
        assert_eq!(enabled.without(Command::IO_SPACE).bits(), 0x0006);
    }

    #[test]
    fn decodes_io_bar() {
        // Some devices return zeros in the upper half of an I/O probe.
        for size_mask in [0xffff_ffe1, 0xffe1] {
            let bar = Bar::decode(BarProbe {
                value: 0xc041,
                size_mask,
            })
            .unwrap();
            assert_eq!(
                bar,
                Bar::Io {
                    port: 0xc040,
                    size: 0x20
                },
                "{size_mask:#x}"
            );
            assert_eq!(bar.slots(), 1);
            assert_eq!(bar.memory_range(), None);
        }
    }

    #[test]
    fn decodes_memory32_bar() {
        let bar = Bar::decode(BarProbe {
            value: 0xfebd_1000,
            size_mask: 0xffff_f000,
        })
        .unwrap();
        assert_eq!(
            bar,
            Bar::Memory32 {
                address: 0xfebd_1000,
                size: 0x1000,
                prefetchable: false
            }
        );
        assert_eq!(bar.to_string(), "mem32 0xfebd1000 size 0x1000");
    }

    #[test]
    fn decodes_memory64_bar_across_two_slots() {
        let low = 0xfe00_000c;
        assert!(Bar::is_64_bit(low));
        let bar = Bar::decode(BarProbe {
            value: u64::from(low),
            size_mask: 0xffff_ffff_ffff_c00c,
        })
        .unwrap();
        assert_eq!(
            bar,
            Bar::Memory64 {
                address: 0xfe00_0000,
                size: 0x4000,
                prefetchable: true
            }
        );
        assert_eq!(bar.slots(), 2);
        assert_eq!(bar.memory_range(), Some((0xfe00_0000, 0x4000)));
        let high = Bar::decode(BarProbe {
            value: 0x8_0000_000c,
            size_mask: 0xffff_fff0_0000_000c,
        });
        assert_eq!(
            high.and_then(Bar::memory_range),
            Some((0x8_0000_0000, 0x10_0000_0000))
        );
    }

    #[test]
    fn unimplemented_bars_decode_to_none() {
        assert_eq!(
            Bar::decode(BarProbe {
                value: 0,
                size_mask: 0
            }),
            None
        );
        assert_eq!(
            Bar::decode(BarProbe {
                value: 1,
                size_mask: 1
            }),
            None
        );
    }
}
