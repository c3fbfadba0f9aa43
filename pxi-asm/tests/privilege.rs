//! User mode on the CPU reference interpreter: windows, `ecall`, the timer,
//! faults entering the kernel, and the checks of the privileged
//! instructions. (The GPU runs the same semantics: the differential tests'
//! `User` flavour and the os sessions compare it word for word.)

mod common;

use pxi::run::Stop;
use pxi::state::*;
use pxi::{Machine, TrapKind};

fn run(source: &str) -> (Stop, Machine) {
    let image = common::assemble(source).image;
    let (outcome, _, machine) = common::run(&image);
    (outcome.stop, machine)
}

/// Runs `user` until its first trap; returns (cause, info, saved pc, machine).
fn first_trap(user: &str) -> (u32, u32, u32, Machine) {
    let (stop, m) = run(&common::user_kernel("", "", user));
    assert_eq!(stop, Stop::AllExited, "{user}");
    let hart = m.hart(0);
    assert_eq!(hart[H_MODE], MODE_KERNEL);
    assert_eq!(hart[2], 0, "r2 = the frame");
    (hart[H_AUX], hart[1], m.memory[CTX_PC], m)
}

#[test]
fn data_addresses_are_relative_to_the_window() {
    let (cause, _, _, m) = first_trap("li r1, 7\nli r2, 5\nst r1, r2, 3\nld r3, r2, 3\necall");
    assert_eq!(cause, CAUSE_ECALL);
    assert_eq!(m.memory[64 + 8], 7, "user address 8 is word 72");
    assert_eq!(
        m.memory[CTX_REGS + 3],
        7,
        "the frame holds the user's registers"
    );
}

#[test]
fn ecall_saves_the_pc_after_it_and_uret_resumes_there() {
    // The handler answers every ecall with r0 = 42 and resumes; the user exits via a fault.
    let handler = "
            li r6, 0x10
            cmp r0, r6
            jne done
            li r6, 42
            st r6, r2, CTX_REGS
            uret r2
        done:";
    let (stop, m) = run(&common::user_kernel(
        "",
        handler,
        "ecall\nmov r7, r0\nli r8, 0xFFFF\nld r9, r8, 0",
    ));
    assert_eq!(stop, Stop::AllExited);
    assert_eq!(m.hart(0)[H_AUX], TrapKind::MemoryOutOfBounds as u32);
    assert_eq!(m.hart(0)[1], 0xFFFF, "info = the user address");
    assert_eq!(
        m.memory[CTX_REGS + 7],
        42,
        "the user saw the kernel's answer"
    );
    assert_eq!(m.memory[CTX_PC], 4, "the faulting ld, window-relative");
}

#[test]
fn jumps_are_relative_to_the_code_window() {
    let (cause, _, pc, _) = first_trap("jmp skip - user\nnop\nskip: ecall");
    assert_eq!((cause, pc), (CAUSE_ECALL, 4));
    let (cause, info, pc, _) = first_trap("li r1, 100\njr r1");
    assert_eq!((cause, info, pc), (TrapKind::JumpOutOfCode as u32, 100, 2));
    let (cause, info, _, _) = first_trap("nop");
    assert_eq!(
        (cause, info),
        (TrapKind::PcOutOfCode as u32, 1),
        "ran off the window"
    );
}

#[test]
fn every_privileged_instruction_traps_in_user_mode() {
    for inst in [
        "syscall",
        "exit r1",
        "spawn r1, r2, r3",
        "timer r1",
        "tvec r1",
        "uret r1",
        "window r1, r2, r3, r4",
    ] {
        let (cause, info, pc, _) = first_trap(&format!("nop\n{inst}"));
        assert_eq!((cause, pc), (TrapKind::Privileged as u32, 1), "{inst}");
        let word = common::assemble(inst).image.code[0];
        assert_eq!(
            info, word,
            "{inst}: the detail is the instruction's first word"
        );
    }
}

#[test]
fn faults_in_user_mode_enter_the_kernel() {
    let cases = [
        ("li r1, 0\ndivu r2, r2, r1", TrapKind::DivisionByZero),
        ("pop r1", TrapKind::StackUnderflow),
        (
            "li r1, 60\nli r2, 10\nvfill r1, r2, r2",
            TrapKind::MemoryOutOfBounds,
        ),
        (
            "li r1, 0\nli r2, 64\naadd r3, r2, r1",
            TrapKind::MemoryOutOfBounds,
        ),
        (".pixel 0x000000EE", TrapKind::IllegalInstruction),
    ];
    for (user, kind) in cases {
        let (cause, _, _, _) = first_trap(user);
        assert_eq!(cause, kind as u32, "{user}");
    }
}

#[test]
fn the_timer_counts_user_instructions_only() {
    // Armed for 3: the kernel's own instructions do not count; the 3rd user instruction is the last.
    let (cause, _, pc, m) = first_trap_with(
        "li r6, 3\ntimer r6",
        "addi r1, r1, 1\naddi r1, r1, 1\naddi r1, r1, 1\naddi r1, r1, 1\necall",
    );
    assert_eq!((cause, pc), (CAUSE_TIMER, 3));
    assert_eq!(m.memory[CTX_REGS + 1], 3);
    assert_eq!(m.hart(0)[H_TIMER], 0, "one-shot");
}

fn first_trap_with(setup: &str, user: &str) -> (u32, u32, u32, Machine) {
    let (stop, m) = run(&common::user_kernel(setup, "", user));
    assert_eq!(stop, Stop::AllExited);
    let hart = m.hart(0);
    (hart[H_AUX], hart[1], m.memory[CTX_PC], m)
}

#[test]
fn ecall_in_kernel_mode_is_illegal() {
    let (stop, m) = run("ecall");
    assert_eq!(stop, Stop::Trapped);
    assert_eq!(m.hart(0)[H_AUX], TrapKind::IllegalInstruction as u32);
}

/// The kernel's own mistakes with the privileged instructions stop the machine.
#[test]
fn bad_windows_frames_and_vectors_are_machine_traps() {
    let trap = |source: &str| {
        let (stop, m) = run(source);
        assert_eq!(stop, Stop::Trapped, "{source}");
        let hart = m.hart(0);
        (TrapKind::from_u32(hart[H_AUX]).unwrap(), hart[H_INFO])
    };
    use TrapKind::*;
    assert_eq!(trap("li r1, 99\ntvec r1"), (JumpOutOfCode, 99));
    assert_eq!(
        trap(".memory 8\nli r1, 0\nli r2, 9\nwindow r1, r1, r1, r2"),
        (MemoryOutOfBounds, 0)
    );
    assert_eq!(
        trap("li r1, 1\nli r2, 9\nwindow r1, r2, r1, r1"),
        (JumpOutOfCode, 1)
    );
    assert_eq!(
        trap(".memory 64\nli r1, 20\nuret r1"),
        (MemoryOutOfBounds, 20)
    );
    let no_vector = ".memory 64\nli r1, 0\nli r2, 5\nwindow r1, r2, r1, r1\nli r1, 0\nuret r1";
    assert_eq!(trap(no_vector), (JumpOutOfCode, NO_VECTOR));
}

#[test]
fn spawned_harts_inherit_the_trap_vector() {
    let source = "
        .harts 2
            li r1, 3
            tvec r1
            li r2, child
            spawn r3, r2, r1
            exit r0
        child:
            exit r0";
    let (stop, m) = run(source);
    assert_eq!(stop, Stop::AllExited);
    assert_eq!(m.hart(1)[H_TVEC], 3);
    assert_eq!(m.hart(0)[H_TVEC], 3);
}

#[test]
fn counts_are_per_physical_pixel() {
    let source = common::user_kernel("", "", "nop\necall");
    let image = common::assemble(&source).image;
    let (_, _, m) = common::run(&image);
    let user = image.code.len() - 2;
    assert_eq!(&m.counts[user..], &[1, 1], "the user's nop and ecall");
}

/// A frame whose pc is past the window (an `ecall` as the last instruction)
/// is resumed: the fetch faults in user mode and the kernel gets it.
#[test]
fn resuming_past_the_window_faults_in_user_mode() {
    let handler = "
            li r6, 0x10
            cmp r0, r6
            jne done
            uret r2             ; resume after the ecall: past the window
        done:";
    let (stop, m) = run(&common::user_kernel("", handler, "ecall"));
    assert_eq!(stop, Stop::AllExited);
    assert_eq!(m.hart(0)[H_AUX], TrapKind::PcOutOfCode as u32);
    assert_eq!(m.hart(0)[1], 1, "info = the pc");
}
