//! `pxi-viz`: heatmaps, hotspot reports, time-lapses and an HTML viewer of a
//! pxOS run, from a PXI image and an execution-count file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use visualizer::heatmap::{Style, render_snapshot};
use visualizer::hotspots::report;
use visualizer::timelapse::{Accumulation, encode_apng, frames, write_frames};
use visualizer::{Profile, html};

#[derive(Parser)]
#[command(
    name = "pxi-viz",
    version,
    about = "Look at a pxOS run: heatmaps, hotspots, time-lapses, HTML viewer"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The inputs every command reads.
#[derive(Args)]
struct Inputs {
    /// The program image (`.pxi`); its source map `<image>.map` is used when present.
    image: PathBuf,
    /// Execution counts of a run of it (`pxi-asm run --counts` or `pxi-run --counts`).
    counts: PathBuf,
}

impl Inputs {
    fn load(&self) -> Result<Profile> {
        Ok(Profile::load(&self.image, &self.counts)?)
    }
}

/// How pictures are drawn.
#[derive(Args)]
struct Look {
    /// Screen pixels per image pixel.
    #[arg(long, default_value_t = Style::default().scale, value_parser = clap::value_parser!(u32).range(1..=64))]
    scale: u32,
    /// Draw the program image itself left of the heatmap.
    #[arg(long)]
    side_by_side: bool,
}

impl Look {
    fn style(&self) -> Style {
        Style {
            scale: self.scale,
            side_by_side: self.side_by_side,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Write a heatmap PNG of the final counts: one cell per image pixel,
    /// log-scale viridis colours, header and data pixels greyed.
    Heatmap {
        #[command(flatten)]
        inputs: Inputs,
        /// The PNG to write.
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        look: Look,
    },
    /// Print the most executed pixels and labels with counts, shares,
    /// source lines and disassembly.
    Hotspots {
        #[command(flatten)]
        inputs: Inputs,
        /// How many pixels and labels to list (`--find-hotspots N` is the same).
        #[arg(long, visible_alias = "find-hotspots", default_value_t = 10)]
        top: usize,
    },
    /// Render one heatmap per counts snapshot, as an animated PNG or as
    /// numbered PNG files.
    Timelapse {
        #[command(flatten)]
        inputs: Inputs,
        /// The animated PNG (APNG) to write.
        #[arg(short, long, required_unless_present = "frames")]
        output: Option<PathBuf>,
        /// Also (or instead) write `frame-0000.png`, … into this folder.
        #[arg(long)]
        frames: Option<PathBuf>,
        /// Show the cumulative counts instead of the executions since the previous snapshot.
        #[arg(long)]
        cumulative: bool,
        /// Milliseconds per frame of the animation.
        #[arg(long, default_value_t = 200)]
        delay_ms: u16,
        #[command(flatten)]
        look: Look,
    },
    /// Write one self-contained HTML page with the zoomable program image and
    /// heatmap; hovering a cell shows its opcode, disassembly, count and source.
    Html {
        #[command(flatten)]
        inputs: Inputs,
        /// The page to write.
        #[arg(short, long)]
        output: PathBuf,
    },
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

fn execute(command: Command) -> Result<()> {
    match command {
        Command::Heatmap {
            inputs,
            output,
            look,
        } => {
            let profile = inputs.load()?;
            write(
                &output,
                render_snapshot(profile.image(), profile.final_snapshot(), look.style())?
                    .to_png()?,
            )
        }
        Command::Hotspots { inputs, top } => {
            let profile = inputs.load()?;
            let last = profile.final_snapshot();
            println!(
                "hotspots of {} ({}: round {}, {} steps)",
                inputs.image.display(),
                inputs.counts.display(),
                last.round,
                last.steps
            );
            print!("{}", report(&profile, top));
            Ok(())
        }
        Command::Timelapse {
            inputs,
            output,
            frames: dir,
            cumulative,
            delay_ms,
            look,
        } => {
            let profile = inputs.load()?;
            let accumulation = if cumulative {
                Accumulation::Cumulative
            } else {
                Accumulation::Interval
            };
            let pictures = frames(&profile, accumulation, look.style())?;
            if let Some(dir) = dir {
                write_frames(&dir, &pictures)?;
            }
            match output {
                Some(path) => write(&path, encode_apng(&pictures, delay_ms)?),
                None => Ok(()),
            }
        }
        Command::Html { inputs, output } => {
            let profile = inputs.load()?;
            write(
                &output,
                html::page(&profile, &inputs.image.display().to_string()),
            )
        }
    }
}

fn main() -> ExitCode {
    pxi_asm::cli::end_quietly_on_closed_pipe();
    match execute(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            pxi_asm::cli::report_error("pxi-viz", &e);
            ExitCode::FAILURE
        }
    }
}
