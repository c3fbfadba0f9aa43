//! The float and tensor instructions' semantics over data memory.
//!
//! Scalar float instructions work on register bits ([`scalar`]); tensor
//! instructions ([`check`] then [`run`]) work on ranges of the data window
//! and end the hart's slice, like the vector instructions, so the GPU can
//! hand each one to a workgroup (`shaders/src/tensor.wgsl`). All arithmetic
//! is [`crate::float`]'s, every reduction runs in the order written here, and
//! `docs/tensor.md` states the same rules for program authors.
//!
//! Operands: a tensor instruction `op ra, rb, rc, rd` reads the six words
//! `w = [ra, rb, rc, rd, r(d+1), r(d+2)]` (register numbers mod 16); forms
//! with fewer registers leave the rest unused. Q8 tensors (llama2.c `runq.c`
//! layout) are `len` int8 values packed four to a word, little-endian,
//! followed directly by `len / gs` f32 scales.

use crate::float::{self as fl, ONE};
use crate::isa::{Instruction, Op};
use crate::state::TrapKind;

/// Longest sequential reduction (matrix row, softmax, argmax, …): keeps every
/// GPU lane under llvmpipe's 65,535 loop iterations per invocation.
pub const MAX_REDUCE: u32 = 32_768;

/// A trap: kind and detail word.
pub type Fault = (TrapKind, u32);

/// The operand words of a tensor instruction.
pub fn operands(regs: &[u32], inst: &Instruction) -> [u32; 6] {
    let r = |n: usize| regs[n & 15];
    let d = inst.word as usize;
    [
        r(inst.a as usize),
        r(inst.b as usize),
        r(inst.c as usize),
        r(d),
        r(d + 1),
        r(d + 2),
    ]
}

/// A scalar float instruction's result: the new value of `ra`, or the flags (`fcmp`).
pub fn scalar(op: Op, x: u32, y: u32) -> u32 {
    match op {
        Op::Fadd => fl::add(x, y),
        Op::Fsub => fl::sub(x, y),
        Op::Fmul => fl::mul(x, y),
        Op::Fdiv => fl::div(x, y),
        Op::Fmin => fl::min(x, y),
        Op::Fmax => fl::max(x, y),
        Op::Fneg => fl::neg(x),
        Op::Fabs => fl::abs(x),
        Op::Fsqrt => fl::sqrt(x),
        Op::Fexp => fl::exp(x),
        Op::Fsin => fl::sin(x),
        Op::Fcos => fl::cos(x),
        Op::Fcmp => fl::compare(x, y),
        Op::Itof => fl::from_int(x),
        Op::Ftoi => fl::to_int(x),
        Op::Fround => fl::round_int(x),
        other => unreachable!("`{}` is not a scalar float instruction", other.mnemonic()),
    }
}

struct Checker {
    len: u64,
}

impl Checker {
    fn shape(&self, ok: bool) -> Result<(), Fault> {
        if ok {
            Ok(())
        } else {
            Err((TrapKind::TensorShape, 0))
        }
    }

    fn range(&self, start: u32, len: u64) -> Result<(), Fault> {
        if start as u64 + len > self.len {
            return Err((TrapKind::MemoryOutOfBounds, start));
        }
        Ok(())
    }

    /// The destination may not share any word with the source.
    fn apart(&self, dst: u32, dlen: u64, src: u32, slen: u64) -> Result<(), Fault> {
        let (d, s) = (dst as u64, src as u64);
        if dlen != 0 && slen != 0 && d < s + slen && s < d + dlen {
            return Err((TrapKind::VectorOverlap, dst));
        }
        Ok(())
    }

    /// The destination may be the source exactly, or not overlap it.
    fn same_or_apart(&self, dst: u32, src: u32, len: u64) -> Result<(), Fault> {
        if dst == src {
            return Ok(());
        }
        self.apart(dst, len, src, len)
    }
}

/// Words of a strided matrix: `rows` rows of `n` words, `stride` apart.
fn span(rows: u32, n: u32, stride: u32) -> u64 {
    if rows == 0 || n == 0 {
        0
    } else {
        (rows as u64 - 1) * stride as u64 + n as u64
    }
}

/// Q8 group-size rule: non-zero, a multiple of 4, dividing `n`.
fn q8_shape(n: u32, gs: u32) -> bool {
    gs != 0 && gs.is_multiple_of(4) && n.is_multiple_of(gs)
}

/// Words of a Q8 tensor of `len` values in groups of `gs`.
fn q8_words(len: u64, gs: u32) -> u64 {
    len / 4 + len / gs as u64
}

/// Words of an `attn` descriptor.
pub const ATTN_WORDS: u32 = 11;
/// `attn` limits: positions and head size (keep a GPU lane under llvmpipe's loop limit).
pub const ATTN_MAX_ROWS: u32 = 4096;
/// Largest head size `attn` takes.
pub const ATTN_MAX_HEAD: u32 = 256;

/// An `attn` descriptor: out, q, key cache, value cache, scores, heads,
/// head size, kv multiplier, cache stride, positions, score stride.
#[derive(Clone, Copy, Debug)]
struct Attn {
    out: u32,
    q: u32,
    kc: u32,
    vc: u32,
    att: u32,
    heads: u32,
    hs: u32,
    kv_mul: u32,
    stride: u32,
    rows: u32,
    att_stride: u32,
}

impl Attn {
    fn read(d: &[u32]) -> Attn {
        Attn {
            out: d[0],
            q: d[1],
            kc: d[2],
            vc: d[3],
            att: d[4],
            heads: d[5],
            hs: d[6],
            kv_mul: d[7],
            stride: d[8],
            rows: d[9],
            att_stride: d[10],
        }
    }

    /// Words of one cache row the heads read: up to the last kv head's end.
    fn kv_width(&self) -> u32 {
        if self.heads == 0 {
            0
        } else {
            (self.heads - 1) / self.kv_mul * self.hs + self.hs
        }
    }

    /// The descriptor sits at `at`; the written ranges may not overlap it either.
    fn check(&self, c: &Checker, at: u32) -> Result<(), Fault> {
        c.shape(
            self.kv_mul != 0
                && self.rows <= ATTN_MAX_ROWS
                && self.hs <= ATTN_MAX_HEAD
                && self.heads <= ATTN_MAX_ROWS
                && (self.heads < 2 || self.att_stride >= self.rows),
        )?;
        let width = self.heads as u64 * self.hs as u64;
        let cache = span(self.rows, self.kv_width(), self.stride);
        let scores = span(self.heads, self.rows, self.att_stride);
        c.range(self.out, width)?;
        c.range(self.q, width)?;
        c.range(self.kc, cache)?;
        c.range(self.vc, cache)?;
        c.range(self.att, scores)?;
        let desc = (at, ATTN_WORDS as u64);
        for (src, len) in [
            (self.q, width),
            (self.kc, cache),
            (self.vc, cache),
            (self.att, scores),
            desc,
        ] {
            c.apart(self.out, width, src, len)?;
        }
        for (src, len) in [(self.q, width), (self.kc, cache), (self.vc, cache), desc] {
            c.apart(self.att, scores, src, len)?;
        }
        Ok(())
    }

    /// llama2.c's attention loop for every head.
    fn run(&self, memory: &mut [u32]) {
        let scale = fl::sqrt(fl::from_int(self.hs));
        for h in 0..self.heads {
            let off = h / self.kv_mul * self.hs;
            let (q, att) = (self.q + h * self.hs, self.att + h * self.att_stride);
            for t in 0..self.rows {
                let k = self.kc + t * self.stride + off;
                let mut score = 0;
                for i in 0..self.hs {
                    let (a, b) = (memory[(q + i) as usize], memory[(k + i) as usize]);
                    score = fl::add(score, fl::mul(a, b));
                }
                memory[(att + t) as usize] = fl::div(score, scale);
            }
            softmax(&mut memory[att as usize..(att + self.rows) as usize]);
            for i in 0..self.hs {
                let mut acc = 0;
                for t in 0..self.rows {
                    let v = memory[(self.vc + t * self.stride + off + i) as usize];
                    acc = fl::add(acc, fl::mul(memory[(att + t) as usize], v));
                }
                memory[(self.out + h * self.hs + i) as usize] = acc;
            }
        }
    }
}

/// Check a tensor instruction's shape, ranges and overlaps, in this order,
/// against the data window `memory` (`attn` reads its descriptor there).
pub fn check(op: Op, w: &[u32; 6], memory: &[u32]) -> Result<(), Fault> {
    let c = Checker {
        len: memory.len() as u64,
    };
    let [a, b, x, d, e, f] = *w;
    match op {
        Op::Matvec | Op::Matvect => {
            // out = a, W = b, x = c, n = d, rows = e, stride = f
            let (n, rows, stride) = (d, e, f);
            let (out_len, x_len) = if op == Op::Matvec {
                (rows, n)
            } else {
                (n, rows)
            };
            c.shape(x_len <= MAX_REDUCE)?;
            let w_len = span(rows, n, stride);
            c.range(a, out_len as u64)?;
            c.range(b, w_len)?;
            c.range(x, x_len as u64)?;
            c.apart(a, out_len as u64, b, w_len)?;
            c.apart(a, out_len as u64, x, x_len as u64)
        }
        Op::Qmatvec => {
            let (n, rows, gs) = (d, e, f);
            c.shape(n <= MAX_REDUCE && q8_shape(n, gs))?;
            let w_len = q8_words(rows as u64 * n as u64, gs);
            let x_len = q8_words(n as u64, gs);
            c.range(a, rows as u64)?;
            c.range(b, w_len)?;
            c.range(x, x_len)?;
            c.apart(a, rows as u64, b, w_len)?;
            c.apart(a, rows as u64, x, x_len)
        }
        Op::Quant => {
            // dst = a, src = b, n = c, gs = d
            let (n, gs) = (x, d);
            c.shape(q8_shape(n, gs))?;
            let dst_len = q8_words(n as u64, gs);
            c.range(a, dst_len)?;
            c.range(b, n as u64)?;
            c.apart(a, dst_len, b, n as u64)
        }
        Op::Dequant => {
            // dst = a, q = b, s = c, n = d, gs = e
            let (n, gs) = (d, e);
            c.shape(q8_shape(n, gs))?;
            let (q_len, s_len) = (n as u64 / 4, (n / gs) as u64);
            c.range(a, n as u64)?;
            c.range(b, q_len)?;
            c.range(x, s_len)?;
            c.apart(a, n as u64, b, q_len)?;
            c.apart(a, n as u64, x, s_len)
        }
        Op::Rmsnorm => {
            // out = a, x = b, weight = c, n = d
            c.shape(d <= MAX_REDUCE)?;
            c.range(a, d as u64)?;
            c.range(b, d as u64)?;
            c.range(x, d as u64)?;
            c.same_or_apart(a, b, d as u64)?;
            c.same_or_apart(a, x, d as u64)
        }
        Op::Softmax => {
            c.shape(b <= MAX_REDUCE)?;
            c.range(a, b as u64)
        }
        Op::Rope => {
            // vec = a, n = b, head size = c, pos = d
            c.shape(b.is_multiple_of(2) && x != 0 && x.is_multiple_of(2))?;
            c.range(a, b as u64)
        }
        Op::Argmax | Op::Sample => {
            // x = b, n = c
            c.shape(x <= MAX_REDUCE)?;
            c.range(b, x as u64)
        }
        Op::Attn => {
            c.range(a, ATTN_WORDS as u64)?;
            Attn::read(&memory[a as usize..]).check(&c, a)
        }
        _ => {
            // Element-wise: dst = a, x = b, y = c (or scalar), n = d.
            c.range(a, d as u64)?;
            c.range(b, d as u64)?;
            c.same_or_apart(a, b, d as u64)?;
            if matches!(op, Op::Vfadd | Op::Vfmul | Op::Swiglu) {
                c.range(x, d as u64)?;
                c.same_or_apart(a, x, d as u64)?;
            }
            Ok(())
        }
    }
}

/// Int8 number `i` of the Q8 values packed from word `base`.
fn q8(memory: &[u32], base: u32, i: u32) -> u32 {
    let word = memory[(base + i / 4) as usize];
    (word >> (8 * (i % 4))) as u8 as i8 as i32 as u32
}

/// Run a checked tensor instruction; `Some(v)` is the value for `ra`.
pub fn run(op: Op, w: &[u32; 6], memory: &mut [u32]) -> Option<u32> {
    let [a, b, c, d, e, f] = *w;
    let at = |addr: u32, i: u32| (addr + i) as usize;
    match op {
        Op::Matvec => {
            for i in 0..e {
                let mut acc = 0;
                for j in 0..d {
                    acc = fl::add(acc, fl::mul(memory[at(b, i * f + j)], memory[at(c, j)]));
                }
                memory[at(a, i)] = acc;
            }
        }
        Op::Matvect => {
            for i in 0..d {
                let mut acc = 0;
                for t in 0..e {
                    acc = fl::add(acc, fl::mul(memory[at(c, t)], memory[at(b, t * f + i)]));
                }
                memory[at(a, i)] = acc;
            }
        }
        Op::Qmatvec => {
            let (n, gs) = (d, f);
            let (w_scales, x_scales) = (b + e * n / 4, c + n / 4);
            for i in 0..e {
                let mut acc = 0;
                for g in 0..n / gs {
                    let mut dot = 0u32;
                    for k in g * gs..(g + 1) * gs {
                        dot = dot.wrapping_add(q8(memory, c, k).wrapping_mul(q8(
                            memory,
                            b,
                            i * n + k,
                        )));
                    }
                    let ws = memory[at(w_scales, i * (n / gs) + g)];
                    let xs = memory[at(x_scales, g)];
                    acc = fl::add(acc, fl::mul(fl::mul(fl::from_int(dot), ws), xs));
                }
                memory[at(a, i)] = acc;
            }
        }
        Op::Quant => quantize(memory, a, b, c, d),
        Op::Dequant => {
            for i in 0..d {
                let v = fl::from_int(q8(memory, b, i));
                memory[at(a, i)] = fl::mul(v, memory[at(c, i / e)]);
            }
        }
        Op::Rmsnorm => {
            if d == 0 {
                return None;
            }
            let mut ss = 0;
            for j in 0..d {
                let v = memory[at(b, j)];
                ss = fl::add(ss, fl::mul(v, v));
            }
            ss = fl::add(fl::div(ss, fl::from_int(d)), fl::RMS_EPS);
            ss = fl::div(ONE, fl::sqrt(ss));
            for j in 0..d {
                memory[at(a, j)] = fl::mul(memory[at(c, j)], fl::mul(ss, memory[at(b, j)]));
            }
        }
        Op::Softmax => softmax(&mut memory[a as usize..(a + b) as usize]),
        Op::Rope => {
            for i in (0..b).step_by(2) {
                let (s, co) = rope_angle(i % c, c, d);
                let (v0, v1) = (memory[at(a, i)], memory[at(a, i + 1)]);
                memory[at(a, i)] = fl::sub(fl::mul(v0, co), fl::mul(v1, s));
                memory[at(a, i + 1)] = fl::add(fl::mul(v0, s), fl::mul(v1, co));
            }
        }
        Op::Argmax => return Some(argmax(&memory[b as usize..(b + c) as usize])),
        Op::Attn => Attn::read(&memory[a as usize..]).run(memory),
        Op::Sample => return Some(sample(&memory[b as usize..(b + c) as usize], d)),
        _ => {
            for i in 0..d {
                let x = memory[at(b, i)];
                memory[at(a, i)] = match op {
                    Op::Vfadd => fl::add(x, memory[at(c, i)]),
                    Op::Vfmul => fl::mul(x, memory[at(c, i)]),
                    Op::Vfmuls => fl::mul(x, c),
                    Op::Vfdivs => fl::div(x, c),
                    _ => swiglu(x, memory[at(c, i)]),
                };
            }
        }
    }
    None
}

/// SiLU(g) × u as llama2.c computes it: g · (1 / (1 + e^−g)) · u.
pub fn swiglu(g: u32, u: u32) -> u32 {
    let sig = fl::div(ONE, fl::add(ONE, fl::exp(fl::neg(g))));
    fl::mul(fl::mul(g, sig), u)
}

/// (sin, cos) of RoPE's angle for element pair `head_dim` (even) of a head of
/// `head_size` at position `pos`: pos · e^((head_dim / head_size) · −ln 10000).
pub fn rope_angle(head_dim: u32, head_size: u32, pos: u32) -> (u32, u32) {
    let ratio = fl::div(fl::from_int(head_dim), fl::from_int(head_size));
    let freq = fl::exp(fl::mul(ratio, fl::NEG_LN_10000));
    fl::sin_cos(fl::mul(fl::from_int(pos), freq))
}

/// llama2.c's softmax: max (first of equals), e^(x − max) summed in order, divide.
pub fn softmax(x: &mut [u32]) {
    let Some(&first) = x.first() else { return };
    let max = x[1..]
        .iter()
        .fold(first, |m, &v| if fl::lt(m, v) { v } else { m });
    let mut sum = 0;
    for v in x.iter_mut() {
        *v = fl::exp(fl::sub(*v, max));
        sum = fl::add(sum, *v);
    }
    for v in x.iter_mut() {
        *v = fl::div(*v, sum);
    }
}

/// Index of the first maximum (llama2.c's `sample_argmax`); 0xFFFFFFFF when empty.
pub fn argmax(x: &[u32]) -> u32 {
    let Some(&first) = x.first() else {
        return u32::MAX;
    };
    let mut best = (0, first);
    for (i, &v) in x.iter().enumerate().skip(1) {
        if fl::lt(best.1, v) {
            best = (i as u32, v);
        }
    }
    best.0
}

/// llama2.c's `sample_mult`: the first i whose running sum exceeds `coin`, else the last.
pub fn sample(x: &[u32], coin: u32) -> u32 {
    let mut cdf = 0;
    for (i, &p) in x.iter().enumerate() {
        cdf = fl::add(cdf, p);
        if fl::lt(coin, cdf) {
            return i as u32;
        }
    }
    (x.len() as u32).wrapping_sub(1)
}

/// runq.c's `quantize`: per group, scale = max |x| / 127 and
/// q = round(x / scale) clamped to ±127 (NaN gives 0).
fn quantize(memory: &mut [u32], dst: u32, src: u32, n: u32, gs: u32) {
    let scales = dst + n / 4;
    for g in 0..n / gs {
        let group = (src + g * gs) as usize..(src + (g + 1) * gs) as usize;
        let wmax = memory[group.clone()].iter().fold(0, |m, &v| {
            let a = fl::abs(v);
            if fl::lt(m, a) { a } else { m }
        });
        let scale = fl::div(wmax, fl::Q_MAX);
        memory[(scales + g) as usize] = scale;
        for word in 0..gs / 4 {
            let mut packed = 0;
            for lane in 0..4 {
                let v = memory[group.start + (word * 4 + lane) as usize];
                packed |= quantize_one(v, scale) << (8 * lane);
            }
            memory[(dst + g * gs / 4 + word) as usize] = packed;
        }
    }
}

/// One int8 value (as its byte) of [`quantize`].
pub fn quantize_one(v: u32, scale: u32) -> u32 {
    let q = fl::round_int(fl::div(v, scale)) as i32;
    (q.clamp(-127, 127) as u32) & 0xFF
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::float::NAN;
    use alloc::vec;

    fn w(v: &[u32]) -> [u32; 6] {
        let mut out = [0; 6];
        out[..v.len()].copy_from_slice(v);
        out
    }

    #[test]
    fn matvec_sums_rows_in_order() {
        let mut m = vec![0u32; 16];
        for (i, v) in [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0].iter().enumerate() {
            m[i] = v.to_bits();
        }
        m[6] = 1.0f32.to_bits();
        m[7] = 0.5f32.to_bits();
        m[8] = 2.0f32.to_bits();
        let ops = w(&[10, 0, 6, 3, 2, 3]);
        check(Op::Matvec, &ops, &m).unwrap();
        run(Op::Matvec, &ops, &mut m);
        assert_eq!(f32::from_bits(m[10]), 1.0 + 1.0 + 6.0);
        assert_eq!(f32::from_bits(m[11]), 4.0 + 2.5 + 12.0);
    }

    #[test]
    fn checks_trap_in_order() {
        assert_eq!(
            check(Op::Softmax, &w(&[10, 7]), &[0; 16]),
            Err((TrapKind::MemoryOutOfBounds, 10))
        );
        assert_eq!(
            check(Op::Quant, &w(&[0, 8, 6, 4]), &[0; 16]),
            Err((TrapKind::TensorShape, 0))
        );
        assert_eq!(
            check(Op::Quant, &w(&[0, 3, 8, 4]), &[0; 16]),
            Err((TrapKind::VectorOverlap, 0))
        );
        assert_eq!(
            check(Op::Vfadd, &w(&[1, 2, 3, 4]), &[0; 16]),
            Err((TrapKind::VectorOverlap, 1))
        );
        assert_eq!(check(Op::Vfadd, &w(&[1, 1, 1, 4]), &[0; 16]), Ok(()));
        assert_eq!(
            check(Op::Argmax, &w(&[0, 0, MAX_REDUCE + 1]), &vec![0; 1 << 20]),
            Err((TrapKind::TensorShape, 0))
        );
        assert_eq!(
            check(Op::Rope, &w(&[0, 4, 0, 1]), &[0; 16]),
            Err((TrapKind::TensorShape, 0))
        );
    }

    #[test]
    fn softmax_and_argmax_follow_llama2c() {
        let mut x: alloc::vec::Vec<u32> = [1.0f32, 3.0, 3.0, -2.0]
            .iter()
            .map(|v| v.to_bits())
            .collect();
        assert_eq!(argmax(&x), 1);
        softmax(&mut x);
        let total: f32 = x.iter().map(|&v| f32::from_bits(v)).sum();
        assert!((total - 1.0).abs() < 1e-6);
        assert_eq!(x[1], x[2]);
        assert_eq!(argmax(&[]), u32::MAX);
        let mut nan = vec![1.0f32.to_bits(), NAN];
        softmax(&mut nan);
        assert_eq!(nan, vec![NAN, NAN]);
    }

    /// `attn` is the per-head sequence of matvec, vfdivs, softmax and matvect.
    #[test]
    fn attn_is_the_per_head_sequence() {
        let (heads, hs, kv_mul, stride, rows, att_stride) = (4u32, 4u32, 2u32, 8u32, 3u32, 5u32);
        let mut m = vec![0u32; 400];
        for (i, v) in m.iter_mut().enumerate().skip(100) {
            *v = ((i as f32 * 0.37).sin() * 2.0).to_bits();
        }
        // out 20.., q 100.., kc 140.., vc 180.., att 250..
        let desc = [
            20, 100, 140, 180, 250, heads, hs, kv_mul, stride, rows, att_stride,
        ];
        m[..11].copy_from_slice(&desc);
        let mut by_parts = m.clone();
        check(Op::Attn, &w(&[0]), &m).unwrap();
        run(Op::Attn, &w(&[0]), &mut m);
        let scale = fl::sqrt(fl::from_int(hs));
        for h in 0..heads {
            let (off, att) = (h / kv_mul * hs, 250 + h * att_stride);
            run(
                Op::Matvec,
                &w(&[att, 140 + off, 100 + h * hs, hs, rows, stride]),
                &mut by_parts,
            );
            run(Op::Vfdivs, &w(&[att, att, scale, rows]), &mut by_parts);
            run(Op::Softmax, &w(&[att, rows]), &mut by_parts);
            run(
                Op::Matvect,
                &w(&[20 + h * hs, 180 + off, att, hs, rows, stride]),
                &mut by_parts,
            );
        }
        assert_eq!(m, by_parts);
        m[5] = 0; // no heads: nothing to do
        assert_eq!(check(Op::Attn, &w(&[0]), &m), Ok(()));
        m[5] = heads;
        m[10] = 2; // score rows of the heads would overlap
        assert_eq!(
            check(Op::Attn, &w(&[0]), &m),
            Err((TrapKind::TensorShape, 0))
        );
        assert_eq!(
            check(Op::Attn, &w(&[395]), &m),
            Err((TrapKind::MemoryOutOfBounds, 395))
        );
    }

    #[test]
    fn quantize_round_trips() {
        let n = 8;
        let mut m = vec![0u32; 32];
        for (i, v) in m.iter_mut().take(n).enumerate() {
            *v = (i as f32 - 3.3).to_bits();
        }
        run(Op::Quant, &w(&[16, 0, 8, 4]), &mut m);
        run(Op::Dequant, &w(&[8, 16, 18, 8, 4]), &mut m);
        for i in 0..n {
            let (orig, back) = (f32::from_bits(m[i]), f32::from_bits(m[8 + i]));
            assert!((orig - back).abs() < 0.02, "{orig} vs {back}");
        }
        // An all-zero group has scale 0 and values 0.
        let mut z = vec![0u32; 8];
        run(Op::Quant, &w(&[4, 0, 4, 4]), &mut z);
        assert_eq!(&z[4..6], &[0, 0]);
    }
}
