//! pxOS visualizer: look at a run through the program image itself.
//!
//! Every view has one cell per pixel of the PXI image, coloured by how often
//! the code pixel there executed (execution-count files, `pxi::counts`). The
//! visualizer only observes: it reads an image, its source map and a counts
//! file, and never runs anything.
//!
//! - [`heatmap`]: a PNG with a log-scale colour map, legend and key.
//! - [`hotspots`]: the most executed pixels and labels, with source lines.
//! - [`timelapse`]: one frame per counts snapshot, as an APNG or PNG files.
//! - [`html`]: one self-contained page with a zoomable code image and heatmap.
#![deny(missing_docs)]

pub mod colormap;
pub mod error;
pub mod heatmap;
pub mod hotspots;
pub mod html;
pub mod input;
pub mod raster;
pub mod timelapse;

pub use error::VizError;
pub use input::Profile;
pub use pxi_asm::MapStatus;
