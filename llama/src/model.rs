//! Model shapes, random weights, and llama2.c checkpoint files: `run.c`'s fp32
//! format (version 0: a 7-int header, negative vocab size = unshared
//! classifier) and `runq.c`'s Q8_0 format (version 2: 256-byte header).

use crate::rng::Rng;

/// llama2.c's `Config`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Transformer dimension.
    pub dim: usize,
    /// FFN hidden dimension.
    pub hidden_dim: usize,
    /// Layers.
    pub n_layers: usize,
    /// Query heads.
    pub n_heads: usize,
    /// Key/value heads (divides `n_heads`).
    pub n_kv_heads: usize,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Longest sequence.
    pub seq_len: usize,
}

impl Config {
    /// Size of one head.
    pub fn head_size(&self) -> usize {
        self.dim / self.n_heads
    }

    /// Key/value width.
    pub fn kv_dim(&self) -> usize {
        self.dim * self.n_kv_heads / self.n_heads
    }
}

/// A weight matrix or vector, fp32 or Q8_0.
#[derive(Clone, Debug, PartialEq)]
pub enum Tensor {
    /// Plain f32 values.
    F32(Vec<f32>),
    /// int8 values with one f32 scale per group.
    Q8 {
        /// The values.
        q: Vec<i8>,
        /// One scale per group.
        s: Vec<f32>,
        /// Group size.
        gs: usize,
    },
}

impl Tensor {
    /// The value at `i` (dequantized for Q8).
    pub fn get(&self, i: usize) -> f32 {
        match self {
            Tensor::F32(v) => v[i],
            Tensor::Q8 { q, s, gs } => q[i] as f32 * s[i / gs],
        }
    }

    /// Elements.
    pub fn len(&self) -> usize {
        match self {
            Tensor::F32(v) => v.len(),
            Tensor::Q8 { q, .. } => q.len(),
        }
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Weights of one layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// RMS norm before attention.
    pub rms_att: Vec<f32>,
    /// RMS norm before the FFN.
    pub rms_ffn: Vec<f32>,
    /// (dim, dim)
    pub wq: Tensor,
    /// (kv_dim, dim)
    pub wk: Tensor,
    /// (kv_dim, dim)
    pub wv: Tensor,
    /// (dim, dim)
    pub wo: Tensor,
    /// (hidden, dim)
    pub w1: Tensor,
    /// (dim, hidden)
    pub w2: Tensor,
    /// (hidden, dim)
    pub w3: Tensor,
}

/// A whole model.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// The shape.
    pub config: Config,
    /// (vocab, dim)
    pub tokens: Tensor,
    /// The layers.
    pub layers: Vec<Layer>,
    /// Final RMS norm.
    pub rms_final: Vec<f32>,
    /// The classifier; `None` = shared with `tokens`.
    pub wcls: Option<Tensor>,
}

impl Model {
    /// The classifier matrix.
    pub fn classifier(&self) -> &Tensor {
        self.wcls.as_ref().unwrap_or(&self.tokens)
    }

    /// Random weights: matrices uniform in ±1/√fan-in (so activations stay
    /// O(1)), norms around 1; Q8 models quantize them with `group_size`.
    pub fn random(config: Config, shared: bool, group_size: Option<usize>, seed: u64) -> Model {
        let mut rng = Rng(seed | 1);
        let c = config;
        let mut matrix = |rows: usize, cols: usize| {
            let bound = 1.0 / (cols as f32).sqrt();
            let values: Vec<f32> = (0..rows * cols)
                .map(|_| (rng.unit() * 2.0 - 1.0) * bound * 2.0)
                .collect();
            match group_size {
                None => Tensor::F32(values),
                Some(gs) => quantize(&values, gs),
            }
        };
        let tokens = matrix(c.vocab_size, c.dim);
        let mut layers = Vec::new();
        for _ in 0..c.n_layers {
            layers.push(Layer {
                rms_att: vec![],
                rms_ffn: vec![],
                wq: matrix(c.dim, c.dim),
                wk: matrix(c.kv_dim(), c.dim),
                wv: matrix(c.kv_dim(), c.dim),
                wo: matrix(c.dim, c.dim),
                w1: matrix(c.hidden_dim, c.dim),
                w2: matrix(c.dim, c.hidden_dim),
                w3: matrix(c.hidden_dim, c.dim),
            });
        }
        let wcls = (!shared).then(|| matrix(c.vocab_size, c.dim));
        let mut norm = || -> Vec<f32> { (0..c.dim).map(|_| 0.5 + rng.unit()).collect() };
        for layer in &mut layers {
            layer.rms_att = norm();
            layer.rms_ffn = norm();
        }
        let rms_final = norm();
        Model {
            config,
            tokens,
            layers,
            rms_final,
            wcls,
        }
    }

    /// The checkpoint file: version 0 (fp32) or version 2 (Q8_0), by the weights.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let c = &self.config;
        let ints = |out: &mut Vec<u8>, vocab: i32| {
            for v in [
                c.dim as i32,
                c.hidden_dim as i32,
                c.n_layers as i32,
                c.n_heads as i32,
                c.n_kv_heads as i32,
                vocab,
                c.seq_len as i32,
            ] {
                out.extend(v.to_le_bytes());
            }
        };
        let floats =
            |out: &mut Vec<u8>, v: &[f32]| out.extend(v.iter().flat_map(|x| x.to_le_bytes()));
        let tensor = |out: &mut Vec<u8>, t: &Tensor| match t {
            Tensor::F32(v) => floats(out, v),
            Tensor::Q8 { q, s, .. } => {
                out.extend(q.iter().map(|&x| x as u8));
                floats(out, s);
            }
        };
        let layers = &self.layers;
        match &self.tokens {
            Tensor::F32(_) => {
                let vocab = c.vocab_size as i32;
                ints(&mut out, if self.wcls.is_some() { -vocab } else { vocab });
                tensor(&mut out, &self.tokens);
                layers.iter().for_each(|l| floats(&mut out, &l.rms_att));
                for pick in &PICKS[..4] {
                    layers.iter().for_each(|l| tensor(&mut out, pick(l)));
                }
                layers.iter().for_each(|l| floats(&mut out, &l.rms_ffn));
                for pick in &PICKS[4..] {
                    layers.iter().for_each(|l| tensor(&mut out, pick(l)));
                }
                floats(&mut out, &self.rms_final);
                // The unused freq_cis_real / freq_cis_imag tables.
                floats(&mut out, &vec![0.0; c.seq_len * c.head_size()]);
            }
            Tensor::Q8 { gs, .. } => {
                out.extend(0x616b_3432u32.to_le_bytes());
                out.extend(2i32.to_le_bytes());
                ints(&mut out, c.vocab_size as i32);
                out.push(self.wcls.is_none() as u8);
                out.extend((*gs as i32).to_le_bytes());
                out.resize(256, 0);
                layers.iter().for_each(|l| floats(&mut out, &l.rms_att));
                layers.iter().for_each(|l| floats(&mut out, &l.rms_ffn));
                floats(&mut out, &self.rms_final);
                tensor(&mut out, &self.tokens);
                for pick in PICKS {
                    layers.iter().for_each(|l| tensor(&mut out, pick(l)));
                }
            }
        }
        if let Some(wcls) = &self.wcls {
            tensor(&mut out, wcls);
        }
        out
    }
}

/// The layer matrices in file order.
const PICKS: [fn(&Layer) -> &Tensor; 7] = [
    |l| &l.wq,
    |l| &l.wk,
    |l| &l.wv,
    |l| &l.wo,
    |l| &l.w1,
    |l| &l.w2,
    |l| &l.w3,
];

/// runq.c's `quantize` in plain f32 (the file writer's; the forward pass uses [`crate::Math`]).
pub fn quantize(values: &[f32], gs: usize) -> Tensor {
    let mut q = Vec::with_capacity(values.len());
    let mut s = Vec::new();
    for group in values.chunks(gs) {
        let wmax = group.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let scale = wmax / 127.0;
        s.push(scale);
        q.extend(group.iter().map(|v| {
            let r = (v / scale).round();
            if r.is_nan() {
                0
            } else {
                r.clamp(-127.0, 127.0) as i8
            }
        }));
    }
    Tensor::Q8 { q, s, gs }
}

/// Why a checkpoint file is not usable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckpointError {
    /// Shorter than its header.
    #[error("the model file is truncated ({0} bytes; a header needs at least 28)")]
    Truncated(usize),
    /// A `runq.c` magic with another version.
    #[error("unsupported checkpoint version {0} (fp32 version 0 and Q8_0 version 2 are supported)")]
    Version(i32),
    /// Sizes that cannot describe a model.
    #[error("the model's shape is not usable: {0}")]
    Shape(&'static str),
}

impl Config {
    /// The configuration in a checkpoint's header (run.c version 0 or runq.c
    /// version 2), and the Q8 group size (`None` for fp32).
    pub fn from_checkpoint(bytes: &[u8]) -> Result<(Config, Option<usize>), CheckpointError> {
        let int = |i: usize| -> Result<i32, CheckpointError> {
            let b = bytes
                .get(i * 4..i * 4 + 4)
                .ok_or(CheckpointError::Truncated(bytes.len()))?;
            Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        let (first, group_size) = if int(0)? as u32 == 0x616b_3432 {
            let version = int(1)?;
            if version != 2 {
                return Err(CheckpointError::Version(version));
            }
            let gs = bytes
                .get(37..41)
                .ok_or(CheckpointError::Truncated(bytes.len()))?;
            (2, Some(i32::from_le_bytes([gs[0], gs[1], gs[2], gs[3]])))
        } else {
            (0, None)
        };
        let mut v = [0i32; 7];
        for (i, slot) in v.iter_mut().enumerate() {
            *slot = int(first + i)?;
        }
        let [
            dim,
            hidden_dim,
            n_layers,
            n_heads,
            n_kv_heads,
            vocab,
            seq_len,
        ] = v;
        if [dim, hidden_dim, n_layers, n_heads, n_kv_heads, seq_len]
            .iter()
            .any(|&x| x <= 0)
            || vocab == 0
        {
            return Err(CheckpointError::Shape("a size is zero or negative"));
        }
        if dim % n_heads != 0 || n_heads % n_kv_heads != 0 {
            return Err(CheckpointError::Shape(
                "heads must divide dim and kv heads must divide heads",
            ));
        }
        if let Some(gs) = group_size
            && (gs <= 0 || gs % 4 != 0 || dim % gs != 0 || hidden_dim % gs != 0)
        {
            return Err(CheckpointError::Shape(
                "the group size must be a multiple of 4 dividing dim and hidden_dim",
            ));
        }
        let config = Config {
            dim: dim as usize,
            hidden_dim: hidden_dim as usize,
            n_layers: n_layers as usize,
            n_heads: n_heads as usize,
            n_kv_heads: n_kv_heads as usize,
            vocab_size: vocab.unsigned_abs() as usize,
            seq_len: seq_len as usize,
        };
        Ok((config, group_size.map(|g| g as usize)))
    }
}
