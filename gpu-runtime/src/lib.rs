//! Runs PXI images on the GPU through wgpu.
//!
//! A round of the machine is four dispatches recorded back to back:
//! `run_slice` (one invocation per hart, bounded by the slice budget),
//! `run_vector` (indirect: one workgroup per queued vector instruction and
//! 4096-element chunk), `run_tensor` (the same for tensor instructions:
//! 64 rows or 4096 elements per workgroup; each pass has its own indirect
//! dispatch, so a round without tensor work runs no tensor workgroup and
//! vice versa) and `resolve` (one workgroup: spawns, mailbox posting,
//! control block). A batch of rounds is one submission followed by one small
//! readback (control block + mailbox); the host services the mailbox between
//! batches with the same `pxi::mailbox::service` the CPU interpreter uses.
//! All machine state stays in storage buffers laid out as `pxi::state` says,
//! so the final state compares word for word with the CPU interpreter.

pub mod bench;
pub mod native;
pub mod testing;
pub mod trace;

use std::sync::mpsc;

use pxi::mailbox::MAILBOX_WORDS;
pub use pxi::run::MachineState;
use pxi::run::{BatchReport, Executor};
use pxi::state::{C_ROUND, CONTROL_WORDS};
use pxi::{Image, Limits};
use shaders::layout::{self, Q_ENTRY_WORDS, S_IDLE, SCRATCH_WORDS};
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
/// Compiled programs a device keeps (least recently used go first): each
/// holds a JIT-compiled copy of the whole interpreter (megabytes on lavapipe),
/// and a process may compile thousands (the differential tests).
pub const COMPILED_CACHE: usize = 16;
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
    /// Compiled programs' `run_slice` pipelines by (WGSL source, counting),
    /// the most recently used last: the same program compiles once per device.
    compiled: std::sync::Mutex<Lru<(String, bool), wgpu::ComputePipeline>>,
    /// Vector passes specialised to one opcode, by opcode.
    vector_passes: std::sync::Mutex<std::collections::HashMap<u32, wgpu::ComputePipeline>>,
}

/// A map of at most `capacity` entries that drops the least recently used.
struct Lru<K, V> {
    /// Entries, the most recently used last.
    map: indexmap::IndexMap<K, V>,
    capacity: usize,
}

impl<K: std::hash::Hash + Eq, V: Clone> Lru<K, V> {
    fn new(capacity: usize) -> Lru<K, V> {
        Lru {
            map: indexmap::IndexMap::new(),
            capacity,
        }
    }

    /// `key`'s value, now the most recently used.
    fn get(&mut self, key: &K) -> Option<V> {
        let i = self.map.get_index_of(key)?;
        let last = self.map.len() - 1;
        self.map.move_index(i, last);
        Some(self.map[last].clone())
    }

    /// Add `key`, dropping the least recently used entry when full.
    fn insert(&mut self, key: K, value: V) {
        self.map.insert(key, value);
        if self.map.len() > self.capacity {
            self.map.shift_remove_index(0);
        }
    }
}

/// The runtime's compute pipelines and the interpreter's bind group layout.
struct Pipelines {
    layout: wgpu::BindGroupLayout,
    /// The interpreter's pipeline layout (compiled programs reuse it).
    pipeline_layout: wgpu::PipelineLayout,
    /// Without and with execution counting.
    run_slice: [wgpu::ComputePipeline; 2],
    run_vector: wgpu::ComputePipeline,
    /// The vector pass's module (specialised pipelines are made from it).
    vector: wgpu::ShaderModule,
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
            // Timestamps time rounds and dispatches in traces, where the adapter has them.
            required_features: adapter.features() & wgpu::Features::TIMESTAMP_QUERY,
            ..Default::default()
        }))
        .map_err(|e| GpuError::Device(e.to_string()))?;
        Ok(Gpu {
            device,
            queue,
            info: adapter.get_info(),
            limits,
            pipelines: Default::default(),
            compiled: std::sync::Mutex::new(Lru::new(COMPILED_CACHE)),
            vector_passes: Default::default(),
        })
    }

    /// "name (backend, device type)" for logs and benchmark tables.
    pub fn adapter_name(&self) -> String {
        format!(
            "{} ({:?}, {:?})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }

    /// Whether the device can time passes (GPU timestamps in traces).
    pub fn has_timestamps(&self) -> bool {
        self.device
            .features()
            .contains(wgpu::Features::TIMESTAMP_QUERY)
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
            Pipelines {
                run_slice: [false, true].map(|count| {
                    self.run_slice_pipeline(&pipeline_layout, &interpreter, count, false)
                }),
                resolve: pipeline(self, Some(&pipeline_layout), &interpreter, "resolve", &[]),
                run_vector: pipeline(self, None, &vector, "run_vector", &[]),
                vector,
                run_tensor: pipeline(self, None, &tensor, "run_tensor", &[]),
                layout,
                pipeline_layout,
            }
        })
    }

    /// `run_slice` of `module`, with or without execution counting and
    /// compiled blocks.
    fn run_slice_pipeline(
        &self,
        layout: &wgpu::PipelineLayout,
        module: &wgpu::ShaderModule,
        count_exec: bool,
        compiled: bool,
    ) -> wgpu::ComputePipeline {
        let constants = [
            ("WORKGROUP", self.hart_workgroup() as f64),
            ("COUNT_EXEC", count_exec as u32 as f64),
            ("COMPILED", compiled as u32 as f64),
        ];
        pipeline(self, Some(layout), module, "run_slice", &constants)
    }

    /// The vector pass for programs whose only vector opcode is `only` (0:
    /// any opcode).
    fn vector_pipeline(&self, only: u32) -> wgpu::ComputePipeline {
        let p = self.pipelines();
        if only == 0 {
            return p.run_vector.clone();
        }
        let mut cache = self.vector_passes.lock().expect("cache lock");
        cache
            .entry(only)
            .or_insert_with(|| {
                let constants = [("VECTOR_ONLY", only as f64)];
                pipeline(self, None, &p.vector, "run_vector", &constants)
            })
            .clone()
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
    /// Count executions per code pixel (needed for heatmaps; costs an atomic per run of
    /// simple instructions and per slow instruction).
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
    outbox: wgpu::Buffer,
    params: wgpu::Buffer,
    /// MAP_READ staging for the per-batch readback (control block + mailbox).
    readback: wgpu::Buffer,
}

/// A PXI machine living on the GPU.
pub struct GpuMachine<'g> {
    gpu: &'g Gpu,
    buffers: Buffers,
    interpreter_group: wgpu::BindGroup,
    /// The vector pass (specialised to the program's one vector opcode, if so) and its bindings.
    vector: (wgpu::ComputePipeline, wgpu::BindGroup),
    tensor_group: wgpu::BindGroup,
    /// Which of [`DISPATCHES`] a round records (`round_dispatches`).
    dispatches: [bool; DISPATCHES.len()],
    hart_groups: u32,
    /// Whether run_slice counts executions (which pipeline runs).
    count_exec: bool,
    memory_words: u32,
    /// Host copy of the control block and scratch words after the last batch.
    control: Vec<u32>,
    /// Host copy of the mailbox after the last batch.
    mailbox: Vec<u32>,
    /// Phase recording for traces (`record_phases`), off by default.
    timing: Option<Timing>,
    /// The code pixels as the machine has them now.
    code: Vec<u32>,
    /// The compiled mode's pipelines and blocks, after [`GpuMachine::compile`].
    compiled: Option<CompiledProgram>,
}

/// A program compiled to WGSL ([`GpuMachine::compile`]).
struct CompiledProgram {
    /// `run_slice`, counting executions or not as the machine does.
    run_slice: wgpu::ComputePipeline,
    /// Every block compiled so far, and whether it still runs (false once
    /// its code was rewritten).
    blocks: Vec<(shaders::compile::Block, bool)>,
}

/// What [`GpuMachine::compile`] did.
#[derive(Clone, Copy, Debug)]
pub struct CompileReport {
    /// Basic blocks compiled to WGSL.
    pub blocks: usize,
    /// Instructions inside them.
    pub instructions: usize,
    /// Size of the generated module.
    pub wgsl_bytes: usize,
    /// Translation, shader module and pipeline creation together.
    pub elapsed: std::time::Duration,
}

impl std::fmt::Display for CompileReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "compiled {} blocks ({} instructions, {} KiB of WGSL) in {:.0} ms",
            self.blocks,
            self.instructions,
            self.wgsl_bytes.div_ceil(1024),
            self.elapsed.as_secs_f64() * 1e3
        )
    }
}

/// Dispatches per round.
const DISPATCHES: [&str; 4] = ["run_slice", "run_vector", "run_tensor", "resolve"];
/// Timestamps per round: the start and end of each dispatch's pass.
const ROUND_QUERIES: u32 = 2 * DISPATCHES.len() as u32;

/// What `run_batch` records for a trace.
struct Timing {
    /// GPU timestamps, when the device has them.
    queries: Option<Queries>,
    /// Phases of the last batch.
    phases: Vec<trace::Phase>,
}

/// Timestamp queries for the rounds of one batch.
struct Queries {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    readback: wgpu::Buffer,
    /// Rounds that fit in the set.
    rounds: u32,
}

impl Queries {
    fn new(gpu: &Gpu, rounds: u32) -> Queries {
        let rounds = rounds.clamp(1, wgpu::QUERY_SET_MAX_QUERIES / ROUND_QUERIES);
        let count = rounds * ROUND_QUERIES;
        let size = count as u64 * 8;
        let buffer = |label, usage| {
            gpu.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage,
                mapped_at_creation: false,
            })
        };
        Queries {
            set: gpu.device().create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("round timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count,
            }),
            resolve: buffer(
                "timestamps",
                wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            ),
            readback: buffer(
                "timestamp readback",
                wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            ),
            rounds,
        }
    }
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
/// storage buffers, the uniform parameters, then the outbox. Shared by `run_slice` and
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
    entries.push(entry(
        9,
        wgpu::BufferBindingType::Storage { read_only: false },
    ));
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
        let (mut memory, harts, control_block) = pxi::machine::initial_state(image, limits);
        // The vector pass also sees memory four words at a time (and a binding needs one such element).
        memory.resize(memory.len().max(4).next_multiple_of(4), 0);
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
        let code = code_tables(&image.code, &[]);
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
            // Per-pixel counts, then the compiled blocks' pass and early-exit counters.
            counts: storage(
                gpu,
                "counts",
                &vec![0; 3 * image.code.len()],
                wgpu::BufferUsages::empty(),
            ),
            queue: storage(
                gpu,
                "vector queue",
                &vec![0; hart_count as usize * Q_ENTRY_WORDS],
                wgpu::BufferUsages::empty(),
            ),
            // The vector pass's indirect dispatch, then the tensor pass's (interpreter.wgsl).
            dispatch: storage(
                gpu,
                "pass dispatches",
                &shaders::layout::PASS_DISPATCHES,
                wgpu::BufferUsages::INDIRECT,
            ),
            outbox: storage(
                gpu,
                "outbox",
                &vec![0; hart_count as usize * pxi::mailbox::OUTBOX_WORDS],
                wgpu::BufferUsages::empty(),
            ),
            params: device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("params"),
                contents: bytemuck::cast_slice(&[
                    hart_count,
                    image.code.len() as u32,
                    image.memory_words,
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
                &b.outbox,
            ],
        );
        let vector = vector_pass(gpu, &buffers, &image.code);
        let tensor_group = bind_group(
            gpu,
            &p.run_tensor.get_bind_group_layout(0),
            &[&b.memory, &b.queue],
        );
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(GpuError::Wgpu(e.to_string()));
        }
        // Copy the initial contents in now (wgpu stages them for the next
        // submission), so that the first batch, its trace and timings hold
        // only running.
        gpu.submit_and_wait(gpu.device().create_command_encoder(&Default::default()))?;
        Ok(GpuMachine {
            gpu,
            hart_groups: hart_count.div_ceil(workgroup),
            count_exec: options.count_exec,
            memory_words: image.memory_words,
            control,
            mailbox: vec![0; MAILBOX_WORDS],
            timing: None,
            code: image.code.clone(),
            compiled: None,
            buffers,
            interpreter_group,
            vector,
            tensor_group,
            dispatches: round_dispatches(&image.code),
        })
    }

    /// Record the phases of every batch from now on, for [`trace::Traced`]:
    /// submission, GPU wait and readback, and with timestamp queries every
    /// round and dispatch (each dispatch then gets its own compute pass).
    pub fn record_phases(&mut self) {
        self.timing = Some(Timing {
            queries: None,
            phases: Vec::new(),
        });
    }

    /// Record dispatch `k` of a round into `pass`.
    fn dispatch(&self, pass: &mut wgpu::ComputePass, k: usize) {
        if !self.dispatches[k] {
            return;
        }
        let p = self.gpu.pipelines();
        match k {
            0 => {
                let run_slice = match &self.compiled {
                    Some(compiled) => &compiled.run_slice,
                    None => &p.run_slice[self.count_exec as usize],
                };
                pass.set_pipeline(run_slice);
                pass.set_bind_group(0, &self.interpreter_group, &[]);
                pass.dispatch_workgroups(self.hart_groups, 1, 1);
            }
            1 => {
                pass.set_pipeline(&self.vector.0);
                pass.set_bind_group(0, &self.vector.1, &[]);
                pass.dispatch_workgroups_indirect(&self.buffers.dispatch, 0);
            }
            2 => {
                pass.set_pipeline(&p.run_tensor);
                pass.set_bind_group(0, &self.tensor_group, &[]);
                pass.dispatch_workgroups_indirect(
                    &self.buffers.dispatch,
                    shaders::layout::TENSOR_DISPATCH,
                );
            }
            _ => {
                pass.set_pipeline(&p.resolve);
                pass.set_bind_group(0, &self.interpreter_group, &[]);
                pass.dispatch_workgroups(1, 1, 1);
            }
        }
    }

    /// Record `rounds` rounds into `encoder`: one compute pass, or with
    /// timestamp queries one pass per dispatch for the rounds they cover.
    fn record_rounds(&self, encoder: &mut wgpu::CommandEncoder, rounds: u32) {
        let queries = self.timing.as_ref().and_then(|t| t.queries.as_ref());
        let timed = queries.map_or(0, |q| q.rounds.min(rounds));
        for round in 0..timed {
            for (k, &label) in DISPATCHES.iter().enumerate() {
                let first = round * ROUND_QUERIES + 2 * k as u32;
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some(label),
                    timestamp_writes: queries.map(|q| wgpu::ComputePassTimestampWrites {
                        query_set: &q.set,
                        beginning_of_pass_write_index: Some(first),
                        end_of_pass_write_index: Some(first + 1),
                    }),
                });
                self.dispatch(&mut pass, k);
            }
        }
        if let Some(q) = queries.filter(|_| timed > 0) {
            let size = (timed * ROUND_QUERIES) as u64 * 8;
            encoder.resolve_query_set(&q.set, 0..timed * ROUND_QUERIES, &q.resolve, 0);
            encoder.copy_buffer_to_buffer(&q.resolve, 0, &q.readback, 0, size);
        }
        if timed < rounds {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("rounds"),
                timestamp_writes: None,
            });
            for _ in timed..rounds {
                for k in 0..DISPATCHES.len() {
                    self.dispatch(&mut pass, k);
                }
            }
        }
    }

    /// Turn the last batch's timestamps into phases, aligning the last one
    /// with `done` (when the host saw the submission finish); `counted` are
    /// the numbers of the rounds the batch counted.
    fn timestamp_phases(
        &self,
        queries: &Queries,
        rounds: u32,
        counted: std::ops::Range<u32>,
        done: std::time::Instant,
    ) -> Result<Vec<trace::Phase>, GpuError> {
        let timed = queries.rounds.min(rounds) as usize;
        let words = map_words(self.gpu.device(), &queries.readback)?;
        let ticks: Vec<u64> = words
            .chunks_exact(2)
            .take(timed * ROUND_QUERIES as usize)
            .map(|w| w[0] as u64 | (w[1] as u64) << 32)
            .collect();
        let Some(&last) = ticks.last() else {
            return Ok(Vec::new());
        };
        let period = self.gpu.queue().get_timestamp_period() as f64;
        let at = |tick: u64| {
            let before = last.saturating_sub(tick) as f64 * period;
            done.checked_sub(std::time::Duration::from_nanos(before as u64))
                .unwrap_or(done)
        };
        let mut phases = Vec::new();
        for (r, round) in ticks.chunks_exact(ROUND_QUERIES as usize).enumerate() {
            phases.push(trace::Phase {
                track: trace::Track::Gpu,
                // Counted rounds come first; the rest of the batch waited for the host.
                name: match counted.start + r as u32 + 1 {
                    n if n <= counted.end => format!("round {n}"),
                    _ => "round skipped (waiting for the host)".to_string(),
                },
                start: at(round[0]),
                end: at(round[ROUND_QUERIES as usize - 1]),
            });
            for (k, pair) in round.chunks_exact(2).enumerate() {
                phases.push(trace::Phase {
                    track: trace::Track::Gpu,
                    name: DISPATCHES[k].to_string(),
                    start: at(pair[0]),
                    end: at(pair[1]),
                });
            }
        }
        Ok(phases)
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
            counts: self.read_counts()?,
        })
    }

    /// Execution counts per code pixel so far (the run counters expanded,
    /// `shaders::compile::expand_counts`).
    pub fn read_counts(&self) -> Result<Vec<u32>, GpuError> {
        let b = &self.buffers.counts;
        let mut counts = self.gpu.read_words(b, 0, (b.size() / 4) as usize)?;
        shaders::compile::expand_counts(&mut counts, &self.code);
        Ok(counts)
    }

    /// Fold the run counters into the pixel counts while the code they ran
    /// is still the machine's (before `write_code` changes it).
    fn fold_counts(&self) -> Result<(), GpuError> {
        let mut counts = self.read_counts()?;
        counts.resize(3 * self.code.len(), 0);
        self.gpu
            .queue()
            .write_buffer(&self.buffers.counts, 0, bytemuck::cast_slice(&counts));
        Ok(())
    }

    /// Compile the program's code as it is now into WGSL (the compiled mode,
    /// `shaders::compile`): from the next batch its basic blocks run as
    /// straight-line shader code; the rest stays interpreted. A big program
    /// gets its hottest blocks (by the counts so far, when counting; see
    /// `shaders::compile::MAX_BLOCKS`). Call again after `write_code` to
    /// compile the new code too.
    pub fn compile(&mut self) -> Result<CompileReport, GpuError> {
        let start = std::time::Instant::now();
        let counts = if self.count_exec {
            self.read_counts()?
        } else {
            Vec::new()
        };
        let compiled = shaders::compile::compile(&self.code, &counts);
        let run_slice = self.compiled_pipeline(&compiled.source)?;
        let report = CompileReport {
            blocks: compiled.blocks.len(),
            instructions: compiled.blocks.iter().map(|b| b.len() as usize).sum(),
            wgsl_bytes: compiled.source.len(),
            elapsed: std::time::Duration::ZERO,
        };
        self.compiled = Some(CompiledProgram {
            run_slice,
            blocks: compiled.blocks.into_iter().map(|b| (b, true)).collect(),
        });
        self.upload_code();
        Ok(CompileReport {
            elapsed: start.elapsed(),
            ..report
        })
    }

    /// The compiled `run_slice` pipeline of `source`, from the device's cache
    /// or created, validated and warmed up.
    fn compiled_pipeline(&self, source: &str) -> Result<wgpu::ComputePipeline, GpuError> {
        let gpu = self.gpu;
        let key = (source.to_string(), self.count_exec);
        if let Some(p) = gpu.compiled.lock().expect("cache lock").get(&key) {
            return Ok(p);
        }
        let scope = gpu.device().push_error_scope(wgpu::ErrorFilter::Validation);
        let module = gpu
            .device()
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("compiled program"),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            });
        let layout = &gpu.pipelines().pipeline_layout;
        let run_slice = gpu.run_slice_pipeline(layout, &module, self.count_exec, true);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(GpuError::Wgpu(e.to_string()));
        }
        self.warm_up(&run_slice)?;
        // Machines using an evicted pipeline keep their own handle to it.
        gpu.compiled
            .lock()
            .expect("cache lock")
            .insert(key, run_slice.clone());
        Ok(run_slice)
    }

    /// Dispatch `run_slice` once with the batch marked idle, so that every
    /// invocation returns at once: llvmpipe compiles a pipeline at its first
    /// dispatch, which belongs to the compile time, not to the first batch.
    /// `run_batch` clears the mark.
    fn warm_up(&self, run_slice: &wgpu::ComputePipeline) -> Result<(), GpuError> {
        let gpu = self.gpu;
        gpu.queue().write_buffer(
            &self.buffers.control,
            (S_IDLE * 4) as u64,
            bytemuck::bytes_of(&1u32),
        );
        let mut encoder = gpu.device().create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(run_slice);
            pass.set_bind_group(0, &self.interpreter_group, &[]);
            pass.dispatch_workgroups(1, 1, 1);
        }
        gpu.submit_and_wait(encoder)
    }

    /// Write the code tables (pixels, predecoded pixels, info with the live
    /// compiled blocks marked) to the GPU.
    fn upload_code(&self) {
        let live: Vec<u32> = self
            .compiled
            .iter()
            .flat_map(|c| &c.blocks)
            .filter(|(_, live)| *live)
            .map(|(b, _)| b.start)
            .collect();
        let tables = code_tables(&self.code, &live);
        self.gpu
            .queue()
            .write_buffer(&self.buffers.code, 0, bytemuck::cast_slice(&tables));
    }

    /// Hart words, for trap reports.
    pub fn read_harts(&self) -> Result<Vec<u32>, GpuError> {
        let b = &self.buffers.harts;
        self.gpu.read_words(b, 0, (b.size() / 4) as usize)
    }
}

/// The opcodes of `code`'s pixels: every pixel that decodes, so wherever
/// execution may start.
fn ops(code: &[u32]) -> impl Iterator<Item = pxi::isa::Op> + '_ {
    (0..code.len())
        .filter_map(|pc| pxi::Instruction::decode(code, pc).ok())
        .map(|inst| inst.op)
}

/// Which of [`DISPATCHES`] a round of `code` needs: the vector and tensor
/// passes only when an instruction of their class is among its pixels (only
/// those queue work for them, and `resolve` clears their dispatch sizes).
/// An empty indirect dispatch still costs lavapipe tens of µs per round.
fn round_dispatches(code: &[u32]) -> [bool; DISPATCHES.len()] {
    use pxi::isa::Class;
    let has = |class| ops(code).any(|op| op.info().class == class);
    [true, has(Class::Vector), has(Class::Tensor), true]
}

/// The only vector opcode among `code`'s pixels (every pixel that decodes,
/// so wherever execution may start), or 0 when there are several or none.
fn vector_only(code: &[u32]) -> u32 {
    let mut ops = ops(code).filter(|op| op.info().class == pxi::isa::Class::Vector);
    match ops.next() {
        Some(first) if ops.all(|op| op == first) => first as u32,
        _ => 0,
    }
}

/// The vector pass for `code` and its bind group.
fn vector_pass(
    gpu: &Gpu,
    buffers: &Buffers,
    code: &[u32],
) -> (wgpu::ComputePipeline, wgpu::BindGroup) {
    let pipeline = gpu.vector_pipeline(vector_only(code));
    let b = buffers;
    let group = bind_group(
        gpu,
        &pipeline.get_bind_group_layout(0),
        &[&b.memory, &b.queue, &b.memory],
    );
    (pipeline, group)
}

/// The code buffer's three tables: pixels, predecoded pixels, execution info
/// (`pxi::isa::predecode`) with `INFO_BLOCK` set where a compiled block starts.
fn code_tables(code: &[u32], block_starts: &[u32]) -> Vec<u32> {
    let predecoded = pxi::isa::predecode(code);
    let mut info = predecoded.info;
    for &start in block_starts {
        info[start as usize] |= pxi::isa::INFO_BLOCK;
    }
    let mut tables = code.to_vec();
    tables.extend(predecoded.pixels);
    tables.extend(info);
    tables
}

impl Executor for GpuMachine<'_> {
    type Error = GpuError;

    fn run_batch(&mut self, rounds: u32) -> Result<BatchReport, GpuError> {
        let gpu = self.gpu;
        let start = std::time::Instant::now();
        if let Some(timing) = &mut self.timing {
            let fits = timing.queries.as_ref().is_some_and(|q| q.rounds >= rounds);
            if gpu.has_timestamps() && !fits {
                timing.queries = Some(Queries::new(gpu, rounds));
            }
        }
        let b = &self.buffers;
        let control_bytes = ((CONTROL_WORDS + SCRATCH_WORDS) * 4) as u64;
        // The host may have answered: the batch's first round looks again.
        gpu.queue()
            .write_buffer(&b.control, (S_IDLE * 4) as u64, bytemuck::bytes_of(&0u32));
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
        let submitted = std::time::Instant::now();
        gpu.submit_and_wait(encoder)?;
        let done = std::time::Instant::now();
        let words = map_words(gpu.device(), &b.readback)?;
        if let Some(timing) = &self.timing {
            let mut phases = match &timing.queries {
                Some(q) => {
                    let counted = self.control[C_ROUND]..words[C_ROUND];
                    self.timestamp_phases(q, rounds, counted, done)?
                }
                None => Vec::new(),
            };
            let now = std::time::Instant::now();
            for (name, from, to) in [
                ("record + submit", start, submitted),
                ("GPU work (wait)", submitted, done),
                ("readback (map)", done, now),
            ] {
                phases.push(trace::Phase {
                    track: trace::Track::Gpu,
                    name: name.to_string(),
                    start: from,
                    end: to,
                });
            }
            self.timing.as_mut().expect("checked above").phases = phases;
        }
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

    fn harts(&mut self) -> Result<Vec<u32>, GpuError> {
        self.read_harts()
    }

    /// Compiled blocks overlapping the pixels stop running (the interpreter
    /// runs that code) until [`GpuMachine::compile`] is called again. The run
    /// counters are folded into the pixel counts first: they are expanded
    /// along the code they ran.
    fn write_code(&mut self, addr: u32, pixels: &[u32]) -> Result<bool, GpuError> {
        if self.count_exec {
            self.fold_counts()?;
        }
        let Some(tables) = pxi::run::code_patch(&mut self.code, addr, pixels) else {
            return Ok(false);
        };
        self.vector = vector_pass(self.gpu, &self.buffers, &self.code);
        self.dispatches = round_dispatches(&self.code);
        if let Some(compiled) = &mut self.compiled {
            for (block, live) in &mut compiled.blocks {
                *live &= !block.overlaps(addr, pixels.len() as u32);
            }
            self.upload_code();
            return Ok(true);
        }
        for (offset, words) in tables {
            self.gpu.queue().write_buffer(
                &self.buffers.code,
                offset as u64 * 4,
                bytemuck::cast_slice(&words),
            );
        }
        Ok(true)
    }
}

impl trace::Phases for GpuMachine<'_> {
    fn take_phases(&mut self) -> Vec<trace::Phase> {
        self.timing
            .as_mut()
            .map_or_else(Vec::new, |t| std::mem::take(&mut t.phases))
    }
}

#[cfg(test)]
mod tests {
    use super::Lru;

    #[test]
    fn the_compiled_cache_drops_the_least_recently_used() {
        let mut lru = Lru::new(2);
        lru.insert("a", 1);
        lru.insert("b", 2);
        assert_eq!(lru.get(&"a"), Some(1));
        lru.insert("c", 3);
        assert_eq!(lru.get(&"b"), None, "b was used least recently");
        assert_eq!((lru.get(&"a"), lru.get(&"c")), (Some(1), Some(3)));
        assert_eq!(lru.map.len(), 2);
    }
}
