//! FAT32 disk images for tests, made and filled by the real tools
//! (`mkfs.fat -F 32`, `mcopy`; scripts/setup.sh installs dosfstools and
//! mtools).

use std::path::PathBuf;
use std::process::Command;

/// 40 MiB: the smallest comfortable FAT32 volume with 512-byte clusters.
pub const DISK_KIB: u32 = 40 * 1024;

/// A disk image file in the temporary directory, removed when dropped.
pub struct Disk {
    pub path: PathBuf,
}

impl Drop for Disk {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Run a tool; it must succeed.
pub fn tool(program: &str, args: &[&str]) -> std::process::Output {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("{program}: {e} (scripts/setup.sh installs dosfstools, mtools)")
        });
    assert!(
        output.status.success(),
        "{program} {args:?}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A path in the temporary directory, unique to this test process.
pub fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("pxos-fs-{}-{name}", std::process::id()))
}

impl Disk {
    /// A fresh FAT32 volume of [`DISK_KIB`].
    pub fn new(name: &str) -> Disk {
        Disk::with_kib(name, DISK_KIB)
    }

    /// A fresh FAT32 volume of `kib` KiB.
    pub fn with_kib(name: &str, kib: u32) -> Disk {
        let disk = Disk {
            path: temp(&format!("{name}.img")),
        };
        let _ = std::fs::remove_file(&disk.path);
        tool(
            "mkfs.fat",
            &["-C", "-F", "32", "-n", "PXOS", disk.arg(), &kib.to_string()],
        );
        disk
    }

    /// The image's path as a tool argument.
    pub fn arg(&self) -> &str {
        self.path.to_str().expect("temporary paths are UTF-8")
    }

    /// Put `bytes` at `path` on the volume with mcopy.
    pub fn put(&self, path: &str, bytes: &[u8]) {
        let host = self.path.with_extension("put");
        std::fs::write(&host, bytes).expect("temporary file");
        tool(
            "mcopy",
            &[
                "-i",
                self.arg(),
                host.to_str().unwrap(),
                &format!("::{path}"),
            ],
        );
        let _ = std::fs::remove_file(host);
    }
}
