//! The virgl executor on metal: the runtime's WGSL, translated to TGSI at build time
//! (build.rs, `shaders::tgsi`), run by `virgl::VirglMachine` over the virtio-gpu 3D context.

use core::cell::RefCell;

use super::virtio_gpu::{GpuError, VirtioGpu};
use virgl::{Shader, Shaders};

// The translated shaders and their parameters (written by build.rs).
include!(concat!(env!("OUT_DIR"), "/virgl_shaders.rs"));

/// The runtime's shaders as build.rs translated them.
pub fn shaders() -> Shaders<'static> {
    SHADERS
}

/// The virtio-gpu 3D context as a virgl transport. Shared with the screen: both borrow the
/// device only for the duration of one request.
pub struct Device(pub &'static RefCell<VirtioGpu>);

impl core::fmt::Display for GpuError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            GpuError::Queue(e) => write!(f, "virtio queue: {e:?}"),
            GpuError::Response {
                request,
                response,
                name,
            } => write!(
                f,
                "request {request:#06x} answered {response:#06x} ({name})"
            ),
            GpuError::OutOfMemory { bytes } => {
                write!(f, "no guest memory for a {bytes}-byte resource")
            }
            GpuError::No3d => write!(f, "the device has no 3D (VIRTIO_GPU_F_VIRGL)"),
            GpuError::UnknownResource(handle) => write!(f, "unknown resource {handle}"),
            GpuError::Timeout { request } => write!(
                f,
                "no answer to request {request:#06x} within {} s (fence timeout: host GPU hung?)",
                super::virtio_gpu::ANSWER_TIMEOUT_MICROS / 1_000_000
            ),
            GpuError::Dead => write!(f, "the device timed out earlier and is no longer used"),
        }
    }
}

impl virgl::Transport for Device {
    type Error = GpuError;

    fn create_buffer(&mut self, handle: u32, bytes: u32) -> Result<(), GpuError> {
        self.0.borrow_mut().create_buffer(handle, bytes)
    }

    fn destroy(&mut self, handle: u32) -> Result<(), GpuError> {
        self.0.borrow_mut().destroy(handle)
    }

    fn write(&mut self, handle: u32, offset: u32, words: &[u32]) -> Result<(), GpuError> {
        self.0.borrow_mut().write(handle, offset, words)
    }

    fn read(&mut self, handle: u32, offset: u32, out: &mut [u32]) -> Result<(), GpuError> {
        self.0.borrow_mut().read(handle, offset, out)
    }

    fn submit(&mut self, commands: &[u32]) -> Result<(), GpuError> {
        self.0.borrow_mut().submit(commands, false)
    }

    fn wait(&mut self) -> Result<(), GpuError> {
        // An empty fenced submission: the device answers once everything before it is done.
        self.0.borrow_mut().submit(&[], true)
    }
}
