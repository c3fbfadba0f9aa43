//! Assembly errors: what went wrong and where, rendered like rustc/codespan.

use std::fmt;

use pxi::ImageError;

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
    /// The whole source line.
    pub text: String,
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
    /// The image would be too large to be a PXI PNG.
    #[error("the image would be {width}x{height} pixels; PXI images are at most {max} pixels")]
    ImageTooLarge {
        /// Width.
        width: u32,
        /// Height.
        height: u64,
        /// Pixel limit.
        max: u64,
    },
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
            .take(at.col.saturating_sub(1))
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
