//! COM1 16550 UART at 0x3F8: 115200 8N1 output for the log and polled input for the shell.

use super::port::Port;
use core::fmt;

const BASE: u16 = 0x3f8;
const DATA: Port<u8> = Port::new(BASE);
const INTERRUPT_ENABLE: Port<u8> = Port::new(BASE + 1);
const FIFO_CONTROL: Port<u8> = Port::new(BASE + 2);
const LINE_CONTROL: Port<u8> = Port::new(BASE + 3);
const MODEM_CONTROL: Port<u8> = Port::new(BASE + 4);
const LINE_STATUS: Port<u8> = Port::new(BASE + 5);

const LINE_STATUS_DATA_READY: u8 = 1 << 0;
const LINE_STATUS_TRANSMIT_EMPTY: u8 = 1 << 5;

/// The COM1 port. It carries no state, so any number of handles may exist; the kernel is single
/// threaded and no interrupt handler prints.
#[derive(Debug, Clone, Copy)]
pub struct Com1;

impl Com1 {
    /// Programs 115200 baud, 8N1, FIFOs on, interrupts off.
    pub fn init() -> Self {
        // SAFETY: these are the 16550 registers of COM1, which QEMU always provides with
        // `-serial`; the sequence is the standard initialisation.
        unsafe {
            INTERRUPT_ENABLE.write(0x00);
            LINE_CONTROL.write(0x80); // divisor latch access
            DATA.write(0x01); // divisor 1 = 115200 baud
            INTERRUPT_ENABLE.write(0x00);
            LINE_CONTROL.write(0x03); // 8N1, latch off
            FIFO_CONTROL.write(0xc7);
            MODEM_CONTROL.write(0x03); // DTR | RTS
        }
        Self
    }

    pub fn write_byte(self, byte: u8) {
        // SAFETY: reading COM1's line status and writing its data register have no effect
        // beyond the UART.
        unsafe {
            while LINE_STATUS.read() & LINE_STATUS_TRANSMIT_EMPTY == 0 {
                core::hint::spin_loop();
            }
            DATA.write(byte);
        }
    }

    /// Polled receive: a byte if one is waiting.
    pub fn try_read_byte(self) -> Option<u8> {
        // SAFETY: as in `write_byte`; reading DATA only pops the receive FIFO.
        unsafe { (LINE_STATUS.read() & LINE_STATUS_DATA_READY != 0).then(|| DATA.read()) }
    }
}

impl fmt::Write for Com1 {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for byte in s.bytes() {
            if byte == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(byte);
        }
        Ok(())
    }
}

/// Prints to COM1.
#[macro_export]
macro_rules! kprint {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = write!($crate::arch::serial::Com1, $($arg)*);
    }};
}

/// Prints a line to COM1.
#[macro_export]
macro_rules! kprintln {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = writeln!($crate::arch::serial::Com1, $($arg)*);
    }};
}
