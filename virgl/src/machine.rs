//! A PXI machine on virgl: the wgpu runtime's buffers and rounds, encoded
//! as virgl command streams.

use alloc::vec;
use alloc::vec::Vec;

use pxi::mailbox::MAILBOX_WORDS;
use pxi::run::{BatchReport, Executor, MachineState};
use pxi::state::CONTROL_WORDS;
use pxi::{Image, Limits};
use shaders::layout::{self, CutOff, MAX_HARTS, Q_ENTRY_WORDS, S_IDLE, SCRATCH_WORDS};

use crate::Transport;
use crate::protocol::{BufferBinding, Commands};

/// First resource handle this executor uses (clear of virtio-gpu 2D ids).
const FIRST_RESOURCE: u32 = 0x1000;

/// One translated compute shader.
#[derive(Clone, Copy, Debug)]
pub struct Shader<'s> {
    /// TGSI text.
    pub text: &'s str,
    /// Upper bound on its tokens.
    pub tokens: u32,
    /// Fixed workgroup size.
    pub workgroup: [u32; 3],
    /// Shared memory bytes.
    pub shared_bytes: u32,
}

/// The runtime's four shaders (see `shaders::tgsi::runtime`).
#[derive(Clone, Copy, Debug)]
pub struct Shaders<'s> {
    /// interpreter.wgsl `run_slice`.
    pub run_slice: Shader<'s>,
    /// interpreter.wgsl `resolve`.
    pub resolve: Shader<'s>,
    /// vector.wgsl `run_vector`.
    pub run_vector: Shader<'s>,
    /// tensor.wgsl `run_tensor`.
    pub run_tensor: Shader<'s>,
}

const RUN_SLICE: u32 = 1;
const RESOLVE: u32 = 2;
const RUN_VECTOR: u32 = 3;
const RUN_TENSOR: u32 = 4;

/// Executor failures (program traps are machine state, not errors).
#[derive(Debug)]
pub enum VirglError<E> {
    /// The transport failed (on vtest a rejected command drops the connection).
    Transport(E),
    /// More harts than `resolve` can scan.
    TooManyHarts {
        /// Harts the image asks for.
        harts: u32,
    },
    /// A slice ended before its budget without a reason: the driver cut it off.
    SliceCutOff(CutOff),
}

impl<E: core::fmt::Display> core::fmt::Display for VirglError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            VirglError::Transport(e) => write!(f, "virgl transport: {e}"),
            VirglError::TooManyHarts { harts } => write!(
                f,
                "the image asks for {harts} harts; the virgl executor runs at most {MAX_HARTS}"
            ),
            VirglError::SliceCutOff(CutOff { hart, harts, slice }) => write!(
                f,
                "slice cut off by the host GPU driver: hart {hart} ran fewer steps than its slice \
                 of {slice} allows without stopping ({harts} harts affected); use a smaller slice"
            ),
        }
    }
}

/// A virgl context with the runtime's shaders created in it.
pub struct Context<T> {
    transport: T,
    next_resource: u32,
    blocks: [[u32; 3]; 4],
}

impl<T: Transport> Context<T> {
    /// Create the four shaders over `transport` and wait for the host to
    /// accept them (an invalid shader kills the context: that is an error here).
    pub fn new(mut transport: T, shaders: &Shaders) -> Result<Self, VirglError<T::Error>> {
        let mut c = Commands::new();
        for (handle, s) in [
            (RUN_SLICE, &shaders.run_slice),
            (RESOLVE, &shaders.resolve),
            (RUN_VECTOR, &shaders.run_vector),
            (RUN_TENSOR, &shaders.run_tensor),
        ] {
            c.create_compute_shader(handle, s.text, s.tokens, s.shared_bytes);
        }
        transport.submit(c.words()).map_err(VirglError::Transport)?;
        transport.wait().map_err(VirglError::Transport)?;
        Ok(Context {
            transport,
            next_resource: FIRST_RESOURCE,
            blocks: [
                shaders.run_slice.workgroup,
                shaders.resolve.workgroup,
                shaders.run_vector.workgroup,
                shaders.run_tensor.workgroup,
            ],
        })
    }

    /// The transport (for a caller's own resources and timing).
    pub fn transport(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Invocations per `run_slice` workgroup.
    pub fn hart_workgroup(&self) -> u32 {
        self.blocks[0][0]
    }

    fn buffer(&mut self, words: &[u32]) -> Result<Buffer, VirglError<T::Error>> {
        let handle = self.next_resource;
        self.next_resource += 1;
        // Zero-sized bindings are invalid: keep at least one word.
        let words: &[u32] = if words.is_empty() { &[0] } else { words };
        let bytes = (words.len() * 4) as u32;
        let t = &mut self.transport;
        t.create_buffer(handle, bytes)
            .map_err(VirglError::Transport)?;
        t.write(handle, 0, words).map_err(VirglError::Transport)?;
        Ok(Buffer { handle, bytes })
    }
}

#[derive(Clone, Copy, Debug)]
struct Buffer {
    handle: u32,
    bytes: u32,
}

impl Buffer {
    fn binding(self) -> BufferBinding {
        BufferBinding {
            resource: self.handle,
            offset: 0,
            length: self.bytes,
        }
    }

    fn words(self) -> usize {
        self.bytes as usize / 4
    }
}

/// The interpreter's buffers in binding order (interpreter.wgsl @binding 0..=9).
#[derive(Clone, Copy)]
struct Buffers {
    code: Buffer,
    memory: Buffer,
    harts: Buffer,
    mailbox: Buffer,
    control: Buffer,
    counts: Buffer,
    queue: Buffer,
    dispatch: Buffer,
    params: Buffer,
    outbox: Buffer,
}

impl Buffers {
    fn all(&self) -> [Buffer; 10] {
        [
            self.code,
            self.memory,
            self.harts,
            self.mailbox,
            self.control,
            self.counts,
            self.queue,
            self.dispatch,
            self.params,
            self.outbox,
        ]
    }
}

/// A PXI machine living in virgl buffers.
pub struct VirglMachine<'c, T: Transport> {
    ctx: &'c mut Context<T>,
    buffers: Buffers,
    /// One round: run_slice, run_vector and run_tensor (indirect), resolve, with barriers.
    round: Commands,
    memory_words: u32,
    /// Host copy of the code pixels (to predecode what `write_code` changes).
    code: Vec<u32>,
    control: Vec<u32>,
    mailbox: Vec<u32>,
}

impl<'c, T: Transport> VirglMachine<'c, T> {
    /// Upload `image` and its initial state. Whether executions are counted
    /// per code pixel is the context's shaders' choice (`COUNT_EXEC`).
    pub fn new(
        ctx: &'c mut Context<T>,
        image: &Image,
        limits: Limits,
    ) -> Result<Self, VirglError<T::Error>> {
        if image.harts > MAX_HARTS {
            return Err(VirglError::TooManyHarts { harts: image.harts });
        }
        let (mut memory, harts, control_block) = pxi::machine::initial_state(image, limits);
        // The vector pass also sees memory four words at a time.
        memory.resize(memory.len().max(4).next_multiple_of(4), 0);
        let mut code = image.code.clone();
        let predecoded = pxi::isa::predecode(&image.code);
        code.extend(predecoded.pixels);
        code.extend(predecoded.info);
        let control = layout::initial_control(&control_block);
        let params = [image.harts, image.code.len() as u32, image.memory_words];
        let buffers = Buffers {
            code: ctx.buffer(&code)?,
            memory: ctx.buffer(&memory)?,
            harts: ctx.buffer(&harts)?,
            mailbox: ctx.buffer(&vec![0; MAILBOX_WORDS])?,
            control: ctx.buffer(&control)?,
            // Per-pixel counts, then the run counters (shaders::compile::expand_counts).
            counts: ctx.buffer(&vec![0; 3 * image.code.len()])?,
            queue: ctx.buffer(&vec![0; image.harts as usize * Q_ENTRY_WORDS])?,
            dispatch: ctx.buffer(&shaders::layout::PASS_DISPATCHES)?,
            params: ctx.buffer(&params)?,
            outbox: ctx.buffer(&vec![0; image.harts as usize * pxi::mailbox::OUTBOX_WORDS])?,
        };
        let round = round_commands(&buffers, ctx.blocks, image.harts);
        Ok(VirglMachine {
            ctx,
            buffers,
            round,
            memory_words: image.memory_words,
            code: image.code.clone(),
            control,
            mailbox: vec![0; MAILBOX_WORDS],
        })
    }

    fn read(&mut self, buffer: Buffer, words: usize) -> Result<Vec<u32>, VirglError<T::Error>> {
        let mut out = vec![0; words];
        self.ctx
            .transport
            .read(buffer.handle, 0, &mut out)
            .map_err(VirglError::Transport)?;
        Ok(out)
    }

    /// Read every word of the machine state back.
    pub fn read_state(&mut self) -> Result<MachineState, VirglError<T::Error>> {
        let b = self.buffers;
        let mut memory = self.read(b.memory, b.memory.words())?;
        memory.truncate(self.memory_words as usize);
        Ok(MachineState {
            memory,
            harts: self.read(b.harts, b.harts.words())?,
            mailbox: self.read(b.mailbox, MAILBOX_WORDS)?,
            control: self.read(b.control, CONTROL_WORDS)?,
            counts: self.read_counts()?,
        })
    }

    /// Execution counts per code pixel so far (the run counters expanded).
    pub fn read_counts(&mut self) -> Result<Vec<u32>, VirglError<T::Error>> {
        let b = self.buffers.counts;
        let mut counts = self.read(b, b.words())?;
        shaders::compile::expand_counts(&mut counts, &self.code);
        Ok(counts)
    }

    /// Hart words, for trap reports.
    pub fn read_harts(&mut self) -> Result<Vec<u32>, VirglError<T::Error>> {
        let b = self.buffers.harts;
        self.read(b, b.words())
    }
}

/// The commands of one round, reused for every round.
fn round_commands(b: &Buffers, blocks: [[u32; 3]; 4], harts: u32) -> Commands {
    let [slice_block, resolve_block, vector_block, tensor_block] = blocks;
    let all: Vec<BufferBinding> = b.all().iter().map(|b| b.binding()).collect();
    let mut c = Commands::new();
    c.bind_compute_shader(RUN_SLICE);
    c.set_shader_buffers(0, &all);
    c.launch_grid(slice_block, [harts.div_ceil(slice_block[0]), 1, 1]);
    c.memory_barrier();
    c.bind_compute_shader(RUN_VECTOR);
    // vector.wgsl: memory, queue, and memory again as vec4 words.
    c.set_shader_buffers(
        0,
        &[b.memory.binding(), b.queue.binding(), b.memory.binding()],
    );
    c.launch_grid_indirect(vector_block, b.dispatch.handle, 0);
    c.memory_barrier();
    c.bind_compute_shader(RUN_TENSOR);
    c.set_shader_buffers(0, &[b.memory.binding(), b.queue.binding()]);
    c.launch_grid_indirect(
        tensor_block,
        b.dispatch.handle,
        shaders::layout::TENSOR_DISPATCH as u32,
    );
    c.memory_barrier();
    c.bind_compute_shader(RESOLVE);
    c.set_shader_buffers(0, &all);
    c.launch_grid(resolve_block, [1, 1, 1]);
    c.memory_barrier();
    c
}

impl<T: Transport> Executor for VirglMachine<'_, T> {
    type Error = VirglError<T::Error>;

    fn run_batch(&mut self, rounds: u32) -> Result<BatchReport, Self::Error> {
        let mut batch = Commands::new();
        for _ in 0..rounds {
            batch.extend(&self.round);
        }
        let t = &mut self.ctx.transport;
        // A batch after an idle round or an awaited request starts afresh.
        t.write(self.buffers.control.handle, (S_IDLE * 4) as u32, &[0])
            .map_err(VirglError::Transport)?;
        t.submit(batch.words()).map_err(VirglError::Transport)?;
        let b = self.buffers;
        self.control = self.read(b.control, CONTROL_WORDS + SCRATCH_WORDS)?;
        self.mailbox = self.read(b.mailbox, MAILBOX_WORDS)?;
        layout::batch_report(&self.control).map_err(VirglError::SliceCutOff)
    }

    fn mailbox(&mut self) -> &mut [u32] {
        &mut self.mailbox
    }

    fn commit_mailbox(&mut self) -> Result<(), Self::Error> {
        let handle = self.buffers.mailbox.handle;
        self.ctx
            .transport
            .write(handle, 0, &self.mailbox)
            .map_err(VirglError::Transport)
    }

    fn memory_words(&self) -> u32 {
        self.memory_words
    }

    fn counts(&mut self) -> Result<Vec<u32>, Self::Error> {
        self.read_counts()
    }

    fn harts(&mut self) -> Result<Vec<u32>, Self::Error> {
        self.read_harts()
    }

    fn read_memory(&mut self, addr: u32, out: &mut [u32]) -> Result<bool, Self::Error> {
        if addr as u64 + out.len() as u64 > self.memory_words as u64 {
            return Ok(false);
        }
        let handle = self.buffers.memory.handle;
        self.ctx
            .transport
            .read(handle, addr * 4, out)
            .map_err(VirglError::Transport)?;
        Ok(true)
    }

    fn write_memory(&mut self, addr: u32, words: &[u32]) -> Result<bool, Self::Error> {
        if addr as u64 + words.len() as u64 > self.memory_words as u64 {
            return Ok(false);
        }
        let handle = self.buffers.memory.handle;
        self.ctx
            .transport
            .write(handle, addr * 4, words)
            .map_err(VirglError::Transport)?;
        Ok(true)
    }

    /// The run counters are folded into the pixel counts first: they are
    /// expanded along the code they ran.
    fn write_code(&mut self, addr: u32, pixels: &[u32]) -> Result<bool, Self::Error> {
        let mut counts = self.read_counts()?;
        counts.resize(3 * self.code.len(), 0);
        let Some(tables) = pxi::run::code_patch(&mut self.code, addr, pixels) else {
            return Ok(false);
        };
        let counts_handle = self.buffers.counts.handle;
        self.ctx
            .transport
            .write(counts_handle, 0, &counts)
            .map_err(VirglError::Transport)?;
        let handle = self.buffers.code.handle;
        for (offset, words) in tables {
            self.ctx
                .transport
                .write(handle, offset as u32 * 4, &words)
                .map_err(VirglError::Transport)?;
        }
        Ok(true)
    }
}

impl<T: Transport> Drop for VirglMachine<'_, T> {
    fn drop(&mut self) {
        for b in self.buffers.all() {
            // Best effort: a dead transport has nothing left to free.
            let _ = self.ctx.transport.destroy(b.handle);
        }
    }
}
