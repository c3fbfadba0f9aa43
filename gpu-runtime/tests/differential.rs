//! CPU interpreter vs GPU runtime on generated programs: identical memory,
//! registers, mailbox, control block, execution counts, output and stop reason.

mod support;

use gpu_runtime::Gpu;
use gpu_runtime::testing::{Mode, run_cpu, run_gpu_mode};
use pxi::TrapKind;
use pxi::host::CaptureHost;
use pxi::state::HART_WORDS;
use pxi::state::{CAUSE_ECALL, CAUSE_TIMER};
use support::generator::{Flavour, generate, mask_atomic_scratch, run_limits, user_traps};

/// Programs per run; `PXOS_DIFF_PROGRAMS` raises it for longer fuzzing.
fn program_count() -> u64 {
    std::env::var("PXOS_DIFF_PROGRAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

#[test]
fn generated_programs_match() {
    generated_programs_match_in(Mode::Interpreted, 1);
}

/// The compiled mode on every 10th program (each compiles a shader, about 3 s
/// on lavapipe: `PXOS_COMPILED=all` runs every one, `PXOS_DIFF_PROGRAMS`
/// raises the count, `PXOS_DIFF_SEED` picks one).
#[test]
fn generated_programs_match_compiled() {
    let every = if Mode::compile_everything() { 1 } else { 10 };
    generated_programs_match_in(Mode::Compiled, every);
}

fn generated_programs_match_in(mode: Mode, every: u64) {
    let gpu = Gpu::new().expect("a GPU adapter (lavapipe in CI)");
    eprintln!("adapter: {}", gpu.adapter_name());
    let mut stops = std::collections::BTreeMap::new();
    let mut user_causes = std::collections::BTreeMap::new();
    // `PXOS_DIFF_SEED=n` replays one program (with its disassembly).
    let only: Option<u64> = std::env::var("PXOS_DIFF_SEED")
        .ok()
        .and_then(|v| v.parse().ok());
    let seeds: Vec<u64> = match only {
        Some(seed) => vec![seed],
        None => (0..program_count()).step_by(every as usize).collect(),
    };
    for &seed in &seeds {
        let program = generate(seed);
        if only.is_some() {
            eprintln!("{}", pxi_asm::disassemble(&program.image, None));
        }
        let (limits, rounds_per_batch) = run_limits(seed);
        let mut cpu = run_cpu(&program.image, limits, rounds_per_batch, b"");
        let host = CaptureHost::with_input(b"");
        let mut gpu_run = run_gpu_mode(&gpu, &program.image, limits, rounds_per_batch, host, mode)
            .unwrap_or_else(|e| panic!("seed {seed} ({mode:?}): GPU run failed: {e}"));
        if program.uses_atomics {
            mask_atomic_scratch(&mut cpu.state.harts);
            mask_atomic_scratch(&mut gpu_run.state.harts);
        }
        if cpu != gpu_run {
            if only.is_some() {
                for (i, (c, g)) in cpu
                    .state
                    .memory
                    .iter()
                    .zip(&gpu_run.state.memory)
                    .enumerate()
                {
                    if c != g {
                        eprintln!("memory[{i}]: cpu {c:#x} gpu {g:#x}");
                    }
                }
            }
            let first_diff = |a: &[u32], b: &[u32]| a.iter().zip(b).position(|(x, y)| x != y);
            panic!(
                "seed {seed} ({mode:?}, {limits:?}, {rounds_per_batch} rounds/batch) differs:\n\
                 outcome cpu {:?}\n        gpu {:?}\n\
                 output equal: {}\nfirst differing memory word: {:?}\nfirst differing hart word: {:?}\n\
                 control cpu {:?}\n        gpu {:?}\nfirst differing count: {:?}",
                cpu.outcome,
                gpu_run.outcome,
                cpu.output == gpu_run.output,
                first_diff(&cpu.state.memory, &gpu_run.state.memory),
                first_diff(&cpu.state.harts, &gpu_run.state.harts)
                    .map(|i| (i / HART_WORDS, i % HART_WORDS)),
                cpu.state.control,
                gpu_run.state.control,
                first_diff(&cpu.state.counts, &gpu_run.state.counts),
            );
        }
        *stops.entry(format!("{:?}", cpu.outcome.stop)).or_insert(0) += 1;
        if program.flavour == Flavour::User {
            for cause in 1..=CAUSE_TIMER {
                *user_causes.entry(cause).or_insert(0) += user_traps(&cpu.state.memory, cause);
            }
        }
    }
    eprintln!("stop reasons over {} programs: {stops:?}", seeds.len());
    eprintln!("user-mode traps by cause: {user_causes:?}");
    if only.is_some() || every > 1 {
        return;
    }
    // User mode must meet every way into the kernel the generator aims at.
    let causes = [
        CAUSE_ECALL,
        CAUSE_TIMER,
        TrapKind::Privileged as u32,
        TrapKind::MemoryOutOfBounds as u32,
        TrapKind::JumpOutOfCode as u32,
        TrapKind::DivisionByZero as u32,
    ];
    for cause in causes {
        assert!(
            user_causes.get(&cause).copied().unwrap_or(0) > 0,
            "no generated user program trapped with cause {cause}: {user_causes:?}"
        );
    }
    // The generator must exercise every way of stopping, or the test proves less than it claims.
    for reason in ["AllExited", "Trapped", "BudgetExhausted"] {
        assert!(
            stops.keys().any(|k| k.starts_with(reason)),
            "no generated program ended with {reason}: {stops:?}"
        );
    }
}

/// The Tensor flavour must reach every tensor trap and also finish cleanly,
/// or the comparison above proves less than it claims (CPU only: cheap).
#[test]
fn tensor_programs_reach_results_and_traps() {
    use pxi::state::{H_AUX, H_STATUS, HART_TRAPPED, TrapKind};
    let mut traps = std::collections::BTreeSet::new();
    let mut exited = 0;
    for seed in 0..700u64 {
        let program = generate(seed);
        if program.flavour != support::generator::Flavour::Tensor {
            continue;
        }
        let limits = pxi::Limits {
            slice_steps: 1000,
            max_steps: 200_000,
        };
        let run = run_cpu(&program.image, limits, 4, b"");
        if run.outcome.stop == pxi::run::Stop::AllExited {
            exited += 1;
        }
        for hart in run.state.harts.chunks_exact(HART_WORDS) {
            if hart[H_STATUS] == HART_TRAPPED {
                traps.insert(format!("{:?}", TrapKind::from_u32(hart[H_AUX])));
            }
        }
    }
    assert!(exited >= 20, "only {exited} tensor programs ran to the end");
    for kind in ["TensorShape", "MemoryOutOfBounds", "VectorOverlap"] {
        assert!(
            traps.iter().any(|t| t.contains(kind)),
            "no tensor program trapped with {kind}: {traps:?}"
        );
    }
}
