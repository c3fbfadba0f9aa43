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
