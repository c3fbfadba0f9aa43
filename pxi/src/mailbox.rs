//! The mailbox: how harts ask the CPU host for privileged work.
//!
//! One definition, shared by the CPU interpreter, the wgpu host runtime and
//! the microkernel. The mailbox is a fixed array of [`SLOTS`] slots of
//! [`SLOT_WORDS`] words each, stored as plain `u32` words so that a GPU buffer
//! and a CPU `Vec` hold the very same bytes. See `docs/mailbox.md`.
//!
//! Life of a request:
//! 1. A hart executes `syscall`; it becomes *pending* with `pc` still on the
//!    `syscall` pixel.
//! 2. At the end of the round, pending harts are posted in hart-id order into
//!    free slots (`state` = [`REQUEST`], `seq` = a global sequence number).
//!    If no slot is free the hart simply stays pending: nothing is lost.
//! 3. Between batches of rounds the host calls [`service`], which handles
//!    requests in `seq` order and marks them [`REPLIED`] with a result, or
//!    leaves them for later (e.g. no input yet).
//! 4. When the hart is next scheduled it takes the result into `r0`, frees
//!    the slot and continues after the `syscall`.
//!
//! Calls whose result is known from their arguments alone ([`needs_reply`] is
//! false: console output) do not end the slice: the hart takes the result at
//! once and the request waits in the hart's *outbox* ([`OUTBOX_CALLS`]
//! entries) until the end of the round, where it is posted as [`POSTED`] ahead
//! of anything else the hart posts; the host services it and frees the slot.
//! A full outbox makes the call an ordinary one (the hart waits for a reply).

/// Number of mailbox slots.
pub const SLOTS: usize = 32;
/// Payload words per slot (bytes of a `write`, 4 per word, little-endian).
pub const PAYLOAD_WORDS: usize = 64;
/// Largest `write` serviced in one request, in bytes.
pub const PAYLOAD_BYTES: u32 = (PAYLOAD_WORDS * 4) as u32;
/// Words per slot.
pub const SLOT_WORDS: usize = 8 + PAYLOAD_WORDS;
/// Words in the whole mailbox.
pub const MAILBOX_WORDS: usize = SLOTS * SLOT_WORDS;

/// Slot word: [`FREE`], [`REQUEST`] or [`REPLIED`].
pub const W_STATE: usize = 0;
/// Slot word: global sequence number of the request.
pub const W_SEQ: usize = 1;
/// Slot word: id of the requesting hart.
pub const W_HART: usize = 2;
/// Slot word: call number (the hart's `r0`).
pub const W_CALL: usize = 3;
/// Slot words: arguments (the hart's `r1`..`r3`).
pub const W_ARG0: usize = 4;
/// Second argument.
pub const W_ARG1: usize = 5;
/// Third argument.
pub const W_ARG2: usize = 6;
/// Slot word: the result (becomes the hart's `r0`).
pub const W_RESULT: usize = 7;
/// First payload word.
pub const W_PAYLOAD: usize = 8;

/// Slot state: empty.
pub const FREE: u32 = 0;
/// Slot state: posted by a hart, waiting for the host.
pub const REQUEST: u32 = 1;
/// Slot state: answered by the host, waiting for the hart.
pub const REPLIED: u32 = 2;
/// Slot state: posted by a hart that does not wait for a reply; the host
/// services it and sets it [`FREE`].
pub const POSTED: u32 = 3;

/// Calls one hart can have posted without a reply before the end of a round.
pub const OUTBOX_CALLS: usize = 4;
/// Words per outbox entry: call, `r1`..`r3`, payload.
pub const OUTBOX_ENTRY_WORDS: usize = 4 + PAYLOAD_WORDS;
/// Words of one hart's outbox: the number of entries, then the entries.
pub const OUTBOX_WORDS: usize = 1 + OUTBOX_CALLS * OUTBOX_ENTRY_WORDS;

/// Result: the call number is unknown.
pub const ERR_NOSYS: u32 = 0xFFFF_FFFE;
/// Result: an argument points outside data memory.
pub const ERR_FAULT: u32 = 0xFFFF_FFFD;
/// Result of `getc` at end of input.
pub const EOF: u32 = 0xFFFF_FFFF;
/// Result: no such device (or device-table field).
pub const ERR_NODEV: u32 = 0xFFFF_FFFC;
/// Result: a register access outside the regions the device was granted
/// (or a bad width or alignment).
pub const ERR_DENIED: u32 = 0xFFFF_FFFB;
/// Result of `SYS_DEVWAIT` when the device did not complete in time.
pub const ERR_TIMEOUT: u32 = 0xFFFF_FFFA;
/// How long `SYS_DEVKICK` waits for the device's completion, in microseconds.
pub const KICK_TIMEOUT_US: u32 = 2_000_000;
/// Result of `SYS_LOAD`: the bytes are no PXI image (no PNG, or not an RGBA8 PXI).
pub const ERR_NOTPXI: u32 = 0xFFFF_FFF9;
/// Result of `SYS_LOAD`: a PXI image, but damaged (CRC, Adler-32, header, truncated).
pub const ERR_CORRUPT: u32 = 0xFFFF_FFF8;
/// Result of `SYS_LOAD`: its code or data window does not fit the room given.
pub const ERR_TOOBIG: u32 = 0xFFFF_FFF7;

/// Result values and device-table constants, predefined by the assembler
/// (`MB_` keeps them apart from the OS's own error names).
pub const DEVICE_CONSTANTS: &[(&str, u32, &str)] = &[
    ("MB_EOF", EOF, "result: end of input (SYS_GETC)"),
    (
        "MB_NOSYS",
        ERR_NOSYS,
        "result: unknown call, or no such device on this host",
    ),
    (
        "MB_FAULT",
        ERR_FAULT,
        "result: an argument points outside data memory",
    ),
    (
        "MB_NODEV",
        ERR_NODEV,
        "result: no such device or device-table field",
    ),
    (
        "MB_DENIED",
        ERR_DENIED,
        "result: register access outside the granted region, or bad width/alignment",
    ),
    ("MB_TIMEOUT", ERR_TIMEOUT, "result: SYS_DEVWAIT timed out"),
    (
        "MB_NOTPXI",
        ERR_NOTPXI,
        "result: SYS_LOAD found no PXI image",
    ),
    (
        "MB_CORRUPT",
        ERR_CORRUPT,
        "result: SYS_LOAD found a damaged PXI image",
    ),
    (
        "MB_TOOBIG",
        ERR_TOOBIG,
        "result: SYS_LOAD: the code or data window does not fit",
    ),
    (
        "DEV_KICK_US",
        KICK_TIMEOUT_US,
        "SYS_DEVKICK: microseconds it waits for the completion",
    ),
    (
        "DEV_VIRTIO_BLK",
        crate::devices::KIND_VIRTIO_BLK,
        "device kind: virtio block device",
    ),
    (
        "DEV_KIND",
        crate::devices::INFO_KIND,
        "SYS_DEVINFO field: device kind",
    ),
    (
        "DEV_IRQ",
        crate::devices::INFO_IRQ,
        "SYS_DEVINFO field: interrupt line",
    ),
    (
        "DEV_REGIONS",
        crate::devices::INFO_REGIONS,
        "SYS_DEVINFO field: number of register regions",
    ),
    (
        "DEV_REGION_LEN",
        crate::devices::INFO_REGION_LEN,
        "SYS_DEVINFO field: + i = length of region i in bytes",
    ),
];

use crate::devices::{DeviceError, Devices, DmaMap, Wait};

macro_rules! syscalls {
    ($( $variant:ident = $num:literal, $name:literal, $doc:literal; )*) => {
        /// Calls the host services (`r0` of a `syscall`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u32)]
        pub enum Call {
            $( #[doc = $doc] $variant = $num, )*
        }

        /// (number, name, documentation) of every call, for docs and assemblers.
        pub const CALLS: &[(u32, &str, &str)] = &[ $( ($num, $name, $doc), )* ];

        impl Call {
            /// Decode a call number.
            pub const fn from_u32(n: u32) -> Option<Call> {
                match n { $( $num => Some(Call::$variant), )* _ => None }
            }
        }
    };
}

syscalls! {
    Halt  = 0, "SYS_HALT",  "Stop the whole machine with exit status `r1`. Never returns.";
    Putc  = 1, "SYS_PUTC",  "Write the byte `r1` to the console. Returns 0.";
    Write = 2, "SYS_WRITE", "Write `r2` bytes (at most 256) packed little-endian from word address `r1`. Returns the bytes written, or ERR_FAULT.";
    PutU  = 3, "SYS_PUTU",  "Write `r1` as an unsigned decimal number. Returns 0.";
    Clock = 4, "SYS_CLOCK", "Returns the host clock in microseconds since start (low 32 bits).";
    Getc  = 5, "SYS_GETC",  "Read one byte of console input; waits until one arrives. Returns it, or EOF (0xFFFFFFFF) at end of input.";
    Heat  = 7, "SYS_HEAT",  "Profiling: returns the code address (`r2` = 0) or the execution count (`r2` = 1) of the `r1`-th most executed code pixel so far (0 = hottest; ties go to the lower address), or EOF when fewer pixels have run. Counts are taken at the end of the batch.";
    Load  = 8, "SYS_LOAD",  "Load a `.pxi` image from data memory (CPU-side decode): `r1` = address of a LD_WORDS-word block (bytes, length, code place and room, data place and room; out: code length, entry, memory words, initial data words), `r2` = LD_PROBE or LD_INSTALL. Returns 0, MB_NOTPXI, MB_CORRUPT, MB_TOOBIG or MB_FAULT. See docs/mailbox.md.";
    Read  = 9, "SYS_READ",  "Read console input into word address `r1`: up to `r2` bytes (at most 256), packed little-endian four to a word, the rest of the last word zero. Waits until at least one byte arrives, then takes what has arrived. Returns the bytes read (0 when `r2` is 0), EOF at end of input, or ERR_FAULT.";
    Blit  = 6, "SYS_BLIT",  "Draw `r2` (at most 64) 0xAARRGGBB pixels from word address `r1` in a row on the screen, starting at x = `r3` & 0xFFFF, y = `r3` >> 16. Returns the pixels drawn, ERR_FAULT, or ERR_NOSYS when the host has no screen.";
    DevInfo  = 16, "SYS_DEVINFO",  "Device table: field `r2` (DEV_KIND, DEV_IRQ, DEV_REGIONS, DEV_REGION_LEN + i) of device `r1`. Returns the value, or ERR_NODEV past the table.";
    DevRead  = 17, "SYS_DEVREAD",  "Read a device register: `r1` = device | region << 8 | width << 16 (width 1, 2 or 4 bytes), `r2` = byte offset in the region. Returns the value, ERR_NODEV, or ERR_DENIED outside the granted region or misaligned.";
    DevWrite = 18, "SYS_DEVWRITE", "Write `r3` to a device register: `r1` and `r2` as for SYS_DEVREAD. Returns 0, ERR_NODEV or ERR_DENIED.";
    Dma      = 19, "SYS_DMA",      "Device-visible (bus) address of the `r2` data words at word address `r1` (low 32 bits; the high half is 0), or ERR_FAULT when the range is outside data memory.";
    DevWait  = 20, "SYS_DEVWAIT",  "Wait up to `r2` microseconds for device `r1` to signal completion; returns its interrupt status (non-zero, now acknowledged), ERR_TIMEOUT or ERR_NODEV.";
    DevKick  = 21, "SYS_DEVKICK",  "Write `r3` to a device register (`r1` and `r2` as for SYS_DEVWRITE), then wait as SYS_DEVWAIT does, up to DEV_KICK_US microseconds, for that device to signal completion: one request where SYS_DEVWRITE and SYS_DEVWAIT take two. Returns the interrupt status (non-zero, now acknowledged), ERR_TIMEOUT, ERR_NODEV, or ERR_DENIED (nothing written).";
}

/// One console-input poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// A byte arrived.
    Byte(u8),
    /// No input yet; ask again later (the hart keeps waiting).
    NotYet,
    /// Input is closed.
    Eof,
}

/// One console-input poll for several bytes (`SYS_READ`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received {
    /// This many bytes (at least one) arrived.
    Bytes(usize),
    /// No input yet; ask again later (the hart keeps waiting).
    NotYet,
    /// Input is closed.
    Eof,
}

/// The devices behind the mailbox, implemented by each host (std process,
/// test harness, microkernel).
pub trait Host {
    /// Write console output.
    fn write(&mut self, bytes: &[u8]);
    /// Microseconds since the machine started.
    fn clock_us(&mut self) -> u64;
    /// Poll console input.
    fn read_byte(&mut self) -> Input;
    /// Poll console input for up to `buf.len()` bytes: what has arrived, without
    /// waiting for more once one byte is there. The default polls
    /// [`Host::read_byte`] until it has no byte (end of input after some bytes
    /// is reported by the next poll, so `read_byte` must keep answering
    /// [`Input::Eof`] once input has ended). A host whose `read_byte` blocks
    /// (a terminal) overrides it with one blocking read.
    fn read_bytes(&mut self, buf: &mut [u8]) -> Received {
        let mut n = 0;
        for byte in buf.iter_mut() {
            match self.read_byte() {
                Input::Byte(b) => *byte = b,
                Input::NotYet => break,
                Input::Eof if n == 0 => return Received::Eof,
                Input::Eof => break,
            }
            n += 1;
        }
        if n == 0 {
            Received::NotYet
        } else {
            Received::Bytes(n)
        }
    }
    /// Nothing can progress until input arrives: wait a little (or `hlt`).
    fn idle(&mut self) {}
    /// Draw a row of 0xAARRGGBB `pixels` at (`x`, `y`); false when there is no screen.
    fn blit(&mut self, x: u32, y: u32, pixels: &[u32]) -> bool {
        let _ = (x, y, pixels);
        false
    }
    /// The devices granted to pixel drivers; `None` when there are none.
    fn devices(&mut self) -> Option<&mut Devices> {
        None
    }
}

/// What one call to [`service`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Serviced {
    /// Requests answered.
    pub replied: u32,
    /// Requests left waiting (e.g. `getc` with no input yet).
    pub waiting: u32,
    /// Posted requests (no reply) serviced and freed.
    pub freed: u32,
    /// Set when a hart asked to halt the machine: its exit status.
    pub halt: Option<u32>,
    /// Slots (bit `i` = slot `i`) whose reply carries bytes in its payload
    /// for the driver to copy into data memory at `r1` (`SYS_READ`; see
    /// [`reply_words`]).
    pub filled: u32,
}

impl Serviced {
    /// This service followed by `later`, a second one over the same mailbox:
    /// the requests both answered, freed or filled, and what `later` left
    /// waiting or halted with.
    pub fn then(self, later: Serviced) -> Serviced {
        Serviced {
            replied: self.replied + later.replied,
            waiting: later.waiting,
            freed: self.freed + later.freed,
            halt: later.halt,
            filled: self.filled | later.filled,
        }
    }
}

/// Whether a posted request needs the executor's execution counts ([`Call::Heat`]).
pub fn wants_counts(mailbox: &[u32]) -> bool {
    mailbox
        .chunks_exact(SLOT_WORDS)
        .any(|slot| slot[W_STATE] == REQUEST && slot[W_CALL] == Call::Heat as u32)
}

/// Handle every posted request in `mailbox`, oldest first.
///
/// `memory_words` is the data memory size, used to reject `write`s that point
/// outside memory with [`ERR_FAULT`]. `counts` are the executor's execution
/// counts, when a request asked for them ([`wants_counts`]). Stops at a halt
/// request (later ones stay posted).
pub fn service(
    mailbox: &mut [u32],
    memory_words: u32,
    counts: Option<&[u32]>,
    host: &mut impl Host,
) -> Serviced {
    let mut done = Serviced::default();
    let mut order: [(u32, usize); SLOTS] = [(0, 0); SLOTS];
    let mut posted = 0;
    for (i, slot) in mailbox.chunks_exact(SLOT_WORDS).enumerate() {
        if slot[W_STATE] == REQUEST || slot[W_STATE] == POSTED {
            order[posted] = (slot[W_SEQ], i);
            posted += 1;
        }
    }
    let order = &mut order[..posted];
    // Sequence numbers wrap; outstanding ones are within SLOTS of each other,
    // so the signed distance from any one of them orders them all.
    let reference = order.first().map_or(0, |&(seq, _)| seq);
    let key = |&(seq, _): &(u32, usize)| seq.wrapping_sub(reference) as i32;
    // Insertion sort: at most SLOTS entries, and far less code than slice::sort
    // in the microkernel's dispatch core.
    for i in 1..order.len() {
        let mut j = i;
        while j > 0 && key(&order[j - 1]) > key(&order[j]) {
            order.swap(j - 1, j);
            j -= 1;
        }
    }
    for &(_, i) in order.iter() {
        let slot = &mut mailbox[i * SLOT_WORDS..(i + 1) * SLOT_WORDS];
        let (arg0, arg1) = (slot[W_ARG0], slot[W_ARG1]);
        let result = match Call::from_u32(slot[W_CALL]) {
            Some(Call::Halt) => {
                done.halt = Some(arg0);
                return done;
            }
            Some(Call::Putc) => {
                host.write(&[arg0 as u8]);
                Some(0)
            }
            Some(Call::Write) => Some(write_payload(slot, arg0, arg1, memory_words, host)),
            Some(Call::Blit) => Some(blit_payload(
                slot,
                arg0,
                arg1,
                slot[W_ARG2],
                memory_words,
                host,
            )),
            Some(Call::PutU) => {
                let mut digits = [0u8; 10];
                host.write(format_u32(arg0, &mut digits));
                Some(0)
            }
            Some(Call::Clock) => Some(host.clock_us() as u32),
            Some(Call::Getc) => match host.read_byte() {
                Input::Byte(b) => Some(b as u32),
                Input::Eof => Some(EOF),
                Input::NotYet => None,
            },
            Some(Call::Read) => {
                let result = read_input(slot, arg0, arg1, memory_words, host);
                // Bytes were read (not 0, EOF or ERR_FAULT): the driver delivers them.
                if matches!(result, Some(1..=PAYLOAD_BYTES)) {
                    done.filled |= 1 << i;
                }
                result
            }
            Some(Call::Heat) => Some(counts.map_or(ERR_NOSYS, |c| hottest(c, arg0, arg1))),
            // Needs the executor's memory and code: `pxi::run::drive` answers it.
            Some(Call::Load) => continue,
            Some(
                call @ (Call::DevInfo
                | Call::DevRead
                | Call::DevWrite
                | Call::Dma
                | Call::DevWait
                | Call::DevKick),
            ) => device_call(call, slot, memory_words, host),
            None => Some(ERR_NOSYS),
        };
        match result {
            Some(_) if slot[W_STATE] == POSTED => {
                slot[W_STATE] = FREE;
                done.freed += 1;
            }
            Some(value) => {
                slot[W_RESULT] = value;
                slot[W_STATE] = REPLIED;
                done.replied += 1;
            }
            None => done.waiting += 1,
        }
    }
    done
}

/// The device calls; `None` keeps a `SYS_DEVWAIT` or `SYS_DEVKICK` waiting.
fn device_call(call: Call, slot: &[u32], memory_words: u32, host: &mut impl Host) -> Option<u32> {
    let (arg0, arg1, arg2, seq) = (slot[W_ARG0], slot[W_ARG1], slot[W_ARG2], slot[W_SEQ]);
    let now = if matches!(call, Call::DevWait | Call::DevKick) {
        host.clock_us()
    } else {
        0
    };
    let Some(devices) = host.devices() else {
        return Some(ERR_NODEV);
    };
    let error = |e| match e {
        DeviceError::NoDevice => ERR_NODEV,
        DeviceError::Denied => ERR_DENIED,
    };
    match call {
        Call::DevInfo => Some(devices.info(arg0, arg1).unwrap_or_else(error)),
        Call::DevRead => Some(devices.read(arg0, arg1).unwrap_or_else(error)),
        Call::DevWrite => Some(devices.write(arg0, arg1, arg2).map_or_else(error, |()| 0)),
        Call::Dma => {
            let map = DmaMap {
                base: devices.dma_base,
                memory_words,
            };
            Some(map.bus_address(arg0, arg1).map_or(ERR_FAULT, |a| a as u32))
        }
        Call::DevKick => {
            // The first service of the request writes; later ones (still waiting) only wait.
            if !devices.waiting(seq)
                && let Err(e) = devices.write(arg0, arg1, arg2)
            {
                return Some(error(e));
            }
            wait_result(devices.wait(seq, arg0 & 0xFF, KICK_TIMEOUT_US, now))
        }
        _ => wait_result(devices.wait(seq, arg0, arg1, now)),
    }
}

/// A wait's answer as a call result; `None` keeps the request waiting.
fn wait_result(wait: Wait) -> Option<u32> {
    match wait {
        Wait::Done(status) => Some(status),
        Wait::Pending => None,
        Wait::TimedOut => Some(ERR_TIMEOUT),
        Wait::NoDevice => Some(ERR_NODEV),
    }
}

fn write_payload(
    slot: &[u32],
    addr: u32,
    len: u32,
    memory_words: u32,
    host: &mut impl Host,
) -> u32 {
    if payload_faults(Call::Write as u32, addr, len, memory_words) {
        return ERR_FAULT;
    }
    let len = payload_units(Call::Write as u32, len);
    let mut bytes = [0u8; PAYLOAD_BYTES as usize];
    for (chunk, word) in bytes.chunks_exact_mut(4).zip(&slot[W_PAYLOAD..]) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    host.write(&bytes[..len as usize]);
    len
}

/// `SYS_READ`: console input into the slot's payload; `None` keeps it waiting.
fn read_input(
    slot: &mut [u32],
    addr: u32,
    len: u32,
    memory_words: u32,
    host: &mut impl Host,
) -> Option<u32> {
    let len = len.min(PAYLOAD_BYTES);
    if addr as u64 + len.div_ceil(4) as u64 > memory_words as u64 {
        return Some(ERR_FAULT);
    }
    if len == 0 {
        return Some(0);
    }
    let mut bytes = [0u8; PAYLOAD_BYTES as usize];
    let n = match host.read_bytes(&mut bytes[..len as usize]) {
        Received::Bytes(n) => n.min(len as usize),
        Received::NotYet => return None,
        Received::Eof => return Some(EOF),
    };
    for (word, chunk) in slot[W_PAYLOAD..].iter_mut().zip(bytes[..n].chunks(4)) {
        let mut le = [0u8; 4];
        le[..chunk.len()].copy_from_slice(chunk);
        *word = u32::from_le_bytes(le);
    }
    Some(n as u32)
}

/// The payload words of a replied `SYS_READ` (slot `i` of [`Serviced::filled`])
/// and the data address they belong at.
pub fn reply_words(mailbox: &[u32], i: usize) -> (u32, &[u32]) {
    let slot = &mailbox[i * SLOT_WORDS..(i + 1) * SLOT_WORDS];
    let words = slot[W_RESULT].min(PAYLOAD_BYTES).div_ceil(4) as usize;
    (slot[W_ARG0], &slot[W_PAYLOAD..W_PAYLOAD + words])
}

fn blit_payload(
    slot: &[u32],
    addr: u32,
    len: u32,
    at: u32,
    memory_words: u32,
    host: &mut impl Host,
) -> u32 {
    if payload_faults(Call::Blit as u32, addr, len, memory_words) {
        return ERR_FAULT;
    }
    let words = payload_words(Call::Blit as u32, len);
    let pixels = &slot[W_PAYLOAD..W_PAYLOAD + words as usize];
    if host.blit(at & 0xFFFF, at >> 16, pixels) {
        words
    } else {
        ERR_NOSYS
    }
}

/// The code address (`what` = 0) or count (`what` = 1) of the `rank`-th most
/// executed pixel (ties to the lower address), or [`EOF`].
fn hottest(counts: &[u32], rank: u32, what: u32) -> u32 {
    // Selection by repeated maximum: ranks asked for are small (a shell's top five).
    let mut previous: Option<(usize, u32)> = None;
    for _ in 0..=rank {
        // The next pixel in (count descending, address ascending) order after `previous`.
        let next = counts
            .iter()
            .copied()
            .enumerate()
            .filter(|&(pc, c)| {
                c > 0 && previous.is_none_or(|(pc0, c0)| c < c0 || (c == c0 && pc > pc0))
            })
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)));
        match next {
            Some(found) => previous = Some(found),
            None => return EOF,
        }
    }
    match previous {
        Some((pc, _)) if what == 0 => pc as u32,
        Some((_, count)) => count,
        None => EOF,
    }
}

/// Decimal digits of `value` in `buf`.
pub fn format_u32(mut value: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            return &buf[i..];
        }
    }
}

/// What posting a call copies from memory (at `r1`, `r2` units long).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Nothing.
    None,
    /// Bytes, packed four to a word, at most [`PAYLOAD_BYTES`].
    Bytes,
    /// Whole words (pixels), at most [`PAYLOAD_WORDS`].
    Words,
}

impl Call {
    /// What posting this call copies from memory.
    pub const fn payload(self) -> Payload {
        match self {
            Call::Write => Payload::Bytes,
            Call::Blit => Payload::Words,
            _ => Payload::None,
        }
    }

    /// Whether the caller must wait for the host's answer. Calls whose result
    /// follows from their arguments (console output) do not: they are posted
    /// without ending the slice (see [`posted_result`]). `SYS_BLIT` does, as
    /// its result says whether the host has a screen at all.
    pub const fn needs_reply(self) -> bool {
        !matches!(self, Call::Putc | Call::PutU | Call::Write)
    }
}

/// Whether call number `call` needs a reply (unknown numbers do: `ERR_NOSYS`).
pub fn needs_reply(call: u32) -> bool {
    Call::from_u32(call).is_none_or(Call::needs_reply)
}

/// Units (bytes or words) of payload call `call` takes with length argument `len`.
pub fn payload_units(call: u32, len: u32) -> u32 {
    match Call::from_u32(call).map(Call::payload) {
        Some(Payload::Bytes) => len.min(PAYLOAD_BYTES),
        Some(Payload::Words) => len.min(PAYLOAD_WORDS as u32),
        _ => 0,
    }
}

/// Number of payload words copied from memory (at `r1`) when a hart posts
/// call `call` with length argument `len` (`r2`): the bytes of a `write`, the
/// pixels of a `blit`, nothing for other calls.
pub fn payload_words(call: u32, len: u32) -> u32 {
    match Call::from_u32(call).map(Call::payload) {
        Some(Payload::Bytes) => payload_units(call, len).div_ceil(4),
        _ => payload_units(call, len),
    }
}

/// Whether the payload of `call` at word `addr` lies outside `memory_words`.
pub fn payload_faults(call: u32, addr: u32, len: u32, memory_words: u32) -> bool {
    addr as u64 + payload_words(call, len) as u64 > memory_words as u64
}

/// The result a call that needs no reply returns at once: [`ERR_FAULT`] when
/// its payload lies outside memory, else its payload units (the bytes a
/// `write` writes; 0 for `putc` and `putu`) — what the host answers.
pub fn posted_result(call: u32, addr: u32, len: u32, memory_words: u32) -> u32 {
    if payload_faults(call, addr, len, memory_words) {
        ERR_FAULT
    } else {
        payload_units(call, len)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    struct Recorder {
        out: Vec<u8>,
        input: Vec<Input>,
    }

    impl Host for Recorder {
        fn write(&mut self, bytes: &[u8]) {
            self.out.extend_from_slice(bytes);
        }
        fn clock_us(&mut self) -> u64 {
            1234
        }
        fn read_byte(&mut self) -> Input {
            if self.input.is_empty() {
                Input::Eof
            } else {
                self.input.remove(0)
            }
        }
    }

    /// Post request `seq` of `call` with `args` in mailbox slot `slot`.
    pub(crate) fn post(mb: &mut [u32], slot: usize, seq: u32, call: u32, args: [u32; 3]) {
        let s = &mut mb[slot * SLOT_WORDS..];
        s[W_STATE] = REQUEST;
        s[W_SEQ] = seq;
        s[W_CALL] = call;
        s[W_ARG0..=W_ARG2].copy_from_slice(&args);
    }

    #[test]
    fn a_second_service_adds_its_answers_and_has_the_last_word() {
        let first = Serviced {
            replied: 2,
            waiting: 1,
            freed: 1,
            halt: None,
            filled: 0b01,
        };
        let second = Serviced {
            replied: 1,
            waiting: 0,
            freed: 3,
            halt: Some(7),
            filled: 0b10,
        };
        let both = Serviced {
            replied: 3,
            waiting: 0,
            freed: 4,
            halt: Some(7),
            filled: 0b11,
        };
        assert_eq!(first.then(second), both);
    }

    #[test]
    fn services_in_sequence_order() {
        let mut mb = vec![0; MAILBOX_WORDS];
        post(&mut mb, 3, 7, Call::Putc as u32, [b'b' as u32, 0, 0]);
        post(&mut mb, 0, 8, Call::PutU as u32, [4096, 0, 0]);
        post(&mut mb, 5, 6, Call::Putc as u32, [b'a' as u32, 0, 0]);
        let mut host = Recorder {
            out: vec![],
            input: vec![],
        };
        let done = service(&mut mb, 16, None, &mut host);
        assert_eq!(host.out, b"ab4096");
        assert_eq!(
            done,
            Serviced {
                replied: 3,
                waiting: 0,
                freed: 0,
                halt: None,
                filled: 0,
            }
        );
        assert_eq!(mb[3 * SLOT_WORDS + W_STATE], REPLIED);
    }

    fn recorder(input: &[Input]) -> Recorder {
        Recorder {
            out: vec![],
            input: input.to_vec(),
        }
    }

    #[test]
    fn read_takes_what_has_arrived_and_packs_it() {
        let mut mb = vec![0; MAILBOX_WORDS];
        post(&mut mb, 4, 0, Call::Read as u32, [10, 8, 0]);
        let bytes = b"hello".map(Input::Byte);
        let mut host = recorder(&[&bytes[..], &[Input::NotYet, Input::Byte(b'!')]].concat());
        let done = service(&mut mb, 16, None, &mut host);
        assert_eq!((done.replied, done.filled), (1, 1 << 4));
        assert_eq!(
            mb[4 * SLOT_WORDS + W_RESULT],
            5,
            "stops at the first NotYet"
        );
        assert_eq!(reply_words(&mb, 4), (10, &[0x6c6c_6568, 0x6f][..]));
        // The next read gets the rest; then end of input, after no bytes, is EOF.
        post(&mut mb, 4, 1, Call::Read as u32, [10, 8, 0]);
        service(&mut mb, 16, None, &mut host);
        assert_eq!(reply_words(&mb, 4), (10, &[b'!' as u32][..]));
        post(&mut mb, 4, 2, Call::Read as u32, [10, 8, 0]);
        let done = service(&mut mb, 16, None, &mut host);
        assert_eq!((mb[4 * SLOT_WORDS + W_RESULT], done.filled), (EOF, 0));
    }

    #[test]
    fn read_waits_for_input_and_checks_its_range() {
        let mut mb = vec![0; MAILBOX_WORDS];
        post(&mut mb, 0, 0, Call::Read as u32, [0, 4, 0]);
        post(&mut mb, 1, 1, Call::Read as u32, [15, 5, 0]);
        post(&mut mb, 2, 2, Call::Read as u32, [16, 0, 0]);
        post(&mut mb, 3, 3, Call::Read as u32, [12, 1000, 0]);
        let mut host = recorder(&[Input::NotYet, Input::Byte(1)]);
        let done = service(&mut mb, 16, None, &mut host);
        assert_eq!(mb[W_STATE], REQUEST, "no input yet: the read stays posted");
        assert_eq!(mb[SLOT_WORDS + W_RESULT], ERR_FAULT, "two words from 15");
        assert_eq!(
            mb[2 * SLOT_WORDS + W_RESULT],
            0,
            "nothing asked, nothing read"
        );
        assert_eq!(
            mb[3 * SLOT_WORDS + W_RESULT],
            ERR_FAULT,
            "1000 bytes are cut to 256, which still do not fit"
        );
        assert_eq!((done.waiting, done.replied, done.filled), (1, 3, 0));
        assert_eq!(host.input, [Input::Byte(1)], "faults consume no input");
    }

    #[test]
    fn sequence_order_survives_wrapping() {
        let mut mb = vec![0; MAILBOX_WORDS];
        post(&mut mb, 0, 1, Call::Putc as u32, [b'2' as u32, 0, 0]);
        post(&mut mb, 1, u32::MAX, Call::Putc as u32, [b'1' as u32, 0, 0]);
        let mut host = Recorder {
            out: vec![],
            input: vec![],
        };
        service(&mut mb, 16, None, &mut host);
        assert_eq!(host.out, b"12");
    }

    #[test]
    fn write_checks_bounds_and_getc_can_wait() {
        let mut mb = vec![0; MAILBOX_WORDS];
        post(&mut mb, 0, 0, Call::Write as u32, [15, 8, 0]);
        post(&mut mb, 1, 1, Call::Getc as u32, [0; 3]);
        post(&mut mb, 2, 2, 99, [0; 3]);
        let mut host = Recorder {
            out: vec![],
            input: vec![Input::NotYet],
        };
        let done = service(&mut mb, 16, None, &mut host);
        assert_eq!(mb[W_RESULT], ERR_FAULT);
        assert_eq!(
            mb[SLOT_WORDS + W_STATE],
            REQUEST,
            "getc without input stays posted"
        );
        assert_eq!(mb[2 * SLOT_WORDS + W_RESULT], ERR_NOSYS);
        assert_eq!(done.waiting, 1);
    }

    #[test]
    fn halt_stops_servicing() {
        let mut mb = vec![0; MAILBOX_WORDS];
        post(&mut mb, 0, 0, Call::Halt as u32, [3, 0, 0]);
        post(&mut mb, 1, 1, Call::Putc as u32, [b'x' as u32, 0, 0]);
        let mut host = Recorder {
            out: vec![],
            input: vec![],
        };
        assert_eq!(service(&mut mb, 16, None, &mut host).halt, Some(3));
        assert!(host.out.is_empty());
    }

    #[test]
    fn heat_ranks_pixels_by_count_then_address() {
        let counts = [5, 0, 9, 5, 1];
        let ask = |rank, what| hottest(&counts, rank, what);
        assert_eq!((ask(0, 0), ask(0, 1)), (2, 9));
        assert_eq!((ask(1, 0), ask(2, 0), ask(3, 0)), (0, 3, 4));
        assert_eq!(ask(4, 0), EOF, "only four pixels ran");
        let mut mb = vec![0; MAILBOX_WORDS];
        post(&mut mb, 0, 0, Call::Heat as u32, [1, 1, 0]);
        assert!(wants_counts(&mb));
        let mut host = Recorder {
            out: vec![],
            input: vec![],
        };
        service(&mut mb, 16, Some(&counts), &mut host);
        assert_eq!(mb[W_RESULT], 5);
        post(&mut mb, 0, 1, Call::Heat as u32, [0, 0, 0]);
        service(&mut mb, 16, None, &mut host);
        assert_eq!(mb[W_RESULT], ERR_NOSYS, "no counts, no heat");
    }

    #[test]
    fn decimal_formatting() {
        let mut buf = [0; 10];
        assert_eq!(format_u32(0, &mut buf), b"0");
        assert_eq!(format_u32(u32::MAX, &mut buf), b"4294967295");
    }
}
