//! `pxi-run ai`: run llama2.c inference in pixels (`examples/ai.pxs`) on a
//! checkpoint of one's own, with run.c's options, on the GPU runtime or the
//! CPU interpreter. The host reads the files into memory and checks their
//! headers; encoding, the forward pass, sampling and printing run in pixels.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use llama::{Config, Options, Tokenizer, boot};
use pxi::host::StdioHost;
use pxi::{Image, Limits, Machine};
use pxi_asm::runner::{RunOptions, run_to_end};

use gpu_runtime::{Gpu, GpuMachine, GpuOptions};

/// The pixel program (it includes `lib/ai_core.pxs`, so it is assembled from
/// the source tree this binary was built from).
pub const SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/ai.pxs");

/// Options of `pxi-run ai` (run.c's flags).
#[derive(clap::Args, Debug)]
pub struct AiArgs {
    /// A llama2.c checkpoint (run.c fp32 version 0, runq.c Q8_0 version 2) or
    /// a GGUF llama model with Q8_0 weights.
    pub checkpoint: PathBuf,
    /// Temperature; 0 = greedy.
    #[arg(short = 't', default_value_t = 1.0)]
    pub temperature: f32,
    /// Top-p (nucleus) mass; ≤ 0 or ≥ 1 = plain sampling.
    #[arg(short = 'p', default_value_t = 0.9)]
    pub topp: f32,
    /// Random seed (default: the time).
    #[arg(short = 's')]
    pub seed: Option<u64>,
    /// Steps to run (0 = the model's seq_len).
    #[arg(short = 'n', default_value_t = 256)]
    pub steps: usize,
    /// The prompt.
    #[arg(short = 'i', default_value = "")]
    pub prompt: String,
    /// tokenizer.bin.
    #[arg(short = 'z', default_value = "tokenizer.bin")]
    pub tokenizer: PathBuf,
    /// Run on the CPU reference interpreter instead of the GPU.
    #[arg(long)]
    pub cpu: bool,
}

/// The assembled program.
pub fn program() -> Result<Image> {
    pxi_asm::assemble_file(std::path::Path::new(SOURCE))
        .map(|a| a.image)
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// The image that runs `prompt` on `model` (checked header) and `tokenizer`.
pub fn image(
    model: &[u8],
    tokenizer: &[u8],
    prompt: &[u8],
    options: &Options,
) -> Result<(Image, Config)> {
    let config = if llama::gguf::is_gguf(model) {
        llama::gguf::config(model)?
    } else {
        Config::from_checkpoint(model)?.0
    };
    let tokenizer = Tokenizer::from_bytes(tokenizer, config.vocab_size)
        .context("the tokenizer does not match the model")?;
    let image = boot::load(
        &program()?,
        model,
        &tokenizer.to_bytes(),
        prompt,
        options,
        &config,
    );
    Ok((image, config))
}

/// `pxi-run ai`.
pub fn run(args: &AiArgs) -> Result<ExitCode> {
    let model = std::fs::read(&args.checkpoint)
        .with_context(|| format!("cannot read {}", args.checkpoint.display()))?;
    let tokenizer = std::fs::read(&args.tokenizer)
        .with_context(|| format!("cannot read {}", args.tokenizer.display()))?;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    let options = Options {
        steps: args.steps,
        temperature: args.temperature.max(0.0),
        topp: args.topp,
        seed,
    };
    let (image, _) = image(&model, &tokenizer, args.prompt.as_bytes(), &options)?;
    let limits = Limits {
        slice_steps: gpu_runtime::DEFAULT_SLICE,
        max_steps: u64::MAX,
    };
    let run_options = RunOptions {
        max_steps: limits.max_steps,
        rounds_per_batch: 16,
        counts: None,
        snapshot_rounds: 0,
    };
    let mut host = StdioHost::default();
    let summary = if args.cpu {
        eprintln!("pxi-run ai: on the CPU reference interpreter");
        run_to_end(
            &mut Machine::new(&image, limits),
            &image,
            None,
            &mut host,
            &run_options,
        )?
    } else {
        let gpu = Gpu::new()?;
        eprintln!("pxi-run ai: adapter {}", gpu.adapter_name());
        let mut machine = GpuMachine::new(&gpu, &image, limits, GpuOptions { count_exec: false })?;
        run_to_end(&mut machine, &image, None, &mut host, &run_options)?
    };
    if summary.exit_status != 0 {
        summary.print("pxi-run ai", "");
    }
    Ok(ExitCode::from(summary.exit_status))
}
