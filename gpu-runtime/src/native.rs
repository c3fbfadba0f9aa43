//! Hand-written reference kernels (`shaders/src/native_*.wgsl`), the
//! yardstick of the benchmark: what the hardware does without an interpreter
//! in the way, and the copy rate that bounds any element-wise kernel.

use std::time::{Duration, Instant};

use wgpu::util::DeviceExt;

use crate::{Gpu, GpuError, bind_group, pipeline};

/// Elements one workgroup of the reference kernels handles.
pub const NATIVE_CHUNK: u32 = 4096;

/// A reference kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// `dst = x + y` (12 bytes moved per element).
    Vadd,
    /// `dst = x` (8 bytes moved per element).
    Copy,
}

impl Kernel {
    fn entry(self) -> &'static str {
        match self {
            Kernel::Vadd => "native_vadd",
            Kernel::Copy => "native_copy",
        }
    }

    /// Bytes read and written per element.
    pub fn bytes_per_element(self) -> u32 {
        match self {
            Kernel::Vadd => 12,
            Kernel::Copy => 8,
        }
    }
}

/// A hand-written WGSL kernel: `entry` of `source` over a `memory` buffer
/// (binding 0) with uniform `args` (binding 1), `workgroups` workgroups per
/// dispatch.
pub struct Shader<'a> {
    pub source: &'a str,
    pub entry: &'a str,
    pub memory_words: u64,
    pub args: &'a [u32],
    pub workgroups: u32,
}

impl Shader<'_> {
    /// Median wall time of `repeat` submissions of `reps` back-to-back dispatches.
    pub fn time(&self, gpu: &Gpu, reps: u32, repeat: u32) -> Result<Duration, GpuError> {
        let device = gpu.device();
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(self.entry),
            source: wgpu::ShaderSource::Wgsl(shaders::module(self.source).into()),
        });
        let pipeline = pipeline(gpu, None, &module, self.entry, &[]);
        let memory = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("memory"),
            size: self.memory_words * 4,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        let args = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("args"),
            contents: bytemuck::cast_slice(self.args),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let group = bind_group(gpu, &pipeline.get_bind_group_layout(0), &[&memory, &args]);
        let run = |reps: u32| {
            let start = Instant::now();
            let mut encoder = device.create_command_encoder(&Default::default());
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                pass.set_pipeline(&pipeline);
                pass.set_bind_group(0, &group, &[]);
                for _ in 0..reps {
                    pass.dispatch_workgroups(self.workgroups, 1, 1);
                }
            }
            gpu.submit_and_wait(encoder).map(|()| start.elapsed())
        };
        // Untimed: the driver may allocate the fresh buffer's pages on first
        // touch, which the runtime's machines pay before their timed runs.
        run(1)?;
        let mut times = (0..repeat.max(1))
            .map(|_| run(reps))
            .collect::<Result<Vec<_>, _>>()?;
        times.sort();
        Ok(times[times.len() / 2])
    }
}

/// Median wall time of `repeat` submissions of `reps` back-to-back
/// dispatches of `kernel` over `len`-word vectors (`len` a multiple of 4).
pub fn time_kernel(
    gpu: &Gpu,
    kernel: Kernel,
    len: u32,
    reps: u32,
    repeat: u32,
) -> Result<Duration, GpuError> {
    if !len.is_multiple_of(4) {
        return Err(GpuError::Wgpu(format!(
            "reference kernels take lengths that are multiples of 4 words, not {len}"
        )));
    }
    Shader {
        source: shaders::NATIVE_VADD,
        entry: kernel.entry(),
        memory_words: 3 * len as u64,
        args: &[0, len, 2 * len, len],
        workgroups: len.div_ceil(NATIVE_CHUNK),
    }
    .time(gpu, reps, repeat)
}
