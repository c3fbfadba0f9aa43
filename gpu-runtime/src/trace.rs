//! A Chrome/Perfetto trace of a run (`pxi-run --trace out.json`).
//!
//! [`Traced`] wraps any executor and records, on a shared timeline:
//! - track "host": every batch (`run_batch`) and the host's turn after it
//!   (mailbox service, idling for input), with the calls serviced by kind;
//! - track "GPU": the executor's own phases ([`Phases`]): for the GPU runtime
//!   the submission, the wait and the readback, and — when the adapter has
//!   timestamp queries — every round and its three dispatches;
//! - track "mailbox": one instant per request as the host first sees it
//!   (call name, hart, sequence number; replies awaited or not), and a
//!   counter of calls per kind;
//! - one track per sampled hart: a slice per batch with the hart's status at
//!   its end, the instructions it ran in the batch and in its last slice.
//!
//! The output is the JSON object format of the Trace Event Format
//! (`{"traceEvents": [...]}`), which ui.perfetto.dev and chrome://tracing open.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use pxi::mailbox::{CALLS, POSTED, REQUEST, SLOT_WORDS, W_ARG0, W_CALL, W_HART, W_SEQ, W_STATE};
use pxi::run::{BatchReport, Executor};
use pxi::state::{H_PC, H_SLICE, H_STATUS, H_STEPS, HART_WORDS};
use serde_json::{Value, json};

/// Process id of every event (one machine per trace).
const PID: u32 = 1;

/// The timeline an event belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Track {
    /// The driver loop: batches and mailbox service.
    Host,
    /// The executor's phases (submission, rounds, dispatches, readback).
    Gpu,
    /// Mailbox requests.
    Mailbox,
    /// One sampled hart.
    Hart(u32),
}

impl Track {
    fn tid(self) -> u32 {
        match self {
            Track::Host => 1,
            Track::Gpu => 2,
            Track::Mailbox => 3,
            Track::Hart(h) => 100 + h,
        }
    }

    fn name(self) -> String {
        match self {
            Track::Host => "host (driver, mailbox service)".into(),
            Track::Gpu => "executor (submissions, rounds, dispatches)".into(),
            Track::Mailbox => "mailbox requests".into(),
            Track::Hart(h) => format!("hart {h}"),
        }
    }
}

/// A timed phase an executor reports about its last batch.
#[derive(Clone, Debug)]
pub struct Phase {
    /// Where it is drawn.
    pub track: Track,
    /// What it was (`submit`, `round 12`, `run_slice`, …).
    pub name: String,
    /// When it began.
    pub start: Instant,
    /// When it ended.
    pub end: Instant,
}

/// Executors that can say how their last batch was spent.
pub trait Phases: Executor {
    /// The phases of the last batch (empty when the executor does not record any).
    fn take_phases(&mut self) -> Vec<Phase>;
}

impl Phases for pxi::Machine {
    fn take_phases(&mut self) -> Vec<Phase> {
        Vec::new()
    }
}

/// Trace events collected so far.
pub struct Trace {
    origin: Instant,
    events: Vec<Value>,
    tracks: HashSet<u32>,
}

impl Default for Trace {
    fn default() -> Self {
        Trace::new()
    }
}

impl Trace {
    /// An empty trace whose time zero is now.
    pub fn new() -> Trace {
        let mut trace = Trace {
            origin: Instant::now(),
            events: Vec::new(),
            tracks: HashSet::new(),
        };
        trace.meta("process_name", 0, json!({ "name": "pxOS machine" }));
        trace
    }

    fn us(&self, t: Instant) -> f64 {
        t.saturating_duration_since(self.origin).as_secs_f64() * 1e6
    }

    fn meta(&mut self, name: &str, tid: u32, args: Value) {
        self.events
            .push(json!({ "name": name, "ph": "M", "pid": PID, "tid": tid, "args": args }));
    }

    fn track(&mut self, track: Track) -> u32 {
        let tid = track.tid();
        if self.tracks.insert(tid) {
            self.meta("thread_name", tid, json!({ "name": track.name() }));
            self.meta("thread_sort_index", tid, json!({ "sort_index": tid }));
        }
        tid
    }

    /// A complete slice (`ph: X`).
    pub fn slice(&mut self, track: Track, name: &str, start: Instant, end: Instant, args: Value) {
        let tid = self.track(track);
        let ts = self.us(start);
        let dur = (self.us(end) - ts).max(0.0);
        self.events.push(json!({
            "name": name, "cat": cat(track), "ph": "X", "pid": PID, "tid": tid,
            "ts": ts, "dur": dur, "args": args,
        }));
    }

    /// An instant event (`ph: i`, thread scope).
    pub fn instant(&mut self, track: Track, name: &str, at: Instant, args: Value) {
        let tid = self.track(track);
        let ts = self.us(at);
        self.events.push(json!({
            "name": name, "cat": cat(track), "ph": "i", "s": "t", "pid": PID, "tid": tid,
            "ts": ts, "args": args,
        }));
    }

    /// A counter sample (`ph: C`): one series per key of `values`.
    pub fn counter(&mut self, name: &str, at: Instant, values: Value) {
        let ts = self.us(at);
        self.events.push(json!({
            "name": name, "ph": "C", "pid": PID, "tid": 0, "ts": ts, "args": values,
        }));
    }

    /// Every event so far.
    pub fn events(&self) -> &[Value] {
        &self.events
    }

    /// The trace as Trace Event Format JSON.
    pub fn to_json(&self) -> String {
        json!({ "traceEvents": self.events, "displayTimeUnit": "ms" }).to_string()
    }

    /// Write the trace to `path`.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.to_json())
    }
}

fn cat(track: Track) -> &'static str {
    match track {
        Track::Host => "host",
        Track::Gpu => "executor",
        Track::Mailbox => "mailbox",
        Track::Hart(_) => "hart",
    }
}

/// The name of call number `call` (`SYS_WRITE`), or `call N` for unknown ones.
pub fn call_name(call: u32) -> String {
    CALLS.iter().find(|(n, _, _)| *n == call).map_or_else(
        || format!("call {call}"),
        |(_, name, _)| (*name).to_string(),
    )
}

fn status_name(status: u32) -> &'static str {
    use pxi::state::*;
    match status {
        HART_FREE => "free",
        HART_RUNNABLE => "runnable",
        HART_SYSCALL => "syscall pending",
        HART_WAITING => "waiting for the host",
        HART_SPAWN => "spawn pending",
        HART_EXITED => "exited",
        HART_TRAPPED => "trapped",
        _ => "unknown",
    }
}

/// An executor whose batches, phases, mailbox requests and sampled harts are
/// recorded into a [`Trace`].
pub struct Traced<'t, X> {
    inner: X,
    trace: &'t mut Trace,
    /// Harts 0..sample get a track each.
    sample: u32,
    /// Step counters of the sampled harts after the previous batch.
    steps: Vec<u32>,
    /// When the host's turn began (end of the last batch), and what it had to service.
    host_turn: Option<(Instant, BTreeMap<String, u32>)>,
    /// Sequence numbers of requests already recorded.
    seen: HashSet<u32>,
    /// Calls per kind so far.
    totals: BTreeMap<String, u32>,
    /// Time spent in the executor (batches, mailbox commits) so far.
    executor_time: Duration,
}

impl<'t, X: Phases> Traced<'t, X> {
    /// Trace `inner`, with a track for each of the first `sample` harts.
    pub fn new(inner: X, trace: &'t mut Trace, sample: u32) -> Self {
        Traced {
            inner,
            trace,
            sample,
            steps: Vec::new(),
            host_turn: None,
            seen: HashSet::new(),
            totals: BTreeMap::new(),
            executor_time: Duration::ZERO,
        }
    }

    /// Time spent in the executor so far: its batches and mailbox commits
    /// (the rest of a run is the host's).
    pub fn executor_time(&self) -> Duration {
        self.executor_time
    }

    /// Close the last host turn and give the executor back.
    pub fn finish(mut self) -> X {
        self.end_host_turn(Instant::now());
        self.inner
    }

    fn end_host_turn(&mut self, now: Instant) {
        if let Some((start, calls)) = self.host_turn.take() {
            let name = if calls.is_empty() {
                "host turn"
            } else {
                "mailbox service"
            };
            self.trace
                .slice(Track::Host, name, start, now, json!({ "requests": calls }));
        }
    }

    /// New mailbox requests, recorded as instants; returns their count per kind.
    fn record_requests(&mut self, at: Instant) -> BTreeMap<String, u32> {
        let mut calls = BTreeMap::new();
        let mailbox = self.inner.mailbox();
        let posted: Vec<[u32; 4]> = mailbox
            .chunks_exact(SLOT_WORDS)
            .filter(|slot| slot[W_STATE] == REQUEST || slot[W_STATE] == POSTED)
            .map(|slot| [slot[W_SEQ], slot[W_HART], slot[W_CALL], slot[W_ARG0]])
            .collect();
        let mut fresh = posted
            .into_iter()
            .filter(|r| self.seen.insert(r[0]))
            .collect::<Vec<_>>();
        fresh.sort_by_key(|r| r[0]);
        for [seq, hart, call, arg0] in fresh {
            let name = call_name(call);
            *calls.entry(name.clone()).or_insert(0) += 1;
            *self.totals.entry(name.clone()).or_insert(0) += 1;
            self.trace.instant(
                Track::Mailbox,
                &name,
                at,
                json!({ "hart": hart, "seq": seq, "r1": arg0 }),
            );
        }
        if !calls.is_empty() {
            self.trace
                .counter("mailbox calls (total)", at, json!(self.totals));
        }
        calls
    }

    fn record_harts(&mut self, start: Instant, end: Instant) -> Result<(), X::Error> {
        if self.sample == 0 {
            return Ok(());
        }
        let harts = self.inner.harts()?;
        let count = (harts.len() / HART_WORDS).min(self.sample as usize);
        self.steps.resize(count, 0);
        for h in 0..count {
            let w = &harts[h * HART_WORDS..(h + 1) * HART_WORDS];
            let ran = w[H_STEPS].wrapping_sub(self.steps[h]);
            self.steps[h] = w[H_STEPS];
            self.trace.slice(
                Track::Hart(h as u32),
                status_name(w[H_STATUS]),
                start,
                end,
                json!({ "steps in batch": ran, "steps in last slice": w[H_SLICE], "pc": w[H_PC] }),
            );
        }
        Ok(())
    }
}

impl<X: Phases> Executor for Traced<'_, X> {
    type Error = X::Error;

    fn run_batch(&mut self, rounds: u32) -> Result<BatchReport, X::Error> {
        let start = Instant::now();
        self.end_host_turn(start);
        let report = self.inner.run_batch(rounds)?;
        let end = Instant::now();
        self.executor_time += end - start;
        self.trace.slice(
            Track::Host,
            "batch",
            start,
            end,
            json!({ "rounds asked": rounds, "rounds so far": report.rounds, "steps so far": report.steps,
                    "status": format!("{:?}", report.status) }),
        );
        for phase in self.inner.take_phases() {
            self.trace
                .slice(phase.track, &phase.name, phase.start, phase.end, json!({}));
        }
        self.record_harts(start, end)?;
        let calls = self.record_requests(end);
        self.host_turn = Some((Instant::now(), calls));
        Ok(report)
    }

    fn mailbox(&mut self) -> &mut [u32] {
        self.inner.mailbox()
    }

    fn commit_mailbox(&mut self) -> Result<(), X::Error> {
        let start = Instant::now();
        let result = self.inner.commit_mailbox();
        self.executor_time += start.elapsed();
        result
    }

    fn memory_words(&self) -> u32 {
        self.inner.memory_words()
    }

    fn counts(&mut self) -> Result<Vec<u32>, X::Error> {
        self.inner.counts()
    }

    fn harts(&mut self) -> Result<Vec<u32>, X::Error> {
        self.inner.harts()
    }

    fn read_memory(&mut self, addr: u32, out: &mut [u32]) -> Result<bool, X::Error> {
        self.inner.read_memory(addr, out)
    }

    fn write_memory(&mut self, addr: u32, words: &[u32]) -> Result<bool, X::Error> {
        self.inner.write_memory(addr, words)
    }

    fn write_code(&mut self, addr: u32, pixels: &[u32]) -> Result<bool, X::Error> {
        self.inner.write_code(addr, pixels)
    }
}
