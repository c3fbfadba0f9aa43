//! `pxi-run bench-ai`: tokens per second of the pixel `ai` program on the
//! CPU interpreter and the GPU runtime next to the Rust reference (llama2.c
//! in Rust, one thread, platform f32), for stories260K- and stories15M-shaped
//! random-weight models in fp32 and Q8_0; and the `matvec` instruction against
//! a hand-written WGSL kernel doing the same rows.

use std::time::{Duration, Instant};

use anyhow::Result;
use llama::{Config, Libm, Model, Options, Tokenizer, boot};
use pxi::host::CaptureHost;
use pxi::run::{Executor, Stop, drive};
use pxi::{Image, Limits, Machine};

use gpu_runtime::native::Shader;
use gpu_runtime::{Gpu, GpuMachine, GpuOptions};

/// Options of `pxi-run bench-ai`.
#[derive(clap::Args, Debug)]
pub struct BenchAiArgs {
    /// Only the stories260K shape (for a quick look).
    #[arg(long)]
    pub quick: bool,
    /// Only the matrix × vector comparison.
    #[arg(long)]
    pub matvec: bool,
}

const PROMPT: &[u8] = b"once upon a time";

struct Shape {
    name: &'static str,
    config: Config,
    group_size: usize,
    /// Two step counts: the rate is (b - a) tokens over the time difference,
    /// so loading and the first tokens do not count (as run.c starts its clock
    /// after the first token).
    steps: (usize, usize),
}

fn shapes(quick: bool) -> Vec<Shape> {
    let mut shapes = vec![Shape {
        name: "stories260K shape (dim 64, 5 layers, 8/4 heads, vocab 512)",
        config: Config {
            dim: 64,
            hidden_dim: 172,
            n_layers: 5,
            n_heads: 8,
            n_kv_heads: 4,
            vocab_size: 512,
            seq_len: 512,
        },
        group_size: 4,
        steps: (4, 36),
    }];
    if !quick {
        shapes.push(Shape {
            name: "stories15M shape (dim 288, 6 layers, 6 heads, hidden 768, vocab 32000)",
            config: Config {
                dim: 288,
                hidden_dim: 768,
                n_layers: 6,
                n_heads: 6,
                n_kv_heads: 6,
                vocab_size: 32000,
                seq_len: 256,
            },
            group_size: 32,
            steps: (2, 8),
        });
    }
    shapes
}

/// Tokens per second between a shorter run `a` and a longer run `b` (time,
/// tokens); `None` when the longer run made no more tokens (it met a BOS) or
/// was not slower.
fn per_second(a: (Duration, usize), b: (Duration, usize)) -> Option<f64> {
    let (time, tokens) = (b.0.checked_sub(a.0)?, b.1.checked_sub(a.1)?);
    (tokens > 0 && !time.is_zero()).then(|| tokens as f64 / time.as_secs_f64())
}

/// Run `image` to the end: the wall time and the tokens `ai.pxs` generated.
fn pixels(image: &Image, gpu: Option<&Gpu>) -> Result<(Duration, usize)> {
    let limits = Limits {
        slice_steps: gpu_runtime::DEFAULT_SLICE,
        max_steps: u64::MAX,
    };
    let mut host = CaptureHost::default();
    let start = Instant::now();
    let (outcome, elapsed, tokens) = match gpu {
        None => {
            let mut machine = Machine::new(image, limits);
            let outcome = drive(&mut machine, &mut host, 16, |_, _| {}).map_err(|e| match e {})?;
            (outcome, start.elapsed(), machine.memory[boot::B_NOUT])
        }
        Some(gpu) => {
            let mut machine =
                GpuMachine::new(gpu, image, limits, GpuOptions { count_exec: false })?;
            let outcome = drive(&mut machine, &mut host, 16, |_, _| {})?;
            let elapsed = start.elapsed();
            let mut nout = [0];
            machine.read_memory(boot::B_NOUT as u32, &mut nout)?;
            (outcome, elapsed, nout[0])
        }
    };
    anyhow::ensure!(
        outcome.stop == Stop::AllExited,
        "ai.pxs ended with {:?}",
        outcome.stop
    );
    Ok((elapsed, tokens as usize))
}

/// The least wall time of three runs of `image`, and the tokens generated.
fn best_of_3(image: &Image, gpu: Option<&Gpu>) -> Result<(Duration, usize)> {
    let mut best = (Duration::MAX, 0);
    for _ in 0..3 {
        let (time, tokens) = pixels(image, gpu)?;
        best = (best.0.min(time), tokens);
    }
    Ok(best)
}

/// Run every benchmark and print the tables.
pub fn run(args: &BenchAiArgs) -> Result<()> {
    let gpu = Gpu::new()?;
    // Compile the pipelines before anything is timed.
    let warm = pxi_asm::assemble_source("warm", "    li r1, 0\n    exit r1\n")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let limits = Limits {
        slice_steps: gpu_runtime::DEFAULT_SLICE,
        max_steps: u64::MAX,
    };
    GpuMachine::new(&gpu, &warm.image, limits, GpuOptions { count_exec: false })?;
    if args.matvec {
        return matvec(&gpu);
    }
    println!("## `ai`: tokens per second\n");
    println!(
        "Adapter: **{}**. Random weights, greedy, prompt {:?}; rate = extra tokens / extra time \
         between two runs of different length (loading and the first token excluded), each the \
         best of 3.\n",
        gpu.adapter_name(),
        String::from_utf8_lossy(PROMPT)
    );
    println!(
        "| model | weights | Rust reference (1 thread) | CPU interpreter | GPU runtime | GPU / reference |"
    );
    println!("|---|---|---|---|---|---|");
    for shape in shapes(args.quick) {
        let tokenizer = Tokenizer::generate(shape.config.vocab_size, 5);
        for group_size in [None, Some(shape.group_size)] {
            let model = Model::random(shape.config, true, group_size, 11);
            let bytes = model.to_bytes();
            let mut runs = [[(Duration::MAX, 0); 2]; 3];
            for (k, steps) in [shape.steps.0, shape.steps.1].into_iter().enumerate() {
                let options = Options {
                    steps,
                    temperature: 0.0,
                    topp: 1.0,
                    seed: 1,
                };
                for _ in 0..3 {
                    let start = Instant::now();
                    let out = llama::generate(&Libm, &model, &tokenizer, PROMPT, &options);
                    runs[0][k] = (runs[0][k].0.min(start.elapsed()), out.tokens.len());
                }
                let (image, _) = crate::ai::image(&bytes, &tokenizer.to_bytes(), PROMPT, &options)?;
                runs[1][k] = best_of_3(&image, None)?;
                runs[2][k] = best_of_3(&image, Some(&gpu))?;
            }
            let [reference, cpu, gpu_rate] = runs.map(|[a, b]| per_second(a, b));
            let show = |rate: Option<f64>| rate.map_or("n/a".to_string(), |r| format!("{r:.2}"));
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                shape.name,
                group_size.map_or("fp32".to_string(), |g| format!("Q8_0, group {g}")),
                show(reference),
                show(cpu),
                show(gpu_rate),
                reference
                    .zip(gpu_rate)
                    .map_or("n/a".to_string(), |(r, g)| format!("{:.3}×", g / r)),
            );
        }
    }
    matvec(&gpu)
}

/// A program running `instruction` (matvec or matvect operands r1..r6) `reps` times.
fn repeat(instruction: &str, memory: u32, regs: [u32; 6], reps: u32) -> Result<Image> {
    let [r1, r2, r3, r4, r5, r6] = regs;
    let source = format!(
        "
.memory {memory}
.code
    li r1, {r1}
    li r2, {r2}
    li r3, {r3}
    li r4, {r4}
    li r5, {r5}
    li r6, {r6}
    li r7, {reps}
    li r8, 0
again:
    {instruction} r1, r2, r3, r4
    addi r7, r7, -1
    cmp r7, r8
    jne again
    exit r8
"
    );
    Ok(pxi_asm::assemble_source(instruction, &source)
        .map_err(|e| anyhow::anyhow!("{instruction}: {e}"))?
        .image)
}

/// `matvec` of the 15M classifier (32000 × 288) in pixels vs a native kernel,
/// and `matvect` over the same matrix stored transposed (the same sums, each
/// in the same order).
fn matvec(gpu: &Gpu) -> Result<()> {
    let (rows, n, reps) = (32000u32, 288u32, 10u32);
    let memory = rows + rows * n + n;
    let image = repeat(
        "matvec",
        memory,
        [0, rows, rows + rows * n, n, rows, n],
        reps,
    )?;
    let transposed = repeat(
        "matvect",
        memory,
        [0, rows, rows + rows * n, rows, n, rows],
        reps,
    )?;
    let best_t = best_of_3(&transposed, Some(gpu))?.0;
    let best_vm = best_of_3(&image, Some(gpu))?.0;
    let best_cpu = best_of_3(&image, None)?.0;
    // The hand-written kernel: one lane per row, plain f32 (see native_matvec.wgsl).
    let kernel = Shader {
        source: shaders::NATIVE_MATVEC,
        entry: "native_matvec",
        memory_words: rows as u64 + rows as u64 * n as u64 + n as u64,
        args: &[0, rows, rows + rows * n, n, rows, 0, 0, 0],
        workgroups: rows.div_ceil(64),
    };
    let mut best_native = Duration::MAX;
    for _ in 0..3 {
        best_native = best_native.min(kernel.time(gpu, reps, 1)?);
    }
    let rate = |d: Duration| (rows as f64 * n as f64 * reps as f64) / d.as_secs_f64() / 1e9;
    println!("\n### `matvec` ({rows} × {n}, {reps} times) vs a hand-written WGSL kernel\n");
    println!("| executor | GMAC/s (best of 3) |");
    println!("|---|---|");
    println!("| CPU interpreter | {:.3} |", rate(best_cpu));
    println!(
        "| GPU runtime (`matvec` instruction) | {:.3} |",
        rate(best_vm)
    );
    println!(
        "| GPU runtime (`matvect` on the transposed matrix) | {:.3} |",
        rate(best_t)
    );
    println!(
        "| hand-written WGSL kernel (`shaders/src/native_matvec.wgsl`) | {:.3} |",
        rate(best_native)
    );
    println!(
        "\nmatvec / hand-written kernel: {:.2}× (goal ≥ 0.8×).",
        best_native.as_secs_f64() / best_vm.as_secs_f64()
    );
    Ok(())
}
