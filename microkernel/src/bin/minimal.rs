//! Boot-time baseline: the same PVH boot path as the kernel, then one serial line and exit.
#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

use microkernel::arch::qemu::{self, ExitCode};
use microkernel::arch::serial::Com1;
use microkernel::kprintln;

#[unsafe(no_mangle)]
extern "C" fn kernel_main(_start_info: u32) -> ! {
    Com1::init();
    kprintln!("pxos-minimal: up");
    qemu::exit(ExitCode::Success)
}
