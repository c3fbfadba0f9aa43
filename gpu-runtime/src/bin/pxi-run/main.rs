//! `pxi-run`: run a PXI program on the GPU (wgpu), or benchmark the runtime.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod ai;
mod bench;
mod bench_ai;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use gpu_runtime::trace::{Phases, Trace, Traced};
use gpu_runtime::{Gpu, GpuMachine, GpuOptions, MAX_SAFE_SLICE};
use pxi::host::StdioHost;
use pxi::{Image, Limits, Machine};
use pxi_asm::SourceMap;
use pxi_asm::runner::{
    CountsTo, DiskArgs, MemoryArgs, RunOptions, Summary, load_program, run_to_end,
};

#[derive(Parser)]
#[command(
    name = "pxi-run",
    version,
    about = "Run PXI pixel programs on the GPU through wgpu (pxOS)",
    long_about = "Run a PXI pixel program on the GPU through wgpu: the persistent WGSL interpreter \
                  runs bounded slices; the host services the console mailbox between batches.\n\n\
                  Prints the adapter, the program's output as it happens, and a summary on stderr. \
                  Exit status: the SYS_HALT status, or hart 0's exit code when every hart exited \
                  (modulo 256); 125 when a hart trapped; 124 when the step budget ran out; 1 when the \
                  program cannot be loaded or no GPU adapter exists.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Measure the runtime against the CPU interpreter and print a table.
    Bench(bench::BenchArgs),
    /// Run a llama2.c model in pixels (examples/ai.pxs) with run.c's options.
    Ai(ai::AiArgs),
    /// Measure `ai` (tokens/s) and `matvec` against references and print tables.
    BenchAi(bench_ai::BenchAiArgs),
}

#[derive(Args)]
struct RunArgs {
    /// The program: a `.pxi` image (its `.map` is used when present) or a `.pxs` source.
    program: Option<PathBuf>,
    /// Stop at the first round boundary at or past this many instructions.
    #[arg(long, default_value_t = Limits::default().max_steps)]
    max_steps: u64,
    /// Instructions each hart may execute per round. On llvmpipe, slices above 32,000
    /// may be cut off (it ends shader loops after 65,535 iterations); the runtime
    /// detects and reports a cut-off slice.
    #[arg(long, default_value_t = gpu_runtime::DEFAULT_SLICE)]
    slice_steps: u32,
    /// Rounds per GPU submission; the mailbox is serviced between submissions.
    #[arg(long, default_value_t = gpu_runtime::DEFAULT_ROUNDS_PER_BATCH)]
    rounds_per_batch: u32,
    /// Run on the CPU reference interpreter instead of the GPU.
    #[arg(long)]
    cpu: bool,
    /// Write per-pixel execution counts of the program file here (for `pxi-viz`; code a run
    /// adds, such as pxOS's code load arena, is not counted in it).
    #[arg(long)]
    counts: Option<PathBuf>,
    /// With `--counts`: also snapshot the counts every this many rounds (0 = final only).
    #[arg(long, default_value_t = 0)]
    snapshot_rounds: u32,
    /// Do not count executions per pixel on the GPU (faster; no heatmap).
    #[arg(long, conflicts_with = "counts")]
    no_counts: bool,
    /// Compile the program's code to WGSL first (docs/compiler.md): basic blocks
    /// run as straight-line shader code, the rest is interpreted. Costs seconds of
    /// shader compilation on lavapipe; pays off for long runs.
    #[arg(long, conflicts_with = "cpu")]
    compile: bool,
    /// Write a Chrome/Perfetto trace here (open it at ui.perfetto.dev): batches,
    /// rounds and dispatches (GPU timestamps where the adapter has them),
    /// readbacks, mailbox calls by kind and a track per sampled hart.
    #[arg(long, value_name = "OUT.json")]
    trace: Option<PathBuf>,
    /// With `--trace`: how many harts (0, 1, …) get a track of their own.
    #[arg(long, default_value_t = 8, requires = "trace")]
    trace_harts: u32,
    #[command(flatten)]
    disk: DiskArgs,
    /// Link this user program (`.pxi` or `.pxs`, named by its file stem) into
    /// the OS image: the pxOS shell's `programs` lists it and `run NAME` starts
    /// it. Repeatable.
    #[arg(long = "program", value_name = "PATH")]
    programs: Vec<PathBuf>,
    #[command(flatten)]
    memory: MemoryArgs,
}

fn main() -> ExitCode {
    pxi_asm::cli::end_quietly_on_closed_pipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Bench(args)) => bench::run(&args).map(|()| ExitCode::SUCCESS),
        Some(Command::Ai(args)) => ai::run(&args),
        Some(Command::BenchAi(args)) => bench_ai::run(&args).map(|()| ExitCode::SUCCESS),
        None => run(cli.run),
    };
    result.unwrap_or_else(|e| {
        pxi_asm::cli::report_error("pxi-run", &e);
        ExitCode::FAILURE
    })
}

fn run(args: RunArgs) -> Result<ExitCode> {
    let Some(path) = args.program else {
        anyhow::bail!("no program given: try `pxi-run examples/os.pxs` or `pxi-run --help`");
    };
    let (mut image, mut map) = load_program(&path)?;
    let file_pixels = image.code.len();
    pxi_asm::runner::link_programs(&mut image, &mut map, &args.programs)?;
    args.memory.apply(&mut image)?;
    let limits = Limits {
        slice_steps: args.slice_steps,
        max_steps: args.max_steps,
    };
    let options = RunOptions {
        max_steps: args.max_steps,
        rounds_per_batch: args.rounds_per_batch,
        counts: args.counts.map(|path| CountsTo {
            path,
            pixels: file_pixels,
        }),
        snapshot_rounds: args.snapshot_rounds,
    };
    let trace = args.trace.as_deref().map(|path| TraceTo {
        path,
        harts: args.trace_harts,
    });
    let mut host = args.disk.host()?;
    let (summary, on) = if args.cpu {
        eprintln!(
            "pxi-run: running {} on the CPU reference interpreter",
            path.display()
        );
        let machine = Machine::new(&image, limits);
        (
            run_program(machine, trace, &image, map.as_ref(), &mut host, &options)?,
            "the CPU interpreter".to_string(),
        )
    } else {
        let gpu = Gpu::new()?;
        eprintln!("pxi-run: adapter {}", gpu.adapter_name());
        if args.slice_steps > MAX_SAFE_SLICE && gpu.is_cpu() {
            eprintln!(
                "pxi-run: warning: --slice-steps above {MAX_SAFE_SLICE} will be cut off by llvmpipe"
            );
        }
        let options_gpu = GpuOptions {
            count_exec: !args.no_counts,
        };
        let mut machine = GpuMachine::new(&gpu, &image, limits, options_gpu)?;
        if args.compile {
            eprintln!("pxi-run: {}", machine.compile()?);
        }
        if args.trace.is_some() {
            machine.record_phases();
            if !gpu.has_timestamps() {
                eprintln!(
                    "pxi-run: this adapter has no timestamp queries: the trace shows submissions, not rounds"
                );
            }
        }
        (
            run_program(machine, trace, &image, map.as_ref(), &mut host, &options)?,
            gpu.adapter_name(),
        )
    };
    summary.print("pxi-run", &format!(" on {on}"));
    Ok(ExitCode::from(summary.exit_status))
}

/// Where to write a trace and how many harts it samples.
struct TraceTo<'a> {
    path: &'a Path,
    harts: u32,
}

/// Run `executor` to the end, recording a trace into `trace` when asked.
fn run_program<X: Phases>(
    mut executor: X,
    trace: Option<TraceTo>,
    image: &Image,
    map: Option<&SourceMap>,
    host: &mut StdioHost,
    options: &RunOptions,
) -> Result<Summary>
where
    X::Error: std::fmt::Display,
{
    let Some(to) = trace else {
        return run_to_end(&mut executor, image, map, host, options);
    };
    let mut trace = Trace::new();
    let mut traced = Traced::new(executor, &mut trace, to.harts);
    let summary = run_to_end(&mut traced, image, map, host, options)?;
    traced.finish();
    trace
        .write(to.path)
        .with_context(|| format!("writing the trace {}", to.path.display()))?;
    eprintln!(
        "pxi-run: trace of {} events written to {} (open it at https://ui.perfetto.dev)",
        trace.events().len(),
        to.path.display()
    );
    Ok(summary)
}
