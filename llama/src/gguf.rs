//! GGUF files of llama models with Q8_0 weights: a writer for tests (from a
//! [`Model`] whose Q8 scales are f16 values) and a reader of the shape for
//! `pxi-run ai`. The pixel `ai` reads such a file itself (lib/ai_core.pxs):
//! the metadata keys below, the tensors by name, and every Q8_0 block
//! (an f16 scale, then 32 int8 values: 34 bytes) converted to runq.c's
//! layout (int8 values, then one f32 scale per 32 values) — f16 → f32 is
//! exact, so the converted model is the same numbers.
//!
//! Layout (GGUF version 3, little-endian): `GGUF`, version, tensor count
//! (u64), metadata count (u64); metadata (key string, value type, value);
//! tensor infos (name, dimensions, ggml type, data offset); data aligned to
//! `general.alignment` (32). A string is a u64 length and its bytes.

use crate::model::{Config, Model, Tensor};

/// `GGUF` read as a little-endian u32.
pub const MAGIC: u32 = u32::from_le_bytes(*b"GGUF");
/// ggml's type numbers for the tensors this module knows.
pub const TYPE_F32: u32 = 0;
/// ggml `Q8_0`: blocks of an f16 scale and 32 int8 values.
pub const TYPE_Q8_0: u32 = 8;
/// Values per Q8_0 block.
pub const BLOCK: usize = 32;
/// Data alignment this writer uses (GGUF's default).
pub const ALIGNMENT: usize = 32;

/// GGUF metadata value types used here.
const T_UINT32: u32 = 4;
const T_STRING: u32 = 8;
const T_ARRAY: u32 = 9;
const T_UINT64: u32 = 10;

/// The metadata keys of the shape, in [`Config`] order.
pub const KEYS: [&str; 6] = [
    "llama.embedding_length",
    "llama.feed_forward_length",
    "llama.block_count",
    "llama.attention.head_count",
    "llama.attention.head_count_kv",
    "llama.context_length",
];

/// Why a GGUF file is not usable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GgufError {
    /// It ends inside its header, metadata or tensor infos.
    #[error("the GGUF file is truncated")]
    Truncated,
    /// Another version than 2 or 3.
    #[error("unsupported GGUF version {0}")]
    Version(u32),
    /// A metadata key the shape needs is missing or not an integer.
    #[error("the GGUF file has no integer `{0}`")]
    Missing(&'static str),
    /// No `token_embd.weight`.
    #[error("the GGUF file has no token_embd.weight")]
    NoEmbedding,
    /// A metadata value of a type GGUF does not define.
    #[error("bad GGUF metadata type {0}")]
    BadType(u32),
}

/// Little-endian reader over the file.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], GgufError> {
        let end = self.at.checked_add(n).ok_or(GgufError::Truncated)?;
        let slice = self.bytes.get(self.at..end).ok_or(GgufError::Truncated)?;
        self.at = end;
        Ok(slice)
    }

    fn u32(&mut self) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn string(&mut self) -> Result<&[u8], GgufError> {
        let len = usize::try_from(self.u64()?).map_err(|_| GgufError::Truncated)?;
        self.take(len)
    }

    /// A value of type `t`: its integer value where it has one.
    fn value(&mut self, t: u32) -> Result<Option<u64>, GgufError> {
        let size = match t {
            0 | 1 | 7 => 1,
            2 | 3 => 2,
            4..=6 => 4,
            10..=12 => 8,
            T_STRING => {
                self.string()?;
                return Ok(None);
            }
            T_ARRAY => {
                let item = self.u32()?;
                for _ in 0..self.u64()? {
                    self.value(item)?;
                }
                return Ok(None);
            }
            _ => return Err(GgufError::BadType(t)),
        };
        let bytes = self.take(size)?;
        let mut word = [0u8; 8];
        word[..size].copy_from_slice(bytes);
        Ok(matches!(t, 0 | 2 | 4 | 10).then_some(u64::from_le_bytes(word)))
    }
}

/// Whether `bytes` starts like a GGUF file.
pub fn is_gguf(bytes: &[u8]) -> bool {
    bytes.get(..4) == Some(b"GGUF")
}

/// The shape of a GGUF llama model: the [`KEYS`] and the vocabulary size
/// (the second dimension of `token_embd.weight`).
pub fn config(bytes: &[u8]) -> Result<Config, GgufError> {
    let mut r = Reader { bytes, at: 4 };
    let version = r.u32()?;
    if version != 2 && version != 3 {
        return Err(GgufError::Version(version));
    }
    let tensors = r.u64()?;
    let kvs = r.u64()?;
    let mut shape = [None; 6];
    for _ in 0..kvs {
        let key = r.string()?.to_vec();
        let t = r.u32()?;
        let value = r.value(t)?;
        if let Some(i) = KEYS.iter().position(|k| k.as_bytes() == key) {
            shape[i] = value;
        }
    }
    let mut vocab = None;
    for _ in 0..tensors {
        let name = r.string()?.to_vec();
        let dims = r.u32()?;
        let sizes: Vec<u64> = (0..dims).map(|_| r.u64()).collect::<Result<_, _>>()?;
        r.u32()?;
        r.u64()?;
        if name == b"token_embd.weight" {
            vocab = sizes.get(1).copied();
        }
    }
    let get = |i: usize| -> Result<usize, GgufError> {
        shape[i]
            .and_then(|v| usize::try_from(v).ok())
            .ok_or(GgufError::Missing(KEYS[i]))
    };
    Ok(Config {
        dim: get(0)?,
        hidden_dim: get(1)?,
        n_layers: get(2)?,
        n_heads: get(3)?,
        n_kv_heads: get(4)?,
        vocab_size: vocab.ok_or(GgufError::NoEmbedding)? as usize,
        seq_len: get(5)?,
    })
}

/// Words the pixel program allocates to convert a GGUF model of shape `c`
/// (every matrix in runq.c's Q8_0 layout with group size 32, an unshared
/// classifier at most, the layers' norms, the tensor table).
pub fn converted_words(c: &Config) -> u32 {
    let q8 = |rows: usize, cols: usize| rows * cols / 4 + rows * cols / BLOCK;
    let layer = 2 * q8(c.dim, c.dim) + 2 * q8(c.kv_dim(), c.dim) + 3 * q8(c.hidden_dim, c.dim);
    let norms = 2 * c.dim;
    let table = 4 * (3 + 9 * c.n_layers);
    (2 * q8(c.vocab_size, c.dim) + c.n_layers * (layer + norms) + table) as u32
}

/// `model` with every Q8 scale rounded to the nearest f16 (what a GGUF Q8_0
/// block can hold).
pub fn with_f16_scales(mut model: Model) -> Model {
    let round = |t: &mut Tensor| {
        if let Tensor::Q8 { s, .. } = t {
            s.iter_mut()
                .for_each(|x| *x = half::f16::from_f32(*x).to_f32());
        }
    };
    round(&mut model.tokens);
    for l in &mut model.layers {
        for t in [
            &mut l.wq, &mut l.wk, &mut l.wv, &mut l.wo, &mut l.w1, &mut l.w2, &mut l.w3,
        ] {
            round(t);
        }
    }
    if let Some(w) = &mut model.wcls {
        round(w);
    }
    model
}

/// A tensor of the file: name, ggml dimensions (row length first), type, data.
struct Entry {
    name: String,
    dims: Vec<u64>,
    kind: u32,
    data: Vec<u8>,
}

fn f32_entry(name: String, v: &[f32]) -> Entry {
    Entry {
        name,
        dims: vec![v.len() as u64],
        kind: TYPE_F32,
        data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    }
}

/// A (rows, cols) Q8 matrix as Q8_0 blocks. Panics unless its group size is
/// 32 and its scales are f16 values ([`with_f16_scales`]).
fn q8_entry(name: String, t: &Tensor, rows: usize, cols: usize) -> Entry {
    let Tensor::Q8 { q, s, gs: BLOCK } = t else {
        panic!("GGUF Q8_0 needs Q8 weights with group size {BLOCK}");
    };
    let mut data = Vec::with_capacity(q.len() / BLOCK * 34);
    for (block, &scale) in q.chunks(BLOCK).zip(s) {
        let h = half::f16::from_f32(scale);
        assert_eq!(
            h.to_f32(),
            scale,
            "{name}: scale {scale} is not an f16 value"
        );
        data.extend(h.to_bits().to_le_bytes());
        data.extend(block.iter().map(|&x| x as u8));
    }
    Entry {
        name,
        dims: vec![cols as u64, rows as u64],
        kind: TYPE_Q8_0,
        data,
    }
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s);
}

/// The GGUF file of a Q8 model (group size 32, f16 scales): llama.cpp's
/// tensor names, layer by layer; `output.weight` only when the classifier is
/// not shared. A tokenizer array in the metadata is there to be skipped.
pub fn to_gguf(model: &Model) -> Vec<u8> {
    let c = &model.config;
    let mut entries = vec![q8_entry(
        "token_embd.weight".into(),
        &model.tokens,
        c.vocab_size,
        c.dim,
    )];
    for (i, l) in model.layers.iter().enumerate() {
        let matrices: [(&str, &Tensor, usize, usize); 7] = [
            ("attn_q", &l.wq, c.dim, c.dim),
            ("attn_k", &l.wk, c.kv_dim(), c.dim),
            ("attn_v", &l.wv, c.kv_dim(), c.dim),
            ("attn_output", &l.wo, c.dim, c.dim),
            ("ffn_gate", &l.w1, c.hidden_dim, c.dim),
            ("ffn_down", &l.w2, c.dim, c.hidden_dim),
            ("ffn_up", &l.w3, c.hidden_dim, c.dim),
        ];
        entries.push(f32_entry(format!("blk.{i}.attn_norm.weight"), &l.rms_att));
        for (name, t, rows, cols) in matrices {
            entries.push(q8_entry(format!("blk.{i}.{name}.weight"), t, rows, cols));
        }
        entries.push(f32_entry(format!("blk.{i}.ffn_norm.weight"), &l.rms_ffn));
    }
    entries.push(f32_entry("output_norm.weight".into(), &model.rms_final));
    if let Some(w) = &model.wcls {
        entries.push(q8_entry("output.weight".into(), w, c.vocab_size, c.dim));
    }
    let mut out = Vec::new();
    out.extend(MAGIC.to_le_bytes());
    out.extend(3u32.to_le_bytes());
    out.extend((entries.len() as u64).to_le_bytes());
    let values = [
        c.dim,
        c.hidden_dim,
        c.n_layers,
        c.n_heads,
        c.n_kv_heads,
        c.seq_len,
    ];
    out.extend((KEYS.len() as u64 + 4).to_le_bytes());
    put_string(&mut out, b"general.architecture");
    out.extend(T_STRING.to_le_bytes());
    put_string(&mut out, b"llama");
    put_string(&mut out, b"general.alignment");
    out.extend(T_UINT32.to_le_bytes());
    out.extend((ALIGNMENT as u32).to_le_bytes());
    for (key, value) in KEYS.iter().zip(values) {
        put_string(&mut out, key.as_bytes());
        out.extend(T_UINT32.to_le_bytes());
        out.extend((value as u32).to_le_bytes());
    }
    put_string(&mut out, b"llama.rope.dimension_count");
    out.extend(T_UINT64.to_le_bytes());
    out.extend((c.head_size() as u64).to_le_bytes());
    put_string(&mut out, b"tokenizer.ggml.tokens");
    out.extend(T_ARRAY.to_le_bytes());
    out.extend(T_STRING.to_le_bytes());
    out.extend(3u64.to_le_bytes());
    for piece in [&b"<unk>"[..], b"<s>", b"</s>"] {
        put_string(&mut out, piece);
    }
    let mut offset = 0;
    for e in &entries {
        put_string(&mut out, e.name.as_bytes());
        out.extend((e.dims.len() as u32).to_le_bytes());
        e.dims.iter().for_each(|d| out.extend(d.to_le_bytes()));
        out.extend(e.kind.to_le_bytes());
        out.extend((offset as u64).to_le_bytes());
        offset = (offset + e.data.len()).next_multiple_of(ALIGNMENT);
    }
    for e in &entries {
        out.resize(out.len().next_multiple_of(ALIGNMENT), 0);
        out.extend(&e.data);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(shared: bool) -> Model {
        let c = Config {
            dim: 64,
            hidden_dim: 96,
            n_layers: 2,
            n_heads: 4,
            n_kv_heads: 2,
            vocab_size: 512,
            seq_len: 16,
        };
        with_f16_scales(Model::random(c, shared, Some(BLOCK), 3))
    }

    #[test]
    fn the_shape_reads_back() {
        for shared in [true, false] {
            let m = model(shared);
            let bytes = to_gguf(&m);
            assert!(is_gguf(&bytes));
            assert_eq!(config(&bytes), Ok(m.config));
            assert_eq!(config(&bytes[..100]), Err(GgufError::Truncated));
        }
    }

    #[test]
    fn blocks_hold_the_f16_scale_then_the_values() {
        let m = model(true);
        let bytes = to_gguf(&m);
        let Tensor::Q8 { q, s, .. } = &m.tokens else {
            unreachable!()
        };
        // token_embd.weight is the first tensor: at the data start.
        let data = bytes.len() - to_gguf_data_len(&m);
        let block = &bytes[data + 34..data + 68];
        let scale = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
        assert_eq!(scale, s[1]);
        assert_eq!(
            block[2..].iter().map(|&b| b as i8).collect::<Vec<_>>(),
            q[32..64]
        );
    }

    /// Bytes from the data start to the end of the file.
    fn to_gguf_data_len(m: &Model) -> usize {
        let c = &m.config;
        let q8 = |n: usize| (n / BLOCK * 34).next_multiple_of(ALIGNMENT);
        let f32s = |n: usize| (n * 4).next_multiple_of(ALIGNMENT);
        let layer = f32s(c.dim) * 2
            + q8(c.dim * c.dim) * 2
            + q8(c.kv_dim() * c.dim) * 2
            + q8(c.hidden_dim * c.dim) * 3;
        let total = q8(c.vocab_size * c.dim) + layer * c.n_layers + f32s(c.dim);
        // the last tensor is not padded
        total - (f32s(c.dim) - c.dim * 4)
    }

    #[test]
    fn other_shapes_and_versions_are_refused() {
        let mut bytes = to_gguf(&model(true));
        bytes[4] = 7;
        assert_eq!(config(&bytes), Err(GgufError::Version(7)));
    }
}
