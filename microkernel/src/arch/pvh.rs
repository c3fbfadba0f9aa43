//! The `hvm_start_info` block QEMU hands to a PVH kernel (xen/include/public/arch-x86/hvm/start_info.h).

/// `hvm_start_info.magic`.
pub const START_INFO_MAGIC: u32 = 0x336e_c578;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct StartInfo {
    magic: u32,
    version: u32,
    flags: u32,
    nr_modules: u32,
    modlist_paddr: u64,
    cmdline_paddr: u64,
    rsdp_paddr: u64,
    memmap_paddr: u64,
    memmap_entries: u32,
    reserved: u32,
}

/// One E820-style entry of the PVH memory map.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MemoryMapEntry {
    pub address: u64,
    pub size: u64,
    pub kind: u32,
    reserved: u32,
}

impl MemoryMapEntry {
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            1 => "ram",
            2 => "reserved",
            3 => "acpi",
            4 => "nvs",
            5 => "unusable",
            _ => "other",
        }
    }
}

/// What the kernel takes from the start-info block.
#[derive(Debug, Clone, Copy)]
pub struct BootInfo {
    pub memory_map: &'static [MemoryMapEntry],
    pub command_line: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootInfoError {
    BadMagic(u32),
}

impl BootInfo {
    /// # Safety
    /// `start_info_paddr` must be the EBX value QEMU passed to the PVH entry, and the identity
    /// map must cover it (it lies in low memory); QEMU never reclaims that memory.
    pub unsafe fn from_start_info(start_info_paddr: u32) -> Result<Self, BootInfoError> {
        // SAFETY: per the function contract the pointer is QEMU's start-info block.
        let info = unsafe { (start_info_paddr as usize as *const StartInfo).read() };
        if info.magic != START_INFO_MAGIC {
            return Err(BootInfoError::BadMagic(info.magic));
        }
        let memory_map = if info.memmap_paddr == 0 {
            &[][..]
        } else {
            // SAFETY: QEMU wrote `memmap_entries` entries at `memmap_paddr` and leaves them.
            unsafe {
                core::slice::from_raw_parts(
                    info.memmap_paddr as usize as *const MemoryMapEntry,
                    info.memmap_entries as usize,
                )
            }
        };
        let command_line = if info.cmdline_paddr == 0 {
            ""
        } else {
            // SAFETY: QEMU wrote a NUL-terminated command line at `cmdline_paddr`.
            let bytes =
                unsafe { core::ffi::CStr::from_ptr(info.cmdline_paddr as usize as *const _) };
            bytes.to_str().unwrap_or("")
        };
        Ok(Self {
            memory_map,
            command_line,
        })
    }
}
