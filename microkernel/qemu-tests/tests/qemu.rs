//! Boots the microkernel in QEMU (TCG, headless) and checks what it does. Every run has a
//! timeout, so a hung kernel fails a test instead of hanging it; a missing QEMU fails too.

use qemu_tests::{
    DISPATCH_START, DISPATCH_STOPPED, END_OF_INPUT, EXIT_FAILURE, EXIT_ON_STOP, EXIT_SUCCESS,
    Finished, Monitor, NO_GPU_COMPUTE, Qemu, Running, ScreenLayout, clean_cargo, clean_command,
    kernels, microkernel_dir, require_qemu, run_shell_session,
};
use std::time::Duration;

/// TCG on a busy 2-core CI machine is slow; a kernel that needs longer is broken.
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

/// Boots the full kernel with `exit-on-stop` (plus `extra` QEMU arguments), closes its
/// console input once the program runs, and waits for QEMU to exit.
fn boot_to_exit(extra: &[&str]) -> Finished {
    require_qemu();
    let qemu = Qemu::new(&kernels().kernel)
        .args(extra.iter().copied())
        .append(EXIT_ON_STOP);
    let mut running = qemu.spawn();
    running.wait_for_line(DISPATCH_START, BOOT_TIMEOUT);
    running.send(END_OF_INPUT);
    running.wait(BOOT_TIMEOUT)
}

#[test]
fn boots_runs_the_os_and_exits_through_isa_debug_exit() {
    let run = boot_to_exit(&[]);
    run.expect_line(DISPATCH_START);
    let stopped = run.expect_line(DISPATCH_STOPPED);
    assert!(
        stopped.contains("Halted(0)") || stopped.contains("AllExited"),
        "the os did not stop cleanly: {stopped}\n{}",
        run.text()
    );
    assert_eq!(
        run.code(),
        Some(EXIT_SUCCESS),
        "QEMU exit status; serial log:\n{}",
        run.text()
    );
}

#[test]
fn serial_log_shows_boot_memory_map_pci_and_display() {
    let run = boot_to_exit(&[]);
    run.expect_line("pxOS microkernel: long mode, identity-mapped 0..4 GiB with 2 MiB pages");
    run.expect_line("boot: command line \"exit-on-stop\"");
    run.expect_line("mem 0x0000100000..");
    run.expect_line("mem 0x00b0000000..0x00c0000000 reserved"); // q35 ECAM window
    // QEMU's default 128 MiB: the heap is the RAM from the kernel's end to 0x7fe0000.
    let heap = run.expect_line("heap: ");
    assert!(
        heap.ends_with("..0x7fe0000 (the RAM after the kernel)"),
        "{heap}"
    );
    run.expect_line("pci 00:00.0 8086:29c0 class 0600 host bridge");
    run.expect_line("1af4:1050 class 0380 display controller");
    run.expect_line("bar4 mem64 0x0000fe");
    run.expect_line("virtio-gpu enabled (io | memory | bus master)");
    run.expect_line("display: 1280x800 B8G8R8A8; program ");
    run.expect_line("os.pxi: ");
    // virtio-gpu-pci has no 3D: the kernel says so and runs the CPU interpreter.
    run.expect_line(NO_GPU_COMPUTE);
    run.expect_line(DISPATCH_START);
}

#[test]
fn pci_enumeration_lists_extra_devices() {
    let run = boot_to_exit(&[
        "-device",
        "e1000,netdev=n0",
        "-netdev",
        "user,id=n0",
        "-device",
        "pci-testdev",
    ]);
    let e1000 = run.expect_line("8086:100e");
    assert!(e1000.contains("class 0200 network controller"), "{e1000}");
    let testdev = run.expect_line("1b36:0005");
    assert!(testdev.starts_with("pci 00:"), "{testdev}");
    // e1000: a 128 KiB memory BAR and an I/O BAR.
    run.expect_line("mem32 0xfe");
    run.expect_line("size 0x20000");
    run.expect_line("io    0x");
    assert_eq!(run.code(), Some(EXIT_SUCCESS), "{}", run.text());
}

/// With less RAM than the heap needs, the kernel says so and fails before touching a device
/// (it used to write past the end of RAM and then blame virtio-gpu).
#[test]
fn too_little_ram_is_a_clear_boot_failure() {
    require_qemu();
    let run = Qemu::new(&kernels().kernel)
        .args(["-m", "16M"])
        .append(EXIT_ON_STOP)
        .run(BOOT_TIMEOUT);
    let line = run.expect_line("boot: no heap: only ");
    assert!(
        line.ends_with("KiB of RAM after the kernel, the heap needs 24 MiB: give QEMU more memory (-m 32M or more)"),
        "{line}"
    );
    assert!(
        !run.text().contains("pci:") && !run.text().contains("virtio-gpu"),
        "{}",
        run.text()
    );
    assert_eq!(run.code(), Some(EXIT_FAILURE), "{}", run.text());
}

#[test]
fn cpu_exception_is_reported_and_fails() {
    require_qemu();
    let run = Qemu::new(&kernels().kernel)
        .append("fault-test")
        .run(BOOT_TIMEOUT);
    run.expect_line("CPU EXCEPTION 14 (page fault)");
    run.expect_line("faulting address (cr2) 0x0000000100000000");
    run.expect_line("rip 0x");
    assert_eq!(run.code(), Some(EXIT_FAILURE), "{}", run.text());
}

#[test]
fn minimal_kernel_prints_one_line_and_exits() {
    require_qemu();
    let run = Qemu::new(&kernels().minimal).run(BOOT_TIMEOUT);
    assert_eq!(run.text(), "pxos-minimal: up\n");
    assert_eq!(run.code(), Some(EXIT_SUCCESS));
}

/// The screendump (PNG, of the virtio-gpu since there is no VGA) shows every pixel of the
/// embedded program, scaled, at the place the kernel reported, a heatmap in which code ran,
/// and what the `paint` program drew through `SYS_BLIT`.
#[test]
fn screendump_shows_program_pixels_and_heatmap() {
    require_qemu();
    let dir = std::env::temp_dir().join(format!("pxos-screendump-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let socket = dir.join("monitor.sock");
    let screenshot = dir.join("screen.png");
    // No exit-on-stop: the kernel keeps the screen up when the program stops.
    let qemu =
        Qemu::new(&kernels().kernel).args(Monitor::qemu_args(&socket).iter().map(String::as_str));
    let mut running = qemu.spawn();
    let (_, display_line) = running.wait_for_line("display: ", BOOT_TIMEOUT);
    let layout =
        ScreenLayout::parse(&display_line).unwrap_or_else(|| panic!("unparsable: {display_line}"));
    running.wait_for_line(DISPATCH_START, BOOT_TIMEOUT);
    // A program draws on the screen through the OS and the mailbox (SYS_BLIT).
    running.send(b"run paint\r");
    running.wait_for_line("paint: drew 64x16 pixels at 1200,780", BOOT_TIMEOUT);
    running.send(END_OF_INPUT);
    running.wait_for_line(DISPATCH_STOPPED, BOOT_TIMEOUT);

    let mut monitor = Monitor::connect(&socket);
    let reply = monitor.command(&format!("screendump {} -f png", screenshot.display()));
    let screen = image::open(&screenshot)
        .unwrap_or_else(|error| panic!("screendump failed ({error}); monitor said: {reply}"))
        .to_rgb8();
    monitor.command("quit");
    running.wait(BOOT_TIMEOUT);
    assert_eq!(screen.dimensions(), (1280, 800));

    // `paint`'s gradient: red = 4x, green = 16y, blue = 0x80 at (1200 + x, 780 + y).
    for (x, y) in [(0u32, 0u32), (63, 0), (10, 7), (63, 15)] {
        let expected = [(4 * x) as u8, (16 * y) as u8, 0x80];
        assert_eq!(
            screen.get_pixel(1200 + x, 780 + y).0,
            expected,
            "painted pixel ({x},{y})"
        );
    }

    let os_image = std::fs::read(&kernels().os_image).expect("read the embedded os.pxi");
    let program = image::load_from_memory_with_format(&os_image, image::ImageFormat::Png)
        .expect("decode the embedded os.pxi")
        .to_rgba8();
    assert_eq!(
        program.dimensions(),
        layout.program_size,
        "kernel and test disagree on the image"
    );
    let mut mismatches = Vec::new();
    for (x, y, pixel) in program.enumerate_pixels() {
        let (sx, sy) = layout.cell_centre(layout.program_at, x, y);
        let shown = screen.get_pixel(sx, sy).0;
        if shown != [pixel[0], pixel[1], pixel[2]] {
            mismatches.push(format!(
                "({x},{y}): program {:?}, screen {shown:?}",
                pixel.0
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} program pixels differ on screen: {mismatches:?}",
        mismatches.len()
    );

    // Code starts after the 8 header pixels and the segment table; its length is pixel 3.
    let word = |index: u32| {
        u32::from_le_bytes(
            program
                .get_pixel(index % program.width(), index / program.width())
                .0,
        )
    };
    let code_start = 8 + 2 * word(6);
    let executed_cells = (code_start..code_start + word(3))
        .filter(|&index| {
            let (sx, sy) = layout.cell_centre(
                layout.heatmap_at,
                index % program.width(),
                index / program.width(),
            );
            screen.get_pixel(sx, sy).0 != [0, 0, 0]
        })
        .count();
    assert!(
        executed_cells > 0,
        "the heatmap shows no executed code pixel"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// The kernel's host-testable logic (PCI decoding, drawing) is unit-tested on the host target;
/// running it from here makes the root workspace's `cargo test` cover it.
#[test]
fn kernel_logic_unit_tests_pass_on_the_host() {
    let host = std::env::var("QEMU_TESTS_HOST_TARGET")
        .unwrap_or_else(|_| "x86_64-unknown-linux-gnu".to_string());
    let output = clean_cargo()
        .args(["test", "--lib", "--target", &host])
        .output()
        .expect("run cargo test in microkernel/");
    assert!(
        output.status.success(),
        "microkernel unit tests failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The os is a shell on COM1: a scripted session typed into QEMU's serial input, one command
/// at a time, answered over serial; Ctrl-D makes the shell halt the machine with status 0.
#[test]
fn shell_over_serial_runs_a_scripted_session() {
    require_qemu();
    let qemu = Qemu::new(&kernels().kernel).append(EXIT_ON_STOP);
    let mut running = qemu.spawn();
    running.wait_for_line(DISPATCH_START, BOOT_TIMEOUT);
    let run = run_shell_session(running, BOOT_TIMEOUT);
    run.expect_line("pxos$ bye");
    let stopped = run.expect_line(DISPATCH_STOPPED);
    assert!(stopped.contains("Halted(0)"), "{stopped}\n{}", run.text());
    assert_eq!(run.code(), Some(EXIT_SUCCESS), "{}", run.text());
}

/// `cargo run --release` in microkernel/ boots the kernel in QEMU through the cargo runner
/// (`qemu-run.sh`), with the arguments after `--` passed to QEMU.
#[test]
fn cargo_run_boots_the_kernel_through_the_runner() {
    require_qemu();
    kernels(); // built already, so `cargo run` only runs
    let mut command = clean_cargo();
    command.args(["run", "--release", "--", "-device"]);
    command.args([
        "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-append",
        EXIT_ON_STOP,
    ]);
    let mut running = Running::spawn(command, "cargo run --release (microkernel/)".into());
    running.wait_for_line("heap: ", BOOT_TIMEOUT);
    running.wait_for_line(DISPATCH_START, BOOT_TIMEOUT);
    running.send(END_OF_INPUT);
    let run = running.wait(BOOT_TIMEOUT);
    // The kernel left QEMU through isa-debug-exit: it ran there, with the runner's arguments.
    assert!(
        matches!(run.code(), Some(EXIT_SUCCESS | EXIT_FAILURE)),
        "{:?}\n{}",
        run.code(),
        run.text()
    );
}

/// boot.sh and bench.sh find the kernel where cargo put it, also under `CARGO_TARGET_DIR`
/// (they used to build there and then look in microkernel/target).
#[test]
fn the_scripts_find_the_kernel_under_cargo_target_dir() {
    let built = &kernels().kernel;
    // The target directory holds x86_64-unknown-none/release/pxos-kernel.
    let target_dir = built.ancestors().nth(3).expect("target directory");
    let elsewhere = std::env::temp_dir().join(format!("pxos-target-{}", std::process::id()));
    std::os::unix::fs::symlink(target_dir, &elsewhere).expect("symlink the target directory");
    let output = clean_command("bash")
        .args(["-c", "source ./cargo-artifacts.sh && build_executable pxos-kernel --release --bin pxos-kernel"])
        .env("CARGO_TARGET_DIR", &elsewhere)
        .output()
        .expect("run bash");
    std::fs::remove_file(&elsewhere).ok();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim_end(),
        elsewhere
            .join("x86_64-unknown-none/release/pxos-kernel")
            .display()
            .to_string()
    );
    for script in ["boot.sh", "bench.sh"] {
        let text = std::fs::read_to_string(microkernel_dir().join(script)).unwrap();
        assert!(
            text.contains("source \"$here/cargo-artifacts.sh\"") && !text.contains("$here/target"),
            "{script} must ask cargo where the kernel is"
        );
    }
}

fn run_tool(program: &str, args: &[&str]) -> std::process::Output {
    let output = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (scripts/test.sh installs dosfstools, mtools)"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `fsck.fat -n IMAGE` must exit 0 and report nothing but its banner and summary.
fn fsck(image: &str) {
    let fsck = std::process::Command::new("fsck.fat")
        .args(["-n", image])
        .output()
        .expect("fsck.fat (scripts/test.sh installs dosfstools)");
    let report = String::from_utf8_lossy(&fsck.stdout);
    assert!(
        fsck.status.success() && report.lines().count() <= 2,
        "fsck.fat -n: {report}"
    );
}

/// `dir/disk.img`: a fresh 40 MiB FAT32 volume (`mkfs.fat`) holding `files` in its root (`mcopy`).
fn fat_image(dir: &std::path::Path, files: &[&std::path::Path]) -> std::path::PathBuf {
    let image = dir.join("disk.img");
    let image_arg = image.to_str().expect("UTF-8 temporary path");
    let _ = std::fs::remove_file(&image);
    run_tool("mkfs.fat", &["-C", "-F", "32", image_arg, "40960"]);
    for file in files {
        run_tool("mcopy", &["-i", image_arg, file.to_str().unwrap(), "::/"]);
    }
    image
}

/// Boots the kernel with the disk image `image` on a `virtio-blk-pci` (`drive_options`
/// appended to its `-drive`), waits for the serial line `ready` and the banner, types each
/// command and waits for its reply, then ends input: the shell must say bye and QEMU exit
/// with success.
fn disk_session(image: &str, drive_options: &str, ready: &str, script: &[(&str, &str)]) {
    let drive = format!("file={image},if=none,format=raw,id=disk{drive_options}");
    let qemu = Qemu::new(&kernels().kernel)
        .args(["-drive", &drive, "-device", "virtio-blk-pci,drive=disk"])
        .append(EXIT_ON_STOP);
    let mut running = qemu.spawn();
    running.wait_for_line(ready, BOOT_TIMEOUT);
    running.wait_for_line("pxOS 0.3", BOOT_TIMEOUT);
    for (command, reply) in script {
        running.send(command.as_bytes());
        running.wait_for_line(reply, BOOT_TIMEOUT);
    }
    running.send(END_OF_INPUT);
    let run = running.wait(BOOT_TIMEOUT);
    run.expect_line("bye");
    assert_eq!(run.code(), Some(EXIT_SUCCESS), "{}", run.text());
}

/// Files on QEMU's `virtio-blk-pci`: the microkernel resolves the virtio PCI capabilities into
/// device-table regions, and the same pixel driver and FAT32 that the host tests run
/// (examples/lib/virtio_blk.pxs, fat32.pxs, inside os.pxs) serve the shell's file commands on
/// metal; `fsck.fat -n` and mtools check the disk afterwards.
#[test]
fn files_on_a_virtio_blk_disk() {
    require_qemu();
    let dir = std::env::temp_dir().join(format!("pxos-qemu-disk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hello = dir.join("hello.txt");
    std::fs::write(&hello, "hello from mtools\n").unwrap();
    let image = fat_image(&dir, &[&hello]);
    let image_arg = image.to_str().expect("UTF-8 temporary path");
    // Each step waits for a line that its last command prints, never for an echo: the console
    // hart echoes typed bytes while the shell may still be printing its prompt, so an echo can
    // have the prompt in its middle. A silent command is followed by one that prints.
    let script: &[(&str, &str)] = &[
        ("ls -l\r", "- 18 hello.txt"),
        ("cat hello.txt\r", "hello from mtools"),
        (
            "mkdir \"From QEMU\"\rstat \"from qemu\"\r",
            "from qemu: directory",
        ),
        (
            "write \"From QEMU/A long name.txt\" written on metal\r\
             stat \"from qemu/a long name.txt\"\r",
            "name.txt: file, 17 bytes",
        ),
        ("cat \"from qemu/a LONG name.TXT\"\r", "written on metal"),
        ("stat hello.txt\r", "hello.txt: file, 18 bytes"),
        ("sync\rdf\r", "clusters free of"),
    ];
    disk_session(image_arg, "", "virtio-blk offered to pixel drivers", script);
    fsck(image_arg);
    let notes = run_tool(
        "mcopy",
        &["-n", "-i", image_arg, "::/From QEMU/A long name.txt", "-"],
    );
    assert_eq!(notes.stdout, b"written on metal\n");
    std::fs::remove_dir_all(&dir).ok();
}

/// The free bytes mdir reports for the volume `image`.
fn free_bytes(image: &str) -> u64 {
    let listing = run_tool("mdir", &["-i", image, "::/"]).stdout;
    let listing = String::from_utf8_lossy(&listing);
    let line = listing
        .lines()
        .find(|l| l.contains("bytes free"))
        .unwrap_or_else(|| panic!("mdir says no free bytes: {listing}"));
    line.split("bytes free")
        .next()
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("mdir: {line}"))
}

/// The bigger cases of the file-system tests on metal, on one mtools-made volume: a
/// 1,000-file directory (listed with sizes, looked up by a short name in another case), a
/// 300 KiB file copied into a nested directory with a long name (mtools reads the copy back
/// byte for byte), a file whose size its cluster chain cannot hold (a corruption error),
/// and a disk too full for a second copy (`ENOSPC`; fsck.fat still finds nothing).
#[test]
fn bigger_file_cases_on_a_virtio_blk_disk() {
    require_qemu();
    let dir = std::env::temp_dir().join(format!("pxos-qemu-fs-{}", std::process::id()));
    let many = dir.join("many");
    std::fs::create_dir_all(&many).unwrap();
    let mut names = Vec::new();
    for i in 0..1000 {
        let name = many.join(format!("file-{i:04}.txt"));
        std::fs::write(&name, format!("file {i:04}\n")).unwrap();
        names.push(name);
    }
    let big: Vec<u8> = (0..300 * 1024u32)
        .map(|i| (i * 7 + (i >> 8)) as u8)
        .collect();
    let big_file = dir.join("big.bin");
    std::fs::write(&big_file, &big).unwrap();
    let broken = dir.join("broken.txt");
    std::fs::write(&broken, "a short file\n").unwrap();
    let image = fat_image(&dir, &[&big_file, &broken]);
    let image_arg = image.to_str().expect("UTF-8 temporary path");
    run_tool("mmd", &["-i", image_arg, "::/many", "::/Deep Dir"]);
    let mut args = vec!["-i", image_arg];
    args.extend(names.iter().map(|n| n.to_str().unwrap()));
    args.push("::/many");
    run_tool("mcopy", &args);
    // Room for one copy of big.bin (600 clusters) and directory growth, not for two.
    let filler = dir.join("filler.bin");
    let room = free_bytes(image_arg) - 800 * 512;
    std::fs::File::create(&filler)
        .unwrap()
        .set_len(room)
        .unwrap();
    run_tool("mcopy", &["-i", image_arg, filler.to_str().unwrap(), "::/"]);
    let mut bytes = std::fs::read(&image).unwrap();
    let entry = bytes
        .windows(11)
        .position(|w| w == b"BROKEN  TXT")
        .expect("broken.txt's directory entry");
    bytes[entry + 28..entry + 32].copy_from_slice(&100_000u32.to_le_bytes());
    std::fs::write(&image, bytes).unwrap();
    let script: &[(&str, &str)] = &[
        ("ls -l many\r", "- 10 file-0999.txt"),
        ("stat many/FILE-0500.TXT\r", "TXT: file, 10 bytes"),
        (
            "cp big.bin \"Deep Dir/A Big Copy.bin\"\rstat \"deep dir/a BIG copy.bin\"\r",
            "bin: file, 307200 bytes",
        ),
        ("cat broken.txt\r", "error: file system is corrupt"),
        ("cp big.bin again.bin\r", "error: no space left on device"),
        ("sync\rdf\r", "clusters free of"),
    ];
    disk_session(image_arg, "", "virtio-blk offered to pixel drivers", script);
    let mut bytes = std::fs::read(&image).unwrap();
    bytes[entry + 28..entry + 32].copy_from_slice(&13u32.to_le_bytes()); // undo the damage
    std::fs::write(&image, bytes).unwrap();
    fsck(image_arg);
    let copy = run_tool(
        "mcopy",
        &["-n", "-i", image_arg, "::/Deep Dir/A Big Copy.bin", "-"],
    );
    assert!(copy.stdout == big, "mtools reads another copy back");
    std::fs::remove_dir_all(&dir).ok();
}

/// Programs from the file system on metal (issue 10, "microkernel programs from the file
/// system"): a `.pxi` assembled by pxi-asm and copied onto the virtio-blk disk with mcopy is read
/// by the pixel kernel through its FAT32 code, decoded by the microkernel's `SYS_LOAD` service,
/// installed in the code load arena and run as a user process; a file that is not a program is
/// refused and the shell goes on; on the read-only disk (`readonly=on`) writes are refused and
/// change nothing.
#[test]
fn programs_from_the_disk_run_on_metal() {
    require_qemu();
    let dir = std::env::temp_dir().join(format!("pxos-qemu-exec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let image = dir.join("disk.img");
    let image_arg = image.to_str().expect("UTF-8 temporary path");
    let osabi = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/lib/osabi.pxs");
    let source = format!(
        ".include \"{osabi}\"\n.data\nmsg: .string \"loaded from the disk, arg \"\n.code\n\
         main:\n    mov r5, r1\n    li r1, msg\n    li r2, msg.len\n    call u_puts\n    \
         mov r1, r5\n    call u_putu\n    call u_nl\n    li r0, 0\n    ret\n"
    );
    let program = pxi_asm::assemble_source("disk.pxs", &source)
        .unwrap_or_else(|e| panic!("{e}"))
        .image
        .encode_png();
    let pxi = dir.join("hello.pxi");
    std::fs::write(&pxi, program).unwrap();
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "not a program\n").unwrap();
    let _ = std::fs::remove_file(&image);
    run_tool("mkfs.fat", &["-C", "-F", "32", image_arg, "40960"]);
    run_tool("mmd", &["-i", image_arg, "::/bin"]);
    run_tool(
        "mcopy",
        &["-i", image_arg, pxi.to_str().unwrap(), "::/bin/"],
    );
    run_tool("mcopy", &["-i", image_arg, notes.to_str().unwrap(), "::/"]);
    let script: &[(&str, &str)] = &[
        ("run /bin/hello.pxi 42\r", "loaded from the disk, arg 42"),
        (
            "run /notes.txt\r",
            "run: /notes.txt: not a PXI program image",
        ),
        ("run /bin/hello.pxi 43\r", "loaded from the disk, arg 43"),
        ("write new.txt text\r", "error: read-only file system"),
        ("mkdir newdir\r", "error: read-only file system"),
    ];
    let before = std::fs::read(&image).unwrap();
    disk_session(
        image_arg,
        ",readonly=on",
        "arenas for loaded programs",
        script,
    );
    assert!(
        std::fs::read(&image).unwrap() == before,
        "a read-only disk must not change"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// The shell's `ai` on metal: a llama2.c model and tokenizer (random weights from the `llama`
/// crate) on the virtio-blk disk, read through the file OS calls, run by the in-guest CPU
/// interpreter; it must print the Rust reference's text. The kernel command line gives the OS
/// a large-window arena for `ai`'s window (`memory=`), so QEMU gets more RAM.
#[test]
fn ai_answers_from_a_virtio_blk_disk() {
    use llama::{Config, Exact, Model, Options, Tokenizer};
    require_qemu();
    let dir = std::env::temp_dir().join(format!("pxos-qemu-ai-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = Config {
        dim: 32,
        hidden_dim: 48,
        n_layers: 2,
        n_heads: 4,
        n_kv_heads: 2,
        vocab_size: 512,
        seq_len: 16,
    };
    let model = Model::random(config, true, Some(8), 9);
    let tokenizer = Tokenizer::generate(config.vocab_size, 5);
    let (model_path, tok_path) = (dir.join("model.bin"), dir.join("tokenizer.bin"));
    std::fs::write(&model_path, model.to_bytes()).unwrap();
    std::fs::write(&tok_path, tokenizer.to_bytes()).unwrap();
    let image = fat_image(&dir, &[&model_path, &tok_path]);
    let image_arg = image.to_str().expect("UTF-8 temporary path");
    let options = Options {
        steps: 10,
        temperature: 0.0,
        topp: 0.9,
        seed: 3,
    };
    let expected = llama::generate(&Exact, &model, &tokenizer, b"lily saw", &options);
    let expected = String::from_utf8(expected.text).expect("the reference prints UTF-8 here");
    let drive = format!("file={image_arg},if=none,format=raw,id=disk,readonly=on");
    let qemu = Qemu::new(&kernels().kernel)
        .args([
            "-m",
            "256M",
            "-drive",
            &drive,
            "-device",
            "virtio-blk-pci,drive=disk",
        ])
        .append(&format!("{EXIT_ON_STOP} memory=19M"));
    let mut running = qemu.spawn();
    running.wait_for_line("pxOS 0.3", BOOT_TIMEOUT);
    running.send(b"ai -n 10 -t 0 lily saw\r");
    running.wait_for_line("achieved tok/s: ", BOOT_TIMEOUT);
    running.send(END_OF_INPUT);
    let run = running.wait(BOOT_TIMEOUT);
    run.expect_line("boot: memory=19922944 words");
    run.expect_line(expected.trim_end());
    run.expect_line("bye");
    assert_eq!(run.code(), Some(EXIT_SUCCESS), "{}", run.text());
    std::fs::remove_dir_all(&dir).ok();
}
