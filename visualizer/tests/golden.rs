//! Golden files: heatmaps compared pixel by pixel, hotspot reports as text.
//!
//! On a mismatch the actual output is written next to the golden file
//! (`*.failed.png`, `*.actual`); `UPDATE_GOLDEN=1` rewrites the golden files.

mod common;

use std::path::{Path, PathBuf};

use common::{Fixture, decode_png};
use visualizer::heatmap::{Style, render_snapshot};
use visualizer::hotspots::report;
use visualizer::raster::Canvas;
use visualizer::timelapse::{Accumulation, frames};

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// Compare `canvas` with the golden PNG `name` pixel by pixel.
fn check_png(name: &str, canvas: &Canvas) {
    let path = golden_path(name);
    let png = canvas.to_png().unwrap();
    if updating() {
        std::fs::write(&path, &png).unwrap();
        return;
    }
    let failed = path.with_extension("failed.png");
    let actual = (canvas.width(), canvas.height(), canvas.rgb_bytes());
    let problem = match std::fs::read(&path) {
        Err(e) => format!("cannot read golden {}: {e}", path.display()),
        Ok(bytes) => {
            let golden = decode_png(&bytes);
            if golden.0 != actual.0 || golden.1 != actual.1 {
                format!(
                    "size {}x{} differs from the golden {}x{}",
                    actual.0, actual.1, golden.0, golden.1
                )
            } else {
                let differing: Vec<usize> = (0..golden.2.len() / 3)
                    .filter(|&i| golden.2[3 * i..3 * i + 3] != actual.2[3 * i..3 * i + 3])
                    .collect();
                match differing.first() {
                    None => {
                        let _ = std::fs::remove_file(&failed);
                        return;
                    }
                    Some(&first) => format!(
                        "{} pixels differ, the first at ({},{})",
                        differing.len(),
                        first as u32 % actual.0,
                        first as u32 / actual.0
                    ),
                }
            }
        }
    };
    std::fs::write(&failed, &png).unwrap();
    panic!(
        "{name}: {problem}; wrote the actual picture to {}; rerun with UPDATE_GOLDEN=1 if the change is intended",
        failed.display()
    );
}

/// Compare `text` with the golden text file `name`.
fn check_text(name: &str, text: &str) {
    let path = golden_path(name);
    let actual = path.with_extension(format!(
        "{}.actual",
        path.extension().unwrap().to_string_lossy()
    ));
    if updating() {
        std::fs::write(&path, text).unwrap();
        return;
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_default();
    if golden == text {
        let _ = std::fs::remove_file(&actual);
        return;
    }
    std::fs::write(&actual, text).unwrap();
    panic!(
        "{name} differs from the golden file; wrote {}; diff them, and rerun with UPDATE_GOLDEN=1 if the change is intended\n{text}",
        actual.display()
    );
}

#[test]
fn heatmap_matches_golden() {
    let profile = Fixture::new("golden-heatmap").profile();
    let canvas =
        render_snapshot(profile.image(), profile.final_snapshot(), Style::default()).unwrap();
    check_png("heatmap.png", &canvas);
}

#[test]
fn side_by_side_heatmap_matches_golden() {
    let profile = Fixture::new("golden-side-by-side").profile();
    let style = Style {
        scale: 5,
        side_by_side: true,
    };
    check_png(
        "heatmap-side-by-side.png",
        &render_snapshot(profile.image(), profile.final_snapshot(), style).unwrap(),
    );
}

#[test]
fn timelapse_frames_match_golden() {
    let profile = Fixture::new("golden-timelapse").profile();
    let style = Style {
        scale: 4,
        side_by_side: false,
    };
    let interval = frames(&profile, Accumulation::Interval, style).unwrap();
    let cumulative = frames(&profile, Accumulation::Cumulative, style).unwrap();
    assert_eq!(
        (interval.len(), cumulative.len()),
        (profile.snapshots().len(), profile.snapshots().len())
    );
    check_png("timelapse-frame-3.png", &interval[3]);
    check_png("timelapse-cumulative-frame-6.png", &cumulative[6]);
}

#[test]
fn hotspot_report_matches_golden() {
    let fixture = Fixture::new("golden-hotspots");
    check_text("hotspots.txt", &report(&fixture.profile(), 5).to_string());
}

#[test]
fn hotspot_report_without_source_map_matches_golden() {
    let fixture = Fixture::new("golden-hotspots-no-map");
    std::fs::remove_file(pxi_asm::SourceMap::sidecar(&fixture.image)).unwrap();
    check_text(
        "hotspots-no-map.txt",
        &fixture.anonymize(&report(&fixture.profile(), 3).to_string()),
    );
}
