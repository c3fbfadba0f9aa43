//! IDT, CPU exception reports and the 1 kHz PIT tick that wakes the idle loop.
//!
//! Every CPU exception prints a report on COM1 and exits QEMU with [`ExitCode::Failure`]: the
//! kernel has no way to recover and a test must see the failure, not a hang. The only hardware
//! interrupt is the PIT on IRQ 0; its handler is four instructions of assembly that count ticks.

use super::port::Port;
use super::qemu::{self, ExitCode};
use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicU64, Ordering};

/// Vector of PIT IRQ 0 after remapping the PIC.
const TIMER_VECTOR: usize = 0x20;
/// Vectors 0x20..0x30 belong to the remapped 8259 pair.
const IDT_ENTRIES: usize = 0x30;
/// PIT input clock in Hz.
const PIT_HZ: u64 = 1_193_182;
/// PIT divisor for a tick of about 1 ms.
const PIT_DIVISOR: u16 = 1193;

/// Timer ticks since [`init`]; incremented by the assembly IRQ stub.
#[unsafe(no_mangle)]
static TIMER_TICKS: AtomicU64 = AtomicU64::new(0);

global_asm!(
    r#"
    .macro exception_no_error n
exception_\n:
    pushq $0
    pushq $\n
    jmp exception_common
    .endm

    .macro exception_with_error n
exception_\n:
    pushq $\n
    jmp exception_common
    .endm

    .section .text.interrupts, "ax", @progbits
    .irp n, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31
    exception_no_error \n
    .endr
    .irp n, 8,10,11,12,13,14,17,21,29,30
    exception_with_error \n
    .endr

exception_common:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %rdi
    and $-16, %rsp
    call exception_report
    ud2

    .global timer_interrupt
timer_interrupt:
    push %rax
    lock incq TIMER_TICKS(%rip)
    mov $0x20, %al
    out %al, $0x20              /* EOI to the master PIC */
    pop %rax
    iretq

    /* Spurious IRQ 7 (the only other line that can fire while masked) needs no EOI. */
    .global ignored_interrupt
ignored_interrupt:
    iretq

    .section .rodata.interrupts, "a", @progbits
    .p2align 3
    .global exception_stubs
exception_stubs:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad exception_\n
    .endr
    "#,
    options(att_syntax)
);

unsafe extern "C" {
    static exception_stubs: [u64; 32];
    fn timer_interrupt();
    fn ignored_interrupt();
}

/// Registers as pushed by `exception_common`, lowest address first.
#[repr(C)]
#[derive(Debug)]
pub struct ExceptionFrame {
    r15: u64,
    r14: u64,
    r13: u64,
    r12: u64,
    r11: u64,
    r10: u64,
    r9: u64,
    r8: u64,
    rbp: u64,
    rdi: u64,
    rsi: u64,
    rdx: u64,
    rcx: u64,
    rbx: u64,
    rax: u64,
    vector: u64,
    error_code: u64,
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
    ss: u64,
}

const EXCEPTION_NAMES: [&str; 32] = [
    "divide error",
    "debug",
    "non-maskable interrupt",
    "breakpoint",
    "overflow",
    "bound range exceeded",
    "invalid opcode",
    "device not available",
    "double fault",
    "coprocessor segment overrun",
    "invalid TSS",
    "segment not present",
    "stack-segment fault",
    "general protection fault",
    "page fault",
    "reserved",
    "x87 floating-point exception",
    "alignment check",
    "machine check",
    "SIMD floating-point exception",
    "virtualization exception",
    "control protection exception",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "hypervisor injection exception",
    "VMM communication exception",
    "security exception",
    "reserved",
];

#[unsafe(no_mangle)]
extern "C" fn exception_report(frame: &ExceptionFrame) -> ! {
    let name = EXCEPTION_NAMES
        .get(frame.vector as usize)
        .copied()
        .unwrap_or("unknown");
    crate::kprintln!();
    crate::kprintln!(
        "!!! CPU EXCEPTION {} ({name}), error code {:#x}",
        frame.vector,
        frame.error_code
    );
    crate::kprintln!(
        "    rip {:#018x}  cs {:#06x}  rflags {:#010x}",
        frame.rip,
        frame.cs,
        frame.rflags
    );
    crate::kprintln!("    rsp {:#018x}  ss {:#06x}", frame.rsp, frame.ss);
    if frame.vector == 14 {
        let cr2: u64;
        // SAFETY: reading CR2 has no side effects.
        unsafe { asm!("mov {}, cr2", out(reg) cr2, options(nomem, nostack, preserves_flags)) };
        crate::kprintln!("    faulting address (cr2) {cr2:#018x}");
    }
    crate::kprintln!(
        "    rax {:#018x} rbx {:#018x} rcx {:#018x} rdx {:#018x}",
        frame.rax,
        frame.rbx,
        frame.rcx,
        frame.rdx
    );
    crate::kprintln!(
        "    rsi {:#018x} rdi {:#018x} rbp {:#018x} r8  {:#018x}",
        frame.rsi,
        frame.rdi,
        frame.rbp,
        frame.r8
    );
    crate::kprintln!(
        "    r9  {:#018x} r10 {:#018x} r11 {:#018x} r12 {:#018x}",
        frame.r9,
        frame.r10,
        frame.r11,
        frame.r12
    );
    crate::kprintln!(
        "    r13 {:#018x} r14 {:#018x} r15 {:#018x}",
        frame.r13,
        frame.r14,
        frame.r15
    );
    crate::kprintln!("kernel stopped: exiting QEMU with failure");
    qemu::exit(ExitCode::Failure)
}

/// An interrupt gate in the 64-bit IDT.
#[repr(C)]
#[derive(Clone, Copy)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    attributes: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

impl Gate {
    const MISSING: Self = Self {
        offset_low: 0,
        selector: 0,
        ist: 0,
        attributes: 0,
        offset_mid: 0,
        offset_high: 0,
        reserved: 0,
    };

    /// A present ring-0 interrupt gate (interrupts stay off in the handler) in the boot code
    /// segment.
    fn interrupt(handler: u64) -> Self {
        Self {
            offset_low: handler as u16,
            selector: 0x08,
            ist: 0,
            attributes: 0x8e,
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

#[repr(C, packed)]
struct DescriptorTablePointer {
    limit: u16,
    base: u64,
}

static mut IDT: [Gate; IDT_ENTRIES] = [Gate::MISSING; IDT_ENTRIES];

const PIC1_COMMAND: Port<u8> = Port::new(0x20);
const PIC1_DATA: Port<u8> = Port::new(0x21);
const PIC2_COMMAND: Port<u8> = Port::new(0xa0);
const PIC2_DATA: Port<u8> = Port::new(0xa1);
const PIT_CHANNEL0: Port<u8> = Port::new(0x40);
const PIT_COMMAND: Port<u8> = Port::new(0x43);

/// Loads the IDT, remaps the 8259 PICs to vectors 0x20..0x30 with only IRQ 0 unmasked, starts
/// the PIT at about 1 kHz and enables interrupts. Call once, early.
pub fn init() {
    let idt = &raw mut IDT;
    // SAFETY: `init` runs once on the only CPU before interrupts are enabled, so nothing else
    // reads the IDT while it is written; `exception_stubs` is a table of 32 code addresses.
    unsafe {
        for (vector, stub) in exception_stubs.iter().enumerate() {
            (*idt)[vector] = Gate::interrupt(*stub);
        }
        for vector in TIMER_VECTOR..IDT_ENTRIES {
            (*idt)[vector] = Gate::interrupt(ignored_interrupt as *const () as u64);
        }
        (*idt)[TIMER_VECTOR] = Gate::interrupt(timer_interrupt as *const () as u64);
        let pointer = DescriptorTablePointer {
            limit: (size_of::<[Gate; IDT_ENTRIES]>() - 1) as u16,
            base: idt as u64,
        };
        asm!("lidt [{}]", in(reg) &pointer, options(readonly, nostack, preserves_flags));
    }

    // SAFETY: the standard 8259 initialisation sequence (ICW1..ICW4) followed by the masks,
    // then PIT channel 0 in mode 2 (rate generator); these ports belong to the PIC and PIT.
    unsafe {
        PIC1_COMMAND.write(0x11);
        PIC2_COMMAND.write(0x11);
        PIC1_DATA.write(0x20);
        PIC2_DATA.write(0x28);
        PIC1_DATA.write(0x04);
        PIC2_DATA.write(0x02);
        PIC1_DATA.write(0x01);
        PIC2_DATA.write(0x01);
        PIC1_DATA.write(!0x01); // only IRQ 0
        PIC2_DATA.write(0xff);

        PIT_COMMAND.write(0x34);
        PIT_CHANNEL0.write(PIT_DIVISOR as u8);
        PIT_CHANNEL0.write((PIT_DIVISOR >> 8) as u8);

        asm!("sti", options(nomem, nostack));
    }
}

/// Microseconds since [`init`], from the PIT tick count (resolution about 1 ms).
pub fn uptime_micros() -> u64 {
    TIMER_TICKS.load(Ordering::Relaxed) * u64::from(PIT_DIVISOR) * 1_000_000 / PIT_HZ
}

/// Sleeps until the next interrupt (at most one timer tick).
pub fn wait_for_interrupt() {
    // SAFETY: `sti; hlt` enables interrupts and halts atomically (the STI shadow), so a tick
    // arriving between the two still wakes the CPU; the timer is running after `init`.
    unsafe { asm!("sti", "hlt", options(nomem, nostack)) };
}
