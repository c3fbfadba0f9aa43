//! The compiled mode beyond the differential tests: code rewritten at run
//! time falls back to the interpreter (and the result is what the rewritten
//! code computes), and big programs get their hottest blocks.

use gpu_runtime::{Gpu, GpuMachine, GpuOptions, MachineState};
use pxi::host::CaptureHost;
use pxi::isa::{Instruction, Op};
use pxi::run::{Executor, Stop, drive};
use pxi::{Image, Limits};

const SOURCE: &str = "
.data
out: .word 0
.code
    li r1, 0
    li r2, 0
    li r3, 3000
loop:
    addi r1, r1, 1      ; rewritten to `addi r1, r1, 2` after the first batch
    addi r2, r2, 1
    cmp r2, r3
    jne loop
    li r4, out
    st r1, r4, 0
    exit r0
";

/// Code address of the `addi r1, r1, 1` (after three two-pixel `li`).
const PATCHED: u32 = 6;

const LIMITS: Limits = Limits {
    slice_steps: 1000,
    max_steps: 1_000_000,
};

/// Run one batch of one round, rewrite the loop's first instruction, run
/// to the end; the final state.
fn run_with_rewrite(gpu: &Gpu, image: &Image, compiled: bool) -> MachineState {
    let mut machine = GpuMachine::new(gpu, image, LIMITS, GpuOptions::default()).unwrap();
    if compiled {
        let report = machine.compile().unwrap();
        assert!(report.blocks >= 1, "{report}");
    }
    machine.run_batch(1).unwrap();
    let (pixels, n) = Instruction::new(Op::Addi, 1, 1, 2, 0).encode();
    assert!(machine.write_code(PATCHED, &pixels[..n]).unwrap());
    assert!(
        !machine
            .write_code(image.code.len() as u32, &pixels[..n])
            .unwrap()
    );
    let mut host = CaptureHost::default();
    let outcome = drive(&mut machine, &mut host, 1, |_, _| {}).unwrap();
    assert_eq!(outcome.stop, Stop::AllExited);
    machine.read_state().unwrap()
}

#[test]
fn rewritten_code_runs_interpreted_until_recompiled() {
    let gpu = Gpu::new().expect("a GPU adapter (lavapipe in CI)");
    eprintln!("adapter: {}", gpu.adapter_name());
    let image = pxi_asm::assemble_source("rewrite.pxs", SOURCE)
        .unwrap()
        .image;
    let interpreted = run_with_rewrite(&gpu, &image, false);
    let compiled = run_with_rewrite(&gpu, &image, true);
    assert_eq!(interpreted, compiled);
    // 1000 steps ran before the rewrite: 3 `li`, then 249 passes of the
    // 4-instruction loop and one more `addi r1` (1000 = 3 + 4 × 249 + 1).
    let before = 250;
    assert_eq!(compiled.memory[0], before + 2 * (3000 - before));
    // The rewritten pixel's executions are counted before and after.
    assert_eq!(compiled.counts[PATCHED as usize], 3000);
}
