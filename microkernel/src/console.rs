//! The serial console's line discipline. COM1 is a raw line: no terminal
//! driver turns Enter into a newline or echoes what is typed, so the kernel
//! does both before a byte reaches the pixel program.

/// The byte the program reads for a received `byte`: Enter (CR) ends a line.
pub fn input_byte(byte: u8) -> u8 {
    if byte == b'\r' { b'\n' } else { byte }
}

/// What to echo back for an input byte (after [`input_byte`]): printable
/// characters as they are, a newline as CR LF, backspace (DEL or BS) as
/// "back, blank, back" so the erased byte disappears from the terminal as it
/// does from the shell's line, nothing for other control bytes.
pub fn echo(byte: u8) -> &'static [u8] {
    const PRINTABLE: [u8; 95] = {
        let mut table = [0u8; 95];
        let mut i = 0;
        while i < 95 {
            table[i] = b' ' + i as u8;
            i += 1;
        }
        table
    };
    match byte {
        b'\n' => b"\r\n",
        0x7f | 0x08 => b"\x08 \x08",
        b' '..=b'~' => {
            let i = (byte - b' ') as usize;
            &PRINTABLE[i..i + 1]
        }
        _ => b"",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enter_ends_a_line_and_is_echoed_as_crlf() {
        assert_eq!(input_byte(b'\r'), b'\n');
        assert_eq!(input_byte(b'\n'), b'\n');
        assert_eq!(echo(b'\n'), b"\r\n");
    }

    #[test]
    fn printable_bytes_echo_themselves_and_control_bytes_nothing() {
        assert_eq!(input_byte(b'a'), b'a');
        assert_eq!(echo(b'a'), b"a");
        assert_eq!(echo(b'~'), b"~");
        assert_eq!(echo(b' '), b" ");
        assert_eq!(echo(0x1b), b"");
        assert_eq!(echo(0x15), b"");
    }

    #[test]
    fn backspace_erases_on_the_terminal() {
        assert_eq!(echo(0x7f), b"\x08 \x08");
        assert_eq!(echo(0x08), b"\x08 \x08");
    }
}
