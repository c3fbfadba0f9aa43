//! The GPU adapter the tests share (lavapipe in CI), its name printed once.

use std::sync::OnceLock;

use gpu_runtime::Gpu;

/// The test process's GPU.
pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| {
        let gpu = Gpu::new().expect("a GPU adapter (lavapipe in CI)");
        eprintln!("adapter: {}", gpu.adapter_name());
        gpu
    })
}

/// Run `image` with `host` on the GPU runtime when `on_gpu`, else on the CPU
/// interpreter: the sessions that must come out the same on both.
pub fn run_on(
    on_gpu: bool,
    image: &pxi::Image,
    limits: pxi::Limits,
    rounds_per_batch: u32,
    host: pxi::host::CaptureHost,
) -> gpu_runtime::testing::RunRecord {
    use gpu_runtime::testing::{run_cpu_with, run_gpu_with};
    if on_gpu {
        run_gpu_with(gpu(), image, limits, rounds_per_batch, host).expect("GPU run")
    } else {
        run_cpu_with(image, limits, rounds_per_batch, host)
    }
}
