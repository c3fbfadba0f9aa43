//! The pxOS shell's `ai` command (examples/programs/ai.pxs over
//! lib/ai_core.pxs) against the Rust reference (`llama`, exact arithmetic):
//! models and tokenizers on a FAT32 disk made by `mkfs.fat` and `mcopy`,
//! read through the file OS calls; the same printed text and token ids as
//! the reference for greedy and seeded sampling, fp32 and Q8_0, grouped-query
//! attention, on the CPU interpreter and the GPU runtime; clear messages for
//! bad files, options and prompts, after which the shell keeps running.

mod support;

use std::sync::OnceLock;

use gpu_runtime::testing::RunRecord;
use llama::{Exact, Model, Options, Tokenizer, boot};
use pxi::host::{CaptureHost, attach_disk};
use pxi::virtio_blk::Fault;
use pxi::{Image, Limits};
use support::disk::Disk;
use support::gpu::run_on;
use support::llama_shapes::{blocks, small};

/// Data memory of the OS sessions: the kernel, then the large-window arena
/// with room for `ai`'s window (`.memory` in examples/programs/ai.pxs).
const OS_MEMORY: u32 = 19 << 20;

/// examples/os.pxs (which links programs/ai.pxs) with the arena reserved.
fn os_image() -> &'static Image {
    static IMAGE: OnceLock<Image> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/os.pxs");
        let mut image = pxi_asm::assemble_file(std::path::Path::new(path))
            .unwrap_or_else(|e| panic!("{e}"))
            .image;
        pxi::program::reserve(&mut image, OS_MEMORY, 0).expect("room for the arena");
        image
    })
}

/// programs/ai.pxs on its own (its labels and window size).
fn ai_assembly() -> &'static pxi_asm::Assembly {
    static ASM: OnceLock<pxi_asm::Assembly> = OnceLock::new();
    ASM.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/programs/ai.pxs");
        pxi_asm::assemble_file(std::path::Path::new(path)).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// The data address of `ai`'s label `name`.
fn ai_label(name: &str) -> u32 {
    let symbol = ai_assembly().map.symbols.iter().find(|s| s.name == name);
    symbol.unwrap_or_else(|| panic!("no label {name}")).addr
}

/// Where `ai`'s window starts: the arena's first word (the lowest free run;
/// the sessions run one large-window program at a time). Its boot block is
/// its first data (`globals` at window address 0).
fn ai_window() -> usize {
    assert_eq!(
        ai_label("globals"),
        0,
        "ai's boot block is at window address 0"
    );
    let dir = pxi::program::Directory::of(os_image()).expect("a program directory");
    dir.data_arena.0 as usize
}

/// Bytes of `ai`'s window free for the files: from `files` to the argument
/// text in the window's last ARG_WORDS words.
fn window_room() -> u32 {
    let window = ai_assembly().image.memory_words;
    (window - pxi::osabi::ARG_WORDS - ai_label("files")) * 4
}

/// The token ids the last `ai` run left in its window.
fn window_tokens(memory: &[u32]) -> Vec<u32> {
    boot::output_tokens(&memory[ai_window()..])
}

/// One `ai` command of a session and what the reference says it prints.
struct Command {
    line: String,
    expected: Expected,
}

enum Expected {
    /// The reference's text and tokens (then the tok/s line).
    Generation(llama::Generation),
    /// This message (then the shell's `exit 1`).
    Error(String),
    /// This text exactly.
    Text(&'static str),
}

/// The session's console input, end of input last (the shell halts).
fn input(commands: &[Command]) -> String {
    commands.iter().map(|c| c.line.clone() + "\n").collect()
}

/// Each command's reply: the text between its prompt and the next.
fn replies(output: &str) -> Vec<String> {
    let mut parts: Vec<String> = output.split("pxos$ ").map(str::to_string).collect();
    parts.remove(0); // the banner
    parts.pop(); // "bye"
    parts
}

/// Check each reply; the tok/s line's rate is the only word that may differ.
fn check_replies(output: &str, commands: &[Command], what: &str) {
    let replies = replies(output);
    assert_eq!(
        replies.len(),
        commands.len(),
        "{what}: replies in\n{output}"
    );
    for (reply, command) in replies.iter().zip(commands) {
        let line = &command.line;
        match &command.expected {
            Expected::Generation(g) => {
                let at = reply
                    .find("achieved tok/s: ")
                    .unwrap_or_else(|| panic!("{what}: `{line}`: no tok/s line in {reply:?}"));
                assert_eq!(
                    &reply.as_bytes()[..at],
                    &g.text[..],
                    "{what}: `{line}` printed {reply:?}"
                );
                let rate = &reply[at + "achieved tok/s: ".len()..];
                let number = rate.strip_suffix('\n').unwrap_or("");
                assert!(
                    number
                        .split_once('.')
                        .is_some_and(|(a, b)| a.parse::<u32>().is_ok()
                            && b.len() == 3
                            && b.parse::<u32>().is_ok()),
                    "{what}: `{line}`: rate {rate:?}"
                );
            }
            Expected::Error(message) => {
                assert_eq!(reply, &format!("{message}exit 1\n"), "{what}: `{line}`")
            }
            Expected::Text(text) => assert_eq!(reply, text, "{what}: `{line}`"),
        }
    }
}

/// A shell session on `disk` on the CPU interpreter or the GPU runtime.
fn os_session(disk: &Disk, commands: &[Command], gpu_run: bool) -> RunRecord {
    let mut host = CaptureHost::with_input(input(commands).as_bytes());
    attach_disk(&mut host.devices, &disk.path, true, Fault::None).expect("disk image");
    let limits = Limits {
        slice_steps: 4096,
        max_steps: 4_000_000_000,
    };
    let run = run_on(gpu_run, os_image(), limits, 4, host);
    assert_eq!(
        run.outcome.stop,
        pxi::run::Stop::Halted(0),
        "{}",
        String::from_utf8_lossy(&run.output)
    );
    run
}

/// `ai -n … PROMPT` and the reference's generation for it; a prompt in
/// double quotes is run without them.
fn ai_command(
    model: &Model,
    tokenizer: &Tokenizer,
    files: &str,
    options: &Options,
    prompt: &str,
) -> Command {
    let text = prompt.trim_matches('"');
    let expected = llama::generate(&Exact, model, tokenizer, text.as_bytes(), options);
    Command {
        line: format!(
            "ai -n {} -t {} -p {} -s {} {files} {prompt}",
            options.steps, options.temperature, options.topp, options.seed
        ),
        expected: Expected::Generation(expected),
    }
}

/// The disk of the shell sessions: fp32 (GQA, unshared classifier) and Q8_0
/// (group 8, shared) models, their tokenizer, a foreign tokenizer, a
/// truncated model and a file too large for `ai`'s window.
struct Files {
    disk: Disk,
    fp32: Model,
    q8: Model,
    /// Q8_0 with f16 scales, as /model.gguf.
    gguf: Model,
    tokenizer: Tokenizer,
}

fn files(name: &str) -> Files {
    let disk = Disk::with_kib(name, 120 << 10);
    let fp32 = Model::random(small(2), false, None, 41);
    let q8 = Model::random(small(1), true, Some(8), 42);
    let tokenizer = Tokenizer::generate(512, 5);
    disk.put("/model.bin", &fp32.to_bytes());
    disk.put("/tokenizer.bin", &tokenizer.to_bytes());
    tool_mkdir(&disk, "/models");
    disk.put("/models/q8.bin", &q8.to_bytes());
    disk.put("/tok256.bin", &Tokenizer::generate(256, 5).to_bytes());
    let gguf = llama::gguf::with_f16_scales(Model::random(blocks(2), false, Some(32), 44));
    let gguf_bytes = llama::gguf::to_gguf(&gguf);
    disk.put("/model.gguf", &gguf_bytes);
    disk.put("/short.gguf", &gguf_bytes[..gguf_bytes.len() - 100]);
    let bytes = fp32.to_bytes();
    disk.put("/short.bin", &bytes[..bytes.len() / 2]);
    disk.put("/notes.txt", b"not a model at all, just some text\n");
    let window_bytes = ai_assembly().image.memory_words as usize * 4;
    disk.put("/huge.bin", &vec![0; window_bytes]);
    let mut long = small(2);
    long.seq_len = 1_000_000; // its key/value cache alone is larger than the window
    disk.put(
        "/long.bin",
        &Model::random(long, true, Some(8), 43).to_bytes(),
    );
    Files {
        disk,
        fp32,
        q8,
        gguf,
        tokenizer,
    }
}

fn tool_mkdir(disk: &Disk, dir: &str) {
    support::disk::tool("mmd", &["-i", disk.arg(), &format!("::{dir}")]);
}

const GREEDY: Options = Options {
    steps: 10,
    temperature: 0.0,
    topp: 0.9,
    seed: 7,
};
const SEEDED: Options = Options {
    steps: 12,
    temperature: 0.8,
    topp: 0.9,
    seed: 1234,
};

/// Run each generating command in a session of its own (so its token ids
/// are still in the window at the end) and check text and ids; returns the
/// sessions' outputs.
fn generation_sessions(f: &Files, commands: &[Command], gpu_run: bool) -> Vec<String> {
    let what = if gpu_run { "gpu" } else { "cpu" };
    commands
        .iter()
        .map(|command| {
            let run = os_session(&f.disk, std::slice::from_ref(command), gpu_run);
            let output = String::from_utf8_lossy(&run.output).into_owned();
            check_replies(&output, std::slice::from_ref(command), what);
            let Expected::Generation(g) = &command.expected else {
                panic!("not a generating command: {}", command.line)
            };
            assert_eq!(
                window_tokens(&run.state.memory),
                g.tokens,
                "{what}: `{}`: token ids",
                command.line
            );
            output
        })
        .collect()
}

/// Greedy fp32 with grouped-query attention (2 kv heads for 4), seeded
/// multinomial Q8_0 with 1 kv head, top-p Q8_0; paths in any case, a quoted
/// prompt. (The CPU test adds a GGUF model.)
fn generations(f: &Files) -> Vec<Command> {
    let plain = Options {
        topp: 1.0,
        seed: 99,
        ..SEEDED
    };
    vec![
        ai_command(&f.fp32, &f.tokenizer, "", &GREEDY, "lily saw"),
        ai_command(
            &f.q8,
            &f.tokenizer,
            "-m /MODELS/Q8.BIN",
            &plain,
            "\"the big red ball é\"",
        ),
        ai_command(
            &f.q8,
            &f.tokenizer,
            "-m /models/q8.bin -z /tokenizer.bin",
            &SEEDED,
            "once upon",
        ),
    ]
}

const USAGE: &str =
    "usage: ai [-n STEPS] [-t TEMP] [-p TOPP] [-s SEED] [-m MODEL] [-z TOKENIZER] PROMPT\n";

#[test]
fn the_shell_runs_ai_from_the_disk_on_the_cpu_interpreter() {
    let f = files("ai-cpu");
    let mut commands = generations(&f);
    commands.push(ai_command(
        &f.gguf,
        &f.tokenizer,
        "-m /model.gguf",
        &SEEDED,
        "lily",
    ));
    generation_sessions(&f, &commands, false);
    let error = |line: &str, message: String| Command {
        line: line.into(),
        expected: Expected::Error(message),
    };
    let truncated = "ai: the model file is truncated or not a llama2.c checkpoint\n";
    let commands = [
        error("ai -n 4 -t 0", format!("ai: the prompt is empty\n{USAGE}")),
        error("ai -m /nope.bin hi", "ai: /nope.bin: no such file\n".into()),
        error("ai -m /models hi", "ai: /models: is a directory\n".into()),
        error("ai -m /short.bin hi", truncated.into()),
        error("ai -m /notes.txt hi", truncated.into()),
        error(
            "ai -m /short.gguf hi",
            "ai: the GGUF file is truncated, not a llama model, or its weights are not Q8_0\n"
                .into(),
        ),
        error(
            "ai -z /tok256.bin hi",
            "ai: the tokenizer file is truncated or does not match the model\n".into(),
        ),
        error(
            "ai -m /huge.bin hi",
            format!(
                "ai: /huge.bin: does not fit in memory ({} bytes; the window has room for {} more)\n",
                ai_assembly().image.memory_words * 4,
                window_room()
            ),
        ),
        error(
            "ai -m /long.bin hi",
            "ai: not enough memory for the model's run state\n".into(),
        ),
        error("ai -t warm hi", format!("ai: not a number: -t\n{USAGE}")),
        error(
            "ai -n 99999999999 hi",
            format!("ai: not a number: -n\n{USAGE}"),
        ),
        error("ai -x 1 hi", format!("ai: unknown option -x\n{USAGE}")),
        Command {
            line: "echo still here".into(),
            expected: Expected::Text("still here\n"),
        },
    ];
    let run = os_session(&f.disk, &commands, false);
    check_replies(&String::from_utf8_lossy(&run.output), &commands, "cpu");
}

#[test]
fn the_shell_runs_ai_the_same_on_the_gpu_runtime() {
    let f = files("ai-gpu");
    let commands = generations(&f);
    let commands = [&commands[0], &commands[2]].map(|c| Command {
        line: c.line.clone(),
        expected: match &c.expected {
            Expected::Generation(g) => Expected::Generation(g.clone()),
            _ => unreachable!(),
        },
    });
    generation_sessions(&f, &commands, true);
}
