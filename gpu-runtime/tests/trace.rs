//! `pxi-run --trace`: the file is Trace Event Format JSON with the events the
//! run produced (batches, rounds and dispatches, readbacks, mailbox calls by
//! kind, sampled harts), and tracing does not change the run.

use std::collections::BTreeMap;
use std::process::Command;

use gpu_runtime::trace::{Trace, Traced};
use gpu_runtime::{Gpu, GpuMachine, GpuOptions};
use pxi::host::CaptureHost;
use pxi::run::{Stop, drive};
use pxi::{Image, Limits};
use serde_json::Value;

/// Three harts: each writes a line, hart 0 also reads the clock, then all exit.
const PROGRAM: &str = "
.harts 3
.data
line: .string \"hi\\n\"
.code
    li r1, 1
    li r8, worker
    spawn r9, r8, r1
    spawn r9, r8, r1
    li r0, SYS_CLOCK
    syscall
worker:
    li r0, SYS_WRITE
    li r1, line
    li r2, 3
    syscall
    li r0, 0
    exit r0
";

fn image() -> Image {
    pxi_asm::assemble_source("trace.pxs", PROGRAM)
        .unwrap_or_else(|e| panic!("{e}"))
        .image
}

const LIMITS: Limits = Limits {
    slice_steps: 64,
    max_steps: 100_000,
};

/// Every event's required fields have the types the format asks for.
fn check_format(json: &str) -> Vec<Value> {
    let root: Value = serde_json::from_str(json).expect("the trace is JSON");
    let events = root["traceEvents"]
        .as_array()
        .expect("a traceEvents array")
        .clone();
    for e in &events {
        let ph = e["ph"].as_str().expect("every event has a phase");
        assert!(e["name"].is_string(), "{e}");
        assert!(e["pid"].is_u64() && e["tid"].is_u64(), "{e}");
        match ph {
            "M" => assert!(e["args"].is_object(), "{e}"),
            "X" => {
                assert!(e["ts"].as_f64().is_some_and(|t| t >= 0.0), "{e}");
                assert!(e["dur"].as_f64().is_some_and(|d| d >= 0.0), "{e}");
            }
            "i" | "C" => assert!(e["ts"].as_f64().is_some_and(|t| t >= 0.0), "{e}"),
            other => panic!("unexpected phase {other}: {e}"),
        }
    }
    events
}

fn named<'a>(events: &'a [Value], ph: &str, name: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["ph"] == ph && e["name"] == name)
        .collect()
}

fn thread_names(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn trace_records_batches_rounds_mailbox_and_harts() {
    let gpu = Gpu::new().expect("a GPU adapter (lavapipe in CI)");
    eprintln!("adapter: {}", gpu.adapter_name());
    let image = image();
    let plain = gpu_runtime::testing::run_gpu(&gpu, &image, LIMITS, 2, b"").unwrap();

    let mut machine = GpuMachine::new(&gpu, &image, LIMITS, GpuOptions::default()).unwrap();
    machine.record_phases();
    let mut trace = Trace::new();
    let mut traced = Traced::new(machine, &mut trace, 2);
    let mut host = CaptureHost::default();
    let outcome = drive(&mut traced, &mut host, 2, |_, _| {}).unwrap();
    let machine = traced.finish();
    assert_eq!(outcome, plain.outcome, "tracing changed the run");
    assert_eq!(machine.read_state().unwrap(), plain.state);
    assert_eq!(host.output, b"hi\nhi\nhi\n");
    assert_eq!(outcome.stop, Stop::AllExited);

    let events = check_format(&trace.to_json());
    let batches = named(&events, "X", "batch");
    assert_eq!(batches.len(), outcome.batches as usize);
    assert_eq!(
        named(&events, "X", "readback (map)").len(),
        outcome.batches as usize
    );
    // Mailbox calls by kind: three writes and one clock, each seen once.
    let mut calls = BTreeMap::new();
    for e in events.iter().filter(|e| e["ph"] == "i") {
        *calls.entry(e["name"].as_str().unwrap()).or_insert(0) += 1;
    }
    assert_eq!(calls, BTreeMap::from([("SYS_CLOCK", 1), ("SYS_WRITE", 3)]));
    let last_counter = events.iter().rev().find(|e| e["ph"] == "C").unwrap();
    assert_eq!(last_counter["args"]["SYS_WRITE"], 3);
    let served: u64 = named(&events, "X", "mailbox service")
        .iter()
        .flat_map(|e| e["args"]["requests"].as_object().unwrap().values())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(served, 4, "every request is in some service slice");
    // Sampled harts: tracks 0 and 1 only; their steps add up to what they ran.
    let names = thread_names(&events);
    assert!(names.contains(&"hart 0".to_string()) && names.contains(&"hart 1".to_string()));
    assert!(!names.contains(&"hart 2".to_string()), "{names:?}");
    let hart0: u64 = events
        .iter()
        .filter(|e| e["cat"] == "hart" && e["tid"] == 100)
        .map(|e| e["args"]["steps in batch"].as_u64().unwrap())
        .sum();
    let harts = machine.read_harts().unwrap();
    assert_eq!(hart0, harts[pxi::state::H_STEPS] as u64);
    // Rounds and their dispatches, where the adapter can time them.
    if gpu.has_timestamps() {
        for round in 1..=outcome.rounds {
            assert_eq!(
                named(&events, "X", &format!("round {round}")).len(),
                1,
                "round {round}"
            );
        }
        let dispatched = named(&events, "X", "run_slice").len();
        assert!(dispatched >= outcome.rounds as usize);
        assert_eq!(named(&events, "X", "resolve").len(), dispatched);
    } else {
        eprintln!("no timestamp queries on this adapter: rounds not checked");
    }
}

#[test]
fn pxi_run_writes_a_trace_file() {
    let dir = std::env::temp_dir().join(format!("pxi-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("t.pxs");
    std::fs::write(&source, PROGRAM).unwrap();
    for cpu in [false, true] {
        let out = dir.join(format!("trace-{cpu}.json"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pxi-run"));
        cmd.arg("--trace").arg(&out).arg("--trace-harts").arg("3");
        if cpu {
            cmd.arg("--cpu");
        }
        let run = cmd.arg(&source).output().unwrap();
        assert!(run.status.success(), "{run:?}");
        assert_eq!(run.stdout, b"hi\nhi\nhi\n");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(stderr.contains("trace of"), "{stderr}");
        let events = check_format(&std::fs::read_to_string(&out).unwrap());
        assert!(!named(&events, "X", "batch").is_empty());
        assert_eq!(named(&events, "i", "SYS_WRITE").len(), 3);
        assert!(thread_names(&events).contains(&"hart 2".to_string()));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
