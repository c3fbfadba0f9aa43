//! pxOS core: the PXI instruction set, image format, mailbox protocol and the
//! CPU reference interpreter.
//!
//! `no_std` + `alloc` so the microkernel runs the very same code; the `std`
//! feature adds console hosts for host programs.
#![no_std]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod counts;
pub mod devices;
pub mod docs;
pub mod float;
#[cfg(feature = "std")]
pub mod host;
pub mod image;
pub mod isa;
pub mod loader;
pub mod machine;
pub mod mailbox;
pub mod osabi;
pub mod png;
pub mod program;
pub mod run;
pub mod state;
pub mod tensor;
pub mod virtio_blk;
pub mod wgsl;

pub use image::{Image, ImageError};
pub use isa::{Instruction, Op};
pub use machine::{Limits, Machine};
pub use state::{MachineStatus, Trap, TrapKind};
