//! The dispatch loop: runs the PXI image on an executor (the `pxi` CPU interpreter, or the
//! virgl executor on the host GPU) through the same driver loop (`pxi::run::drive`) and mailbox
//! protocol (`pxi::mailbox::service`) that the host runtime uses. The kernel's part is only [`KernelHost`], the devices behind the mailbox, and
//! the periodic heatmap refresh.

use core::cell::RefCell;

use super::gpu::Display;
use super::interrupts;
use super::serial::Com1;
use crate::screen::ProgramView;
use pxi::devices::Devices;
use pxi::mailbox::{Host, Input, Received};
use pxi::run::{self, BatchReport, Executor, Outcome};
use pxi::{Limits, Machine};

/// Rounds between two mailbox services: small, so console I/O feels immediate.
pub const ROUNDS_PER_BATCH: u32 = 8;
/// How often the heatmap is redrawn while the program runs.
pub const HEATMAP_REFRESH_MICROS: u64 = 250_000;
/// Console byte that closes input (Ctrl-D), as on a terminal.
pub const END_OF_INPUT: u8 = 0x04;

/// The mailbox devices on metal: COM1 for the console, the PIT for the clock, `hlt` to wait,
/// and the devices granted to pixel drivers (a virtio-blk disk).
pub struct KernelHost {
    serial: Com1,
    input_closed: bool,
    /// The device table; its DMA base is the physical address of the machine's data memory.
    pub devices: Devices,
}

impl KernelHost {
    pub fn new(serial: Com1) -> Self {
        Self {
            serial,
            input_closed: false,
            devices: Devices::new(0),
        }
    }
}

impl Host for KernelHost {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if byte == b'\n' {
                self.serial.write_byte(b'\r');
            }
            self.serial.write_byte(byte);
        }
    }

    fn clock_us(&mut self) -> u64 {
        interrupts::uptime_micros()
    }

    fn read_byte(&mut self) -> Input {
        if self.input_closed {
            return Input::Eof;
        }
        match self.serial.try_read_byte() {
            Some(END_OF_INPUT) => {
                self.input_closed = true;
                Input::Eof
            }
            Some(byte) => {
                let byte = crate::console::input_byte(byte);
                for &echoed in crate::console::echo(byte) {
                    self.serial.write_byte(echoed);
                }
                Input::Byte(byte)
            }
            None => Input::NotYet,
        }
    }

    fn idle(&mut self) {
        interrupts::wait_for_interrupt();
    }

    fn devices(&mut self) -> Option<&mut Devices> {
        Some(&mut self.devices)
    }
}

/// The pxi CPU interpreter as the kernel's executor. It only delegates to `Machine`; it exists
/// so that the interpreter stays out of line and the dispatch core (drive loop, mailbox
/// service, devices) can be measured on its own.
pub struct CpuExecutor(pub Machine);

impl Executor for CpuExecutor {
    type Error = core::convert::Infallible;

    #[inline(never)]
    fn run_batch(&mut self, rounds: u32) -> Result<BatchReport, Self::Error> {
        self.0.run_batch(rounds)
    }

    fn mailbox(&mut self) -> &mut [u32] {
        self.0.mailbox()
    }

    fn commit_mailbox(&mut self) -> Result<(), Self::Error> {
        self.0.commit_mailbox()
    }

    fn memory_words(&self) -> u32 {
        self.0.memory_words()
    }

    fn counts(&mut self) -> Result<alloc::vec::Vec<u32>, Self::Error> {
        self.0.counts()
    }

    fn harts(&mut self) -> Result<alloc::vec::Vec<u32>, Self::Error> {
        self.0.harts()
    }

    fn read_memory(&mut self, addr: u32, out: &mut [u32]) -> Result<bool, Self::Error> {
        self.0.read_memory(addr, out)
    }

    fn write_memory(&mut self, addr: u32, words: &[u32]) -> Result<bool, Self::Error> {
        self.0.write_memory(addr, words)
    }

    fn write_code(&mut self, addr: u32, pixels: &[u32]) -> Result<bool, Self::Error> {
        Ok(self.0.write_code(addr, pixels))
    }
}

/// The screen while a program runs.
pub struct Screen {
    pub display: Display,
    pub view: ProgramView,
}

impl Screen {
    /// Redraws the heatmap from `counts` and shows it; a failed flush is reported, not fatal.
    pub fn show_counts(&mut self, counts: &[u32]) {
        self.view.draw_heatmap(&mut self.display.canvas(), counts);
        if let Err(error) = self.display.flush() {
            crate::kprintln!("display: flush failed: {error:?}");
        }
    }
}

/// The kernel host plus the screen, for `SYS_BLIT`. The screen is shared with the heatmap
/// refresh between batches through a `RefCell`: the driver services the mailbox and calls
/// the batch hook at different times, so the two borrows never overlap.
struct ScreenHost<'h, 'r, 's> {
    host: &'h mut KernelHost,
    screen: &'r RefCell<Option<&'s mut Screen>>,
}

impl Host for ScreenHost<'_, '_, '_> {
    fn write(&mut self, bytes: &[u8]) {
        self.host.write(bytes);
    }

    fn clock_us(&mut self) -> u64 {
        self.host.clock_us()
    }

    fn read_byte(&mut self) -> Input {
        self.host.read_byte()
    }

    fn read_bytes(&mut self, buf: &mut [u8]) -> Received {
        self.host.read_bytes(buf)
    }

    fn idle(&mut self) {
        self.host.idle();
    }

    fn devices(&mut self) -> Option<&mut Devices> {
        self.host.devices()
    }

    /// Draws into the framebuffer; it reaches the screen with the next refresh (≤ 250 ms).
    fn blit(&mut self, x: u32, y: u32, pixels: &[u32]) -> bool {
        match self.screen.borrow_mut().as_deref_mut() {
            Some(screen) => {
                screen
                    .display
                    .canvas()
                    .blit_row(x as usize, y as usize, pixels);
                true
            }
            None => false,
        }
    }
}

/// Runs `executor` until it halts, exits, traps or runs out of budget, servicing the mailbox
/// after every batch and refreshing the heatmap every [`HEATMAP_REFRESH_MICROS`].
#[inline(never)]
pub fn run<X: Executor>(
    executor: &mut X,
    host: &mut KernelHost,
    screen: Option<&mut Screen>,
) -> Result<Outcome, X::Error> {
    let screen = RefCell::new(screen);
    let mut host = ScreenHost {
        host,
        screen: &screen,
    };
    let mut next_refresh = interrupts::uptime_micros() + HEATMAP_REFRESH_MICROS;
    // A failed counts read-back only costs the heatmap a frame; the run goes on.
    let outcome = run::drive(
        executor,
        &mut host,
        ROUNDS_PER_BATCH,
        |executor, _report| {
            let now = interrupts::uptime_micros();
            if let Some(screen) = screen.borrow_mut().as_deref_mut()
                && now >= next_refresh
            {
                if let Ok(counts) = executor.counts() {
                    screen.show_counts(&counts);
                }
                next_refresh = now + HEATMAP_REFRESH_MICROS;
            }
        },
    )?;
    if let Some(screen) = screen.into_inner()
        && let Ok(counts) = executor.counts()
    {
        screen.show_counts(&counts);
    }
    Ok(outcome)
}

/// Limits for the os: no step budget (it is the operating system), default slices.
pub fn limits() -> Limits {
    Limits {
        max_steps: u64::MAX,
        ..Limits::default()
    }
}
