//! A virtio-gpu driver with both faces: the 2D scanout (framebuffer, flush) and, when the
//! device offers `VIRTIO_GPU_F_VIRGL`, a 3D context with buffer resources, transfers,
//! `SUBMIT_3D` and fences. `virtio-drivers` 0.13 has no 3D commands and owns the control
//! queue, so this driver uses its transport and queue types directly. Requests are encoded by
//! [`crate::virtio_gpu`].

use alloc::alloc::{alloc_zeroed, dealloc};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use core::alloc::Layout;
use core::ops::BitAnd;
use core::ptr::NonNull;

use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::Transport;
use virtio_drivers::transport::pci::PciTransport;

use super::gpu::KernelHal;
use super::interrupts;
use crate::virtio_gpu::{self as proto, Target};

/// The control queue (queue 0); 4 descriptors: request, command stream, response.
const CONTROL_QUEUE: u16 = 0;
const QUEUE_SIZE: usize = 4;
/// The framebuffer's resource id.
const FRAMEBUFFER: u32 = 1;
/// The 3D context this kernel creates.
const CONTEXT: u32 = 1;
/// How long a request may wait for its answer. A fenced request waits for the host GPU, and
/// the first launch of a shader waits for the host's compiler (a minute on a loaded llvmpipe).
pub const ANSWER_TIMEOUT_MICROS: u64 = 300_000_000;

/// Device features this driver accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Features(u64);

impl bitflags::Flags for Features {
    const FLAGS: &'static [bitflags::Flag<Self>] = &[
        bitflags::Flag::new("VIRGL", Features(proto::FEATURE_VIRGL)),
        bitflags::Flag::new("VERSION_1", Features(proto::FEATURE_VERSION_1)),
    ];
    type Bits = u64;

    fn bits(&self) -> u64 {
        self.0
    }

    fn from_bits_retain(bits: u64) -> Self {
        Features(bits)
    }
}

impl BitAnd for Features {
    type Output = Features;

    fn bitand(self, other: Features) -> Features {
        Features(self.0 & other.0)
    }
}

/// Why a request failed.
#[derive(Debug)]
pub enum GpuError {
    /// The queue or transport failed.
    Queue(virtio_drivers::Error),
    /// The device answered with an error response.
    Response {
        /// Request type.
        request: u32,
        /// Response type.
        response: u32,
        /// Its name.
        name: &'static str,
    },
    /// Guest memory for a resource could not be allocated.
    OutOfMemory { bytes: usize },
    /// A 3D request on a device without `VIRTIO_GPU_F_VIRGL`.
    No3d,
    /// An unknown resource handle.
    UnknownResource(u32),
    /// The device did not answer in time (a fence that never signals, a hung host).
    Timeout { request: u32 },
    /// An earlier request timed out; the device is no longer used.
    Dead,
}

/// Page-aligned, zeroed, identity-mapped guest memory backing a resource.
struct Backing {
    pointer: NonNull<u8>,
    layout: Layout,
}

impl Backing {
    fn new(bytes: usize) -> Result<Backing, GpuError> {
        let layout = Layout::from_size_align(bytes.max(1).next_multiple_of(4096), 4096)
            .map_err(|_| GpuError::OutOfMemory { bytes })?;
        // SAFETY: the layout has a non-zero size.
        let pointer = unsafe { alloc_zeroed(layout) };
        let pointer = NonNull::new(pointer).ok_or(GpuError::OutOfMemory { bytes })?;
        Ok(Backing { pointer, layout })
    }

    fn address(&self) -> u64 {
        // Identity map: the virtual address is the physical address.
        self.pointer.as_ptr() as u64
    }

    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: the allocation is `layout.size()` bytes, owned by `self`; the device only
        // touches it during transfers, which borrow the driver mutably.
        unsafe { core::slice::from_raw_parts_mut(self.pointer.as_ptr(), self.layout.size()) }
    }
}

impl Drop for Backing {
    fn drop(&mut self) {
        // SAFETY: allocated in `Backing::new` with this layout.
        unsafe { dealloc(self.pointer.as_ptr(), self.layout) };
    }
}

/// The device. Keep it alive: dropping the transport resets the device.
pub struct VirtioGpu {
    transport: PciTransport,
    control: VirtQueue<KernelHal, QUEUE_SIZE>,
    virgl: bool,
    response: Vec<u32>,
    next_fence: u64,
    framebuffer: Option<(Backing, u32, u32)>,
    resources: BTreeMap<u32, Backing>,
    /// A request timed out: the device may still write into our buffers later.
    dead: bool,
}

impl VirtioGpu {
    /// Initialise the device, accepting 3D when it offers it.
    pub fn new(mut transport: PciTransport) -> Result<VirtioGpu, GpuError> {
        let wanted = Features(proto::FEATURE_VIRGL | proto::FEATURE_VERSION_1);
        let negotiated = transport.begin_init(wanted);
        let control =
            VirtQueue::new(&mut transport, CONTROL_QUEUE, false, false).map_err(GpuError::Queue)?;
        transport.finish_init();
        let mut gpu = VirtioGpu {
            transport,
            control,
            virgl: negotiated.0 & proto::FEATURE_VIRGL != 0,
            response: vec![0; 1024],
            next_fence: 1,
            framebuffer: None,
            resources: BTreeMap::new(),
            dead: false,
        };
        if gpu.virgl {
            gpu.ok(&proto::ctx_create(CONTEXT, "pxos"))?;
        }
        Ok(gpu)
    }

    /// Whether the 3D (virgl) commands are available.
    pub fn has_3d(&self) -> bool {
        self.virgl
    }

    /// Send `request` and return the response words. A device that does not answer within
    /// [`ANSWER_TIMEOUT_MICROS`] (a fenced request waits for the host GPU) is given up: the
    /// driver stays unusable, and the request and response buffers are leaked so that a late
    /// answer cannot write into reused memory.
    fn request(&mut self, request: &[u32]) -> Result<&[u32], GpuError> {
        if self.dead {
            return Err(GpuError::Dead);
        }
        let request: &mut [u32] = Box::leak(request.to_vec().into_boxed_slice());
        let input: &[u8] = words_as_bytes(request);
        let output = words_as_bytes_mut(&mut self.response);
        let inputs = [input];
        let mut outputs = [output];
        // SAFETY: the buffers stay untouched until the token is popped below; on a timeout
        // they are never used or freed again (`request` is leaked, `dead` retires `response`).
        let token = unsafe { self.control.add(&inputs, &mut outputs) }.map_err(GpuError::Queue)?;
        if self.control.should_notify() {
            self.transport.notify(CONTROL_QUEUE);
        }
        let deadline = interrupts::uptime_micros() + ANSWER_TIMEOUT_MICROS;
        while !self.control.can_pop() {
            if interrupts::uptime_micros() > deadline {
                self.dead = true;
                return Err(GpuError::Timeout {
                    request: request[0],
                });
            }
            core::hint::spin_loop();
        }
        // SAFETY: the same buffers as passed to `add`, still valid.
        unsafe { self.control.pop_used(token, &inputs, &mut outputs) }.map_err(GpuError::Queue)?;
        // SAFETY: the request went back to us with the token; nothing else refers to it.
        drop(unsafe { Box::from_raw(request as *mut [u32]) });
        Ok(&self.response)
    }

    /// Send `request` and expect `OK_NODATA`.
    fn ok(&mut self, request: &[u32]) -> Result<(), GpuError> {
        let kind = self.request(request)?[0];
        if kind == proto::RESP_OK_NODATA {
            Ok(())
        } else {
            Err(GpuError::Response {
                request: request[0],
                response: kind,
                name: proto::response_name(kind),
            })
        }
    }

    /// The size of scanout 0.
    pub fn resolution(&mut self) -> Result<(u32, u32), GpuError> {
        let response = self.request(&proto::get_display_info())?;
        let kind = response[0];
        proto::display_size(response).ok_or(GpuError::Response {
            request: proto::cmd::GET_DISPLAY_INFO,
            response: kind,
            name: proto::response_name(kind),
        })
    }

    /// Create a B8G8R8A8 framebuffer of the scanout's size and show it; returns its memory.
    pub fn setup_framebuffer(&mut self) -> Result<(NonNull<[u8]>, u32, u32), GpuError> {
        let (width, height) = self.resolution()?;
        let mut backing = Backing::new(width as usize * height as usize * 4)?;
        self.ok(&proto::resource_create_2d(FRAMEBUFFER, width, height))?;
        let bytes = width * height * 4;
        self.ok(&proto::attach_backing(
            FRAMEBUFFER,
            backing.address(),
            bytes,
        ))?;
        self.ok(&proto::set_scanout(0, FRAMEBUFFER, width, height))?;
        let memory = NonNull::from(&mut backing.bytes()[..bytes as usize]);
        self.framebuffer = Some((backing, width, height));
        Ok((memory, width, height))
    }

    /// Copy the framebuffer to the host and show it.
    pub fn flush(&mut self) -> Result<(), GpuError> {
        let Some((_, width, height)) = self.framebuffer else {
            return Ok(());
        };
        self.ok(&proto::transfer_to_host_2d(FRAMEBUFFER, width, height))?;
        self.ok(&proto::resource_flush(FRAMEBUFFER, width, height))
    }

    fn require_3d(&self) -> Result<(), GpuError> {
        if self.virgl {
            Ok(())
        } else {
            Err(GpuError::No3d)
        }
    }

    /// A shader-buffer resource of `bytes` bytes with guest backing, in the 3D context.
    pub fn create_buffer(&mut self, handle: u32, bytes: u32) -> Result<(), GpuError> {
        const BIND_SHADER_BUFFER: u32 = 1 << 14;
        self.require_3d()?;
        let backing = Backing::new(bytes as usize)?;
        let address = backing.address();
        self.ok(&proto::resource_create_buffer(
            CONTEXT,
            handle,
            bytes,
            BIND_SHADER_BUFFER,
        ))?;
        self.ok(&proto::attach_backing(handle, address, bytes))?;
        self.ok(&proto::ctx_attach_resource(CONTEXT, handle))?;
        self.resources.insert(handle, backing);
        Ok(())
    }

    /// Release a buffer resource and its backing.
    pub fn destroy(&mut self, handle: u32) -> Result<(), GpuError> {
        self.ok(&proto::resource_unref(handle))?;
        self.resources.remove(&handle);
        Ok(())
    }

    fn backing(&mut self, handle: u32) -> Result<&mut Backing, GpuError> {
        self.resources
            .get_mut(&handle)
            .ok_or(GpuError::UnknownResource(handle))
    }

    /// Write `words` at byte `offset` of a buffer: into its backing, then to the host.
    pub fn write(&mut self, handle: u32, offset: u32, words: &[u32]) -> Result<(), GpuError> {
        let bytes = words_as_bytes(words);
        let at = offset as usize;
        self.backing(handle)?.bytes()[at..at + bytes.len()].copy_from_slice(bytes);
        let target = Target {
            ctx: CONTEXT,
            fence: None,
        };
        self.ok(&proto::transfer_buffer(
            true,
            target,
            handle,
            offset,
            bytes.len() as u32,
        ))
    }

    /// Read words at byte `offset` of a buffer from the host. The host finishes the GPU work
    /// that writes the buffer before the transfer (GL orders buffer reads after dispatches).
    pub fn read(&mut self, handle: u32, offset: u32, out: &mut [u32]) -> Result<(), GpuError> {
        let len = out.len() * 4;
        let target = Target {
            ctx: CONTEXT,
            fence: None,
        };
        self.ok(&proto::transfer_buffer(
            false, target, handle, offset, len as u32,
        ))?;
        let at = offset as usize;
        let bytes = &self.backing(handle)?.bytes()[at..at + len];
        for (w, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
            *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        Ok(())
    }

    /// Submit a virgl command stream; with `fence`, the answer comes once it has executed.
    pub fn submit(&mut self, commands: &[u32], fence: bool) -> Result<(), GpuError> {
        self.require_3d()?;
        let fence = fence.then(|| {
            self.next_fence += 1;
            self.next_fence
        });
        self.ok(&proto::submit_3d(
            Target {
                ctx: CONTEXT,
                fence,
            },
            commands,
        ))
    }
}

fn words_as_bytes(words: &[u32]) -> &[u8] {
    // SAFETY: u32 has no padding and a stricter alignment than u8; the length is exact.
    unsafe { core::slice::from_raw_parts(words.as_ptr().cast::<u8>(), words.len() * 4) }
}

fn words_as_bytes_mut(words: &mut [u32]) -> &mut [u8] {
    // SAFETY: as above; every byte pattern is a valid u32, so writes through the bytes are fine.
    unsafe { core::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), words.len() * 4) }
}
