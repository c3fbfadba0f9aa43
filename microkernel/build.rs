//! Build script for the microkernel.
//!
//! 1. Hands the linker script to the kernel binaries by absolute path, so the build works from
//!    any working directory.
//! 2. Chooses the program the kernel runs and copies it to `$OUT_DIR/os.pxi`, which the kernel
//!    embeds: `$PXOS_IMAGE` if set, else `../examples/os.pxi` (the lead's assembled os.pxs), else
//!    a small placeholder program built here with the `pxi` encoder. `PXOS_IMAGE_SOURCE` tells
//!    the boot log which one it got; test harnesses find the file through cargo's `out_dir`.

use pxi::image::{Image, Segment};
use pxi::isa::{Instruction, Op};
use pxi::mailbox::Call;
use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));

    let script = manifest_dir.join("linker.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    if std::env::var("TARGET").as_deref() == Ok("x86_64-unknown-none") {
        println!("cargo:rustc-link-arg-bins=-T{}", script.display());
    }

    let examples = manifest_dir.join("../examples");
    // Watching the directory notices os.pxi appearing without re-running on every build.
    println!("cargo:rerun-if-changed={}", examples.display());
    println!("cargo:rerun-if-env-changed=PXOS_IMAGE");
    let (source, bytes) = match std::env::var_os("PXOS_IMAGE") {
        Some(path) => {
            let path = PathBuf::from(path);
            println!("cargo:rerun-if-changed={}", path.display());
            (path.display().to_string(), read(&path))
        }
        None if examples.join("os.pxi").is_file() => {
            let path = examples.join("os.pxi");
            println!("cargo:rerun-if-changed={}", path.display());
            ("examples/os.pxi".to_string(), read(&path))
        }
        None => (
            "placeholder (examples/os.pxi not built yet)".to_string(),
            placeholder().encode_png(),
        ),
    };
    if let Err(error) = Image::decode_png(&bytes) {
        panic!("the program image from {source} is not a valid PXI image: {error}");
    }
    let embedded = out_dir.join("os.pxi");
    std::fs::write(&embedded, &bytes).expect("write $OUT_DIR/os.pxi");
    println!("cargo:rustc-env=PXOS_IMAGE_PATH={}", embedded.display());
    println!("cargo:rustc-env=PXOS_IMAGE_SOURCE={source}");
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path)
        .unwrap_or_else(|error| panic!("cannot read program image {}: {error}", path.display()))
}

/// Counts to 5000 in a loop (so the heatmap has something to show), writes a banner and halts.
fn placeholder() -> Image {
    let banner = b"pxOS placeholder program: examples/os.pxi is not built yet\n";
    let words: Vec<u32> = banner
        .chunks(4)
        .map(|c| c.iter().rev().fold(0, |w, &b| w << 8 | u32::from(b)))
        .collect();
    let instr = |op, a, b, c, word| Instruction { op, a, b, c, word };
    let program = [
        instr(Op::Li, 1, 0, 0, 0),
        instr(Op::Li, 2, 0, 0, 5000),
        instr(Op::Addi, 1, 1, 1, 0), // pc 4: loop
        instr(Op::Cmp, 1, 2, 0, 0),
        instr(Op::Jltu, 0, 0, 0, 4),
        instr(Op::Li, 0, 0, 0, Call::Write as u32),
        instr(Op::Li, 1, 0, 0, 0),
        instr(Op::Li, 2, 0, 0, banner.len() as u32),
        instr(Op::Syscall, 0, 0, 0, 0),
        instr(Op::Li, 0, 0, 0, Call::Halt as u32),
        instr(Op::Li, 1, 0, 0, 0),
        instr(Op::Syscall, 0, 0, 0, 0),
    ];
    let mut code = Vec::new();
    for instruction in program {
        let (pixels, len) = instruction.encode();
        code.extend_from_slice(&pixels[..len]);
    }
    assert_eq!(
        Instruction::decode(&code, 4).map(|i| i.op),
        Ok(Op::Addi),
        "loop label moved"
    );
    let image = Image {
        width: 16,
        entry: 0,
        code,
        memory_words: 256,
        harts: 1,
        segments: vec![Segment { addr: 0, words }],
    };
    image.validate().expect("placeholder image is valid");
    image
}
