//! The GPU runtime on the examples, on the edges of its launch model, and
//! from the command line.

mod support;

use std::path::Path;
use std::process::Command;

use gpu_runtime::testing::{Mode, run_cpu, run_gpu_mode};
use gpu_runtime::{Gpu, GpuError, GpuMachine, GpuOptions};
use pxi::Limits;
use pxi::host::CaptureHost;
use pxi::run::drive;
use support::examples::examples;

/// Examples whose every step is deterministic under the memory model.
const RACE_FREE: [&str; 4] = ["fib.pxs", "hello.pxs", "parallel_sum.pxs", "vector.pxs"];

#[test]
fn every_example_matches_the_cpu_interpreter() {
    let gpu = Gpu::new().expect("a GPU adapter (lavapipe in CI)");
    eprintln!("adapter: {}", gpu.adapter_name());
    let paths = examples();
    for path in paths {
        let image = pxi_asm::assemble_file(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .image;
        let runs = [(16_384, 4), (7, 1)];
        let modes = [Mode::Interpreted, Mode::Compiled];
        for ((slice_steps, batch), mode) in runs.into_iter().flat_map(|r| modes.map(|m| (r, m))) {
            let limits = Limits {
                slice_steps,
                max_steps: 50_000_000,
            };
            // Scripted console input for programs that read it (the shell).
            let input = b"help\n";
            let cpu = run_cpu(&image, limits, batch, input);
            let host = CaptureHost::with_input(input);
            let gpu_run = run_gpu_mode(&gpu, &image, limits, batch, host, mode)
                .unwrap_or_else(|e| panic!("{} ({mode:?}): {e}", path.display()));
            assert_eq!(
                String::from_utf8_lossy(&cpu.output),
                String::from_utf8_lossy(&gpu_run.output),
                "{} ({mode:?}): output differs",
                path.display()
            );
            assert_eq!(
                cpu.outcome.stop,
                gpu_run.outcome.stop,
                "{} ({mode:?}): stop differs",
                path.display()
            );
            // Programs that spin on atomics read by other harts in the same round
            // legally take different numbers of steps on different executors
            // (docs/isa.md, memory model rule 4); the race-free ones match exactly.
            let name = path.file_name().unwrap().to_str().unwrap();
            if RACE_FREE.contains(&name) {
                assert_eq!(cpu, gpu_run, "{} ({mode:?}): state differs", path.display());
            }
            let name = path.file_name().unwrap().to_str().unwrap();
            // Measuring programs (bench_*) print nothing by design.
            assert!(
                !cpu.output.is_empty() || name.starts_with("bench_"),
                "{} printed nothing",
                path.display()
            );
        }
    }
}

/// A slice longer than llvmpipe's 65,535-iteration loop limit is cut off by
/// the driver; the runtime must report it instead of returning wrong state.
/// On a real GPU nothing is cut off and the run completes correctly.
#[test]
fn a_cut_off_slice_is_reported() {
    let gpu = Gpu::new().expect("a GPU adapter (lavapipe in CI)");
    let image = pxi_asm::assemble_source("spin.pxs", "    li r1, 200000\n    li r2, 0\nl:  addi r1, r1, -1\n    cmp r1, r2\n    jne l\n    exit r2\n")
        .unwrap()
        .image;
    let limits = Limits {
        slice_steps: 1_000_000,
        max_steps: 10_000_000,
    };
    let mut machine = GpuMachine::new(&gpu, &image, limits, GpuOptions::default()).unwrap();
    let result = drive(&mut machine, &mut CaptureHost::default(), 1, |_, _| {});
    if gpu.is_cpu() {
        match result {
            Err(GpuError::SliceCutOff {
                hart: 0,
                harts: 1,
                slice: 1_000_000,
            }) => {}
            other => panic!(
                "expected a reported cut-off on {}, got {other:?}",
                gpu.adapter_name()
            ),
        }
    } else {
        let outcome = result.expect("a real GPU runs the long slice");
        assert_eq!(outcome.steps, run_cpu(&image, limits, 1, b"").outcome.steps);
    }
}

#[test]
fn too_many_harts_is_a_clear_error() {
    let gpu = Gpu::new().expect("a GPU adapter (lavapipe in CI)");
    let mut image = pxi_asm::assemble_source("h.pxs", "exit r0\n")
        .unwrap()
        .image;
    image.harts = gpu_runtime::MAX_GPU_HARTS + 1;
    match GpuMachine::new(&gpu, &image, Limits::default(), GpuOptions::default()) {
        Err(e @ GpuError::TooManyHarts { .. }) => assert!(e.to_string().contains("at most 16384")),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("accepted {} harts", image.harts),
    }
}

fn pxi_run(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pxi-run"));
    cmd.args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn cli_runs_hello_and_reports_the_adapter() {
    let out = pxi_run(&["examples/hello.pxs"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Hello from the pixels!\n"
    );
    assert!(stderr.contains("pxi-run: adapter "), "{stderr}");
    assert!(stderr.contains("halted with status 0"), "{stderr}");
}

#[test]
fn cli_without_an_adapter_fails_clearly() {
    // Asking wgpu for a backend this machine lacks leaves no adapter.
    let out = pxi_run(&["examples/hello.pxs"], &[("WGPU_BACKEND", "metal")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no GPU adapter found"), "{stderr}");
}

#[test]
fn cli_rejects_bad_input_without_panicking() {
    let dir = std::env::temp_dir().join(format!("pxi-run-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let garbage = dir.join("garbage.pxi");
    std::fs::write(&garbage, b"not a png").unwrap();
    let out = pxi_run(&[garbage.to_str().unwrap()], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not a readable PNG"), "{stderr}");
    let out = pxi_run(&["no/such/file.pxi"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reading no/such/file.pxi"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cli_assembly_errors_are_not_prefixed_twice() {
    let dir = std::env::temp_dir().join(format!("pxi-run-asm-error-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("bad.pxs");
    std::fs::write(&source, "jmp nowhere\n").unwrap();
    let out = pxi_run(&[source.to_str().unwrap()], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: undefined symbol `nowhere`\n"),
        "{stderr}"
    );
    assert!(!stderr.contains("error: error:"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `pxi-run bench | head -1` and a program writing to a closed console end quietly.
#[test]
fn cli_ends_quietly_on_a_closed_stdout() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for args in [
        &["bench", "--quick", "--repeat", "1"][..],
        &["--cpu", "examples/hello.pxs"],
        &["examples/hello.pxs"],
    ] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pxi-run"));
        command.args(args).current_dir(&root);
        let out = pxi_asm::cli::output_with_stdout_closed(&mut command).unwrap();
        assert!(
            pxi_asm::cli::ended_quietly(&out),
            "{args:?}: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn cli_reports_traps_with_the_source_line() {
    let dir = std::env::temp_dir().join(format!("pxi-run-trap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("trap.pxs");
    std::fs::write(&source, "    li r1, 5\n    li r2, 0\n    divu r3, r1, r2\n").unwrap();
    let out = pxi_run(&[source.to_str().unwrap()], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{stderr}");
    assert!(
        stderr.contains("hart 0 trapped: division by zero at pc 4"),
        "{stderr}"
    );
    assert!(stderr.contains("trap.pxs:3"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
