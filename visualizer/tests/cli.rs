//! The `pxi-viz` binary end to end.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Fixture, decode_png};
use visualizer::heatmap::{Style, render_snapshot};
use visualizer::timelapse::{Accumulation, frames};

fn pxi_viz(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pxi-viz"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn heatmap_writes_the_rendered_png() {
    let fixture = Fixture::new("cli-heatmap");
    let out = fixture.dir.join("heat.png");
    let run = pxi_viz(&[
        Path::new("heatmap"),
        &fixture.image,
        &fixture.counts,
        Path::new("-o"),
        &out,
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let profile = fixture.profile();
    let expected =
        render_snapshot(profile.image(), profile.final_snapshot(), Style::default()).unwrap();
    assert_eq!(
        decode_png(&std::fs::read(&out).unwrap()).2,
        expected.rgb_bytes()
    );
}

#[test]
fn timelapse_writes_an_apng_and_frames() {
    let fixture = Fixture::new("cli-timelapse");
    let (apng, dir) = (fixture.dir.join("run.png"), fixture.dir.join("frames"));
    let args = [
        Path::new("timelapse"),
        &fixture.image,
        &fixture.counts,
        Path::new("-o"),
        &apng,
        Path::new("--frames"),
        &dir,
    ];
    let run = pxi_viz(&args);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let profile = fixture.profile();
    let expected = frames(&profile, Accumulation::Interval, Style::default()).unwrap();
    let snapshots = profile.snapshots().len();
    assert!(snapshots > 5);

    let reader = png::Decoder::new(std::io::Cursor::new(std::fs::read(&apng).unwrap()))
        .read_info()
        .unwrap();
    let control = reader.info().animation_control.expect("an animated PNG");
    assert_eq!(
        (control.num_frames as usize, control.num_plays),
        (snapshots, 0)
    );

    let mut written: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    written.sort();
    assert_eq!(written.len(), snapshots);
    assert!(written[0].ends_with("frame-0000.png"));
    for (path, picture) in written.iter().zip(&expected) {
        assert_eq!(
            decode_png(&std::fs::read(path).unwrap()).2,
            picture.rgb_bytes(),
            "{}",
            path.display()
        );
    }
}

#[test]
fn hotspots_prints_the_report() {
    let fixture = Fixture::new("cli-hotspots");
    let run = pxi_viz(&[
        Path::new("hotspots"),
        &fixture.image,
        &fixture.counts,
        Path::new("--top"),
        Path::new("2"),
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stdout = fixture.anonymize(&text(&run.stdout));
    assert!(
        stdout.starts_with("hotspots of <dir>/prog.pxi (<dir>/prog.counts: round 11, 64 steps)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\ntop 2 pixels\n") && stdout.contains("prog.pxs:11  loop   call bump"),
        "{stdout}"
    );
}

/// `pxi-viz hotspots … | head -1` ends quietly.
#[test]
fn hotspots_end_quietly_on_a_closed_stdout() {
    let fixture = Fixture::new("cli-closed-pipe");
    let mut command = Command::new(env!("CARGO_BIN_EXE_pxi-viz"));
    command
        .arg("hotspots")
        .arg(&fixture.image)
        .arg(&fixture.counts);
    let run = pxi_asm::cli::output_with_stdout_closed(&mut command).unwrap();
    assert!(
        pxi_asm::cli::ended_quietly(&run) && run.stderr.is_empty(),
        "{:?}: {}",
        run.status,
        text(&run.stderr)
    );
}

#[test]
fn html_is_one_self_contained_file() {
    let fixture = Fixture::new("cli-html");
    let page = fixture.dir.join("view.html");
    let run = pxi_viz(&[
        Path::new("html"),
        &fixture.image,
        &fixture.counts,
        Path::new("-o"),
        &page,
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.contains("\"caption\":\"round 11, 64 steps\"")
    );
    for external in ["http://", "https://", "src=", "@import", "url("] {
        assert!(
            !html.contains(external),
            "the page must not load anything: found `{external}`"
        );
    }
}

#[test]
fn bad_input_fails_with_a_message() {
    let fixture = Fixture::new("cli-errors");
    let missing = fixture.dir.join("missing.counts");
    let run = pxi_viz(&[
        Path::new("heatmap"),
        &fixture.image,
        &missing,
        Path::new("-o"),
        &fixture.dir.join("x.png"),
    ]);
    assert_eq!(run.status.code(), Some(1));
    assert!(text(&run.stderr).starts_with(&format!(
        "pxi-viz: error: cannot read {}: ",
        missing.display()
    )));
    let run = pxi_viz(&[
        Path::new("heatmap"),
        &fixture.image,
        &fixture.counts,
        Path::new("-o"),
        Path::new("x.png"),
        Path::new("--scale"),
        Path::new("0"),
    ]);
    assert_eq!(run.status.code(), Some(2), "clap rejects --scale 0");
}
