//! The TGSI translation and the virgl executor against the CPU interpreter,
//! through virglrenderer's vtest server (llvmpipe here): every example and
//! the generated programs of the wgpu runtime's differential test must end
//! in the same state, word for word.

#[path = "../../gpu-runtime/tests/support/examples.rs"]
mod examples;
#[path = "../../gpu-runtime/tests/support/generator.rs"]
#[allow(dead_code)]
mod generator;

use std::sync::{Mutex, MutexGuard, OnceLock};

use gpu_runtime::testing::{RunRecord, run_cpu};
use pxi::host::CaptureHost;
use pxi::run::drive;
use pxi::state::HART_WORDS;
use pxi::{Image, Limits};
use virgl::vtest::{Server, Vtest, runtime_shaders};
use virgl::{Context, VirglError, VirglMachine};

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

/// One server and one context for every test: creating the shaders costs
/// the host's GLSL compiler several seconds.
fn host() -> MutexGuard<'static, Host> {
    static HOST: OnceLock<Mutex<Host>> = OnceLock::new();
    HOST.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("pxos-vtest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let server = Server::start(&dir).expect("virgl_test_server (Debian: virgl-server)");
        let translated = shaders::tgsi::runtime(8).expect("the runtime's shaders translate");
        let shaders = runtime_shaders(&translated);
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
    Ok(RunRecord {
        outcome,
        state: machine.read_state()?,
        output: capture.output,
    })
}

/// Whether any code pixel decodes to a tensor instruction (the virgl executor
/// has no tensor pass yet and refuses such images).
fn has_tensor_instructions(image: &Image) -> bool {
    (0..image.code.len()).any(|pc| {
        pxi::Instruction::decode(&image.code, pc)
            .is_ok_and(|i| i.op.info().class == pxi::isa::Class::Tensor)
    })
}

#[test]
fn every_example_matches_the_cpu_interpreter() {
    let mut host = host();
    let paths = examples::examples();
    for path in paths {
        let image = pxi_asm::assemble_file(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .image;
        if has_tensor_instructions(&image) {
            let refused = run_virgl(&mut host, &image, Limits::default(), 1, b"");
            assert!(refused.is_err_and(|e| e.to_string().contains("no tensor pass")));
            continue;
        }
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
        let (limits, rounds_per_batch) = generator::run_limits(seed);
        if has_tensor_instructions(&program.image) {
            // No tensor pass on virgl yet: the executor must refuse, not differ.
            let refused = run_virgl(&mut host, &program.image, limits, rounds_per_batch, b"");
            assert!(
                refused.is_err_and(|e| e.to_string().contains("no tensor pass")),
                "seed {seed}"
            );
            continue;
        }
        let mut cpu = run_cpu(&program.image, limits, rounds_per_batch, b"");
        let mut virgl = run_virgl(&mut host, &program.image, limits, rounds_per_batch, b"")
            .unwrap_or_else(|e| {
                panic!("seed {seed}: {e}\nserver log:\n{}", host.server.log_text())
            });
        if program.uses_atomics {
            generator::mask_atomic_scratch(&mut cpu.state.harts);
            generator::mask_atomic_scratch(&mut virgl.state.harts);
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

/// Run a one-buffer compute shader (`@binding(0) var<storage, read_write> out: array<u32>`,
/// entry `main`, one workgroup) on its own virgl context and return the buffer's 64 words.
fn run_snippet(body: &str) -> Vec<u32> {
    use virgl::Transport;
    use virgl::protocol::{BufferBinding, Commands};
    let source = format!("@group(0) @binding(0) var<storage, read_write> out: array<u32>;\n{body}");
    let t =
        shaders::tgsi::translate(&source, "main", &[]).unwrap_or_else(|e| panic!("{e}\n{source}"));
    let host = host();
    let mut v = Vtest::connect(host.server.socket()).unwrap();
    const OUT: u32 = 1;
    v.create_buffer(OUT, 64 * 4).unwrap();
    v.write(OUT, 0, &[0; 64]).unwrap();
    let mut c = Commands::new();
    c.create_compute_shader(1, &t.text, t.token_bound(), t.shared_bytes);
    c.bind_compute_shader(1);
    c.set_shader_buffers(
        0,
        &[BufferBinding {
            resource: OUT,
            offset: 0,
            length: 64 * 4,
        }],
    );
    c.launch_grid(t.workgroup, [1, 1, 1]);
    c.memory_barrier();
    v.submit(c.words()).unwrap();
    let mut words = vec![0; 64];
    v.read(OUT, 0, &mut words).unwrap_or_else(|e| {
        panic!(
            "{e}\nserver log:\n{}\nTGSI:\n{}",
            host.server.log_text(),
            t.text
        )
    });
    words
}

#[test]
fn integer_edge_cases_follow_wgsl() {
    let out = run_snippet(
        "@compute @workgroup_size(1) fn main() {
            var a = i32(out[60]) - 2147483647 - 1; // i32::MIN, opaque to the compiler
            var m1 = i32(out[60]) - 1;
            var z = out[60];
            out[0] = u32(a / m1);          // MIN / -1 = MIN
            out[1] = u32(a % m1);          // 0
            out[2] = 7u / z;               // x / 0 = x
            out[3] = 7u % z;               // x % 0 = 0
            out[4] = u32(-7 / (2 + i32(z)));  // -3
            out[5] = u32(-7 % (2 + i32(z)));  // -1
            out[6] = 1u << (33u + z);      // shift amounts are taken mod 32
            out[7] = u32(i32(-16 - i32(z)) >> (2u + z)); // arithmetic: -4
            out[8] = 0x80000000u >> (31u + z);
            out[9] = u32(i32(z) - 1 < 0) + u32(0xffffffffu + z < 1u) * 2u; // signed vs unsigned
            out[10] = select(5u, 9u, z == 0u);
            out[11] = min(3u + z, 2u) + u32(max(-1, i32(z) - 3) + 2);
        }",
    );
    let expect = [
        i32::MIN as u32,
        0,
        7,
        0,
        (-3i32) as u32,
        (-1i32) as u32,
        2,
        (-4i32) as u32,
        1,
        1,
        9,
        3,
    ];
    assert_eq!(&out[..expect.len()], &expect);
}

#[test]
fn control_flow_exits_leave_the_right_construct() {
    let out = run_snippet(
        "fn find(limit: u32) -> u32 {
            for (var i = 0u; i < 100u; i++) {
                for (var j = 0u; j < 100u; j++) {
                    if (i * j == limit) { return i * 1000u + j; } // leaves two loops
                }
            }
            return 0xffffffffu;
        }
        fn classify(x: u32) -> u32 {
            switch x {
                case 0u, 1u: { return 10u; }
                case 7u: { if (out[63] == 0u) { break; } return 99u; }
                default: { return 30u; }
            }
            return 20u;
        }
        @compute @workgroup_size(1) fn main() {
            out[0] = find(12u); // i = 1, j = 12
            out[1] = classify(0u) + classify(1u) * 100u + classify(7u) * 10000u;
            out[2] = classify(5u);
            var sum = 0u;
            var i = 0u;
            loop {
                i++;
                if (i % 3u == 0u) { continue; }
                if (i > 10u) { break; }
                sum += i;
                continuing { sum += 1000u; }
            }
            out[3] = sum; // 1+2+4+5+7+8+10, plus 1000 per pass through continuing (i = 1..10)
            var n = 0u;
            while (n < 5u) {
                switch n {
                    case 2u: { n += 2u; continue; }
                    default: {}
                }
                n++;
            }
            out[4] = n;
        }",
    );
    assert_eq!(
        &out[..5],
        &[1012, 10 + 1000 + 200000, 30, 37 + 10 * 1000, 5]
    );
}

#[test]
fn atomics_workgroup_memory_and_private_arrays() {
    let out = run_snippet(
        "var<workgroup> total: atomic<u32>;
        var<workgroup> ops: array<atomic<u32>, 5>;
        var<workgroup> lanes: array<u32, 64>;
        var<private> regs: array<u32, 16>;
        @compute @workgroup_size(64) fn main(@builtin(local_invocation_index) lane: u32) {
            if (lane == 0u) { atomicStore(&ops[1], 1000u); }
            workgroupBarrier();
            atomicAdd(&total, lane);
            lanes[lane] = lane * 2u;
            atomicMax(&ops[0], lane);
            atomicMin(&ops[1], lane + 5u);
            atomicOr(&ops[2], 1u << (lane % 32u));
            atomicSub(&ops[3], 1u);
            if (lane == 3u) {
                let r = atomicCompareExchangeWeak(&ops[4], 0u, 42u);
                out[7] = u32(r.exchanged) + r.old_value * 10u;
                for (var r2 = 0u; r2 < 16u; r2++) { regs[r2] = r2 * r2; }
                out[8] = regs[out[60] + 7u] + regs[(out[60] + 20u) & 15u];
            }
            workgroupBarrier();
            if (lane == 0u) {
                out[0] = atomicLoad(&total);
                var s = 0u;
                for (var i = 0u; i < 64u; i++) { s += lanes[i]; }
                out[1] = s;
                for (var i = 0u; i < 5u; i++) { out[2u + i] = atomicLoad(&ops[i]); }
            }
        }",
    );
    assert_eq!(
        &out[..9],
        &[
            2016,
            4032,
            63,
            5,
            u32::MAX,
            64u32.wrapping_neg(),
            42,
            1,
            49 + 16
        ]
    );
}

/// virgl kills a context on a shader it cannot parse; creating the context must say so
/// instead of failing later (or hanging).
#[test]
fn a_shader_the_host_rejects_is_an_error() {
    let host = host();
    let bad = virgl::Shader {
        text: "COMP\nPROPERTY CS_FIXED_BLOCK_WIDTH 1\nNOT_AN_OPCODE TEMP[0].x\nEND\n",
        tokens: 100,
        workgroup: [1, 1, 1],
        shared_bytes: 0,
    };
    let shaders = virgl::Shaders {
        run_slice: bad,
        resolve: bad,
        run_vector: bad,
    };
    let vtest = Vtest::connect(host.server.socket()).unwrap();
    let Err(error) = Context::new(vtest, &shaders) else {
        panic!("the host accepted an invalid shader");
    };
    assert!(error.to_string().contains("rejected a command"), "{error}");
}
