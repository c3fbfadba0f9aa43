//! The microkernel on the host GPU: booted with `virtio-gpu-gl-pci`, the kernel runs os.pxi
//! through virgl (the runtime's WGSL translated to TGSI at build time), and the scripted shell
//! session gives the same transcript as on the CPU interpreter. Without 3D the kernel says so
//! and falls back to the CPU.

use qemu_tests::{
    DISPATCH_START, DISPATCH_START_VIRGL, DISPATCH_STOPPED, EXIT_ON_STOP, EXIT_SUCCESS, Finished,
    NO_GPU_COMPUTE, Qemu, kernels, require_qemu, run_shell_session, shell_transcript,
};
use std::time::Duration;

/// TCG on a busy 2-core CI machine is slow; a kernel that needs longer is broken.
const BOOT_TIMEOUT: Duration = Duration::from_secs(180);

fn session(qemu: Qemu, start_line: &str) -> Finished {
    let mut running = qemu.append(EXIT_ON_STOP).spawn();
    running.wait_for_line(start_line, BOOT_TIMEOUT);
    let run = run_shell_session(running, BOOT_TIMEOUT);
    let stopped = run.expect_line(DISPATCH_STOPPED);
    assert!(stopped.contains("Halted(0)"), "{stopped}\n{}", run.text());
    assert_eq!(run.code(), Some(EXIT_SUCCESS), "{}", run.text());
    run
}

#[test]
fn shell_session_on_virgl_matches_the_cpu_interpreter() {
    require_qemu();
    let kernel = &kernels().kernel;
    let cpu = session(Qemu::new(kernel), DISPATCH_START);
    cpu.expect_line(NO_GPU_COMPUTE);
    let gpu = session(Qemu::new(kernel).with_virgl(), DISPATCH_START_VIRGL);
    let cpu_transcript = shell_transcript(&cpu);
    assert!(
        cpu_transcript.len() > 20,
        "the session printed too little:\n{}",
        cpu.text()
    );
    assert_eq!(
        cpu_transcript,
        shell_transcript(&gpu),
        "transcripts differ\nCPU log:\n{}\nvirgl log:\n{}",
        cpu.text(),
        gpu.text()
    );
    // The screen keeps working on the GL device.
    gpu.expect_line("display: 1280x800 B8G8R8A8");
}
