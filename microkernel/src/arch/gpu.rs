//! The virtio-gpu screen: the DMA glue for `virtio-drivers` (`KernelHal`) and a [`Display`] that
//! owns the device (see [`super::virtio_gpu`]) and hands out its framebuffer as a [`Canvas`].

use super::pci::{ConfigSpace, Function, IDENTITY_MAPPED_END};
use super::virtio_gpu::{GpuError, VirtioGpu};
use crate::draw::Canvas;
use alloc::alloc::{alloc_zeroed, dealloc};
use alloc::boxed::Box;
use core::alloc::Layout;
use core::cell::RefCell;
use core::ptr::NonNull;
use virtio_drivers::transport::pci::bus::{DeviceFunction, PciRoot};
use virtio_drivers::transport::pci::{PciTransport, VirtioPciError};
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE, PhysAddr};

/// DMA memory comes from the kernel heap; physical address = virtual address (identity map).
pub struct KernelHal;

fn dma_layout(pages: usize) -> Layout {
    Layout::from_size_align(pages * PAGE_SIZE, PAGE_SIZE)
        .expect("DMA request fits the address space")
}

// SAFETY: `dma_alloc` returns zeroed, page-aligned heap memory that nothing else aliases until
// `dma_dealloc`; with the identity map its address is also its physical address. MMIO addresses
// are checked against the identity map.
unsafe impl Hal for KernelHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        // SAFETY: the layout has non-zero size (virtio never asks for zero pages).
        let pointer = unsafe { alloc_zeroed(dma_layout(pages)) };
        match NonNull::new(pointer) {
            Some(pointer) => (pointer.as_ptr() as PhysAddr, pointer),
            // virtio-drivers reports a zero physical address as `Error::DmaError`.
            None => (0, NonNull::dangling()),
        }
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
        // SAFETY: the caller passes back a pointer from `dma_alloc` with the same page count.
        unsafe { dealloc(vaddr.as_ptr(), dma_layout(pages)) };
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, size: usize) -> NonNull<u8> {
        assert!(
            paddr.saturating_add(size as u64) <= IDENTITY_MAPPED_END,
            "MMIO region {paddr:#x}+{size:#x} lies outside the identity map"
        );
        NonNull::new(paddr as *mut u8).expect("MMIO BARs are never at address zero")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        buffer.cast::<u8>().as_ptr() as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

#[derive(Debug)]
pub enum DisplayError {
    Transport(VirtioPciError),
    Device(GpuError),
}

/// The virtio-gpu scanout. The device lives for the rest of the kernel's life (dropping it
/// would reset it and blank the screen); the 3D executor shares it through [`Display::device`].
pub struct Display {
    gpu: &'static RefCell<VirtioGpu>,
    /// The framebuffer: DMA memory owned by the device driver, which lives forever.
    framebuffer: NonNull<[u8]>,
    width: usize,
    height: usize,
}

impl Display {
    /// Initialises the device at `function` (already enabled) with a framebuffer at its default
    /// resolution, and with a 3D context when the device offers virgl.
    pub fn new(function: &Function) -> Result<Self, DisplayError> {
        let address = function.address;
        let device_function = DeviceFunction {
            bus: address.bus(),
            device: address.device(),
            function: address.function(),
        };
        let mut root = PciRoot::new(ConfigSpace);
        let transport = PciTransport::new::<KernelHal, _>(&mut root, device_function)
            .map_err(DisplayError::Transport)?;
        let mut gpu = VirtioGpu::new(transport).map_err(DisplayError::Device)?;
        let (framebuffer, width, height) = gpu.setup_framebuffer().map_err(DisplayError::Device)?;
        Ok(Self {
            gpu: Box::leak(Box::new(RefCell::new(gpu))),
            framebuffer,
            width: width as usize,
            height: height as usize,
        })
    }

    pub fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    /// The device, for the 3D executor.
    pub fn device(&self) -> &'static RefCell<VirtioGpu> {
        self.gpu
    }

    /// The framebuffer for drawing; [`Display::flush`] shows it.
    pub fn canvas(&mut self) -> Canvas<'_> {
        // SAFETY: the framebuffer is DMA memory owned by the (leaked, never freed) driver;
        // borrowing `self` mutably for the canvas' lifetime keeps it the only reference, and
        // the device only reads it during `flush`, which needs `&mut self` too.
        let bytes = unsafe { self.framebuffer.as_mut() };
        Canvas::new(bytes, self.width, self.height)
            .expect("virtio-gpu framebuffer holds width * height pixels")
    }

    /// Copies the framebuffer to the host and shows it.
    pub fn flush(&mut self) -> Result<(), DisplayError> {
        self.gpu.borrow_mut().flush().map_err(DisplayError::Device)
    }
}
