//! The PXI instruction set: one table, everything else derived from it.
//!
//! Every instruction starts with one *opcode pixel* whose four channels are laid
//! out the same way for every opcode:
//!
//! | channel | byte | field |
//! |---|---|---|
//! | R | 0 | opcode |
//! | G | 1 | `a`: register (or unused) |
//! | B | 2 | `b`: register (or unused) |
//! | A | 3 | `c`: register or 8-bit immediate (or unused) |
//!
//! Two-pixel instructions carry a 32-bit *extension word* in the following
//! pixel (little-endian RGBA bytes); for the four-register vector form its low
//! byte is the fourth register `d`. Because the fields never move, a decoder
//! (the CPU's or the GPU's) extracts them without looking at the opcode first.
//!
//! The [`isa!`] table below is the single source of truth: the [`Op`] enum,
//! the encoder and decoder, mnemonics, `docs/isa.md` and the WGSL constants
//! are all generated from it.

use core::fmt;

/// Number of general-purpose registers per hart (`r0`..`r15`).
pub const REGISTERS: usize = 16;

/// How an instruction's operands sit in its pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Form {
    /// `op`
    None,
    /// `op ra`
    A,
    /// `op ra, rb`
    AB,
    /// `op ra, rb, rc`
    ABC,
    /// `op ra, rb, imm8` — unsigned 8-bit immediate (0..=255) in `c`
    ABU,
    /// `op ra, rb, imm8` — signed 8-bit immediate (-128..=127) in `c`
    ABS,
    /// `op ra, word` — 32-bit word in the next pixel
    AW,
    /// `op word` — 32-bit word (usually a code address) in the next pixel
    W,
    /// `op ra, rb, rc, rd` — `rd` in the low byte of the next pixel
    ABCD,
}

/// The kind of one operand as written in assembly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OperandKind {
    /// A register `r0`..`r15`.
    Reg,
    /// An unsigned 8-bit immediate.
    U8,
    /// A signed 8-bit immediate.
    S8,
    /// A 32-bit word: a number or a label.
    Word,
}

impl Form {
    /// Length of the instruction in pixels.
    #[allow(clippy::len_without_is_empty)] // never empty: one or two pixels
    pub const fn len(self) -> u32 {
        match self {
            Form::AW | Form::W | Form::ABCD => 2,
            _ => 1,
        }
    }

    /// Operand kinds in assembly order.
    pub const fn operands(self) -> &'static [OperandKind] {
        use OperandKind::*;
        match self {
            Form::None => &[],
            Form::A => &[Reg],
            Form::AB => &[Reg, Reg],
            Form::ABC => &[Reg, Reg, Reg],
            Form::ABU => &[Reg, Reg, U8],
            Form::ABS => &[Reg, Reg, S8],
            Form::AW => &[Reg, Word],
            Form::W => &[Word],
            Form::ABCD => &[Reg, Reg, Reg, Reg],
        }
    }

    /// Bit mask of the opcode-pixel fields (`a`=1, `b`=2, `c`=4) and the
    /// extension byte (`d`=8) that hold registers; decoders reject values ≥ 16 there.
    pub const fn register_mask(self) -> u32 {
        match self {
            Form::None | Form::W => 0,
            Form::A | Form::AW => 1,
            Form::AB | Form::ABU | Form::ABS => 3,
            Form::ABC => 7,
            Form::ABCD => 15,
        }
    }

    /// Name used in the documentation.
    pub const fn name(self) -> &'static str {
        match self {
            Form::None => "—",
            Form::A => "ra",
            Form::AB => "ra, rb",
            Form::ABC => "ra, rb, rc",
            Form::ABU => "ra, rb, u8",
            Form::ABS => "ra, rb, s8",
            Form::AW => "ra, word",
            Form::W => "word",
            Form::ABCD => "ra, rb, rc, rd",
        }
    }
}

/// What family an instruction belongs to (documentation and runtime grouping).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// Machine control: nothing, harts, syscalls.
    System,
    /// Register moves and data memory.
    Memory,
    /// Scalar integer arithmetic and logic (wrapping, 32-bit).
    Alu,
    /// Compare, jumps, calls.
    Control,
    /// Atomic read-modify-write on shared memory.
    Atomic,
    /// Coarse vector instructions over memory ranges; each ends the hart's slice.
    Vector,
    /// f32 arithmetic on register bits (`docs/tensor.md`).
    Float,
    /// Coarse f32/Q8 tensor instructions over memory ranges; each ends the hart's slice (`docs/tensor.md`).
    Tensor,
}

impl Class {
    /// Heading used in the documentation.
    pub const fn title(self) -> &'static str {
        match self {
            Class::System => "System and harts",
            Class::Memory => "Registers and memory",
            Class::Alu => "Integer arithmetic and logic",
            Class::Control => "Compare and control flow",
            Class::Atomic => "Atomics",
            Class::Vector => "Vector (coarse) instructions",
            Class::Float => "Float (f32) instructions",
            Class::Tensor => "Tensor (coarse f32/Q8) instructions",
        }
    }
}

/// One row of the ISA table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpInfo {
    /// The opcode.
    pub op: Op,
    /// The R byte.
    pub byte: u8,
    /// Assembly mnemonic.
    pub mnemonic: &'static str,
    /// Operand layout.
    pub form: Form,
    /// Family.
    pub class: Class,
    /// One-line semantics.
    pub doc: &'static str,
}

macro_rules! isa {
    ($( $variant:ident = $byte:literal, $mnemonic:literal, $form:ident, $class:ident, $doc:literal; )*) => {
        /// A PXI opcode (the R channel of an opcode pixel).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Op {
            $( #[doc = $doc] $variant = $byte, )*
        }

        /// The ISA table, in opcode order.
        pub const TABLE: &[OpInfo] = &[
            $( OpInfo {
                op: Op::$variant,
                byte: $byte,
                mnemonic: $mnemonic,
                form: Form::$form,
                class: Class::$class,
                doc: $doc,
            }, )*
        ];

        /// Index into [`TABLE`] of each assigned opcode byte.
        const ROW_OF_BYTE: [u8; 256] = {
            let mut rows = [0u8; 256];
            let mut i = 0;
            while i < TABLE.len() {
                rows[TABLE[i].byte as usize] = i as u8;
                i += 1;
            }
            rows
        };

        impl Op {
            /// Decode an R byte.
            pub const fn from_byte(byte: u8) -> Option<Op> {
                match byte {
                    $( $byte => Some(Op::$variant), )*
                    _ => None,
                }
            }

            /// This opcode's table row.
            pub const fn info(self) -> &'static OpInfo {
                &TABLE[ROW_OF_BYTE[self as usize] as usize]
            }
        }
    };
}

isa! {
    Nop     = 0x00, "nop",     None, System,  "Do nothing.";
    Exit    = 0x01, "exit",    A,    System,  "End this hart with exit code `ra`; its slot becomes free for `spawn`.";
    Yield   = 0x02, "yield",   None, System,  "End this hart's slice; it runs again next round.";
    Syscall = 0x03, "syscall", None, System,  "Post request `r0` (args `r1`..`r3`) to the mailbox and wait; the reply lands in `r0`. Ends the slice, unless the call needs no reply (console output: posted at the end of the round, result at once).";
    Spawn   = 0x04, "spawn",   ABC,  System,  "Start a new hart at code address `rb` with its `r1` = `rc`; `ra` = its id, or 0xFFFFFFFF when no slot is free. Resolved at the end of the round; ends the slice.";
    HartId  = 0x05, "hartid",  A,    System,  "`ra` = this hart's id.";
    Timer   = 0x06, "timer",   A,    System,  "Privileged. Arm the user-mode timer: after `ra` more instructions run in user mode the hart traps into the kernel with cause `CAUSE_TIMER`; `ra` = 0 disarms. Kernel-mode instructions do not count.";
    Tvec    = 0x07, "tvec",    A,    System,  "Privileged. Set the trap vector to code address `ra`: user-mode faults, `ecall` and the timer enter the kernel there. Traps if `ra` is not a code address.";
    Window  = 0x08, "window",  ABCD, System,  "Privileged. Set the user windows: code [`ra`, `ra`+`rb`) and data [`rc`, `rc`+`rd`). Traps unless both lie inside the image's code and data memory.";
    Uret    = 0x09, "uret",    A,    System,  "Privileged. Enter user mode with the context block at mem[`ra`..+51] (r0..r15, pc, flags, stack depth, stack); that block becomes the trap frame. Traps on a block outside memory, a depth over 32 or no trap vector (a pc outside the code window faults in user mode).";
    Ecall   = 0x0A, "ecall",   None, System,  "User mode: trap into the kernel with cause `CAUSE_ECALL`, resuming after the `ecall` on return. Illegal in kernel mode.";
    Li      = 0x10, "li",      AW,   Memory,  "`ra` = word.";
    Mov     = 0x11, "mov",     AB,   Memory,  "`ra` = `rb`.";
    Ld      = 0x12, "ld",      ABU,  Memory,  "`ra` = mem[`rb` + u8].";
    St      = 0x13, "st",      ABU,  Memory,  "mem[`rb` + u8] = `ra`.";
    Push    = 0x14, "push",    A,    Memory,  "Push `ra` on the hart's stack.";
    Pop     = 0x15, "pop",     A,    Memory,  "Pop the hart's stack into `ra`.";
    Add     = 0x20, "add",     ABC,  Alu,     "`ra` = `rb` + `rc` (wrapping).";
    Sub     = 0x21, "sub",     ABC,  Alu,     "`ra` = `rb` - `rc` (wrapping).";
    Mul     = 0x22, "mul",     ABC,  Alu,     "`ra` = low 32 bits of `rb` × `rc`.";
    Mulhu   = 0x23, "mulhu",   ABC,  Alu,     "`ra` = high 32 bits of unsigned `rb` × `rc`.";
    Divu    = 0x24, "divu",    ABC,  Alu,     "`ra` = `rb` / `rc` unsigned; traps when `rc` = 0.";
    Remu    = 0x25, "remu",    ABC,  Alu,     "`ra` = `rb` % `rc` unsigned; traps when `rc` = 0.";
    Div     = 0x26, "div",     ABC,  Alu,     "`ra` = `rb` / `rc` signed, rounding toward zero (wrapping); traps when `rc` = 0.";
    Rem     = 0x27, "rem",     ABC,  Alu,     "`ra` = `rb` % `rc` signed, sign of `rb` (wrapping); traps when `rc` = 0.";
    And     = 0x28, "and",     ABC,  Alu,     "`ra` = `rb` & `rc`.";
    Or      = 0x29, "or",      ABC,  Alu,     "`ra` = `rb` | `rc`.";
    Xor     = 0x2A, "xor",     ABC,  Alu,     "`ra` = `rb` ^ `rc`.";
    Shl     = 0x2B, "shl",     ABC,  Alu,     "`ra` = `rb` << (`rc` & 31).";
    Shr     = 0x2C, "shr",     ABC,  Alu,     "`ra` = `rb` >> (`rc` & 31), logical.";
    Sar     = 0x2D, "sar",     ABC,  Alu,     "`ra` = `rb` >> (`rc` & 31), arithmetic.";
    Slt     = 0x2E, "slt",     ABC,  Alu,     "`ra` = 1 if `rb` < `rc` signed, else 0.";
    Sltu    = 0x2F, "sltu",    ABC,  Alu,     "`ra` = 1 if `rb` < `rc` unsigned, else 0.";
    Seq     = 0x30, "seq",     ABC,  Alu,     "`ra` = 1 if `rb` = `rc`, else 0.";
    Minu    = 0x31, "minu",    ABC,  Alu,     "`ra` = unsigned minimum of `rb` and `rc`.";
    Maxu    = 0x32, "maxu",    ABC,  Alu,     "`ra` = unsigned maximum of `rb` and `rc`.";
    Addi    = 0x38, "addi",    ABS,  Alu,     "`ra` = `rb` + s8 (wrapping).";
    Shli    = 0x39, "shli",    ABU,  Alu,     "`ra` = `rb` << (u8 & 31).";
    Shri    = 0x3A, "shri",    ABU,  Alu,     "`ra` = `rb` >> (u8 & 31), logical.";
    Andi    = 0x3B, "andi",    ABU,  Alu,     "`ra` = `rb` & u8.";
    Cmp     = 0x40, "cmp",     AB,   Control, "Set flags from `ra` vs `rb`: Z (equal), LT (signed less), LTU (unsigned less).";
    Jmp     = 0x41, "jmp",     W,    Control, "Jump to word.";
    Jeq     = 0x42, "jeq",     W,    Control, "Jump to word if Z.";
    Jne     = 0x43, "jne",     W,    Control, "Jump to word if not Z.";
    Jlt     = 0x44, "jlt",     W,    Control, "Jump to word if LT (signed less).";
    Jge     = 0x45, "jge",     W,    Control, "Jump to word if not LT (signed greater or equal).";
    Jltu    = 0x46, "jltu",    W,    Control, "Jump to word if LTU (unsigned less).";
    Jgeu    = 0x47, "jgeu",    W,    Control, "Jump to word if not LTU (unsigned greater or equal).";
    Call    = 0x48, "call",    W,    Control, "Push the return address, jump to word.";
    Ret     = 0x49, "ret",     None, Control, "Pop the return address and jump to it.";
    Jr      = 0x4A, "jr",      A,    Control, "Jump to the address in `ra`.";
    Callr   = 0x4B, "callr",   A,    Control, "Push the return address, jump to the address in `ra`.";
    Aadd    = 0x50, "aadd",    ABC,  Atomic,  "Atomically: `ra` = mem[`rb`]; mem[`rb`] += `rc`.";
    Axchg   = 0x51, "axchg",   ABC,  Atomic,  "Atomically: `ra` = mem[`rb`]; mem[`rb`] = `rc`.";
    Acas    = 0x52, "acas",    ABC,  Atomic,  "Atomically: old = mem[`rb`]; if old = `ra` then mem[`rb`] = `rc`; `ra` = old.";
    Vfill   = 0x60, "vfill",   ABC,  Vector,  "mem[`ra` + i] = `rb` for i < `rc`.";
    Vcopy   = 0x61, "vcopy",   ABC,  Vector,  "mem[`ra` + i] = mem[`rb` + i] for i < `rc`; overlapping distinct ranges trap.";
    Vadd    = 0x62, "vadd",    ABCD, Vector,  "mem[`ra` + i] = mem[`rb` + i] + mem[`rc` + i] for i < `rd` (wrapping).";
    Vsub    = 0x63, "vsub",    ABCD, Vector,  "mem[`ra` + i] = mem[`rb` + i] - mem[`rc` + i] for i < `rd` (wrapping).";
    Vmul    = 0x64, "vmul",    ABCD, Vector,  "mem[`ra` + i] = mem[`rb` + i] × mem[`rc` + i] for i < `rd` (low 32 bits).";
    Vand    = 0x65, "vand",    ABCD, Vector,  "mem[`ra` + i] = mem[`rb` + i] & mem[`rc` + i] for i < `rd`.";
    Vor     = 0x66, "vor",     ABCD, Vector,  "mem[`ra` + i] = mem[`rb` + i] | mem[`rc` + i] for i < `rd`.";
    Vxor    = 0x67, "vxor",    ABCD, Vector,  "mem[`ra` + i] = mem[`rb` + i] ^ mem[`rc` + i] for i < `rd`.";
    Vminu   = 0x68, "vminu",   ABCD, Vector,  "mem[`ra` + i] = unsigned min(mem[`rb` + i], mem[`rc` + i]) for i < `rd`.";
    Vmaxu   = 0x69, "vmaxu",   ABCD, Vector,  "mem[`ra` + i] = unsigned max(mem[`rb` + i], mem[`rc` + i]) for i < `rd`.";
    Vsum    = 0x6A, "vsum",    ABC,  Vector,  "`ra` = Σ mem[`rb` + i] for i < `rc` (wrapping).";
    Vdot    = 0x6B, "vdot",    ABCD, Vector,  "`ra` = Σ mem[`rb` + i] × mem[`rc` + i] for i < `rd` (wrapping).";
    Vfind   = 0x6C, "vfind",   ABCD, Vector,  "`ra` = the least i < `rc` with mem[`rb` + i] = `rd`, or 0xFFFFFFFF.";
    Fadd    = 0x70, "fadd",    ABC,  Float,   "`ra` = `rb` + `rc` (f32, canonical: see docs/tensor.md).";
    Fsub    = 0x71, "fsub",    ABC,  Float,   "`ra` = `rb` - `rc` (f32).";
    Fmul    = 0x72, "fmul",    ABC,  Float,   "`ra` = `rb` × `rc` (f32).";
    Fdiv    = 0x73, "fdiv",    ABC,  Float,   "`ra` = `rb` ÷ `rc` (f32, correctly rounded in software).";
    Fmin    = 0x74, "fmin",    ABC,  Float,   "`ra` = min(`rb`, `rc`) (f32; -0 < +0; NaN if either is).";
    Fmax    = 0x75, "fmax",    ABC,  Float,   "`ra` = max(`rb`, `rc`) (f32; -0 < +0; NaN if either is).";
    Fneg    = 0x76, "fneg",    AB,   Float,   "`ra` = -`rb` (f32).";
    Fabs    = 0x77, "fabs",    AB,   Float,   "`ra` = |`rb`| (f32).";
    Fsqrt   = 0x78, "fsqrt",   AB,   Float,   "`ra` = √`rb` (f32, correctly rounded in software).";
    Fexp    = 0x79, "fexp",    AB,   Float,   "`ra` = e^`rb` (f32, the algorithm of docs/tensor.md).";
    Fsin    = 0x7A, "fsin",    AB,   Float,   "`ra` = sin `rb` (f32, the algorithm of docs/tensor.md).";
    Fcos    = 0x7B, "fcos",    AB,   Float,   "`ra` = cos `rb` (f32, the algorithm of docs/tensor.md).";
    Fcmp    = 0x7C, "fcmp",    AB,   Float,   "Set flags from f32 `ra` vs `rb`: Z (equal, -0 = +0), LT (less), LTU (unordered: a NaN).";
    Itof    = 0x7D, "itof",    AB,   Float,   "`ra` = signed `rb` as the nearest f32 (ties to even).";
    Ftoi    = 0x7E, "ftoi",    AB,   Float,   "`ra` = f32 `rb` truncated to i32 (saturating; NaN gives 0).";
    Fround  = 0x7F, "fround",  AB,   Float,   "`ra` = f32 `rb` rounded to i32, halves away from zero (saturating; NaN gives 0).";
    Matvec  = 0x80, "matvec",  ABCD, Tensor,  "mem[`ra` + i] = Σ_j mem[`rb` + i·r(d+2) + j] × mem[`rc` + j], j < `rd` in order, for i < r(d+1) (f32).";
    Matvect = 0x81, "matvect", ABCD, Tensor,  "mem[`ra` + i] = Σ_t mem[`rc` + t] × mem[`rb` + t·r(d+2) + i], t < r(d+1) in order, for i < `rd` (f32).";
    Qmatvec = 0x82, "qmatvec", ABCD, Tensor,  "Q8 matrix (`rb`) × Q8 vector (`rc`) → f32 mem[`ra` + i], n = `rd`, rows = r(d+1), group size = r(d+2) (runq.c order).";
    Quant   = 0x83, "quant",   ABCD, Tensor,  "Quantize f32 mem[`rb`..+`rc`] into a Q8 tensor at `ra` with group size `rd` (runq.c `quantize`).";
    Dequant = 0x84, "dequant", ABCD, Tensor,  "mem[`ra` + i] = q8[`rb`][i] × mem[`rc` + i / r(d+1)] for i < `rd` (f32).";
    Rmsnorm = 0x85, "rmsnorm", ABCD, Tensor,  "RMS-normalise f32 mem[`rb`..+`rd`] with weights at `rc` into mem[`ra`..] (llama2.c `rmsnorm`).";
    Softmax = 0x86, "softmax", AB,   Tensor,  "Softmax of f32 mem[`ra`..+`rb`] in place (llama2.c `softmax`).";
    Rope    = 0x87, "rope",    ABCD, Tensor,  "Rotate the f32 pairs of mem[`ra`..+`rb`] by RoPE for head size `rc` at position `rd`.";
    Swiglu  = 0x88, "swiglu",  ABCD, Tensor,  "mem[`ra` + i] = silu(mem[`rb` + i]) × mem[`rc` + i] for i < `rd` (f32).";
    Vfadd   = 0x89, "vfadd",   ABCD, Tensor,  "mem[`ra` + i] = mem[`rb` + i] + mem[`rc` + i] for i < `rd` (f32).";
    Vfmul   = 0x8A, "vfmul",   ABCD, Tensor,  "mem[`ra` + i] = mem[`rb` + i] × mem[`rc` + i] for i < `rd` (f32).";
    Vfmuls  = 0x8B, "vfmuls",  ABCD, Tensor,  "mem[`ra` + i] = mem[`rb` + i] × `rc` for i < `rd` (f32).";
    Vfdivs  = 0x8C, "vfdivs",  ABCD, Tensor,  "mem[`ra` + i] = mem[`rb` + i] ÷ `rc` for i < `rd` (f32).";
    Argmax  = 0x8D, "argmax",  ABC,  Tensor,  "`ra` = index of the first maximum of f32 mem[`rb`..+`rc`], 0xFFFFFFFF if empty.";
    Sample  = 0x8E, "sample",  ABCD, Tensor,  "`ra` = first i < `rc` with Σ_{j≤i} mem[`rb` + j] > f32 `rd`, else `rc` - 1 (llama2.c `sample_mult`).";
    Attn    = 0x8F, "attn",    A,    Tensor,  "Multi-head attention of one position for every head, as llama2.c; operands in the 11-word descriptor at mem[`ra`] (docs/tensor.md).";
}

impl Op {
    /// The assembly mnemonic.
    pub const fn mnemonic(self) -> &'static str {
        self.info().mnemonic
    }

    /// The operand layout.
    pub const fn form(self) -> Form {
        self.info().form
    }

    /// Length in pixels.
    #[allow(clippy::len_without_is_empty)] // never empty: one or two pixels
    pub const fn len(self) -> u32 {
        self.form().len()
    }

    /// Look an opcode up by mnemonic (case-insensitive).
    pub fn from_mnemonic(name: &str) -> Option<Op> {
        TABLE
            .iter()
            .find(|row| row.mnemonic.eq_ignore_ascii_case(name))
            .map(|row| row.op)
    }

    /// Simple instructions touch only registers, flags and at most one memory
    /// word, and can trap only on a checked address or jump target: executors
    /// may run them on a fast path (the GPU's inner loop) and fall back to the
    /// full interpreter for everything else.
    pub const fn is_simple(self) -> bool {
        match self.info().class {
            Class::Alu => !matches!(self, Op::Mulhu | Op::Divu | Op::Remu | Op::Div | Op::Rem),
            Class::Memory => matches!(self, Op::Li | Op::Mov | Op::Ld | Op::St),
            Class::Control => !matches!(self, Op::Call | Op::Ret | Op::Jr | Op::Callr),
            Class::System => matches!(self, Op::Nop | Op::HartId),
            Class::Atomic | Class::Vector | Class::Float | Class::Tensor => false,
        }
    }

    /// Whether this opcode traps with [`TrapKind::Privileged`](crate::TrapKind)
    /// in user mode.
    pub const fn is_privileged(self) -> bool {
        matches!(
            self,
            Op::Exit | Op::Syscall | Op::Spawn | Op::Timer | Op::Tvec | Op::Window | Op::Uret
        )
    }

    /// Whether executing this opcode ends the hart's slice for the round.
    pub const fn ends_slice(self) -> bool {
        matches!(self.info().class, Class::Vector | Class::Tensor)
            || matches!(self, Op::Exit | Op::Yield | Op::Syscall | Op::Spawn)
    }
}

/// What a *pure* instruction does, as a WGSL expression written once here.
///
/// The GPU interpreter's fast path and slow path (`pxi::wgsl::constants`) and
/// the compiler of `shaders::compile` are all generated from these templates,
/// and the differential tests check every one of them against the CPU
/// interpreter (`machine.rs`, the oracle). Placeholders: `$a`, `$b`, `$c` the
/// values of registers `ra`, `rb`, `rc`; `$i` the 8-bit immediate (the `c`
/// field, 0..=255); `$w` the extension word; `$f` the flags; `$id` the hart id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Semantics {
    /// `ra` = the expression (a `u32`).
    Result(&'static str),
    /// flags = the expression (a `u32` of `FLAG_*` bits).
    Flags(&'static str),
    /// Jump to the word when the expression (a `bool`) holds.
    Branch(&'static str),
}

impl Semantics {
    /// The template.
    pub const fn template(self) -> &'static str {
        match self {
            Semantics::Result(t) | Semantics::Flags(t) | Semantics::Branch(t) => t,
        }
    }
}

/// A WGSL template with its placeholders replaced by `values` (`("$b",
/// "r2")`, ...). Longer placeholders are replaced first (`$id` before `$i`).
pub fn expand(template: &str, values: &[(&str, &str)]) -> alloc::string::String {
    let mut sorted: alloc::vec::Vec<&(&str, &str)> = values.iter().collect();
    sorted.sort_by_key(|(name, _)| core::cmp::Reverse(name.len()));
    let mut out = alloc::string::String::from(template);
    for (name, value) in sorted {
        out = out.replace(name, value);
    }
    out
}

impl Op {
    /// The instruction's semantics as a WGSL template, for instructions that
    /// only compute a register, the flags or a branch condition from
    /// registers and fields (never trapping); `None` for the rest, whose
    /// WGSL is written by hand next to the machinery it needs.
    pub const fn semantics(self) -> Option<Semantics> {
        use Semantics::{Branch, Flags, Result};
        Some(match self {
            Op::HartId => Result("$id"),
            Op::Li => Result("$w"),
            Op::Mov => Result("$b"),
            Op::Add => Result("$b + $c"),
            Op::Sub => Result("$b - $c"),
            Op::Mul => Result("$b * $c"),
            Op::Mulhu => Result("mulhu($b, $c)"),
            Op::And => Result("$b & $c"),
            Op::Or => Result("$b | $c"),
            Op::Xor => Result("$b ^ $c"),
            Op::Shl => Result("$b << ($c & 31u)"),
            Op::Shr => Result("$b >> ($c & 31u)"),
            Op::Sar => Result("u32(i32($b) >> ($c & 31u))"),
            Op::Slt => Result("u32(i32($b) < i32($c))"),
            Op::Sltu => Result("u32($b < $c)"),
            Op::Seq => Result("u32($b == $c)"),
            Op::Minu => Result("min($b, $c)"),
            Op::Maxu => Result("max($b, $c)"),
            Op::Addi => Result("$b + u32(i32($i << 24u) >> 24u)"),
            Op::Shli => Result("$b << ($i & 31u)"),
            Op::Shri => Result("$b >> ($i & 31u)"),
            Op::Andi => Result("$b & $i"),
            Op::Cmp => Flags(
                "select(0u, FLAG_Z, $a == $b) | select(0u, FLAG_LT, i32($a) < i32($b)) | select(0u, FLAG_LTU, $a < $b)",
            ),
            Op::Jmp => Branch("true"),
            Op::Jeq => Branch("($f & FLAG_Z) != 0u"),
            Op::Jne => Branch("($f & FLAG_Z) == 0u"),
            Op::Jlt => Branch("($f & FLAG_LT) != 0u"),
            Op::Jge => Branch("($f & FLAG_LT) == 0u"),
            Op::Jltu => Branch("($f & FLAG_LTU) != 0u"),
            Op::Jgeu => Branch("($f & FLAG_LTU) == 0u"),
            _ => return None,
        })
    }
}

/// A decoded instruction. Unused fields are zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Instruction {
    /// Opcode.
    pub op: Op,
    /// G channel.
    pub a: u8,
    /// B channel.
    pub b: u8,
    /// A channel (register or immediate).
    pub c: u8,
    /// Extension word (two-pixel forms), else 0.
    pub word: u32,
}

/// Why a pixel sequence is not a valid instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecodeError {
    /// The R byte is not in the ISA table.
    UnknownOpcode(u8),
    /// A register field holds a value ≥ 16.
    BadRegister {
        /// The opcode.
        op: Op,
        /// The offending field value.
        value: u8,
    },
    /// A two-pixel instruction whose extension pixel lies past the end of code.
    Truncated(Op),
    /// A field the form does not use is non-zero (keeps encodings canonical).
    NonCanonical(Op),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::UnknownOpcode(b) => write!(f, "unknown opcode 0x{b:02x}"),
            DecodeError::BadRegister { op, value } => {
                write!(
                    f,
                    "`{}` names register r{value}, but only r0..r15 exist",
                    op.mnemonic()
                )
            }
            DecodeError::Truncated(op) => {
                write!(
                    f,
                    "`{}` needs an extension pixel past the end of code",
                    op.mnemonic()
                )
            }
            DecodeError::NonCanonical(op) => {
                write!(
                    f,
                    "`{}` has non-zero bits in fields it does not use",
                    op.mnemonic()
                )
            }
        }
    }
}

/// Opcode byte that is never assigned: [`predecode`] marks invalid pixels with it.
pub const INVALID_OPCODE: u8 = 0xFF;

/// [`Predecoded::info`] bit: a *simple* instruction (see [`Op::is_simple`]).
pub const INFO_FAST: u32 = 0x8;
/// [`Predecoded::info`] bits: instruction length in pixels.
pub const INFO_LEN: u32 = 0x3;
/// [`Predecoded::info`] bit: executing the instruction ends the hart's slice.
pub const INFO_ENDS_SLICE: u32 = 0x4;
/// [`Predecoded::info`] bit: a privileged instruction (see [`Op::is_privileged`]).
pub const INFO_PRIVILEGED: u32 = 0x10;
/// [`Predecoded::info`] bit: [`Semantics::Result`] — `ra` = the op's template.
pub const INFO_RESULT: u32 = 0x20;
/// [`Predecoded::info`] bit: [`Semantics::Flags`] — flags = the op's template.
pub const INFO_FLAGS: u32 = 0x40;
/// [`Predecoded::info`] bit: [`Semantics::Branch`] — jump when the op's template holds.
pub const INFO_BRANCH: u32 = 0x80;
/// [`Predecoded::info`] bit, never set by [`predecode`]: a block of the GPU
/// runtime's compiled mode starts here (cleared when its code is rewritten).
pub const INFO_BLOCK: u32 = 0x100;

/// The [`Predecoded::info`] bits of `op`'s [`Semantics`] kind (0 for none).
pub const fn semantics_bits(op: Op) -> u32 {
    match op.semantics() {
        Some(Semantics::Result(_)) => INFO_RESULT,
        Some(Semantics::Flags(_)) => INFO_FLAGS,
        Some(Semantics::Branch(_)) => INFO_BRANCH,
        None => 0,
    }
}

/// Code prepared for executors that cannot afford to validate while running
/// (the GPU), one word per code pixel in each table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Predecoded {
    /// A valid opcode pixel as it is; an invalid one as `INVALID_OPCODE` with
    /// the trap kind in field `a`. Extension pixels are left as they are
    /// (they are only reached as data).
    pub pixels: alloc::vec::Vec<u32>,
    /// What an executor needs besides the fields: length, ends-slice,
    /// simple and privileged flags (0 for pixels that do not decode). Lets the GPU skip a
    /// per-opcode table lookup in its inner loop.
    pub info: alloc::vec::Vec<u32>,
}

/// Decode every code pixel once into the [`Predecoded`] tables.
pub fn predecode(code: &[u32]) -> Predecoded {
    use crate::state::TrapKind;
    let (pixels, info) = (0..code.len())
        .map(|pc| match Instruction::decode(code, pc) {
            Ok(inst) => {
                let ends = if inst.op.ends_slice() {
                    INFO_ENDS_SLICE
                } else {
                    0
                };
                let fast = if inst.op.is_simple() { INFO_FAST } else { 0 };
                let privileged = if inst.op.is_privileged() {
                    INFO_PRIVILEGED
                } else {
                    0
                };
                let kind = semantics_bits(inst.op);
                (code[pc], inst.len() | ends | fast | privileged | kind)
            }
            Err(DecodeError::Truncated(_)) => (
                pixel(INVALID_OPCODE, TrapKind::TruncatedInstruction as u8, 0, 0),
                0,
            ),
            Err(_) => (
                pixel(INVALID_OPCODE, TrapKind::IllegalInstruction as u8, 0, 0),
                0,
            ),
        })
        .unzip();
    Predecoded { pixels, info }
}

/// Pack four channel bytes into a pixel word (R is the low byte).
pub const fn pixel(r: u8, g: u8, b: u8, a: u8) -> u32 {
    u32::from_le_bytes([r, g, b, a])
}

impl Instruction {
    /// An instruction with the given fields.
    pub const fn new(op: Op, a: u8, b: u8, c: u8, word: u32) -> Self {
        Instruction { op, a, b, c, word }
    }

    /// Length in pixels.
    #[allow(clippy::len_without_is_empty)] // never empty: one or two pixels
    pub const fn len(&self) -> u32 {
        self.op.len()
    }

    /// Decode the instruction whose opcode pixel is `code[pc]`.
    pub fn decode(code: &[u32], pc: usize) -> Result<Instruction, DecodeError> {
        let px = code[pc].to_le_bytes();
        let op = Op::from_byte(px[0]).ok_or(DecodeError::UnknownOpcode(px[0]))?;
        let form = op.form();
        let word = if form.len() == 2 {
            *code.get(pc + 1).ok_or(DecodeError::Truncated(op))?
        } else {
            0
        };
        let inst = Instruction {
            op,
            a: px[1],
            b: px[2],
            c: px[3],
            word,
        };
        inst.validate()?;
        Ok(inst)
    }

    /// Check register fields and that unused fields are zero.
    pub fn validate(&self) -> Result<(), DecodeError> {
        let form = self.op.form();
        let regs = form.register_mask();
        let fields = [self.a as u32, self.b as u32, self.c as u32, self.word];
        let used = match form {
            Form::None => 0b0000,
            Form::A => 0b0001,
            Form::AB => 0b0011,
            Form::ABC | Form::ABU | Form::ABS => 0b0111,
            Form::AW => 0b1001,
            Form::W => 0b1000,
            Form::ABCD => 0b1111,
        };
        for (i, &value) in fields.iter().enumerate() {
            let bit = 1 << i;
            if used & bit == 0 && value != 0 {
                return Err(DecodeError::NonCanonical(self.op));
            }
            if regs & bit != 0 && value >= REGISTERS as u32 {
                return Err(DecodeError::BadRegister {
                    op: self.op,
                    value: value as u8,
                });
            }
        }
        Ok(())
    }

    /// Encode into pixels (one or two).
    pub fn encode(&self) -> ([u32; 2], usize) {
        let first = pixel(self.op as u8, self.a, self.b, self.c);
        ([first, self.word], self.len() as usize)
    }

    /// Operand values in assembly order: registers and immediates as numbers,
    /// signed immediates sign-extended, words as they are.
    pub fn operands(&self) -> impl Iterator<Item = (OperandKind, i64)> + '_ {
        let form = self.op.form();
        let fields: &[i64] = &[self.a as i64, self.b as i64, self.c as i64];
        let values: [i64; 4] = match form {
            Form::AW => [self.a as i64, self.word as i64, 0, 0],
            Form::W => [self.word as i64, 0, 0, 0],
            Form::ABS => [fields[0], fields[1], self.c as i8 as i64, 0],
            Form::ABCD => [fields[0], fields[1], fields[2], self.word as i64],
            _ => [fields[0], fields[1], fields[2], 0],
        };
        form.operands().iter().copied().zip(values)
    }
}

impl fmt::Display for Instruction {
    /// Canonical assembly text, words in hex (`li r1, 0x0000002a`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.op.mnemonic())?;
        for (i, (kind, value)) in self.operands().enumerate() {
            f.write_str(if i == 0 { " " } else { ", " })?;
            match kind {
                OperandKind::Reg => write!(f, "r{value}")?,
                OperandKind::U8 | OperandKind::S8 => write!(f, "{value}")?,
                OperandKind::Word => write!(f, "0x{value:08x}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn table_is_consistent() {
        for (i, row) in TABLE.iter().enumerate() {
            assert_eq!(row.op as u8, row.byte);
            assert_eq!(Op::from_byte(row.byte), Some(row.op));
            assert_eq!(Op::from_mnemonic(row.mnemonic), Some(row.op));
            assert_eq!(row.op.info(), row);
            for later in &TABLE[i + 1..] {
                assert!(later.byte > row.byte, "table must be sorted by opcode");
                assert_ne!(later.mnemonic, row.mnemonic);
            }
        }
    }

    #[test]
    fn invalid_opcode_is_unassigned() {
        assert_eq!(Op::from_byte(INVALID_OPCODE), None);
        let code = [pixel(0x20, 1, 2, 3), 0xEE, pixel(0x10, 1, 0, 0)];
        let marked = predecode(&code).pixels;
        assert_eq!(marked[0], code[0]);
        assert_eq!(marked[1].to_le_bytes()[..2], [INVALID_OPCODE, 1]);
        assert_eq!(marked[2].to_le_bytes()[..2], [INVALID_OPCODE, 2]);
    }

    #[test]
    fn fields_are_regular() {
        let inst = Instruction::new(Op::Add, 1, 2, 3, 0);
        let (px, n) = inst.encode();
        assert_eq!(n, 1);
        assert_eq!(px[0].to_le_bytes(), [0x20, 1, 2, 3]);
        assert_eq!(Instruction::decode(&px[..1], 0), Ok(inst));
    }

    #[test]
    fn decode_rejects_bad_fields() {
        assert_eq!(
            Instruction::decode(&[0xEE], 0),
            Err(DecodeError::UnknownOpcode(0xEE))
        );
        assert_eq!(
            Instruction::decode(&[pixel(0x20, 16, 0, 0)], 0),
            Err(DecodeError::BadRegister {
                op: Op::Add,
                value: 16
            })
        );
        assert_eq!(
            Instruction::decode(&[pixel(0x10, 1, 0, 0)], 0),
            Err(DecodeError::Truncated(Op::Li))
        );
        assert_eq!(
            Instruction::decode(&[pixel(0x00, 0, 1, 0)], 0),
            Err(DecodeError::NonCanonical(Op::Nop))
        );
        assert_eq!(
            Instruction::decode(&[pixel(0x62, 1, 2, 3), 16], 0),
            Err(DecodeError::BadRegister {
                op: Op::Vadd,
                value: 16
            })
        );
    }

    #[test]
    fn display_uses_operand_kinds() {
        assert_eq!(
            Instruction::new(Op::Addi, 1, 2, 0xFF, 0).to_string(),
            "addi r1, r2, -1"
        );
        assert_eq!(
            Instruction::new(Op::Li, 3, 0, 0, 42).to_string(),
            "li r3, 0x0000002a"
        );
        assert_eq!(
            Instruction::new(Op::Vadd, 1, 2, 3, 4).to_string(),
            "vadd r1, r2, r3, r4"
        );
        assert_eq!(Instruction::new(Op::Ret, 0, 0, 0, 0).to_string(), "ret");
    }
}
