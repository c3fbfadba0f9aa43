//! The vector pass on every alignment: it moves four words at a time where an
//! instruction's ranges share their offset mod 4 and single words elsewhere,
//! so every op runs with every combination of offsets mod 4 and lengths
//! around the lane block (64) and chunk (4096) edges, against the CPU interpreter;
//! and a vector instruction that code written at run time brings runs.

use gpu_runtime::testing::{run_cpu, run_gpu};
use gpu_runtime::{Gpu, GpuMachine, GpuOptions};
use pxi::Limits;
use pxi::host::CaptureHost;
use pxi::isa::{Class, Instruction, Op, TABLE};
use pxi::run::{Executor, Stop, drive};

const X: u32 = 0;
const Y: u32 = 20_000;
const DST: u32 = 40_000;
const RESULTS: u32 = 60_000;

/// One program running `mnemonic` on every (offsets, length) case; results
/// of reductions are stored at RESULTS, element-wise results stay in place.
fn program(mnemonic: &str, cases: &[(u32, u32, u32, u32)]) -> String {
    let mut s = format!(
        "
.memory {memory}
.code
    ; Fill x and y with distinct values (and some equal to 7, for vfind).
    li r1, 0
    li r2, {Y}
    li r3, 0x9E3779B9
    li r4, 7
    li r0, 0
fill:
    mul r5, r1, r3
    shri r6, r5, 28
    cmp r6, r4
    jne keep
    mov r5, r4
keep:
    st r5, r1, 0
    xor r5, r5, r3
    add r6, r1, r2
    st r5, r6, 0
    addi r1, r1, 1
    li r6, {DST}
    cmp r1, r6
    jne fill
    li r13, {RESULTS}
",
        memory = RESULTS + cases.len() as u32 + 16,
    );
    for &(dst, x, y, len) in cases {
        s += &format!(
            "    li r10, {}\n    li r11, {}\n    li r12, {}\n    li r9, {len}\n    li r8, 7\n",
            DST + dst,
            X + x,
            Y + y
        );
        s += &match mnemonic {
            "vfill" => "    vfill r10, r8, r9\n".to_string(),
            "vcopy" => "    vcopy r10, r11, r9\n".to_string(),
            "vsum" => "    vsum r1, r11, r9\n".to_string(),
            "vdot" => "    vdot r1, r11, r12, r9\n".to_string(),
            "vfind" => "    vfind r1, r11, r9, r8\n".to_string(),
            binary => format!("    {binary} r10, r11, r12, r9\n"),
        };
        s += "    st r1, r13, 0\n    addi r13, r13, 1\n";
    }
    s + "    li r0, 0\n    exit r0\n"
}

#[test]
fn vector_ops_match_on_every_alignment() {
    let gpu = Gpu::new().expect("a GPU adapter (lavapipe in CI)");
    eprintln!("adapter: {}", gpu.adapter_name());
    let mut cases = Vec::new();
    for (i, len) in [0u32, 1, 3, 4, 5, 63, 64, 65, 131, 4095, 4096, 4101, 9000]
        .into_iter()
        .enumerate()
    {
        for offsets in 0..64u32 {
            let (dst, x, y) = (offsets & 3, (offsets >> 2) & 3, offsets >> 4);
            // Every length meets every offset pattern across the ops' programs:
            // a quarter of the patterns per length keeps each run short.
            if (offsets + i as u32).is_multiple_of(4) {
                cases.push((dst + 4 * i as u32, x + 8, y + 12, len));
            }
        }
    }
    let limits = Limits {
        slice_steps: 4096,
        max_steps: 10_000_000,
    };
    for row in TABLE.iter().filter(|r| r.class == Class::Vector) {
        let source = program(row.mnemonic, &cases);
        let image = pxi_asm::assemble_source("vector-cases.pxs", &source)
            .unwrap_or_else(|e| panic!("{}: {e}", row.mnemonic))
            .image;
        let cpu = run_cpu(&image, limits, 4, b"");
        let gpu_run = run_gpu(&gpu, &image, limits, 4, b"").unwrap();
        assert_eq!(
            cpu.outcome.stop,
            pxi::run::Stop::AllExited,
            "{}",
            row.mnemonic
        );
        assert!(
            cpu.state == gpu_run.state,
            "{}: GPU state differs from the CPU interpreter",
            row.mnemonic
        );
        assert_eq!(cpu.outcome, gpu_run.outcome, "{}", row.mnemonic);
    }
}

/// A program without vector instructions records no vector pass in its
/// rounds; code written at run time that brings the first one brings the
/// pass back, and the instruction runs.
#[test]
fn a_vector_instruction_written_at_run_time_runs() {
    let gpu = Gpu::new().expect("a GPU adapter (lavapipe in CI)");
    eprintln!("adapter: {}", gpu.adapter_name());
    let source = "
.memory 64
.code
    li r1, 8
    li r2, 42
    li r3, 16
    li r4, 0
    li r5, 100
spin:
    addi r5, r5, -1
    cmp r5, r4
    jne spin
patch:
    add r7, r7, r7      ; rewritten to `vfill r1, r2, r3` after the first round
    exit r4
";
    let assembly = pxi_asm::assemble_source("rewrite-vector.pxs", source).unwrap();
    let patch = assembly
        .map
        .symbols
        .iter()
        .find(|s| s.name == "patch")
        .unwrap()
        .addr;
    let limits = Limits {
        slice_steps: 50,
        max_steps: 100_000,
    };
    let mut machine =
        GpuMachine::new(&gpu, &assembly.image, limits, GpuOptions::default()).unwrap();
    machine.run_batch(1).unwrap();
    let (pixels, n) = Instruction::new(Op::Vfill, 1, 2, 3, 0).encode();
    assert_eq!(n, 1);
    assert!(machine.write_code(patch, &pixels[..n]).unwrap());
    let outcome = drive(&mut machine, &mut CaptureHost::default(), 1, |_, _| {}).unwrap();
    assert_eq!(outcome.stop, Stop::AllExited);
    let memory = machine.read_state().unwrap().memory;
    let filled: Vec<u32> = (0..64)
        .map(|i| if (8..24).contains(&i) { 42 } else { 0 })
        .collect();
    assert_eq!(memory[..64], filled[..]);
}
