//! Loading `examples/ai.pxs` the way its boot block asks: the checkpoint,
//! tokenizer.bin and the prompt text placed in data memory after the
//! program's own data, the boot words filled in, the rest of memory free for
//! the run state. (The OS's `ai` command will do the same through the file
//! API; tests and benchmarks use this.)

use pxi::Image;
use pxi::image::Segment;

use crate::{Config, Options};

/// Boot block word: where the generated token ids are written.
pub const B_OUT: usize = 13;
/// Boot block word: how many token ids were written.
pub const B_NOUT: usize = 14;

/// Packed little-endian words of `bytes` (zero-padded).
fn words(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks(4)
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(w)
        })
        .collect()
}

/// Words the program allocates for `config`'s run state and a prompt of
/// `prompt_bytes` (its tokens), with some slack.
pub fn state_words(c: &Config, prompt_bytes: usize) -> u32 {
    let cache = 2 * c.n_layers * c.seq_len * c.kv_dim();
    let buffers = 4 * c.dim + 2 * c.hidden_dim + c.n_heads * c.seq_len + c.vocab_size;
    let tokenizer_index = 2 * c.vocab_size;
    let topp_candidates = 2 * c.vocab_size;
    let hash_table = (2 * c.vocab_size).next_power_of_two();
    (cache
        + buffers
        + tokenizer_index
        + topp_candidates
        + hash_table
        + c.dim.max(c.hidden_dim)
        + 64) as u32
        + prompt_bytes as u32
}

/// `program` (ai.pxs assembled) with the files, the prompt and the boot block in memory.
pub fn load(
    program: &Image,
    model: &[u8],
    tokenizer: &[u8],
    prompt: &[u8],
    options: &Options,
    config: &Config,
) -> Image {
    let mut image = program.clone();
    let mut at = image.memory_words.next_multiple_of(4);
    let mut place = |image: &mut Image, data: Vec<u32>| {
        let addr = at;
        at += data.len() as u32;
        image.segments.push(Segment { addr, words: data });
        addr
    };
    let model_addr = place(&mut image, words(model));
    let tok_addr = place(&mut image, words(tokenizer));
    let prompt_addr = place(&mut image, words(prompt));
    let out_addr = at;
    let steps = if options.steps == 0 || options.steps > config.seq_len {
        config.seq_len
    } else {
        options.steps
    };
    at += steps as u32;
    let heap = at;
    let converted = if crate::gguf::is_gguf(model) {
        crate::gguf::converted_words(config)
    } else {
        0
    };
    image.memory_words = heap + state_words(config, prompt.len()) + converted;
    let boot = [
        model_addr,
        model.len() as u32,
        tok_addr,
        tokenizer.len() as u32,
        options.steps as u32,
        options.temperature.to_bits(),
        options.topp.to_bits(),
        options.seed as u32,
        (options.seed >> 32) as u32,
        prompt_addr,
        prompt.len() as u32,
        heap,
        image.memory_words,
        out_addr,
    ];
    // The boot block is ai.pxs's first data (`.space`, which the assembler
    // leaves out of the segments): a segment of its own at address 0.
    image.segments.push(Segment {
        addr: 0,
        words: boot.to_vec(),
    });
    image
}

/// The token ids the program wrote.
pub fn output_tokens(memory: &[u32]) -> Vec<u32> {
    let (at, n) = (memory[B_OUT] as usize, memory[B_NOUT] as usize);
    memory[at..at + n].to_vec()
}
