//! Assembly errors: what went wrong and where, rendered like rustc/codespan.

use std::fmt;

use pxi::ImageError;

/// Most errors one assembly reports; past them it says that it stopped.
pub const MAX_ERRORS: usize = 100;

/// Longest source excerpt quoted under an error, in characters.
pub const MAX_QUOTED_CHARS: usize = 100;

/// Characters quoted before the column when a long line is cut.
const QUOTED_BEFORE: usize = 40;

/// Where in the source an error points: a file, a 1-based line and column,
/// the width of the offending text, and that line's text (for the caret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// File name as given to the assembler (or the include directive).
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub col: usize,
    /// Width of the underlined text in characters (at least 1 is drawn).
    pub len: usize,
    /// The source line, or at most [`MAX_QUOTED_CHARS`] of it around the
    /// column, with `…` where it was cut.
    pub text: String,
    /// Where the underline starts in `text`, in characters from 0.
    pub caret: usize,
}

impl Location {
    /// Point at `len` characters from column `col` (1-based) of `line`,
    /// quoting at most [`MAX_QUOTED_CHARS`] of a long line.
    pub fn new(file: &str, number: usize, col: usize, len: usize, line: &str) -> Location {
        let start = col.saturating_sub(1);
        let (text, caret, len) = if line.len() <= MAX_QUOTED_CHARS {
            (line.to_string(), start, len)
        } else {
            let first = start.saturating_sub(QUOTED_BEFORE);
            let mut chars = line.chars().skip(first);
            let excerpt: String = chars.by_ref().take(MAX_QUOTED_CHARS).collect();
            let cut_before = if first > 0 { "…" } else { "" };
            let cut_after = if chars.next().is_some() { "…" } else { "" };
            let shown = (first + excerpt.chars().count()).saturating_sub(start);
            let caret = start - first + cut_before.chars().count();
            (
                format!("{cut_before}{excerpt}{cut_after}"),
                caret,
                len.min(shown.max(1)),
            )
        };
        Location {
            file: file.to_string(),
            line: number,
            col,
            len,
            text,
            caret,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// What is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// A source file could not be read.
    #[error("cannot read `{path}`: {reason}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's message.
        reason: String,
    },
    /// A line with more tokens than the lexer accepts.
    #[error("more than {0} tokens on one line")]
    TooManyTokens(usize),
    /// A character no token starts with.
    #[error("unexpected character `{0}`")]
    UnexpectedChar(char),
    /// A string or character literal without its closing quote.
    #[error("unterminated {0} literal")]
    Unterminated(&'static str),
    /// A backslash escape the assembler does not know.
    #[error("unknown escape `\\{0}`")]
    BadEscape(String),
    /// A character literal that is not exactly one byte.
    #[error("a character literal holds exactly one byte")]
    BadCharLiteral,
    /// A malformed or too large number.
    #[error("invalid number `{0}`")]
    BadNumber(String),
    /// Something else than what the grammar allows here.
    #[error("expected {expected}, found {found}")]
    Expected {
        /// What would have been valid.
        expected: &'static str,
        /// What was there.
        found: String,
    },
    /// A directive the assembler does not know.
    #[error("unknown directive `{0}`")]
    UnknownDirective(String),
    /// A mnemonic that is not in the ISA table.
    #[error("unknown instruction `{0}`")]
    UnknownInstruction(String),
    /// A register name past `r15`.
    #[error("unknown register {0}")]
    UnknownRegister(String),
    /// Wrong number of operands.
    #[error("`{mnemonic}` takes {expected} operand(s) ({form}), found {found}")]
    OperandCount {
        /// The instruction.
        mnemonic: &'static str,
        /// Operands it takes.
        expected: usize,
        /// Its operand layout, as documented.
        form: &'static str,
        /// Operands written.
        found: usize,
    },
    /// A register where a value belongs.
    #[error("expected a value here, found register {0}")]
    UnexpectedRegister(String),
    /// A value where a register belongs.
    #[error("expected a register r0..r15 here")]
    ExpectedRegister,
    /// An immediate outside its field.
    #[error("{value} does not fit {what} ({min}..={max})")]
    OutOfRange {
        /// The value.
        value: i64,
        /// The field.
        what: &'static str,
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// A symbol that is never defined.
    #[error("undefined symbol `{0}`")]
    Undefined(String),
    /// A label used where its address is not known yet (sizes are fixed in the first pass).
    #[error("`{0}` is defined later; this value must be known when it is reached")]
    ForwardReference(String),
    /// A name defined twice.
    #[error("`{name}` is already defined at {previous}")]
    Redefined {
        /// The name.
        name: String,
        /// Where it was first defined (`file:line`).
        previous: String,
    },
    /// A label or constant named like a register.
    #[error("`{0}` is a register name and cannot be a label or constant")]
    ReservedName(String),
    /// A constant defined in terms of itself.
    #[error("constant `{0}` is defined in terms of itself")]
    CyclicConstant(String),
    /// Constants defined through too many other constants.
    #[error("constant `{0}` is nested too deeply in other constants")]
    NestingTooDeep(String),
    /// Arithmetic overflow while evaluating an expression.
    #[error("expression overflows")]
    Overflow,
    /// An `.include` that includes itself, directly or not.
    #[error("include cycle: {0}")]
    IncludeCycle(String),
    /// A statement in the wrong section.
    #[error("{what} belongs in a {section} section")]
    WrongSection {
        /// The statement.
        what: String,
        /// Where it belongs (`.code` or `.data`).
        section: &'static str,
    },
    /// A header directive given twice.
    #[error("`{0}` is given more than once")]
    DuplicateDirective(&'static str),
    /// `.memory` smaller than the initialised data.
    #[error("memory of {memory} words is smaller than the data, which reaches word {data_end}")]
    MemoryTooSmall {
        /// Words asked for.
        memory: u32,
        /// End of the data.
        data_end: u32,
    },
    /// The entry point is not a code address.
    #[error("entry point {entry} is outside the code ({code_len} pixels)")]
    EntryOutsideCode {
        /// Entry.
        entry: i64,
        /// Code length.
        code_len: usize,
    },
    /// A program without instructions.
    #[error("the program has no code")]
    NoCode,
    /// The image would be higher than a PNG row limit allows.
    #[error(
        "the image would be {width}x{height} pixels, higher than the limit of {max_height} rows; a larger `.width` (at most {max_width}) makes it fit"
    )]
    ImageTooHigh {
        /// Width.
        width: u32,
        /// Height.
        height: u64,
        /// Row limit.
        max_height: u32,
        /// Width limit.
        max_width: u32,
    },
    /// The image would have more pixels than a PXI image may.
    #[error("the program needs {pixels} pixels; PXI images are at most {max} pixels")]
    ImageTooLarge {
        /// Pixels needed (header, segment table, code and data).
        pixels: u64,
        /// Pixel limit.
        max: u64,
    },
    /// Data placed past the largest data memory.
    #[error("data reaches word {end}, past the data memory limit of {max} words")]
    DataTooLarge {
        /// First word past the data.
        end: u64,
        /// Memory limit in words.
        max: u32,
    },
    /// A `.program` that links itself, directly or not.
    #[error("`.program` {0} links itself")]
    ProgramCycle(String),
    /// `.program`s nested deeper than the assembler allows.
    #[error("`.program`s are nested more than {0} deep")]
    ProgramsTooDeep(usize),
    /// Includes nested deeper than the assembler allows.
    #[error("includes are nested more than {0} deep")]
    IncludeTooDeep(usize),
    /// More files included in total than the assembler allows.
    #[error("more than {0} files included in total (does a file include another twice?)")]
    TooManyIncludes(usize),
    /// The error limit was reached.
    #[error("too many errors; only the first {0} are shown")]
    TooManyErrors(usize),
    /// The image failed the loader's validation.
    #[error("invalid image: {0}")]
    Image(ImageError),
}

/// One error with its location, when it has one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct Error {
    /// What is wrong.
    pub kind: ErrorKind,
    /// Where (absent for whole-program errors).
    pub at: Option<Location>,
}

impl Error {
    /// Render like rustc: message, `--> file:line:col`, the line and a caret.
    pub fn render(&self) -> String {
        let mut out = format!("error: {}\n", self.kind);
        let Some(at) = &self.at else {
            return out;
        };
        let number = at.line.to_string();
        let pad = " ".repeat(number.len());
        // Keep tabs from the line so the caret lines up however they display.
        let indent: String = at
            .text
            .chars()
            .take(at.caret)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let carets = "^".repeat(at.len.max(1));
        out += &format!(
            "{pad}--> {at}\n{pad} |\n{number} | {}\n{pad} | {indent}{carets}\n",
            at.text
        );
        out
    }
}

/// Every error of one assembly, in source order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Errors(pub Vec<Error>);

/// Errors as they are found, at most [`MAX_ERRORS`] of them.
#[derive(Debug, Default)]
pub struct ErrorList {
    errors: Vec<Error>,
    full: bool,
}

impl ErrorList {
    /// Record an error; its location is only worked out while there is room.
    pub fn push(&mut self, kind: ErrorKind, at: impl FnOnce() -> Option<Location>) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(Error { kind, at: at() });
        } else {
            self.full = true;
        }
    }

    /// Whether errors were dropped (the caller may stop looking for more).
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The errors, with a last one saying that more were dropped.
    pub fn finish(mut self) -> Errors {
        if self.full {
            self.errors.push(Error {
                kind: ErrorKind::TooManyErrors(MAX_ERRORS),
                at: None,
            });
        }
        Errors(self.errors)
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            f.write_str(&error.render())?;
        }
        let n = self.0.len();
        write!(f, "\n{n} error{} found", if n == 1 { "" } else { "s" })
    }
}

impl std::error::Error for Errors {}
