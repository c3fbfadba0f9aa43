//! Everything that can go wrong between the input files and a picture.

use std::path::PathBuf;

use pxi::ImageError;
use pxi::counts::CountsError;
use pxi_asm::MapError;

/// Why the visualizer cannot produce its output.
#[derive(Debug, thiserror::Error)]
pub enum VizError {
    /// An input file could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An output file or folder could not be written.
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The program image is not a valid PXI image.
    #[error("{}: {error}", .path.display())]
    Image {
        /// The image file.
        path: PathBuf,
        /// What is wrong with it.
        error: ImageError,
    },
    /// The counts file is not a valid execution-count file.
    #[error("{}: {error}", .path.display())]
    Counts {
        /// The counts file.
        path: PathBuf,
        /// What is wrong with it.
        error: CountsError,
    },
    /// The counts were recorded for a program of another code length.
    #[error(
        "{} counts {counts_len} code pixels but {} has {image_len}: the counts belong to another program",
        .counts.display(),
        .image.display()
    )]
    CodeLengthMismatch {
        /// The image file.
        image: PathBuf,
        /// Its code length in pixels.
        image_len: usize,
        /// The counts file.
        counts: PathBuf,
        /// The code length the counts file records.
        counts_len: u32,
    },
    /// The source map next to the image is not a valid map.
    #[error("{}: {source}", .path.display())]
    Map {
        /// The map file.
        path: PathBuf,
        /// What is wrong with it.
        source: MapError,
    },
    /// Counts handed to the renderer do not match the image.
    #[error("{counts} counts for an image with {code} code pixels")]
    FrameLength {
        /// Counts given.
        counts: usize,
        /// Code pixels of the image.
        code: usize,
    },
    /// A cell size of 0 pixels.
    #[error("the scale must be at least 1 pixel per cell")]
    ZeroScale,
    /// The picture would exceed the PNG size this tool writes.
    #[error(
        "a {width}x{height} picture is too large (at most {max} pixels a side); use a smaller --scale"
    )]
    TooLarge {
        /// Width in pixels.
        width: u64,
        /// Height in pixels.
        height: u64,
        /// The limit per side.
        max: u32,
    },
    /// An animation needs at least one frame.
    #[error("an animation needs at least one frame")]
    NoFrames,
    /// PNG encoding failed.
    #[error("encoding PNG: {0}")]
    Png(#[from] png::EncodingError),
}
