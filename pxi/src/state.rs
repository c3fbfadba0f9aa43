//! Machine state as plain words — the layout every executor shares.
//!
//! The CPU interpreter keeps exactly these words in `Vec<u32>`s and the GPU
//! runtime keeps them in storage buffers, so comparing two executors is
//! comparing word arrays. The WGSL constants are generated from this module.

use core::fmt;

use crate::isa::{Instruction, REGISTERS};

/// Depth of each hart's stack (return addresses and `push`ed words).
pub const STACK_DEPTH: usize = 32;

/// Hart word: first register.
pub const H_REGS: usize = 0;
/// Hart word: program counter (code address).
pub const H_PC: usize = REGISTERS;
/// Context block word (trap frames, `uret`): first register.
pub const CTX_REGS: usize = 0;
/// Context block word: pc to continue at.
pub const CTX_PC: usize = REGISTERS;
/// Context block word: flags.
pub const CTX_FLAGS: usize = REGISTERS + 1;
/// Context block word: stack depth.
pub const CTX_SP: usize = REGISTERS + 2;
/// Context block words: the stack.
pub const CTX_STACK: usize = REGISTERS + 3;
/// Words in a context block.
pub const CTX_WORDS: usize = CTX_STACK + STACK_DEPTH;

/// Hart word: flags ([`FLAG_Z`], [`FLAG_LT`], [`FLAG_LTU`]).
pub const H_FLAGS: usize = REGISTERS + 1;
/// Hart word: one of the `HART_*` states.
pub const H_STATUS: usize = REGISTERS + 2;
/// Hart word: stack depth in use.
pub const H_SP: usize = REGISTERS + 3;
/// Hart word: instructions executed by this hart (wrapping).
pub const H_STEPS: usize = REGISTERS + 4;
/// Hart word: instructions executed in the last round it ran.
pub const H_SLICE: usize = REGISTERS + 5;
/// Hart word: exit code ([`HART_EXITED`]), mailbox slot ([`HART_WAITING`]) or trap kind ([`HART_TRAPPED`]).
pub const H_AUX: usize = REGISTERS + 6;
/// Hart word: trap detail (address, target or pixel).
pub const H_INFO: usize = REGISTERS + 7;
/// Hart word: user-mode timer countdown in instructions (0 = disarmed), see `timer`.
pub const H_TIMER: usize = REGISTERS + 8;
/// Hart word: [`MODE_KERNEL`] or [`MODE_USER`].
pub const H_MODE: usize = REGISTERS + 9;
/// Hart word: the trap vector (code address), or [`NO_VECTOR`]; see `tvec`.
pub const H_TVEC: usize = REGISTERS + 10;
/// Hart word: the trap frame, the context block user-mode traps save into (set by `uret`).
pub const H_FRAME: usize = REGISTERS + 11;
/// Hart word: user code window base (code address), see `window`.
pub const H_UCODE_BASE: usize = REGISTERS + 12;
/// Hart word: user code window length in pixels.
pub const H_UCODE_LEN: usize = REGISTERS + 13;
/// Hart word: user data window base (word address).
pub const H_UDATA_BASE: usize = REGISTERS + 14;
/// Hart word: user data window length in words.
pub const H_UDATA_LEN: usize = REGISTERS + 15;
/// Hart words: the stack.
pub const H_STACK: usize = REGISTERS + 16;
/// Words per hart.
pub const HART_WORDS: usize = H_STACK + STACK_DEPTH;

/// Mode: kernel — the whole code and data memory, every instruction allowed.
pub const MODE_KERNEL: u32 = 0;
/// Mode: user — code and data windows, privileged instructions trap into the kernel.
pub const MODE_USER: u32 = 1;
/// [`H_TVEC`] value meaning "no trap vector set" (`uret` traps then).
pub const NO_VECTOR: u32 = u32::MAX;
/// Trap cause (in `r0` on kernel entry): the user program executed `ecall`.
/// Faults use their [`TrapKind`] number as the cause.
pub const CAUSE_ECALL: u32 = 16;
/// Trap cause: the user-mode timer expired.
pub const CAUSE_TIMER: u32 = 17;

/// Flag: last `cmp` found equal.
pub const FLAG_Z: u32 = 1;
/// Flag: last `cmp` found signed less.
pub const FLAG_LT: u32 = 2;
/// Flag: last `cmp` found unsigned less.
pub const FLAG_LTU: u32 = 4;

/// Hart state: slot never used.
pub const HART_FREE: u32 = 0;
/// Hart state: runs when scheduled.
pub const HART_RUNNABLE: u32 = 1;
/// Hart state: executed `syscall`, not yet posted to the mailbox.
pub const HART_SYSCALL: u32 = 2;
/// Hart state: request posted in mailbox slot `aux`, waiting for the reply.
pub const HART_WAITING: u32 = 3;
/// Hart state: executed `spawn`, resolved at the end of the round.
pub const HART_SPAWN: u32 = 4;
/// Hart state: exited with code `aux`; the slot may be reused.
pub const HART_EXITED: u32 = 5;
/// Hart state: stopped by a trap of kind `aux`.
pub const HART_TRAPPED: u32 = 6;

/// Control word: rounds completed.
pub const C_ROUND: usize = 0;
/// Control word: total instructions executed, low half.
pub const C_STEPS_LO: usize = 1;
/// Control word: total instructions executed, high half.
pub const C_STEPS_HI: usize = 2;
/// Control word: one of the `MACHINE_*` states.
pub const C_STATUS: usize = 3;
/// Control word: next mailbox sequence number.
pub const C_SEQ: usize = 4;
/// Control word: instructions executed in the current round.
pub const C_ROUND_STEPS: usize = 5;
/// Control word: step budget, low half.
pub const C_BUDGET_LO: usize = 6;
/// Control word: step budget, high half.
pub const C_BUDGET_HI: usize = 7;
/// Control word: steps each hart may run per round.
pub const C_SLICE: usize = 8;
/// Words in the control block.
pub const CONTROL_WORDS: usize = 16;

/// Machine state: running.
pub const MACHINE_RUNNING: u32 = 0;
/// Machine state: no hart is left alive.
pub const MACHINE_ALL_EXITED: u32 = 1;
/// Machine state: a hart trapped (the machine stops at the end of that round).
pub const MACHINE_TRAPPED: u32 = 2;
/// Machine state: the step budget is spent.
pub const MACHINE_BUDGET: u32 = 3;

/// Why a hart stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum TrapKind {
    /// The pixel is not a valid instruction (unknown opcode, bad register, stray bits); info = the pixel.
    IllegalInstruction = 1,
    /// A two-pixel instruction at the last code pixel.
    TruncatedInstruction = 2,
    /// The program counter left the code; info = pc.
    PcOutOfCode = 3,
    /// A jump or call to a non-code address; info = target.
    JumpOutOfCode = 4,
    /// A load, store, atomic or vector range outside data memory; info = address.
    MemoryOutOfBounds = 5,
    /// `push` or `call` on a full stack.
    StackOverflow = 6,
    /// `pop` or `ret` on an empty stack.
    StackUnderflow = 7,
    /// Integer division or remainder by zero.
    DivisionByZero = 8,
    /// A vector instruction whose destination partly overlaps a source; info = destination.
    VectorOverlap = 9,
    /// A privileged instruction in user mode; info = the pixel.
    Privileged = 10,
    /// A tensor instruction whose lengths, group size or head size do not fit its rules (docs/tensor.md).
    TensorShape = 11,
}

impl TrapKind {
    /// Decode a hart's `aux` word.
    pub const fn from_u32(n: u32) -> Option<TrapKind> {
        use TrapKind::*;
        Some(match n {
            1 => IllegalInstruction,
            2 => TruncatedInstruction,
            3 => PcOutOfCode,
            4 => JumpOutOfCode,
            5 => MemoryOutOfBounds,
            6 => StackOverflow,
            7 => StackUnderflow,
            8 => DivisionByZero,
            9 => VectorOverlap,
            10 => Privileged,
            11 => TensorShape,
            _ => return None,
        })
    }

    /// Every kind, for generated constants and docs.
    pub const ALL: [TrapKind; 11] = [
        TrapKind::IllegalInstruction,
        TrapKind::TruncatedInstruction,
        TrapKind::PcOutOfCode,
        TrapKind::JumpOutOfCode,
        TrapKind::MemoryOutOfBounds,
        TrapKind::StackOverflow,
        TrapKind::StackUnderflow,
        TrapKind::DivisionByZero,
        TrapKind::VectorOverlap,
        TrapKind::Privileged,
        TrapKind::TensorShape,
    ];
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrapKind::IllegalInstruction => "illegal instruction",
            TrapKind::TruncatedInstruction => "truncated instruction",
            TrapKind::PcOutOfCode => "program counter outside code",
            TrapKind::JumpOutOfCode => "jump outside code",
            TrapKind::MemoryOutOfBounds => "memory access out of bounds",
            TrapKind::StackOverflow => "stack overflow",
            TrapKind::StackUnderflow => "stack underflow",
            TrapKind::DivisionByZero => "division by zero",
            TrapKind::VectorOverlap => "overlapping vector ranges",
            TrapKind::Privileged => "privileged instruction in user mode",
            TrapKind::TensorShape => "tensor shape outside the instruction's rules",
        })
    }
}

/// A trapped hart, with everything needed to find the fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trap {
    /// Hart id.
    pub hart: u32,
    /// What happened.
    pub kind: TrapKind,
    /// Code address of the faulting instruction.
    pub pc: u32,
    /// (x, y) of that pixel in the image.
    pub pixel: (u32, u32),
    /// Trap detail (see [`TrapKind`]).
    pub info: u32,
    /// The faulting instruction, when it decodes.
    pub instruction: Option<Instruction>,
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "hart {} trapped: {} at pc {} (pixel {},{})",
            self.hart, self.kind, self.pc, self.pixel.0, self.pixel.1
        )?;
        match self.kind {
            TrapKind::IllegalInstruction | TrapKind::Privileged => {
                write!(f, ", pixel value {:02x?}", self.info.to_le_bytes())?
            }
            TrapKind::JumpOutOfCode => write!(f, ", target {}", self.info)?,
            TrapKind::MemoryOutOfBounds => write!(f, ", address {}", self.info)?,
            TrapKind::VectorOverlap => write!(f, ", destination {}", self.info)?,
            _ => {}
        }
        if let Some(inst) = &self.instruction {
            write!(f, " in `{inst}`")?;
        }
        Ok(())
    }
}

/// How a run ended (or that it has not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MachineStatus {
    /// Still running.
    Running,
    /// Every hart exited.
    AllExited,
    /// A hart trapped.
    Trapped,
    /// The step budget ran out.
    BudgetExhausted,
}

impl MachineStatus {
    /// Decode the control block's status word.
    pub const fn from_u32(n: u32) -> Option<MachineStatus> {
        Some(match n {
            MACHINE_RUNNING => MachineStatus::Running,
            MACHINE_ALL_EXITED => MachineStatus::AllExited,
            MACHINE_TRAPPED => MachineStatus::Trapped,
            MACHINE_BUDGET => MachineStatus::BudgetExhausted,
            _ => return None,
        })
    }
}

/// Total steps from a control block.
pub fn total_steps(control: &[u32]) -> u64 {
    control[C_STEPS_LO] as u64 | (control[C_STEPS_HI] as u64) << 32
}

/// Machine constants every program may use by name: the assembler predefines
/// them (as it does the `SYS_*` calls) and `docs/isa.md` lists them, so a
/// kernel written in PXI never copies a layout number by hand.
pub const CONSTANTS: &[(&str, u32, &str)] = &[
    (
        "CTX_REGS",
        CTX_REGS as u32,
        "context block: first register (r0)",
    ),
    (
        "CTX_PC",
        CTX_PC as u32,
        "context block: the pc to continue at",
    ),
    ("CTX_FLAGS", CTX_FLAGS as u32, "context block: flags"),
    ("CTX_SP", CTX_SP as u32, "context block: stack depth"),
    (
        "CTX_STACK",
        CTX_STACK as u32,
        "context block: the 32 stack words",
    ),
    ("CTX_WORDS", CTX_WORDS as u32, "words in a context block"),
    ("STACK_DEPTH", STACK_DEPTH as u32, "depth of a hart's stack"),
    ("MODE_KERNEL", MODE_KERNEL, "kernel mode"),
    ("MODE_USER", MODE_USER, "user mode"),
    ("CAUSE_ECALL", CAUSE_ECALL, "trap cause: `ecall`"),
    (
        "CAUSE_TIMER",
        CAUSE_TIMER,
        "trap cause: the user-mode timer expired",
    ),
    (
        "TRAP_ILLEGAL_INSTRUCTION",
        TrapKind::IllegalInstruction as u32,
        "fault: not an instruction",
    ),
    (
        "TRAP_TRUNCATED_INSTRUCTION",
        TrapKind::TruncatedInstruction as u32,
        "fault: truncated instruction",
    ),
    (
        "TRAP_PC_OUT_OF_CODE",
        TrapKind::PcOutOfCode as u32,
        "fault: pc left the code window",
    ),
    (
        "TRAP_JUMP_OUT_OF_CODE",
        TrapKind::JumpOutOfCode as u32,
        "fault: jump outside the code window",
    ),
    (
        "TRAP_MEMORY_OUT_OF_BOUNDS",
        TrapKind::MemoryOutOfBounds as u32,
        "fault: access outside the data window",
    ),
    (
        "TRAP_STACK_OVERFLOW",
        TrapKind::StackOverflow as u32,
        "fault: stack overflow",
    ),
    (
        "TRAP_STACK_UNDERFLOW",
        TrapKind::StackUnderflow as u32,
        "fault: stack underflow",
    ),
    (
        "TRAP_DIVISION_BY_ZERO",
        TrapKind::DivisionByZero as u32,
        "fault: division by zero",
    ),
    (
        "TRAP_VECTOR_OVERLAP",
        TrapKind::VectorOverlap as u32,
        "fault: overlapping vector ranges",
    ),
    (
        "TRAP_PRIVILEGED",
        TrapKind::Privileged as u32,
        "fault: privileged instruction in user mode",
    ),
    (
        "TRAP_TENSOR_SHAPE",
        TrapKind::TensorShape as u32,
        "fault: tensor shape outside the instruction's rules",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::String;

    /// `TRAP_MEMORY_OUT_OF_BOUNDS` from `MemoryOutOfBounds`.
    fn constant_name(kind: TrapKind) -> String {
        let mut name = String::from("TRAP");
        for ch in format!("{kind:?}").chars() {
            if ch.is_ascii_uppercase() {
                name.push('_');
            }
            name.push(ch.to_ascii_uppercase());
        }
        name
    }

    #[test]
    fn every_trap_kind_is_a_named_constant() {
        for kind in TrapKind::ALL {
            let name = constant_name(kind);
            let row = CONSTANTS.iter().find(|row| row.0 == name);
            assert_eq!(row.map(|r| r.1), Some(kind as u32), "{name}");
            assert_eq!(TrapKind::from_u32(kind as u32), Some(kind));
        }
        assert!(TrapKind::ALL.iter().all(|&k| (k as u32) < CAUSE_ECALL));
    }
}
