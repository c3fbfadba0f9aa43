//! llama2.c's forward pass (`run.c` for fp32 weights, `runq.c` for Q8_0),
//! written once over a [`Math`]: [`Exact`] is pxOS's bit-exact f32 arithmetic
//! (what the pixel `ai` must match token for token), [`Libm`] is the
//! platform's f32 and libm, as the C programs compute.

use crate::model::{Model, Tensor};

/// The scalar arithmetic a forward pass uses.
pub trait Math {
    /// a + b
    fn add(&self, a: f32, b: f32) -> f32;
    /// a − b
    fn sub(&self, a: f32, b: f32) -> f32;
    /// a × b
    fn mul(&self, a: f32, b: f32) -> f32;
    /// a ÷ b
    fn div(&self, a: f32, b: f32) -> f32;
    /// √a
    fn sqrt(&self, a: f32) -> f32;
    /// eᵃ
    fn exp(&self, a: f32) -> f32;
    /// a < b
    fn lt(&self, a: f32, b: f32) -> bool;
    /// C's `round` to an int (NaN → 0, saturating).
    fn round(&self, a: f32) -> i32;
    /// The int as f32.
    fn itof(&self, i: i32) -> f32;
    /// (sin, cos) of RoPE's angle for pair `head_dim` of a head of `head_size` at `pos`.
    fn rope(&self, head_dim: usize, head_size: usize, pos: usize) -> (f32, f32);
}

/// pxOS's f32 arithmetic (`pxi::float`), bit for bit.
pub struct Exact;

fn bits(f: fn(u32, u32) -> u32, a: f32, b: f32) -> f32 {
    f32::from_bits(f(a.to_bits(), b.to_bits()))
}

impl Math for Exact {
    fn add(&self, a: f32, b: f32) -> f32 {
        bits(pxi::float::add, a, b)
    }
    fn sub(&self, a: f32, b: f32) -> f32 {
        bits(pxi::float::sub, a, b)
    }
    fn mul(&self, a: f32, b: f32) -> f32 {
        bits(pxi::float::mul, a, b)
    }
    fn div(&self, a: f32, b: f32) -> f32 {
        bits(pxi::float::div, a, b)
    }
    fn sqrt(&self, a: f32) -> f32 {
        f32::from_bits(pxi::float::sqrt(a.to_bits()))
    }
    fn exp(&self, a: f32) -> f32 {
        f32::from_bits(pxi::float::exp(a.to_bits()))
    }
    fn lt(&self, a: f32, b: f32) -> bool {
        pxi::float::lt(a.to_bits(), b.to_bits())
    }
    fn round(&self, a: f32) -> i32 {
        pxi::float::round_int(a.to_bits()) as i32
    }
    fn itof(&self, i: i32) -> f32 {
        f32::from_bits(pxi::float::from_int(i as u32))
    }
    fn rope(&self, head_dim: usize, head_size: usize, pos: usize) -> (f32, f32) {
        let (s, c) = pxi::tensor::rope_angle(head_dim as u32, head_size as u32, pos as u32);
        (f32::from_bits(s), f32::from_bits(c))
    }
}

/// The platform's f32 with libm, as llama2.c computes.
pub struct Libm;

impl Math for Libm {
    fn add(&self, a: f32, b: f32) -> f32 {
        a + b
    }
    fn sub(&self, a: f32, b: f32) -> f32 {
        a - b
    }
    fn mul(&self, a: f32, b: f32) -> f32 {
        a * b
    }
    fn div(&self, a: f32, b: f32) -> f32 {
        a / b
    }
    fn sqrt(&self, a: f32) -> f32 {
        a.sqrt()
    }
    fn exp(&self, a: f32) -> f32 {
        a.exp()
    }
    fn lt(&self, a: f32, b: f32) -> bool {
        a < b
    }
    fn round(&self, a: f32) -> i32 {
        a.round() as i32
    }
    fn itof(&self, i: i32) -> f32 {
        i as f32
    }
    fn rope(&self, head_dim: usize, head_size: usize, pos: usize) -> (f32, f32) {
        let freq = 1.0 / 10000f32.powf(head_dim as f32 / head_size as f32);
        let val = pos as f32 * freq;
        (val.sin(), val.cos())
    }
}

/// llama2.c's `RunState`.
pub struct State {
    x: Vec<f32>,
    xb: Vec<f32>,
    xb2: Vec<f32>,
    hb: Vec<f32>,
    hb2: Vec<f32>,
    q: Vec<f32>,
    att: Vec<f32>,
    /// The logits of the last forward pass.
    pub logits: Vec<f32>,
    key_cache: Vec<f32>,
    value_cache: Vec<f32>,
}

impl State {
    /// Zeroed buffers for `model`.
    pub fn new(model: &Model) -> State {
        let c = &model.config;
        let cache = c.n_layers * c.seq_len * c.kv_dim();
        State {
            x: vec![0.0; c.dim],
            xb: vec![0.0; c.dim],
            xb2: vec![0.0; c.dim],
            hb: vec![0.0; c.hidden_dim],
            hb2: vec![0.0; c.hidden_dim],
            q: vec![0.0; c.dim],
            att: vec![0.0; c.n_heads * c.seq_len],
            logits: vec![0.0; c.vocab_size],
            key_cache: vec![0.0; cache],
            value_cache: vec![0.0; cache],
        }
    }
}

/// `rmsnorm(o, x, weight)`.
pub fn rmsnorm<M: Math>(m: &M, o: &mut [f32], x: &[f32], weight: &[f32]) {
    let mut ss = 0.0;
    for &v in x {
        ss = m.add(ss, m.mul(v, v));
    }
    ss = m.add(m.div(ss, m.itof(x.len() as i32)), 1e-5);
    ss = m.div(1.0, m.sqrt(ss));
    for j in 0..x.len() {
        o[j] = m.mul(weight[j], m.mul(ss, x[j]));
    }
}

/// `softmax(x)` in place.
pub fn softmax<M: Math>(m: &M, x: &mut [f32]) {
    let Some(&first) = x.first() else { return };
    let max = x[1..]
        .iter()
        .fold(first, |acc, &v| if m.lt(acc, v) { v } else { acc });
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = m.exp(m.sub(*v, max));
        sum = m.add(sum, *v);
    }
    for v in x.iter_mut() {
        *v = m.div(*v, sum);
    }
}

/// runq.c's `quantize` of an activation vector.
fn quantize<M: Math>(m: &M, x: &[f32], gs: usize) -> (Vec<i8>, Vec<f32>) {
    let (mut q, mut s) = (Vec::with_capacity(x.len()), Vec::new());
    for group in x.chunks(gs) {
        let wmax = group.iter().fold(0.0, |acc, v| {
            let a = v.abs();
            if m.lt(acc, a) { a } else { acc }
        });
        let scale = m.div(wmax, 127.0);
        s.push(scale);
        q.extend(
            group
                .iter()
                .map(|&v| m.round(m.div(v, scale)).clamp(-127, 127) as i8),
        );
    }
    (q, s)
}

/// `matmul(out, x, w, n, d)`: fp32 as run.c, Q8 as runq.c (quantizing `x`).
fn matmul<M: Math>(m: &M, out: &mut [f32], x: &[f32], w: &Tensor, n: usize) {
    match w {
        Tensor::F32(w) => {
            for (i, o) in out.iter_mut().enumerate() {
                let mut acc = 0.0;
                for j in 0..n {
                    acc = m.add(acc, m.mul(w[i * n + j], x[j]));
                }
                *o = acc;
            }
        }
        Tensor::Q8 { q, s, gs } => {
            let (xq, xs) = quantize(m, x, *gs);
            for (i, o) in out.iter_mut().enumerate() {
                let mut acc = 0.0;
                for g in 0..n / gs {
                    let dot: i32 = (g * gs..(g + 1) * gs)
                        .map(|k| xq[k] as i32 * q[i * n + k] as i32)
                        .sum();
                    let scaled = m.mul(m.mul(m.itof(dot), s[(i * n) / gs + g]), xs[g]);
                    acc = m.add(acc, scaled);
                }
                *o = acc;
            }
        }
    }
}

/// One forward pass: the logits for `token` at `pos` land in `s.logits`.
pub fn forward<M: Math>(m: &M, model: &Model, s: &mut State, token: usize, pos: usize) {
    let c = &model.config;
    let (dim, hs, kv_dim) = (c.dim, c.head_size(), c.kv_dim());
    let kv_mul = c.n_heads / c.n_kv_heads;
    for i in 0..dim {
        s.x[i] = match &model.tokens {
            Tensor::F32(v) => v[token * dim + i],
            Tensor::Q8 { q, s: scales, gs } => {
                let at = token * dim + i;
                m.mul(m.itof(q[at] as i32), scales[at / gs])
            }
        };
    }
    for (l, layer) in model.layers.iter().enumerate() {
        rmsnorm(m, &mut s.xb, &s.x, &layer.rms_att);
        let loff = l * c.seq_len * kv_dim;
        let row = loff + pos * kv_dim..loff + (pos + 1) * kv_dim;
        matmul(m, &mut s.q, &s.xb, &layer.wq, dim);
        matmul(m, &mut s.key_cache[row.clone()], &s.xb, &layer.wk, dim);
        matmul(m, &mut s.value_cache[row.clone()], &s.xb, &layer.wv, dim);
        for i in (0..dim).step_by(2) {
            let (sin, cos) = m.rope(i % hs, hs, pos);
            let k = &mut s.key_cache[row.clone()];
            let vecs: [&mut [f32]; 2] = [&mut s.q, k];
            for (v, vec) in vecs.into_iter().enumerate() {
                if v == 1 && i >= kv_dim {
                    break;
                }
                let (v0, v1) = (vec[i], vec[i + 1]);
                vec[i] = m.sub(m.mul(v0, cos), m.mul(v1, sin));
                vec[i + 1] = m.add(m.mul(v0, sin), m.mul(v1, cos));
            }
        }
        for h in 0..c.n_heads {
            let q = &s.q[h * hs..(h + 1) * hs];
            let att = &mut s.att[h * c.seq_len..h * c.seq_len + pos + 1];
            let head = (h / kv_mul) * hs;
            for (t, a) in att.iter_mut().enumerate() {
                let k = &s.key_cache[loff + t * kv_dim + head..];
                let mut score = 0.0;
                for i in 0..hs {
                    score = m.add(score, m.mul(q[i], k[i]));
                }
                *a = m.div(score, m.sqrt(m.itof(hs as i32)));
            }
            softmax(m, att);
            let xb = &mut s.xb[h * hs..(h + 1) * hs];
            xb.fill(0.0);
            for (t, &a) in att.iter().enumerate() {
                let v = &s.value_cache[loff + t * kv_dim + head..];
                for i in 0..hs {
                    xb[i] = m.add(xb[i], m.mul(a, v[i]));
                }
            }
        }
        matmul(m, &mut s.xb2, &s.xb, &layer.wo, dim);
        for i in 0..dim {
            s.x[i] = m.add(s.x[i], s.xb2[i]);
        }
        rmsnorm(m, &mut s.xb, &s.x, &layer.rms_ffn);
        matmul(m, &mut s.hb, &s.xb, &layer.w1, dim);
        matmul(m, &mut s.hb2, &s.xb, &layer.w3, dim);
        for i in 0..c.hidden_dim {
            let val = s.hb[i];
            let sig = m.div(1.0, m.add(1.0, m.exp(-val)));
            s.hb[i] = m.mul(m.mul(val, sig), s.hb2[i]);
        }
        matmul(m, &mut s.xb, &s.hb, &layer.w2, c.hidden_dim);
        for i in 0..dim {
            s.x[i] = m.add(s.x[i], s.xb[i]);
        }
    }
    let x = s.x.clone();
    rmsnorm(m, &mut s.x, &x, &model.rms_final);
    matmul(m, &mut s.logits, &s.x, model.classifier(), dim);
}
