//! Random instruction streams as user processes of pxOS 0.3, next to a
//! canary process (docs/abi.md, "Bad and hostile programs"): whatever they
//! do, the kernel's constant memory and the code stay untouched, the canary
//! computes its result undisturbed, and the shell keeps answering.
//! `PXOS_OS_FUZZ=n` sets the number of programs on the CPU interpreter
//! (default 10,000); a twentieth of them run on the GPU runtime.

mod support;

use gpu_runtime::Gpu;
use pxi::isa::{Form, Instruction, TABLE};
use pxi::{Image, Limits};
use support::generator::Rng;
use support::session::{Script, run_script};

/// Programs linked into one OS image (the directory holds 32; 17 are built in).
const PER_SESSION: usize = 14;
/// Where the kernel's mutable state ends and the process windows begin
/// (`.org 8192` / `slots` in examples/os.pxs); the windows end at 40960.
const KERNEL_STATE_END: usize = 8192;
const WINDOWS_END: usize = 8192 + 16 * 2048;
const CANARY_ROUNDS: u32 = 400;

const CANARY: &str = "
.include \"examples/lib/osabi.pxs\"
.data
table: .word 3, 1, 4, 1, 5, 9, 2, 6
.code
main:                       ; r7 = Σ over CANARY_ROUNDS of a mix of its own table
    li r7, 0
    li r6, 0
canary_loop:
    li r1, table
    li r2, 8
    vsum r3, r1, r2
    mul r4, r3, r6
    xor r7, r7, r4
    addi r7, r7, 1
    li r0, OS_YIELD
    ecall
    addi r6, r6, 1
    li r0, ROUNDS
    cmp r6, r0
    jltu canary_loop
    li r1, line             ; the whole line in one write: no interleaving
    li r2, 8                ; the digits go after the 8-byte prefix
    li r3, 10
    li r4, 0                ; digits pushed
canary_digits:
    remu r5, r7, r3
    push r5
    addi r4, r4, 1
    divu r7, r7, r3
    li r5, 0
    cmp r7, r5
    jne canary_digits
canary_put:
    pop r5
    addi r5, r5, '0'
    call put_byte
    addi r4, r4, -1
    li r6, 0
    cmp r4, r6
    jne canary_put
    li r5, 10               ; newline
    call put_byte
    call u_puts
    li r0, 0
    ret
put_byte:                   ; byte r5 at offset r2 of the packed line r1; r2 += 1
    shri r6, r2, 2
    add r6, r6, r1
    ld r8, r6, 0
    andi r9, r2, 3
    shli r9, r9, 3
    shl r10, r5, r9
    or r8, r8, r10
    st r8, r6, 0
    addi r2, r2, 1
    ret
.data
line: .string \"canary: \"
      .space 4
";

fn canary_result() -> u32 {
    let sum = 3 + 1 + 4 + 1 + 5 + 9 + 2 + 6u32;
    (0..CANARY_ROUNDS).fold(0u32, |acc, i| (acc ^ sum.wrapping_mul(i)).wrapping_add(1))
}

/// A random, mostly valid instruction stream with a little data.
fn random_program(rng: &mut Rng) -> Image {
    let len = 4 + rng.below(120);
    let mut code = Vec::new();
    while (code.len() as u32) < len {
        if rng.chance(3) {
            code.push(rng.next() as u32);
            continue;
        }
        let row = &TABLE[rng.below(TABLE.len() as u32) as usize];
        let reg = |rng: &mut Rng| rng.below(16) as u8;
        let (a, b) = (reg(rng), reg(rng));
        let c = match row.form {
            Form::ABU | Form::ABS => rng.below(256) as u8,
            _ => reg(rng),
        };
        let word = match row.form {
            Form::ABCD => reg(rng) as u32,
            _ if rng.chance(50) => rng.below(len + 8),
            _ if rng.chance(50) => rng.below(2048),
            _ => rng.next() as u32,
        };
        let mask = row.form.register_mask();
        let used = |bit, v| {
            if mask & bit != 0 || matches!(row.form, Form::ABU | Form::ABS) && bit == 4 {
                v
            } else {
                0
            }
        };
        let inst = Instruction::new(
            row.op,
            used(1, a),
            used(2, b),
            used(4, c),
            if row.form.len() == 2 { word } else { 0 },
        );
        let (px, n) = inst.encode();
        code.extend_from_slice(&px[..n]);
        if rng.chance(10) {
            // An OS call with a random number and arguments.
            for (r, v) in [
                (0u8, rng.below(24)),
                (1, rng.below(4096)),
                (2, rng.below(300)),
            ] {
                code.extend_from_slice(&Instruction::new(pxi::Op::Li, r, 0, 0, v).encode().0);
            }
            code.push(Instruction::new(pxi::Op::Ecall, 0, 0, 0, 0).encode().0[0]);
        }
    }
    let data: Vec<u32> = (0..rng.below(64)).map(|_| rng.next() as u32).collect();
    Image {
        width: 64,
        entry: 0,
        code,
        memory_words: data.len() as u32 + rng.below(256),
        harts: 1,
        segments: vec![pxi::image::Segment {
            addr: 0,
            words: data,
        }],
    }
}

/// The kernel's data address of `label` (for diagnosing a stuck session).
fn kernel_symbol(map: &pxi_asm::SourceMap, label: &str) -> usize {
    map.symbols
        .iter()
        .find(|s| s.name == label)
        .map_or(0, |s| s.addr as usize)
}

fn os_with(programs: &[Image]) -> (Image, pxi_asm::SourceMap) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let assembly = pxi_asm::assemble_file(&std::path::Path::new(root).join("examples/os.pxs"))
        .unwrap_or_else(|e| panic!("{e}"));
    let (mut os, map) = (assembly.image, assembly.map);
    let canary_source = CANARY.replace("ROUNDS", &CANARY_ROUNDS.to_string());
    let canary = pxi_asm::assemble_source(&format!("{root}/canary.pxs"), &canary_source)
        .unwrap_or_else(|e| panic!("{e}"))
        .image;
    pxi::program::link(&mut os, "canary", &canary).expect("link the canary");
    for (i, program) in programs.iter().enumerate() {
        pxi::program::link(&mut os, &format!("f{i}"), program).expect("link a fuzz program");
    }
    (os, map)
}

/// Run `programs` in one session; panic with the seed on any violation.
fn session(gpu: Option<&Gpu>, seed: u64, programs: &[Image]) {
    let (image, map) = os_with(programs);
    let mut script = Script::new().step("run canary &\n", "pxos$ ");
    for i in 0..programs.len() {
        // The program may read the console (it is in the foreground): the
        // marker is typed again after each Ctrl-C until the shell echoes it.
        script = script.step(&format!("run f{i}\n"), "").step_or_interrupt(
            &format!("echo mark{i}\n"),
            &format!("mark{i}\n"),
            25,
        );
    }
    let script = script.step("echo alive\n", "alive\n").wait_for("canary: ");
    let limits = Limits {
        slice_steps: 1024,
        max_steps: 400_000_000,
    };
    let end = run_script(&image, gpu, limits, &script);
    let where_ = format!(
        "seed {seed} on {}",
        if gpu.is_some() { "GPU" } else { "CPU" }
    );
    if let Some(until) = &end.stuck {
        let procs: Vec<String> = (1..16)
            .map(|pid| {
                let rec = &end.memory[kernel_symbol(&map, "procs") + pid * 128..][..128];
                format!(
                    "pid {pid}: state {} flags {} prog {} wait {} pc {}",
                    rec[51], rec[52], rec[58], rec[56], rec[16]
                )
            })
            .collect();
        panic!(
            "{where_}: stuck waiting for {until:?}; con_waiter {} con_fg {}\n{}\n{}",
            end.memory[kernel_symbol(&map, "con_waiter")],
            end.memory[kernel_symbol(&map, "con_fg")],
            procs.join("\n"),
            end.output
        );
    }
    assert_eq!(end.stop, "Halted(0) []", "{where_}\n{}", end.output);
    assert!(
        end.output.contains("alive"),
        "{where_}: the shell stopped answering\n{}",
        end.output
    );
    let canary = format!("canary: {}\n", canary_result());
    assert_eq!(
        end.output.matches(&canary).count(),
        1,
        "{where_}: canary\n{}",
        end.output
    );
    // Everything past the process windows is the kernel's constant data, the
    // program directory and the programs' initial data: unchanged.
    for seg in &image.segments {
        for (i, &word) in seg.words.iter().enumerate() {
            let addr = seg.addr as usize + i;
            if addr >= WINDOWS_END || addr < KERNEL_STATE_END && seg.addr as usize >= WINDOWS_END {
                assert_eq!(
                    end.memory[addr], word,
                    "{where_}: kernel word {addr} changed"
                );
            }
        }
    }
}

fn run(gpu: Option<&Gpu>, programs: u64, seed_base: u64) {
    let mut rng = Rng::new(seed_base);
    let sessions = programs.div_ceil(PER_SESSION as u64);
    for _ in 0..sessions {
        let seed = rng.next();
        let mut prng = Rng::new(seed);
        let batch: Vec<Image> = (0..PER_SESSION)
            .map(|_| random_program(&mut prng))
            .collect();
        session(gpu, seed, &batch);
    }
    eprintln!(
        "{} random programs in {sessions} sessions",
        sessions * PER_SESSION as u64
    );
}

fn cpu_programs() -> u64 {
    std::env::var("PXOS_OS_FUZZ")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

#[test]
fn random_programs_cannot_hurt_the_kernel_cpu() {
    run(None, cpu_programs(), 0x0005_F022)
}

#[test]
fn random_programs_cannot_hurt_the_kernel_gpu() {
    let gpu = Gpu::new().expect("a GPU adapter (lavapipe in CI)");
    eprintln!("adapter: {}", gpu.adapter_name());
    run(Some(&gpu), cpu_programs() / 20, 0x0006_B022)
}
