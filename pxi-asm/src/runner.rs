//! Running a program to completion on any executor, the way the command-line
//! tools do: drive batches, service the console, snapshot execution counts,
//! and summarise how it ended (with trap reports pointing at the source).
//!
//! Shared by `pxi-asm run` (CPU interpreter) and `pxi-run` (GPU runtime).

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use pxi::Image;
use pxi::counts::Counts;
use pxi::host::StdioHost;
use pxi::mailbox::Host;
use pxi::run::{Executor, Outcome, Stop, drive};
use pxi::state::{H_AUX, H_STATUS, HART_EXITED, HART_WORDS};
use pxi::virtio_blk::Fault;

use crate::assemble_file;
use crate::source_map::{MapStatus, SourceMap};
use crate::trap::render_trap;

/// Exit status when a hart trapped.
pub const EXIT_TRAPPED: u8 = 125;
/// Exit status when the step budget ran out.
pub const EXIT_BUDGET: u8 = 124;

/// The disk options of the run tools (`--disk IMAGE [--read-only]`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct DiskArgs {
    /// Offer the program a virtio-blk device backed by this disk image (see docs/mailbox.md).
    #[arg(long)]
    pub disk: Option<PathBuf>,
    /// Open the disk image read-only: the device offers VIRTIO_BLK_F_RO, refuses writes,
    /// and the file is opened without write access.
    #[arg(long, requires = "disk")]
    pub read_only: bool,
    /// Make the disk misbehave, to test drivers: none, bad-status, wrong-used-id, no-completion.
    #[arg(long, requires = "disk", default_value = "none", value_parser = pxi::host::parse_fault)]
    pub disk_fault: Fault,
}

impl DiskArgs {
    /// The console host with the disk attached.
    pub fn host(&self) -> Result<StdioHost> {
        let mut host = StdioHost::default();
        if let Some(path) = &self.disk {
            pxi::host::attach_disk(&mut host.devices, path, self.read_only, self.disk_fault)
                .map_err(|e| anyhow::anyhow!(e))?;
        }
        Ok(host)
    }
}

/// The memory of a run (`--memory WORDS`, `--code-arena PIXELS`): the image
/// grows before it runs, so small sessions stay small (docs/abi.md, "Large
/// data windows").
#[derive(clap::Args, Clone, Debug, Default)]
pub struct MemoryArgs {
    /// Grow data memory to this many 32-bit words (suffix K or M: 1024 or 1048576 words; at
    /// most 32M). In pxOS the words past the linked programs are the arena of large data windows.
    #[arg(long, value_name = "WORDS", value_parser = parse_words)]
    pub memory: Option<u32>,
    /// Add this many code pixels (suffix K or M) for code loaded at run time (pxOS's code load
    /// arena).
    #[arg(long, value_name = "PIXELS", value_parser = parse_words)]
    pub code_arena: Option<u32>,
}

impl MemoryArgs {
    /// Grow `image` for a run and record the arenas in its program directory (after
    /// linking). An OS image (one with a program directory) whose arenas are still empty
    /// gets the default arenas (`pxi::program::DEFAULT_DATA_ARENA`, `DEFAULT_CODE_ARENA`)
    /// unless told otherwise.
    pub fn apply(&self, image: &mut Image) -> Result<()> {
        let os = pxi::program::Directory::of(image)
            .is_some_and(|d| d.data_arena.0 == d.data_arena.1 && d.code_arena.0 == d.code_arena.1);
        let default_data = if os {
            pxi::program::DEFAULT_DATA_ARENA
        } else {
            0
        };
        let default_code = if os {
            pxi::program::DEFAULT_CODE_ARENA
        } else {
            0
        };
        let memory = self
            .memory
            .unwrap_or_else(|| image.memory_words.saturating_add(default_data));
        self.reserve(image, memory, self.code_arena.unwrap_or(default_code))
    }

    /// Record only the arenas asked for in a linked image (`pxi-asm link`): a run of it
    /// adds the default ones when it has none.
    pub fn apply_explicit(&self, image: &mut Image) -> Result<()> {
        let memory = self.memory.unwrap_or(image.memory_words);
        self.reserve(image, memory, self.code_arena.unwrap_or(0))
    }

    fn reserve(&self, image: &mut Image, memory: u32, code_arena: u32) -> Result<()> {
        pxi::program::reserve(image, memory, code_arena)
            .map_err(|e| anyhow::anyhow!("cannot grow the image: {e}"))?;
        Ok(())
    }
}

/// A count of words or pixels: digits with an optional K (×1024) or M (×1048576) suffix.
pub fn parse_words(text: &str) -> std::result::Result<u32, String> {
    pxi::program::parse_words(text)
        .ok_or_else(|| format!("`{text}` is not a count of words (e.g. 65536, 64K, 4M)"))
}

/// What to do besides running.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// The step budget the executor was built with (for the summary).
    pub max_steps: u64,
    /// Rounds between two services of the mailbox.
    pub rounds_per_batch: u32,
    /// Write execution counts here.
    pub counts: Option<CountsTo>,
    /// Snapshot counts every this many rounds (0: final counts only).
    pub snapshot_rounds: u32,
}

/// Where a run's execution counts go.
#[derive(Clone, Debug)]
pub struct CountsTo {
    /// The counts file.
    pub path: PathBuf,
    /// The code pixels it covers: those of the program file (`pxi-viz` reads
    /// that file with the counts). Pixels the run adds after them, linked
    /// programs and pxOS's code load arena, are left out.
    pub pixels: usize,
}

impl CountsTo {
    /// The part of a run's `counts` that the file covers.
    fn covered<'c>(&self, counts: &'c [u32]) -> &'c [u32] {
        &counts[..self.pixels.min(counts.len())]
    }
}

/// How a run ended, ready to print.
#[derive(Debug)]
pub struct Summary {
    /// The driver's outcome.
    pub outcome: Outcome,
    /// Process exit status for the tool.
    pub exit_status: u8,
    /// One-line reason.
    pub reason: String,
    /// Rendered trap reports (empty unless a hart trapped).
    pub traps: Vec<String>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl Summary {
    /// Print trap reports and the one-line summary to stderr, prefixed by `tool`.
    pub fn print(&self, tool: &str, detail: &str) {
        for trap in &self.traps {
            eprint!("{trap}");
        }
        eprintln!(
            "{tool}: {}; exit status {}; {} steps in {} rounds ({} batches), {:.1} ms{detail}",
            self.reason,
            self.exit_status,
            self.outcome.steps,
            self.outcome.rounds,
            self.outcome.batches,
            self.elapsed.as_secs_f64() * 1e3,
        );
    }
}

/// A `.pxs` source (assembled in memory) or a `.pxi` image with its source map.
pub fn load_program(path: &Path) -> Result<(Image, Option<SourceMap>)> {
    if path.extension().is_some_and(|e| e == "pxs") {
        let assembly = assemble_file(path)?;
        return Ok((assembly.image, Some(assembly.map)));
    }
    load_image(path, true)
}

/// Link user programs (`.pxi` images or `.pxs` sources, named by file stem)
/// into an OS image, keeping the source map in step when there is one
/// (`pxi::program::link`; docs/abi.md, "Programs").
pub fn link_programs(
    image: &mut Image,
    map: &mut Option<SourceMap>,
    programs: &[std::path::PathBuf],
) -> Result<()> {
    for path in programs {
        let (program, program_map) = load_program(path)?;
        let name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let entry = pxi::program::link(image, &name, &program)
            .map_err(|e| anyhow::anyhow!("{}: cannot link it: {e}", path.display()))?;
        match (map.as_mut(), program_map) {
            (Some(map), Some(program_map)) => map.link(&name, &program_map, entry.code, entry.data),
            // Without the program's map, the OS map no longer describes every pixel.
            (Some(_), None) => *map = None,
            _ => {}
        }
    }
    Ok(())
}

/// A `.pxi` image, and its sidecar source map when `with_map` and it matches.
pub fn load_image(path: &Path, with_map: bool) -> Result<(Image, Option<SourceMap>)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let image =
        Image::decode_png(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if !with_map {
        return Ok((image, None));
    }
    let status = SourceMap::load_for(path, image.code.len())?;
    if let (MapStatus::Mismatched { .. }, Some(note)) = (&status, status.note()) {
        eprintln!("warning: {note}");
    }
    Ok((image, status.into_map()))
}

/// Run `executor` (loaded with `image`) to completion with `host` as console.
pub fn run_to_end<X>(
    executor: &mut X,
    image: &Image,
    map: Option<&SourceMap>,
    host: &mut impl Host,
    options: &RunOptions,
) -> Result<Summary>
where
    X: Executor,
    X::Error: Display,
{
    let start = Instant::now();
    let mut counts = Counts::default();
    let mut next_snapshot = options.snapshot_rounds;
    let mut snapshot_error = None;
    let outcome = drive(executor, host, options.rounds_per_batch, |x, report| {
        if let Some(to) = &options.counts
            && options.snapshot_rounds > 0
            && report.rounds >= next_snapshot
        {
            match x.counts() {
                Ok(c) => counts.push(report.rounds, report.steps, to.covered(&c)),
                Err(e) => snapshot_error = Some(e.to_string()),
            }
            next_snapshot = report.rounds.saturating_add(options.snapshot_rounds);
        }
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let elapsed = start.elapsed();
    if let Some(e) = snapshot_error {
        anyhow::bail!("reading execution counts: {e}");
    }
    if let Some(to) = &options.counts {
        if counts.last().is_none_or(|s| s.round != outcome.rounds) {
            let last = executor
                .counts()
                .map_err(|e| anyhow::anyhow!("reading execution counts: {e}"))?;
            counts.push(outcome.rounds, outcome.steps, to.covered(&last));
        }
        std::fs::write(&to.path, counts.to_bytes())
            .with_context(|| format!("writing {}", to.path.display()))?;
    }
    let harts = executor
        .harts()
        .map_err(|e| anyhow::anyhow!("reading hart state: {e}"))?;
    let (reason, exit_status) = match outcome.stop {
        Stop::Halted(status) => (format!("halted with status {status}"), status as u8),
        Stop::AllExited => {
            let code = if harts[H_STATUS] == HART_EXITED {
                harts[H_AUX]
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
            format!("step budget of {} spent", options.max_steps),
            EXIT_BUDGET,
        ),
    };
    debug_assert_eq!(harts.len() % HART_WORDS, 0);
    let traps = pxi::machine::traps(image, &harts)
        .iter()
        .map(|t| render_trap(t, map))
        .collect();
    Ok(Summary {
        outcome,
        exit_status,
        reason,
        traps,
        elapsed,
    })
}
