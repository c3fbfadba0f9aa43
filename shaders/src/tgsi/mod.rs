//! A naga IR → TGSI translator: the runtime's own WGSL, compiled for virgl.
//!
//! virgl (virtio-gpu 3D) takes compute shaders as TGSI text. This module
//! parses and validates a WGSL module with naga, specialises its overrides
//! for one entry point, and lowers the IR to TGSI: every function call is
//! inlined, `switch` becomes a chain of `UIF`s, and `break`/`continue`/
//! `return` that leave several constructs become `BRK`s out of nested
//! `BGNLOOP`s guided by a pending-exit register. Storage and uniform buffers
//! become `BUFFER[binding]` (addresses in bytes), workgroup variables share
//! one `MEMORY[0], SHARED` block, and arrays indexed at run time become
//! indirectly addressed TEMP arrays. Nothing here knows about the pxOS
//! interpreter: a new opcode in the ISA table reaches virgl through the
//! regenerated WGSL alone.
//!
//! The subset covered is what compute shaders of integer code need:
//! u32/i32/bool scalars and small vectors, integer and bit operations,
//! f32 arithmetic and conversions, loops, ifs, switches, storage/uniform
//! buffers, atomics, workgroup memory and barriers. Anything else is an
//! [`Error::Unsupported`] with its source position, never wrong code.

mod expr;
mod lower;
mod text;

use std::fmt;

/// One translated compute entry point.
#[derive(Clone, Debug)]
pub struct Translation {
    /// The TGSI text (without the terminating NUL virgl wants).
    pub text: String,
    /// Fixed workgroup size.
    pub workgroup: [u32; 3],
    /// Shared memory bytes (virgl's `req_local_mem`).
    pub shared_bytes: u32,
    /// Shader buffer slots the shader uses: `@binding(n)` of group 0 is slot `n`
    /// (uniform buffers too: bind them as shader buffers).
    pub buffers: Vec<u32>,
    /// TGSI instructions emitted (a size measure).
    pub instructions: usize,
}

impl Translation {
    /// An upper bound on the TGSI tokens of this shader (virgl's `num_tokens`).
    pub fn token_bound(&self) -> u32 {
        // Every token takes at least two characters of text.
        (self.text.len() / 2 + 64) as u32
    }
}

/// Why a module could not be translated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// WGSL parse error (naga's message, with the position).
    Parse(String),
    /// naga validation error.
    Validate(String),
    /// Override specialisation failed.
    Overrides(String),
    /// No compute entry point of that name.
    NoEntryPoint(String),
    /// A construct outside the supported subset.
    Unsupported {
        /// What it is.
        what: String,
        /// `line:column` in the WGSL source, when known.
        at: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Parse(e) => write!(f, "WGSL parse error: {e}"),
            Error::Validate(e) => write!(f, "WGSL validation error: {e}"),
            Error::Overrides(e) => write!(f, "override specialisation failed: {e}"),
            Error::NoEntryPoint(name) => write!(f, "no compute entry point named `{name}`"),
            Error::Unsupported { what, at } => {
                write!(f, "{at}: the TGSI translator does not support {what}")
            }
        }
    }
}

impl std::error::Error for Error {}

/// Translate entry point `entry` of the WGSL module `source`, with the
/// pipeline-overridable constants `overrides` set (by name).
pub fn translate(
    source: &str,
    entry: &str,
    overrides: &[(&str, f64)],
) -> Result<Translation, Error> {
    let module =
        naga::front::wgsl::parse_str(source).map_err(|e| Error::Parse(e.emit_to_string(source)))?;
    let mut validator = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default(),
    );
    let info = validator
        .validate(&module)
        .map_err(|e| Error::Validate(e.emit_to_string(source)))?;
    let constants: naga::back::PipelineConstants = overrides
        .iter()
        .map(|(name, value)| (name.to_string(), *value))
        .collect();
    let (module, info) = naga::back::pipeline_constants::process_overrides(
        &module,
        &info,
        Some((naga::ShaderStage::Compute, entry)),
        &constants,
    )
    .map_err(|e| Error::Overrides(e.to_string()))?;
    let index = module
        .entry_points
        .iter()
        .position(|ep| ep.name == entry && ep.stage == naga::ShaderStage::Compute)
        .ok_or_else(|| Error::NoEntryPoint(entry.to_string()))?;
    lower::Translator::new(&module, &info, source).entry_point(index)
}

/// The pxOS runtime's three compute shaders, translated.
#[derive(Clone, Debug)]
pub struct RuntimeShaders {
    /// `run_slice` of interpreter.wgsl (one invocation per hart).
    pub run_slice: Translation,
    /// `resolve` of interpreter.wgsl (one workgroup).
    pub resolve: Translation,
    /// `run_vector` of vector.wgsl.
    pub run_vector: Translation,
}

/// Translate the runtime's shaders with `hart_workgroup` invocations per
/// `run_slice` workgroup.
pub fn runtime(hart_workgroup: u32) -> Result<RuntimeShaders, Error> {
    let interpreter = crate::module(crate::INTERPRETER);
    let workgroup = [("WORKGROUP", hart_workgroup as f64)];
    Ok(RuntimeShaders {
        run_slice: translate(&interpreter, "run_slice", &workgroup)?,
        resolve: translate(&interpreter, "resolve", &[])?,
        run_vector: translate(&crate::module(crate::VECTOR), "run_vector", &[])?,
    })
}

#[cfg(test)]
mod tests;
