//! From parsed statements to an [`Image`] and its [`SourceMap`], in two
//! passes: layout (addresses of every label) then emission.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pxi::image::{
    DEFAULT_WIDTH, HEADER_PIXELS, MAX_DIMENSION, MAX_HARTS, MAX_MEMORY_WORDS, MAX_PIXELS, Segment,
};
use pxi::isa::{Form, OperandKind};
use pxi::mailbox::{CALLS, DEVICE_CONSTANTS};
use pxi::state::CONSTANTS;
use pxi::{Image, Instruction, Op};

use crate::error::{Error, ErrorKind, ErrorList, Errors};
use crate::parser::{
    Expr, Header, Join, Operand, Parsed, Section, SourceFile, Span, Statement, Stmt, Term, locate,
    parse, read_source,
};
use crate::source_map::{PixelSource, SourceMap, Space, Symbol};

/// An assembled program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assembly {
    /// The image.
    pub image: Image,
    /// Where each code pixel came from.
    pub map: SourceMap,
}

/// How deeply `.program`s may link programs that link programs.
pub const MAX_PROGRAM_DEPTH: usize = 16;

/// Assemble the file at `path` (includes are resolved relative to it).
pub fn assemble_file(path: &Path) -> Result<Assembly, Errors> {
    assemble_file_within(path, &mut vec![canonical(path)])
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// [`assemble_file`] as a `.program` of the programs in `linking` (canonical
/// paths, this one last).
fn assemble_file_within(path: &Path, linking: &mut Vec<PathBuf>) -> Result<Assembly, Errors> {
    let name = path.to_string_lossy();
    match read_source(path) {
        Ok(text) => assemble_within(&name, &text, linking),
        Err(reason) => {
            let kind = ErrorKind::Io {
                path: name.into_owned(),
                reason,
            };
            Err(Errors(vec![Error { kind, at: None }]))
        }
    }
}

/// Assemble `text`, named `name` in errors and the source map; includes are
/// resolved relative to `name`'s directory.
pub fn assemble_source(name: &str, text: &str) -> Result<Assembly, Errors> {
    assemble_within(name, text, &mut Vec::new())
}

fn assemble_within(name: &str, text: &str, linking: &mut Vec<PathBuf>) -> Result<Assembly, Errors> {
    let Parsed {
        files,
        statements,
        errors,
    } = parse(name, text);
    // Syntax errors do not stop the assembly: undefined names and range
    // errors elsewhere are reported with them.
    let mut asm = Assembler {
        files: &files,
        syntax_errors: !errors.is_empty(),
        errors,
        symbols: HashMap::new(),
        string_lens: HashMap::new(),
    };
    asm.define_symbols(&statements);
    let layout = asm.layout(&statements);
    let assembly = asm.emit(&layout);
    match assembly {
        Some(mut assembly) if asm.errors.is_empty() => {
            link_programs(&mut assembly, &files, &statements, linking)?;
            Ok(assembly)
        }
        _ => Err(asm.errors.finish()),
    }
}

/// Assemble and link every `.program` of `statements`, in order.
fn link_programs(
    assembly: &mut Assembly,
    files: &[SourceFile],
    statements: &[Statement],
    linking: &mut Vec<PathBuf>,
) -> Result<(), Errors> {
    for statement in statements {
        let Stmt::Program(path) = &statement.stmt else {
            continue;
        };
        let canonical = canonical(path);
        let refused = if linking.contains(&canonical) {
            Some(ErrorKind::ProgramCycle(path.display().to_string()))
        } else if linking.len() >= MAX_PROGRAM_DEPTH {
            Some(ErrorKind::ProgramsTooDeep(MAX_PROGRAM_DEPTH))
        } else {
            None
        };
        if let Some(kind) = refused {
            let at = Some(locate(files, statement.span));
            return Err(Errors(vec![Error { kind, at }]));
        }
        linking.push(canonical);
        let program = assemble_file_within(path, linking);
        linking.pop();
        let program = program?;
        let name = path.file_stem().unwrap_or_default().to_string_lossy();
        let error = |reason: String| {
            let kind = ErrorKind::Io {
                path: path.display().to_string(),
                reason,
            };
            Errors(vec![Error {
                kind,
                at: Some(locate(files, statement.span)),
            }])
        };
        let entry = pxi::program::link(&mut assembly.image, &name, &program.image)
            .map_err(|e| error(e.to_string()))?;
        assembly
            .map
            .link(&name, &program.map, entry.code, entry.data);
    }
    Ok(())
}

/// Change the image width, checking that the image still fits the PNG limits.
pub fn set_width(image: &mut Image, width: u32) -> Result<(), ErrorKind> {
    if width == 0 || width > MAX_DIMENSION {
        return Err(out_of_range(
            width as i64,
            "the image width",
            1,
            MAX_DIMENSION as i64,
        ));
    }
    let pixels = HEADER_PIXELS as u64
        + 2 * image.segments.len() as u64
        + image.code.len() as u64
        + image
            .segments
            .iter()
            .map(|s| s.words.len() as u64)
            .sum::<u64>();
    let height = pixels.div_ceil(width as u64);
    let padded = height * width as u64;
    if padded > MAX_PIXELS {
        return Err(ErrorKind::ImageTooLarge {
            pixels: pixels.max(padded),
            max: MAX_PIXELS,
        });
    }
    if height > MAX_DIMENSION as u64 {
        return Err(ErrorKind::ImageTooHigh {
            width,
            height,
            max_height: MAX_DIMENSION,
            max_width: MAX_DIMENSION,
        });
    }
    image.width = width;
    Ok(())
}

/// `total` plus or minus the product `(value, subtracted, _)`; an overflow is reported at `span`.
fn signed_add(
    total: i64,
    (value, negative, _): (i64, bool, Span),
    span: Span,
) -> Result<i64, Fault> {
    let sum = if negative {
        total.checked_sub(value)
    } else {
        total.checked_add(value)
    };
    sum.ok_or((ErrorKind::Overflow, span))
}

fn out_of_range(value: i64, what: &'static str, min: i64, max: i64) -> ErrorKind {
    ErrorKind::OutOfRange {
        value,
        what,
        min,
        max,
    }
}

/// What a name stands for.
#[derive(Clone, Debug)]
enum Meaning<'s> {
    /// A system call number.
    Builtin(u32),
    /// `.equ`
    Constant(&'s Expr),
    /// A label; its address is known once layout reaches it.
    Label(Option<(Space, u32)>),
}

struct Definition<'s> {
    meaning: Meaning<'s>,
    span: Option<Span>,
}

/// A statement with the address layout gave it.
struct Placed<'s> {
    stmt: &'s Statement,
    section: Section,
    addr: u32,
    /// Image pixels it fills (code pixels or initialised data words).
    pixels: u32,
}

struct Layout<'s> {
    placed: Vec<Placed<'s>>,
    headers: Vec<&'s Statement>,
    code_len: u32,
    data_end: u32,
}

type Fault = (ErrorKind, Span);

/// How deeply constants may be defined in terms of each other (bounds the recursion).
const MAX_CONSTANT_DEPTH: usize = 256;

struct Assembler<'f, 's> {
    files: &'f [SourceFile],
    /// Lines were left out, so whole-program checks (no code, sizes) would mislead.
    syntax_errors: bool,
    errors: ErrorList,
    symbols: HashMap<&'s str, Definition<'s>>,
    /// Byte length of the `.string` right after each label that has one: `label.len`.
    string_lens: HashMap<&'s str, u32>,
}

impl<'s> Assembler<'_, 's> {
    fn error(&mut self, kind: ErrorKind, span: Option<Span>) {
        let files = self.files;
        self.errors
            .push(kind, || span.map(|span| locate(files, span)));
    }

    fn fault(&mut self, (kind, span): Fault) {
        self.error(kind, Some(span));
    }

    /// Pass 0: every name, so that later passes can tell forward references from typos.
    fn define_symbols(&mut self, statements: &'s [Statement]) {
        let constants = CONSTANTS.iter().chain(DEVICE_CONSTANTS);
        let constants = constants.map(|&(name, value, _)| (value, name, ""));
        for (number, name, _) in CALLS.iter().copied().chain(constants) {
            self.symbols.insert(
                name,
                Definition {
                    meaning: Meaning::Builtin(number),
                    span: None,
                },
            );
        }
        for pair in statements.windows(2) {
            if let (Stmt::Label(name), Stmt::Bytes(bytes)) = (&pair[0].stmt, &pair[1].stmt) {
                self.string_lens.insert(name, bytes.len() as u32);
            }
        }
        for statement in statements {
            let (name, meaning) = match &statement.stmt {
                Stmt::Label(name) => (name, Meaning::Label(None)),
                Stmt::Equ(name, expr) => (name, Meaning::Constant(expr)),
                _ => continue,
            };
            if let Some(previous) = self.symbols.get(name.as_str()) {
                let previous = match previous.span {
                    Some(span) => {
                        let at = locate(self.files, span);
                        format!("{}:{}", at.file, at.line)
                    }
                    None => "the assembler (system call)".to_string(),
                };
                let kind = ErrorKind::Redefined {
                    name: name.clone(),
                    previous,
                };
                self.error(kind, Some(statement.span));
                continue;
            }
            self.symbols.insert(
                name,
                Definition {
                    meaning,
                    span: Some(statement.span),
                },
            );
        }
    }

    fn eval(&self, expr: &Expr) -> Result<i64, Fault> {
        self.eval_nested(expr, &mut Vec::new())
    }

    /// The sum of the expression's signed products. An overflow names the product or sum
    /// that overflowed: the source from its first operand to the one that overflowed it.
    fn eval_nested(&self, expr: &Expr, visiting: &mut Vec<&'s str>) -> Result<i64, Fault> {
        let Some(&(_, _, first)) = expr.terms.first() else {
            return Ok(0);
        };
        let mut total: i64 = 0;
        // The product being built: its value, whether it is subtracted, where it starts.
        let mut product: (i64, bool, Span) = (0, false, first);
        let mut last = first;
        for (join, term, span) in &expr.terms {
            let value = match term {
                Term::Number(n) => *n,
                Term::Symbol(name) => self.symbol_value(name, *span, visiting)?,
            };
            product = if *join == Join::Mul {
                let (factor, negative, start) = product;
                let value = factor.checked_mul(value);
                (
                    value.ok_or((ErrorKind::Overflow, start.to(*span)))?,
                    negative,
                    start,
                )
            } else {
                total = signed_add(total, product, first.to(last))?;
                (value, *join == Join::Sub, *span)
            };
            last = *span;
        }
        signed_add(total, product, expr.span)
    }

    fn symbol_value(
        &self,
        name: &str,
        span: Span,
        visiting: &mut Vec<&'s str>,
    ) -> Result<i64, Fault> {
        let Some((&key, definition)) = self.symbols.get_key_value(name) else {
            let string = name
                .strip_suffix(".len")
                .and_then(|l| self.string_lens.get(l));
            return match string {
                Some(&len) => Ok(len as i64),
                None => Err((ErrorKind::Undefined(name.to_string()), span)),
            };
        };
        match definition.meaning {
            Meaning::Builtin(n) => Ok(n as i64),
            Meaning::Label(Some((_, addr))) => Ok(addr as i64),
            Meaning::Label(None) => Err((ErrorKind::ForwardReference(name.to_string()), span)),
            Meaning::Constant(expr) => {
                if visiting.contains(&key) {
                    return Err((ErrorKind::CyclicConstant(name.to_string()), span));
                }
                if visiting.len() >= MAX_CONSTANT_DEPTH {
                    return Err((ErrorKind::NestingTooDeep(name.to_string()), span));
                }
                visiting.push(key);
                let value = self.eval_nested(expr, visiting);
                visiting.pop();
                value
            }
        }
    }

    /// Evaluate and check `lo..=hi`.
    fn eval_in(&self, expr: &Expr, what: &'static str, lo: i64, hi: i64) -> Result<i64, Fault> {
        let value = self.eval(expr)?;
        if value < lo || value > hi {
            return Err((out_of_range(value, what, lo, hi), expr.span));
        }
        Ok(value)
    }

    /// Pass 1: give every label and placed statement its address.
    fn layout(&mut self, statements: &'s [Statement]) -> Layout<'s> {
        let mut layout = Layout {
            placed: Vec::new(),
            headers: Vec::new(),
            code_len: 0,
            data_end: 0,
        };
        let mut section = Section::Code;
        let mut cursor: u32 = 0;
        let max_words = MAX_MEMORY_WORDS as i64;
        for statement in statements {
            let here = match section {
                Section::Code => layout.code_len,
                Section::Data => cursor,
            };
            let (needs, size) = match &statement.stmt {
                Stmt::Section(s) => {
                    section = *s;
                    continue;
                }
                Stmt::Equ(..) | Stmt::Program(_) => continue,
                Stmt::Header(..) => {
                    layout.headers.push(statement);
                    continue;
                }
                Stmt::Label(name) => {
                    let space = if section == Section::Code {
                        Space::Code
                    } else {
                        Space::Data
                    };
                    if let Some(def) = self.symbols.get_mut(name.as_str()) {
                        if def.span == Some(statement.span) {
                            def.meaning = Meaning::Label(Some((space, here)));
                        }
                    }
                    (None, 0)
                }
                Stmt::Instruction(op, _) => (Some(Section::Code), op.len() as i64),
                Stmt::Pixel(_) => (Some(Section::Code), 1),
                Stmt::Words(words) => (Some(Section::Data), words.len() as i64),
                Stmt::Bytes(bytes) => (Some(Section::Data), bytes.len().div_ceil(4) as i64),
                Stmt::Space(n) => match self.eval_in(n, "a .space size", 0, max_words) {
                    Ok(n) => (Some(Section::Data), n),
                    Err(fault) => {
                        self.fault(fault);
                        continue;
                    }
                },
                Stmt::Org(addr) => match self.eval_in(addr, "a data address", 0, max_words) {
                    Ok(addr) if section == Section::Data => {
                        cursor = addr as u32;
                        layout.data_end = layout.data_end.max(cursor);
                        layout.placed.push(Placed {
                            stmt: statement,
                            section,
                            addr: cursor,
                            pixels: 0,
                        });
                        continue;
                    }
                    Ok(_) => (Some(Section::Data), 0),
                    Err(fault) => {
                        self.fault(fault);
                        continue;
                    }
                },
            };
            if let Some(wanted) = needs.filter(|&wanted| wanted != section) {
                let what = match &statement.stmt {
                    Stmt::Instruction(op, _) => format!("instruction `{}`", op.mnemonic()),
                    Stmt::Pixel(_) => "`.pixel`".into(),
                    Stmt::Words(_) => "`.word` (use `.pixel` for raw code pixels)".into(),
                    Stmt::Bytes(_) => "`.string`".into(),
                    Stmt::Space(_) => "`.space`".into(),
                    _ => "`.org`".into(),
                };
                let section = if wanted == Section::Code {
                    ".code"
                } else {
                    ".data"
                };
                self.error(
                    ErrorKind::WrongSection { what, section },
                    Some(statement.span),
                );
                continue;
            }
            // Sizes are bounded by the line length or MAX_MEMORY_WORDS, so this cannot overflow.
            let end = here as i64 + size;
            match section {
                Section::Code => layout.code_len = end.min(u32::MAX as i64) as u32,
                Section::Data => {
                    if end > max_words && layout.data_end as i64 <= max_words {
                        let kind = ErrorKind::DataTooLarge {
                            end: end as u64,
                            max: MAX_MEMORY_WORDS,
                        };
                        self.error(kind, Some(statement.span));
                    }
                    cursor = end.min(u32::MAX as i64) as u32;
                    layout.data_end = layout.data_end.max(cursor);
                }
            }
            let pixels = if matches!(statement.stmt, Stmt::Space(_)) {
                0
            } else {
                size as u32
            };
            layout.placed.push(Placed {
                stmt: statement,
                section,
                addr: here,
                pixels,
            });
        }
        layout
    }

    /// Pass 2: pixels, words, header and source map.
    fn emit(&mut self, layout: &Layout<'s>) -> Option<Assembly> {
        let mut code = Vec::with_capacity(layout.code_len as usize);
        let mut segments: Vec<Segment> = Vec::new();
        let mut open = false;
        let mut map = SourceMap {
            files: self.files.iter().map(|f| f.path.clone()).collect(),
            ..Default::default()
        };
        let mut label: Option<String> = None;
        for placed in &layout.placed {
            let span = placed.stmt.span;
            let words = match &placed.stmt.stmt {
                Stmt::Label(name) => {
                    if let Some(Definition {
                        meaning: Meaning::Label(Some((space, addr))),
                        ..
                    }) = self.symbols.get(name.as_str())
                    {
                        map.symbols.push(Symbol {
                            name: name.clone(),
                            space: *space,
                            addr: *addr,
                        });
                    }
                    if placed.section == Section::Code {
                        label = Some(name.clone());
                    }
                    continue;
                }
                Stmt::Org(_) => {
                    segments.push(Segment {
                        addr: placed.addr,
                        words: Vec::new(),
                    });
                    open = true;
                    continue;
                }
                Stmt::Space(_) => {
                    open = false;
                    continue;
                }
                Stmt::Instruction(op, operands) => {
                    let pixels = match self.encode(*op, operands) {
                        Ok(inst) => {
                            let (pixels, len) = inst.encode();
                            pixels[..len].to_vec()
                        }
                        Err(fault) => {
                            self.fault(fault);
                            vec![0; op.len() as usize]
                        }
                    };
                    self.push_code(&mut code, &mut map, &pixels, span, &label);
                    continue;
                }
                Stmt::Pixel(expr) => {
                    let pixel = self.word(expr).unwrap_or_else(|fault| {
                        self.fault(fault);
                        0
                    });
                    self.push_code(&mut code, &mut map, &[pixel], span, &label);
                    continue;
                }
                Stmt::Bytes(bytes) => bytes
                    .chunks(4)
                    .map(|c| c.iter().rev().fold(0, |w, &b| w << 8 | b as u32))
                    .collect::<Vec<_>>(),
                Stmt::Words(exprs) => exprs
                    .iter()
                    .map(|e| {
                        self.word(e).unwrap_or_else(|fault| {
                            self.fault(fault);
                            0
                        })
                    })
                    .collect(),
                Stmt::Section(_) | Stmt::Equ(..) | Stmt::Header(..) | Stmt::Program(_) => continue,
            };
            match segments.last_mut() {
                Some(seg)
                    if open && seg.addr as usize + seg.words.len() == placed.addr as usize =>
                {
                    seg.words.extend(words)
                }
                _ => segments.push(Segment {
                    addr: placed.addr,
                    words,
                }),
            }
            open = true;
        }
        self.finish(layout, code, segments, map)
    }

    fn push_code(
        &self,
        code: &mut Vec<u32>,
        map: &mut SourceMap,
        pixels: &[u32],
        span: Span,
        label: &Option<String>,
    ) {
        code.extend_from_slice(pixels);
        let source = PixelSource {
            file: span.file as u32,
            line: span.line as u32,
            label: label.clone(),
        };
        map.pixels.extend(std::iter::repeat_n(source, pixels.len()));
    }

    fn word(&self, expr: &Expr) -> Result<u32, Fault> {
        Ok(self.eval_in(expr, "a 32-bit word", i32::MIN as i64, u32::MAX as i64)? as u32)
    }

    fn encode(&self, op: Op, operands: &[(Operand, Span)]) -> Result<Instruction, Fault> {
        let mut values = [0u32; 4];
        for (slot, ((operand, _), kind)) in values
            .iter_mut()
            .zip(operands.iter().zip(op.form().operands()))
        {
            *slot = match (operand, kind) {
                (Operand::Register(r), _) => *r as u32,
                (Operand::Value(e), OperandKind::U8) => {
                    self.eval_in(e, "an unsigned 8-bit immediate", 0, 255)? as u32
                }
                (Operand::Value(e), OperandKind::S8) => {
                    self.eval_in(e, "a signed 8-bit immediate", -128, 127)? as i8 as u8 as u32
                }
                (Operand::Value(e), _) => self.word(e)?,
            };
        }
        Ok(instruction(op, values))
    }

    /// Header fields, sizes and the final image.
    fn finish(
        &mut self,
        layout: &Layout<'s>,
        code: Vec<u32>,
        segments: Vec<Segment>,
        map: SourceMap,
    ) -> Option<Assembly> {
        let mut harts = None;
        let mut memory = None;
        let mut entry = None;
        let mut width = None;
        for placed in &layout.headers {
            let Stmt::Header(header, expr) = &placed.stmt else {
                continue;
            };
            let (slot, what, lo, hi) = match header {
                Header::Harts => (&mut harts, "the hart count", 1, MAX_HARTS as i64),
                Header::Memory => (&mut memory, "the memory size", 0, MAX_MEMORY_WORDS as i64),
                Header::Entry => (&mut entry, "the entry point", 0, u32::MAX as i64),
                Header::Width => (&mut width, "the image width", 1, MAX_DIMENSION as i64),
            };
            if slot.is_some() {
                self.error(
                    ErrorKind::DuplicateDirective(header.name()),
                    Some(placed.span),
                );
                continue;
            }
            match self.eval_in(expr, what, lo, hi) {
                Ok(value) => *slot = Some((value as u32, expr.span)),
                Err(fault) => self.fault(fault),
            }
        }
        if self.syntax_errors {
            return None;
        }
        if code.is_empty() {
            self.error(ErrorKind::NoCode, None);
        }
        if let Some((entry, span)) =
            entry.filter(|&(e, _)| e as usize >= code.len() && !code.is_empty())
        {
            self.error(
                ErrorKind::EntryOutsideCode {
                    entry: entry as i64,
                    code_len: code.len(),
                },
                Some(span),
            );
        }
        if let Some((words, span)) = memory.filter(|&(m, _)| m < layout.data_end) {
            self.error(
                ErrorKind::MemoryTooSmall {
                    memory: words,
                    data_end: layout.data_end,
                },
                Some(span),
            );
        }
        let mut image = Image {
            width: DEFAULT_WIDTH,
            entry: entry.map_or(0, |e| e.0),
            code,
            memory_words: memory.map_or(layout.data_end, |m| m.0),
            harts: harts.map_or(1, |h| h.0),
            segments,
        };
        let width_value = width.map_or(DEFAULT_WIDTH, |w| w.0);
        if let Err(kind) = set_width(&mut image, width_value) {
            // Blame `.width` when it was given, else the statement that filled the image.
            let span = width
                .map(|w| w.1)
                .or_else(|| overflow_span(layout, &image, width_value));
            self.error(kind, span);
        }
        if !self.errors.is_empty() {
            return None;
        }
        if let Err(e) = image.validate() {
            self.error(ErrorKind::Image(e), None);
            return None;
        }
        Some(Assembly { image, map })
    }
}

/// The first statement whose pixels no longer fit an image `width` wide.
fn overflow_span(layout: &Layout<'_>, image: &Image, width: u32) -> Option<Span> {
    let capacity = MAX_PIXELS.min(width as u64 * MAX_DIMENSION as u64);
    let mut used = (HEADER_PIXELS + 2 * image.segments.len()) as u64;
    layout.placed.iter().find_map(|placed| {
        used += placed.pixels as u64;
        (used > capacity).then_some(placed.stmt.span)
    })
}

/// Build an instruction from operand values in assembly order, the inverse of
/// [`Instruction::operands`].
pub fn instruction(op: Op, values: [u32; 4]) -> Instruction {
    let [v0, v1, v2, v3] = values;
    let byte = |v: u32| v as u8;
    match op.form() {
        Form::AW => Instruction::new(op, byte(v0), 0, 0, v1),
        Form::W => Instruction::new(op, 0, 0, 0, v0),
        Form::ABCD => Instruction::new(op, byte(v0), byte(v1), byte(v2), v3),
        Form::None | Form::A | Form::AB | Form::ABC | Form::ABU | Form::ABS => {
            let n = op.form().operands().len();
            let field = |i: usize| if i < n { byte(values[i]) } else { 0 };
            Instruction::new(op, field(0), field(1), field(2), 0)
        }
    }
}
