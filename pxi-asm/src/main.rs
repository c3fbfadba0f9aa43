//! `pxi-asm`: assemble, disassemble and run PXI pixel programs.

use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use pxi::{Limits, Machine};
use pxi_asm::assemble::set_width;
use pxi_asm::runner::{
    CountsTo, DiskArgs, MemoryArgs, RunOptions, load_image, load_program, run_to_end,
};
use pxi_asm::{SourceMap, assemble_file, cli, disassemble};

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
    /// Link user programs into a pxOS image (docs/abi.md, "Programs").
    ///
    /// Each program (`.pxi` or `.pxs`, named by its file stem) gets its code
    /// appended and an entry in the program directory; the shell's `programs`
    /// lists it. Use the result as `pxi-run` input, or embed it in the
    /// microkernel with `PXOS_IMAGE=out.pxi`.
    Link {
        /// The OS image or source (e.g. examples/os.pxs).
        os: PathBuf,
        /// The programs to link.
        #[arg(required = true)]
        programs: Vec<PathBuf>,
        /// The linked image (its `.map` is written next to it when every input has one).
        #[arg(short, long)]
        output: PathBuf,
        /// Arenas to record in the image (e.g. for the microkernel); without them a run
        /// (pxi-run, the microkernel) gives the image the default arenas.
        #[command(flatten)]
        memory: MemoryArgs,
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
        /// Write per-pixel execution counts of the program file to this file (format:
        /// docs/pxi-format.md; code a run adds, such as pxOS's code load arena, is not in it).
        #[arg(long)]
        counts: Option<PathBuf>,
        /// With `--counts`: also snapshot the counts every this many rounds (0 = final only).
        #[arg(long, default_value_t = 0)]
        snapshot_rounds: u32,
        #[command(flatten)]
        disk: DiskArgs,
        #[command(flatten)]
        memory: MemoryArgs,
    },
}

fn main() -> ExitCode {
    cli::end_quietly_on_closed_pipe();
    match execute(Cli::parse().command) {
        Ok(code) => code,
        Err(e) => {
            cli::report_error("pxi-asm", &e);
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
        Command::Link {
            os,
            programs,
            output,
            memory,
        } => {
            let (mut image, mut map) = load_program(&os)?;
            pxi_asm::runner::link_programs(&mut image, &mut map, &programs)?;
            memory.apply_explicit(&mut image)?;
            if memory.code_arena.is_some_and(|pixels| pixels > 0) {
                // The map describes the linked code, not the arena's pixels.
                map = None;
            }
            fs::write(&output, image.encode_png())
                .with_context(|| format!("writing {}", output.display()))?;
            if let Some(map) = map {
                let map_path = SourceMap::sidecar(&output);
                map.write(&map_path)
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
            disk,
            memory,
        } => {
            let mut host = disk.host()?;
            let (mut image, map) = load_program(&input)?;
            let file_pixels = image.code.len();
            memory.apply(&mut image)?;
            let mut machine = Machine::new(
                &image,
                Limits {
                    slice_steps,
                    max_steps,
                },
            );
            let options = RunOptions {
                max_steps,
                rounds_per_batch,
                counts: counts.map(|path| CountsTo {
                    path,
                    pixels: file_pixels,
                }),
                snapshot_rounds,
            };
            let summary = run_to_end(&mut machine, &image, map.as_ref(), &mut host, &options)?;
            summary.print("pxi-asm", "");
            return Ok(ExitCode::from(summary.exit_status));
        }
    }
    Ok(ExitCode::SUCCESS)
}
