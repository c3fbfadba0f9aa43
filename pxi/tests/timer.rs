//! Timer interrupts: fire after exactly `n` instructions, save the pc for
//! `epc`, never tick while a hart waits on a syscall, and trap on a bad handler.

use pxi::isa::{Instruction as I, Op};
use pxi::state::{H_EPC, H_PC, H_TIMER};
use pxi::{Image, Limits, Machine, TrapKind};

fn image(code: &[I]) -> Image {
    let mut pixels = Vec::new();
    for inst in code {
        let (px, n) = inst.encode();
        pixels.extend_from_slice(&px[..n]);
    }
    Image {
        width: 8,
        entry: 0,
        code: pixels,
        memory_words: 4,
        harts: 1,
        segments: vec![],
    }
}

#[test]
fn fires_after_n_instructions_and_saves_the_pc() {
    // 0: li r1, 3   2: li r2, 12   4: timer r1, r2   5..=9: addi r3, r3, 1 ×5   10: exit r0
    // 11: exit r0 (never)  12: epc r4  13: exit r3
    let mut code = vec![
        I::new(Op::Li, 1, 0, 0, 3),
        I::new(Op::Li, 2, 0, 0, 12),
        I::new(Op::Timer, 1, 2, 0, 0),
    ];
    code.extend(std::iter::repeat_n(I::new(Op::Addi, 3, 3, 1, 0), 5));
    code.extend([
        I::new(Op::Exit, 0, 0, 0, 0),
        I::new(Op::Exit, 0, 0, 0, 0),
        I::new(Op::Epc, 4, 0, 0, 0),
        I::new(Op::Exit, 3, 0, 0, 0),
    ]);
    let mut m = Machine::new(&image(&code), Limits::default());
    m.run_rounds(1);
    let hart = m.hart(0);
    assert_eq!(hart[3], 3, "three instructions ran after arming");
    assert_eq!(hart[4], 8, "epc is the first instruction not run");
    assert_eq!(hart[H_EPC], 8);
    assert_eq!(hart[H_TIMER], 0, "one-shot");
}

#[test]
fn arming_with_a_bad_handler_traps() {
    let code = [
        I::new(Op::Li, 1, 0, 0, 1),
        I::new(Op::Li, 2, 0, 0, 99),
        I::new(Op::Timer, 1, 2, 0, 0),
    ];
    let img = image(&code);
    let mut m = Machine::new(&img, Limits::default());
    m.run_rounds(1);
    let traps = m.traps(&img);
    assert_eq!(traps.len(), 1);
    assert_eq!(
        (traps[0].kind, traps[0].pc, traps[0].info),
        (TrapKind::JumpOutOfCode, 4, 99)
    );
    assert_eq!(m.hart(0)[H_PC], 4);
}

#[test]
fn context_save_and_load_round_trip() {
    use pxi::state::{CTX_PC, CTX_SP, CTX_STACK, CTX_WORDS};
    // 0: li r1, 7   2: push r1   3: li r2, 0 (block address)   5: ctxsave r2
    // 6: li r1, 0   8: pop r3    9: ctxload r2   (continues at the saved pc = epc = 0 → patched to 11)
    // 10: exit r0   11: exit r1
    let code = [
        I::new(Op::Li, 1, 0, 0, 7),
        I::new(Op::Push, 1, 0, 0, 0),
        I::new(Op::Li, 2, 0, 0, 0),
        I::new(Op::CtxSave, 2, 0, 0, 0),
        I::new(Op::Li, 1, 0, 0, 0),
        I::new(Op::Pop, 3, 0, 0, 0),
        I::new(Op::St, 4, 2, CTX_PC as u8, 0),
        I::new(Op::CtxLoad, 2, 0, 0, 0),
        I::new(Op::Exit, 0, 0, 0, 0),
        I::new(Op::Exit, 1, 0, 0, 0),
    ];
    let mut img = image(&code);
    img.memory_words = CTX_WORDS as u32;
    let mut m = Machine::new(&img, Limits::default());
    // r4 = 12: the pc of the final `exit r1`, stored as the context's pc.
    m.harts[4] = 12;
    m.run_rounds(1);
    assert_eq!(m.memory[CTX_SP], 1);
    assert_eq!(m.memory[CTX_STACK], 7);
    let hart = m.hart(0);
    assert_eq!(
        hart[pxi::state::H_AUX],
        7,
        "r1 restored to 7 and `exit r1` ran"
    );
    assert_eq!(hart[pxi::state::H_SP], 1, "the stack came back too");

    // A context with a bad depth or pc traps.
    let mut m = Machine::new(&img, Limits::default());
    m.harts[4] = 99;
    m.run_rounds(1);
    let traps = m.traps(&img);
    assert_eq!(
        (traps[0].kind, traps[0].info),
        (TrapKind::JumpOutOfCode, 99)
    );
}
