//! The TGSI translation and the virgl executor against the CPU interpreter,
//! through virglrenderer's vtest server (llvmpipe here): every example and
//! the generated programs of the wgpu runtime's differential test must end
//! in the same state, word for word.

#[path = "../../gpu-runtime/tests/support/generator.rs"]
#[allow(dead_code)]
mod generator;

use std::sync::{Mutex, MutexGuard, OnceLock};

use gpu_runtime::MachineState as GpuState;
use gpu_runtime::testing::{RunRecord, run_cpu};
use pxi::host::CaptureHost;
use pxi::run::drive;
use pxi::state::HART_WORDS;
use pxi::{Image, Limits};
use virgl::vtest::{Server, Vtest};
use virgl::{Context, Shader, Shaders, VirglError, VirglMachine};

struct Host {
    // Field order: the context closes its connection before the server stops.
    ctx: Context<Vtest>,
    server: Server,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn shader(t: &shaders::tgsi::Translation) -> Shader<'_> {
    Shader {
        text: &t.text,
        tokens: t.token_bound(),
        workgroup: t.workgroup,
        shared_bytes: t.shared_bytes,
    }
}

/// One server and one context for every test: creating the shaders costs
/// the host's GLSL compiler several seconds.
fn host() -> MutexGuard<'static, Host> {
    static HOST: OnceLock<Mutex<Host>> = OnceLock::new();
    HOST.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("pxos-vtest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let server = Server::start(&dir).expect("virgl_test_server (Debian: virgl-server)");
        let translated = shaders::tgsi::runtime(8).expect("the runtime's shaders translate");
        let shaders = Shaders {
            run_slice: shader(&translated.run_slice),
            resolve: shader(&translated.resolve),
            run_vector: shader(&translated.run_vector),
        };
        let start = std::time::Instant::now();
        let vtest = Vtest::connect(server.socket()).unwrap();
        let ctx = Context::new(vtest, &shaders).unwrap_or_else(|e| {
            panic!(
                "the host rejected the translated shaders: {e}\nserver log:\n{}",
                server.log_text()
            )
        });
        eprintln!(
            "virgl context with the runtime's shaders ready in {:.1?} (vtest, llvmpipe)",
            start.elapsed()
        );
        Mutex::new(Host {
            ctx,
            server,
            _dir: TempDir(dir),
        })
    })
    .lock()
    .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn run_virgl(
    host: &mut Host,
    image: &Image,
    limits: Limits,
    rounds_per_batch: u32,
    input: &[u8],
) -> Result<RunRecord, VirglError<std::io::Error>> {
    let mut machine = VirglMachine::new(&mut host.ctx, image, limits, true)?;
    let mut capture = CaptureHost::with_input(input);
    let outcome = drive(&mut machine, &mut capture, rounds_per_batch, |_, _| {})?;
    let s = machine.read_state()?;
    Ok(RunRecord {
        outcome,
        state: GpuState {
            memory: s.memory,
            harts: s.harts,
            mailbox: s.mailbox,
            control: s.control,
            counts: s.counts,
        },
        output: capture.output,
    })
}

fn examples() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pxs"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_matches_the_cpu_interpreter() {
    let mut host = host();
    let paths = examples();
    assert!(paths.len() >= 5, "examples missing: {paths:?}");
    for path in paths {
        let image = pxi_asm::assemble_file(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .image;
        for (slice_steps, batch) in [(8_192, 4), (7, 1)] {
            let limits = Limits {
                slice_steps,
                max_steps: 50_000_000,
            };
            let input = b"help\n";
            let cpu = run_cpu(&image, limits, batch, input);
            let virgl = run_virgl(&mut host, &image, limits, batch, input).unwrap_or_else(|e| {
                panic!(
                    "{}: {e}\nserver log:\n{}",
                    path.display(),
                    host.server.log_text()
                )
            });
            let name = path.display();
            assert_eq!(
                String::from_utf8_lossy(&cpu.output),
                String::from_utf8_lossy(&virgl.output),
                "{name}: output differs"
            );
            assert_eq!(cpu.outcome.stop, virgl.outcome.stop, "{name}: stop differs");
            // Harts polling an atomic that other harts of the same round update
            // (parallel_sum's `aadd` on `done`, the OS's queues) legally see the
            // updates in any order (docs/isa.md, memory model rule 4), so their
            // step counts may differ; the race-free examples match word for word.
            let file = path.file_name().unwrap().to_str().unwrap();
            if ["fib.pxs", "hello.pxs", "vector.pxs"].contains(&file) {
                assert_eq!(cpu, virgl, "{name}: state differs");
            }
        }
    }
}

/// Programs per run; `PXOS_VIRGL_PROGRAMS` raises it.
fn program_count() -> u64 {
    std::env::var("PXOS_VIRGL_PROGRAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

#[test]
fn generated_programs_match() {
    let mut host = host();
    let mut stops = std::collections::BTreeMap::new();
    for seed in 0..program_count() {
        let program = generator::generate(seed);
        let mut rng = generator::Rng::new(seed ^ 0xD1FF);
        let limits = Limits {
            slice_steps: [1, 3, 17, 64, 1000][rng.below(5) as usize],
            max_steps: if rng.chance(20) {
                50 + rng.below(500) as u64
            } else {
                200_000
            },
        };
        let rounds_per_batch = [1, 2, 8][rng.below(3) as usize];
        let mut cpu = run_cpu(&program.image, limits, rounds_per_batch, b"");
        let mut virgl = run_virgl(&mut host, &program.image, limits, rounds_per_batch, b"")
            .unwrap_or_else(|e| {
                panic!("seed {seed}: {e}\nserver log:\n{}", host.server.log_text())
            });
        if program.uses_atomics {
            for run in [&mut cpu, &mut virgl] {
                for hart in run.state.harts.chunks_exact_mut(HART_WORDS) {
                    hart[15] = 0;
                }
            }
        }
        if cpu != virgl {
            let first = |a: &[u32], b: &[u32]| a.iter().zip(b).position(|(x, y)| x != y);
            panic!(
                "seed {seed} ({limits:?}, {rounds_per_batch} rounds/batch) differs:\n\
                 outcome cpu {:?}\n      virgl {:?}\nfirst differing memory word {:?}, \
                 hart word {:?}, count {:?}\ncontrol cpu {:?}\n      virgl {:?}\n{}",
                cpu.outcome,
                virgl.outcome,
                first(&cpu.state.memory, &virgl.state.memory),
                first(&cpu.state.harts, &virgl.state.harts)
                    .map(|i| (i / HART_WORDS, i % HART_WORDS)),
                first(&cpu.state.counts, &virgl.state.counts),
                cpu.state.control,
                virgl.state.control,
                pxi_asm::disassemble(&program.image, None),
            );
        }
        *stops.entry(format!("{:?}", cpu.outcome.stop)).or_insert(0) += 1;
    }
    eprintln!("stop reasons: {stops:?}");
    for reason in ["AllExited", "Trapped", "BudgetExhausted"] {
        assert!(
            stops.keys().any(|k| k.starts_with(reason)),
            "no generated program ended with {reason}: {stops:?}"
        );
    }
}
