//! `pxi-run bench`: the GPU runtime against the CPU reference interpreter.
//!
//! Prints one Markdown table (copy it into docs/benchmarks.md), headed by the
//! adapter name. Every figure is a median of `--repeat` runs, GPU and CPU
//! measured in the same process on the same machine.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use pxi::host::CaptureHost;
use pxi::run::{Executor, Stop, drive};
use pxi::{Image, Limits, Machine};
use wgpu::util::DeviceExt;

use crate::{DEFAULT_ROUNDS_PER_BATCH, DEFAULT_SLICE, Gpu, GpuMachine, GpuOptions};

/// Options of `pxi-run bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Runs per measurement (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
    /// Scale every workload down 10× (for a quick look or CI).
    #[arg(long)]
    pub quick: bool,
}

/// A scalar loop of five instructions per iteration, run by every hart.
/// Harts are started by a spawn tree (each spawns idx + 2^k, then k + 1), so
/// 16384 harts need only 15 rounds of spawning.
pub fn data_parallel_source(harts: u32, iterations: u32) -> String {
    format!(
        "
.harts {harts}
.data
total: .word 0
.code
    li r1, 0                 ; idx 0, k 0
worker:
    shri r2, r1, 16          ; k
    li r3, 0xFFFF
    and r1, r1, r3           ; idx
    li r10, 1
grow:
    shl r4, r10, r2          ; 2^k
    add r5, r1, r4           ; child idx
    li r6, {harts}
    cmp r5, r6
    jgeu work
    addi r2, r2, 1
    shli r7, r2, 16
    or r7, r7, r5
    li r8, worker
    spawn r9, r8, r7
    jmp grow
work:
    li r2, {iterations}
    li r3, 0
    li r11, 0
loop:
    add r3, r3, r1
    xor r4, r3, r2
    addi r2, r2, -1
    cmp r2, r11
    jne loop
    li r6, total
    aadd r7, r6, r4
    exit r11
"
    )
}

/// `vadd` over `len` words, `reps` times.
fn vector_source(len: u32, reps: u32) -> String {
    format!(
        "
.memory {memory}
.code
    li r1, 0
    li r2, {len}
    li r3, {y}
    li r4, {len}
    li r5, {reps}
    li r6, 0
again:
    vadd r1, r2, r3, r4
    addi r5, r5, -1
    cmp r5, r6
    jne again
    exit r6
",
        memory = 3 * len,
        y = 2 * len,
    )
}

/// `count` syscalls (SYS_CLOCK) one after another.
pub fn mailbox_source(count: u32) -> String {
    format!(
        "
    li r5, {count}
    li r6, 0
again:
    li r0, SYS_CLOCK
    syscall
    addi r5, r5, -1
    cmp r5, r6
    jne again
    exit r6
"
    )
}

/// One `yield` per round: measures the cost of a round with no work.
pub fn rounds_source(rounds: u32) -> String {
    format!(
        "
    li r5, {rounds}
    li r6, 0
again:
    yield
    addi r5, r5, -1
    cmp r5, r6
    jne again
    exit r6
"
    )
}

fn assemble(name: &str, source: &str) -> Result<Image> {
    pxi_asm::assemble_source(name, source)
        .map(|a| a.image)
        .map_err(|e| anyhow::anyhow!("{name}: {e}"))
}

struct Run {
    elapsed: Duration,
    steps: u64,
    rounds: u32,
}

fn median(mut runs: Vec<Run>) -> Run {
    runs.sort_by_key(|r| r.elapsed);
    runs.swap_remove(runs.len() / 2)
}

/// Time `repeat` runs of fresh executors from `make`; the median run.
fn timed<X: Executor>(
    repeat: u32,
    rounds_per_batch: u32,
    mut make: impl FnMut() -> Result<X>,
) -> Result<Run>
where
    X::Error: std::fmt::Display,
{
    let mut runs = Vec::new();
    for _ in 0..repeat {
        let mut machine = make()?;
        let mut host = CaptureHost::default();
        let start = Instant::now();
        let outcome = drive(&mut machine, &mut host, rounds_per_batch, |_, _| {})
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let elapsed = start.elapsed();
        anyhow::ensure!(
            outcome.stop == Stop::AllExited,
            "benchmark program ended with {:?}",
            outcome.stop
        );
        runs.push(Run {
            elapsed,
            steps: outcome.steps,
            rounds: outcome.rounds,
        });
    }
    Ok(median(runs))
}

fn cpu_run(image: &Image, limits: Limits, rounds_per_batch: u32, repeat: u32) -> Result<Run> {
    timed(repeat, rounds_per_batch, || Ok(Machine::new(image, limits)))
}

fn gpu_run(
    gpu: &Gpu,
    image: &Image,
    limits: Limits,
    rounds_per_batch: u32,
    count_exec: bool,
    repeat: u32,
) -> Result<Run> {
    timed(repeat, rounds_per_batch, || {
        Ok(GpuMachine::new(
            gpu,
            image,
            limits,
            GpuOptions { count_exec },
        )?)
    })
}

fn mips(run: &Run) -> f64 {
    run.steps as f64 / run.elapsed.as_secs_f64() / 1e6
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

/// Run every benchmark and print the table.
pub fn run(args: &BenchArgs) -> Result<()> {
    let gpu = Gpu::new()?;
    let scale = if args.quick { 10 } else { 1 };
    let repeat = args.repeat.max(1);
    let limits = Limits {
        slice_steps: DEFAULT_SLICE,
        max_steps: u64::MAX,
    };
    let batch = DEFAULT_ROUNDS_PER_BATCH;
    println!("## GPU runtime vs CPU interpreter\n");
    println!(
        "Adapter: **{}**; CPU: the `pxi` reference interpreter, one thread.",
        gpu.adapter_name()
    );
    println!(
        "Slice {DEFAULT_SLICE} steps, {batch} rounds per submission, median of {repeat} runs.\n"
    );

    println!("### Scalar and data-parallel programs (Minstr/s)\n");
    println!("| harts | steps | CPU | GPU, counting | GPU, no counts | GPU/CPU (no counts) |");
    println!("|---|---|---|---|---|---|");
    let total_steps = 60_000_000 / scale;
    let mut ratio_1024 = 0.0;
    for harts in [1u32, 64, 1024, 16384] {
        // At least 2000 loop iterations (10,000 instructions) per hart, so that
        // running dominates starting 16384 harts through the spawn tree.
        // One hart runs at a few Minstr/s on a CPU adapter: a third of the work
        // keeps that row short; the others run long enough to average out noise.
        let target = if harts == 1 {
            total_steps / 3
        } else {
            total_steps
        };
        let iterations = (target / 5 / harts as u64).max(2000 / scale) as u32;
        let image = assemble("data-parallel", &data_parallel_source(harts, iterations))?;
        let cpu = cpu_run(&image, limits, batch, repeat)?;
        let counted = gpu_run(&gpu, &image, limits, batch, true, repeat)?;
        let plain = gpu_run(&gpu, &image, limits, batch, false, repeat)?;
        let ratio = mips(&plain) / mips(&cpu);
        if harts == 1024 {
            ratio_1024 = ratio;
        }
        println!(
            "| {harts} | {} | {:.0} | {:.0} | {:.0} | {ratio:.2}× |",
            cpu.steps,
            mips(&cpu),
            mips(&counted),
            mips(&plain)
        );
    }
    println!(
        "\nTarget: at ≥1024 harts the GPU reaches ≥0.8× the CPU interpreter: {:.2}× — {}.\n",
        ratio_1024,
        verdict(ratio_1024 >= 0.8)
    );

    println!("### Vector instructions vs a hand-written WGSL kernel\n");
    let len = 4 << 20;
    let reps = 20 / scale.min(10) as u32;
    let image = assemble("vector", &vector_source(len, reps))?;
    let vm = gpu_run(&gpu, &image, limits, batch, false, repeat)?;
    let cpu = cpu_run(&image, limits, batch, repeat)?;
    let native = native_vadd(&gpu, len, reps, repeat)?;
    let elements = len as f64 * reps as f64;
    let rate = |d: Duration| elements / d.as_secs_f64() / 1e9;
    println!("| `vadd` of {len} words × {reps} | Gelem/s |");
    println!("|---|---|");
    println!("| CPU interpreter | {:.2} |", rate(cpu.elapsed));
    println!("| GPU runtime | {:.2} |", rate(vm.elapsed));
    println!("| native WGSL kernel | {:.2} |", rate(native));
    let vector_ratio = native.as_secs_f64() / vm.elapsed.as_secs_f64();
    println!(
        "\nTarget: ≥0.8× the native kernel: {vector_ratio:.2}× — {}.\n",
        verdict(vector_ratio >= 0.8)
    );

    println!("### Slices and the mailbox\n");
    let rounds = 2000 / scale as u32;
    let image = assemble("rounds", &rounds_source(rounds))?;
    let one = gpu_run(&gpu, &image, limits, 1, true, repeat)?;
    let batched = gpu_run(&gpu, &image, limits, batch, true, repeat)?;
    let per_round = |r: &Run| r.elapsed.as_secs_f64() * 1e6 / r.rounds as f64;
    println!("| what | µs |");
    println!("|---|---|");
    println!(
        "| one round per submission (3 dispatches + readback) | {:.1} |",
        per_round(&one)
    );
    println!(
        "| one round, {batch} rounds per submission | {:.1} |",
        per_round(&batched)
    );
    let calls = 500 / scale as u32;
    let image = assemble("mailbox", &mailbox_source(calls))?;
    let gpu_calls = gpu_run(&gpu, &image, limits, 1, true, repeat)?;
    let cpu_calls = cpu_run(&image, limits, 1, repeat)?;
    println!(
        "| mailbox round trip (syscall → host → reply), GPU | {:.1} |",
        gpu_calls.elapsed.as_secs_f64() * 1e6 / calls as f64
    );
    println!(
        "| mailbox round trip, CPU interpreter | {:.2} |",
        cpu_calls.elapsed.as_secs_f64() * 1e6 / calls as f64
    );
    // Slicing overhead of the 1024-hart run: rounds × cost of an empty round / total.
    let image = assemble(
        "data-parallel",
        &data_parallel_source(1024, (total_steps / 5 / 1024) as u32),
    )?;
    let big = gpu_run(&gpu, &image, limits, batch, true, repeat)?;
    let overhead = big.rounds as f64 * per_round(&batched) * 1e-6 / big.elapsed.as_secs_f64();
    println!(
        "\nSlicing overhead (1024 harts: {} rounds × empty-round cost / run time): {:.1}% — target ≤10%: {}.",
        big.rounds,
        overhead * 100.0,
        verdict(overhead <= 0.10)
    );
    Ok(())
}

/// Time `reps` dispatches of the hand-written `vadd` kernel over `len` words.
fn native_vadd(gpu: &Gpu, len: u32, reps: u32, repeat: u32) -> Result<Duration> {
    let kernel = Kernel {
        source: shaders::NATIVE_VADD,
        entry: "native_vadd",
        memory_words: 3 * len as u64,
        args: &[0, len, 2 * len, len],
        workgroups: len.div_ceil(4096),
    };
    let mut times = (0..repeat)
        .map(|_| kernel.time(gpu, reps))
        .collect::<Result<Vec<_>>>()?;
    times.sort();
    Ok(times[times.len() / 2])
}

/// A hand-written WGSL benchmark kernel: `entry` over a `memory` buffer
/// (binding 0) with uniform `args` (binding 1).
pub(crate) struct Kernel<'a> {
    pub source: &'a str,
    pub entry: &'a str,
    pub memory_words: u64,
    pub args: &'a [u32],
    pub workgroups: u32,
}

impl Kernel<'_> {
    /// Wall time of `reps` dispatches in one submission.
    pub fn time(&self, gpu: &Gpu, reps: u32) -> Result<Duration> {
        let device = gpu.device();
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(self.entry),
            source: wgpu::ShaderSource::Wgsl(shaders::module(self.source).into()),
        });
        let pipeline = crate::pipeline(gpu, None, &module, self.entry, &[]);
        let memory = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("memory"),
            size: self.memory_words * 4,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        let args = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("args"),
            contents: bytemuck::cast_slice(self.args),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let group = crate::bind_group(gpu, &pipeline.get_bind_group_layout(0), &[&memory, &args]);
        let start = Instant::now();
        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &group, &[]);
            for _ in 0..reps {
                pass.dispatch_workgroups(self.workgroups, 1, 1);
            }
        }
        gpu.submit_and_wait(encoder).context("native kernel")?;
        Ok(start.elapsed())
    }
}
