//! The HTML viewer in a real headless Chromium: the page renders (the
//! screenshot is not blank and shows the heatmap colours) and hovering a
//! known cell (`?hover=x,y`) shows its coordinates, opcode, disassembly,
//! count and source line.
//!
//! Chromium is required: without it this test fails, unless
//! `PXOS_SKIP_BROWSER=1` skips it explicitly. `PXOS_CHROMIUM` names the
//! binary when it is not `chromium` on the PATH.

mod common;

use std::collections::HashSet;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Fixture, decode_png};
use visualizer::colormap::viridis;
use visualizer::heatmap::NOT_RUN;
use visualizer::hotspots::report;
use visualizer::html::page;

/// Seconds one browser run may take.
const BROWSER_TIMEOUT_S: &str = "60";

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PXOS_CHROMIUM") {
        return Some(path.into());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|candidate| candidate.is_file())
}

/// Run headless Chromium on `url` with `extra` arguments; returns stdout.
fn run_chromium(browser: &Path, dir: &Path, url: &str, extra: &[&str]) -> String {
    let xdg = dir.join("xdg");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&xdg)
        .unwrap();
    let profile = dir.join(format!("profile-{}", extra.len()));
    let output = Command::new("timeout")
        .arg(BROWSER_TIMEOUT_S)
        .arg(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
        ])
        .args([
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--force-color-profile=srgb",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .env("XDG_RUNTIME_DIR", &xdg)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{} failed ({}):\n{}",
        browser.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The text of the element with `id` in a dumped DOM.
fn element_text<'a>(dom: &'a str, id: &str) -> &'a str {
    let open = format!("id=\"{id}\">");
    let start = dom
        .find(&open)
        .unwrap_or_else(|| panic!("no #{id} in the page:\n{dom}"))
        + open.len();
    &dom[start..start + dom[start..].find('<').unwrap()]
}

#[test]
fn viewer_renders_and_shows_hovered_cell() {
    let Some(browser) = chromium() else {
        if std::env::var_os("PXOS_SKIP_BROWSER").is_some_and(|v| v == "1") {
            eprintln!("PXOS_SKIP_BROWSER=1: skipping the headless Chromium test");
            return;
        }
        panic!(
            "chromium not found on PATH (or PXOS_CHROMIUM): the HTML viewer test needs it; install it with \
             `apt-get install chromium`, or set PXOS_SKIP_BROWSER=1 to skip this test explicitly"
        );
    };
    let fixture = Fixture::new("browser");
    let profile = fixture.profile();
    let html = fixture.dir.join("view.html");
    std::fs::write(&html, page(&profile, "prog.pxi")).unwrap();
    let hottest = &report(&profile, 1).pixels[0];
    let (x, y) = hottest.xy;
    let url = format!("file://{}?hover={x},{y}", html.display());

    let dom = run_chromium(
        &browser,
        &fixture.dir,
        &url,
        &["--virtual-time-budget=2000", "--dump-dom"],
    );
    let shown: Vec<&str> = [
        "d-xy", "d-kind", "d-op", "d-text", "d-count", "d-source", "d-label",
    ]
    .iter()
    .map(|id| element_text(&dom, id))
    .collect();
    assert_eq!(
        shown,
        [
            &format!("({x},{y})"),
            "code, pc 6",
            "0x48 call",
            "call bump",
            "10",
            "prog.pxs:11",
            "loop"
        ]
    );
    assert_eq!(hottest.text, "call bump");

    let screenshot = fixture.dir.join("view.png");
    let shot_arg = format!("--screenshot={}", screenshot.display());
    run_chromium(
        &browser,
        &fixture.dir,
        &url,
        &["--hide-scrollbars", "--window-size=1000,800", &shot_arg],
    );
    let (_, _, rgb) = decode_png(&std::fs::read(&screenshot).unwrap());
    let colours: HashSet<&[u8]> = rgb.chunks_exact(3).collect();
    assert!(
        colours.len() > 20,
        "the screenshot looks blank: {} colours",
        colours.len()
    );
    for colour in [viridis(1.0), NOT_RUN] {
        assert!(
            colours.contains(&colour[..]),
            "the screenshot lacks the heatmap colour {colour:?}"
        );
    }
}
