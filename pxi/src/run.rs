//! The driver loop shared by every executor and host: run a batch of rounds,
//! service the mailbox, repeat until the machine stops.

use alloc::vec::Vec;

use crate::devices::DmaMemory;
use crate::loader::{self, Target};
use crate::machine::Machine;
use crate::mailbox::{self, Host};
use crate::state::MachineStatus;

/// Something that runs rounds of a PXI machine: the CPU interpreter, the GPU
/// runtime, or the microkernel's executor.
pub trait Executor {
    /// Executor failure (not a trap of the program: those are machine state).
    type Error;

    /// Run up to `rounds` rounds, stopping early if the machine stops, and
    /// make the mailbox and control block visible to the host.
    fn run_batch(&mut self, rounds: u32) -> Result<BatchReport, Self::Error>;

    /// The host's view of the mailbox words after the last batch.
    fn mailbox(&mut self) -> &mut [u32];

    /// Publish host changes to the mailbox (replies) before the next batch.
    fn commit_mailbox(&mut self) -> Result<(), Self::Error>;

    /// Data memory size in words (to bounds-check syscall arguments).
    fn memory_words(&self) -> u32;

    /// Executions per code pixel so far (for `SYS_HEAT`, heatmaps).
    fn counts(&mut self) -> Result<Vec<u32>, Self::Error>;

    /// Every hart's words (`pxi::state` layout), for trap reports and exit codes.
    fn harts(&mut self) -> Result<Vec<u32>, Self::Error>;

    /// Copy data words at word `addr` into `out` (device DMA, between batches).
    /// False when the range is outside data memory.
    fn read_memory(&mut self, addr: u32, out: &mut [u32]) -> Result<bool, Self::Error>;

    /// Write `words` to data memory at word `addr` (device DMA, between
    /// batches). False when the range is outside data memory.
    fn write_memory(&mut self, addr: u32, words: &[u32]) -> Result<bool, Self::Error>;

    /// Write code pixels at code address `addr` between batches (code loaded
    /// at run time into the code load arena, `SYS_LOAD`); the executor
    /// re-derives what it keeps from the code (decoded or predecoded tables,
    /// see [`code_patch`]). Execution counts keep counting per pixel. False
    /// when the range is outside code.
    fn write_code(&mut self, addr: u32, pixels: &[u32]) -> Result<bool, Self::Error>;
}

/// The parts of a GPU code buffer laid out as `[code | predecoded pixels |
/// info]` (each table `code.len()` words, `pxi::isa::predecode`) that change
/// when `pixels` are written at `addr` of `code`: `(word offset, words)` of
/// each table. `code` is updated. The pixel before `addr` is predecoded again
/// too (`pixels` may hold its extension word). `None` outside the code.
pub fn code_patch(code: &mut [u32], addr: u32, pixels: &[u32]) -> Option<[(usize, Vec<u32>); 3]> {
    let (start, n) = (addr as usize, code.len());
    let end = start.checked_add(pixels.len()).filter(|&end| end <= n)?;
    code[start..end].copy_from_slice(pixels);
    let lo = start.saturating_sub(1);
    // One pixel past the range, so the last one decodes with its real successor.
    let predecoded = crate::isa::predecode(&code[lo..(end + 1).min(n)]);
    let keep = end - lo;
    Some([
        (lo, code[lo..end].to_vec()),
        (n + lo, predecoded.pixels[..keep].to_vec()),
        (2 * n + lo, predecoded.info[..keep].to_vec()),
    ])
}

/// An executor's data memory as devices and the loader see it; the first
/// executor error is kept for the driver loop to return.
struct ExecutorMemory<'x, X: Executor> {
    executor: &'x mut X,
    error: Option<X::Error>,
}

impl<X: Executor> DmaMemory for ExecutorMemory<'_, X> {
    fn read(&mut self, addr: u32, out: &mut [u32]) -> bool {
        match self.executor.read_memory(addr, out) {
            Ok(inside) => inside,
            Err(e) => {
                self.error.get_or_insert(e);
                false
            }
        }
    }

    fn write(&mut self, addr: u32, words: &[u32]) -> bool {
        match self.executor.write_memory(addr, words) {
            Ok(inside) => inside,
            Err(e) => {
                self.error.get_or_insert(e);
                false
            }
        }
    }
}

impl<X: Executor> Target for ExecutorMemory<'_, X> {
    fn read(&mut self, addr: u32, out: &mut [u32]) -> bool {
        DmaMemory::read(self, addr, out)
    }

    fn write(&mut self, addr: u32, words: &[u32]) -> bool {
        DmaMemory::write(self, addr, words)
    }

    fn write_code(&mut self, addr: u32, pixels: &[u32]) -> bool {
        match self.executor.write_code(addr, pixels) {
            Ok(inside) => inside,
            Err(e) => {
                self.error.get_or_insert(e);
                false
            }
        }
    }
}

/// Answer every posted `SYS_LOAD` (the decode service needs the executor's
/// memory and code, which `mailbox::service` does not see). Returns how many.
fn run_loads<X: Executor>(executor: &mut X) -> Result<u32, X::Error> {
    let mut replied = 0;
    for i in 0..mailbox::SLOTS {
        let slot = &executor.mailbox()[i * mailbox::SLOT_WORDS..][..mailbox::W_PAYLOAD];
        if slot[mailbox::W_STATE] != mailbox::REQUEST
            || slot[mailbox::W_CALL] != mailbox::Call::Load as u32
        {
            continue;
        }
        let (block, mode) = (slot[mailbox::W_ARG0], slot[mailbox::W_ARG1]);
        let mut memory = ExecutorMemory {
            executor: &mut *executor,
            error: None,
        };
        let result = loader::load(&mut memory, block, mode);
        if let Some(e) = memory.error {
            return Err(e);
        }
        let slot = &mut executor.mailbox()[i * mailbox::SLOT_WORDS..];
        slot[mailbox::W_RESULT] = result;
        slot[mailbox::W_STATE] = mailbox::REPLIED;
        replied += 1;
    }
    Ok(replied)
}

/// Copy the bytes of the `SYS_READ` replies in `filled` (see
/// [`mailbox::Serviced::filled`]) into data memory, before the harts run again.
fn deliver_input<X: Executor>(executor: &mut X, filled: u32) -> Result<(), X::Error> {
    for i in (0..mailbox::SLOTS).filter(|i| filled & (1 << i) != 0) {
        let mut buf = [0u32; mailbox::PAYLOAD_WORDS];
        let (addr, words) = mailbox::reply_words(executor.mailbox(), i);
        let n = words.len();
        buf[..n].copy_from_slice(words);
        // `service` checked the range against memory_words: the write cannot miss.
        executor.write_memory(addr, &buf[..n])?;
    }
    Ok(())
}

/// One pass of [`mailbox::service`] over the executor's mailbox, with the execution counts
/// when a request wants them and the `SYS_READ` bytes delivered.
fn service<X: Executor>(
    executor: &mut X,
    host: &mut impl Host,
) -> Result<mailbox::Serviced, X::Error> {
    let memory_words = executor.memory_words();
    let counts = if mailbox::wants_counts(executor.mailbox()) {
        Some(executor.counts()?)
    } else {
        None
    };
    let done = mailbox::service(executor.mailbox(), memory_words, counts.as_deref(), host);
    deliver_input(executor, done.filled)?;
    Ok(done)
}

/// Let devices notified during the last service do their DMA; whether any did.
fn run_devices<X: Executor>(executor: &mut X, host: &mut impl Host) -> Result<bool, X::Error> {
    let memory_words = executor.memory_words();
    let Some(devices) = host.devices().filter(|d| d.wants_dma()) else {
        return Ok(false);
    };
    let mut memory = ExecutorMemory {
        executor,
        error: None,
    };
    devices.run_dma(&mut memory, memory_words);
    memory.error.map_or(Ok(true), Err)
}

/// Every word of a machine's state, as the CPU interpreter keeps it: what executors read back
/// to compare with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineState {
    /// Data memory.
    pub memory: Vec<u32>,
    /// Hart words.
    pub harts: Vec<u32>,
    /// Mailbox words.
    pub mailbox: Vec<u32>,
    /// Control block.
    pub control: Vec<u32>,
    /// Executions per code pixel.
    pub counts: Vec<u32>,
}

impl MachineState {
    /// The state of a CPU interpreter machine.
    pub fn of(machine: &Machine) -> MachineState {
        MachineState {
            memory: machine.memory.clone(),
            harts: machine.harts.clone(),
            mailbox: machine.mailbox.clone(),
            control: machine.control.to_vec(),
            counts: machine.counts.clone(),
        }
    }
}

/// Where the machine stands after a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchReport {
    /// Machine status.
    pub status: MachineStatus,
    /// Rounds completed so far.
    pub rounds: u32,
    /// Instructions executed so far.
    pub steps: u64,
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// A hart asked the host to halt the machine with this status.
    Halted(u32),
    /// Every hart exited.
    AllExited,
    /// A hart trapped; inspect the harts for details.
    Trapped,
    /// The step budget ran out.
    BudgetExhausted,
}

/// The result of [`drive`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Why it stopped.
    pub stop: Stop,
    /// Rounds run.
    pub rounds: u32,
    /// Instructions executed.
    pub steps: u64,
    /// Batches run (each followed by one mailbox service).
    pub batches: u32,
}

/// Run `executor` to completion, servicing its mailbox with `host` after
/// every batch of `rounds_per_batch` rounds. `on_batch` sees every report
/// (progress display, counters snapshots).
pub fn drive<X: Executor>(
    executor: &mut X,
    host: &mut impl Host,
    rounds_per_batch: u32,
    mut on_batch: impl FnMut(&mut X, &BatchReport),
) -> Result<Outcome, X::Error> {
    let mut batches = 0;
    loop {
        let report = executor.run_batch(rounds_per_batch.max(1))?;
        batches += 1;
        on_batch(executor, &report);
        let mut done = service(executor, host)?;
        if run_devices(executor, host)? && done.waiting > 0 && done.halt.is_none() {
            // A device that just did its work may complete a request waiting for it
            // (`SYS_DEVKICK`): answer it now rather than after another batch.
            done = done.then(service(executor, host)?);
        }
        if done.halt.is_none() {
            done.replied += run_loads(executor)?;
        }
        if done.replied + done.freed > 0 {
            executor.commit_mailbox()?;
        }
        let stop = match (done.halt, report.status) {
            (Some(code), _) => Some(Stop::Halted(code)),
            (None, MachineStatus::Running) => None,
            (None, MachineStatus::AllExited) => Some(Stop::AllExited),
            (None, MachineStatus::Trapped) => Some(Stop::Trapped),
            (None, MachineStatus::BudgetExhausted) => Some(Stop::BudgetExhausted),
        };
        if let Some(stop) = stop {
            return Ok(Outcome {
                stop,
                rounds: report.rounds,
                steps: report.steps,
                batches,
            });
        }
        if done.waiting > 0 && done.replied + done.freed == 0 {
            host.idle();
        }
    }
}

impl Executor for Machine {
    type Error = core::convert::Infallible;

    fn run_batch(&mut self, rounds: u32) -> Result<BatchReport, Self::Error> {
        let status = self.run_rounds(rounds);
        Ok(BatchReport {
            status,
            rounds: self.control[crate::state::C_ROUND],
            steps: self.steps(),
        })
    }

    fn mailbox(&mut self) -> &mut [u32] {
        &mut self.mailbox
    }

    fn commit_mailbox(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }

    fn memory_words(&self) -> u32 {
        self.memory.len() as u32
    }

    fn counts(&mut self) -> Result<Vec<u32>, Self::Error> {
        Ok(self.counts.clone())
    }

    fn harts(&mut self) -> Result<Vec<u32>, Self::Error> {
        Ok(self.harts.clone())
    }

    fn read_memory(&mut self, addr: u32, out: &mut [u32]) -> Result<bool, Self::Error> {
        Ok(self.memory.read(addr, out))
    }

    fn write_memory(&mut self, addr: u32, words: &[u32]) -> Result<bool, Self::Error> {
        Ok(self.memory.write(addr, words))
    }

    fn write_code(&mut self, addr: u32, pixels: &[u32]) -> Result<bool, Self::Error> {
        Ok(Machine::write_code(self, addr, pixels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::{Op, pixel, predecode};
    use crate::{Image, Limits};

    /// Every patch equals the same words of a whole predecode of the patched
    /// code, including the pixel before (an extension word may change its
    /// meaning) and a truncated last instruction; the interpreter decodes the
    /// same.
    #[test]
    fn code_patches_match_a_whole_predecode() {
        let li = pixel(Op::Li as u8, 1, 0, 0);
        let add = pixel(Op::Add as u8, 1, 2, 3);
        let bad = pixel(0xEE, 0, 0, 0);
        let base = [add, li, 5, add, li, 9, bad, add];
        for addr in 0..base.len() {
            for len in 0..=base.len() - addr {
                for fill in [li, add, 7] {
                    let mut code = base.to_vec();
                    let pixels = alloc::vec![fill; len];
                    let tables = code_patch(&mut code, addr as u32, &pixels).unwrap();
                    let whole = predecode(&code);
                    let n = code.len();
                    let all: Vec<u32> = code
                        .iter()
                        .chain(&whole.pixels)
                        .chain(&whole.info)
                        .copied()
                        .collect();
                    for (offset, words) in &tables {
                        assert_eq!(&all[*offset..*offset + words.len()], &words[..]);
                    }
                    assert_eq!(tables[0].0, addr.saturating_sub(1));
                    assert_eq!(tables[1].0, n + addr.saturating_sub(1));
                    let image = Image {
                        width: 8,
                        entry: 0,
                        code: base.to_vec(),
                        memory_words: 0,
                        harts: 1,
                        segments: alloc::vec![],
                    };
                    let mut machine = Machine::new(&image, Limits::default());
                    assert!(machine.write_code(addr as u32, &pixels));
                    let fresh = Machine::new(
                        &Image {
                            code: code.clone(),
                            ..image
                        },
                        Limits::default(),
                    );
                    assert_eq!(machine, fresh);
                }
            }
        }
        let mut code = base.to_vec();
        assert!(code_patch(&mut code, 7, &[1, 2]).is_none());
        assert_eq!(code, base, "nothing changes outside the code");
    }
}
