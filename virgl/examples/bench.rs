//! The virgl executor measured through virglrenderer's vtest server (the host's GPU driver;
//! llvmpipe here), next to the CPU interpreter, on the GPU runtime's benchmark programs. Prints
//! Markdown for docs/benchmarks.md. `--emit DIR` instead writes those programs as .pxi files,
//! for `microkernel/bench-virgl.sh` to boot them on metal.
//!
//!     cargo run --release -p virgl --features vtest --example bench [-- --emit DIR]

use std::time::{Duration, Instant};

use gpu_runtime::bench::{data_parallel_source, mailbox_source, rounds_source};
use pxi::host::CaptureHost;
use pxi::run::{Executor, Outcome, drive};
use pxi::{Image, Limits, Machine};
use virgl::vtest::{Server, Vtest, runtime_shaders};
use virgl::{Context, Transport, VirglMachine};

/// (file name, source) of every program measured, at full size.
fn programs() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (harts, iterations) in [(1u32, 200_000u32), (64, 20_000), (1024, 2_000)] {
        out.push((
            format!("bench_dp_{harts}.pxi"),
            data_parallel_source(harts, iterations),
        ));
    }
    out.push(("bench_rounds.pxi".to_string(), rounds_source(2000)));
    out.push(("bench_mailbox.pxi".to_string(), mailbox_source(500)));
    out
}

fn assemble(source: &str) -> Image {
    pxi_asm::assemble_source("bench.pxs", source)
        .unwrap_or_else(|e| panic!("{e}"))
        .image
}

fn timed<X: Executor>(executor: &mut X) -> (Outcome, Duration)
where
    X::Error: std::fmt::Display,
{
    let mut host = CaptureHost::with_input(b"");
    let started = Instant::now();
    let outcome = drive(executor, &mut host, 4, |_, _| {}).unwrap_or_else(|e| panic!("{e}"));
    (outcome, started.elapsed())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--emit") {
        let dir = std::path::PathBuf::from(args.get(i + 1).expect("--emit DIR"));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, source) in programs() {
            std::fs::write(dir.join(&name), assemble(&source).encode_png()).unwrap();
            println!("{}", dir.join(name).display());
        }
        return;
    }
    let dir = std::env::temp_dir().join(format!("pxos-virgl-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let server = Server::start(&dir).expect("virgl_test_server");
    let translated = shaders::tgsi::runtime(8).expect("shaders translate");
    let shaders = runtime_shaders(&translated);
    let mut ctx = Context::new(Vtest::connect(server.socket()).unwrap(), &shaders)
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log_text()));
    let limits = Limits {
        slice_steps: 8192,
        max_steps: u64::MAX,
    };
    println!(
        "virgl through vtest (virgl_test_server --use-egl-surfaceless, Mesa llvmpipe), slice 8192, 4 rounds per batch\n"
    );
    println!(
        "| program | steps | CPU interpreter Minstr/s | virgl Minstr/s | virgl rounds | µs per round |"
    );
    println!("|---|---|---|---|---|---|");
    for (name, source) in programs() {
        let image = assemble(&source);
        let (cpu, cpu_time) = timed(&mut Machine::new(&image, limits));
        // The first run of a machine compiles nothing new (shaders are per context) but
        // warms the host's caches; report the second.
        for pass in 0..2 {
            let mut machine = VirglMachine::new(&mut ctx, &image, limits, false).unwrap();
            let (virgl, time) = timed(&mut machine);
            assert_eq!(cpu.stop, virgl.stop, "{name}");
            if pass == 1 {
                let mips = |steps: u64, t: Duration| steps as f64 / t.as_secs_f64() / 1e6;
                println!(
                    "| {name} | {} | {:.1} | {:.1} | {} | {:.0} |",
                    virgl.steps,
                    mips(cpu.steps, cpu_time),
                    mips(virgl.steps, time),
                    virgl.rounds,
                    time.as_secs_f64() * 1e6 / virgl.rounds as f64
                );
            }
        }
    }
    let transport = ctx.transport();
    let trips = 200;
    let started = Instant::now();
    for _ in 0..trips {
        transport.submit(&[]).unwrap();
        transport.wait().unwrap();
    }
    println!(
        "\nEmpty submission → wait round trip (vtest): {:.0} µs",
        started.elapsed().as_secs_f64() * 1e6 / trips as f64
    );
    let _ = std::fs::remove_dir_all(&dir);
}
