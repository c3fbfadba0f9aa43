//! The wgpu runtime (issue 4: not written yet).
