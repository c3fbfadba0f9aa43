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

use pxi::image::Segment;
use pxi::isa::{Class, Instruction as I, Op, TABLE};
use pxi::mailbox::Call;
use pxi::{Image, Op as O};

/// Words of private memory per worker.
pub const REGION: u32 = 256;
/// Shared counters after the regions.
pub const SHARED_WORDS: u32 = 8;

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
#[derive(Clone, Copy, Debug)]
pub enum Flavour {
    Scalar,
    MultiHart,
    Vector,
    Atomic,
    Syscall,
    Tensor,
}

pub const FLAVOURS: [Flavour; 6] = [
    Flavour::Scalar,
    Flavour::MultiHart,
    Flavour::Vector,
    Flavour::Atomic,
    Flavour::Syscall,
    Flavour::Tensor,
];

/// A generated program and whether `r15` must be masked when comparing.
pub struct Program {
    pub image: Image,
    pub uses_atomics: bool,
}

struct Builder {
    code: Vec<u32>,
    /// (pixel index of a word to patch, label id)
    fixups: Vec<(usize, usize)>,
    labels: Vec<Option<u32>>,
}

impl Builder {
    fn emit(&mut self, inst: I) {
        let (px, n) = inst.encode();
        self.code.extend_from_slice(&px[..n]);
    }
    fn pc(&self) -> u32 {
        self.code.len() as u32
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

fn alu_ops() -> Vec<Op> {
    TABLE
        .iter()
        .filter(|r| r.class == pxi::isa::Class::Alu)
        .map(|r| r.op)
        .collect()
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
    };
    let worker = b.new_label();
    let sub = b.new_label();
    let handler = b.new_label();
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
    for r in 0..13 {
        if rng.chance(70) {
            b.li(r, rng.next() as u32 % 1000);
        }
    }
    if rng.chance(25) {
        // Arm the timer: one interrupt somewhere in the body.
        b.emit_to(Op::Li, 12, handler);
        b.li(11, 1 + rng.below(60));
        b.emit(I::new(Op::Timer, 11, 12, 0, 0));
    }
    let mut uses_atomics = false;
    let blocks = 4 + rng.below(12);
    for _ in 0..blocks {
        if rng.chance(25) {
            // A counted loop around a few instructions.
            let top = b.new_label();
            b.li(14, 1 + rng.below(20));
            b.bind(top);
            for _ in 0..1 + rng.below(5) {
                body_instruction(&mut b, &mut rng, flavour, shared, &mut uses_atomics, sub);
            }
            b.emit(I::new(Op::Addi, 14, 14, 0xFF, 0));
            b.li(15, 0);
            b.emit(I::new(Op::Cmp, 14, 15, 0, 0));
            b.emit_to(Op::Jne, 0, top);
        } else {
            body_instruction(&mut b, &mut rng, flavour, shared, &mut uses_atomics, sub);
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
    b.emit(I::new(Op::Exit, exit_reg, 0, 0, 0));
    // A subroutine: a few ALU ops and a return.
    b.bind(sub);
    for _ in 0..1 + rng.below(3) {
        alu(&mut b, &mut rng);
    }
    b.emit(I::new(Op::Ret, 0, 0, 0, 0));
    // Timer handler: count interrupts in private word 251, return to `epc`
    // through the stack with every register preserved.
    b.bind(handler);
    b.emit(I::new(Op::St, 12, 13, 250, 0));
    b.emit(I::new(Op::Epc, 12, 0, 0, 0));
    b.emit(I::new(Op::Push, 12, 0, 0, 0));
    b.emit(I::new(Op::Ld, 12, 13, 251, 0));
    b.emit(I::new(Op::Addi, 12, 12, 1, 0));
    b.emit(I::new(Op::St, 12, 13, 251, 0));
    b.emit(I::new(Op::Ld, 12, 13, 250, 0));
    b.emit(I::new(Op::Ret, 0, 0, 0, 0));
    let code = b.finish();
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
    }
}

fn alu(b: &mut Builder, rng: &mut Rng) {
    let ops = alu_ops();
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

fn body_instruction(
    b: &mut Builder,
    rng: &mut Rng,
    flavour: Flavour,
    shared: u32,
    uses_atomics: &mut bool,
    sub: usize,
) {
    let weights: [u32; 7] = match flavour {
        // alu, memory, vector, atomic, syscall, control, float/tensor
        Flavour::Scalar => [60, 20, 0, 0, 5, 15, 0],
        Flavour::MultiHart => [45, 20, 10, 10, 5, 10, 0],
        Flavour::Vector => [30, 10, 45, 0, 5, 10, 0],
        Flavour::Atomic => [35, 15, 5, 35, 5, 5, 0],
        Flavour::Syscall => [30, 10, 5, 5, 45, 5, 0],
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
    let r = rng.reg();
    match kind {
        Some(0) => alu(b, rng),
        Some(1) => {
            let offset = rng.below(REGION.min(256)) as u8;
            if rng.chance(3) {
                // Out of bounds: traps on every executor the same way.
                b.li(12, u32::MAX - 3);
                b.emit(I::new(Op::Ld, r, 12, offset, 0));
            } else if rng.chance(50) {
                b.emit(I::new(Op::Ld, r, 13, offset, 0));
            } else {
                b.emit(I::new(Op::St, r, 13, offset, 0));
            }
        }
        Some(2) => {
            // Vector op inside the private region: r10 = dst, r11 = x, r12 = y, r9 = length.
            let len = rng.below(REGION / 4);
            let at = |rng: &mut Rng| rng.below(4) * (REGION / 4);
            let (dst, x) = (at(rng), at(rng));
            b.emit(I::new(Op::Addi, 10, 13, 0, 0));
            b.li(9, dst);
            b.emit(I::new(Op::Add, 10, 13, 9, 0));
            b.li(9, x);
            b.emit(I::new(Op::Add, 11, 13, 9, 0));
            b.li(9, at(rng));
            b.emit(I::new(Op::Add, 12, 13, 9, 0));
            b.li(9, len);
            let vops: Vec<Op> = TABLE
                .iter()
                .filter(|r| r.class == pxi::isa::Class::Vector)
                .map(|r| r.op)
                .collect();
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
        Some(3) => {
            *uses_atomics = true;
            b.li(12, shared + rng.below(SHARED_WORDS));
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
        Some(4) => {
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
        Some(6) => float_or_tensor(b, rng),
        _ => match rng.below(5) {
            0 => b.emit(I::new(Op::Yield, 0, 0, 0, 0)),
            4 if rng.chance(10) => {
                // Bad-input traps of the system instructions: a timer handler
                // outside code, or a context block outside memory.
                if rng.chance(50) {
                    b.li(12, 0xFFFF);
                    b.li(11, 5);
                    b.emit(I::new(Op::Timer, 11, 12, 0, 0));
                } else {
                    b.li(12, u32::MAX - 10);
                    b.emit(I::new(Op::CtxLoad, 12, 0, 0, 0));
                }
            }
            4 => {
                // Save the context into the private region (ctxload is covered by os.pxs).
                // r15 may hold an unspecified atomic result: clear it so the
                // saved block is deterministic (seed 733 stored it).
                b.li(15, 0);
                b.emit(I::new(Op::Addi, 12, 13, 100, 0));
                b.emit(I::new(Op::CtxSave, 12, 0, 0, 0));
            }
            1 => b.emit_to(Op::Call, 0, sub),
            2 => {
                b.emit(I::new(Op::Push, r, 0, 0, 0));
                alu(b, rng);
                b.emit(I::new(Op::Pop, r, 0, 0, 0));
            }
            _ => b.emit(I::new(Op::HartId, r, 0, 0, 0)),
        },
    }
}

/// f32 bits for test data: mostly ordinary values, sometimes the special ones
/// (NaN, ±∞, ±0, subnormals) or raw bits.
fn float_bits(rng: &mut Rng) -> u32 {
    match rng.below(20) {
        0 => [0x7FC0_0000, 0xFFC0_1234, 0x7F80_0000, 0xFF80_0000, 0x8000_0000, 0, 1, 0x8000_0003]
            [rng.below(8) as usize],
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
        words: (0..memory_words - SHARED_WORDS).map(|_| float_bits(rng)).collect(),
    }]
}

/// A scalar float instruction on region data, or a tensor instruction whose
/// ranges stay inside one quarter of the private region (or trap on purpose:
/// bad shapes, a range past memory, overlaps).
fn float_or_tensor(b: &mut Builder, rng: &mut Rng) {
    let ops: Vec<Op> = TABLE
        .iter()
        .filter(|r| matches!(r.class, Class::Float | Class::Tensor))
        .map(|r| r.op)
        .collect();
    let op = ops[rng.below(ops.len() as u32) as usize];
    if op.info().class == Class::Float {
        let (d, x, y) = (rng.reg(), rng.reg(), rng.reg());
        b.emit(I::new(Op::Ld, x, 13, rng.below(REGION) as u8, 0));
        if rng.chance(50) {
            b.li(y, float_bits(rng));
        }
        let c = if op.form() == pxi::isa::Form::ABC { y } else { 0 };
        b.emit(I::new(op, d, x, c, 0));
        return;
    }
    // r10, r11, r12 = addresses (quarters of the region); r4, r5, r6 = rd, r(d+1), r(d+2).
    let quarter = REGION / 4;
    // Distinct quarters, except sometimes (overlap traps).
    let first = rng.below(4);
    for (i, r) in (10..13).enumerate() {
        let q = if rng.chance(8) { rng.below(4) } else { (first + i as u32) % 4 };
        b.li(9, q * quarter + rng.below(8));
        b.emit(I::new(Op::Add, r, 13, 9, 0));
    }
    if rng.chance(2) {
        b.li(10 + rng.below(3) as u8, u32::MAX - 3);
    }
    let small = |rng: &mut Rng| [0, 1, 2, 3, 4, 5, 8][rng.below(7) as usize];
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
        O::Vfmuls | O::Vfdivs => {
            b.li(12, float_bits(rng));
            b.emit(I::new(op, 10, 11, 12, 4));
        }
        _ => b.emit(I::new(op, 10, 11, 12, 4)),
    }
}
