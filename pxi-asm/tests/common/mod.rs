//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test crate uses its own subset

use pxi::host::CaptureHost;
use pxi::run::{Outcome, drive};
use pxi::{Image, Limits, Machine};
use pxi_asm::{Assembly, assemble_source};

/// Assemble an in-memory program, panicking with the rendered errors.
pub fn assemble(text: &str) -> Assembly {
    assemble_source("test.pxs", text).unwrap_or_else(|e| panic!("{e}"))
}

/// A kernel that enters `user` (code window `user`..`user_end`, data window
/// 64 words at 64, frame at 0) and exits with `exit r0` on its first trap,
/// unless `handler` text is given.
pub fn user_kernel(setup: &str, handler: &str, user: &str) -> String {
    format!(
        "
        .memory 192
            li r1, handler
            tvec r1
            li r1, user
            li r2, user_end - user
            li r3, 64
            li r4, 64
            window r1, r2, r3, r4
            {setup}
            li r5, 0
            uret r5
        handler:
            {handler}
            exit r0
        user:
            {user}
        user_end:"
    )
}

/// Run `image` to the end with a capturing host.
pub fn run(image: &Image) -> (Outcome, String, Machine) {
    let mut machine = Machine::new(
        image,
        Limits {
            slice_steps: 4096,
            max_steps: 10_000_000,
        },
    );
    let mut host = CaptureHost::default();
    let outcome = match drive(&mut machine, &mut host, 1, |_, _| {}) {
        Ok(outcome) => outcome,
        Err(never) => match never {},
    };
    (
        outcome,
        String::from_utf8_lossy(&host.output).into_owned(),
        machine,
    )
}

/// CRC-32 of PNG chunks (ISO 3309), to forge headers.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                crc >> 1 ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
