//! Typed x86 I/O ports: the width of a port is part of its type, so an 8-bit register cannot be
//! accessed with a 32-bit `in`.

use core::arch::asm;
use core::marker::PhantomData;

/// A value that can be moved through an I/O port (`u8`, `u16` or `u32`).
pub trait PortValue: Copy {
    /// # Safety
    /// Reading a port can have device side effects; the caller must know what the port is.
    unsafe fn read_from(port: u16) -> Self;
    /// # Safety
    /// Writing a port can have arbitrary device side effects; the caller must know what the
    /// port is.
    unsafe fn write_to(port: u16, value: Self);
}

macro_rules! port_value {
    ($ty:ty, $reg:tt) => {
        impl PortValue for $ty {
            unsafe fn read_from(port: u16) -> Self {
                let value: $ty;
                // SAFETY: the caller vouches for the port; `in` touches no memory.
                unsafe {
                    asm!(concat!("in ", $reg, ", dx"), out($reg) value, in("dx") port,
                        options(nomem, nostack, preserves_flags));
                }
                value
            }
            unsafe fn write_to(port: u16, value: Self) {
                // SAFETY: the caller vouches for the port; `out` touches no memory.
                unsafe {
                    asm!(concat!("out dx, ", $reg), in("dx") port, in($reg) value,
                        options(nomem, nostack, preserves_flags));
                }
            }
        }
    };
}

port_value!(u8, "al");
port_value!(u16, "ax");
port_value!(u32, "eax");

/// An I/O port carrying values of type `T`.
#[derive(Debug, Clone, Copy)]
pub struct Port<T> {
    number: u16,
    width: PhantomData<T>,
}

impl<T: PortValue> Port<T> {
    pub const fn new(number: u16) -> Self {
        Self {
            number,
            width: PhantomData,
        }
    }

    /// # Safety
    /// See [`PortValue::read_from`].
    pub unsafe fn read(&self) -> T {
        // SAFETY: forwarded to the caller.
        unsafe { T::read_from(self.number) }
    }

    /// # Safety
    /// See [`PortValue::write_to`].
    pub unsafe fn write(&self, value: T) {
        // SAFETY: forwarded to the caller.
        unsafe { T::write_to(self.number, value) }
    }
}
