//! Leaving QEMU through the `isa-debug-exit` device (iobase 0xf4): QEMU exits with status
//! `(value << 1) | 1`. Without that device the write is ignored and the CPU halts instead.

use super::port::Port;

const DEBUG_EXIT: Port<u32> = Port::new(0xf4);

/// What the kernel reports to whoever started QEMU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    /// QEMU exit status 33.
    Success = 0x10,
    /// QEMU exit status 35: exception, panic or a failing program.
    Failure = 0x11,
}

/// Exits QEMU, or halts forever when no `isa-debug-exit` device is present.
pub fn exit(code: ExitCode) -> ! {
    // SAFETY: 0xf4 is the isa-debug-exit port on our QEMU command lines and unused otherwise.
    unsafe { DEBUG_EXIT.write(code as u32) };
    halt_forever()
}

/// Stops the CPU with interrupts off.
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: disabling interrupts and halting affects nothing but this CPU's progress.
        unsafe { core::arch::asm!("cli", "hlt", options(nomem, nostack)) };
    }
}
