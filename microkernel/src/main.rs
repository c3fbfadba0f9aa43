//! The pxOS microkernel.
#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

use microkernel::arch::gpu::Display;
use microkernel::arch::pci::{ConfigSpace, Function};
use microkernel::arch::qemu::{self, ExitCode};
use microkernel::arch::serial::Com1;
use microkernel::arch::{heap, interrupts, logger, pvh};
use microkernel::draw::{BACKGROUND, Layout};
use microkernel::kprintln;
use microkernel::pci::PciId;

#[unsafe(no_mangle)]
extern "C" fn kernel_main(start_info: u32) -> ! {
    Com1::init();
    kprintln!("pxOS microkernel: long mode, identity-mapped 0..4 GiB with 2 MiB pages");
    interrupts::init();
    heap::init();
    logger::init(log::LevelFilter::Info);
    // SAFETY: `start_info` is the EBX value of the PVH entry, passed through unchanged.
    let boot = match unsafe { pvh::BootInfo::from_start_info(start_info) } {
        Ok(boot) => boot,
        Err(error) => panic!("bad PVH start info: {error:?}"),
    };
    kprintln!("boot: command line {:?}", boot.command_line);
    for entry in boot.memory_map {
        kprintln!("  mem {:#012x}..{:#012x} {}", entry.address, entry.address + entry.size, entry.kind_name());
    }

    let gpu = enumerate_pci();
    let Some(gpu) = gpu else {
        kprintln!("display: no virtio-gpu (1af4:1050) found; running without a screen");
        qemu::exit(ExitCode::Success)
    };
    let mut display = match Display::new(&gpu) {
        Ok(display) => display,
        Err(error) => panic!("virtio-gpu init failed: {error:?}"),
    };
    let layout = Layout::fit(display.size(), (32, 32));
    let mut canvas = display.canvas();
    canvas.clear(BACKGROUND);
    drop(canvas);
    display.flush().expect("flush");
    kprintln!("display: {:?} {:?}", display.size(), layout);
    qemu::exit(ExitCode::Success)
}

/// Lists every PCI function and returns the virtio-gpu, enabled.
fn enumerate_pci() -> Option<Function> {
    let config = ConfigSpace;
    let mut gpu = None;
    kprintln!("pci: scanning buses 00..ff");
    config.enumerate(|function| {
        kprintln!(
            "pci {} {} class {} {}",
            function.address,
            function.id,
            function.class,
            function.class.name()
        );
        for (slot, bar) in function.bars.iter().enumerate() {
            if let Some(bar) = bar {
                kprintln!("    bar{slot} {bar}");
            }
        }
        if function.id == PciId::VIRTIO_GPU && gpu.is_none() {
            gpu = Some(function.clone());
        }
    });
    let gpu = gpu?;
    if let Err(bar) = gpu.check_bars_mapped() {
        panic!("virtio-gpu {bar} lies outside the identity map");
    }
    config.enable(gpu.address);
    kprintln!("pci {}: virtio-gpu enabled (io | memory | bus master), BARs identity mapped", gpu.address);
    Some(gpu)
}
