//! Seeded generator of valid, race-free PXI programs for differential tests.
//!
//! Layout of a generated program: hart 0 spawns `harts - 1` workers (each
//! gets its index in `r1`), then runs the worker body itself with index 0.
//! A worker owns the memory region `[index * REGION, (index + 1) * REGION)`
//! (its base in `r13`); words `[SHARED, SHARED + 8)` past all regions are
//! shared counters touched only with `aadd` whose old value lands in `r15`
//! and is never read — the memory model leaves it unspecified, so the
//! comparison masks `r15` in programs that use atomics. Everything else
//! (ALU, loads/stores, vector ops, syscalls, calls, loops, yields, traps)
//! is deterministic on every executor.
//!
//! The `User` flavour runs the worker body in user mode: each worker's
//! kernel part sets a trap vector and windows (code: the user body; data:
//! the top `USER_WORDS` of its region) and `uret`s into the body, which makes
//! OS calls with `ecall`, meets the timer, and faults now and then (out of
//! window, privileged instructions, bad jumps, division by zero). The kernel
//! logs every trap in the region and resumes the body, or restarts it after
//! a fault, until `MAX_FAULTS` faults end the worker.

use pxi::image::Segment;
use pxi::isa::{Class, Instruction as I, Op, TABLE};
use pxi::mailbox::Call;
use pxi::state::{CAUSE_ECALL, CAUSE_TIMER, CTX_PC, CTX_WORDS};
use pxi::{Image, Op as O};

/// Words of private memory per worker.
pub const REGION: u32 = 256;
/// Shared counters after the regions.
pub const SHARED_WORDS: u32 = 8;
/// User flavour: the data window is the last `USER_WORDS` words of a region;
/// the trap frame sits at the region's start, the trap log after it.
pub const USER_WORDS: u32 = 160;
/// User flavour: faults a worker may take before its kernel ends it.
pub const MAX_FAULTS: u32 = 3;
/// User flavour: the `ecall` number that asks the kernel to end the worker.
const ECALL_EXIT: u32 = 0xE0;

/// The limits and rounds per batch a differential test runs `seed`'s program with: slices from
/// 1 step up, sometimes a small step budget.
pub fn run_limits(seed: u64) -> (pxi::Limits, u32) {
    let mut rng = Rng::new(seed ^ 0xD1FF);
    let limits = pxi::Limits {
        slice_steps: [1, 3, 17, 64, 1000][rng.below(5) as usize],
        max_steps: if rng.chance(20) {
            50 + rng.below(500) as u64
        } else {
            200_000
        },
    };
    (limits, [1, 2, 8][rng.below(3) as usize])
}

/// Clears every hart's `r15`, the unread old value of shared `aadd`s (see the module doc),
/// before comparing the final states of a program that uses atomics.
pub fn mask_atomic_scratch(harts: &mut [u32]) {
    for hart in harts.chunks_exact_mut(pxi::state::HART_WORDS) {
        hart[15] = 0;
    }
}

/// SplitMix64: small, seedable, good enough for test programs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u32) -> u32 {
        (self.next() % n as u64) as u32
    }
    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent
    }
    fn reg(&mut self) -> u8 {
        // r0..r12 are free for the body; r13 = region base, r14 = loop counter, r15 = atomic scratch.
        self.below(13) as u8
    }
}

/// What flavour of program to bias towards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    Scalar,
    MultiHart,
    Vector,
    Atomic,
    Syscall,
    User,
    Tensor,
}

pub const FLAVOURS: [Flavour; 7] = [
    Flavour::Scalar,
    Flavour::MultiHart,
    Flavour::Vector,
    Flavour::Atomic,
    Flavour::Syscall,
    Flavour::User,
    Flavour::Tensor,
];

/// A generated program and whether `r15` must be masked when comparing.
pub struct Program {
    pub image: Image,
    pub uses_atomics: bool,
    pub flavour: Flavour,
}

/// User flavour: how many traps of `cause` worker 0's kernel logged.
pub fn user_traps(memory: &[u32], cause: u32) -> u32 {
    memory[CTX_WORDS + cause as usize]
}

struct Builder {
    code: Vec<u32>,
    /// (pixel index of a word to patch, label id)
    fixups: Vec<(usize, usize)>,
    labels: Vec<Option<u32>>,
    /// Labels bound from here on are relative to this pixel (the user code window).
    origin: u32,
}

impl Builder {
    fn emit(&mut self, inst: I) {
        let (px, n) = inst.encode();
        self.code.extend_from_slice(&px[..n]);
    }
    fn pc(&self) -> u32 {
        self.code.len() as u32 - self.origin
    }
    fn new_label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }
    fn bind(&mut self, label: usize) {
        self.labels[label] = Some(self.pc());
    }
    /// Emit a two-pixel instruction whose word is `label`'s address.
    fn emit_to(&mut self, op: Op, a: u8, label: usize) {
        self.emit(I::new(op, a, 0, 0, 0));
        self.fixups.push((self.code.len() - 1, label));
    }
    fn li(&mut self, r: u8, value: u32) {
        self.emit(I::new(Op::Li, r, 0, 0, value));
    }
    fn finish(mut self) -> Vec<u32> {
        for (at, label) in std::mem::take(&mut self.fixups) {
            self.code[at] = self.labels[label].expect("label bound");
        }
        self.code
    }
}

fn ops_of(class: pxi::isa::Class) -> Vec<Op> {
    TABLE
        .iter()
        .filter(|r| r.class == class)
        .map(|r| r.op)
        .collect()
}

/// Where a body runs: its memory (as the body addresses it) and labels.
struct Body {
    flavour: Flavour,
    /// Words the body may address from `r13`.
    words: u32,
    /// Shared atomic counters (kernel mode only).
    shared: u32,
    sub: usize,
    user: bool,
}

/// Generate program number `seed`.
pub fn generate(seed: u64) -> Program {
    let mut rng = Rng::new(seed);
    let flavour = FLAVOURS[(seed % FLAVOURS.len() as u64) as usize];
    let harts = match flavour {
        Flavour::Scalar => 1,
        Flavour::MultiHart => 2 + rng.below(15),
        _ => 1 + rng.below(6),
    };
    let shared = harts * REGION;
    let memory_words = shared + SHARED_WORDS;
    let mut b = Builder {
        code: Vec::new(),
        fixups: Vec::new(),
        labels: Vec::new(),
        origin: 0,
    };
    let worker = b.new_label();
    // Hart 0: spawn the workers, then become worker 0.
    for index in 1..harts {
        b.li(1, index);
        b.emit_to(Op::Li, 2, worker);
        b.emit(I::new(Op::Spawn, 3, 2, 1, 0));
    }
    b.li(1, 0);
    b.bind(worker);
    b.li(2, REGION);
    b.emit(I::new(Op::Mul, 13, 1, 2, 0));
    let mut uses_atomics = false;
    let code = if flavour == Flavour::User {
        user_program(b, &mut rng)
    } else {
        let body = Body {
            flavour,
            words: REGION,
            shared,
            sub: b.new_label(),
            user: false,
        };
        emit_body(&mut b, &mut rng, &body, &mut uses_atomics);
        b.finish()
    };
    Program {
        image: Image {
            width: 16,
            entry: 0,
            code,
            memory_words,
            harts,
            segments: float_data(&mut rng, flavour, memory_words),
        },
        uses_atomics,
        flavour,
    }
}

/// Random initial registers, blocks of body instructions (some in counted
/// loops), maybe a runaway loop, the exit, and the body's subroutine.
fn emit_body(b: &mut Builder, rng: &mut Rng, body: &Body, uses_atomics: &mut bool) {
    for r in 0..13 {
        if rng.chance(70) {
            b.li(r, rng.next() as u32 % 1000);
        }
    }
    let blocks = 4 + rng.below(12);
    for _ in 0..blocks {
        if rng.chance(25) {
            // A counted loop around a few instructions.
            let top = b.new_label();
            b.li(14, 1 + rng.below(20));
            b.bind(top);
            for _ in 0..1 + rng.below(5) {
                body_instruction(b, rng, body, uses_atomics);
            }
            b.emit(I::new(Op::Addi, 14, 14, 0xFF, 0));
            b.li(15, 0);
            b.emit(I::new(Op::Cmp, 14, 15, 0, 0));
            b.emit_to(Op::Jne, 0, top);
        } else {
            body_instruction(b, rng, body, uses_atomics);
        }
    }
    if rng.chance(3) {
        // A runaway loop: stops at the step budget.
        let spin = b.new_label();
        b.bind(spin);
        b.emit(I::new(Op::Addi, 0, 0, 1, 0));
        b.emit_to(Op::Jmp, 0, spin);
    }
    let exit_reg = rng.reg();
    if body.user {
        b.li(0, ECALL_EXIT);
        b.emit(I::new(Op::Ecall, 0, 0, 0, 0));
    } else {
        b.emit(I::new(Op::Exit, exit_reg, 0, 0, 0));
    }
    // A subroutine: a few ALU ops and a return.
    b.bind(body.sub);
    for _ in 0..1 + rng.below(3) {
        alu(b, rng);
    }
    b.emit(I::new(Op::Ret, 0, 0, 0, 0));
}

/// The `User` flavour after the worker's `r13` = region base: kernel setup,
/// `uret`, the trap handler, then the user body in its own code window.
fn user_program(mut b: Builder, rng: &mut Rng) -> Vec<u32> {
    let (handler, user_code, user_end) = (b.new_label(), b.new_label(), b.new_label());
    // Labels are absolute until the user body; the window covers the body only.
    b.emit_to(Op::Li, 1, handler);
    b.emit(I::new(Op::Tvec, 1, 0, 0, 0));
    b.emit_to(Op::Li, 1, user_code);
    b.emit_to(Op::Li, 2, user_end);
    b.emit(I::new(Op::Sub, 2, 2, 1, 0));
    b.li(4, REGION - USER_WORDS);
    b.emit(I::new(Op::Add, 3, 13, 4, 0));
    b.li(4, USER_WORDS);
    b.emit(I::new(Op::Window, 1, 2, 3, 4));
    if rng.chance(40) {
        b.li(5, 1 + rng.below(80));
        b.emit(I::new(Op::Timer, 5, 0, 0, 0));
    }
    // The frame at the region's start is all zeros: pc 0, empty stack.
    b.emit(I::new(Op::Uret, 13, 0, 0, 0));
    // Trap handler: r0 = cause, r1 = info, r2 = frame (= the region base).
    // Log (between the frame and the data window): frame+CTX_WORDS+cause
    // counts traps by cause, +31 counts faults, +32/+33 keep the last
    // fault's info and pc.
    let (log, resume, fault) = (CTX_WORDS as u8, b.new_label(), b.new_label());
    b.bind(handler);
    b.emit(I::new(Op::Add, 3, 2, 0, 0));
    b.emit(I::new(Op::Ld, 4, 3, log, 0));
    b.emit(I::new(Op::Addi, 4, 4, 1, 0));
    b.emit(I::new(Op::St, 4, 3, log, 0));
    b.li(5, CAUSE_TIMER);
    b.emit(I::new(Op::Cmp, 0, 5, 0, 0));
    b.emit_to(Op::Jeq, 0, resume);
    b.li(5, CAUSE_ECALL);
    b.emit(I::new(Op::Cmp, 0, 5, 0, 0));
    b.emit_to(Op::Jne, 0, fault);
    // ecall: the user's r0 asks to exit, or is answered with r0 + 1.
    b.emit(I::new(Op::Ld, 6, 2, 0, 0));
    b.li(5, ECALL_EXIT);
    b.emit(I::new(Op::Cmp, 6, 5, 0, 0));
    let exit = b.new_label();
    b.emit_to(Op::Jeq, 0, exit);
    b.emit(I::new(Op::Addi, 6, 6, 1, 0));
    b.emit(I::new(Op::St, 6, 2, 0, 0));
    b.bind(resume);
    b.emit(I::new(Op::Uret, 2, 0, 0, 0));
    // A fault: record it, restart the body at pc 0, or end after MAX_FAULTS.
    b.bind(fault);
    b.emit(I::new(Op::St, 1, 2, log + 32, 0));
    b.emit(I::new(Op::Ld, 6, 2, CTX_PC as u8, 0));
    b.emit(I::new(Op::St, 6, 2, log + 33, 0));
    b.emit(I::new(Op::Ld, 4, 2, log + 31, 0));
    b.emit(I::new(Op::Addi, 4, 4, 1, 0));
    b.emit(I::new(Op::St, 4, 2, log + 31, 0));
    b.li(5, MAX_FAULTS);
    b.emit(I::new(Op::Cmp, 4, 5, 0, 0));
    b.emit_to(Op::Jgeu, 0, exit);
    b.li(6, 0);
    b.emit(I::new(Op::St, 6, 2, CTX_PC as u8, 0));
    b.emit(I::new(Op::Uret, 2, 0, 0, 0));
    b.bind(exit);
    b.emit(I::new(Op::Exit, 0, 0, 0, 0));
    // The user body, addressed from its own window.
    b.bind(user_code);
    let absolute_end = b.code.len() as u32;
    b.origin = absolute_end;
    let body = Body {
        flavour: Flavour::User,
        words: USER_WORDS,
        shared: 0,
        sub: b.new_label(),
        user: true,
    };
    emit_body(&mut b, rng, &body, &mut false);
    b.origin = 0;
    b.bind(user_end);
    b.finish()
}

fn alu(b: &mut Builder, rng: &mut Rng) {
    let ops = ops_of(pxi::isa::Class::Alu);
    let op = ops[rng.below(ops.len() as u32) as usize];
    let (d, x, y) = (rng.reg(), rng.reg(), rng.reg());
    match op.form() {
        pxi::isa::Form::ABC => {
            if matches!(op, O::Divu | O::Remu | O::Div | O::Rem) && !rng.chance(5) {
                // Mostly a non-zero divisor; sometimes a division-by-zero trap.
                b.li(y, 1 + rng.below(50));
            }
            b.emit(I::new(op, d, x, y, 0));
        }
        _ => b.emit(I::new(op, d, x, rng.below(256) as u8, 0)),
    }
}

fn body_instruction(b: &mut Builder, rng: &mut Rng, body: &Body, uses_atomics: &mut bool) {
    let weights: [u32; 7] = match body.flavour {
        // alu, memory, vector, atomic, syscall, control, float/tensor
        Flavour::Scalar => [60, 20, 0, 0, 5, 15, 0],
        Flavour::MultiHart => [45, 20, 10, 10, 5, 10, 0],
        Flavour::Vector => [30, 10, 45, 0, 5, 10, 0],
        Flavour::Atomic => [35, 15, 5, 35, 5, 5, 0],
        Flavour::Syscall => [30, 10, 5, 5, 45, 5, 0],
        Flavour::User => [40, 15, 10, 5, 15, 15, 5],
        Flavour::Tensor => [10, 10, 5, 0, 5, 5, 65],
    };
    let mut pick = rng.below(weights.iter().sum());
    let kind = weights.iter().position(|&w| {
        if pick < w {
            true
        } else {
            pick -= w;
            false
        }
    });
    match kind {
        Some(0) => alu(b, rng),
        Some(1) => memory(b, rng, body),
        Some(2) => vector(b, rng, body),
        Some(3) if body.user => {
            // Atomics on a word of the window (never shared across workers).
            b.li(12, rng.below(body.words));
            b.emit(I::new(Op::Aadd, 11, 12, rng.reg(), 0));
        }
        Some(3) => {
            *uses_atomics = true;
            let r = rng.reg();
            b.li(12, body.shared + rng.below(SHARED_WORDS));
            let op = [O::Aadd, O::Aadd, O::Axchg][rng.below(3) as usize];
            if op == O::Axchg {
                // Exchanging makes the final value order-dependent: use a
                // private word instead (no race).
                b.emit(I::new(Op::Addi, 12, 13, rng.below(100) as u8, 0));
                b.emit(I::new(op, 15, 12, r, 0));
            } else {
                b.emit(I::new(op, 15, 12, r, 0));
            }
        }
        Some(4) if body.user => {
            // An OS call the generated kernel answers with r0 + 1.
            b.li(0, rng.below(100));
            b.emit(I::new(Op::Ecall, 0, 0, 0, 0));
        }
        Some(4) => syscall(b, rng),
        Some(6) => float_or_tensor(b, rng, body),
        _ => control(b, rng, body),
    }
}

fn memory(b: &mut Builder, rng: &mut Rng, body: &Body) {
    let r = rng.reg();
    let offset = rng.below(body.words.min(256)) as u8;
    if rng.chance(if body.user { 12 } else { 3 }) {
        // Out of bounds: traps on every executor the same way (user mode:
        // just past the window, where the next region's words are).
        b.li(12, if body.user { body.words } else { u32::MAX - 3 });
        b.emit(I::new(Op::Ld, r, 12, offset, 0));
    } else if rng.chance(50) {
        b.emit(I::new(Op::Ld, r, 13, offset, 0));
    } else {
        b.emit(I::new(Op::St, r, 13, offset, 0));
    }
}

/// A vector op inside the body's memory: r10 = dst, r11 = x, r12 = y, r9 = length.
fn vector(b: &mut Builder, rng: &mut Rng, body: &Body) {
    let r = rng.reg();
    let quarter = body.words / 4;
    let len = rng.below(quarter);
    let at = |rng: &mut Rng| rng.below(4) * quarter;
    let (dst, x) = (at(rng), at(rng));
    b.li(9, dst);
    b.emit(I::new(Op::Add, 10, 13, 9, 0));
    b.li(9, x);
    b.emit(I::new(Op::Add, 11, 13, 9, 0));
    b.li(9, at(rng));
    b.emit(I::new(Op::Add, 12, 13, 9, 0));
    b.li(9, len);
    let vops = ops_of(pxi::isa::Class::Vector);
    let op = vops[rng.below(vops.len() as u32) as usize];
    match op {
        O::Vfill => b.emit(I::new(op, 10, r, 9, 0)),
        O::Vcopy => b.emit(I::new(op, 10, 11, 9, 0)),
        O::Vsum => b.emit(I::new(op, r, 11, 9, 0)),
        O::Vfind => {
            b.emit(I::new(op, r, 11, 9, rng.reg() as u32));
        }
        O::Vdot => b.emit(I::new(op, r, 11, 12, 9)),
        _ => b.emit(I::new(op, 10, 11, 12, 9)),
    }
}

fn syscall(b: &mut Builder, rng: &mut Rng) {
    let r = rng.reg();
    let call = [Call::Putc, Call::PutU, Call::Write, Call::Clock][rng.below(4) as usize];
    b.li(0, call as u32);
    match call {
        Call::Putc => b.li(1, b'a' as u32 + rng.below(26)),
        Call::PutU => b.emit(I::new(Op::Mov, 1, r, 0, 0)),
        Call::Write => {
            b.emit(I::new(Op::Addi, 1, 13, 0, 0));
            b.li(2, rng.below(40));
        }
        _ => {}
    }
    b.emit(I::new(Op::Syscall, 0, 0, 0, 0));
}

fn control(b: &mut Builder, rng: &mut Rng, body: &Body) {
    let r = rng.reg();
    match rng.below(5) {
        0 => b.emit(I::new(Op::Yield, 0, 0, 0, 0)),
        4 if body.user && rng.chance(30) => {
            // A privileged instruction or a jump out of the window: a fault.
            let privileged = [
                O::Syscall,
                O::Exit,
                O::Spawn,
                O::Timer,
                O::Tvec,
                O::Window,
                O::Uret,
            ];
            match rng.below(privileged.len() as u32 + 1) as usize {
                i if i < privileged.len() => {
                    let op = privileged[i];
                    let mask = op.form().register_mask();
                    let field = |bit: u32, r: u8| if mask & bit != 0 { r } else { 0 };
                    let inst = I::new(
                        op,
                        field(1, 1),
                        field(2, 2),
                        field(4, 3),
                        field(8, 4) as u32,
                    );
                    b.emit(inst);
                }
                _ => {
                    b.li(12, 0x7FFF);
                    b.emit(I::new(Op::Jr, 12, 0, 0, 0));
                }
            }
        }
        4 if !body.user && rng.chance(10) => {
            // Bad-input traps of the kernel's system instructions.
            match rng.below(3) {
                0 => {
                    b.li(12, 0xFFFF);
                    b.emit(I::new(Op::Tvec, 12, 0, 0, 0));
                }
                1 => {
                    b.li(12, 0);
                    b.li(11, u32::MAX - 10);
                    b.emit(I::new(Op::Window, 12, 12, 11, 12));
                }
                _ => {
                    // No trap vector, or a frame outside memory.
                    b.li(12, u32::MAX - 10 * rng.below(2));
                    b.emit(I::new(Op::Uret, 12, 0, 0, 0));
                }
            }
        }
        4 => b.emit(I::new(Op::HartId, r, 0, 0, 0)),
        1 => b.emit_to(Op::Call, 0, body.sub),
        2 => {
            b.emit(I::new(Op::Push, r, 0, 0, 0));
            alu(b, rng);
            b.emit(I::new(Op::Pop, r, 0, 0, 0));
        }
        _ => b.emit(I::new(Op::HartId, r, 0, 0, 0)),
    }
}

/// f32 bits for test data: mostly ordinary values, sometimes the special ones
/// (NaN, ±∞, ±0, subnormals) or raw bits.
fn float_bits(rng: &mut Rng) -> u32 {
    match rng.below(20) {
        0 => [
            0x7FC0_0000,
            0xFFC0_1234,
            0x7F80_0000,
            0xFF80_0000,
            0x8000_0000,
            0,
            1,
            0x8000_0003,
        ][rng.below(8) as usize],
        1 => rng.next() as u32,
        2 => (rng.below(200) as f32 * 0.5).to_bits(),
        _ => ((rng.below(2001) as f32 - 1000.0) / 250.0).to_bits(),
    }
}

/// Random float data in every worker region of tensor programs.
fn float_data(rng: &mut Rng, flavour: Flavour, memory_words: u32) -> Vec<Segment> {
    if !matches!(flavour, Flavour::Tensor) {
        return vec![];
    }
    vec![Segment {
        addr: 0,
        words: (0..memory_words - SHARED_WORDS)
            .map(|_| float_bits(rng))
            .collect(),
    }]
}

/// A scalar float instruction on the body's data, or a tensor instruction
/// whose ranges stay inside one quarter of the body's memory (or trap on
/// purpose: bad shapes, a range past memory or the window, overlaps).
fn float_or_tensor(b: &mut Builder, rng: &mut Rng, body: &Body) {
    let mut ops = ops_of(Class::Float);
    ops.extend(ops_of(Class::Tensor));
    let op = ops[rng.below(ops.len() as u32) as usize];
    if op.info().class == Class::Float {
        let (d, x, y) = (rng.reg(), rng.reg(), rng.reg());
        b.emit(I::new(
            Op::Ld,
            x,
            13,
            rng.below(body.words.min(256)) as u8,
            0,
        ));
        if rng.chance(50) {
            b.li(y, float_bits(rng));
        }
        let c = if op.form() == pxi::isa::Form::ABC {
            y
        } else {
            0
        };
        b.emit(I::new(op, d, x, c, 0));
        return;
    }
    // r10, r11, r12 = addresses (quarters of the region); r4, r5, r6 = rd, r(d+1), r(d+2).
    let quarter = body.words / 4;
    // Distinct quarters, except sometimes (overlap traps).
    let first = rng.below(4);
    for (i, r) in (10..13).enumerate() {
        let q = if rng.chance(8) {
            rng.below(4)
        } else {
            (first + i as u32) % 4
        };
        b.li(9, q * quarter + rng.below(8));
        b.emit(I::new(Op::Add, r, 13, 9, 0));
    }
    if rng.chance(2) {
        let outside = if body.user { body.words } else { u32::MAX - 3 };
        b.li(10 + rng.below(3) as u8, outside);
    }
    // Spans stay within quarter - 8 words in the Tensor flavour: (7-1)·7+7 = 49;
    // Q8 rows·(n/4 + n/gs) ≤ 7·8 = 56.
    let small = |rng: &mut Rng| [0, 1, 2, 3, 4, 5, 7][rng.below(7) as usize];
    let gs = |rng: &mut Rng| [4, 4, 8, 8, 4, 8, 4, 8, 0, 6][rng.below(10) as usize];
    let (d, e, f) = match op {
        O::Matvec | O::Matvect => (small(rng), small(rng), small(rng)),
        O::Qmatvec => ([4, 8, 16, 12][rng.below(4) as usize], small(rng), gs(rng)),
        O::Dequant => ([4, 8, 16, 32, 12][rng.below(5) as usize], gs(rng), 0),
        O::Rope => (rng.below(400), 0, 0),
        O::Sample => ((rng.below(1000) as f32 / 1000.0).to_bits(), 0, 0),
        _ => (rng.below(quarter - 8), 0, 0),
    };
    let (d, e, f) = if rng.chance(2) {
        // A length past the longest reduction: TensorShape (or a range trap) everywhere.
        (pxi::tensor::MAX_REDUCE + 1, e, f)
    } else {
        (d, e, f)
    };
    b.li(4, d);
    b.li(5, e);
    b.li(6, f);
    match op {
        O::Quant => {
            b.li(7, [4, 8, 16, 32, 12][rng.below(5) as usize]);
            b.li(4, gs(rng));
            b.emit(I::new(op, 10, 11, 7, 4));
        }
        O::Softmax => b.emit(I::new(op, 10, 4, 0, 0)),
        O::Rope => {
            b.li(7, rng.below(quarter - 8) & !1);
            b.li(8, [2, 4, 8, 16, 2, 4, 8, 16, 0, 3][rng.below(10) as usize]);
            b.emit(I::new(op, 10, 7, 8, 4));
        }
        O::Argmax => b.emit(I::new(op, rng.reg(), 11, 4, 0)),
        O::Sample => {
            b.li(7, rng.below(quarter - 8));
            b.emit(I::new(op, rng.reg(), 11, 7, 4));
        }
        O::Attn => attn_descriptor(b, rng),
        O::Vfmuls | O::Vfdivs => {
            b.li(12, float_bits(rng));
            b.emit(I::new(op, 10, 11, 12, 4));
        }
        _ => b.emit(I::new(op, 10, 11, 12, 4)),
    }
}

/// An `attn` descriptor at the body's word 0 (r10): out +16, q +32, keys +48,
/// values +96, scores +136 — all inside a 160-word window — and sometimes one
/// bad field (a shape, range or overlap trap on every executor).
fn attn_descriptor(b: &mut Builder, rng: &mut Rng) {
    let heads = 1 + rng.below(2);
    let rows = 1 + rng.below(4);
    let mut words = [
        16,
        32,
        48,
        96,
        136,
        heads,
        [2, 4][rng.below(2) as usize],
        1 + rng.below(2),
        4 + rng.below(5),
        rows,
        rows + rng.below(4),
    ];
    if rng.chance(15) {
        words[rng.below(11) as usize] = [0, 1, 40, 5000][rng.below(4) as usize];
    }
    b.emit(I::new(Op::Addi, 10, 13, 0, 0));
    for (k, &w) in words.iter().enumerate() {
        // Addresses are relative to the body's base, like every other operand here.
        if k < 5 {
            b.li(9, w);
            b.emit(I::new(Op::Add, 9, 13, 9, 0));
        } else {
            b.li(9, w);
        }
        b.emit(I::new(Op::St, 9, 10, k as u8, 0));
    }
    b.emit(I::new(Op::Attn, 10, 0, 0, 0));
}
