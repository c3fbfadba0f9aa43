//! Model shapes of the `ai` tests.

use llama::Config;

/// A small shape: 4 query heads over `n_kv_heads`, a 512-token vocabulary.
pub fn small(n_kv_heads: usize) -> Config {
    Config {
        dim: 32,
        hidden_dim: 48,
        n_layers: 2,
        n_heads: 4,
        n_kv_heads,
        vocab_size: 512,
        seq_len: 24,
    }
}

/// [`small`] with sizes that are multiples of GGUF's 32-value blocks.
pub fn blocks(n_kv_heads: usize) -> Config {
    Config {
        dim: 64,
        hidden_dim: 96,
        ..small(n_kv_heads)
    }
}
