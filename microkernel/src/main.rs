//! The pxOS microkernel: boots, lists PCI, brings up the virtio-gpu screen, then runs the
//! embedded os.pxi on the pxi CPU interpreter and services its mailbox.
#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

use microkernel::arch::blk::PciVirtioBlk;
use microkernel::arch::dispatch::{self, CpuExecutor, KernelHost, Screen};
use microkernel::arch::gpu::Display;
use microkernel::arch::pci::{ConfigSpace, Function};
use microkernel::arch::qemu::{self, ExitCode};
use microkernel::arch::serial::Com1;
use microkernel::arch::virgl as virgl_executor;
use microkernel::arch::virtio_gpu::{GpuError, VirtioGpu};
use microkernel::arch::{heap, interrupts, logger, pvh};
use microkernel::kprintln;
use microkernel::pci::PciId;
use microkernel::screen::ProgramView;
use microkernel::virtio_caps::VIRTIO_BLK_IDS;
use pxi::Trap;
use pxi::run::{Outcome, Stop};
use pxi::{Image, Machine};
use virgl::{VirglError, VirglMachine};

extern crate alloc;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::RefCell;

/// The program the kernel runs (chosen by build.rs).
static OS_IMAGE: &[u8] = include_bytes!(env!("PXOS_IMAGE_PATH"));
const OS_IMAGE_SOURCE: &str = env!("PXOS_IMAGE_SOURCE");

/// Kernel command-line word: exit QEMU when the program stops (needs `isa-debug-exit`).
const EXIT_ON_STOP: &str = "exit-on-stop";
/// Kernel command-line word: read unmapped memory right after boot, to check that CPU
/// exceptions are reported (the QEMU tests use it).
const FAULT_TEST: &str = "fault-test";
/// First address past the identity map.
const UNMAPPED_ADDRESS: usize = 1 << 32;

#[unsafe(no_mangle)]
extern "C" fn kernel_main(start_info: u32) -> ! {
    let serial = Com1::init();
    kprintln!("pxOS microkernel: long mode, identity-mapped 0..4 GiB with 2 MiB pages");
    interrupts::init();
    // SAFETY: `start_info` is the EBX value of the PVH entry, passed through unchanged.
    let boot = match unsafe { pvh::BootInfo::from_start_info(start_info) } {
        Ok(boot) => boot,
        Err(error) => panic!("bad PVH start info: {error:?}"),
    };
    for entry in boot.memory_map {
        kprintln!(
            "  mem {:#012x}..{:#012x} {}",
            entry.address,
            entry.address + entry.size,
            entry.kind_name()
        );
    }
    match heap::init(&boot) {
        Ok(heap) => kprintln!(
            "heap: {} MiB at {:#x}..{:#x} (the RAM after the kernel)",
            heap.len() >> 20,
            heap.start,
            heap.end
        ),
        Err(error) => {
            kprintln!("boot: no heap: {error}");
            qemu::exit(ExitCode::Failure)
        }
    }
    logger::init(log::LevelFilter::Info);
    kprintln!("boot: command line {:?}", boot.command_line);
    let has_word = |word: &str| boot.command_line.split_whitespace().any(|w| w == word);
    if has_word(FAULT_TEST) {
        kprintln!("boot: {FAULT_TEST}: reading unmapped address {UNMAPPED_ADDRESS:#x}");
        // SAFETY: not sound by design: the read faults, and the page-fault handler reports it
        // and exits QEMU; control never comes back here.
        let value = unsafe { core::ptr::read_volatile(UNMAPPED_ADDRESS as *const u64) };
        panic!("{FAULT_TEST}: reading {UNMAPPED_ADDRESS:#x} did not fault (read {value:#x})");
    }

    let mut image = match Image::decode_png(OS_IMAGE) {
        Ok(image) => image,
        Err(error) => panic!("embedded os.pxi is invalid: {error}"),
    };
    match microkernel::memory::memory_words(boot.command_line) {
        Ok(None) => {}
        Ok(Some(words)) => match pxi::program::reserve(&mut image, words, 0) {
            Ok(_) => kprintln!("boot: memory={words} words (the arena of large data windows)"),
            Err(error) => kprintln!("boot: memory={words}: {error}"),
        },
        Err(word) => kprintln!("boot: memory={word} is not a count of words (e.g. 20M)"),
    }
    kprintln!(
        "os.pxi: {} ({} bytes), {}x{} pixels, {} code pixels, {} harts, {} memory words",
        OS_IMAGE_SOURCE,
        OS_IMAGE.len(),
        image.width,
        image.height(),
        image.code.len(),
        image.harts,
        image.memory_words
    );

    let (gpu, disk) = enumerate_pci();
    let mut screen = gpu.and_then(|gpu| match Display::new(&gpu) {
        Ok(display) => Some(open_screen(display, &image)),
        Err(error) => {
            kprintln!("display: virtio-gpu init failed ({error:?}); running without a screen");
            None
        }
    });

    let image = with_arenas(image);
    let mut host = KernelHost::new(serial);
    let started = interrupts::uptime_micros();
    let device = screen.as_ref().map(|s| s.display.device());
    let (outcome, traps) = match device.filter(|d| d.borrow().has_3d()) {
        Some(device) => match run_on_virgl(device, &image, &mut host, screen.as_mut()) {
            Ok(done) => done,
            Err(error) => {
                kprintln!("dispatch: virgl executor failed: {error}");
                kprintln!("dispatch: falling back to the pxi CPU interpreter");
                run_on_cpu(&image, &mut host, screen.as_mut(), disk.as_ref())
            }
        },
        None => {
            kprintln!(
                "dispatch: no GPU compute: {} (boot with -device virtio-gpu-gl-pci, \
                 microkernel/boot.sh --gpu)",
                if device.is_some() {
                    "the virtio-gpu has no 3D (VIRTIO_GPU_F_VIRGL)"
                } else {
                    "no virtio-gpu"
                }
            );
            run_on_cpu(&image, &mut host, screen.as_mut(), disk.as_ref())
        }
    };
    let elapsed_ms = (interrupts::uptime_micros() - started) / 1000;
    kprintln!(
        "dispatch: stopped ({:?}) after {} rounds, {} steps, {} batches, {} ms",
        outcome.stop,
        outcome.rounds,
        outcome.steps,
        outcome.batches,
        elapsed_ms
    );
    for trap in traps {
        kprintln!("dispatch: trap: {trap}");
    }
    let code = match outcome.stop {
        Stop::Halted(0) | Stop::AllExited => ExitCode::Success,
        Stop::Halted(_) | Stop::Trapped | Stop::BudgetExhausted => ExitCode::Failure,
    };
    if has_word(EXIT_ON_STOP) {
        qemu::exit(code)
    }
    kprintln!(
        "kernel: idle (the screen stays up; pass `-append {EXIT_ON_STOP}` to exit QEMU instead)"
    );
    qemu::halt_forever()
}

/// Runs the image on the pxi CPU interpreter; returns the outcome and the traps.
fn run_on_cpu(
    image: &Image,
    host: &mut KernelHost,
    screen: Option<&mut Screen>,
    disk: Option<&Function>,
) -> (Outcome, Vec<Trap>) {
    kprintln!("dispatch: running os.pxi on the pxi CPU interpreter");
    let mut executor = CpuExecutor(Machine::new(image, dispatch::limits()));
    if let Some(disk) = disk {
        offer_disk(host, &executor, disk);
    }
    // The interpreter's error type is `Infallible`.
    let Ok(outcome) = dispatch::run(&mut executor, host, screen);
    (outcome, executor.0.traps(image))
}

/// Runs the image on the host GPU through virgl; an error means nothing ran yet or the
/// context died (the caller falls back to the CPU).
fn run_on_virgl(
    device: &'static RefCell<VirtioGpu>,
    image: &Image,
    host: &mut KernelHost,
    screen: Option<&mut Screen>,
) -> Result<(Outcome, Vec<Trap>), VirglError<GpuError>> {
    let shaders = virgl_executor::shaders();
    kprintln!(
        "dispatch: virtio-gpu 3D (virgl): creating the runtime's shaders ({} + {} + {} + {} bytes of TGSI)",
        shaders.run_slice.text.len(),
        shaders.resolve.text.len(),
        shaders.run_vector.text.len(),
        shaders.run_tensor.text.len()
    );
    let started = interrupts::uptime_micros();
    let mut context = virgl::Context::new(virgl_executor::Device(device), &shaders)?;
    let ready_ms = (interrupts::uptime_micros() - started) / 1000;
    measure_round_trip(&mut context)?;
    kprintln!(
        "dispatch: running os.pxi on the host GPU through virgl (shaders ready in {ready_ms} ms)"
    );
    let mut executor = VirglMachine::new(&mut context, image, dispatch::limits())?;
    let outcome = dispatch::run(&mut executor, host, screen)?;
    let harts = executor.read_harts()?;
    Ok((outcome, pxi::machine::traps(image, &harts)))
}

/// Logs the cost of an empty fenced submission (submit → fence → answer), for
/// docs/benchmarks.md: the floor under every batch of rounds on virgl.
fn measure_round_trip(
    context: &mut virgl::Context<virgl_executor::Device>,
) -> Result<(), VirglError<GpuError>> {
    const ROUND_TRIPS: u64 = 100;
    kprintln!("dispatch: virgl: timing {ROUND_TRIPS} empty fenced submissions");
    let started = interrupts::uptime_micros();
    for _ in 0..ROUND_TRIPS {
        virgl::Transport::wait(context.transport()).map_err(VirglError::Transport)?;
    }
    kprintln!(
        "dispatch: virgl submit -> fence round trip {} us (mean of {ROUND_TRIPS}, guest clock)",
        (interrupts::uptime_micros() - started) / ROUND_TRIPS
    );
    Ok(())
}

/// Draws the program and an empty heatmap, and says where they are (tests read this line).
/// An OS image (one with a program directory) without arenas of its own runs with the default
/// large-window and code load arenas (docs/abi.md), so `run PATH.pxi` can load programs from
/// the disk; the screen shows the image as embedded.
fn with_arenas(mut image: Image) -> Image {
    let empty = |(start, end): (u32, u32)| start == end;
    match pxi::program::Directory::of(&image) {
        Some(dir) if empty(dir.data_arena) && empty(dir.code_arena) => {}
        // Not an OS image, or linked with its arenas (`pxi-asm link --memory`).
        _ => return image,
    }
    let memory = image
        .memory_words
        .saturating_add(pxi::program::DEFAULT_DATA_ARENA);
    match pxi::program::reserve(&mut image, memory, pxi::program::DEFAULT_CODE_ARENA) {
        Ok(_) => kprintln!(
            "os.pxi: arenas for loaded programs: {} words of data, {} code pixels",
            pxi::program::DEFAULT_DATA_ARENA,
            pxi::program::DEFAULT_CODE_ARENA
        ),
        Err(error) => kprintln!("os.pxi: no arenas for loaded programs: {error}"),
    }
    image
}

fn open_screen(mut display: Display, image: &Image) -> Screen {
    let view = ProgramView::new(image, display.size());
    view.draw_all(&mut display.canvas());
    if let Err(error) = display.flush() {
        kprintln!("display: flush failed: {error:?}");
    }
    let layout = view.layout();
    let (width, height) = display.size();
    let (image_width, image_height) = view.size();
    kprintln!(
        "display: {width}x{height} B8G8R8A8; program {image_width}x{image_height} at {},{} scale {}; heatmap at {},{}",
        layout.image.0,
        layout.image.1,
        layout.scale,
        layout.heatmap.0,
        layout.heatmap.1
    );
    Screen { display, view }
}

/// Puts the virtio-blk disk in the device table, for the pixel driver. DMA addresses are the
/// physical addresses of the machine's data memory (identity mapped, so its pointer), which
/// must lie below 4 GiB: `SYS_DMA` hands out 32-bit addresses. (Only the CPU interpreter's
/// memory is in RAM; the virgl executor runs without the disk.)
fn offer_disk(host: &mut KernelHost, executor: &CpuExecutor, disk: &Function) {
    let memory = &executor.0.memory;
    let base = memory.as_ptr() as u64;
    if base + 4 * memory.len() as u64 > u64::from(u32::MAX) {
        kprintln!(
            "pci {}: virtio-blk: data memory above 4 GiB; no disk",
            disk.address
        );
        return;
    }
    match PciVirtioBlk::new(ConfigSpace, disk) {
        Some(device) => {
            host.devices.dma_base = base;
            host.devices.add(Box::new(device));
            kprintln!(
                "pci {}: virtio-blk offered to pixel drivers (device 0, DMA base {base:#x})",
                disk.address
            );
        }
        None => kprintln!(
            "pci {}: virtio-blk without usable virtio 1.x capabilities; no disk",
            disk.address
        ),
    }
}

/// Lists every PCI function; returns the virtio-gpu (enabled) and the first virtio-blk.
fn enumerate_pci() -> (Option<Function>, Option<Function>) {
    let config = ConfigSpace;
    let mut gpu = None;
    let mut disk = None;
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
        if VIRTIO_BLK_IDS.contains(&function.id) && disk.is_none() {
            disk = Some(function.clone());
        }
    });
    (enable_gpu(config, gpu), disk)
}

/// The virtio-gpu, enabled, if it is there and its BARs are mapped.
fn enable_gpu(config: ConfigSpace, gpu: Option<Function>) -> Option<Function> {
    let Some(gpu) = gpu else {
        kprintln!("pci: no virtio-gpu (1af4:1050); running without a screen");
        return None;
    };
    if let Err(bar) = gpu.check_bars_mapped() {
        kprintln!(
            "pci {}: virtio-gpu {bar} lies outside the identity map; running without a screen",
            gpu.address
        );
        return None;
    }
    config.enable(gpu.address);
    kprintln!(
        "pci {}: virtio-gpu enabled (io | memory | bus master), BARs identity mapped",
        gpu.address
    );
    Some(gpu)
}
