//! Time-lapses: one heatmap per counts snapshot, to watch a run unfold.

use std::path::{Path, PathBuf};

use pxi::counts::Snapshot;

use crate::colormap::LogScale;
use crate::error::VizError;
use crate::heatmap::{Frame, Style, cell_counts, render, snapshot_caption};
use crate::input::Profile;
use crate::raster::{Canvas, png_encoder};

/// What each frame counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Accumulation {
    /// Executions since the previous snapshot: what is hot at that moment.
    #[default]
    Interval,
    /// Executions since the start (the snapshots as stored).
    Cumulative,
}

/// One heatmap per snapshot of `profile`, all on one colour scale.
pub fn frames(
    profile: &Profile,
    accumulation: Accumulation,
    style: Style,
) -> Result<Vec<Canvas>, VizError> {
    let image = profile.image();
    let snapshots = profile.snapshots();
    let start = Snapshot {
        round: 0,
        steps: 0,
        counts: vec![0; image.code.len()],
    };
    let contents: Vec<(Vec<u32>, String)> = snapshots
        .iter()
        .zip(std::iter::once(&start).chain(snapshots))
        .map(|(now, before)| match accumulation {
            Accumulation::Cumulative => (now.counts.clone(), snapshot_caption(now)),
            Accumulation::Interval => (
                // Counters wrap at 2^32 in every runtime, so differences wrap too.
                now.counts
                    .iter()
                    .zip(&before.counts)
                    .map(|(n, b)| n.wrapping_sub(*b))
                    .collect(),
                format!(
                    "round {}, +{} steps ({} in all)",
                    now.round,
                    now.steps.saturating_sub(before.steps),
                    now.steps
                ),
            ),
        })
        .collect();
    let scale = LogScale::spanning(
        contents
            .iter()
            .flat_map(|(counts, _)| cell_counts(image, counts)),
    );
    contents
        .iter()
        .map(|(counts, caption)| {
            render(
                image,
                &Frame {
                    counts,
                    scale,
                    caption,
                },
                style,
            )
        })
        .collect()
}

/// An animated PNG of `frames` (all the same size), `delay_ms` per frame, looping.
pub fn encode_apng(frames: &[Canvas], delay_ms: u16) -> Result<Vec<u8>, VizError> {
    let first = frames.first().ok_or(VizError::NoFrames)?;
    let mut out = Vec::new();
    let mut encoder = png_encoder(&mut out, first.width(), first.height());
    encoder.set_animated(frames.len() as u32, 0)?;
    encoder.set_frame_delay(delay_ms, 1000)?;
    let mut writer = encoder.write_header()?;
    for frame in frames {
        writer.write_image_data(&frame.rgb_bytes())?;
    }
    writer.finish()?;
    Ok(out)
}

/// Write `frames` as `dir/frame-0000.png`, … (creating `dir`); returns the paths.
pub fn write_frames(dir: &Path, frames: &[Canvas]) -> Result<Vec<PathBuf>, VizError> {
    std::fs::create_dir_all(dir).map_err(|source| VizError::Write {
        path: dir.into(),
        source,
    })?;
    frames
        .iter()
        .enumerate()
        .map(|(i, frame)| {
            let path = dir.join(format!("frame-{i:04}.png"));
            std::fs::write(&path, frame.to_png()?).map_err(|source| VizError::Write {
                path: path.clone(),
                source,
            })?;
            Ok(path)
        })
        .collect()
}
