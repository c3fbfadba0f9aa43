//! Bare-metal glue for x86_64 under QEMU: boot, ports, serial, interrupts, heap, devices.

pub mod blk;
pub mod boot;
pub mod dispatch;
pub mod gpu;
pub mod heap;
pub mod interrupts;
pub mod logger;
pub mod pci;
pub mod port;
pub mod pvh;
pub mod qemu;
pub mod serial;
pub mod virgl;
pub mod virtio_gpu;

/// Panics print where they happened and exit QEMU with a failure code.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    crate::kprintln!();
    crate::kprintln!("!!! KERNEL PANIC: {info}");
    qemu::exit(qemu::ExitCode::Failure)
}
