//! pxOS microkernel library.
//!
//! The modules at the top (`console`, `pci`, `draw`, `screen`, `virtio_gpu`) are plain logic that runs and is unit-tested on the
//! host (`cargo test --lib --target x86_64-unknown-linux-gnu`). Everything that touches ports,
//! page tables or devices lives in [`arch`] and only exists when building for bare metal.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate alloc;

pub mod console;
pub mod draw;
pub mod memory;
pub mod pci;
pub mod screen;
pub mod virtio_caps;
pub mod virtio_gpu;

#[cfg(target_os = "none")]
pub mod arch;
