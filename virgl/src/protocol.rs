//! The virgl command stream (inside vtest's SUBMIT_CMD or virtio-gpu's
//! SUBMIT_3D): a sequence of `cmd | object << 8 | length << 16` headers,
//! each followed by `length` payload dwords. Only the compute subset.

use alloc::vec::Vec;

/// `PIPE_BUFFER` resource target.
pub const TARGET_BUFFER: u32 = 0;
/// `R8_UNORM`, the format of byte buffers.
pub const FORMAT_R8_UNORM: u32 = 64;
/// `VIRGL_BIND_SHADER_BUFFER` (a buffer's bind must be exactly one flag;
/// an indirect dispatch may still read a shader buffer).
pub const BIND_SHADER_BUFFER: u32 = 1 << 14;
/// `PIPE_SHADER_COMPUTE`.
pub const SHADER_COMPUTE: u32 = 5;

const CCMD_CREATE_OBJECT: u32 = 1;
const OBJECT_SHADER: u32 = 4;
const CCMD_BIND_SHADER: u32 = 31;
const CCMD_SET_SHADER_BUFFERS: u32 = 34;
const CCMD_MEMORY_BARRIER: u32 = 36;
const CCMD_LAUNCH_GRID: u32 = 37;
/// Every `PIPE_BARRIER_*` bit.
const BARRIER_ALL: u32 = (1 << 12) - 1;
/// Longest payload one command header can describe.
pub const MAX_PAYLOAD: usize = 0xffff;

/// One shader buffer binding: byte offset and length within a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferBinding {
    /// Resource handle.
    pub resource: u32,
    /// Byte offset.
    pub offset: u32,
    /// Bytes visible to the shader.
    pub length: u32,
}

/// A virgl command stream under construction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Commands {
    words: Vec<u32>,
}

impl Commands {
    /// An empty stream.
    pub fn new() -> Self {
        Commands::default()
    }

    /// The encoded dwords.
    pub fn words(&self) -> &[u32] {
        &self.words
    }

    /// Append another stream.
    pub fn extend(&mut self, other: &Commands) {
        self.words.extend_from_slice(&other.words);
    }

    fn header(&mut self, cmd: u32, object: u32, len: usize) {
        self.words.push(cmd | object << 8 | (len as u32) << 16);
    }

    /// CREATE_OBJECT(SHADER): a compute shader from TGSI `text`, parsed by
    /// the host into at most `tokens` tokens, using `shared_bytes` of
    /// workgroup memory. A text longer than one command carries goes in
    /// several, the later ones marked as continuations at their byte offset.
    pub fn create_compute_shader(
        &mut self,
        handle: u32,
        text: &str,
        tokens: u32,
        shared_bytes: u32,
    ) {
        const HEADER: usize = 5;
        const CONTINUATION: u32 = 1 << 31;
        let bytes = text.len() + 1; // NUL-terminated
        let mut padded = Vec::with_capacity(bytes.next_multiple_of(4));
        padded.extend_from_slice(text.as_bytes());
        padded.resize(bytes.next_multiple_of(4), 0);
        let dwords: Vec<u32> = padded
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        for (i, chunk) in dwords.chunks(MAX_PAYLOAD - HEADER).enumerate() {
            let offset = i * (MAX_PAYLOAD - HEADER) * 4;
            let offlen = if i == 0 {
                bytes as u32
            } else {
                offset as u32 | CONTINUATION
            };
            self.header(CCMD_CREATE_OBJECT, OBJECT_SHADER, HEADER + chunk.len());
            self.words
                .extend([handle, SHADER_COMPUTE, offlen, tokens, shared_bytes]);
            self.words.extend_from_slice(chunk);
        }
    }

    /// BIND_SHADER: make `handle` the compute shader.
    pub fn bind_compute_shader(&mut self, handle: u32) {
        self.header(CCMD_BIND_SHADER, 0, 2);
        self.words.extend([handle, SHADER_COMPUTE]);
    }

    /// SET_SHADER_BUFFERS: compute slots `start..` get `buffers`.
    pub fn set_shader_buffers(&mut self, start: u32, buffers: &[BufferBinding]) {
        self.header(CCMD_SET_SHADER_BUFFERS, 0, 2 + 3 * buffers.len());
        self.words.extend([SHADER_COMPUTE, start]);
        for b in buffers {
            self.words.extend([b.offset, b.length, b.resource]);
        }
    }

    /// LAUNCH_GRID with a fixed grid.
    pub fn launch_grid(&mut self, block: [u32; 3], grid: [u32; 3]) {
        self.header(CCMD_LAUNCH_GRID, 0, 8);
        self.words.extend(block);
        self.words.extend(grid);
        self.words.extend([0, 0]);
    }

    /// LAUNCH_GRID with the grid read from `resource` at byte `offset`.
    pub fn launch_grid_indirect(&mut self, block: [u32; 3], resource: u32, offset: u32) {
        self.header(CCMD_LAUNCH_GRID, 0, 8);
        self.words.extend(block);
        self.words.extend([0, 0, 0, resource, offset]);
    }

    /// MEMORY_BARRIER over everything: the next launch sees this one's writes.
    pub fn memory_barrier(&mut self) {
        self.header(CCMD_MEMORY_BARRIER, 0, 1);
        self.words.push(BARRIER_ALL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shader_text_is_nul_terminated_and_padded() {
        let mut c = Commands::new();
        c.create_compute_shader(7, "COMP\nEND\n", 100, 16);
        let w = c.words();
        // 9 bytes + NUL = 10 bytes = 3 dwords of text after 5 header dwords.
        assert_eq!(w[0], 1 | 4 << 8 | 8 << 16);
        assert_eq!(&w[1..6], &[7, 5, 10, 100, 16]);
        assert_eq!(w[6].to_le_bytes(), *b"COMP");
        assert_eq!(w[8].to_le_bytes(), [b'\n', 0, 0, 0]);
        assert_eq!(w.len(), 9);
    }

    #[test]
    fn launch_and_buffers_match_the_protocol() {
        let mut c = Commands::new();
        c.set_shader_buffers(
            2,
            &[BufferBinding {
                resource: 9,
                offset: 16,
                length: 64,
            }],
        );
        c.launch_grid_indirect([64, 1, 1], 9, 4);
        c.memory_barrier();
        assert_eq!(
            c.words(),
            &[
                34 | 5 << 16,
                5,
                2,
                16,
                64,
                9,
                37 | 8 << 16,
                64,
                1,
                1,
                0,
                0,
                0,
                9,
                4,
                36 | 1 << 16,
                0xfff
            ]
        );
    }

    #[test]
    fn a_long_shader_goes_in_continuation_commands() {
        let text = "A".repeat(MAX_PAYLOAD * 4); // + NUL: 2 commands of text, the second short
        let mut c = Commands::new();
        c.create_compute_shader(9, &text, 1, 0);
        let w = c.words();
        let first_len = (w[0] >> 16) as usize;
        assert_eq!(first_len, MAX_PAYLOAD);
        assert_eq!(&w[1..4], &[9, SHADER_COMPUTE, text.len() as u32 + 1]);
        let second = &w[1 + first_len..];
        let text_dwords = (text.len() + 1).div_ceil(4);
        assert_eq!(
            (second[0] >> 16) as usize,
            5 + text_dwords - (MAX_PAYLOAD - 5)
        );
        assert_eq!(second[3], ((MAX_PAYLOAD - 5) * 4) as u32 | 1 << 31);
        assert_eq!(second.len(), 1 + (second[0] >> 16) as usize);
    }
}
