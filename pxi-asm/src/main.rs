//! `pxi-asm`: assemble, disassemble and run PXI pixel programs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use pxi::counts::Counts;
use pxi::host::StdioHost;
use pxi::run::{Stop, drive};
use pxi::state::{H_AUX, H_STATUS, HART_EXITED};
use pxi::{Image, Limits, Machine};
use pxi_asm::assemble::set_width;
use pxi_asm::trap::render_trap;
use pxi_asm::{SourceMap, assemble_file, disassemble};

/// Exit status of `run` when a hart trapped.
const EXIT_TRAPPED: u8 = 125;
/// Exit status of `run` when the step budget ran out.
const EXIT_BUDGET: u8 = 124;

#[derive(Parser)]
#[command(
    name = "pxi-asm",
    version,
    about = "Assemble, disassemble and run PXI pixel programs (pxOS)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Assemble a `.pxs` source into a `.pxi` PNG image and its source map.
    ///
    /// The source map (`<output>.map`) records the file, line and label of
    /// every code pixel; `run`, `disassemble` and the visualizer read it.
    Assemble {
        /// The source file.
        input: PathBuf,
        /// The image to write [default: the input with extension `.pxi`].
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Image width in pixels (overrides the source's `.width`; default 64).
        #[arg(long)]
        width: Option<u32>,
        /// Do not write the `<output>.map` source map.
        #[arg(long)]
        no_map: bool,
    },
    /// Turn a `.pxi` image back into source that reassembles to the identical image.
    ///
    /// Uses `<input>.map` for label names and source lines when it exists.
    Disassemble {
        /// The image.
        input: PathBuf,
        /// Where to write the source [default: stdout].
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Ignore `<input>.map`.
        #[arg(long)]
        no_map: bool,
    },
    /// Run a program on the CPU reference interpreter, console on stdin/stdout.
    ///
    /// Accepts a `.pxi` image (with `<input>.map` if present) or a `.pxs`
    /// source, assembled in memory. A summary goes to stderr. Exit status:
    /// the `SYS_HALT` status, or hart 0's exit code when every hart exited
    /// (both modulo 256); 125 when a hart trapped; 124 when the step budget
    /// ran out; 1 when the program cannot be loaded.
    Run {
        /// The image or source.
        input: PathBuf,
        /// Stop at the first round boundary at or past this many instructions.
        #[arg(long, default_value_t = Limits::default().max_steps)]
        max_steps: u64,
        /// Instructions each hart may execute per round.
        #[arg(long, default_value_t = Limits::default().slice_steps)]
        slice_steps: u32,
        /// Rounds between two services of the mailbox.
        #[arg(long, default_value_t = 1)]
        rounds_per_batch: u32,
        /// Write per-pixel execution counts to this file (format: docs/pxi-format.md).
        #[arg(long)]
        counts: Option<PathBuf>,
        /// With `--counts`: also snapshot the counts every this many rounds (0 = final only).
        #[arg(long, default_value_t = 0)]
        snapshot_rounds: u32,
    },
}

fn main() -> ExitCode {
    match execute(Cli::parse().command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn execute(command: Command) -> Result<ExitCode> {
    match command {
        Command::Assemble {
            input,
            output,
            width,
            no_map,
        } => {
            let mut assembly = assemble_file(&input)?;
            if let Some(width) = width {
                set_width(&mut assembly.image, width)
                    .map_err(|e| anyhow::anyhow!("--width {width}: {e}"))?;
            }
            let output = output.unwrap_or_else(|| input.with_extension("pxi"));
            fs::write(&output, assembly.image.encode_png())
                .with_context(|| format!("writing {}", output.display()))?;
            if !no_map {
                let map_path = SourceMap::sidecar(&output);
                assembly
                    .map
                    .write(&map_path)
                    .with_context(|| format!("writing {}", map_path.display()))?;
            }
        }
        Command::Disassemble {
            input,
            output,
            no_map,
        } => {
            let (image, map) = load_image(&input, !no_map)?;
            let text = disassemble(&image, map.as_ref());
            match output {
                Some(path) => {
                    fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?
                }
                None => print!("{text}"),
            }
        }
        Command::Run {
            input,
            max_steps,
            slice_steps,
            rounds_per_batch,
            counts,
            snapshot_rounds,
        } => {
            let (image, map) = load_program(&input)?;
            let limits = Limits {
                slice_steps,
                max_steps,
            };
            return run(
                &image,
                map.as_ref(),
                limits,
                rounds_per_batch,
                counts.as_deref(),
                snapshot_rounds,
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A `.pxs` source (assembled in memory) or a `.pxi` image with its map.
fn load_program(path: &Path) -> Result<(Image, Option<SourceMap>)> {
    if path.extension().is_some_and(|e| e == "pxs") {
        let assembly = assemble_file(path)?;
        return Ok((assembly.image, Some(assembly.map)));
    }
    load_image(path, true)
}

fn load_image(path: &Path, with_map: bool) -> Result<(Image, Option<SourceMap>)> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let image =
        Image::decode_png(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let map_path = SourceMap::sidecar(path);
    if !with_map || !map_path.exists() {
        return Ok((image, None));
    }
    let map = SourceMap::read(&map_path)?;
    if map.pixels.len() != image.code.len() {
        eprintln!(
            "warning: ignoring {}: it describes {} code pixels, the image has {}",
            map_path.display(),
            map.pixels.len(),
            image.code.len()
        );
        return Ok((image, None));
    }
    Ok((image, Some(map)))
}

fn run(
    image: &Image,
    map: Option<&SourceMap>,
    limits: Limits,
    rounds_per_batch: u32,
    counts_path: Option<&Path>,
    snapshot_rounds: u32,
) -> Result<ExitCode> {
    let mut machine = Machine::new(image, limits);
    let mut host = StdioHost::default();
    let mut counts = Counts::default();
    let mut next_snapshot = snapshot_rounds;
    let outcome = drive(
        &mut machine,
        &mut host,
        rounds_per_batch,
        |machine, report| {
            if counts_path.is_some() && snapshot_rounds > 0 && report.rounds >= next_snapshot {
                counts.push(report.rounds, report.steps, &machine.counts);
                next_snapshot = report.rounds.saturating_add(snapshot_rounds);
            }
        },
    );
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(never) => match never {},
    };
    if let Some(path) = counts_path {
        if counts.last().is_none_or(|s| s.round != outcome.rounds) {
            counts.push(outcome.rounds, outcome.steps, &machine.counts);
        }
        fs::write(path, counts.to_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let (reason, status) = match outcome.stop {
        Stop::Halted(status) => (format!("halted with status {status}"), status as u8),
        Stop::AllExited => {
            let hart0 = machine.hart(0);
            let code = if hart0[H_STATUS] == HART_EXITED {
                hart0[H_AUX]
            } else {
                0
            };
            (
                format!("all harts exited, hart 0 with code {code}"),
                code as u8,
            )
        }
        Stop::Trapped => ("a hart trapped".to_string(), EXIT_TRAPPED),
        Stop::BudgetExhausted => (
            format!("step budget of {} spent", limits.max_steps),
            EXIT_BUDGET,
        ),
    };
    for trap in machine.traps(image) {
        eprint!("{}", render_trap(&trap, map));
    }
    eprintln!(
        "pxi-asm: {reason}; exit status {status}; {} steps in {} rounds",
        outcome.steps, outcome.rounds
    );
    Ok(ExitCode::from(status))
}
