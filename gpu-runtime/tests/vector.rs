//! The vector pass on every alignment: it moves four words at a time where an
//! instruction's ranges share their offset mod 4 and single words elsewhere,
//! so every op runs with every combination of offsets mod 4 and lengths
//! around the lane block (64) and chunk (4096) edges, against the CPU interpreter.

use gpu_runtime::Gpu;
use gpu_runtime::testing::{run_cpu, run_gpu};
use pxi::Limits;
use pxi::isa::{Class, TABLE};

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
