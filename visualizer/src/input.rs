//! Loading what a view is made of: the image, its source map and the counts.

use std::path::Path;

use pxi::Image;
use pxi::counts::{Counts, Snapshot};
use pxi_asm::SourceMap;
use pxi_asm::{MapError, MapStatus};

use crate::error::VizError;

/// A program image with the execution counts of one run of it: the counts
/// hold at least one snapshot, each with one count per code pixel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    image: Image,
    map: MapStatus,
    counts: Counts,
}

fn read(path: &Path) -> Result<Vec<u8>, VizError> {
    std::fs::read(path).map_err(|source| VizError::Read {
        path: path.into(),
        source,
    })
}

impl Profile {
    /// Read `image_path` (with its sidecar `image_path.map` when present)
    /// and the counts file `counts_path`, checking that they belong together.
    pub fn load(image_path: &Path, counts_path: &Path) -> Result<Profile, VizError> {
        let image = Image::decode_png(&read(image_path)?).map_err(|error| VizError::Image {
            path: image_path.into(),
            error,
        })?;
        let counts = Counts::from_bytes(&read(counts_path)?).map_err(|error| VizError::Counts {
            path: counts_path.into(),
            error,
        })?;
        // `from_bytes` guarantees a snapshot and `code_len` counts in each.
        if counts.code_len as usize != image.code.len() {
            return Err(VizError::CodeLengthMismatch {
                image: image_path.into(),
                image_len: image.code.len(),
                counts: counts_path.into(),
                counts_len: counts.code_len,
            });
        }
        let map = load_map(image_path, &image)?;
        Ok(Profile { image, map, counts })
    }

    /// The program.
    pub fn image(&self) -> &Image {
        &self.image
    }

    /// Its source map, or why there is none.
    pub fn map_status(&self) -> &MapStatus {
        &self.map
    }

    /// Every snapshot in time order.
    pub fn snapshots(&self) -> &[Snapshot] {
        &self.counts.snapshots
    }

    /// The final snapshot.
    pub fn final_snapshot(&self) -> &Snapshot {
        self.counts
            .last()
            .expect("Counts::from_bytes rejects files without snapshots")
    }
}

/// The sidecar source map of `image_path`, checked against `image`.
pub fn load_map(image_path: &Path, image: &Image) -> Result<MapStatus, VizError> {
    SourceMap::load_for(image_path, image.code.len()).map_err(|error| match error {
        MapError::Io { path, source } => VizError::Read { path, source },
        syntax => VizError::Map {
            path: SourceMap::sidecar(image_path),
            source: syntax,
        },
    })
}
