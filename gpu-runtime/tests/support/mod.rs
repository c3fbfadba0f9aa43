// Each test crate uses its own subset of the support modules.
#[allow(dead_code)]
pub mod disk;
#[allow(dead_code)]
pub mod examples;
#[allow(dead_code)]
pub mod generator;
#[allow(dead_code)]
pub mod gpu;
#[allow(dead_code)]
pub mod llama_shapes;
#[allow(dead_code)]
pub mod session;
