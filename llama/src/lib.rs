//! A reference llama2.c in plain Rust, for testing and benchmarking pxOS's
//! pixel `ai` program: random-weight models and their checkpoint files
//! ([`model`]), `tokenizer.bin` ([`tokenizer`]), the forward pass over a
//! chosen arithmetic ([`forward`]), and `run.c`'s sampler and generation loop
//! ([`generate`]). Written from llama2.c's file formats and algorithms; no
//! weights are downloaded.

pub mod boot;
pub mod forward;
pub mod gguf;
pub mod model;
pub mod rng;
pub mod tokenizer;

pub use forward::{Exact, Libm, Math};
pub use model::{Config, Model};
pub use tokenizer::Tokenizer;

/// run.c's sampling options.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Tokens to run (0 or past `seq_len` = `seq_len`).
    pub steps: usize,
    /// 0 = greedy.
    pub temperature: f32,
    /// Nucleus mass; ≤ 0 or ≥ 1 = plain multinomial sampling.
    pub topp: f32,
    /// xorshift seed.
    pub seed: u64,
}

/// What a generation produced.
#[derive(Clone, Debug, Default)]
pub struct Generation {
    /// Token ids after the first (BOS), prompt ones included, as run.c walks them.
    pub tokens: Vec<u32>,
    /// The bytes run.c prints (pieces, then a newline).
    pub text: Vec<u8>,
    /// The logits of every forward pass.
    pub logits: Vec<Vec<f32>>,
}

/// run.c's `sample`: greedy at temperature 0, else temperature, softmax, a coin and
/// multinomial or top-p sampling.
pub fn sample<M: Math>(m: &M, logits: &mut [f32], options: &Options, state: &mut u64) -> u32 {
    if options.temperature == 0.0 {
        return argmax(m, logits);
    }
    for v in logits.iter_mut() {
        *v = m.div(*v, options.temperature);
    }
    forward::softmax(m, logits);
    let coin = rng::random_f32(state);
    if options.topp <= 0.0 || options.topp >= 1.0 {
        sample_mult(m, logits, coin)
    } else {
        sample_topp(m, logits, options.topp, coin)
    }
}

/// `sample_argmax`: the first maximum.
pub fn argmax<M: Math>(m: &M, x: &[f32]) -> u32 {
    let mut best = 0;
    for i in 1..x.len() {
        if m.lt(x[best], x[i]) {
            best = i;
        }
    }
    best as u32
}

/// `sample_mult`.
pub fn sample_mult<M: Math>(m: &M, probs: &[f32], coin: f32) -> u32 {
    let mut cdf = 0.0;
    for (i, &p) in probs.iter().enumerate() {
        cdf = m.add(cdf, p);
        if m.lt(coin, cdf) {
            return i as u32;
        }
    }
    probs.len() as u32 - 1
}

/// `sample_topp`. llama2.c sorts with `qsort`, whose order of equal
/// probabilities is unspecified; this sort is stable (index order).
pub fn sample_topp<M: Math>(m: &M, probs: &[f32], topp: f32, coin: f32) -> u32 {
    let cutoff = m.div(m.sub(1.0, topp), m.itof(probs.len() as i32 - 1));
    let mut kept: Vec<(f32, u32)> = probs
        .iter()
        .enumerate()
        .filter(|&(_, &p)| !m.lt(p, cutoff))
        .map(|(i, &p)| (p, i as u32))
        .collect();
    kept.sort_by(|a, b| {
        if m.lt(b.0, a.0) {
            std::cmp::Ordering::Less
        } else if m.lt(a.0, b.0) {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    });
    let mut cumulative = 0.0;
    let mut last = kept.len() - 1;
    for (i, &(p, _)) in kept.iter().enumerate() {
        cumulative = m.add(cumulative, p);
        if m.lt(topp, cumulative) {
            last = i;
            break;
        }
    }
    let r = m.mul(coin, cumulative);
    let mut cdf = 0.0;
    for &(p, index) in &kept[..=last] {
        cdf = m.add(cdf, p);
        if m.lt(r, cdf) {
            return index;
        }
    }
    kept[last].1
}

/// run.c's `generate`: encode the prompt with BOS, force its tokens, sample
/// the rest, stop at `steps` or a BOS; collects what run.c prints.
pub fn generate<M: Math>(
    m: &M,
    model: &Model,
    tokenizer: &Tokenizer,
    prompt: &[u8],
    options: &Options,
) -> Generation {
    let c = &model.config;
    let steps = if options.steps == 0 || options.steps > c.seq_len {
        c.seq_len
    } else {
        options.steps
    };
    let prompt_tokens = tokenizer.encode(prompt, true, false);
    let mut state = forward::State::new(model);
    let mut rng_state = options.seed;
    let mut out = Generation::default();
    let mut token = prompt_tokens[0];
    let mut pos = 0;
    while pos < steps {
        forward::forward(m, model, &mut state, token as usize, pos);
        out.logits.push(state.logits.clone());
        let next = if pos < prompt_tokens.len() - 1 {
            prompt_tokens[pos + 1]
        } else {
            sample(m, &mut state.logits, options, &mut rng_state)
        };
        pos += 1;
        if next == 1 {
            break;
        }
        out.tokens.push(next);
        out.text.extend(tokenizer.piece(token, next));
        token = next;
    }
    out.text.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> Config {
        Config {
            dim: 32,
            hidden_dim: 64,
            n_layers: 2,
            n_heads: 4,
            n_kv_heads: 2,
            vocab_size: 512,
            seq_len: 32,
        }
    }

    #[test]
    fn tokenizer_round_trips_and_merges() {
        let t = Tokenizer::generate(512, 7);
        assert_eq!(t.vocab.len(), 512);
        let back = Tokenizer::from_bytes(&t.to_bytes(), 512).unwrap();
        assert_eq!(back, t);
        let ids = t.encode(b"once upon a time", true, false);
        assert_eq!(ids[0], 1);
        assert!(ids.len() < 10, "merges apply: {ids:?}");
        let text: Vec<u8> = ids.windows(2).flat_map(|w| t.piece(w[0], w[1])).collect();
        assert_eq!(text, b"once upon a time");
        // Unknown UTF-8 falls back to bytes (+3).
        let ids = t.encode("é".as_bytes(), false, false);
        assert_eq!(&ids[1..], &[0xC3 + 3, 0xA9 + 3]);
        assert!(Tokenizer::from_bytes(&t.to_bytes()[..100], 512).is_err());
    }

    #[test]
    fn exact_and_libm_agree_closely() {
        for (shared, gs) in [
            (true, None),
            (false, None),
            (true, Some(8)),
            (false, Some(16)),
        ] {
            let model = Model::random(shape(), shared, gs, 3);
            let t = Tokenizer::generate(512, 7);
            let options = Options {
                steps: 12,
                temperature: 0.0,
                topp: 0.9,
                seed: 42,
            };
            let exact = generate(&Exact, &model, &t, b"lily saw", &options);
            let libm = generate(&Libm, &model, &t, b"lily saw", &options);
            for (e, l) in exact
                .logits
                .iter()
                .flatten()
                .zip(libm.logits.iter().flatten())
            {
                assert!((e - l).abs() < 1e-3, "{e} vs {l}");
            }
            assert_eq!(exact.tokens.len(), 12);
            assert_eq!(exact.tokens, libm.tokens);
        }
    }

    #[test]
    fn checkpoints_have_the_documented_sizes() {
        let c = shape();
        let fp32 = Model::random(c, false, None, 1).to_bytes();
        let (d, h, l, v, kv) = (c.dim, c.hidden_dim, c.n_layers, c.vocab_size, c.kv_dim());
        let weights = v * d
            + l * d * 2
            + l * (d * d * 2 + d * kv * 2)
            + l * d * h * 3
            + d
            + c.seq_len * c.head_size()
            + v * d;
        assert_eq!(fp32.len(), 28 + 4 * weights);
        assert_eq!(&fp32[20..24], &(-(v as i32)).to_le_bytes());
        let q8 = Model::random(c, true, Some(8), 1).to_bytes();
        assert_eq!(&q8[..4], &0x616b_3432u32.to_le_bytes());
        assert_eq!(q8[36], 1);
        let q = |n: usize| n + 4 * n / 8;
        let expected = 256
            + 4 * (l * d * 2 + d)
            + q(v * d)
            + l * (q(d * d) * 2 + q(d * kv) * 2 + q(d * h) * 3);
        assert_eq!(q8.len(), expected);
    }

    #[test]
    fn sampling_follows_run_c() {
        let mut state = 42u64;
        let first = rng::random_u32(&mut state);
        let mut again = 42u64;
        assert_eq!(rng::random_u32(&mut again), first);
        let probs = [0.1f32, 0.2, 0.3, 0.4];
        assert_eq!(sample_mult(&Exact, &probs, 0.05), 0);
        assert_eq!(sample_mult(&Exact, &probs, 0.35), 2);
        assert_eq!(sample_mult(&Exact, &probs, 0.9999), 3);
        assert_eq!(sample_topp(&Exact, &probs, 0.5, 0.0), 3);
        assert_eq!(argmax(&Exact, &[1.0, 3.0, 3.0]), 1);
    }
}
