//! The benchmark workloads: pixel-program sources that `pxi-run bench` and
//! virgl's benchmark run on every executor, so that their tables compare the
//! same programs.

/// A scalar loop of five instructions per iteration, run by every hart.
/// Harts are started by a spawn tree (each spawns idx + 2^k, then k + 1), so
/// 16384 harts need only 15 rounds of spawning.
pub fn data_parallel_source(harts: u32, iterations: u32) -> String {
    format!(
        "
.harts {harts}
.data
total: .word 0
.code
    li r1, 0                 ; idx 0, k 0
worker:
    shri r2, r1, 16          ; k
    li r3, 0xFFFF
    and r1, r1, r3           ; idx
    li r10, 1
grow:
    shl r4, r10, r2          ; 2^k
    add r5, r1, r4           ; child idx
    li r6, {harts}
    cmp r5, r6
    jgeu work
    addi r2, r2, 1
    shli r7, r2, 16
    or r7, r7, r5
    li r8, worker
    spawn r9, r8, r7
    jmp grow
work:
    li r2, {iterations}
    li r3, 0
    li r11, 0
loop:
    add r3, r3, r1
    xor r4, r3, r2
    addi r2, r2, -1
    cmp r2, r11
    jne loop
    li r6, total
    aadd r7, r6, r4
    exit r11
"
    )
}

/// `vadd` over `len` words, `reps` times.
pub fn vector_source(len: u32, reps: u32) -> String {
    format!(
        "
.memory {memory}
.code
    li r1, 0
    li r2, {len}
    li r3, {y}
    li r4, {len}
    li r5, {reps}
    li r6, 0
again:
    vadd r1, r2, r3, r4
    addi r5, r5, -1
    cmp r5, r6
    jne again
    exit r6
",
        memory = 3 * len,
        y = 2 * len,
    )
}

/// `count` syscalls (SYS_CLOCK) one after another.
pub fn mailbox_source(count: u32) -> String {
    format!(
        "
    li r5, {count}
    li r6, 0
again:
    li r0, SYS_CLOCK
    syscall
    addi r5, r5, -1
    cmp r5, r6
    jne again
    exit r6
"
    )
}

/// One `yield` per round: measures the cost of a round with no work.
pub fn rounds_source(rounds: u32) -> String {
    format!(
        "
    li r5, {rounds}
    li r6, 0
again:
    yield
    addi r5, r5, -1
    cmp r5, r6
    jne again
    exit r6
"
    )
}
