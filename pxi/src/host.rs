//! Hosts for std processes: the real console, and a deterministic capture
//! used by tests to compare executors.

use std::boxed::Box;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::string::{String, ToString};
use std::time::Instant;
use std::vec::Vec;

use crate::devices::Devices;
use crate::mailbox::{Host, Input, Received};
use crate::virtio_blk::{BlockStore, Fault, IoError, SECTOR, VirtioBlk};

/// The process's stdout and stdin, and a real clock.
pub struct StdioHost {
    start: Instant,
    /// Bytes written so far (for summaries).
    pub written: u64,
    /// Devices offered to pixel drivers (`--disk`).
    pub devices: Devices,
}

impl Default for StdioHost {
    fn default() -> Self {
        StdioHost {
            start: Instant::now(),
            written: 0,
            devices: Devices::default(),
        }
    }
}

/// A disk image file as a block store. A read-only disk opens the file
/// read-only, so nothing the device or a driver does can modify it.
pub struct FileDisk {
    file: File,
    sectors: u64,
    read_only: bool,
}

impl FileDisk {
    /// Open `path`; its size must be a whole number of 512-byte sectors.
    pub fn open(path: &Path, read_only: bool) -> Result<FileDisk, String> {
        let name = path.display();
        let file = OpenOptions::new()
            .read(true)
            .write(!read_only)
            .open(path)
            .map_err(|e| std::format!("disk image {name}: {e}"))?;
        let len = file
            .metadata()
            .map_err(|e| std::format!("disk image {name}: {e}"))?
            .len();
        if len == 0 || len % SECTOR as u64 != 0 {
            return Err(std::format!(
                "disk image {name}: size {len} is not a positive multiple of {SECTOR} bytes"
            ));
        }
        Ok(FileDisk {
            file,
            sectors: len / SECTOR as u64,
            read_only,
        })
    }

    fn at(&mut self, sector: u64) -> Result<&mut File, IoError> {
        self.file
            .seek(SeekFrom::Start(sector * SECTOR as u64))
            .map_err(|_| IoError)?;
        Ok(&mut self.file)
    }
}

impl BlockStore for FileDisk {
    fn sectors(&self) -> u64 {
        self.sectors
    }
    fn read_only(&self) -> bool {
        self.read_only
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.at(sector)?.read_exact(buf).map_err(|_| IoError)
    }
    fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), IoError> {
        if self.read_only {
            return Err(IoError);
        }
        self.at(sector)?.write_all(buf).map_err(|_| IoError)
    }
    fn flush(&mut self) -> Result<(), IoError> {
        if self.read_only {
            return Ok(());
        }
        self.file.sync_data().map_err(|_| IoError)
    }
}

/// Add a virtio-blk device backed by the image at `path` to `devices`
/// (`pxi-run --disk`), misbehaving as `fault` says.
pub fn attach_disk(
    devices: &mut Devices,
    path: &Path,
    read_only: bool,
    fault: Fault,
) -> Result<u32, String> {
    let mut device = VirtioBlk::new(FileDisk::open(path, read_only)?);
    device.fault = fault;
    Ok(devices.add(Box::new(device)))
}

/// Parse a `--disk-fault` name.
pub fn parse_fault(name: &str) -> Result<Fault, String> {
    match name {
        "none" => Ok(Fault::None),
        "bad-status" => Ok(Fault::BadStatus),
        "wrong-used-id" => Ok(Fault::WrongUsedId),
        "no-completion" => Ok(Fault::NoCompletion),
        _ => Err("unknown disk fault (none, bad-status, wrong-used-id, no-completion)".to_string()),
    }
}

impl Host for StdioHost {
    fn write(&mut self, bytes: &[u8]) {
        let mut out = std::io::stdout().lock();
        // Write errors are not the program's business: the pxOS tools end on a
        // closed stdout through SIGPIPE (`pxi_asm::cli`); other embedders run on.
        let _ = out.write_all(bytes).and_then(|_| out.flush());
        self.written += bytes.len() as u64;
    }

    fn clock_us(&mut self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    fn read_byte(&mut self) -> Input {
        let mut byte = [0u8];
        match std::io::stdin().lock().read(&mut byte) {
            Ok(1) => Input::Byte(byte[0]),
            _ => Input::Eof,
        }
    }

    /// One read: a terminal answers a line, a pipe what is buffered.
    fn read_bytes(&mut self, buf: &mut [u8]) -> Received {
        match std::io::stdin().lock().read(buf) {
            Ok(0) | Err(_) => Received::Eof,
            Ok(n) => Received::Bytes(n),
        }
    }

    fn devices(&mut self) -> Option<&mut Devices> {
        Some(&mut self.devices)
    }
}

/// Captures output, plays scripted input, and has a deterministic clock
/// (each reading advances it by 1000 µs), so two executors servicing the same
/// requests in the same order see exactly the same answers.
#[derive(Default)]
pub struct CaptureHost {
    /// Everything written.
    pub output: Vec<u8>,
    /// Remaining input.
    pub input: std::collections::VecDeque<u8>,
    clock: u64,
    /// Devices offered to pixel drivers.
    pub devices: Devices,
}

impl CaptureHost {
    /// A host whose console input is `input`.
    pub fn with_input(input: &[u8]) -> Self {
        CaptureHost {
            input: input.iter().copied().collect(),
            ..Default::default()
        }
    }
}

impl Host for CaptureHost {
    fn write(&mut self, bytes: &[u8]) {
        self.output.extend_from_slice(bytes);
    }

    fn clock_us(&mut self) -> u64 {
        self.clock += 1000;
        self.clock
    }

    fn read_byte(&mut self) -> Input {
        self.input.pop_front().map_or(Input::Eof, Input::Byte)
    }

    fn devices(&mut self) -> Option<&mut Devices> {
        Some(&mut self.devices)
    }
}
