//! examples/os.pxs, pxOS 0.3, driven through its shell with scripted console
//! input on the CPU interpreter and on the GPU runtime. Every session must
//! print the expected text on both, and halt with status 0 at end of input.
//! In expected text, `*` stands for one word that may vary (statistics such
//! as the shell's own call count), so unrelated changes do not break them.

mod support;

use std::sync::OnceLock;

use gpu_runtime::Gpu;
use gpu_runtime::testing::{Mode, RunRecord, run_cpu, run_gpu, run_gpu_mode};
use pxi::run::Stop;
use pxi::{Image, Limits};
use support::session::{Script, run_script};

const BANNER: &str = "pxOS 0.3: protected processes in pixels (4 harts + console, type help)\n";
const PROMPT: &str = "pxos$ ";
/// Mailbox services every few rounds, like a host that is not in a hurry.
const ROUNDS_PER_BATCH: u32 = 4;

fn os_assembly() -> &'static pxi_asm::Assembly {
    static ASM: OnceLock<pxi_asm::Assembly> = OnceLock::new();
    ASM.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/os.pxs");
        pxi_asm::assemble_file(std::path::Path::new(path)).unwrap_or_else(|e| panic!("{e}"))
    })
}

fn os_image() -> &'static Image {
    &os_assembly().image
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

/// Whether `actual` is `expected` line by line; a line with `*` words is
/// compared word by word (any spacing), each `*` standing for any word.
fn matches(expected: &str, actual: &str) -> bool {
    let (e, a): (Vec<&str>, Vec<&str>) =
        (expected.split('\n').collect(), actual.split('\n').collect());
    let line = |e: &str, a: &str| {
        if !e.split_whitespace().any(|w| w == "*") {
            return e == a;
        }
        let (ew, aw): (Vec<&str>, Vec<&str>) = (
            e.split_whitespace().collect(),
            a.split_whitespace().collect(),
        );
        ew.len() == aw.len() && ew.iter().zip(&aw).all(|(e, a)| *e == "*" || e == a)
    };
    e.len() == a.len() && e.iter().zip(&a).all(|(e, a)| line(e, a))
}

fn check(run: &RunRecord, executor: &str, expected: &str) {
    let output = String::from_utf8_lossy(&run.output);
    assert!(
        matches(expected, &output),
        "{executor}: console output differs\n--- expected\n{expected}\n--- got\n{output}"
    );
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
    // The compiled mode (the os image compiles once per test binary: the
    // pipeline is cached on the device).
    let host = pxi::host::CaptureHost::with_input(input.as_bytes());
    let compiled = run_gpu_mode(gpu(), os_image(), limits(), ROUNDS_PER_BATCH, host, Mode::Compiled)
        .expect("compiled GPU run");
    check(&compiled, "GPU, compiled", &expected);
    (cpu, gpu_run)
}

const PS_HEAD: &str = "PID STATE  PRI HART SLICES CALLS MEM  PROGRAM\n";

#[test]
fn shell_commands_and_user_programs() {
    let ps = format!("{PS_HEAD}1   run    3   1    *      *     0    shell\n");
    session(
        "help\necho hello,   pixels\nrun hello\nrun counter\nrun primes 30\nuptime\nps\nfrobnicate\nrun nothing\nrun\nrun paint\nprograms\n",
        &[
            "commands: help, echo <text>, ps, mem, programs, run <program> [arg] [&], kill <pid>, uptime, audit, heat\n\
             files: ls [-l] [path], cat, write <path> <text>, append, cp, mv, rm, mkdir, rmdir, stat, df, sync, time <command>\n\
             keys: backspace, Ctrl-U (erase line), Ctrl-C (kill the foreground program), Ctrl-D (end: halt)\n",
            "hello,   pixels\n",
            "hello from pid 2\n",
            "counter: 1 2 3 4 5\n",
            "primes: 2 3 5 7 11 13 17 19 23 29\n",
            "uptime: * ms\n",
            &ps,
            "unknown command (try help)\n",
            "run: no such program (try programs)\n",
            "usage: run <program> [arg] [&]\n",
            // SYS_BLIT reaches the host, which has no screen here (QEMU's does:
            // microkernel/qemu-tests checks the drawn pixels).
            "paint: this host has no screen\n",
            "programs: shell hello counter primes pingpong pong spin preempt ipctest producer consumer oom sneaky calls switch paint hostile\n",
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
            "per process: 2048 words of data window, quota 512 words\n",
            "oom: 4 allocations of 128 words, then ERR_NOMEM\noom: freed them, allocating again works\n",
            "per process: 2048 words of data window, quota 512 words\n",
        ],
    );
}

/// Denied OS calls and the privileged instruction sneaky tries next are
/// both audited; sneaky ends with 128 + the fault's number.
#[test]
fn capabilities_deny_by_default_and_denials_are_audited() {
    session(
        "audit\nrun sneaky\naudit\n",
        &[
            "audit: 0 events\n",
            "sneaky: halt denied\nsneaky: clock denied\nexit 138\n",
            "audit: 3 events\n  pid 2 denied call 8\n  pid 2 denied call 7\n  pid 2 fault 10 at pc *\n",
        ],
    );
}

#[test]
fn kill_and_wait_reap_a_background_process() {
    let ps = format!("{PS_HEAD}1   run    3   1    *      *     0    shell\n");
    session(
        "run spin &\nkill 2\nkill 2\nkill 1\nkill 4294967297\nps\nrun hello\n",
        &[
            "[2]\n",
            "killed 2\n",
            "kill: no such process\n",
            "kill: the shell cannot be killed\n",
            "not a number (0..4294967295)\n",
            &ps,
            "hello from pid 3\n",
        ],
    );
}

/// Backspace (both codes) and Ctrl-U edit the line; over-long lines are refused.
#[test]
fn line_editing_and_long_lines() {
    let long = "x".repeat(200);
    session(
        &format!("ecgo\x7f\x7fho hi\nrun nothing\x15echo again\nech\x08\x08\x08echo ok\n{long}\n"),
        &[
            "hi\n",
            "again\n",
            "ok\n",
            "line too long (at most 127 bytes): ignored\n",
        ],
    );
}

/// Every kind of hostile program is stopped or refused, audited, and the
/// shell keeps answering (docs/abi.md, "Bad and hostile programs").
#[test]
fn hostile_programs_are_stopped_and_audited() {
    let faults = [
        (1, pxi::TrapKind::MemoryOutOfBounds),
        (2, pxi::TrapKind::JumpOutOfCode),
        (3, pxi::TrapKind::Privileged),
        (5, pxi::TrapKind::DivisionByZero),
        (6, pxi::TrapKind::PcOutOfCode),
        (7, pxi::TrapKind::MemoryOutOfBounds),
        (8, pxi::TrapKind::StackOverflow),
    ];
    let mut input = String::new();
    let mut replies: Vec<String> = Vec::new();
    for (mode, kind) in faults {
        input.push_str(&format!("run hostile {mode}\n"));
        replies.push(format!("exit {}\n", 128 + kind as u32));
    }
    input.push_str("audit\nrun hello\n");
    let mut audit = format!("audit: {} events\n", faults.len());
    for (i, (_, kind)) in faults.iter().enumerate() {
        audit.push_str(&format!("  pid {} fault {} at pc *\n", i + 2, *kind as u32));
    }
    replies.push(audit);
    replies.push(format!("hello from pid {}\n", faults.len() + 2));
    let replies: Vec<&str> = replies.iter().map(String::as_str).collect();
    session(&input, &replies);
}

/// Garbage arguments are refused with errors, a denied call is audited, and
/// a program that then loops forever is preempted (the shell still answers
/// through the console hart's Ctrl-C) and killed.
#[test]
fn garbage_arguments_are_refused_and_ctrl_c_kills_a_runaway() {
    let script = Script::new()
        .step("run hostile 4\n", "hostile: refused 12 ")
        .step("\x03", "exit 137\n")
        .step("echo alive\n", "alive\n");
    for on_gpu in [false, true] {
        let end = run_script(os_image(), on_gpu.then(gpu), limits(), &script);
        assert_eq!(end.stuck, None, "{}", end.output);
        let out = end.output;
        let expected = [
            "hostile: refused 3 4294967293\n",
            "hostile: refused 3 4294967293\n",
            "hostile: refused 200 4294967281\n",
            "hostile: refused 14 4294967282\n",
            "hostile: refused 13 4294967285\n",
            "hostile: refused 11 4294967282\n",
            "hostile: refused 9 4294967282\n",
            "hostile: refused 12 4294967283\n",
        ]
        .concat();
        assert!(out.contains(&expected), "on_gpu={on_gpu}:\n{out}");
        assert!(
            out.contains("exit 137\npxos$ alive\n"),
            "on_gpu={on_gpu}:\n{out}"
        );
    }
}

/// 8 CPU-bound processes and their parent on 4 harts: the parent only
/// finishes when every spinner has run longer than a time slice, which needs
/// the timer to take harts away from the others. `heat` then asks the host
/// (SYS_HEAT) for the hottest code pixels: the spinners' loop must top it.
#[test]
fn preemption_lets_more_processes_than_harts_progress() {
    let input = b"run preempt\nheat\n";
    let head = format!(
        "{BANNER}{PROMPT}preempt: 8 CPU-bound spinners on 4 harts all made progress\n\
         {PROMPT}heat: hottest code pixels (address: executions)\n"
    );
    let map = &os_assembly().map;
    let cpu = run_cpu(os_image(), limits(), ROUNDS_PER_BATCH, input);
    let gpu_run = run_gpu(gpu(), os_image(), limits(), ROUNDS_PER_BATCH, input).expect("GPU run");
    for (executor, run) in [("CPU", &cpu), ("GPU", &gpu_run)] {
        let output = String::from_utf8_lossy(&run.output);
        assert!(output.starts_with(&head), "{executor}:\n{output}");
        assert!(
            output.ends_with(&format!("{PROMPT}bye\n")),
            "{executor}:\n{output}"
        );
        let lines: Vec<(u32, u32)> = output[head.len()..]
            .lines()
            .take_while(|l| l.starts_with("  pc "))
            .map(|l| {
                let (pc, count) = l["  pc ".len()..].split_once(':').expect("pc: count");
                (pc.parse().unwrap(), count.trim().parse().unwrap())
            })
            .collect();
        assert_eq!(lines.len(), 5, "{executor}:\n{output}");
        let hottest = map.pixel(lines[0].0).and_then(|p| p.label);
        assert!(
            matches!(hottest, Some("spin.spin_loop" | "spin.spin_warm")),
            "{executor}: hottest {hottest:?}\n{output}"
        );
        assert_eq!(run.outcome.stop, Stop::Halted(0), "{executor}");
    }
}

/// Costs for docs/benchmarks.md: the OS call round trip (`calls n`: n getpid
/// calls), a context switch (`switch n`: n yields, each a save, a scheduler
/// pass and a restore) and the machine-level mailbox call (examples/bench_os.pxs),
/// each as the difference between n = N and n = 0, in steps, rounds and wall
/// time on both executors, plus the share of GPU-run wall time the host CPU
/// spends outside the executor (mailbox service and the drive loop).
/// `cargo test -p gpu-runtime --release --test os -- --ignored --nocapture`
#[test]
#[ignore = "measurement; prints numbers for docs/benchmarks.md"]
fn measure_os_costs() {
    use gpu_runtime::{GpuMachine, GpuOptions};
    use pxi::host::CaptureHost;
    use pxi::run::{BatchReport, Executor, drive};
    use std::time::{Duration, Instant};

    struct Timed<X> {
        inner: X,
        busy: Duration,
    }
    impl<X: Executor> Executor for Timed<X> {
        type Error = X::Error;
        fn run_batch(&mut self, rounds: u32) -> Result<BatchReport, X::Error> {
            let start = Instant::now();
            let report = self.inner.run_batch(rounds);
            self.busy += start.elapsed();
            report
        }
        fn mailbox(&mut self) -> &mut [u32] {
            self.inner.mailbox()
        }
        fn commit_mailbox(&mut self) -> Result<(), X::Error> {
            let start = Instant::now();
            let result = self.inner.commit_mailbox();
            self.busy += start.elapsed();
            result
        }
        fn memory_words(&self) -> u32 {
            self.inner.memory_words()
        }
        fn counts(&mut self) -> Result<Vec<u32>, X::Error> {
            self.inner.counts()
        }
        fn harts(&mut self) -> Result<Vec<u32>, X::Error> {
            self.inner.harts()
        }
        fn read_memory(&mut self, addr: u32, out: &mut [u32]) -> Result<bool, X::Error> {
            self.inner.read_memory(addr, out)
        }
        fn write_memory(&mut self, addr: u32, words: &[u32]) -> Result<bool, X::Error> {
            self.inner.write_memory(addr, words)
        }
    }

    const N: u64 = 200;
    const RUNS: usize = 3;
    let limits = Limits {
        slice_steps: 4096,
        max_steps: 200_000_000,
    };
    let bench_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/bench_os.pxs");
    let bench =
        pxi_asm::assemble_file(std::path::Path::new(bench_path)).unwrap_or_else(|e| panic!("{e}"));
    let count_addr = bench
        .map
        .symbols
        .iter()
        .find(|s| s.name == "count")
        .expect("count label")
        .addr;
    let bench_with = |n: u32| {
        let mut image = bench.image.clone();
        for segment in &mut image.segments {
            if let Some(word) = count_addr
                .checked_sub(segment.addr)
                .and_then(|i| segment.words.get_mut(i as usize))
            {
                *word = n;
            }
        }
        image
    };

    // (steps, rounds, wall, host share) of the best of RUNS runs.
    let measure = |image: &Image, input: &[u8], on_gpu: bool| -> (u64, u32, Duration, f64) {
        let mut best: Option<(u64, u32, Duration, f64)> = None;
        for _ in 0..RUNS {
            let mut host = CaptureHost::with_input(input);
            let start = Instant::now();
            let (outcome, busy) = if on_gpu {
                let machine = GpuMachine::new(gpu(), image, limits, GpuOptions::default())
                    .expect("GPU machine");
                let mut timed = Timed {
                    inner: machine,
                    busy: Duration::ZERO,
                };
                let outcome = drive(&mut timed, &mut host, 1, |_, _| {}).expect("GPU run");
                (outcome, timed.busy)
            } else {
                let mut timed = Timed {
                    inner: pxi::Machine::new(image, limits),
                    busy: Duration::ZERO,
                };
                let Ok(outcome) = drive(&mut timed, &mut host, 1, |_, _| {});
                (outcome, timed.busy)
            };
            let wall = start.elapsed();
            assert_eq!(outcome.stop, Stop::Halted(0));
            let host_share = 1.0 - busy.as_secs_f64() / wall.as_secs_f64();
            if best.is_none_or(|b| wall < b.2) {
                best = Some((outcome.steps, outcome.rounds, wall, host_share));
            }
        }
        best.expect("at least one run")
    };

    /// (name, image with n = N, image with n = 0, input with, input without)
    type Case = (&'static str, Image, Image, Vec<u8>, Vec<u8>);
    let cases: [Case; 3] = [
        (
            "OS call (getpid)",
            os_image().clone(),
            os_image().clone(),
            format!("run calls {N}\n").into_bytes(),
            b"run calls 0\n".to_vec(),
        ),
        (
            "context switch (yield)",
            os_image().clone(),
            os_image().clone(),
            format!("run switch {N}\n").into_bytes(),
            b"run switch 0\n".to_vec(),
        ),
        (
            "mailbox call (SYS_CLOCK)",
            bench_with(N as u32),
            bench_with(0),
            vec![],
            vec![],
        ),
    ];
    println!(
        "per operation, difference of n = {N} and n = 0, best of {RUNS}, 1 round per batch, slice 4096:"
    );
    for on_gpu in [false, true] {
        let executor = if on_gpu {
            format!("GPU ({})", gpu().adapter_name())
        } else {
            "CPU interpreter".to_string()
        };
        for (name, with, without, input_with, input_without) in &cases {
            let a = measure(with, input_with, on_gpu);
            let b = measure(without, input_without, on_gpu);
            let steps = (a.0 as f64 - b.0 as f64) / N as f64;
            let rounds = (a.1 as f64 - b.1 as f64) / N as f64;
            let wall_us = (a.2.as_secs_f64() - b.2.as_secs_f64()) * 1e6 / N as f64;
            println!(
                "{executor:40} {name:26} {steps:8.1} steps {rounds:6.2} rounds {wall_us:9.1} µs   (host share of wall time {:.0}%)",
                a.3 * 100.0
            );
        }
    }
}

/// `pxi-run --program` links a program built on its own into the OS image:
/// `programs` lists it and `run` starts it as a user process, on both executors.
#[test]
fn programs_from_outside_the_image_run_as_user_processes() {
    let dir = std::env::temp_dir().join(format!("pxos-program-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("greet.pxs");
    let osabi = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/lib/osabi.pxs");
    std::fs::write(
        &source,
        format!(
            ".include \"{osabi}\"\n.data\nmsg: .string \"greetings from outside, arg \"\n.code\n\
             main:\n    mov r5, r1\n    li r1, msg\n    li r2, msg.len\n    call u_puts\n    mov r1, r5\n    call u_putu\n    call u_nl\n    li r0, 7\n    ret\n"
        ),
    )
    .unwrap();
    for cpu in [true, false] {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_pxi-run"));
        command.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/os.pxs"));
        if cpu {
            command.arg("--cpu");
        }
        let output = command
            .args(["--program", source.to_str().unwrap()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(b"programs\nrun greet 42\n")?;
                child.wait_with_output()
            })
            .expect("run pxi-run");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains(" paint hostile greet\n"),
            "cpu={cpu}:\n{stdout}"
        );
        assert!(
            stdout.contains("greetings from outside, arg 42\nexit 7\n"),
            "cpu={cpu}:\n{stdout}"
        );
        assert!(
            output.status.success(),
            "cpu={cpu}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Up and down arrows (ESC [ A / ESC [ B) bring back earlier lines: the
/// shell redraws the line (CR, clear, prompt, text) and Enter runs it.
#[test]
fn arrow_keys_walk_the_line_history() {
    session(
        "echo one\necho two\n\x1b[A\x1b[A\n\x1b[A\x1b[A\x1b[B\n",
        &[
            "one\n",
            "two\n",
            "\r\x1b[Kpxos$ echo two\r\x1b[Kpxos$ echo oneone\n",
            "\r\x1b[Kpxos$ echo one\r\x1b[Kpxos$ echo two\r\x1b[Kpxos$ echo oneone\n",
        ],
    );
}
