//! Time-lapses: one heatmap per counts snapshot, to watch a run unfold.

use std::path::{Path, PathBuf};

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
    let snapshots = profile.snapshots();
    let mut previous = (vec![0; profile.image().code.len()], 0);
    let mut counts = Vec::with_capacity(snapshots.len());
    let mut captions = Vec::with_capacity(snapshots.len());
    for snapshot in snapshots {
        let (frame_counts, caption) = match accumulation {
            Accumulation::Cumulative => (snapshot.counts.clone(), snapshot_caption(snapshot)),
            Accumulation::Interval => {
                // Counters wrap at 2^32 in every runtime, so differences wrap too.
                let delta = snapshot
                    .counts
                    .iter()
                    .zip(&previous.0)
                    .map(|(now, before)| now.wrapping_sub(*before));
                let steps = snapshot.steps.saturating_sub(previous.1);
                (
                    delta.collect(),
                    format!(
                        "round {}, +{steps} steps ({} in all)",
                        snapshot.round, snapshot.steps
                    ),
                )
            }
        };
        previous = (snapshot.counts.clone(), snapshot.steps);
        counts.push(frame_counts);
        captions.push(caption);
    }
    let scale = LogScale::spanning(counts.iter().flat_map(|c| cell_counts(profile.image(), c)));
    counts
        .iter()
        .zip(&captions)
        .map(|(counts, caption)| {
            render(
                profile.image(),
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
