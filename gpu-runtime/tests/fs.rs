//! The virtio-blk driver and FAT32 file system written in pixels
//! (examples/lib/{virtio_blk,fat32,fs_shell}.pxs, driven by the file shell
//! examples/fsh.pxs) against the real tools: disk images are made with
//! `mkfs.fat -F 32` and `mcopy`, shell sessions run on the CPU interpreter and the
//! GPU runtime with `pxi-run --disk`'s device model, then `fsck.fat -n` must find
//! nothing and mtools must read every file back byte for byte.
//!
//! Every case runs on both executors, and the GPU runtime must print exactly what the
//! CPU interpreter prints and leave a byte-identical disk image — except the file
//! shell's biggest sessions (a 1,000-file directory and 300 KiB files written through
//! `fsh`, tens of millions of instructions and ~20,000 disk round trips, minutes on
//! lavapipe), which the GPU runtime covers through the OS instead: a session in a
//! 1,000-file directory and a 300 KiB copy (`the_os_*` tests).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

mod support;

use gpu_runtime::testing::RunRecord;
use pxi::host::{CaptureHost, attach_disk};
use pxi::run::Stop;
use pxi::virtio_blk::Fault;
use pxi::{Image, Limits};
use support::disk::{Disk, temp, tool};
use support::gpu::{gpu, run_on};

const BIG: usize = 300 * 1024;

/// `examples/NAME`, assembled once per test process into `cell`.
fn example(cell: &'static OnceLock<Image>, name: &str) -> &'static Image {
    cell.get_or_init(|| {
        let path = format!("{}/../examples/{name}", env!("CARGO_MANIFEST_DIR"));
        pxi_asm::assemble_file(Path::new(&path))
            .unwrap_or_else(|e| panic!("{e}"))
            .image
    })
}

/// The file shell (examples/fsh.pxs).
fn shell() -> &'static Image {
    static IMAGE: OnceLock<Image> = OnceLock::new();
    example(&IMAGE, "fsh.pxs")
}

/// The OS (examples/os.pxs: user-mode shell, file OS calls in the kernel).
fn os() -> &'static Image {
    static IMAGE: OnceLock<Image> = OnceLock::new();
    example(&IMAGE, "os.pxs")
}

/// The file shell built with its directory-index settings replaced: `(harts, FS_HELPERS,
/// FS_SCAN)`; FS_SCAN 0 turns the indexes off (every lookup scans, as before them).
fn shell_variant(harts: u32, helpers: u32, scan: u32) -> Image {
    variant("fsh.pxs", harts, helpers, scan)
}

/// `examples/NAME` built with its `.harts`, `FS_HELPERS` and `FS_SCAN` lines replaced.
fn variant(name: &str, harts: u32, helpers: u32, scan: u32) -> Image {
    let path = format!("{}/../examples/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect(name);
    let mut replaced = 0;
    let text: String = text
        .lines()
        .map(|line| {
            let new = if line.starts_with(".harts ") {
                format!(".harts {harts}")
            } else if line.starts_with(".equ FS_HELPERS,") {
                format!(".equ FS_HELPERS, {helpers}")
            } else if line.starts_with(".equ FS_SCAN,") {
                format!(".equ FS_SCAN, {scan}")
            } else {
                return line.to_string() + "\n";
            };
            replaced += 1;
            new + "\n"
        })
        .collect();
    assert_eq!(replaced, 3, "{name} sets .harts, FS_HELPERS and FS_SCAN");
    pxi_asm::assemble_source(&path, &text)
        .unwrap_or_else(|e| panic!("{e}"))
        .image
}

fn limits() -> Limits {
    Limits {
        slice_steps: 16_384,
        max_steps: 4_000_000_000,
    }
}

/// The shell's test pattern: byte i = (i * 7 + i / 256) mod 256.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + (i >> 8)) as u8).collect()
}

/// A host directory of `count` files `file-NNNN.txt`, each holding "file NNNN\n" (what the
/// shell's `mkfiles` writes).
fn numbered_files(name: &str, count: usize) -> PathBuf {
    let dir = temp(name);
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..count {
        let text = format!("file {i:04}\n");
        std::fs::write(dir.join(format!("file-{i:04}.txt")), text).unwrap();
    }
    dir
}

impl Disk {
    fn mkdir(&self, dir: &str) {
        tool("mmd", &["-i", self.arg(), &format!("::{dir}")]);
    }

    /// Put every file of the host directory `dir` into `dest` with one mcopy.
    fn put_dir(&self, dir: &Path, dest: &str) {
        let mut args = vec!["-i".to_string(), self.arg().to_string()];
        for entry in std::fs::read_dir(dir).expect("host directory") {
            args.push(entry.unwrap().path().to_str().unwrap().to_string());
        }
        args.push(format!("::{dest}"));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tool("mcopy", &args);
    }

    /// The bytes of `path` as mtools reads them.
    fn get(&self, path: &str) -> Vec<u8> {
        tool(
            "mcopy",
            &["-n", "-i", self.arg(), &format!("::{path}"), "-"],
        )
        .stdout
    }

    /// Every path on the volume (mdir -/ -b), directories with a trailing '/'.
    fn tree(&self) -> BTreeSet<String> {
        let out = tool("mdir", &["-i", self.arg(), "-/", "-b", "::/"]).stdout;
        String::from_utf8_lossy(&out)
            .lines()
            .map(|l| l.trim_start_matches("::").to_string())
            .collect()
    }

    /// `fsck.fat -n` must exit 0 and report nothing wrong.
    fn fsck(&self) {
        let out = Command::new("fsck.fat")
            .args(["-n", self.arg()])
            .output()
            .expect("fsck.fat (dosfstools)");
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        let lines = text.lines().count();
        assert!(
            out.status.success() && lines <= 2,
            "fsck.fat -n found problems:\n{text}"
        );
    }

    /// A copy of this image under another name.
    fn copy_as(&self, name: &str) -> Disk {
        let copy = Disk {
            path: temp(&format!("{name}.img")),
        };
        std::fs::copy(&self.path, &copy.path).expect("disk image copy");
        copy
    }

    fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.path).expect("disk image")
    }

    fn patch(&self, offset: usize, bytes: &[u8]) {
        let mut image = self.bytes();
        image[offset..offset + bytes.len()].copy_from_slice(bytes);
        std::fs::write(&self.path, image).expect("disk image");
    }
}

/// Boot-sector geometry, to corrupt images on purpose.
struct Geometry {
    fat: usize,
    fat_bytes: usize,
    data: usize,
    cluster: usize,
    root: u32,
}

impl Geometry {
    fn of(image: &[u8]) -> Geometry {
        let u16_at = |o: usize| u16::from_le_bytes([image[o], image[o + 1]]) as usize;
        let u32_at = |o: usize| u32::from_le_bytes(image[o..o + 4].try_into().unwrap());
        let reserved = u16_at(14);
        let fats = image[16] as usize;
        let fat_sectors = u32_at(36) as usize;
        Geometry {
            fat: reserved * 512,
            fat_bytes: fat_sectors * 512,
            data: (reserved + fats * fat_sectors) * 512,
            cluster: image[13] as usize * 512,
            root: u32_at(44),
        }
    }

    fn cluster_offset(&self, cluster: u32) -> usize {
        self.data + (cluster as usize - 2) * self.cluster
    }

    /// Offset of the root-directory entry with this 11-byte short name.
    fn root_entry(&self, image: &[u8], name83: &[u8; 11]) -> usize {
        let start = self.cluster_offset(self.root);
        (start..start + self.cluster)
            .step_by(32)
            .find(|&o| &image[o..o + 11] == name83)
            .unwrap_or_else(|| panic!("no entry {:?}", String::from_utf8_lossy(name83)))
    }

    /// Set FAT entry `cluster` to `value` in both FATs.
    fn set_fat(&self, disk: &Disk, cluster: u32, value: u32) {
        for copy in 0..2 {
            disk.patch(
                self.fat + copy * self.fat_bytes + 4 * cluster as usize,
                &value.to_le_bytes(),
            );
        }
    }
}

/// Run the file shell on `disk` with `script` as console input.
fn session(disk: &Disk, script: &str, gpu_run: bool, read_only: bool, fault: Fault) -> RunRecord {
    session_of(shell(), disk, script, gpu_run, read_only, fault)
}

/// [`session`] with another build of the shell.
fn session_of(
    image: &Image,
    disk: &Disk,
    script: &str,
    gpu_run: bool,
    read_only: bool,
    fault: Fault,
) -> RunRecord {
    let mut host = CaptureHost::with_input(script.as_bytes());
    attach_disk(&mut host.devices, &disk.path, read_only, fault).expect("disk image");
    run_on(gpu_run, image, limits(), 4, host)
}

fn text(run: &RunRecord) -> String {
    String::from_utf8_lossy(&run.output).to_string()
}

fn ok_session(disk: &Disk, script: &str, gpu_run: bool, read_only: bool) -> String {
    let run = session(disk, script, gpu_run, read_only, Fault::None);
    assert_eq!(run.outcome.stop, Stop::Halted(0), "{}", text(&run));
    text(&run)
}

/// Run `case` (sessions and their checks, given whether to use the GPU runtime) on the CPU
/// interpreter with `disk` and on the GPU runtime with a copy of it taken before: both must
/// print the same and leave byte-identical images.
fn on_both_executors(disk: &Disk, case: impl Fn(&Disk, bool) -> String) {
    let gpu_disk = disk.copy_as(&format!("{}-gpu", disk.path.file_stem().unwrap().display()));
    let cpu = case(disk, false);
    let gpu = case(&gpu_disk, true);
    assert_eq!(gpu, cpu, "GPU and CPU sessions differ");
    assert!(gpu_disk.bytes() == disk.bytes(), "the two disks differ");
}

#[test]
fn pxos_reads_what_mtools_wrote_on_a_read_only_disk() {
    let disk = Disk::new("read");
    disk.put("/hello.txt", b"hello from mtools\n");
    disk.mkdir("/docs");
    disk.mkdir("/docs/deep");
    disk.mkdir("/docs/deep/deeper");
    disk.put("/docs/A Long File Name.text", b"a long name\n");
    disk.put("/docs/deep/deeper/x.txt", b"deep\n");
    disk.put("/big.bin", &pattern(BIG));
    disk.mkdir("/many");
    let host = numbered_files("many", 1000);
    disk.put_dir(&host, "/many");
    std::fs::remove_dir_all(&host).unwrap();
    let before = disk.bytes();

    let out = ok_session(
        &disk,
        "ls -l\ncat \"DOCS/a long file name.TEXT\"\ncat docs/deep/deeper/x.txt\n\
         check big.bin 307200\nstatall many 1000\nls -l many\n\
         write new.txt no\nmkdir newdir\nrm hello.txt\n",
        false,
        true,
    );
    let mut lines = out.lines();
    let root: BTreeSet<&str> = lines.by_ref().take(4).collect();
    let expected: BTreeSet<&str> =
        ["- 18 hello.txt", "d 0 docs", "- 307200 big.bin", "d 0 many"].into();
    assert_eq!(root, expected, "{out}");
    let rest: Vec<&str> = lines.collect();
    assert_eq!(
        rest[..4],
        ["a long name", "deep", "ok", "10000"],
        "long names, nested directories, a 300 KiB file, 1,000 stats"
    );
    let listed: BTreeSet<&str> = rest[4..1004].iter().copied().collect();
    let names: Vec<String> = (0..1000).map(|i| format!("- 10 file-{i:04}.txt")).collect();
    assert_eq!(listed, names.iter().map(String::as_str).collect());
    assert_eq!(rest[1004..], ["error: read-only file system"; 3]);
    assert!(disk.bytes() == before, "a read-only disk must not change");
    disk.fsck();
}

#[test]
fn mtools_reads_what_pxos_wrote() {
    let disk = Disk::new("write");
    let long_dir = "docs/deep/A Directory With A Long Name";
    let notes = format!("{long_dir}/Notes for the Reader.txt");
    let script = format!(
        "mkdir docs\nmkdir docs/deep\nmkdir \"{long_dir}\"\n\
         write \"{notes}\" first line\nappend \"{notes}\" second line\n\
         fill big.bin 307200\ncheck big.bin 307200\ncp big.bin docs/copy.bin\n\
         mkdir many\nmkfiles many 1000\nstatall many 1000\n\
         write tmp.txt gone soon\nrm tmp.txt\nmkdir emptydir\nrmdir emptydir\n\
         mv docs/copy.bin docs/deep/moved.bin\nwrite trunc.txt 0123456789abcdef\n\
         truncate trunc.txt 4\nmkdir x\nmv x docs/x\nmv docs docs/deep/inside\n\
         rmdir docs\nwrite hello.txt hello\nwrite HELLO.TXT again\nmv hello.txt trunc.txt\n\
         rm many\nrmdir big.bin\ncat nothing\n"
    );
    let out = ok_session(&disk, &script, false, false);
    assert_eq!(
        out,
        "ok\n10000\nerror: invalid argument\nerror: directory not empty\n\
         error: file exists\nerror: is a directory\nerror: not a directory\n\
         error: no such file or directory\n"
    );
    disk.fsck();
    assert_eq!(disk.get(&format!("/{notes}")), b"first line\nsecond line\n");
    assert_eq!(disk.get("/big.bin"), pattern(BIG));
    assert_eq!(disk.get("/docs/deep/moved.bin"), pattern(BIG));
    assert_eq!(disk.get("/trunc.txt"), b"0123");
    assert_eq!(disk.get("/hello.txt"), b"again\n");
    for i in (0..1000).step_by(37).chain([999]) {
        let name = format!("/many/file-{i:04}.txt");
        assert_eq!(disk.get(&name), format!("file {i:04}\n").as_bytes());
    }
    let tree = disk.tree();
    for path in [
        "/docs/",
        "/docs/x/",
        &format!("/{long_dir}/"),
        "/many/file-0000.txt",
        "/many/file-0999.txt",
    ] {
        assert!(tree.contains(path), "{path} missing from {tree:?}");
    }
    for gone in ["/tmp.txt", "/emptydir/", "/docs/copy.bin", "/x/"] {
        assert!(!tree.contains(gone), "{gone} should be gone");
    }
    let many = tree.iter().filter(|p| p.starts_with("/many/file-"));
    assert_eq!(many.count(), 1000);
}

#[test]
fn a_full_disk_is_enospc_and_loses_nothing() {
    let disk = Disk::new("full");
    let df = ok_session(&disk, "df\n", false, false);
    let free: usize = df.split(' ').next().unwrap().parse().expect(&df);
    let filler = pattern(free * 512 - 16 * 512);
    disk.put("/filler.bin", &filler);
    on_both_executors(&disk, |disk, gpu_run| {
        let script = "fill more.bin 100000\nstat more.bin\ndf\n";
        let out = ok_session(disk, script, gpu_run, false);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert_eq!(lines[0], "error: no space left on device");
        assert!(lines[1].starts_with("more.bin: file, 8192 bytes"), "{out}");
        assert!(lines[2].starts_with("0 clusters free of "), "{out}");
        disk.fsck();
        assert_eq!(disk.get("/more.bin"), pattern(8192));
        assert!(disk.get("/filler.bin") == filler, "the filler must survive");
        out
    });
}

#[test]
fn corrupt_images_are_errors() {
    let disk = Disk::new("corrupt");
    disk.mkdir("/d");
    disk.put("/f.bin", &pattern(2000));
    disk.put("/g.bin", &pattern(2000));
    on_both_executors(&disk, |disk, gpu_run| {
        let image = disk.bytes();
        let geometry = Geometry::of(&image);
        let f = geometry.root_entry(&image, b"F       BIN");
        let g = geometry.root_entry(&image, b"G       BIN");
        let d = geometry.root_entry(&image, b"D          ");
        let cluster = |o: usize| u16::from_le_bytes([image[o + 26], image[o + 27]]) as u32;
        geometry.set_fat(disk, cluster(d), cluster(d)); // a directory chain that loops
        geometry.set_fat(disk, cluster(g), cluster(g)); // a file chain that loops
        disk.patch(f + 28, &100_000u32.to_le_bytes()); // a size the chain cannot hold
        let script = "ls d\ncat f.bin\ncat g.bin\nls -l\n";
        let mut out = ok_session(disk, script, gpu_run, false);
        assert_eq!(
            out,
            "error: file system is corrupt\nerror: file system is corrupt\n\
             error: file system is corrupt\nd 0 d\n- 100000 f.bin\n- 2000 g.bin\n"
        );
        disk.patch(f + 20, &0x0FFFu16.to_le_bytes()); // a first cluster past the volume
        let past = ok_session(disk, "cat f.bin\n", gpu_run, false);
        assert_eq!(past, "error: file system is corrupt\n");

        disk.patch(510, &[0, 0]);
        let run = session(disk, "ls\n", gpu_run, false, Fault::None);
        assert_eq!(
            (text(&run).as_str(), run.outcome.stop),
            (
                "error: not a FAT32 file system (bad boot sector)\n",
                Stop::Halted(1)
            )
        );
        out += &past;
        out
    });
}

#[test]
fn a_misbehaving_disk_is_an_io_error() {
    let disk = Disk::new("faults");
    let before = disk.bytes();
    for gpu_run in [false, true] {
        for fault in [Fault::BadStatus, Fault::WrongUsedId, Fault::NoCompletion] {
            let run = session(&disk, "ls\n", gpu_run, false, fault);
            assert_eq!(
                (text(&run).as_str(), run.outcome.stop),
                ("error: I/O error\n", Stop::Halted(1)),
                "{fault:?}, GPU: {gpu_run}"
            );
        }
    }
    assert!(disk.bytes() == before, "a failing mount writes nothing");
}

#[test]
fn the_gpu_runtime_runs_the_same_session() {
    let cpu_disk = Disk::new("gpu-a");
    cpu_disk.mkdir("/docs");
    cpu_disk.put("/docs/A Long File Name.text", b"a long name\n");
    cpu_disk.put("/hello.txt", b"hello\n");
    let gpu_disk = Disk {
        path: temp("gpu-b.img"),
    };
    std::fs::copy(&cpu_disk.path, &gpu_disk.path).unwrap();
    let script = "ls -l\ncat \"docs/a long file name.text\"\nmkdir \"docs/New Directory\"\n\
                  write \"docs/New Directory/Some Notes.txt\" written on the GPU\n\
                  append \"docs/New Directory/Some Notes.txt\" and more\n\
                  fill data.bin 20000\ncheck data.bin 20000\nmkfiles docs 12\nstatall docs 12\n\
                  mv hello.txt docs/hello.txt\nrm docs/file-0003.txt\ntruncate data.bin 1000\n\
                  ls -l docs\n";
    let cpu = ok_session(&cpu_disk, script, false, false);
    let gpu = ok_session(&gpu_disk, script, true, false);
    assert_eq!(gpu, cpu, "GPU and CPU sessions differ");
    assert!(cpu.contains("ok\n120\n"), "{cpu}");
    assert!(gpu_disk.bytes() == cpu_disk.bytes(), "the two disks differ");
    gpu_disk.fsck();
    assert_eq!(
        gpu_disk.get("/docs/New Directory/Some Notes.txt"),
        b"written on the GPU\nand more\n"
    );
    assert_eq!(gpu_disk.get("/data.bin"), pattern(1000));
    let before = gpu_disk.bytes();
    let out = ok_session(&gpu_disk, "cat docs/hello.txt\nwrite x y\n", true, true);
    assert_eq!(out, "hello\nerror: read-only file system\n");
    assert!(
        gpu_disk.bytes() == before,
        "a read-only disk must not change"
    );
}

/// A disk with `/many`: 1,000 numbered files written by one mcopy, a file with an 8.3 name
/// only and one with a long name with spaces.
fn many_files_disk(name: &str) -> Disk {
    let disk = Disk::new(name);
    disk.mkdir("/many");
    let host = numbered_files(&format!("{name}-many"), 1000);
    disk.put_dir(&host, "/many");
    std::fs::remove_dir_all(&host).unwrap();
    disk.put("/many/README.TXT", b"short name only\n");
    disk.put("/many/A Long File Name With Spaces.text", b"spaces\n");
    disk
}

/// One session of `script` per build in `variants` on a copy of `disk` (the CPU
/// interpreter, or the GPU runtime with `gpu_run`): each must halt with 0 and leave a
/// volume fsck.fat finds nothing in. Returns each build's output, image and instructions.
fn sessions_on_copies<'a>(
    disk: &Disk,
    script: &str,
    variants: &'a [(&'a str, Image)],
    limits: Limits,
    gpu_run: bool,
) -> Vec<(&'a str, String, Vec<u8>, u64)> {
    variants
        .iter()
        .map(|(name, image)| {
            let copy = disk.copy_as(&name.replace(' ', "-"));
            let mut host = CaptureHost::with_input(script.as_bytes());
            attach_disk(&mut host.devices, &copy.path, false, Fault::None).unwrap();
            let run = run_on(gpu_run, image, limits, 4, host);
            assert_eq!(run.outcome.stop, Stop::Halted(0), "{name}: {}", text(&run));
            copy.fsck();
            (*name, text(&run), copy.bytes(), run.outcome.steps)
        })
        .collect()
}

/// Directory indexes (examples/lib/fat32_index.pxs) only make lookups faster: the same
/// session on copies of one image — a 1,000-file directory written by mcopy, long names,
/// 8.3 names, aliases, creating, removing (free entries inside the directory), renaming,
/// rewriting — prints the same and leaves byte-identical images with the index built by
/// 4 harts, by 1 hart, and with no index at all; fsck.fat finds nothing.
#[test]
fn directory_indexes_change_no_answer() {
    let disk = many_files_disk("index");
    let script = "statall many 1000\nstat many/readme.txt\nstat many/FILE-0~1.TXT\n\
                  stat \"many/a long file name with SPACES.TEXT\"\nstat many/nothing.txt\n\
                  write many/new-one.txt hello\nstat many/new-one.txt\n\
                  rm many/file-0500.txt\nstat many/file-0500.txt\nstat many/file-0501.txt\n\
                  write \"many/Another Long Name.txt\" x\nmv many/file-0001.txt many/renamed.txt\n\
                  stat many/file-0001.txt\nstat many/RENAMED.TXT\nmv many/file-0002.txt top.txt\n\
                  mkdir many/sub\nrmdir many/sub\nmkfiles many 20\nstatall many 20\n\
                  cat \"many/another long name.txt\"\nstatall many 1000\nls -l many\n";
    let variants = [
        ("index 4 harts", shell_variant(4, 3, 8192)),
        ("index 1 hart", shell_variant(1, 0, 8192)),
        ("index none", shell_variant(1, 0, 0)),
    ];
    let runs = sessions_on_copies(&disk, script, &variants, limits(), false);
    let (_, out, image, indexed_steps) = &runs[0];
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "10000", "{out}");
    assert!(
        lines[1].starts_with("many/readme.txt: file, 16 bytes"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("many/FILE-0~1.TXT: file, 10 bytes"),
        "{out}"
    );
    assert!(lines[3].contains(": file, 7 bytes"), "{out}");
    assert_eq!(lines[4], "error: no such file or directory");
    assert!(
        lines[5].starts_with("many/new-one.txt: file, 6 bytes"),
        "{out}"
    );
    assert_eq!(lines[6], "error: no such file or directory");
    assert!(lines[7].starts_with("many/file-0501.txt: file, 10 bytes"));
    assert_eq!(lines[8], "error: no such file or directory");
    assert!(
        lines[9].starts_with("many/RENAMED.TXT: file, 10 bytes"),
        "{out}"
    );
    assert_eq!(
        lines[10..13],
        ["200", "x", "error: no such file or directory"]
    );
    for (name, other, other_image, _) in &runs[1..] {
        assert_eq!(other, out, "{name} printed something else");
        assert!(other_image == image, "{name} left another image");
    }
    let (_, _, _, scan_steps) = &runs[2];
    assert!(
        scan_steps / indexed_steps > 10,
        "the index is used: {indexed_steps} instructions with it, {scan_steps} scanning"
    );
}

/// The same for the OS (examples/os.pxs: the kernel's file calls under its lock, the
/// user-mode shell): a session in a 1,000-file directory with the index built by the
/// kernel's hart and 3 helper harts, by the kernel's hart alone, and with no index, and the
/// OS as built on the GPU runtime, prints the same and leaves byte-identical images;
/// fsck.fat finds nothing.
#[test]
fn the_os_directory_indexes_change_no_answer() {
    let disk = many_files_disk("os-index");
    let script = "stat many/file-0999.txt\nstat many/file-0998.txt\nstat many/file-0997.txt\n\
                  stat many/file-0996.txt\nstat many/file-0995.txt\nstat many/readme.txt\nstat many/FILE-0~1.TXT\n\
                  stat \"many/a long file name with SPACES.TEXT\"\nstat many/nothing.txt\n\
                  write many/new-one.txt hello\nstat many/new-one.txt\n\
                  rm many/file-0500.txt\nstat many/file-0500.txt\nstat many/file-0501.txt\n\
                  write \"many/Another Long Name.txt\" x\nmv many/file-0001.txt many/renamed.txt\n\
                  stat many/file-0001.txt\nstat many/RENAMED.TXT\nmv many/file-0002.txt top.txt\n\
                  mkdir many/sub\nwrite many/sub/in.txt deep\ncat many/sub/in.txt\n\
                  rm many/sub/in.txt\nrmdir many/sub\ncp many/file-0003.txt many/copy.txt\n\
                  cat \"many/another long name.txt\"\nstat many/copy.txt\nls -l many\nsync\n";
    let limits = Limits {
        slice_steps: 4096,
        max_steps: 400_000_000,
    };
    let variants = [
        ("os 3 helper harts", variant("os.pxs", 8, 3, 8192)),
        ("os no helpers", variant("os.pxs", 5, 0, 8192)),
        ("os no index", variant("os.pxs", 5, 0, 0)),
    ];
    let on_gpu = [("os on the GPU", variants[0].1.clone())];
    let mut runs = sessions_on_copies(&disk, script, &variants, limits, false);
    runs.extend(sessions_on_copies(&disk, script, &on_gpu, limits, true));
    let (_, out, image, indexed_steps) = &runs[0];
    for expected in [
        "pxos$ many/file-0995.txt: file, 10 bytes\npxos$ many/readme.txt: file, 16 bytes\n",
        "pxos$ many/FILE-0~1.TXT: file, 10 bytes\n",
        "pxos$ error: no such file or directory\npxos$ pxos$ many/new-one.txt: file, 6 bytes\n",
        "pxos$ pxos$ error: no such file or directory\npxos$ many/file-0501.txt: file, 10 bytes\n",
        "pxos$ pxos$ error: no such file or directory\npxos$ many/RENAMED.TXT: file, 10 bytes\n",
        "pxos$ deep\n",
        "pxos$ x\npxos$ many/copy.txt: file, 10 bytes\n",
        "- 10 file-0999.txt\n",
        "- 10 renamed.txt\n",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
    assert!(!out.contains("file-0500.txt\n"), "{out}");
    for (name, other, other_image, _) in &runs[1..] {
        assert_eq!(other, out, "{name} printed something else");
        assert!(other_image == image, "{name} left another image");
    }
    let (_, _, _, scan_steps) = &runs[2];
    assert!(
        *scan_steps > indexed_steps + indexed_steps / 5,
        "the index is used: {indexed_steps} instructions with it, {scan_steps} scanning"
    );
}

/// A benchmark row: name, the build (`fsh` or the OS), pxOS script, the reference's wall
/// time (None: no reference), whether the GPU runtime runs it too (the OS without an index
/// stats 1,000 files in minutes there).
type Case<'a> = (
    &'a str,
    &'a Image,
    String,
    Option<Box<dyn Fn() -> f64 + 'a>>,
    bool,
);

/// One measured shell session: instructions, rounds and wall time.
struct Measure {
    steps: u64,
    rounds: u32,
    seconds: f64,
}

/// The fastest of `runs` sessions (the machine is shared: take the least disturbed).
/// `reset` runs before each session (outside the timing).
fn measure(
    image: &Image,
    disk: &Disk,
    script: &str,
    gpu_run: bool,
    runs: u32,
    reset: &dyn Fn(),
) -> Measure {
    let mut best: Option<Measure> = None;
    for _ in 0..runs {
        reset();
        let start = std::time::Instant::now();
        let run = session_of(image, disk, script, gpu_run, false, Fault::None);
        let seconds = start.elapsed().as_secs_f64();
        assert_eq!(run.outcome.stop, Stop::Halted(0), "{}", text(&run));
        if best.as_ref().is_none_or(|b| seconds < b.seconds) {
            best = Some(Measure {
                steps: run.outcome.steps,
                rounds: run.outcome.rounds,
                seconds,
            });
        }
    }
    best.expect("at least one run")
}

fn wall_once(program: &str, args: &[&str]) -> f64 {
    let start = std::time::Instant::now();
    tool(program, args);
    start.elapsed().as_secs_f64()
}

/// The fastest of three runs of a tool.
fn wall(program: &str, args: &[&str]) -> f64 {
    (0..3)
        .map(|_| wall_once(program, args))
        .fold(f64::INFINITY, f64::min)
}

/// pxOS against mtools on the same image (and `stat` against Linux on tmpfs):
/// `cargo test --release -p gpu-runtime --test fs -- --ignored --nocapture`.
/// Each pxOS figure is a session with the operation minus the same session
/// without it (mount, sync), so it is the operation alone. The rows run `fsh` and then the
/// OS (examples/os.pxs: its user-mode shell over the kernel's file calls) with and without
/// directory indexes; `PXOS_BENCH=TEXT` runs only the rows whose name contains TEXT.
/// Results: docs/benchmarks.md.
#[test]
#[ignore = "benchmark: run by hand, numbers go to docs/benchmarks.md"]
fn bench_against_mtools() {
    let disk = Disk::new("bench");
    disk.mkdir("/many");
    let host = numbered_files("bench-many", 1000);
    disk.put_dir(&host, "/many");
    disk.put("/big.bin", &pattern(1 << 20));
    disk.mkdir("/new");
    let hundred = numbered_files("bench-100", 100);
    let img = disk.arg().to_string();
    let mut paths: Vec<String> = vec!["-i".into(), img.clone()];
    paths.extend(
        std::fs::read_dir(&hundred)
            .unwrap()
            .map(|e| e.unwrap().path().to_str().unwrap().to_string()),
    );
    paths.push("::/mt100".into());
    disk.mkdir("/mt100");
    let mcopy_100: Vec<&str> = paths.iter().map(String::as_str).collect();
    let linux_stat = {
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            shm.join(format!("pxos-stat-{}", std::process::id()))
        } else {
            host.clone()
        };
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..1000 {
            std::fs::write(dir.join(format!("file-{i:04}.txt")), b"file\n").unwrap();
        }
        let start = std::time::Instant::now();
        let mut total = 0;
        for i in 0..1000 {
            total += std::fs::metadata(dir.join(format!("file-{i:04}.txt")))
                .unwrap()
                .len();
        }
        let seconds = start.elapsed().as_secs_f64();
        assert_eq!(total, 5000);
        let _ = std::fs::remove_dir_all(&dir);
        seconds
    };
    let mdir = || wall("mdir", &["-i", &img, "::/many"]);
    let mcopy_big = || wall("mcopy", &["-n", "-i", &img, "::/big.bin", "-"]);
    let one_mcopy = || {
        (0..3)
            .map(|_| {
                tool("mdeltree", &["-i", &img, "::/mt100"]);
                disk.mkdir("/mt100");
                wall_once("mcopy", &mcopy_100)
            })
            .fold(f64::INFINITY, f64::min)
    };
    let one_hart = shell_variant(1, 0, 8192);
    let no_index = shell_variant(1, 0, 0);
    let os = variant("os.pxs", 8, 3, 8192);
    let os_one_hart = variant("os.pxs", 5, 0, 8192);
    let os_no_index = variant("os.pxs", 5, 0, 0);
    let os_stat: String = (0..1000)
        .map(|i| format!("stat many/file-{i:04}.txt\n"))
        .chain(["sync\n".to_string()])
        .collect();
    let os_create: String = (0..100)
        .map(|i| format!("write new/file-{i:04}.txt file {i:04}\n"))
        .chain(["sync\n".to_string()])
        .collect();
    let stat_reference = move || linux_stat;
    let cases: Vec<Case> = vec![
        (
            "`ls -l` of 1,000 files vs `mdir`",
            shell(),
            "ls -l many\n".into(),
            Some(Box::new(mdir)),
            true,
        ),
        (
            "`cat` 1 MiB vs `mcopy … -`",
            shell(),
            "cat big.bin\n".into(),
            Some(Box::new(mcopy_big)),
            true,
        ),
        (
            "`read` 1 MiB (64 KiB calls, no console) vs `mcopy … -`",
            shell(),
            "read big.bin\n".into(),
            Some(Box::new(mcopy_big)),
            true,
        ),
        (
            "create 100 files (`mkfiles`) vs one `mcopy`",
            shell(),
            "mkfiles new 100\n".into(),
            Some(Box::new(one_mcopy)),
            true,
        ),
        (
            "`stat` 1,000 files (`statall`) vs Linux `stat` on tmpfs",
            shell(),
            "statall many 1000\n".into(),
            Some(Box::new(stat_reference)),
            true,
        ),
        (
            "first lookup in the 1,000-file directory: index built by 4 harts",
            shell(),
            "stat many/file-0999.txt\n".into(),
            None,
            true,
        ),
        (
            "the same, index built by 1 hart",
            &one_hart,
            "stat many/file-0999.txt\n".into(),
            None,
            true,
        ),
        (
            "the same without an index (a scan)",
            &no_index,
            "stat many/file-0999.txt\n".into(),
            None,
            true,
        ),
        (
            "OS: `ls -l` of 1,000 files vs `mdir`",
            &os,
            "ls -l many\nsync\n".into(),
            Some(Box::new(mdir)),
            true,
        ),
        (
            "OS without an index: `ls -l` of 1,000 files",
            &os_no_index,
            "ls -l many\nsync\n".into(),
            None,
            true,
        ),
        (
            "OS: `stat` 1,000 files (1,000 commands) vs Linux `stat` on tmpfs",
            &os,
            os_stat.clone(),
            Some(Box::new(stat_reference)),
            true,
        ),
        (
            "OS without an index: `stat` 1,000 files",
            &os_no_index,
            os_stat,
            None,
            false,
        ),
        (
            "OS: create 100 files (100 `write`s) vs one `mcopy`",
            &os,
            os_create.clone(),
            Some(Box::new(one_mcopy)),
            true,
        ),
        (
            "OS without an index: create 100 files",
            &os_no_index,
            os_create,
            None,
            true,
        ),
        (
            "OS: first lookup in the 1,000-file directory: index built by 4 harts",
            &os,
            "stat many/file-0999.txt\nsync\n".into(),
            None,
            true,
        ),
        (
            "OS: the same, index built by 1 hart",
            &os_one_hart,
            "stat many/file-0999.txt\nsync\n".into(),
            None,
            true,
        ),
        (
            "OS: the same without an index (a scan)",
            &os_no_index,
            "stat many/file-0999.txt\nsync\n".into(),
            None,
            true,
        ),
    ];
    let fresh_new = || {
        tool("mdeltree", &["-i", &img, "::/new"]);
        disk.mkdir("/new");
    };
    println!("adapter: {}", gpu().adapter_name());
    println!(
        "| operation | pxOS CPU interpreter: instructions, rounds, ms | pxOS GPU runtime: rounds, ms | reference: ms |"
    );
    println!("|---|---|---|---|");
    let only = std::env::var("PXOS_BENCH").unwrap_or_default();
    for (name, image, script, reference, on_gpu) in &cases {
        if !name.contains(only.as_str()) {
            continue;
        }
        let reset: &dyn Fn() = if script.starts_with("mkfiles") || script.starts_with("write new/")
        {
            &fresh_new
        } else {
            &|| {}
        };
        // The OS syncs only when told (fsh does at the end of input): its rows end with
        // `sync`, and so does their base session.
        let base = if script.ends_with("sync\n") {
            "df\nsync\n"
        } else {
            "df\n"
        };
        let base_cpu = measure(image, &disk, base, false, 5, &|| {});
        let cpu = measure(image, &disk, script, false, 3, reset);
        let gpu_cell = if *on_gpu {
            let base_gpu = measure(image, &disk, base, true, 3, &|| {});
            let gpu = measure(image, &disk, script, true, 1, reset);
            format!(
                "{}, {:.0}",
                gpu.rounds - base_gpu.rounds,
                (gpu.seconds - base_gpu.seconds) * 1e3
            )
        } else {
            "not run".to_string()
        };
        let reference_ms = reference
            .as_ref()
            .map_or("—".to_string(), |r| format!("{:.2}", r() * 1e3));
        println!(
            "| {name} | {}, {}, {:.1} | {gpu_cell} | {reference_ms} |",
            cpu.steps - base_cpu.steps,
            cpu.rounds - base_cpu.rounds,
            (cpu.seconds - base_cpu.seconds) * 1e3,
        );
    }
    std::fs::remove_dir_all(&host).unwrap();
    std::fs::remove_dir_all(&hundred).unwrap();
    disk.fsck();
}

/// One OS session on `disk` (4 rounds per batch); it must halt with 0. Returns its output.
fn os_session(disk: &Disk, script: &str, limits: Limits, gpu_run: bool) -> String {
    let mut host = CaptureHost::with_input(script.as_bytes());
    attach_disk(&mut host.devices, &disk.path, false, Fault::None).unwrap();
    let run = run_on(gpu_run, os(), limits, 4, host);
    let out = text(&run);
    assert_eq!(run.outcome.stop, Stop::Halted(0), "{out}");
    out
}

/// A file of several hundred KiB and nested directories with long names in the OS, on both
/// executors: mtools writes a 300 KiB file, the OS copies it into a nested directory with a
/// long name and reads a deep file by a differently cased name; mtools reads the copy back
/// byte for byte, fsck.fat finds nothing, and both executors leave the same image.
#[test]
fn the_os_copies_a_large_file_on_both_executors() {
    let disk = Disk::new("os-big");
    disk.put("/big.bin", &pattern(BIG));
    disk.mkdir("/Deep Directory");
    disk.mkdir("/Deep Directory/Deeper Still");
    disk.put(
        "/Deep Directory/Deeper Still/A Note With A Long Name.txt",
        b"deep\n",
    );
    let copy = "Deep Directory/Deeper Still/A Copy Of The Big File.bin";
    let script = format!(
        "cp big.bin \"{copy}\"\nstat \"deep directory/DEEPER STILL/a copy of the big file.BIN\"\n\
         cat \"DEEP DIRECTORY/deeper still/a note with a long name.TXT\"\n\
         ls -l \"Deep Directory/Deeper Still\"\nsync\n"
    );
    let limits = Limits {
        slice_steps: 4096,
        max_steps: 100_000_000,
    };
    on_both_executors(&disk, |disk, gpu_run| {
        let out = os_session(disk, &script, limits, gpu_run);
        for expected in [
            "pxos$ deep directory/DEEPER STILL/a copy of the big file.BIN: file, 307200 bytes\n",
            "pxos$ deep\n",
            "- 5 A Note With A Long Name.txt\n",
            "- 307200 A Copy Of The Big File.bin\n",
        ] {
            assert!(out.contains(expected), "missing {expected:?} in\n{out}");
        }
        disk.fsck();
        assert!(
            disk.get(&format!("/{copy}")) == pattern(BIG),
            "the copy differs"
        );
        assert!(disk.get("/big.bin") == pattern(BIG), "the original changed");
        out
    });
}

/// The file commands of the pxOS shell (examples/os.pxs: user-mode shell,
/// file OS calls in the kernel) on a disk, on both executors.
#[test]
fn the_os_shell_uses_files_on_both_executors() {
    let script = "ls -l\ncat hello.txt\nmkdir \"My Documents\"\n\
                  write \"My Documents/A long file name.txt\" written by the OS\n\
                  append \"My Documents/A long file name.txt\" more\n\
                  cat \"my documents/a LONG file name.TXT\"\n\
                  cp \"My Documents/A long file name.txt\" copy.txt\nstat copy.txt\n\
                  mv copy.txt \"My Documents/moved.txt\"\nrm hello.txt\ncat hello.txt\n\
                  rmdir \"My Documents\"\nls -l \"My Documents\"\ndf\nsync\n";
    let limits = Limits {
        slice_steps: 4096,
        max_steps: 200_000_000,
    };
    let mut outputs = Vec::new();
    for gpu_run in [false, true] {
        let disk = Disk::new(if gpu_run { "os-gpu" } else { "os-cpu" });
        disk.put("/hello.txt", b"hello\n");
        let out = os_session(&disk, script, limits, gpu_run);
        for expected in [
            "pxos$ - 6 hello.txt\npxos$ hello\n",
            "pxos$ written by the OS\nmore\n",
            "pxos$ copy.txt: file, 23 bytes\n",
            "pxos$ error: no such file or directory\npxos$ error: directory not empty\n",
            "pxos$ - 23 A long file name.txt\n- 23 moved.txt\n",
            "pxos$ 80624 clusters free of 80628, 512 bytes each\n",
        ] {
            assert!(out.contains(expected), "missing {expected:?} in\n{out}");
        }
        disk.fsck();
        assert_eq!(
            disk.get("/My Documents/moved.txt"),
            b"written by the OS\nmore\n"
        );
        assert!(!disk.tree().contains("/hello.txt"));
        outputs.push(out);
    }
    assert_eq!(outputs[0], outputs[1], "CPU and GPU sessions differ");
}
