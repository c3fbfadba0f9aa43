//! The PXI assembler, disassembler and source maps.
//!
//! Data flows one way: [`parser`] turns `.pxs` text into statements with
//! spans, [`assemble`] lays them out and encodes them with `pxi`'s ISA table
//! into a [`pxi::Image`] and a [`SourceMap`]; [`disasm`] turns an image back
//! into source that reassembles to the identical image.

pub mod assemble;
pub mod cli;
pub mod disasm;
pub mod error;
pub mod lexer;
pub mod parser;
pub mod runner;
pub mod source_map;
pub mod trap;

pub use assemble::{Assembly, assemble_file, assemble_source};
pub use disasm::{disassemble, pixel_texts};
pub use error::{Error, ErrorKind, Errors, Location};
pub use source_map::{MapError, MapStatus, SourceMap};
