//! Assembler errors and round trips.

mod common;

use proptest::prelude::*;
use pxi::isa::{OperandKind, TABLE};
use pxi::{Image, Instruction};
use pxi_asm::assemble::instruction;
use pxi_asm::{ErrorKind, assemble_source, disassemble, pixel_texts};

fn errors(source: &str) -> Vec<ErrorKind> {
    assemble_source("t.pxs", source)
        .unwrap_err()
        .0
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

fn first_error(source: &str) -> ErrorKind {
    errors(source).remove(0)
}

#[test]
fn renders_like_rustc() {
    let source = "main:\n    add r17, r1, r2\n";
    let err = assemble_source("examples/os.pxs", source).unwrap_err();
    assert_eq!(
        err.to_string(),
        "error: unknown register r17\n --> examples/os.pxs:2:9\n  |\n2 |     add r17, r1, r2\n  |         ^^^\n\n1 error found"
    );
}

#[test]
fn collects_several_errors() {
    let kinds = errors("add r1\nfoo r1\nli r1, nowhere\n");
    assert_eq!(
        kinds.last(),
        Some(&ErrorKind::Undefined("nowhere".into())),
        "syntax errors do not hide undefined names: {kinds:?}"
    );
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    let kinds = errors("li r1, nowhere\nli r2, 300\naddi r1, r1, 200\n");
    assert_eq!(
        kinds,
        [
            ErrorKind::Undefined("nowhere".into()),
            ErrorKind::OutOfRange {
                value: 200,
                what: "a signed 8-bit immediate",
                min: -128,
                max: 127
            }
        ]
    );
}

#[test]
fn error_kinds() {
    use ErrorKind::*;
    assert_eq!(first_error("frob r1"), UnknownInstruction("frob".into()));
    assert_eq!(first_error(".frob"), UnknownDirective(".frob".into()));
    assert_eq!(
        first_error("add r1, r2"),
        OperandCount {
            mnemonic: "add",
            expected: 3,
            form: "ra, rb, rc",
            found: 2
        }
    );
    assert_eq!(first_error("li 5, 5"), ExpectedRegister);
    assert_eq!(first_error("jmp r1"), UnexpectedRegister("r1".into()));
    assert_eq!(
        first_error("andi r1, r1, 256").to_string(),
        "256 does not fit an unsigned 8-bit immediate (0..=255)"
    );
    assert_eq!(
        first_error("addi r1, r1, -129").to_string(),
        "-129 does not fit a signed 8-bit immediate (-128..=127)"
    );
    assert!(matches!(
        first_error("li r1, 0x100000000"),
        OutOfRange { .. }
    ));
    assert!(matches!(
        first_error("li r1, -2147483649"),
        OutOfRange { .. }
    ));
    assert_eq!(
        first_error("a: nop\na: nop"),
        Redefined {
            name: "a".into(),
            previous: "t.pxs:1".into()
        }
    );
    assert!(matches!(
        first_error(".equ SYS_PUTC, 3\nnop"),
        Redefined { .. }
    ));
    assert_eq!(first_error("r3: nop"), ReservedName("r3".into()));
    assert_eq!(
        first_error(".equ A, B\n.equ B, A\nli r1, A"),
        CyclicConstant("A".into())
    );
    assert_eq!(
        first_error(".data\n.space N\n.equ N, later\nlater: .word 1\n.code\nnop"),
        ForwardReference("later".into())
    );
    assert_eq!(first_error("li r1, 9223372036854775807 + 1"), Overflow);
    let chain: String = (0..300)
        .map(|i| format!(".equ C{i}, C{}\n", i + 1))
        .collect();
    assert!(matches!(
        first_error(&format!("{chain}.equ C300, 1\nli r1, C0")),
        NestingTooDeep(_)
    ));
    assert_eq!(
        first_error(".data\nnop"),
        WrongSection {
            what: "instruction `nop`".into(),
            section: ".code"
        }
    );
    assert!(matches!(
        first_error(".word 1\nnop"),
        WrongSection {
            section: ".data",
            ..
        }
    ));
    assert_eq!(
        first_error(".harts 2\n.harts 3\nnop"),
        DuplicateDirective(".harts")
    );
    assert_eq!(
        first_error(".data\n.word 1, 2\n.memory 1\n.code\nnop"),
        MemoryTooSmall {
            memory: 1,
            data_end: 2
        }
    );
    assert_eq!(
        first_error(".entry 5\nnop"),
        EntryOutsideCode {
            entry: 5,
            code_len: 1
        }
    );
    assert_eq!(first_error(".data\n.word 1"), NoCode);
    let tall = format!(
        ".width 1\n.data\n.string \"{}\"\n.code\nnop",
        "x".repeat(70_000)
    );
    assert_eq!(
        first_error(&tall),
        ImageTooHigh {
            width: 1,
            height: 70_000 / 4 + 8 + 2 + 1,
            max_height: 16384,
            max_width: 16384
        }
    );
    assert_eq!(first_error("li r1, 'ab'"), BadCharLiteral);
    assert_eq!(first_error(".string \"\\q\""), BadEscape("q".into()));
    assert_eq!(
        first_error(".include \"missing.pxs\"")
            .to_string()
            .split(':')
            .next(),
        Some("cannot read `missing.pxs`")
    );
    assert_eq!(
        first_error("li r1,"),
        Expected {
            expected: "a number, label or constant",
            found: "end of line".into()
        }
    );
}

#[test]
fn include_cycles_are_reported() {
    let dir = std::env::temp_dir().join(format!("pxi-asm-include-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.pxs"), ".include \"b.pxs\"\nnop\n").unwrap();
    std::fs::write(dir.join("b.pxs"), ".include \"a.pxs\"\n").unwrap();
    let err = pxi_asm::assemble_file(&dir.join("a.pxs")).unwrap_err();
    assert!(
        matches!(&err.0[0].kind, ErrorKind::IncludeCycle(chain) if chain.ends_with("a.pxs")),
        "{err}"
    );
    assert_eq!(err.0[0].at.as_ref().unwrap().line, 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn syntax_features() {
    let source = r#"
        .equ BASE, 0x10
        .equ NEG, -8
        .harts 3
        .width 16
        .data
        .org BASE
        s:    .string "ab\x41\0\t\\\"c"
        tab:  .word s, tab+1, 'z', 0b101, NEG, BASE-1, SYS_PUTU
        .space 2
        last: .word 7
        .code
        start: li r1, s    # hash comment
               jmp start
        .entry start
    "#;
    let image = common::assemble(source).image;
    assert_eq!(
        (image.harts, image.width, image.entry, image.memory_words),
        (3, 16, 0, 0x10 + 2 + 7 + 2 + 1)
    );
    let words: Vec<u32> = b"abA\0\t\\\"c"
        .chunks(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let mut expected = words;
    expected.extend_from_slice(&[0x10, 0x13, 'z' as u32, 5, -8i32 as u32, 0xF, 3]);
    assert_eq!(image.segments.len(), 2, "`.space` splits segments");
    assert_eq!(
        image.segments[0],
        pxi::image::Segment {
            addr: 0x10,
            words: expected
        }
    );
    assert_eq!(
        image.segments[1],
        pxi::image::Segment {
            addr: 0x10 + 9 + 2,
            words: vec![7]
        }
    );
}

#[test]
fn multiplication_binds_tighter_than_addition() {
    let source = "
        .equ N, 4
        .equ W, 128
        .data
        a: .word N*W, 2+3*4, 2*3+4, 10-2*3, -2*3, N*W-1, 2*3*4, -N*2+1, a+2*N
        .code
        nop
    ";
    let image = common::assemble(source).image;
    assert_eq!(
        image.segments[0].words,
        [512, 14, 10, 4, -6i32 as u32, 511, 24, -7i32 as u32, 8]
    );
}

#[test]
fn multiplication_overflow_names_the_product() {
    let source = ".equ BIG, 0x100000000\nnop\nli r1, 1 + BIG*BIG*2\n";
    let err = assemble_source("t.pxs", source).unwrap_err();
    assert_eq!(
        err.to_string(),
        "error: expression overflows\n --> t.pxs:3:12\n  |\n3 | li r1, 1 + BIG*BIG*2\n  |            ^^^^^^^\n\n1 error found"
    );
    assert_eq!(
        first_error("li r1, 4611686018427387904 * 2 + 1"),
        ErrorKind::Overflow
    );
    assert_eq!(
        first_error("li r1, 9223372036854775807 + 2*1"),
        ErrorKind::Overflow
    );
    assert!(matches!(
        first_error("li r1, 2 * * 3"),
        ErrorKind::Expected { .. }
    ));
    assert!(matches!(
        first_error("li r1, 2 *"),
        ErrorKind::Expected { .. }
    ));
}

#[test]
fn pixel_texts_cover_every_code_pixel() {
    let image = common::assemble("top: li r1, 5\n.pixel 0xEE\njmp top").image;
    assert_eq!(
        pixel_texts(&image, None),
        [
            "li r1, 5",
            "(word 0x00000005)",
            ".pixel 0x000000ee",
            "jmp L_0000",
            "(word 0x00000000)"
        ]
    );
}

#[test]
fn raw_pixels_and_odd_segments_reassemble_identically() {
    // Built by hand: undecodable code pixels, a truncated final instruction,
    // an empty segment, overlapping and unsorted segments, an odd width.
    let image = Image {
        width: 7,
        entry: 2,
        code: vec![0xFFFF_FFFF, 0x0000_0041, 0x0102_0320, 0x0000_0110],
        memory_words: 40,
        harts: 5,
        segments: vec![
            pxi::image::Segment {
                addr: 30,
                words: vec![1, 2, 3],
            },
            pxi::image::Segment {
                addr: 4,
                words: vec![],
            },
            pxi::image::Segment {
                addr: 31,
                words: vec![9],
            },
        ],
    };
    let text = disassemble(&image, None);
    let again = assemble_source("d.pxs", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(again.image, image, "{text}");
}

fn operand_value(kind: OperandKind) -> BoxedStrategy<i64> {
    match kind {
        OperandKind::Reg => (0i64..16).boxed(),
        OperandKind::U8 => (0i64..=255).boxed(),
        OperandKind::S8 => (-128i64..=127).boxed(),
        OperandKind::Word => any::<u32>().prop_map(i64::from).boxed(),
    }
}

/// A random valid instruction, as assembly text and as the expected decoding.
fn instruction_strategy() -> impl Strategy<Value = (String, Instruction)> {
    (0..TABLE.len()).prop_flat_map(|row| {
        let op = TABLE[row].op;
        let kinds = op.form().operands();
        kinds
            .iter()
            .map(|&k| operand_value(k))
            .collect::<Vec<_>>()
            .prop_map(move |values| {
                let text: Vec<String> = kinds
                    .iter()
                    .zip(&values)
                    .map(|(k, v)| {
                        if *k == OperandKind::Reg {
                            format!("r{v}")
                        } else {
                            v.to_string()
                        }
                    })
                    .collect();
                let mut words = [0u32; 4];
                for (w, v) in words.iter_mut().zip(&values) {
                    *w = *v as u32;
                }
                let inst = instruction(op, words);
                (format!("{} {}", op.mnemonic(), text.join(", ")), inst)
            })
    })
}

proptest! {
    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        let _ = assemble_source("fuzz.pxs", &text);
    }

    #[test]
    fn random_lines_of_tokens_never_panic(lines in proptest::collection::vec(
        "[ \t]{0,2}([a-z_.][a-z0-9_]{0,6}:? ?)?(r[0-9]{1,2}|-?[0-9]{1,12}|0x[0-9a-f]{1,9}|'.'|\"[^\"]{0,5}\"|[,+:-]| ){0,6}",
        0..12,
    )) {
        let _ = assemble_source("fuzz.pxs", &lines.join("\n"));
    }

    #[test]
    fn generated_programs_round_trip(
        program in proptest::collection::vec(instruction_strategy(), 1..40),
        data in proptest::collection::vec(any::<u32>(), 0..20),
        width in 1u32..80,
        harts in 1u32..20,
    ) {
        let mut source = format!(".width {width}\n.harts {harts}\n");
        for (text, _) in &program {
            source += text;
            source.push('\n');
        }
        if !data.is_empty() {
            let words: Vec<String> = data.iter().map(u32::to_string).collect();
            source += &format!(".data\n.word {}\n", words.join(", "));
        }
        let assembly = assemble_source("gen.pxs", &source).unwrap_or_else(|e| panic!("{e}\n{source}"));
        let mut pc = 0;
        for (_, inst) in &program {
            prop_assert_eq!(Instruction::decode(&assembly.image.code, pc), Ok(*inst));
            pc += inst.len() as usize;
        }
        let png = assembly.image.encode_png();
        prop_assert_eq!(Image::decode_png(&png), Ok(assembly.image.clone()));
        for map in [Some(&assembly.map), None] {
            let text = disassemble(&assembly.image, map);
            let again = assemble_source("dis.pxs", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            prop_assert_eq!(again.image.encode_png(), png.clone());
        }
    }

    #[test]
    fn random_code_pixels_reassemble_identically(code in proptest::collection::vec(any::<u32>(), 1..30)) {
        let image = Image { width: 8, entry: 0, code, memory_words: 0, harts: 1, segments: vec![] };
        let text = disassemble(&image, None);
        let again = assemble_source("dis.pxs", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        prop_assert_eq!(again.image, image);
    }
}
