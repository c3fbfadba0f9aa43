//! The pxOS microkernel.
#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

use microkernel::arch::qemu::{self, ExitCode};
use microkernel::arch::serial::Com1;
use microkernel::arch::{heap, interrupts, pvh};
use microkernel::kprintln;

#[unsafe(no_mangle)]
extern "C" fn kernel_main(start_info: u32) -> ! {
    Com1::init();
    kprintln!("pxOS microkernel: long mode, identity-mapped 0..4 GiB with 2 MiB pages");
    interrupts::init();
    heap::init();
    // SAFETY: `start_info` is the EBX value of the PVH entry, passed through unchanged.
    let boot = match unsafe { pvh::BootInfo::from_start_info(start_info) } {
        Ok(boot) => boot,
        Err(error) => panic!("bad PVH start info: {error:?}"),
    };
    for entry in boot.memory_map {
        kprintln!("  mem {:#012x}..{:#012x} {}", entry.address, entry.address + entry.size, entry.kind_name());
    }
    qemu::exit(ExitCode::Success)
}
