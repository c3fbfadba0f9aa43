//! One test per trap kind (exact hart, pc, pixel, info and instruction) and
//! per way an image can be malformed (the exact `ImageError`).

mod common;

use pxi::image::{HEADER_PIXELS, MAX_MEMORY_WORDS};
use pxi::png::encode_rgba8;
use pxi::run::Stop;
use pxi::{Image, ImageError, Instruction, Op, Trap, TrapKind};

/// Assemble and run `source`; it must stop with exactly one trap.
fn trap_of(source: &str) -> (Trap, Image) {
    let image = common::assemble(source).image;
    let (outcome, _, machine) = common::run(&image);
    assert_eq!(outcome.stop, Stop::Trapped);
    let traps = machine.traps(&image);
    assert_eq!(traps.len(), 1, "{traps:?}");
    (traps[0].clone(), image)
}

/// Code address `pc` of a program without data segments sits at pixel 8 + pc.
fn xy(pc: u32) -> (u32, u32) {
    ((HEADER_PIXELS as u32 + pc) % 64, 0)
}

fn expect(
    source: &str,
    hart: u32,
    kind: TrapKind,
    pc: u32,
    info: u32,
    instruction: Option<Instruction>,
) {
    let (trap, image) = trap_of(source);
    assert_eq!(
        trap,
        Trap {
            hart,
            kind,
            pc,
            pixel: image.code_pixel_xy(pc),
            info,
            instruction
        }
    );
    assert_eq!(
        trap.pixel,
        xy(pc),
        "the examples here have no data segments"
    );
}

#[test]
fn illegal_instruction() {
    expect(
        "nop\n.pixel 0x000000EE",
        0,
        TrapKind::IllegalInstruction,
        1,
        0xEE,
        None,
    );
}

#[test]
fn truncated_instruction() {
    // An `li r1` opcode pixel on the last code pixel: its word is missing.
    expect(
        "nop\n.pixel 0x00000110",
        0,
        TrapKind::TruncatedInstruction,
        1,
        1,
        None,
    );
}

#[test]
fn pc_out_of_code() {
    expect("nop", 0, TrapKind::PcOutOfCode, 1, 1, None);
}

#[test]
fn jump_out_of_code() {
    let jmp = Instruction::new(Op::Jmp, 0, 0, 0, 100);
    expect(
        "nop\njmp 100",
        0,
        TrapKind::JumpOutOfCode,
        1,
        100,
        Some(jmp),
    );
}

#[test]
fn memory_out_of_bounds() {
    let ld = Instruction::new(Op::Ld, 2, 1, 3, 0);
    expect(
        ".memory 4\nli r1, 10\nld r2, r1, 3",
        0,
        TrapKind::MemoryOutOfBounds,
        2,
        13,
        Some(ld),
    );
}

#[test]
fn stack_overflow() {
    let push = Instruction::new(Op::Push, 1, 0, 0, 0);
    expect(
        "li r1, 7\nagain: push r1\njmp again",
        0,
        TrapKind::StackOverflow,
        2,
        7,
        Some(push),
    );
}

#[test]
fn stack_underflow() {
    expect(
        "nop\nret",
        0,
        TrapKind::StackUnderflow,
        1,
        0,
        Some(Instruction::new(Op::Ret, 0, 0, 0, 0)),
    );
}

#[test]
fn division_by_zero_in_a_spawned_hart() {
    let source = "
        .harts 2
        li r1, worker
        li r2, 0
        spawn r3, r1, r2
    idle:
        yield
        jmp idle
    worker:
        divu r3, r1, r2       ; r1 = the spawn argument, 0
    ";
    let divu = Instruction::new(Op::Divu, 3, 1, 2, 0);
    expect(source, 1, TrapKind::DivisionByZero, 8, 0, Some(divu));
}

#[test]
fn vector_overlap() {
    let source = ".memory 16\nli r1, 0\nli r2, 1\nli r3, 4\nvcopy r2, r1, r3";
    expect(
        source,
        0,
        TrapKind::VectorOverlap,
        6,
        1,
        Some(Instruction::new(Op::Vcopy, 2, 1, 3, 0)),
    );
}

#[test]
fn tensor_shape() {
    // A Q8 group size that is not a multiple of 4.
    let source = ".memory 64\nli r1, 0\nli r2, 32\nli r3, 8\nli r4, 6\nquant r1, r2, r3, r4";
    expect(
        source,
        0,
        TrapKind::TensorShape,
        8,
        0,
        Some(Instruction::new(Op::Quant, 1, 2, 3, 4)),
    );
}

#[test]
fn tensor_range_outside_memory() {
    // 100 output rows at address 0 in 16 words of memory.
    let source = ".memory 16\nli r1, 0\nli r2, 4\nli r3, 8\nli r4, 4\nli r5, 100\nli r6, 4\nmatvec r1, r2, r3, r4";
    expect(
        source,
        0,
        TrapKind::MemoryOutOfBounds,
        12,
        0,
        Some(Instruction::new(Op::Matvec, 1, 2, 3, 4)),
    );
}

/// A user-mode fault is no machine trap: the kernel gets it at its trap vector.
#[test]
fn privileged_instruction_in_user_mode() {
    let source = common::user_kernel("", "", "nop\nsyscall");
    let image = common::assemble(&source).image;
    let (outcome, _, machine) = common::run(&image);
    assert_eq!(outcome.stop, Stop::AllExited);
    let hart = machine.hart(0);
    assert_eq!(hart[pxi::state::H_AUX], TrapKind::Privileged as u32);
    assert_eq!(
        hart[1],
        Instruction::new(Op::Syscall, 0, 0, 0, 0).encode().0[0]
    );
    assert_eq!(hart[2], 0, "the frame address");
    assert_eq!(
        machine.memory[pxi::state::CTX_PC],
        1,
        "the faulting pc, window-relative"
    );
}

#[test]
fn every_trap_kind_has_a_test() {
    // An exhaustive match: a new kind does not compile until a test names it.
    for kind in TrapKind::ALL {
        let test: fn() = match kind {
            TrapKind::IllegalInstruction => illegal_instruction,
            TrapKind::TruncatedInstruction => truncated_instruction,
            TrapKind::PcOutOfCode => pc_out_of_code,
            TrapKind::JumpOutOfCode => jump_out_of_code,
            TrapKind::MemoryOutOfBounds => memory_out_of_bounds,
            TrapKind::StackOverflow => stack_overflow,
            TrapKind::StackUnderflow => stack_underflow,
            TrapKind::DivisionByZero => division_by_zero_in_a_spawned_hart,
            TrapKind::VectorOverlap => vector_overlap,
            TrapKind::Privileged => privileged_instruction_in_user_mode,
            TrapKind::TensorShape => tensor_shape,
        };
        test();
    }
}

// ---------------------------------------------------------------- images --

fn valid() -> Image {
    common::assemble(".data\nx: .word 1, 2\n.code\nli r1, x\nhalt: jmp halt").image
}

/// Decode pixels of `width` written as a PNG by pxi's own encoder.
fn decode(width: u32, pixels: &[u32]) -> Result<Image, ImageError> {
    Image::decode_png(&encode_rgba8(width, pixels))
}

fn edited(index: usize, value: u32) -> Result<Image, ImageError> {
    let image = valid();
    let mut pixels = image.to_pixels();
    pixels[index] = value;
    decode(image.width, &pixels)
}

#[test]
fn valid_image_round_trips() {
    let image = valid();
    assert_eq!(decode(image.width, &image.to_pixels()), Ok(image));
}

#[test]
fn bad_magic() {
    assert_eq!(
        edited(0, 0x1234_5678),
        Err(ImageError::BadMagic { found: 0x1234_5678 })
    );
}

#[test]
fn header_fields() {
    assert_eq!(
        edited(1, 2),
        Err(ImageError::UnsupportedVersion { found: 2 })
    );
    assert_eq!(edited(7, 9), Err(ImageError::ReservedNonZero { found: 9 }));
    assert_eq!(
        edited(2, 4),
        Err(ImageError::EntryOutOfCode {
            entry: 4,
            code_len: 4
        })
    );
    assert_eq!(
        edited(4, MAX_MEMORY_WORDS + 1),
        Err(ImageError::MemoryTooLarge {
            words: MAX_MEMORY_WORDS + 1
        })
    );
    assert_eq!(edited(5, 0), Err(ImageError::BadHartCount { harts: 0 }));
    // Segment 0 moved to address 1: its two words end past memory of 2 words.
    let outside = ImageError::SegmentOutsideMemory {
        index: 0,
        addr: 1,
        len: 2,
        memory_words: 2,
    };
    assert_eq!(edited(8, 1), Err(outside));
}

#[test]
fn header_pointing_out_of_range() {
    let needed = 10 + 1_000_000;
    let truncated = ImageError::Truncated {
        what: "code",
        needed,
        available: 64,
    };
    assert_eq!(edited(3, 1_000_000), Err(truncated));
    let table = ImageError::Truncated {
        what: "segment table",
        needed: 8 + 2 * 40,
        available: 64,
    };
    assert_eq!(edited(6, 40), Err(table));
    // Segment 0 claims 1000 words after the 4 code pixels that start at pixel 10.
    let segment = ImageError::Truncated {
        what: "data segment",
        needed: 14 + 1000,
        available: 64,
    };
    assert_eq!(edited(9, 1000), Err(segment));
}

#[test]
fn trailing_data() {
    assert_eq!(
        edited(40, 5),
        Err(ImageError::TrailingData {
            pixel: 40,
            at: (40, 0)
        })
    );
}

#[test]
fn too_few_pixels() {
    assert_eq!(
        decode(4, &[pxi::image::MAGIC, 1, 0, 0]),
        Err(ImageError::TooSmall { pixels: 4 })
    );
}

/// A one-row PNG of `width` pixels in another pixel format.
fn png_with(color: image::ExtendedColorType, bytes: &[u8], width: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let height = 1;
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut out),
        bytes,
        width,
        height,
        color,
    )
    .unwrap();
    out
}

#[test]
fn wrong_colour_type_or_depth() {
    let rgb = png_with(image::ExtendedColorType::Rgb8, &[0; 3 * 16], 16);
    assert_eq!(
        Image::decode_png(&rgb),
        Err(ImageError::NotRgba8 {
            color: "RGB".into(),
            depth: 8
        })
    );
    let rgba16 = png_with(image::ExtendedColorType::Rgba16, &[0; 8 * 16], 16);
    assert_eq!(
        Image::decode_png(&rgba16),
        Err(ImageError::NotRgba8 {
            color: "RGBA".into(),
            depth: 16
        })
    );
}

/// A valid PNG whose IHDR claims `width` x `height`.
fn forged_dimensions(width: u32, height: u32) -> Vec<u8> {
    let mut png = valid().encode_png();
    // Signature (8), length (4), "IHDR" (4), then width and height.
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = common::crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

#[test]
fn huge_dimensions() {
    assert_eq!(
        Image::decode_png(&forged_dimensions(16384, 16384)),
        Err(ImageError::BadDimensions {
            width: 16384,
            height: 16384
        })
    );
    assert_eq!(
        Image::decode_png(&forged_dimensions(100_000, 1)),
        Err(ImageError::BadDimensions {
            width: 100_000,
            height: 1
        })
    );
    for (width, height) in [(0, 1), (1, 0), (0, 0)] {
        assert_eq!(
            Image::decode_png(&forged_dimensions(width, height)),
            Err(ImageError::BadDimensions {
                width: width as u64,
                height: height as u64
            }),
            "{width}x{height}"
        );
    }
}

#[test]
fn truncated_and_garbage_bytes() {
    let png = valid().encode_png();
    assert!(matches!(
        Image::decode_png(&png[..png.len() / 2]),
        Err(ImageError::Png(_))
    ));
    assert!(matches!(
        Image::decode_png(b"definitely not a PNG file"),
        Err(ImageError::Png(_))
    ));
    assert!(matches!(Image::decode_png(&[]), Err(ImageError::Png(_))));
}

#[test]
fn trap_reports_name_call_targets_by_their_label() {
    let assembly = common::assemble("main: call recurse\nrecurse: call recurse\n");
    let (outcome, _, machine) = common::run(&assembly.image);
    assert_eq!(outcome.stop, Stop::Trapped);
    let trap = &machine.traps(&assembly.image)[0];
    assert_eq!(trap.kind, TrapKind::StackOverflow);
    let with_map = pxi_asm::trap::render_trap(trap, Some(&assembly.map));
    assert!(
        with_map.contains("at pc 2 (pixel 10,0) in `call recurse`\n"),
        "{with_map}"
    );
    assert!(with_map.contains("test.pxs:2 (in recurse)"), "{with_map}");
    let without = pxi_asm::trap::render_trap(trap, None);
    assert!(without.contains("in `call 0x00000002`"), "{without}");
}
