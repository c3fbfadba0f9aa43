use gpu_runtime::Gpu;
use gpu_runtime::testing::{run_cpu, run_gpu};
use pxi::isa::{Instruction as I, Op};
use pxi::{Image, Limits};

fn image(code: &[I], memory_words: u32, harts: u32) -> Image {
    let mut pixels = Vec::new();
    for inst in code {
        let (px, n) = inst.encode();
        pixels.extend_from_slice(&px[..n]);
    }
    Image {
        width: 16,
        entry: 0,
        code: pixels,
        memory_words,
        harts,
        segments: vec![],
    }
}

#[test]
fn counting_loop_matches_cpu() {
    let gpu = Gpu::new().expect("GPU adapter");
    eprintln!("adapter: {}", gpu.adapter_name());
    // r1 = 0; r2 = 1000; loop: r1 += 3; r2 -= 1; cmp r2, r0; jne loop; putu r1; halt
    let code = [
        I::new(Op::Li, 1, 0, 0, 0),
        I::new(Op::Li, 2, 0, 0, 1000),
        I::new(Op::Addi, 1, 1, 3, 0),
        I::new(Op::Addi, 2, 2, 0xFF, 0),
        I::new(Op::Cmp, 2, 0, 0, 0),
        I::new(Op::Jne, 0, 0, 0, 4),
        I::new(Op::St, 1, 0, 0, 0),
        I::new(Op::Li, 0, 0, 0, 3),
        I::new(Op::Syscall, 0, 0, 0, 0),
        I::new(Op::Exit, 0, 0, 0, 0),
    ];
    let img = image(&code, 4, 1);
    let limits = Limits {
        slice_steps: 100,
        max_steps: 1 << 20,
    };
    let cpu = run_cpu(&img, limits, 4, b"");
    let t = std::time::Instant::now();
    let gpu_run = run_gpu(&gpu, &img, limits, 4, b"").unwrap();
    eprintln!("first {:?}", t.elapsed());
    let t = std::time::Instant::now();
    let _ = run_gpu(&gpu, &img, limits, 4, b"").unwrap();
    eprintln!("second {:?}", t.elapsed());
    assert_eq!(cpu.output, b"3000");
    assert_eq!(cpu, gpu_run);
}
