//! The fixed test program, its source map and counts, written to a folder.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::path::{Path, PathBuf};

use pxi::counts::Counts;
use pxi::state::C_ROUND;
use pxi::{Image, Limits, Machine, MachineStatus};
use pxi_asm::{SourceMap, assemble_source};
use visualizer::Profile;

/// A counted loop that calls a small function, with a data segment: every
/// kind of pixel (header, segment table, code run and not run, data, padding).
pub const SOURCE: &str = "\
; visualizer test program
.width 8
.data
table: .word 1, 2, 3
.code
main:
    li r1, 0
    li r2, 10
    li r3, 0
loop:
    call bump
    addi r2, r2, -1
    cmp r2, r3
    jne loop
    exit r3
never:
    jmp main
bump:
    addi r1, r1, 1
    ret
";

/// Instructions per hart per round: small, so the run has many snapshots.
const SLICE_STEPS: u32 = 6;

/// The files of one test's copy of the program.
pub struct Fixture {
    /// Its folder.
    pub dir: PathBuf,
    /// `prog.pxi` (with `prog.pxi.map` next to it).
    pub image: PathBuf,
    /// `prog.counts`, one snapshot per round.
    pub counts: PathBuf,
}

impl Fixture {
    /// Write the program into a fresh folder named `name`.
    pub fn new(name: &str) -> Fixture {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("visualizer")
            .join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let assembly =
            assemble_source("prog.pxs", SOURCE).unwrap_or_else(|e| panic!("{}", e.0[0].render()));
        let fixture = Fixture {
            image: dir.join("prog.pxi"),
            counts: dir.join("prog.counts"),
            dir,
        };
        std::fs::write(&fixture.image, assembly.image.encode_png()).unwrap();
        assembly
            .map
            .write(&SourceMap::sidecar(&fixture.image))
            .unwrap();
        std::fs::write(&fixture.counts, run(&assembly.image).to_bytes()).unwrap();
        fixture
    }

    /// Load it.
    pub fn profile(&self) -> Profile {
        Profile::load(&self.image, &self.counts).unwrap()
    }

    /// `text` with this fixture's folder written as `<dir>`.
    pub fn anonymize(&self, text: &str) -> String {
        text.replace(&self.dir.display().to_string(), "<dir>")
    }
}

/// Run `image` on the CPU interpreter, snapshotting the counts every round.
pub fn run(image: &Image) -> Counts {
    let mut machine = Machine::new(
        image,
        Limits {
            slice_steps: SLICE_STEPS,
            max_steps: 10_000,
        },
    );
    let mut counts = Counts::default();
    while machine.run_rounds(1) == MachineStatus::Running {
        counts.push(machine.control[C_ROUND], machine.steps(), &machine.counts);
    }
    assert_eq!(machine.status(), MachineStatus::AllExited);
    counts.push(machine.control[C_ROUND], machine.steps(), &machine.counts);
    counts
}

/// Width, height and RGB bytes of a PNG.
pub fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb, "expected an RGB PNG");
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}
