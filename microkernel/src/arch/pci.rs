//! PCI configuration space through mechanism #1 (ports 0xCF8/0xCFC), bus enumeration, BAR
//! probing, and the `ConfigurationAccess` that lets `virtio-drivers` reach the same space.

use super::port::Port;
use crate::pci::{
    Bar, BarProbe, ClassCode, Command, ConfigRegister, HeaderType, PciAddress, PciId,
};
use virtio_drivers::transport::pci::bus::{ConfigurationAccess, DeviceFunction};

const CONFIG_ADDRESS: Port<u32> = Port::new(0xcf8);
const CONFIG_DATA: Port<u32> = Port::new(0xcfc);

/// Everything below 4 GiB is identity mapped by the boot code.
pub const IDENTITY_MAPPED_END: u64 = 1 << 32;

/// The configuration space of every PCI function, through ports 0xCF8/0xCFC. Zero-sized: the
/// ports are the state. The kernel is single threaded, so the two-step access never interleaves.
#[derive(Debug, Clone, Copy)]
pub struct ConfigSpace;

impl ConfigSpace {
    pub fn read(self, address: PciAddress, register: ConfigRegister) -> u32 {
        // SAFETY: selecting a register through 0xCF8 and reading 0xCFC is the PCI configuration
        // mechanism #1; reading configuration registers has no side effects.
        unsafe {
            CONFIG_ADDRESS.write(address.port_io_selector(register));
            CONFIG_DATA.read()
        }
    }

    /// Writes one configuration register. Callers change only command and BAR registers.
    pub fn write(self, address: PciAddress, register: ConfigRegister, value: u32) {
        // SAFETY: as in `read`; writing command and BAR registers is how PCI is configured.
        unsafe {
            CONFIG_ADDRESS.write(address.port_io_selector(register));
            CONFIG_DATA.write(value);
        }
    }

    pub fn command(self, address: PciAddress) -> Command {
        Command::from_register(self.read(address, ConfigRegister::STATUS_COMMAND))
    }

    /// Writes the command register; the status half is written as zero, which leaves its
    /// write-one-to-clear bits alone.
    pub fn set_command(self, address: PciAddress, command: Command) {
        self.write(
            address,
            ConfigRegister::STATUS_COMMAND,
            u32::from(command.bits()),
        );
    }

    /// Turns on I/O and memory decoding and bus mastering (DMA).
    pub fn enable(self, address: PciAddress) {
        let command = self
            .command(address)
            .union(Command::IO_SPACE)
            .union(Command::MEMORY_SPACE)
            .union(Command::BUS_MASTER);
        self.set_command(address, command);
    }

    /// Reads the BARs of an endpoint, sizing each by writing all ones with decoding switched off
    /// (so the device never answers at the probe address) and restoring it afterwards.
    fn probe_bars(self, address: PciAddress) -> [Option<Bar>; ConfigRegister::BAR_COUNT as usize] {
        let mut bars = [None; ConfigRegister::BAR_COUNT as usize];
        let command = self.command(address);
        self.set_command(
            address,
            command
                .without(Command::IO_SPACE)
                .without(Command::MEMORY_SPACE),
        );
        let mut index = 0;
        while let Some(register) = ConfigRegister::bar(index) {
            let low = self.read(address, register);
            let high_register = ConfigRegister::bar(index + 1).filter(|_| Bar::is_64_bit(low));
            let mut probe = BarProbe {
                value: u64::from(low),
                size_mask: u64::from(self.size_mask(address, register)),
            };
            if let Some(high_register) = high_register {
                probe.value |= u64::from(self.read(address, high_register)) << 32;
                probe.size_mask |= u64::from(self.size_mask(address, high_register)) << 32;
            }
            let bar = Bar::decode(probe);
            bars[usize::from(index)] = bar;
            // A 64-bit BAR owns the next slot too: reading it as a BAR of its own would be bogus.
            index += bar.map_or(1, Bar::slots);
        }
        self.set_command(address, command);
        bars
    }

    fn size_mask(self, address: PciAddress, register: ConfigRegister) -> u32 {
        let original = self.read(address, register);
        self.write(address, register, u32::MAX);
        let mask = self.read(address, register);
        self.write(address, register, original);
        mask
    }

    /// Calls `visit` for every function on every bus, in address order.
    pub fn enumerate(self, mut visit: impl FnMut(&Function)) {
        for bus in 0..=u8::MAX {
            for device in 0..PciAddress::DEVICES_PER_BUS {
                for function in 0..PciAddress::FUNCTIONS_PER_DEVICE {
                    let Some(address) = PciAddress::new(bus, device, function) else {
                        continue;
                    };
                    let Some(found) = self.function(address) else {
                        if function == 0 {
                            break;
                        }
                        continue;
                    };
                    visit(&found);
                    if function == 0 && !found.header.is_multi_function() {
                        break;
                    }
                }
            }
        }
    }

    /// The function at `address`, or `None` if the slot is empty.
    pub fn function(self, address: PciAddress) -> Option<Function> {
        let id = PciId::from_register(self.read(address, ConfigRegister::ID))?;
        let class = ClassCode::from_register(self.read(address, ConfigRegister::CLASS_REVISION));
        let header = HeaderType::from_register(self.read(address, ConfigRegister::HEADER_TYPE));
        let bars = if header.is_endpoint() {
            self.probe_bars(address)
        } else {
            Default::default()
        };
        Some(Function {
            address,
            id,
            class,
            header,
            bars,
        })
    }
}

/// One PCI function as found by enumeration.
#[derive(Debug, Clone)]
pub struct Function {
    pub address: PciAddress,
    pub id: PciId,
    pub class: ClassCode,
    pub header: HeaderType,
    /// Indexed by BAR slot; the slot after a 64-bit BAR is `None`.
    pub bars: [Option<Bar>; ConfigRegister::BAR_COUNT as usize],
}

impl Function {
    /// Checks that every memory BAR lies inside the identity map, so its physical address is
    /// usable as a pointer. Returns the first BAR that does not.
    pub fn check_bars_mapped(&self) -> Result<(), Bar> {
        for bar in self.bars.iter().flatten() {
            if let Some((address, size)) = bar.memory_range()
                && address.saturating_add(size) > IDENTITY_MAPPED_END
            {
                return Err(*bar);
            }
        }
        Ok(())
    }
}

fn pci_address(device_function: DeviceFunction) -> PciAddress {
    PciAddress::new(
        device_function.bus,
        device_function.device,
        device_function.function,
    )
    .expect("virtio-drivers only passes valid device functions")
}

fn config_register(offset: u8) -> ConfigRegister {
    ConfigRegister::new(offset).expect("virtio-drivers only accesses aligned registers")
}

impl ConfigurationAccess for ConfigSpace {
    fn read_word(&self, device_function: DeviceFunction, register_offset: u8) -> u32 {
        self.read(
            pci_address(device_function),
            config_register(register_offset),
        )
    }

    fn write_word(&mut self, device_function: DeviceFunction, register_offset: u8, data: u32) {
        self.write(
            pci_address(device_function),
            config_register(register_offset),
            data,
        );
    }

    unsafe fn unsafe_clone(&self) -> Self {
        Self
    }
}
