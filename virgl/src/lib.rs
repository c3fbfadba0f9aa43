//! virgl — the 3D side of virtio-gpu — for pxOS.
//!
//! [`protocol`] encodes virgl command streams (compute shaders, shader
//! buffers, grid launches, barriers). [`VirglMachine`] runs a PXI machine
//! with the runtime's shaders (translated to TGSI by `shaders::tgsi`) over
//! any [`Transport`]: the microkernel's virtio-gpu driver on metal, or the
//! [`vtest`] client of virglrenderer's test server on a host. It is the
//! same executor as the wgpu runtime, buffer for buffer, behind the same
//! `pxi::run::Executor` interface and `drive` loop.

#![no_std]

extern crate alloc;
#[cfg(feature = "vtest")]
extern crate std;

mod machine;
pub mod protocol;
#[cfg(feature = "vtest")]
pub mod vtest;

pub use machine::{Context, Shader, Shaders, VirglError, VirglMachine};

/// What carries virgl resources and command streams to the host renderer.
pub trait Transport {
    /// Transport failure.
    type Error: core::fmt::Debug + core::fmt::Display;

    /// Create a buffer resource of `bytes` bytes usable as a shader buffer
    /// (and as indirect dispatch arguments) under the client-chosen `handle`.
    fn create_buffer(&mut self, handle: u32, bytes: u32) -> Result<(), Self::Error>;

    /// Release a resource.
    fn destroy(&mut self, handle: u32) -> Result<(), Self::Error>;

    /// Copy `words` into the buffer at byte `offset`.
    fn write(&mut self, handle: u32, offset: u32, words: &[u32]) -> Result<(), Self::Error>;

    /// Copy words from the buffer at byte `offset` into `out`, after all
    /// submitted work has finished.
    fn read(&mut self, handle: u32, offset: u32, out: &mut [u32]) -> Result<(), Self::Error>;

    /// Submit a virgl command stream.
    fn submit(&mut self, commands: &[u32]) -> Result<(), Self::Error>;

    /// Wait until all submitted work has finished.
    fn wait(&mut self) -> Result<(), Self::Error>;
}
