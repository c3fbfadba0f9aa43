use super::*;

#[test]
fn dump_runtime() {
    let Ok(dir) = std::env::var("PXOS_TGSI_DUMP") else {
        return;
    };
    let shaders = runtime(8).expect("runtime shaders translate");
    for (name, t) in [
        ("run_slice", &shaders.run_slice),
        ("resolve", &shaders.resolve),
        ("run_vector", &shaders.run_vector),
    ] {
        std::fs::write(format!("{dir}/{name}.tgsi"), &t.text).unwrap();
        eprintln!(
            "{name}: {} instructions, {} shared bytes, buffers {:?}",
            t.instructions, t.shared_bytes, t.buffers
        );
    }
}
