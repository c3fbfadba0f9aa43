//! Property tests of the instruction encoding, and interpreter regressions.

use proptest::prelude::*;
use pxi::image::Segment;
use pxi::isa::{DecodeError, Form, TABLE};
use pxi::machine::Machine;
use pxi::state::{H_AUX, H_STATUS, HART_EXITED};
use pxi::{Image, Instruction, Limits, Op};

/// A random canonical instruction: registers < 16, unused fields zero. The
/// field layout is spelled out again here, independently of `validate`.
fn valid_instruction() -> impl Strategy<Value = Instruction> {
    (0..TABLE.len(), any::<[u8; 4]>(), any::<u32>()).prop_map(|(row, [a, b, c, d], word)| {
        let op = TABLE[row].op;
        let (a, b, cr, d) = (a % 16, b % 16, c % 16, (d % 16) as u32);
        let (a, b, c, word) = match op.form() {
            Form::None => (0, 0, 0, 0),
            Form::A => (a, 0, 0, 0),
            Form::AB => (a, b, 0, 0),
            Form::ABC => (a, b, cr, 0),
            Form::ABU | Form::ABS => (a, b, c, 0),
            Form::AW => (a, 0, 0, word),
            Form::W => (0, 0, 0, word),
            Form::ABCD => (a, b, cr, d),
        };
        Instruction::new(op, a, b, c, word)
    })
}

proptest! {
    #[test]
    fn encode_then_decode_is_identity(inst in valid_instruction()) {
        let (pixels, len) = inst.encode();
        prop_assert_eq!(len as u32, inst.len());
        prop_assert_eq!(Instruction::decode(&pixels[..len], 0), Ok(inst));
    }

    #[test]
    fn decode_then_encode_is_identity(pixels in any::<[u32; 2]>()) {
        match Instruction::decode(&pixels, 0) {
            Ok(inst) => {
                let (again, len) = inst.encode();
                prop_assert_eq!(&again[..len], &pixels[..len]);
            }
            Err(DecodeError::Truncated(_)) => prop_assert!(false, "two pixels are never truncated"),
            Err(_) => {}
        }
    }

    #[test]
    fn decoding_a_lone_pixel_never_panics(pixel in any::<u32>()) {
        let _ = Instruction::decode(&[pixel], 0);
    }
}

fn run(code: &[Instruction]) -> Machine {
    let code: Vec<u32> = code
        .iter()
        .flat_map(|i| {
            let (px, n) = i.encode();
            px[..n].to_vec()
        })
        .collect();
    let image = Image {
        width: 16,
        entry: 0,
        code,
        memory_words: 1,
        harts: 1,
        segments: vec![Segment {
            addr: 0,
            words: vec![0],
        }],
    };
    let mut machine = Machine::new(&image, Limits::default());
    machine.run_rounds(10);
    machine
}

/// Regression: `addi` with a negative immediate (c = 0xFF) indexed the hart's
/// registers with the immediate and panicked.
#[test]
fn immediates_are_not_register_numbers() {
    let machine = run(&[
        Instruction::new(Op::Li, 1, 0, 0, 5),
        Instruction::new(Op::Addi, 1, 1, 0xFF, 0),
        Instruction::new(Op::Shli, 1, 1, 200, 0),
        Instruction::new(Op::Exit, 1, 0, 0, 0),
    ]);
    let hart = machine.hart(0);
    assert_eq!(hart[H_STATUS], HART_EXITED);
    assert_eq!(hart[H_AUX], 4 << (200 & 31));
}
