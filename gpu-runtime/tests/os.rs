//! examples/os.pxs, the multi-process OS in pixels, driven through its shell
//! with scripted console input on the CPU interpreter and on the GPU runtime.
//! Every session must print exactly the expected text on both, and halt with
//! status 0 at end of input.

use std::sync::OnceLock;

use gpu_runtime::Gpu;
use gpu_runtime::testing::{RunRecord, run_cpu, run_gpu};
use pxi::run::Stop;
use pxi::{Image, Limits};

const BANNER: &str = "pxOS 0.2: a multi-process OS in pixels (4 harts, preemptive, type help)\n";
const PROMPT: &str = "pxos$ ";
/// Mailbox services every few rounds, like a host that is not in a hurry.
const ROUNDS_PER_BATCH: u32 = 4;

fn os_image() -> &'static Image {
    static IMAGE: OnceLock<Image> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/os.pxs");
        pxi_asm::assemble_file(std::path::Path::new(path))
            .unwrap_or_else(|e| panic!("{e}"))
            .image
    })
}

fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| Gpu::new().expect("a GPU adapter (lavapipe in CI)"))
}

fn limits() -> Limits {
    Limits {
        slice_steps: 4096,
        max_steps: 50_000_000,
    }
}

/// The full console text of a session: banner, a prompt before every command
/// and after the last one, then "bye" at end of input.
fn transcript(replies: &[&str]) -> String {
    let mut text = String::from(BANNER);
    for reply in replies {
        text.push_str(PROMPT);
        text.push_str(reply);
    }
    text.push_str(PROMPT);
    text.push_str("bye\n");
    text
}

fn check(run: &RunRecord, executor: &str, expected: &str) {
    let output = String::from_utf8_lossy(&run.output);
    assert_eq!(output, expected, "{executor}: console output differs");
    assert_eq!(
        run.outcome.stop,
        Stop::Halted(0),
        "{executor}: {:?}\n{output}",
        run.outcome
    );
}

/// Run `input` through the shell on both executors and expect `replies`.
fn session(input: &str, replies: &[&str]) -> (RunRecord, RunRecord) {
    let expected = transcript(replies);
    let cpu = run_cpu(os_image(), limits(), ROUNDS_PER_BATCH, input.as_bytes());
    check(&cpu, "CPU", &expected);
    let gpu_run = run_gpu(
        gpu(),
        os_image(),
        limits(),
        ROUNDS_PER_BATCH,
        input.as_bytes(),
    )
    .expect("GPU run");
    check(&gpu_run, "GPU", &expected);
    (cpu, gpu_run)
}

#[test]
fn shell_commands_and_user_programs() {
    session(
        "help\necho hello,   pixels\nrun hello\nrun counter\nrun primes 30\nuptime\nps\nfrobnicate\nrun nothing\nrun\n",
        &[
            "commands: help, echo <text>, ps, mem, run <program> [arg] [&], kill <pid>, uptime, audit, heat\n\
             programs: hello counter primes pingpong spin preempt ipctest oom sneaky calls switch\n",
            "hello,   pixels\n",
            "hello from pid 2\n",
            "counter: 1 2 3 4 5\n",
            "primes: 2 3 5 7 11 13 17 19 23 29\n",
            "uptime: 1 ms\n",
            "PID STATE  PRI STEPS    CALLS MEM  PROGRAM\n\
             1   run    3   0        95    208  shell\n",
            "unknown command (try help)\n",
            "run: no such program\n",
            "usage: run <program> [arg] [&]\n",
        ],
    );
}

#[test]
fn end_of_input_halts_with_status_zero() {
    session("", &[]);
}

#[test]
fn ipc_pingpong_and_producers_consumers_lose_nothing() {
    session(
        "run pingpong\nrun ipctest\n",
        &[
            "pong got 1\nping got 10\npong got 2\nping got 20\npong got 3\nping got 30\n",
            "ipc: 3 producers, 2 consumers, 60 messages: none lost, duplicated or reordered\n",
        ],
    );
}

#[test]
fn allocator_reports_out_of_memory_and_accounts_per_process() {
    session(
        "mem\nrun oom\nmem\n",
        &[
            "heap: 1024 words, 208 used, 816 free; quota 512 words per process\n  pid 1 shell: 208\n",
            "oom: 4 allocations of 128 words, then ERR_NOMEM\noom: freed them, allocating again works\n",
            "heap: 1024 words, 208 used, 816 free; quota 512 words per process\n  pid 1 shell: 208\n",
        ],
    );
}

#[test]
fn capabilities_deny_by_default_and_denials_are_audited() {
    session(
        "audit\nrun sneaky\naudit\n",
        &[
            "audit: 0 denied calls\n",
            "sneaky: halt denied\nsneaky: clock denied\n",
            "audit: 2 denied calls\n  pid 2 denied: halt\n  pid 2 denied: clock\n",
        ],
    );
}

#[test]
fn kill_and_wait_reap_a_background_process() {
    session(
        "run spin &\nkill 2\nkill 2\nps\nrun hello\n",
        &[
            "[2]\n",
            "killed 2\n",
            "kill: no such process\n",
            "PID STATE  PRI STEPS    CALLS MEM  PROGRAM\n\
             1   run    3   0        46    208  shell\n",
            "hello from pid 2\n",
        ],
    );
}

/// 8 CPU-bound processes that never give up their hart, plus their parent,
/// on 4 harts: the parent only finishes when every spinner has run, which
/// needs the timer to take harts away from the others. How far each spinner
/// got depends on which hart won the kernel lock first, so `heat` is only
/// checked for its shape.
#[test]
fn preemption_lets_more_processes_than_harts_progress() {
    let input = b"run preempt\nheat\n";
    let head = format!(
        "{BANNER}{PROMPT}preempt: 8 CPU-bound spinners on 4 harts all made progress\n\
         {PROMPT}heat: steps per program (whole slices of 1000)\n  spin      "
    );
    let cpu = run_cpu(os_image(), limits(), ROUNDS_PER_BATCH, input);
    let gpu_run = run_gpu(gpu(), os_image(), limits(), ROUNDS_PER_BATCH, input).expect("GPU run");
    for (executor, run) in [("CPU", &cpu), ("GPU", &gpu_run)] {
        let output = String::from_utf8_lossy(&run.output);
        assert!(output.starts_with(&head), "{executor}:\n{output}");
        assert!(
            output.ends_with(&format!("{PROMPT}bye\n")),
            "{executor}:\n{output}"
        );
        assert_eq!(run.outcome.stop, Stop::Halted(0), "{executor}");
    }
}
