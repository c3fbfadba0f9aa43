//! llama2.c's `tokenizer.bin`: a generator for test vocabularies, the file
//! format, BPE `encode` and `decode` exactly as `run.c` does them.

use std::collections::HashMap;

use crate::rng::Rng;

/// A vocabulary with merge scores.
#[derive(Clone, Debug, PartialEq)]
pub struct Tokenizer {
    /// Token pieces (raw bytes).
    pub vocab: Vec<Vec<u8>>,
    /// Merge scores.
    pub scores: Vec<f32>,
    /// Longest piece in bytes.
    pub max_token_length: u32,
    lookup: HashMap<Vec<u8>, u32>,
}

/// Why a tokenizer file does not load.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenizerError {
    /// The file ends early.
    #[error("tokenizer file truncated at byte {0}")]
    Truncated(usize),
}

/// Words the generated vocabularies learn their merges from.
const WORDS: &[&str] = &[
    "once", "upon", "a", "time", "there", "was", "little", "girl", "named", "lily", "she", "loved",
    "to", "play", "in", "the", "park", "with", "her", "friend", "tom", "one", "day", "they", "saw",
    "big", "red", "ball", "and", "ran", "it", "happy", "sun", "sky", "dog", "said", "look", "at",
    "that", "went", "home", "mom", "smiled", "he", "is", "very", "good",
];

impl Tokenizer {
    fn new(vocab: Vec<Vec<u8>>, scores: Vec<f32>, max_token_length: u32) -> Tokenizer {
        let lookup = vocab
            .iter()
            .enumerate()
            .map(|(i, p)| (p.clone(), i as u32))
            .collect();
        Tokenizer {
            vocab,
            scores,
            max_token_length,
            lookup,
        }
    }

    /// A `size`-token vocabulary like Llama's: `<unk>`, BOS, EOS, the 256 byte
    /// tokens `<0xXX>`, printable ASCII, then BPE merges learnt from a seeded
    /// corpus of simple words (score = −merge index, so earlier merges win).
    pub fn generate(size: usize, seed: u64) -> Tokenizer {
        let mut vocab: Vec<Vec<u8>> =
            vec![b"<unk>".to_vec(), b"\n<s>\n".to_vec(), b"\n</s>\n".to_vec()];
        vocab.extend((0..=255u8).map(|b| format!("<0x{b:02X}>").into_bytes()));
        let mut scores = vec![0.0; vocab.len()];
        for c in b' '..=b'~' {
            vocab.push(vec![c]);
            scores.push(-1e6);
        }
        let mut rng = Rng(seed | 1);
        let mut corpus: Vec<Vec<u8>> = Vec::new();
        for _ in 0..3000 {
            let word = WORDS[(rng.next_u64() % WORDS.len() as u64) as usize];
            corpus.push(vec![b' ']);
            corpus.extend(word.bytes().map(|b| vec![b]));
        }
        let mut known: std::collections::HashSet<Vec<u8>> = vocab.iter().cloned().collect();
        let mut merge = 0;
        while vocab.len() < size {
            let mut counts: HashMap<(&[u8], &[u8]), u32> = HashMap::new();
            for pair in corpus.windows(2) {
                *counts.entry((&pair[0], &pair[1])).or_default() += 1;
            }
            let best = counts
                .into_iter()
                .filter(|((a, b), n)| *n >= 2 && !known.contains(&[*a, *b].concat()))
                .max_by(|x, y| x.1.cmp(&y.1).then(y.0.cmp(&x.0)))
                .map(|((a, b), _)| [a, b].concat());
            let Some(piece) = best else {
                // No pair repeats any more: pad with pieces no text produces.
                for pad in 0..size - vocab.len() {
                    vocab.push(format!("<pad{pad}>").into_bytes());
                    scores.push(-1e7);
                }
                break;
            };
            known.insert(piece.clone());
            let mut merged = Vec::with_capacity(corpus.len());
            let mut i = 0;
            while i < corpus.len() {
                if i + 1 < corpus.len() && [&corpus[i][..], &corpus[i + 1][..]].concat() == piece {
                    merged.push(piece.clone());
                    i += 2;
                } else {
                    merged.push(corpus[i].clone());
                    i += 1;
                }
            }
            corpus = merged;
            vocab.push(piece);
            scores.push(-(merge as f32));
            merge += 1;
        }
        let max = vocab.iter().map(Vec::len).max().unwrap_or(0) as u32;
        Tokenizer::new(vocab, scores, max)
    }

    /// The `tokenizer.bin` bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.max_token_length.to_le_bytes().to_vec();
        for (piece, score) in self.vocab.iter().zip(&self.scores) {
            out.extend(score.to_le_bytes());
            out.extend((piece.len() as i32).to_le_bytes());
            out.extend(piece);
        }
        out
    }

    /// Load `vocab_size` tokens from `tokenizer.bin` bytes.
    pub fn from_bytes(data: &[u8], vocab_size: usize) -> Result<Tokenizer, TokenizerError> {
        let mut at = 0;
        let mut take = |n: usize| {
            let slice = data.get(at..at + n).ok_or(TokenizerError::Truncated(at))?;
            at += n;
            Ok::<&[u8], TokenizerError>(slice)
        };
        let word = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let max = word(take(4)?);
        let (mut vocab, mut scores) = (Vec::new(), Vec::new());
        for _ in 0..vocab_size {
            scores.push(f32::from_bits(word(take(4)?)));
            let len = word(take(4)?) as usize;
            vocab.push(take(len)?.to_vec());
        }
        Ok(Tokenizer::new(vocab, scores, max))
    }

    /// The id of `piece`, if it is in the vocabulary.
    pub fn find(&self, piece: &[u8]) -> Option<u32> {
        self.lookup.get(piece).copied()
    }

    /// run.c's `encode`: optional BOS, the dummy-prefix space, UTF-8 code
    /// points (byte fallback = byte + 3), then greedy best-score merges.
    pub fn encode(&self, text: &[u8], bos: bool, eos: bool) -> Vec<u32> {
        let mut tokens = Vec::new();
        if bos {
            tokens.push(1);
        }
        if !text.is_empty() {
            tokens.push(self.find(b" ").map_or(u32::MAX, |id| id));
        }
        let mut buffer: Vec<u8> = Vec::new();
        for (i, &c) in text.iter().enumerate() {
            if c & 0xC0 != 0x80 {
                buffer.clear();
            }
            buffer.push(c);
            let next = text.get(i + 1).copied().unwrap_or(0);
            if next & 0xC0 == 0x80 && buffer.len() < 4 {
                continue;
            }
            match self.find(&buffer) {
                Some(id) => tokens.push(id),
                None => tokens.extend(buffer.iter().map(|&b| b as u32 + 3)),
            }
            buffer.clear();
        }
        loop {
            let mut best: Option<(f32, u32, usize)> = None;
            for i in 0..tokens.len().saturating_sub(1) {
                let pair = [
                    &self.vocab[tokens[i] as usize][..],
                    &self.vocab[tokens[i + 1] as usize][..],
                ]
                .concat();
                if let Some(id) = self.find(&pair) {
                    let score = self.scores[id as usize];
                    if score > best.map_or(-1e10, |b| b.0) {
                        best = Some((score, id, i));
                    }
                }
            }
            let Some((_, id, i)) = best else { break };
            tokens[i] = id;
            tokens.remove(i + 1);
        }
        if eos {
            tokens.push(2);
        }
        tokens
    }

    /// run.c's `decode` then `safe_printf`: the bytes printed for `token` after `prev`.
    pub fn piece(&self, prev: u32, token: u32) -> Vec<u8> {
        let mut piece = &self.vocab[token as usize][..];
        if prev == 1 && piece.first() == Some(&b' ') {
            piece = &piece[1..];
        }
        let byte = byte_token(piece);
        let out = match byte {
            Some(b) => vec![b],
            None => piece.to_vec(),
        };
        if out.len() == 1
            && !(out[0].is_ascii_graphic()
                || out[0] == b' '
                || out[0].is_ascii_whitespace()
                || out[0] == 0x0B)
        {
            return vec![];
        }
        out
    }
}

/// The byte of a `<0xXX>` piece (sscanf "<0x%02hhX>": one or two hex digits, then `>`).
fn byte_token(piece: &[u8]) -> Option<u8> {
    let rest = piece.strip_prefix(b"<0x")?;
    let digits = rest
        .iter()
        .take(2)
        .take_while(|c| c.is_ascii_hexdigit())
        .count();
    if digits == 0 {
        return None;
    }
    let value = u8::from_str_radix(std::str::from_utf8(&rest[..digits]).ok()?, 16).ok()?;
    // sscanf returns 1 once the number converted, whatever follows.
    Some(value)
}
