//! Loading code at run time (`SYS_LOAD`, `Executor::write_code`): a kernel-mode
//! program hands the host a `.pxi` file's bytes from its memory; the host
//! decodes and validates them and installs the code in the code load arena
//! and the initial data in a window; the program then jumps into the new code.
//! Same output and the same final state, word for word, on the CPU interpreter
//! and the GPU runtime; bad files get their error codes and nothing installed.

use std::sync::OnceLock;

use gpu_runtime::Gpu;
use gpu_runtime::testing::{RunRecord, run_cpu, run_gpu};
use pxi::image::Segment;
use pxi::loader::{BLOCK_WORDS, L_BYTES, L_CODE, L_CODE_MAX, L_DATA, L_DATA_MAX, L_LEN};
use pxi::mailbox::{ERR_CORRUPT, ERR_NOTPXI, ERR_TOOBIG};
use pxi::run::Stop;
use pxi::{Image, Limits};

/// Where the bytes go, and the window for the loaded data.
const BYTES_AT: u32 = 64;
const DATA_AT: u32 = 3072;
const DATA_MAX: u32 = 512;

/// Load (install) the file, print the result; on success jump to the entry.
const LOADER: &str = "
.memory 4096
.code
main:
    li r0, SYS_LOAD
    li r1, 0
    li r2, 1                ; install
    syscall
    mov r5, r0
    mov r1, r0
    li r0, SYS_PUTU
    syscall
    li r1, 0
    cmp r5, r1
    jne failed
    ld r2, r1, 7            ; entry, relative to the code's place
    ld r3, r1, 2
    add r2, r2, r3
    jr r2
failed:
    li r0, SYS_HALT
    li r1, 1
    syscall
";

/// Straight-line code (it runs at whatever place it is loaded in kernel mode).
const LOADED: &str = "
.memory 100
.data
    .word 11, 22, 33
.code
    li r0, SYS_PUTU
    li r1, 4242
    syscall
    li r0, SYS_HALT
    li r1, 7
    syscall
";

fn assemble(name: &str, source: &str) -> Image {
    pxi_asm::assemble_source(name, source)
        .unwrap_or_else(|e| panic!("{e}"))
        .image
}

/// The loader with `file` in its memory and a code arena of `arena` pixels.
fn loader_with(file: &[u8], arena: u32) -> Image {
    let mut image = assemble("loader.pxs", LOADER);
    let code_at = image.code.len() as u32;
    pxi::program::reserve(&mut image, 4096, arena).unwrap();
    let mut block = vec![0; BLOCK_WORDS];
    block[L_BYTES] = BYTES_AT;
    block[L_LEN] = file.len() as u32;
    block[L_CODE] = code_at;
    block[L_CODE_MAX] = arena;
    block[L_DATA] = DATA_AT;
    block[L_DATA_MAX] = DATA_MAX;
    let bytes = file
        .chunks(4)
        .map(|c| {
            let mut w = [0; 4];
            w[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(w)
        })
        .collect();
    image.segments.push(Segment {
        addr: 0,
        words: block,
    });
    image.segments.push(Segment {
        addr: BYTES_AT,
        words: bytes,
    });
    image.validate().unwrap();
    image
}

fn both(image: &Image) -> RunRecord {
    let limits = Limits {
        slice_steps: 1024,
        max_steps: 100_000,
    };
    let cpu = run_cpu(image, limits, 4, b"");
    static GPU: OnceLock<Gpu> = OnceLock::new();
    let gpu = GPU.get_or_init(|| Gpu::new().expect("a GPU adapter (lavapipe in CI)"));
    let gpu_run = run_gpu(gpu, image, limits, 4, b"").expect("GPU run");
    assert_eq!(
        cpu, gpu_run,
        "the CPU interpreter and the GPU runtime differ"
    );
    cpu
}

#[test]
fn a_loaded_program_runs_from_the_code_arena_with_its_data_installed() {
    let loaded = assemble("loaded.pxs", LOADED);
    let run = both(&loader_with(&loaded.encode_png(), 64));
    assert_eq!(String::from_utf8_lossy(&run.output), "04242");
    assert_eq!(run.outcome.stop, Stop::Halted(7));
    assert_eq!(run.state.memory[DATA_AT as usize..][..4], [11, 22, 33, 0]);
    let code_len = loaded.code.len() as u32;
    assert_eq!(&run.state.memory[..BLOCK_WORDS][6..], [code_len, 0, 100, 3]);
    // The loaded pixels ran and were counted, like any other code.
    let code_at = assemble("loader.pxs", LOADER).code.len();
    assert!(run.state.counts[code_at..].iter().any(|&c| c > 0));
}

#[test]
fn bad_files_are_refused_with_their_error_and_install_nothing() {
    let file = assemble("loaded.pxs", LOADED).encode_png();
    let mut corrupt = file.clone();
    let at = corrupt.len() - 20;
    corrupt[at] ^= 1;
    for (bytes, arena, error) in [
        (b"#!/bin/sh\necho not a program\n".to_vec(), 64, ERR_NOTPXI),
        (corrupt, 64, ERR_CORRUPT),
        (file[..file.len() / 2].to_vec(), 64, ERR_CORRUPT),
        (file.clone(), 4, ERR_TOOBIG),
    ] {
        let image = loader_with(&bytes, arena);
        let run = both(&image);
        assert_eq!(String::from_utf8_lossy(&run.output), error.to_string());
        assert_eq!(run.outcome.stop, Stop::Halted(1));
        assert_eq!(run.state.memory[DATA_AT as usize], 0, "no data installed");
    }
}
