//! Runs PXI images on the GPU through wgpu.
//!
//! A round of the machine is four dispatches recorded back to back:
//! `run_slice` (one invocation per hart, bounded by the slice budget),
//! `run_vector` (indirect: one workgroup per queued vector instruction and
//! 4096-element chunk), `run_tensor` (the same for tensor instructions:
//! 64 rows or 4096 elements per workgroup) and `resolve` (one workgroup: spawns, mailbox posting,
//! control block). A batch of rounds is one submission followed by one small
//! readback (control block + mailbox); the host services the mailbox between
//! batches with the same `pxi::mailbox::service` the CPU interpreter uses.
//! All machine state stays in storage buffers laid out as `pxi::state` says,
//! so the final state compares word for word with the CPU interpreter.

pub mod ai;
pub mod bench;
pub mod bench_ai;
pub mod testing;

use std::sync::mpsc;

use pxi::mailbox::MAILBOX_WORDS;
pub use pxi::run::MachineState;
use pxi::run::{BatchReport, Executor};
use pxi::state::CONTROL_WORDS;
use pxi::{Image, Limits};
use shaders::layout::{self, Q_ENTRY_WORDS, SCRATCH_WORDS};
use wgpu::util::DeviceExt;

/// Largest slice that stays clear of llvmpipe's 65,535-iteration loop limit:
/// the fast and slow loops share it (up to two passes per step when every
/// instruction takes the slow path) with the register load/store loops.
pub const MAX_SAFE_SLICE: u32 = 32_000;
/// Most harts the GPU runtime takes: `resolve` scans them serially in one
/// invocation, and its loops must stay under llvmpipe's 65,535 iterations.
pub const MAX_GPU_HARTS: u32 = shaders::layout::MAX_HARTS;
/// Default slice: long enough that dispatch overhead stays small (see docs/benchmarks.md).
pub const DEFAULT_SLICE: u32 = 16_384;
/// Default rounds per submission (one mailbox service per batch).
pub const DEFAULT_ROUNDS_PER_BATCH: u32 = 4;

/// Errors of the GPU runtime (program traps are machine state, not errors).
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// No usable adapter.
    #[error(
        "no GPU adapter found ({0}); on Debian install mesa-vulkan-drivers and libvulkan1 for lavapipe"
    )]
    NoAdapter(String),
    /// The device could not be created.
    #[error("could not open the GPU device: {0}")]
    Device(String),
    /// The image needs more than the device allows.
    #[error(
        "{what} needs {needed} bytes, but this device allows {limit} per storage buffer binding"
    )]
    TooLarge {
        /// Which buffer.
        what: &'static str,
        /// Bytes needed.
        needed: u64,
        /// Device limit.
        limit: u64,
    },
    /// More harts than `resolve` can scan within one dispatch.
    #[error(
        "the image asks for {harts} harts; the GPU runtime runs at most {MAX_GPU_HARTS} (use --cpu for more)"
    )]
    TooManyHarts {
        /// Harts the image asks for.
        harts: u32,
    },
    /// A slice ended before its budget without a reason: the driver cut the loop off.
    #[error(
        "slice cut off by the GPU driver: hart {hart} ran fewer steps than its slice of {slice} allows \
         without stopping ({harts} harts affected); llvmpipe ends shader loops after 65,535 iterations — \
         use --slice-steps {MAX_SAFE_SLICE} or less"
    )]
    SliceCutOff {
        /// First hart affected.
        hart: u32,
        /// Harts affected.
        harts: u32,
        /// The slice budget.
        slice: u32,
    },
    /// Mapping a readback buffer failed.
    #[error("reading back GPU state failed: {0}")]
    Readback(String),
    /// A validation or device error reported by wgpu.
    #[error("GPU error: {0}")]
    Wgpu(String),
}

/// An open GPU device.
pub struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    /// Compiled once per device: shader compilation dominates small runs.
    pipelines: std::sync::OnceLock<Pipelines>,
}

/// The runtime's compute pipelines and the interpreter's bind group layout.
struct Pipelines {
    layout: wgpu::BindGroupLayout,
    run_slice: wgpu::ComputePipeline,
    run_vector: wgpu::ComputePipeline,
    run_tensor: wgpu::ComputePipeline,
    resolve: wgpu::ComputePipeline,
}

impl Gpu {
    /// Open the best available adapter (Vulkan).
    pub fn new() -> Result<Gpu, GpuError> {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        if desc.backends.is_empty() {
            desc.backends = wgpu::Backends::VULKAN;
        }
        let instance = wgpu::Instance::new(desc);
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        }))
        .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("pxOS"),
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| GpuError::Device(e.to_string()))?;
        Ok(Gpu {
            device,
            queue,
            info: adapter.get_info(),
            limits,
            pipelines: Default::default(),
        })
    }

    /// "name (backend, device type)" for logs and benchmark tables.
    pub fn adapter_name(&self) -> String {
        format!(
            "{} ({:?}, {:?})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }

    /// Whether this adapter runs on the CPU (lavapipe/llvmpipe).
    pub fn is_cpu(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// Workgroup size for per-hart dispatches: 8 on CPU adapters (llvmpipe
    /// runs one workgroup per thread, 8 lanes wide), 64 on real GPUs.
    pub fn hart_workgroup(&self) -> u32 {
        if self.is_cpu() { 8 } else { 64 }
    }

    fn pipelines(&self) -> &Pipelines {
        self.pipelines.get_or_init(|| {
            let module = |label, source: String| {
                self.device
                    .create_shader_module(wgpu::ShaderModuleDescriptor {
                        label: Some(label),
                        source: wgpu::ShaderSource::Wgsl(source.into()),
                    })
            };
            let interpreter = module("interpreter.wgsl", shaders::interpreter_module());
            let vector = module("vector.wgsl", shaders::vector_module());
            let tensor = module("tensor.wgsl", shaders::tensor_module());
            let layout = interpreter_layout(self);
            let pipeline_layout =
                self.device
                    .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                        label: Some("interpreter"),
                        bind_group_layouts: &[Some(&layout)],
                        immediate_size: 0,
                    });
            let workgroup = [("WORKGROUP", self.hart_workgroup() as f64)];
            Pipelines {
                run_slice: pipeline(
                    self,
                    Some(&pipeline_layout),
                    &interpreter,
                    "run_slice",
                    &workgroup,
                ),
                resolve: pipeline(self, Some(&pipeline_layout), &interpreter, "resolve", &[]),
                run_vector: pipeline(self, None, &vector, "run_vector", &[]),
                run_tensor: pipeline(self, None, &tensor, "run_tensor", &[]),
                layout,
            }
        })
    }

    pub(crate) fn device(&self) -> &wgpu::Device {
        &self.device
    }

    pub(crate) fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    /// Submit `encoder` and wait for it; validation errors come back as errors.
    pub(crate) fn submit_and_wait(&self, encoder: wgpu::CommandEncoder) -> Result<(), GpuError> {
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let index = self.queue.submit([encoder.finish()]);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(GpuError::Wgpu(e.to_string()));
        }
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: None,
            })
            .map_err(|e| GpuError::Wgpu(e.to_string()))?;
        Ok(())
    }

    /// Copy `size` bytes at `offset` of `buffer` back to the host.
    pub(crate) fn read_words(
        &self,
        buffer: &wgpu::Buffer,
        offset: u64,
        words: usize,
    ) -> Result<Vec<u32>, GpuError> {
        let size = (words * 4) as u64;
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(buffer, offset, &staging, 0, size);
        self.submit_and_wait(encoder)?;
        map_words(&self.device, &staging)
    }
}

/// Map a MAP_READ buffer and copy its words out.
fn map_words(device: &wgpu::Device, buffer: &wgpu::Buffer) -> Result<Vec<u32>, GpuError> {
    let slice = buffer.slice(..);
    let (tx, rx) = mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| GpuError::Wgpu(e.to_string()))?;
    rx.recv()
        .map_err(|e| GpuError::Readback(e.to_string()))?
        .map_err(|e| GpuError::Readback(e.to_string()))?;
    let words = {
        let view = slice
            .get_mapped_range()
            .map_err(|e| GpuError::Readback(e.to_string()))?;
        bytemuck::cast_slice::<u8, u32>(&view).to_vec()
    };
    buffer.unmap();
    Ok(words)
}

/// Options of a GPU run beyond the machine limits.
#[derive(Clone, Copy, Debug)]
pub struct GpuOptions {
    /// Count executions per code pixel (needed for heatmaps; costs an atomic per step).
    pub count_exec: bool,
}

impl Default for GpuOptions {
    fn default() -> Self {
        GpuOptions { count_exec: true }
    }
}

struct Buffers {
    code: wgpu::Buffer,
    memory: wgpu::Buffer,
    harts: wgpu::Buffer,
    mailbox: wgpu::Buffer,
    control: wgpu::Buffer,
    counts: wgpu::Buffer,
    queue: wgpu::Buffer,
    dispatch: wgpu::Buffer,
    params: wgpu::Buffer,
    /// MAP_READ staging for the per-batch readback (control block + mailbox).
    readback: wgpu::Buffer,
}

/// A PXI machine living on the GPU.
pub struct GpuMachine<'g> {
    gpu: &'g Gpu,
    buffers: Buffers,
    interpreter_group: wgpu::BindGroup,
    vector_group: wgpu::BindGroup,
    tensor_group: wgpu::BindGroup,
    hart_groups: u32,
    memory_words: u32,
    /// Host copy of the control block and scratch words after the last batch.
    control: Vec<u32>,
    /// Host copy of the mailbox after the last batch.
    mailbox: Vec<u32>,
}

fn storage(gpu: &Gpu, label: &str, words: &[u32], extra: wgpu::BufferUsages) -> wgpu::Buffer {
    // Zero-sized bindings are invalid: keep at least one word.
    let contents: &[u32] = if words.is_empty() { &[0] } else { words };
    gpu.device()
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::cast_slice(contents),
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST
                | extra,
        })
}

/// The interpreter's bind group layout: code (read-only), seven read-write
/// storage buffers, then the uniform parameters. Shared by `run_slice` and
/// `resolve` so one bind group serves both.
fn interpreter_layout(gpu: &Gpu) -> wgpu::BindGroupLayout {
    let entry = |binding: u32, ty: wgpu::BufferBindingType| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    };
    let mut entries = vec![entry(
        0,
        wgpu::BufferBindingType::Storage { read_only: true },
    )];
    entries.extend((1..8).map(|b| entry(b, wgpu::BufferBindingType::Storage { read_only: false })));
    entries.push(entry(8, wgpu::BufferBindingType::Uniform));
    gpu.device()
        .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("interpreter"),
            entries: &entries,
        })
}

fn bind_group(
    gpu: &Gpu,
    layout: &wgpu::BindGroupLayout,
    buffers: &[&wgpu::Buffer],
) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry> = buffers
        .iter()
        .enumerate()
        .map(|(i, b)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: b.as_entire_binding(),
        })
        .collect();
    gpu.device().create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout,
        entries: &entries,
    })
}

fn pipeline(
    gpu: &Gpu,
    layout: Option<&wgpu::PipelineLayout>,
    module: &wgpu::ShaderModule,
    entry: &str,
    constants: &[(&str, f64)],
) -> wgpu::ComputePipeline {
    gpu.device()
        .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(entry),
            layout,
            module,
            entry_point: Some(entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants,
                ..Default::default()
            },
            cache: None,
        })
}

impl<'g> GpuMachine<'g> {
    /// Upload `image` and its initial state.
    pub fn new(
        gpu: &'g Gpu,
        image: &Image,
        limits: Limits,
        options: GpuOptions,
    ) -> Result<Self, GpuError> {
        if image.harts > MAX_GPU_HARTS {
            return Err(GpuError::TooManyHarts { harts: image.harts });
        }
        let (memory, harts, control_block) = pxi::machine::initial_state(image, limits);
        let max_binding = gpu.limits.max_storage_buffer_binding_size;
        for (what, words) in [("data memory", memory.len()), ("hart state", harts.len())] {
            let needed = words as u64 * 4;
            if needed > max_binding {
                return Err(GpuError::TooLarge {
                    what,
                    needed,
                    limit: max_binding,
                });
            }
        }
        let device = gpu.device();
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let mut code = image.code.clone();
        let predecoded = pxi::isa::predecode(&image.code);
        code.extend(predecoded.pixels);
        code.extend(predecoded.info);
        let control = layout::initial_control(&control_block);
        let hart_count = image.harts;
        let buffers = Buffers {
            code: storage(gpu, "code", &code, wgpu::BufferUsages::empty()),
            memory: storage(gpu, "memory", &memory, wgpu::BufferUsages::empty()),
            harts: storage(gpu, "harts", &harts, wgpu::BufferUsages::empty()),
            mailbox: storage(
                gpu,
                "mailbox",
                &vec![0; MAILBOX_WORDS],
                wgpu::BufferUsages::empty(),
            ),
            control: storage(gpu, "control", &control, wgpu::BufferUsages::empty()),
            counts: storage(
                gpu,
                "counts",
                &vec![0; image.code.len()],
                wgpu::BufferUsages::empty(),
            ),
            queue: storage(
                gpu,
                "vector queue",
                &vec![0; hart_count as usize * Q_ENTRY_WORDS],
                wgpu::BufferUsages::empty(),
            ),
            dispatch: storage(
                gpu,
                "vector dispatch",
                &[0, 0, 1],
                wgpu::BufferUsages::INDIRECT,
            ),
            params: device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("params"),
                contents: bytemuck::cast_slice(&[
                    hart_count,
                    image.code.len() as u32,
                    image.memory_words,
                    options.count_exec as u32,
                ]),
                usage: wgpu::BufferUsages::UNIFORM,
            }),
            readback: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("batch readback"),
                size: ((CONTROL_WORDS + SCRATCH_WORDS + MAILBOX_WORDS) * 4) as u64,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
        };
        let workgroup = gpu.hart_workgroup();
        let p = gpu.pipelines();
        let b = &buffers;
        let interpreter_group = bind_group(
            gpu,
            &p.layout,
            &[
                &b.code,
                &b.memory,
                &b.harts,
                &b.mailbox,
                &b.control,
                &b.counts,
                &b.queue,
                &b.dispatch,
                &b.params,
            ],
        );
        let vector_group = bind_group(
            gpu,
            &p.run_vector.get_bind_group_layout(0),
            &[&b.memory, &b.queue],
        );
        let tensor_group = bind_group(
            gpu,
            &p.run_tensor.get_bind_group_layout(0),
            &[&b.memory, &b.queue],
        );
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(GpuError::Wgpu(e.to_string()));
        }
        Ok(GpuMachine {
            gpu,
            hart_groups: hart_count.div_ceil(workgroup),
            memory_words: image.memory_words,
            control,
            mailbox: vec![0; MAILBOX_WORDS],
            buffers,
            interpreter_group,
            vector_group,
            tensor_group,
        })
    }

    /// Record `rounds` rounds into `encoder`.
    fn record_rounds(&self, encoder: &mut wgpu::CommandEncoder, rounds: u32) {
        let p = self.gpu.pipelines();
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("rounds"),
            timestamp_writes: None,
        });
        for _ in 0..rounds {
            pass.set_pipeline(&p.run_slice);
            pass.set_bind_group(0, &self.interpreter_group, &[]);
            pass.dispatch_workgroups(self.hart_groups, 1, 1);
            pass.set_pipeline(&p.run_vector);
            pass.set_bind_group(0, &self.vector_group, &[]);
            pass.dispatch_workgroups_indirect(&self.buffers.dispatch, 0);
            pass.set_pipeline(&p.run_tensor);
            pass.set_bind_group(0, &self.tensor_group, &[]);
            pass.dispatch_workgroups_indirect(&self.buffers.dispatch, 0);
            pass.set_pipeline(&p.resolve);
            pass.set_bind_group(0, &self.interpreter_group, &[]);
            pass.dispatch_workgroups(1, 1, 1);
        }
    }

    /// Read every word of the machine state back.
    pub fn read_state(&self) -> Result<MachineState, GpuError> {
        let b = &self.buffers;
        let words =
            |buffer: &wgpu::Buffer| self.gpu.read_words(buffer, 0, (buffer.size() / 4) as usize);
        let mut memory = words(&b.memory)?;
        memory.truncate(self.memory_words as usize);
        let mut control = words(&b.control)?;
        control.truncate(CONTROL_WORDS);
        Ok(MachineState {
            memory,
            harts: words(&b.harts)?,
            mailbox: words(&b.mailbox)?,
            control,
            counts: words(&b.counts)?,
        })
    }

    /// Execution counts per code pixel so far.
    pub fn read_counts(&self) -> Result<Vec<u32>, GpuError> {
        let b = &self.buffers.counts;
        self.gpu.read_words(b, 0, (b.size() / 4) as usize)
    }

    /// Hart words, for trap reports.
    pub fn read_harts(&self) -> Result<Vec<u32>, GpuError> {
        let b = &self.buffers.harts;
        self.gpu.read_words(b, 0, (b.size() / 4) as usize)
    }
}

impl Executor for GpuMachine<'_> {
    type Error = GpuError;

    fn run_batch(&mut self, rounds: u32) -> Result<BatchReport, GpuError> {
        let gpu = self.gpu;
        let b = &self.buffers;
        let control_bytes = ((CONTROL_WORDS + SCRATCH_WORDS) * 4) as u64;
        let mut encoder = gpu.device().create_command_encoder(&Default::default());
        self.record_rounds(&mut encoder, rounds);
        encoder.copy_buffer_to_buffer(&b.control, 0, &b.readback, 0, control_bytes);
        encoder.copy_buffer_to_buffer(
            &b.mailbox,
            0,
            &b.readback,
            control_bytes,
            (MAILBOX_WORDS * 4) as u64,
        );
        gpu.submit_and_wait(encoder)?;
        let words = map_words(gpu.device(), &b.readback)?;
        let (control, mailbox) = words.split_at(CONTROL_WORDS + SCRATCH_WORDS);
        self.control.copy_from_slice(control);
        self.mailbox.copy_from_slice(mailbox);
        layout::batch_report(&self.control).map_err(|cut| GpuError::SliceCutOff {
            hart: cut.hart,
            harts: cut.harts,
            slice: cut.slice,
        })
    }

    fn mailbox(&mut self) -> &mut [u32] {
        &mut self.mailbox
    }

    fn commit_mailbox(&mut self) -> Result<(), GpuError> {
        self.gpu.queue().write_buffer(
            &self.buffers.mailbox,
            0,
            bytemuck::cast_slice(&self.mailbox),
        );
        Ok(())
    }

    fn memory_words(&self) -> u32 {
        self.memory_words
    }

    fn counts(&mut self) -> Result<Vec<u32>, GpuError> {
        self.read_counts()
    }

    fn read_memory(&mut self, addr: u32, out: &mut [u32]) -> Result<bool, GpuError> {
        if addr as u64 + out.len() as u64 > self.memory_words as u64 {
            return Ok(false);
        }
        if !out.is_empty() {
            let words = self
                .gpu
                .read_words(&self.buffers.memory, addr as u64 * 4, out.len())?;
            out.copy_from_slice(&words);
        }
        Ok(true)
    }

    fn write_memory(&mut self, addr: u32, words: &[u32]) -> Result<bool, GpuError> {
        if addr as u64 + words.len() as u64 > self.memory_words as u64 {
            return Ok(false);
        }
        self.gpu.queue().write_buffer(
            &self.buffers.memory,
            addr as u64 * 4,
            bytemuck::cast_slice(words),
        );
        Ok(true)
    }
}

impl pxi_asm::runner::Inspect for GpuMachine<'_> {
    fn harts(&mut self) -> Result<Vec<u32>, GpuError> {
        self.read_harts()
    }
}
