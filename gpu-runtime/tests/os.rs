//! examples/os.pxs, pxOS 0.3, driven through its shell with scripted console
//! input on the CPU interpreter and on the GPU runtime. Every session must
//! print the expected text on both, and halt with status 0 at end of input.
//! In expected text, `*` stands for one word that may vary (statistics such
//! as the shell's own call count), so unrelated changes do not break them.

mod support;

use std::sync::OnceLock;

use gpu_runtime::Gpu;
use gpu_runtime::testing::{
    Mode, RunRecord, run_cpu, run_cpu_with, run_gpu, run_gpu_mode, run_gpu_with,
};
use pxi::host::{CaptureHost, attach_disk};
use pxi::run::Stop;
use pxi::{Image, Limits};
use support::disk::tool;
use support::session::{Script, run_script, run_script_with_disk};

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
    session_on(os_image(), input, replies)
}

/// [`session`] on `image` (e.g. grown with `pxi::program::reserve`).
fn session_on(image: &Image, input: &str, replies: &[&str]) -> (RunRecord, RunRecord) {
    session_with_disk(image, None, input, replies)
}

/// [`session_on`] with `disk` (a FAT32 image file, read-only) attached.
fn session_with_disk(
    image: &Image,
    disk: Option<&std::path::Path>,
    input: &str,
    replies: &[&str],
) -> (RunRecord, RunRecord) {
    let expected = transcript(replies);
    let host = || {
        let mut host = CaptureHost::with_input(input.as_bytes());
        if let Some(disk) = disk {
            attach_disk(&mut host.devices, disk, true, Default::default()).expect("disk image");
        }
        host
    };
    let cpu = run_cpu_with(image, limits(), ROUNDS_PER_BATCH, host());
    check(&cpu, "CPU", &expected);
    let gpu_run = run_gpu_with(gpu(), image, limits(), ROUNDS_PER_BATCH, host()).expect("GPU run");
    check(&gpu_run, "GPU", &expected);
    if Mode::compile_everything() {
        let compiled = run_gpu_mode(
            gpu(),
            image,
            limits(),
            ROUNDS_PER_BATCH,
            host(),
            Mode::Compiled,
        );
        check(
            &compiled.expect("compiled GPU run"),
            "GPU, compiled",
            &expected,
        );
    }
    (cpu, gpu_run)
}

const PS_HEAD: &str = "PID STATE  PRI HART SLICES CALLS MEM  PROGRAM\n";

#[test]
fn shell_commands_and_user_programs() {
    let ps = format!("{PS_HEAD}1   run    3   1    *      *     0    shell\n");
    session(
        "help\necho hello,   pixels\nrun hello\nrun counter\nrun primes 30\nuptime\nps\nfrobnicate\nrun nothing\nrun\nrun paint\nprograms\n",
        &[
            "commands: help, echo <text>, ps, mem, programs, run <program>|<path.pxi> [arg] [&], swap <program> <path.pxi>, kill <pid>, uptime, audit, heat\n\
             files: ls [-l] [path], cat, write <path> <text>, append, cp, mv, rm, mkdir, rmdir, stat, df, sync, time <command>\n\
             ai: ai [-n steps] [-t temp] [-p topp] [-s seed] [-m model] [-z tokenizer] <prompt> (a llama2.c model on the disk)\n\
             keys: backspace, Ctrl-U (erase line), Ctrl-C (kill the foreground program), Ctrl-D (end: halt)\n",
            "hello,   pixels\n",
            "hello from pid 2\n",
            "counter: 1 2 3 4 5\n",
            "primes: 2 3 5 7 11 13 17 19 23 29\n",
            "uptime: * ms\n",
            &ps,
            "unknown command (try help)\n",
            "run: no such program (try programs)\n",
            "usage: run <program>|<path.pxi> [arg] [&]\n",
            // SYS_BLIT reaches the host, which has no screen here (QEMU's does:
            // microkernel/qemu-tests checks the drawn pixels).
            "paint: this host has no screen\n",
            "programs: shell hello counter primes pingpong pong spin preempt ipctest producer consumer oom sneaky calls switch paint hostile bigmem ai fsrace\n",
        ],
    );
}

/// The compiled mode (docs/compiler.md) runs the OS like the interpreter: one
/// session, since compiling os.pxs's hottest blocks costs seconds to minutes
/// on lavapipe (every other session runs interpreted on both executors, and
/// compiled too with `PXOS_COMPILED=all`).
#[test]
fn a_session_runs_the_same_in_compiled_mode() {
    let input = "run primes 30\nrun counter\n";
    let expected = transcript(&[
        "primes: 2 3 5 7 11 13 17 19 23 29\n",
        "counter: 1 2 3 4 5\n",
    ]);
    let host = || CaptureHost::with_input(input.as_bytes());
    let cpu = run_cpu_with(os_image(), limits(), ROUNDS_PER_BATCH, host());
    check(&cpu, "CPU", &expected);
    let compiled = run_gpu_mode(
        gpu(),
        os_image(),
        limits(),
        ROUNDS_PER_BATCH,
        host(),
        Mode::Compiled,
    )
    .expect("compiled GPU run");
    check(&compiled, "GPU, compiled", &expected);
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

/// What `mem` prints first when the run has no large-window arena.
const MEM_HEAD: &str = "per process: 2048 words of data window, quota 512 words\n\
                        large windows: 0 free of 0 words (pxi-run --memory)\n\
                        code load arena: 0 free of 0 pixels (pxi-run --code-arena)\n";

#[test]
fn allocator_reports_out_of_memory_and_accounts_per_process() {
    session(
        "mem\nrun oom\nmem\n",
        &[
            MEM_HEAD,
            "oom: 4 allocations of 128 words, then ERR_NOMEM\noom: freed them, allocating again works\n",
            MEM_HEAD,
        ],
    );
}

/// A program whose data (its `.memory`) exceeds a fixed slot gets a window
/// from the large-window arena that `reserve` (`pxi-run --memory`) adds: with
/// room for one, a second is refused with the sizes until the first ends and
/// frees it; a store one word past the window faults; without an arena the
/// program is refused.
#[test]
fn large_windows_come_from_the_arena_and_are_freed_on_exit() {
    session(
        "run bigmem\n",
        &["not enough memory for bigmem: needs 65536 words, 0 free\n"],
    );
    let mut image = os_image().clone();
    let memory = image.memory_words + 100_000;
    pxi::program::reserve(&mut image, memory, 0).unwrap();
    let fault = 128 + pxi::TrapKind::MemoryOutOfBounds as u32;
    let mem = |free| {
        format!(
            "per process: 2048 words of data window, quota 512 words\n\
             large windows: {free} free of 100000 words (pxi-run --memory)\n\
             code load arena: 0 free of 0 pixels (pxi-run --code-arena)\n"
        )
    };
    session_on(
        &image,
        "mem\nrun bigmem\nrun bigmem 1 &\nrun bigmem\nmem\nkill 3\nrun bigmem 2\nrun bigmem\nmem\n",
        &[
            &mem(100_000),
            "bigmem: window of 65536 words ok\n",
            "[3]\n",
            "not enough memory for bigmem: needs 65536 words, 34464 free\n",
            &mem(34_464),
            "killed 3\n",
            &format!("exit {fault}\n"),
            "bigmem: window of 65536 words ok\n",
            &mem(100_000),
        ],
    );
}

/// A fresh FAT32 volume (`mkfs.fat -F 32`) holding `files` (`mmd`, `mcopy`).
fn fat_volume(name: &str, dirs: &[&str], files: &[(&str, &[u8])]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pxos-os-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let image = dir.join("disk.img");
    let _ = std::fs::remove_file(&image);
    let img = image.to_str().unwrap();
    tool("mkfs.fat", &["-C", "-F", "32", img, "40960"]);
    for d in dirs {
        tool("mmd", &["-i", img, &format!("::{d}")]);
    }
    for (i, (path, bytes)) in files.iter().enumerate() {
        let host = dir.join(format!("file{i}"));
        std::fs::write(&host, bytes).unwrap();
        tool(
            "mcopy",
            &["-i", img, host.to_str().unwrap(), &format!("::{path}")],
        );
    }
    image
}

/// A user program assembled on its own, as a `.pxi` file's bytes.
fn program_file(source: &str) -> Vec<u8> {
    let osabi = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/lib/osabi.pxs");
    let source = format!(".include \"{osabi}\"\n{source}");
    pxi_asm::assemble_source("program.pxs", &source)
        .unwrap_or_else(|e| panic!("{e}"))
        .image
        .encode_png()
}

const GREET: &str = ".data\nmsg: .string \"greetings from a file, arg \"\n.code\n\
     main:\n    mov r5, r1\n    li r1, msg\n    li r2, msg.len\n    call u_puts\n    mov r1, r5\n    call u_putu\n    call u_nl\n    li r0, 7\n    ret\n";

/// `run PATH.pxi` reads a program from the FAT32 disk (mkfs.fat + mcopy),
/// has the host decode it (SYS_LOAD) and starts it from the code load arena
/// with its data in its own window; a file that is missing, not a PXI image,
/// corrupt or too large for the arena is refused with a message and the
/// shell goes on; code and staging memory are given back.
#[test]
fn run_starts_programs_from_files_and_refuses_bad_ones() {
    let greet = program_file(GREET);
    let mut corrupt = greet.clone();
    let middle = corrupt.len() / 2;
    corrupt[middle] ^= 0x10;
    let big = program_file(&format!(
        ".code\nmain:\n{}    li r0, 0\n    ret\n",
        "    nop\n".repeat(300)
    ));
    // More data than a fixed slot: a large window, its last word its own.
    let large = program_file(
        ".memory 3000\n.data\nmsg: .string \"large window ok\\n\"\n.code\nmain:\n    li r1, 2999\n    \
         st r1, r1, 0\n    ld r2, r1, 0\n    cmp r1, r2\n    jne bad\n    li r1, msg\n    li r2, msg.len\n    \
         call u_puts\n    li r0, 0\n    ret\nbad:\n    li r0, 1\n    ret\n",
    );
    let disk = fat_volume(
        "exec",
        &["/bin"],
        &[
            ("/bin/greet.pxi", &greet),
            ("/notes.txt", b"not a program\n"),
            ("/bad.pxi", &corrupt),
            ("/big.pxi", &big),
            ("/bin/large.pxi", &large),
        ],
    );
    let mut image = os_image().clone();
    let memory = image.memory_words + 4096;
    pxi::program::reserve(&mut image, memory, 256).unwrap();
    let mem = "per process: 2048 words of data window, quota 512 words\n\
               large windows: 4096 free of 4096 words (pxi-run --memory)\n\
               code load arena: 256 free of 256 pixels (pxi-run --code-arena)\n";
    session_with_disk(
        &image,
        Some(&disk),
        "run /bin/greet.pxi 42\nrun /bin/nope.pxi\nrun /notes.txt\nrun /bad.pxi\nrun /big.pxi\nrun /BIN/GREET.PXI 43\nrun /bin/large.pxi\nmem\n",
        &[
            "greetings from a file, arg 42\nexit 7\n",
            "run: /bin/nope.pxi: error: no such file or directory\n",
            "run: /notes.txt: not a PXI program image\n",
            "run: /bad.pxi: corrupt PXI image (checksum, zlib stream or header)\n",
            "run: /big.pxi: too large for the code load arena (pxi-run --code-arena)\n",
            "greetings from a file, arg 43\nexit 7\n",
            "large window ok\n",
            mem,
        ],
    );
    std::fs::remove_dir_all(disk.parent().unwrap()).ok();
}

/// A counter that prints `MARK` and its count in one write per line, then
/// yields a while; versions differ only in MARK, so a hot swap keeps the
/// layout every pc relies on.
const COUNTER: &str = "
.data
line:   .space 4
.code
main:
    li r6, 0
loop:
    addi r6, r6, 1
    li r5, -38              ; the newline, popped last ('0' + -38)
    push r5
    li r3, 1
    mov r2, r6
digits:
    li r4, 10
    remu r5, r2, r4
    push r5
    addi r3, r3, 1
    divu r2, r2, r4
    li r4, 0
    cmp r2, r4
    jne digits
    li r1, line
    li r4, 0
    li r5, 4
    vfill r1, r4, r5
    li r8, MARK
    st r8, r1, 0
    li r9, 1
out:
    pop r5
    addi r5, r5, '0'
    andi r4, r9, 3
    shli r4, r4, 3
    shl r5, r5, r4
    shri r4, r9, 2
    add r4, r4, r1
    ld r8, r4, 0
    or r8, r8, r5
    st r8, r4, 0
    addi r9, r9, 1
    addi r3, r3, -1
    li r4, 0
    cmp r3, r4
    jne out
    li r0, OS_WRITE
    mov r2, r9
    ecall
    li r7, 2000
delay:
    li r0, OS_YIELD
    ecall
    addi r7, r7, -1
    li r4, 0
    cmp r7, r4
    jne delay
    jmp loop
";

/// `swap NAME PATH.pxi` hot-swaps the code of a running program between
/// rounds: the counter goes on from its count (registers, pc, data and pid
/// kept) printing with the new mark; a new image that does not fit the old
/// windows, or a name nothing runs, is refused and changes nothing.
#[test]
fn swap_replaces_a_running_programs_code_and_keeps_its_state() {
    let version = |mark: char| program_file(&COUNTER.replace("MARK", &format!("'{mark}'")));
    let big = program_file(&format!(
        ".code\nmain:\n{}    li r0, 0\n    ret\n",
        "    nop\n".repeat(300)
    ));
    let disk = fat_volume(
        "swap",
        &[],
        &[
            ("/c1.pxi", &version('+')),
            ("/c2.pxi", &version('*')),
            ("/big.pxi", &big),
        ],
    );
    let mut image = os_image().clone();
    let memory = image.memory_words + 4096;
    pxi::program::reserve(&mut image, memory, 256).unwrap();
    let script = Script::new()
        .step("run /c1.pxi &\n", "+2\n")
        .step(
            "swap c1 /big.pxi\n",
            "swap: /big.pxi does not fit the windows of c1 (its code or data is larger)\n",
        )
        .step("swap nosuch /c2.pxi\n", "swap: no running program nosuch\n")
        .step(
            "swap c1 /c2.pxi\n",
            "swap: 1 process(es) of c1 now run /c2.pxi\n",
        )
        .step("", "*")
        .step("ps\n", " c1\n")
        .step("kill 2\n", "killed 2\n");
    for gpu_run in [false, true] {
        let end = run_script_with_disk(&image, gpu_run.then(gpu), limits(), &script, Some(&disk));
        let executor = if gpu_run { "GPU" } else { "CPU" };
        assert_eq!(end.stuck, None, "{executor}:\n{}", end.output);
        assert_eq!(end.stop, "Halted(0) []", "{executor}:\n{}", end.output);
        // Every count once, in order, first with the old mark, then the new.
        let mut lines = Vec::new();
        let bytes = end.output.as_bytes();
        for (at, &b) in bytes.iter().enumerate() {
            if b == b'+' || b == b'*' {
                let digits: String = end.output[at + 1..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                if !digits.is_empty() && bytes.get(at + 1 + digits.len()) == Some(&b'\n') {
                    lines.push((b as char, digits.parse::<u32>().unwrap()));
                }
            }
        }
        let counts: Vec<u32> = lines.iter().map(|l| l.1).collect();
        assert_eq!(
            counts,
            (1..=counts.len() as u32).collect::<Vec<_>>(),
            "{executor}:\n{}",
            end.output
        );
        let swapped = lines
            .iter()
            .position(|l| l.0 == '*')
            .expect("the new version printed");
        assert!(swapped >= 2, "{executor}: {lines:?}");
        assert!(
            lines[swapped..].iter().all(|l| l.0 == '*'),
            "{executor}: {lines:?}"
        );
        assert!(
            end.output.contains("2   "),
            "{executor}: ps shows pid 2:\n{}",
            end.output
        );
    }
    std::fs::remove_dir_all(disk.parent().unwrap()).ok();
}

/// File calls from processes on different harts at once each use their own
/// path: three `fsrace` processes (pids 2, 3, 4: harts 2, 3, 0) open, read
/// and close their own file over and over, and every read must give back
/// that file's contents (its own path), never another process's file.
#[test]
fn concurrent_file_calls_keep_their_own_paths() {
    let disk = fat_volume(
        "race",
        &[],
        &[
            ("/race1.txt", b"/race1.txt"),
            ("/race2.txt", b"/race2.txt"),
            ("/race3.txt", b"/race3.txt"),
        ],
    );
    let script = Script::new()
        .step("run fsrace 1 &\n", "[2]\n")
        .step("run fsrace 2 &\n", "[3]\n")
        .step("run fsrace 3\n", "fsrace 3:")
        .wait_for("fsrace 1:")
        .wait_for("fsrace 2:");
    for gpu_run in [false, true] {
        let end = run_script_with_disk(
            os_image(),
            gpu_run.then(gpu),
            limits(),
            &script,
            Some(&disk),
        );
        let executor = if gpu_run { "GPU" } else { "CPU" };
        assert_eq!(end.stuck, None, "{executor}:\n{}", end.output);
        assert_eq!(end.stop, "Halted(0) []", "{executor}:\n{}", end.output);
        for n in 1..=3 {
            let line = format!("fsrace {n}: 0 wrong of 60\n");
            assert!(
                end.output.contains(&line),
                "{executor}: no {line:?} in\n{}",
                end.output
            );
        }
    }
    std::fs::remove_dir_all(disk.parent().unwrap()).ok();
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
    use gpu_runtime::trace::{Phases, Trace, Traced};
    use gpu_runtime::{GpuMachine, GpuOptions};
    use pxi::host::CaptureHost;
    use pxi::run::{Executor, drive};
    use std::time::{Duration, Instant};

    const N: u64 = 2000;
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

    /// One measured run.
    #[derive(Clone)]
    struct Run {
        steps: u64,
        rounds: u32,
        wall: Duration,
        host_share: f64,
        /// Instructions each hart ran.
        hart_steps: Vec<u64>,
    }
    fn run_on<X: Phases>(executor: X, input: &[u8]) -> Run
    where
        X::Error: std::fmt::Debug,
    {
        let mut host = CaptureHost::with_input(input);
        let mut trace = Trace::new();
        let mut timed = Traced::new(executor, &mut trace, 0);
        let start = Instant::now();
        let outcome = drive(&mut timed, &mut host, 1, |_, _| {}).expect("run");
        let wall = start.elapsed();
        assert_eq!(outcome.stop, Stop::Halted(0));
        let harts = timed.harts().expect("hart state");
        Run {
            steps: outcome.steps,
            rounds: outcome.rounds,
            wall,
            host_share: 1.0 - timed.executor_time().as_secs_f64() / wall.as_secs_f64(),
            hart_steps: harts
                .chunks_exact(pxi::state::HART_WORDS)
                .map(|h| h[pxi::state::H_STEPS] as u64)
                .collect(),
        }
    }
    // The best of RUNS runs.
    let measure = |image: &Image, input: &[u8], on_gpu: bool| -> Run {
        let mut best: Option<Run> = None;
        for _ in 0..RUNS {
            let run = if on_gpu {
                let machine = GpuMachine::new(gpu(), image, limits, GpuOptions::default())
                    .expect("GPU machine");
                run_on(machine, input)
            } else {
                run_on(pxi::Machine::new(image, limits), input)
            };
            if best.as_ref().is_none_or(|b| run.wall < b.wall) {
                best = Some(run);
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
            let per_op = |x: f64, y: f64| (x - y) / N as f64;
            let steps = per_op(a.steps as f64, b.steps as f64);
            // The caller's hart: the one that ran most of the extra instructions.
            let caller = a
                .hart_steps
                .iter()
                .zip(&b.hart_steps)
                .map(|(x, y)| per_op(*x as f64, *y as f64))
                .fold(0.0, f64::max);
            let rounds = per_op(a.rounds as f64, b.rounds as f64);
            let wall_us = per_op(a.wall.as_secs_f64(), b.wall.as_secs_f64()) * 1e6;
            println!(
                "{executor:40} {name:26} {steps:8.1} steps ({caller:.1} on the caller's hart) {rounds:6.2} rounds {wall_us:9.1} µs   (host share of wall time {:.0}%)",
                a.host_share * 100.0
            );
        }
    }
}

/// `pxi-run --program` links a program built on its own into the OS image:
/// `programs` lists it and `run` starts it as a user process, on both
/// executors; `--memory` grows data memory for a large window.
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
            .args(["--program", source.to_str().unwrap(), "--memory", "192K"])
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
                    .write_all(b"programs\nrun greet 42\nrun bigmem\n")?;
                child.wait_with_output()
            })
            .expect("run pxi-run");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains(" paint hostile bigmem ai fsrace greet\n"),
            "cpu={cpu}:\n{stdout}"
        );
        assert!(
            stdout.contains("greetings from outside, arg 42\nexit 7\n"),
            "cpu={cpu}:\n{stdout}"
        );
        assert!(
            stdout.contains("bigmem: window of 65536 words ok\n"),
            "cpu={cpu}: --memory makes room for a large window:\n{stdout}"
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
