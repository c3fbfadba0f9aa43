//! Helpers shared by the GPU runtime's tests: run an image
//! on the CPU interpreter and on the GPU under the same limits and host.

use pxi::host::CaptureHost;
use pxi::run::{Outcome, drive};
use pxi::{Image, Limits, Machine};

use crate::{Gpu, GpuError, GpuMachine, GpuOptions, MachineState};

/// Everything observable about one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRecord {
    /// How it stopped.
    pub outcome: Outcome,
    /// Final state, every word.
    pub state: MachineState,
    /// Console output.
    pub output: Vec<u8>,
}

/// Run on the CPU reference interpreter.
pub fn run_cpu(image: &Image, limits: Limits, rounds_per_batch: u32, input: &[u8]) -> RunRecord {
    run_cpu_with(
        image,
        limits,
        rounds_per_batch,
        CaptureHost::with_input(input),
    )
}

/// Run on the CPU reference interpreter with `host` (its input, its devices).
pub fn run_cpu_with(
    image: &Image,
    limits: Limits,
    rounds_per_batch: u32,
    mut host: CaptureHost,
) -> RunRecord {
    let mut machine = Machine::new(image, limits);
    let outcome = match drive(&mut machine, &mut host, rounds_per_batch, |_, _| {}) {
        Ok(outcome) => outcome,
        Err(never) => match never {},
    };
    RunRecord {
        outcome,
        state: MachineState::of(&machine),
        output: host.output,
    }
}

/// Run on the GPU runtime.
pub fn run_gpu(
    gpu: &Gpu,
    image: &Image,
    limits: Limits,
    rounds_per_batch: u32,
    input: &[u8],
) -> Result<RunRecord, GpuError> {
    let host = CaptureHost::with_input(input);
    run_gpu_with(gpu, image, limits, rounds_per_batch, host)
}

/// Run on the GPU runtime with `host` (its input, its devices).
pub fn run_gpu_with(
    gpu: &Gpu,
    image: &Image,
    limits: Limits,
    rounds_per_batch: u32,
    host: CaptureHost,
) -> Result<RunRecord, GpuError> {
    run_gpu_mode(
        gpu,
        image,
        limits,
        rounds_per_batch,
        host,
        Mode::Interpreted,
    )
}

/// How the GPU runtime runs a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The WGSL interpreter only.
    Interpreted,
    /// Compiled to WGSL first ([`GpuMachine::compile`]).
    Compiled,
}

impl Mode {
    /// Whether the tests run *everything* in compiled mode too
    /// (`PXOS_COMPILED=all`: every generated program and every os session;
    /// hours on lavapipe, where each program compiles a shader). By default
    /// the compiled mode runs a sample (docs/compiler.md).
    pub fn compile_everything() -> bool {
        std::env::var("PXOS_COMPILED").is_ok_and(|v| v == "all")
    }
}

/// Run on the GPU runtime in `mode` with `host`.
pub fn run_gpu_mode(
    gpu: &Gpu,
    image: &Image,
    limits: Limits,
    rounds_per_batch: u32,
    mut host: CaptureHost,
    mode: Mode,
) -> Result<RunRecord, GpuError> {
    let mut machine = GpuMachine::new(gpu, image, limits, GpuOptions::default())?;
    if mode == Mode::Compiled {
        machine.compile()?;
    }
    let outcome = drive(&mut machine, &mut host, rounds_per_batch, |_, _| {})?;
    Ok(RunRecord {
        outcome,
        state: machine.read_state()?,
        output: host.output,
    })
}
