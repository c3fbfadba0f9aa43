//! Loading a `.pxi` image at run time: the CPU-side decode service behind
//! `SYS_LOAD` (docs/mailbox.md, "Loading code").
//!
//! A kernel in pixels reads a program file (through its own file system) into
//! its data memory and asks the host to decode it: the host reads the bytes,
//! checks the PNG container (every chunk CRC), inflates it (zlib Adler-32),
//! validates the PXI header, and — when asked to install it — writes its code
//! pixels into the code load arena and its initial data into a data window,
//! both at places and within sizes the kernel chose. Decoding a zlib PNG in
//! pixels is not done: inflating is serial, branchy byte work that a round of
//! harts cannot share, and the no_std decoder already in `pxi` is exact and
//! checked. That is the one step of loading that leaves the GPU (a
//! limitation: a host without the service cannot load files).
//!
//! The request is a parameter block of [`BLOCK_WORDS`] words in data memory
//! (`r1` = its address, `r2` = [`PROBE`] or [`INSTALL`]); the host fills in
//! the result words and returns 0 or an error.

use alloc::vec;
use alloc::vec::Vec;

use crate::image::{Image, ImageError};
use crate::mailbox::{ERR_CORRUPT, ERR_FAULT, ERR_NOTPXI, ERR_TOOBIG};

/// Block word (in): word address of the file's bytes (packed little-endian).
pub const L_BYTES: usize = 0;
/// Block word (in): the file's length in bytes.
pub const L_LEN: usize = 1;
/// Block word (in, install): first code pixel to write.
pub const L_CODE: usize = 2;
/// Block word (in, install): code pixels available there.
pub const L_CODE_MAX: usize = 3;
/// Block word (in, install): word address of the window for the initial data.
pub const L_DATA: usize = 4;
/// Block word (in, install): words available there.
pub const L_DATA_MAX: usize = 5;
/// Block word (out): the program's code pixels.
pub const L_CODE_LEN: usize = 6;
/// Block word (out): its entry point (code-relative).
pub const L_ENTRY: usize = 7;
/// Block word (out): its data memory size in words (the window it needs).
pub const L_MEMORY: usize = 8;
/// Block word (out): words of initial data (a prefix of the window).
pub const L_INIT: usize = 9;
/// Words of a parameter block.
pub const BLOCK_WORDS: usize = 10;

/// Mode (`r2`): decode and validate, fill in the result words, write nothing else.
pub const PROBE: u32 = 0;
/// Mode (`r2`): also write the code and the initial data.
pub const INSTALL: u32 = 1;
/// Mode (`r2`): write only the code (a hot swap: the processes keep their
/// data); the data window must still be large enough for the program.
pub const SWAP: u32 = 2;

/// The block layout and modes, predefined by the assembler.
pub const CONSTANTS: &[(&str, u32, &str)] = &[
    (
        "LD_BYTES",
        L_BYTES as u32,
        "SYS_LOAD block: word address of the file's bytes",
    ),
    (
        "LD_LEN",
        L_LEN as u32,
        "SYS_LOAD block: the file's length in bytes",
    ),
    (
        "LD_CODE",
        L_CODE as u32,
        "SYS_LOAD block: first code pixel to write",
    ),
    (
        "LD_CODE_MAX",
        L_CODE_MAX as u32,
        "SYS_LOAD block: code pixels available",
    ),
    (
        "LD_DATA",
        L_DATA as u32,
        "SYS_LOAD block: word address for the initial data",
    ),
    (
        "LD_DATA_MAX",
        L_DATA_MAX as u32,
        "SYS_LOAD block: words available there",
    ),
    (
        "LD_CODE_LEN",
        L_CODE_LEN as u32,
        "SYS_LOAD block (out): code pixels",
    ),
    (
        "LD_ENTRY",
        L_ENTRY as u32,
        "SYS_LOAD block (out): entry point",
    ),
    (
        "LD_MEMORY",
        L_MEMORY as u32,
        "SYS_LOAD block (out): data memory size in words",
    ),
    (
        "LD_INIT",
        L_INIT as u32,
        "SYS_LOAD block (out): words of initial data",
    ),
    ("LD_WORDS", BLOCK_WORDS as u32, "SYS_LOAD block: words"),
    ("LD_PROBE", PROBE, "SYS_LOAD mode: decode and validate only"),
    (
        "LD_INSTALL",
        INSTALL,
        "SYS_LOAD mode: also write code and initial data",
    ),
    (
        "LD_SWAP",
        SWAP,
        "SYS_LOAD mode: write only the code (hot swap)",
    ),
];

/// What the service reaches of an executor: data memory and code.
pub trait Target {
    /// Copy data words at `addr` into `out`; false outside data memory.
    fn read(&mut self, addr: u32, out: &mut [u32]) -> bool;
    /// Write data words at `addr`; false outside data memory.
    fn write(&mut self, addr: u32, words: &[u32]) -> bool;
    /// Write code pixels at `addr`; false outside code.
    fn write_code(&mut self, addr: u32, pixels: &[u32]) -> bool;
}

/// The error code for an image that does not decode: [`ERR_NOTPXI`] when it
/// is no PXI image at all, [`ERR_CORRUPT`] when it is one but damaged.
pub fn error_code(bytes: &[u8], error: &ImageError) -> u32 {
    match error {
        _ if !bytes.starts_with(&crate::png::SIGNATURE) => ERR_NOTPXI,
        ImageError::NotRgba8 { .. }
        | ImageError::TooSmall { .. }
        | ImageError::BadMagic { .. }
        | ImageError::UnsupportedVersion { .. } => ERR_NOTPXI,
        _ => ERR_CORRUPT,
    }
}

/// Service one `SYS_LOAD`: the block at `block`, mode `mode`. Installing
/// writes the code and clears the rest of the `L_CODE_MAX` room (zero pixels
/// are `nop`s), so the room holds exactly the new program. Returns 0 or an
/// error: `ERR_FAULT` for a block or byte range outside memory, a write
/// outside code or an unknown mode; `ERR_NOTPXI`; `ERR_CORRUPT`; `ERR_TOOBIG`
/// when the code or the data window does not fit the room the block gives.
pub fn load(target: &mut impl Target, block: u32, mode: u32) -> u32 {
    let mut words = [0u32; BLOCK_WORDS];
    if mode > SWAP || !target.read(block, &mut words) {
        return ERR_FAULT;
    }
    let len = words[L_LEN] as usize;
    let mut packed = vec![0u32; len.div_ceil(4)];
    if !target.read(words[L_BYTES], &mut packed) {
        return ERR_FAULT;
    }
    let bytes: Vec<u8> = packed
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .take(len)
        .collect();
    let image = match Image::decode_png(&bytes) {
        Ok(image) => image,
        Err(error) => return error_code(&bytes, &error),
    };
    let data = crate::program::initial_data(&image);
    words[L_CODE_LEN] = image.code.len() as u32;
    words[L_ENTRY] = image.entry;
    words[L_MEMORY] = image.memory_words;
    words[L_INIT] = data.len() as u32;
    if mode != PROBE {
        if image.code.len() as u64 > words[L_CODE_MAX] as u64
            || image.memory_words > words[L_DATA_MAX]
        {
            return ERR_TOOBIG;
        }
        let mut code = image.code;
        code.resize(words[L_CODE_MAX] as usize, 0);
        if !target.write_code(words[L_CODE], &code)
            || (mode == INSTALL && !target.write(words[L_DATA], &data))
        {
            return ERR_FAULT;
        }
    }
    if !target.write(block, &words) {
        return ERR_FAULT;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Segment;

    struct Flat {
        memory: Vec<u32>,
        code: Vec<u32>,
    }

    impl Target for Flat {
        fn read(&mut self, addr: u32, out: &mut [u32]) -> bool {
            let end = addr as usize + out.len();
            end <= self.memory.len() && {
                out.copy_from_slice(&self.memory[addr as usize..end]);
                true
            }
        }
        fn write(&mut self, addr: u32, words: &[u32]) -> bool {
            let end = addr as usize + words.len();
            end <= self.memory.len() && {
                self.memory[addr as usize..end].copy_from_slice(words);
                true
            }
        }
        fn write_code(&mut self, addr: u32, pixels: &[u32]) -> bool {
            let end = addr as usize + pixels.len();
            end <= self.code.len() && {
                self.code[addr as usize..end].copy_from_slice(pixels);
                true
            }
        }
    }

    fn program() -> Image {
        Image {
            width: 16,
            entry: 1,
            code: vec![0, 0, 0x0101_0110],
            memory_words: 40,
            harts: 1,
            segments: vec![Segment {
                addr: 2,
                words: vec![7, 8],
            }],
        }
    }

    /// Memory with `bytes` at word 100 and a block at 0 asking for code at 5 and data at 60.
    fn machine(bytes: &[u8], code_max: u32, data_max: u32) -> Flat {
        let mut memory = vec![0; 1000];
        for (i, chunk) in bytes.chunks(4).enumerate() {
            let mut w = [0; 4];
            w[..chunk.len()].copy_from_slice(chunk);
            memory[100 + i] = u32::from_le_bytes(w);
        }
        memory[..6].copy_from_slice(&[100, bytes.len() as u32, 5, code_max, 60, data_max]);
        Flat {
            memory,
            code: vec![0; 16],
        }
    }

    #[test]
    fn probes_then_installs_code_and_initial_data() {
        let png = program().encode_png();
        let mut m = machine(&png, 8, 64);
        assert_eq!(load(&mut m, 0, PROBE), 0);
        assert_eq!(m.memory[L_CODE_LEN..BLOCK_WORDS], [3, 1, 40, 4]);
        assert_eq!(m.code, [0; 16], "a probe writes no code");
        assert_eq!(load(&mut m, 0, INSTALL), 0);
        assert_eq!(m.code[5..8], [0, 0, 0x0101_0110]);
        assert_eq!(m.memory[60..64], [0, 0, 7, 8]);
    }

    #[test]
    fn a_swap_writes_code_only_and_clears_the_rest_of_the_room() {
        let png = program().encode_png();
        let mut m = machine(&png, 6, 40);
        m.code = vec![9; 16];
        m.memory[60..64].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(load(&mut m, 0, SWAP), 0);
        assert_eq!(m.code[5..12], [0, 0, 0x0101_0110, 0, 0, 0, 9]);
        assert_eq!(m.memory[60..64], [1, 2, 3, 4], "a swap keeps the data");
        let mut small = machine(&png, 6, 39);
        assert_eq!(
            load(&mut small, 0, SWAP),
            ERR_TOOBIG,
            "data larger than the window"
        );
    }

    #[test]
    fn refuses_what_is_not_a_pxi_is_corrupt_or_does_not_fit() {
        let png = program().encode_png();
        assert_eq!(
            load(&mut machine(b"hello, world", 8, 64), 0, PROBE),
            ERR_NOTPXI
        );
        let mut corrupt = png.clone();
        let at = corrupt.len() / 2;
        corrupt[at] ^= 0x40;
        assert_eq!(load(&mut machine(&corrupt, 8, 64), 0, PROBE), ERR_CORRUPT);
        assert_eq!(
            load(&mut machine(&png[..png.len() - 5], 8, 64), 0, PROBE),
            ERR_CORRUPT
        );
        for pixels in [&[1, 2, 3, 4][..], &[7; 16]] {
            let other = crate::png::encode_rgba8(2, pixels);
            assert_eq!(load(&mut machine(&other, 8, 64), 0, PROBE), ERR_NOTPXI);
        }
        assert_eq!(load(&mut machine(&png, 2, 64), 0, INSTALL), ERR_TOOBIG);
        assert_eq!(load(&mut machine(&png, 8, 39), 0, INSTALL), ERR_TOOBIG);
        let mut m = machine(&png, 8, 64);
        m.memory[L_CODE] = 14;
        assert_eq!(load(&mut m, 0, INSTALL), ERR_FAULT, "code past the end");
        m.memory[L_LEN] = 4000;
        assert_eq!(load(&mut m, 0, PROBE), ERR_FAULT, "bytes past memory");
        assert_eq!(load(&mut m, 995, PROBE), ERR_FAULT, "block past memory");
        assert_eq!(load(&mut m, 0, 3), ERR_FAULT, "unknown mode");
    }
}
