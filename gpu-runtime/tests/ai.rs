//! The pixel `ai` program (lib/ai_core.pxs) against the Rust reference
//! (`llama`, exact arithmetic): the same token ids (the prompt's, encoded in
//! pixels, and the generated ones) and the same printed text
//! for fp32 and Q8_0 checkpoints of several shapes (shared and unshared
//! classifier, grouped-query attention), greedy, seeded and top-p sampling, on the
//! CPU interpreter and the GPU runtime (identical final state), as `pxi-run ai`
//! runs it (examples/ai.pxs: the host places the files in memory). The
//! shell's `ai` command is tested in ai_shell.rs.

mod support;

use gpu_runtime::testing::{RunRecord, run_cpu, run_gpu};
use llama::{Config, Exact, Model, Options, Tokenizer, boot};
use pxi::Limits;
use support::gpu::gpu;
use support::llama_shapes::{blocks, small};

fn program() -> pxi::Image {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/ai.pxs");
    pxi_asm::assemble_file(std::path::Path::new(path))
        .unwrap_or_else(|e| panic!("ai.pxs does not assemble: {e:?}"))
        .image
}

const LIMITS: Limits = Limits {
    slice_steps: 4096,
    max_steps: 1 << 40,
};

struct Case {
    config: Config,
    shared: bool,
    group_size: Option<usize>,
    options: Options,
    prompt: &'static [u8],
    /// The model as a GGUF file (Q8_0 blocks, group size 32, f16 scales).
    gguf: bool,
}

fn cases() -> Vec<Case> {
    let greedy = Options {
        steps: 10,
        temperature: 0.0,
        topp: 1.0,
        seed: 7,
    };
    let sampled = Options {
        steps: 12,
        temperature: 0.9,
        topp: 1.0,
        seed: 1234,
    };
    let nucleus = Options {
        steps: 12,
        temperature: 0.6,
        topp: 0.9,
        seed: 99,
    };
    vec![
        Case {
            config: small(2),
            shared: true,
            group_size: None,
            options: greedy,
            prompt: b"lily saw",
            gguf: false,
        },
        Case {
            config: small(4),
            shared: false,
            group_size: None,
            options: sampled,
            prompt: b"once upon",
            gguf: false,
        },
        Case {
            config: small(1),
            shared: true,
            group_size: Some(8),
            options: sampled,
            prompt: "the big red ball é".as_bytes(),
            gguf: false,
        },
        Case {
            config: small(2),
            shared: false,
            group_size: Some(16),
            options: greedy,
            prompt: b"",
            gguf: false,
        },
        Case {
            config: small(2),
            shared: true,
            group_size: None,
            options: nucleus,
            prompt: b"tom",
            gguf: false,
        },
        Case {
            config: small(4),
            shared: true,
            group_size: Some(8),
            options: Options {
                steps: 6,
                ..nucleus
            },
            prompt: b"a dog",
            gguf: false,
        },
        Case {
            config: blocks(2),
            shared: true,
            group_size: Some(32),
            options: greedy,
            prompt: b"lily saw",
            gguf: true,
        },
        Case {
            config: blocks(1),
            shared: false,
            group_size: Some(32),
            options: sampled,
            prompt: b"the cat",
            gguf: true,
        },
    ]
}

/// The image for `case` and what the reference prints and generates.
fn prepare(case: &Case, seed: u64) -> (pxi::Image, llama::Generation) {
    let model = Model::random(case.config, case.shared, case.group_size, seed);
    let (model, file) = if case.gguf {
        let model = llama::gguf::with_f16_scales(model);
        let file = llama::gguf::to_gguf(&model);
        (model, file)
    } else {
        let file = model.to_bytes();
        (model, file)
    };
    let tokenizer = Tokenizer::generate(case.config.vocab_size, 5);
    let expected = llama::generate(&Exact, &model, &tokenizer, case.prompt, &case.options);
    let image = boot::load(
        &program(),
        &file,
        &tokenizer.to_bytes(),
        case.prompt,
        &case.options,
        &case.config,
    );
    (image, expected)
}

fn check(image: &pxi::Image, run: &RunRecord, expected: &llama::Generation, what: &str) {
    assert_eq!(
        run.outcome.stop,
        pxi::run::Stop::AllExited,
        "{what}: {:?} {:?}\n{}",
        run.outcome,
        pxi::machine::traps(image, &run.state.harts)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        String::from_utf8_lossy(&run.output)
    );
    assert_eq!(
        boot::output_tokens(&run.state.memory),
        expected.tokens,
        "{what}: token ids"
    );
    let text = String::from_utf8_lossy(&run.output);
    let (body, rate) = text.split_at(text.find("achieved tok/s: ").expect("a tok/s line"));
    assert_eq!(body.as_bytes(), &expected.text[..], "{what}: printed text");
    assert!(rate.ends_with('\n') && rate.len() > 18, "{what}: {rate:?}");
}

#[test]
fn pixels_match_the_reference_on_the_cpu_interpreter() {
    for (i, case) in cases().iter().enumerate() {
        let (image, expected) = prepare(case, 100 + i as u64);
        let run = run_cpu(&image, LIMITS, 8, b"");
        check(&image, &run, &expected, &format!("case {i} (cpu)"));
    }
}

#[test]
fn gpu_runtime_matches_the_cpu_interpreter_word_for_word() {
    let gpu = gpu();
    for (i, case) in cases().iter().enumerate().skip(1).step_by(2) {
        let (image, expected) = prepare(case, 100 + i as u64);
        let cpu = run_cpu(&image, LIMITS, 8, b"");
        let gpu_run = run_gpu(gpu, &image, LIMITS, 8, b"").expect("GPU run");
        check(&image, &gpu_run, &expected, &format!("case {i} (gpu)"));
        assert!(cpu == gpu_run, "case {i}: CPU and GPU final states differ");
    }
}

/// `pxi-run ai` on files: the reference's text for a model of one's own, and
/// clear errors for bad files.
#[test]
fn pxi_run_ai_runs_model_files() {
    let dir = std::env::temp_dir().join(format!("pxos-ai-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = small(2);
    let model = Model::random(config, false, Some(8), 77);
    let tokenizer = Tokenizer::generate(config.vocab_size, 5);
    let (model_path, tok_path) = (dir.join("model.bin"), dir.join("tokenizer.bin"));
    std::fs::write(&model_path, model.to_bytes()).unwrap();
    std::fs::write(&tok_path, tokenizer.to_bytes()).unwrap();
    let options = Options {
        steps: 8,
        temperature: 0.8,
        topp: 0.9,
        seed: 5,
    };
    let expected = llama::generate(&Exact, &model, &tokenizer, b"lily", &options);
    let run = |model: &std::path::Path, extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_pxi-run"))
            .args([
                "ai", "--cpu", "-n", "8", "-t", "0.8", "-p", "0.9", "-s", "5", "-i", "lily", "-z",
            ])
            .arg(&tok_path)
            .arg(model)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&model_path, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(std::str::from_utf8(&expected.text).unwrap()),
        "{text}"
    );
    // A truncated file: a clear message, exit status 1.
    let bytes = model.to_bytes();
    let short = dir.join("short.bin");
    std::fs::write(&short, &bytes[..bytes.len() / 2]).unwrap();
    let out = run(&short, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("the model file is truncated"));
    std::fs::write(&short, &bytes[..10]).unwrap();
    let out = run(&short, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"));
    std::fs::remove_dir_all(&dir).unwrap();
}
