//! Parses `.pxs` source into statements with spans, expanding `.include`s.

use std::path::{Path, PathBuf};

use pxi::Op;
use pxi::isa::{OperandKind, REGISTERS};

use crate::error::{ErrorKind, ErrorList, Location};
use crate::lexer::{Token, TokenKind, tokenize};

/// A stretch of one source line: file index, 1-based line, 0-based column, width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// Index into [`Parsed::files`].
    pub file: usize,
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 0.
    pub col: usize,
    /// Width in characters.
    pub len: usize,
}

impl Span {
    /// From the start of `self` to the end of `end` (a later span on the same line).
    pub fn to(self, end: Span) -> Span {
        Span {
            len: end.col + end.len - self.col,
            ..self
        }
    }
}

/// A source file taking part in an assembly.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Its path as written (root) or resolved (includes).
    pub path: String,
    /// Its lines.
    pub lines: Vec<String>,
}

/// Resolve a span to a printable location.
pub fn locate(files: &[SourceFile], span: Span) -> Location {
    let file = &files[span.file];
    let text = file.lines.get(span.line - 1).map_or("", String::as_str);
    Location::new(&file.path, span.line, span.col + 1, span.len, text)
}

/// The lines of a source text: a leading UTF-8 byte order mark is dropped,
/// and lines end with LF, CR LF or a lone CR.
pub fn source_lines(text: &str) -> impl Iterator<Item = &str> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rest = (!text.is_empty()).then_some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\n', '\r']) {
            Some(end) => {
                let next = if current[end..].starts_with("\r\n") {
                    end + 2
                } else {
                    end + 1
                };
                rest = (next < current.len()).then(|| &current[next..]);
                Some(&current[..end])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// Largest source file the assembler reads (an `.include "/dev/zero"` must end).
pub const MAX_SOURCE_BYTES: u64 = 16 << 20;

/// Read a source file of at most [`MAX_SOURCE_BYTES`]; the error is the reason.
pub fn read_source(path: &Path) -> Result<String, String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(MAX_SOURCE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_SOURCE_BYTES {
        return Err(format!("larger than {} MiB", MAX_SOURCE_BYTES >> 20));
    }
    String::from_utf8(bytes).map_err(|_| "stream did not contain valid UTF-8".to_string())
}

/// How deeply `.include`s may nest.
pub const MAX_INCLUDE_DEPTH: usize = 64;
/// How many files one assembly may include in total.
pub const MAX_INCLUDED_FILES: usize = 1024;

/// A value: a sum of signed products of numbers and symbols (`label+4`, `N-1`, `-8`,
/// `NPROC*ARG_WORDS`, `base+2*N`); `*` binds tighter than `+` and `-`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    /// The operands in order, each with how it joins what comes before it.
    pub terms: Vec<(Join, Term, Span)>,
    /// The whole expression.
    pub span: Span,
}

/// How an operand of an [`Expr`] joins the operands before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Join {
    /// Starts a product that is added (the first operand, or after `+`).
    Add,
    /// Starts a product that is subtracted (after `-`).
    Sub,
    /// Multiplies the current product (after `*`).
    Mul,
}

/// One term of an [`Expr`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Term {
    /// A literal.
    Number(i64),
    /// A label or constant.
    Symbol(String),
}

/// An instruction operand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    /// `r0`..`r15`.
    Register(u8),
    /// An immediate or word.
    Value(Expr),
}

/// Which space statements are placed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// Code pixels.
    Code,
    /// Data memory words.
    Data,
}

/// Header directives: each sets one image header field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Header {
    /// `.harts`
    Harts,
    /// `.memory`
    Memory,
    /// `.entry`
    Entry,
    /// `.width`
    Width,
}

impl Header {
    /// The directive's spelling.
    pub fn name(self) -> &'static str {
        match self {
            Header::Harts => ".harts",
            Header::Memory => ".memory",
            Header::Entry => ".entry",
            Header::Width => ".width",
        }
    }
}

/// One statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stmt {
    /// `name:`
    Label(String),
    /// `.equ name, value`
    Equ(String, Expr),
    /// `.harts`, `.memory`, `.entry`, `.width`
    Header(Header, Expr),
    /// `.code` / `.data`
    Section(Section),
    /// `.org addr`: start a new data segment at `addr`.
    Org(Expr),
    /// `.word a, b, …`
    Words(Vec<Expr>),
    /// `.string "…"`
    Bytes(Vec<u8>),
    /// `.space n`
    Space(Expr),
    /// `.pixel value`: one raw code pixel.
    Pixel(Expr),
    /// An instruction and its operands.
    Instruction(Op, Vec<(Operand, Span)>),
    /// `.program "file.pxs"`: assemble that file as a user program of its
    /// own and link it into this image (path resolved like `.include`).
    Program(PathBuf),
}

/// A statement and the source text it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// What it says.
    pub stmt: Stmt,
    /// Where.
    pub span: Span,
}

/// The result of parsing a root file and everything it includes.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Every file read, the root first.
    pub files: Vec<SourceFile>,
    /// Statements in assembly order. Labels and constant names of lines with
    /// errors are kept (constants as 0), so that the assembler can still
    /// report undefined names elsewhere without blaming those.
    pub statements: Vec<Statement>,
    /// Errors found.
    pub errors: ErrorList,
}

/// Whether `name` spells a register (`r0`, `R12`, `r99` …).
fn register_number(name: &str) -> Option<&str> {
    let digits = name.strip_prefix(['r', 'R'])?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// Whether `name` is reserved for registers.
pub fn is_register_name(name: &str) -> bool {
    register_number(name).is_some()
}

/// Parse `text` (the contents of `name`), following includes on the file system.
pub fn parse(name: &str, text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let mut stack = Vec::new();
    parse_file(
        &mut parsed,
        &mut stack,
        PathBuf::from(name),
        name.to_string(),
        text,
    );
    parsed
}

/// Identity of a file for cycle detection.
fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

fn parse_file(
    parsed: &mut Parsed,
    stack: &mut Vec<PathBuf>,
    path: PathBuf,
    display: String,
    text: &str,
) {
    let file = parsed.files.len();
    parsed.files.push(SourceFile {
        path: display,
        lines: source_lines(text).map(str::to_string).collect(),
    });
    stack.push(canonical(&path));
    for index in 0..parsed.files[file].lines.len() {
        if parsed.errors.is_full() {
            break;
        }
        let line = parsed.files[file].lines[index].clone();
        let span = |col, len| Span {
            file,
            line: index + 1,
            col,
            len,
        };
        let result = tokenize(&line).and_then(|tokens| {
            LineParser {
                tokens: &tokens,
                pos: 0,
                end: line.chars().count(),
            }
            .statements()
        });
        match result {
            Ok(statements) => {
                for (stmt, col, len) in statements {
                    let span = span(col, len);
                    match stmt {
                        LineStmt::Stmt(stmt) => parsed.statements.push(Statement {
                            stmt: rebase(stmt, file, index + 1),
                            span,
                        }),
                        LineStmt::Include(target) => include(parsed, stack, &path, &target, span),
                        LineStmt::Program(target) => parsed.statements.push(Statement {
                            stmt: Stmt::Program(
                                path.parent().unwrap_or(Path::new("")).join(target),
                            ),
                            span,
                        }),
                    }
                }
            }
            Err((kind, col, len)) => {
                let files = &parsed.files;
                parsed
                    .errors
                    .push(kind, || Some(locate(files, span(col, len))));
                let span = span(0, line.chars().count().max(1));
                let salvaged = salvage(&line, col).into_iter().map(|stmt| Statement {
                    stmt: rebase(stmt, file, index + 1),
                    span,
                });
                parsed.statements.extend(salvaged);
            }
        }
    }
    stack.pop();
}

/// What a line with an error at `col` still defines: its leading labels, and
/// the name of a `.equ` (as 0).
fn salvage(line: &str, col: usize) -> Vec<Stmt> {
    let prefix: String = line.chars().take(col).collect();
    let tokens = tokenize(line)
        .or_else(|_| tokenize(&prefix))
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut pos = 0;
    while let [
        Token {
            kind: TokenKind::Ident(name),
            ..
        },
        Token {
            kind: TokenKind::Colon,
            ..
        },
        ..,
    ] = &tokens[pos..]
    {
        out.push(Stmt::Label(name.clone()));
        pos += 2;
    }
    if let [
        Token {
            kind: TokenKind::Directive(directive),
            ..
        },
        Token {
            kind: TokenKind::Ident(name),
            col,
            len,
        },
        ..,
    ] = &tokens[pos..]
    {
        if directive == "equ" {
            let span = Span {
                file: 0,
                line: 0,
                col: *col,
                len: *len,
            };
            let zero = Expr {
                terms: vec![(Join::Add, Term::Number(0), span)],
                span,
            };
            out.push(Stmt::Equ(name.clone(), zero));
        }
    }
    out.retain(
        |stmt| !matches!(stmt, Stmt::Label(name) | Stmt::Equ(name, _) if is_register_name(name)),
    );
    out
}

fn include(parsed: &mut Parsed, stack: &mut Vec<PathBuf>, from: &Path, target: &str, span: Span) {
    let path = from.parent().unwrap_or(Path::new("")).join(target);
    let display = path.to_string_lossy().into_owned();
    let error = |parsed: &mut Parsed, kind| {
        let files = &parsed.files;
        parsed.errors.push(kind, || Some(locate(files, span)));
    };
    if stack.len() >= MAX_INCLUDE_DEPTH {
        return error(parsed, ErrorKind::IncludeTooDeep(MAX_INCLUDE_DEPTH));
    }
    if parsed.files.len() > MAX_INCLUDED_FILES {
        return error(parsed, ErrorKind::TooManyIncludes(MAX_INCLUDED_FILES));
    }
    if stack.contains(&canonical(&path)) {
        let chain: Vec<String> = stack
            .iter()
            .chain([&canonical(&path)])
            .map(|p| p.display().to_string())
            .collect();
        return error(parsed, ErrorKind::IncludeCycle(chain.join(" -> ")));
    }
    match read_source(&path) {
        Ok(text) => parse_file(parsed, stack, path, display, &text),
        Err(reason) => error(
            parsed,
            ErrorKind::Io {
                path: display,
                reason,
            },
        ),
    }
}

/// Spans built while parsing a line only know columns; give them the file and line.
fn rebase(stmt: Stmt, file: usize, line: usize) -> Stmt {
    let fix = |mut span: Span| {
        span.file = file;
        span.line = line;
        span
    };
    let fix_expr = |mut e: Expr| {
        e.span = fix(e.span);
        for t in &mut e.terms {
            t.2 = fix(t.2);
        }
        e
    };
    match stmt {
        Stmt::Equ(name, e) => Stmt::Equ(name, fix_expr(e)),
        Stmt::Header(h, e) => Stmt::Header(h, fix_expr(e)),
        Stmt::Org(e) => Stmt::Org(fix_expr(e)),
        Stmt::Space(e) => Stmt::Space(fix_expr(e)),
        Stmt::Pixel(e) => Stmt::Pixel(fix_expr(e)),
        Stmt::Words(words) => Stmt::Words(words.into_iter().map(fix_expr).collect()),
        Stmt::Instruction(op, operands) => Stmt::Instruction(
            op,
            operands
                .into_iter()
                .map(|(operand, span)| match operand {
                    Operand::Value(e) => (Operand::Value(fix_expr(e)), fix(span)),
                    register => (register, fix(span)),
                })
                .collect(),
        ),
        other => other,
    }
}

/// A statement of one line, before includes are expanded.
enum LineStmt {
    Stmt(Stmt),
    Include(String),
    Program(String),
}

type LineResult<T> = Result<T, (ErrorKind, usize, usize)>;

/// Recursive-descent parser over the tokens of one line. Spans it creates
/// have file 0 and line 0 until [`rebase`] fixes them.
struct LineParser<'t> {
    tokens: &'t [Token],
    pos: usize,
    /// Length of the line, for errors at its end.
    end: usize,
}

impl LineParser<'_> {
    fn peek(&self) -> Option<&TokenKind> {
        self.tokens.get(self.pos).map(|t| &t.kind)
    }

    fn span_from(&self, start: usize) -> Span {
        let first = &self.tokens[start];
        let last = &self.tokens[self.pos - 1];
        Span {
            file: 0,
            line: 0,
            col: first.col,
            len: last.col + last.len - first.col,
        }
    }

    fn error<T>(&self, expected: &'static str) -> LineResult<T> {
        Err(match self.tokens.get(self.pos) {
            Some(t) => (
                ErrorKind::Expected {
                    expected,
                    found: t.kind.describe(),
                },
                t.col,
                t.len,
            ),
            None => (
                ErrorKind::Expected {
                    expected,
                    found: "end of line".into(),
                },
                self.end,
                1,
            ),
        })
    }

    fn eat(&mut self, kind: &TokenKind) -> bool {
        let found = self.peek() == Some(kind);
        self.pos += found as usize;
        found
    }

    fn expect(&mut self, kind: TokenKind, expected: &'static str) -> LineResult<()> {
        if self.eat(&kind) {
            Ok(())
        } else {
            self.error(expected)
        }
    }

    fn name(&mut self, expected: &'static str) -> LineResult<String> {
        match self.peek() {
            Some(TokenKind::Ident(name)) => {
                let name = name.clone();
                self.pos += 1;
                Ok(name)
            }
            _ => self.error(expected),
        }
    }

    fn statements(mut self) -> LineResult<Vec<(LineStmt, usize, usize)>> {
        let mut out = Vec::new();
        while let (Some(TokenKind::Ident(name)), Some(TokenKind::Colon)) =
            (self.peek(), self.tokens.get(self.pos + 1).map(|t| &t.kind))
        {
            let token = &self.tokens[self.pos];
            if is_register_name(name) {
                return Err((ErrorKind::ReservedName(name.clone()), token.col, token.len));
            }
            out.push((
                LineStmt::Stmt(Stmt::Label(name.clone())),
                token.col,
                token.len,
            ));
            self.pos += 2;
        }
        let start = self.pos;
        let stmt = match self.peek().cloned() {
            None => return Ok(out),
            Some(TokenKind::Directive(name)) => {
                self.pos += 1;
                self.directive(&name, start)?
            }
            Some(TokenKind::Ident(name)) => {
                self.pos += 1;
                let token = &self.tokens[start];
                let op = Op::from_mnemonic(&name).ok_or((
                    ErrorKind::UnknownInstruction(name),
                    token.col,
                    token.len,
                ))?;
                LineStmt::Stmt(self.instruction(op, start)?)
            }
            Some(_) => return self.error("a label, directive or instruction"),
        };
        if self.pos < self.tokens.len() {
            return self.error("end of line");
        }
        let span = self.span_from(start);
        out.push((stmt, span.col, span.len));
        Ok(out)
    }

    fn directive(&mut self, name: &str, start: usize) -> LineResult<LineStmt> {
        let stmt = match name {
            "equ" => {
                let token = self.tokens.get(self.pos).cloned();
                let constant = self.name("a constant name")?;
                if is_register_name(&constant) {
                    let t = token.expect("a name was just read");
                    return Err((ErrorKind::ReservedName(constant), t.col, t.len));
                }
                self.expect(TokenKind::Comma, "`,`")?;
                Stmt::Equ(constant, self.expr()?)
            }
            "harts" => Stmt::Header(Header::Harts, self.expr()?),
            "memory" => Stmt::Header(Header::Memory, self.expr()?),
            "entry" => Stmt::Header(Header::Entry, self.expr()?),
            "width" => Stmt::Header(Header::Width, self.expr()?),
            "code" => Stmt::Section(Section::Code),
            "data" => Stmt::Section(Section::Data),
            "org" => Stmt::Org(self.expr()?),
            "space" => Stmt::Space(self.expr()?),
            "pixel" => Stmt::Pixel(self.expr()?),
            "word" => {
                let mut words = vec![self.expr()?];
                while self.eat(&TokenKind::Comma) {
                    words.push(self.expr()?);
                }
                Stmt::Words(words)
            }
            "string" | "include" | "program" => {
                let Some(TokenKind::Str(bytes)) = self.peek().cloned() else {
                    return self.error("a string literal");
                };
                self.pos += 1;
                let text = String::from_utf8_lossy(&bytes).into_owned();
                match name {
                    "string" => Stmt::Bytes(bytes),
                    "include" => return Ok(LineStmt::Include(text)),
                    _ => return Ok(LineStmt::Program(text)),
                }
            }
            _ => {
                let token = &self.tokens[start];
                return Err((
                    ErrorKind::UnknownDirective(format!(".{name}")),
                    token.col,
                    token.len,
                ));
            }
        };
        Ok(LineStmt::Stmt(stmt))
    }

    fn instruction(&mut self, op: Op, start: usize) -> LineResult<Stmt> {
        let mut operands = Vec::new();
        if self.pos < self.tokens.len() {
            loop {
                operands.push(self.operand()?);
                if self.eat(&TokenKind::Comma) {
                    continue;
                }
                // `li r1 42`: a missing comma, not a missing operand.
                if self.pos < self.tokens.len() && operands.len() < op.form().operands().len() {
                    return self.error("`,`");
                }
                break;
            }
        }
        let kinds = op.form().operands();
        if operands.len() != kinds.len() {
            let token = &self.tokens[start];
            let kind = ErrorKind::OperandCount {
                mnemonic: op.mnemonic(),
                expected: kinds.len(),
                form: op.form().name(),
                found: operands.len(),
            };
            return Err((kind, token.col, self.span_from(start).len));
        }
        for ((operand, span), kind) in operands.iter().zip(kinds) {
            match (operand, kind) {
                (Operand::Register(r), OperandKind::U8 | OperandKind::S8 | OperandKind::Word) => {
                    return Err((
                        ErrorKind::UnexpectedRegister(format!("r{r}")),
                        span.col,
                        span.len,
                    ));
                }
                (Operand::Value(_), OperandKind::Reg) => {
                    return Err((ErrorKind::ExpectedRegister, span.col, span.len));
                }
                _ => {}
            }
        }
        Ok(Stmt::Instruction(op, operands))
    }

    fn operand(&mut self) -> LineResult<(Operand, Span)> {
        if let Some(TokenKind::Ident(name)) = self.peek() {
            if let Some(digits) = register_number(name) {
                let token = &self.tokens[self.pos];
                let span = Span {
                    file: 0,
                    line: 0,
                    col: token.col,
                    len: token.len,
                };
                let register = digits.parse::<usize>().ok().filter(|&r| r < REGISTERS);
                let register = register.ok_or((
                    ErrorKind::UnknownRegister(name.clone()),
                    token.col,
                    token.len,
                ))?;
                self.pos += 1;
                return Ok((Operand::Register(register as u8), span));
            }
        }
        let expr = self.expr()?;
        let span = expr.span;
        Ok((Operand::Value(expr), span))
    }

    fn expr(&mut self) -> LineResult<Expr> {
        let start = self.pos;
        let mut terms = Vec::new();
        let mut join = if self.eat(&TokenKind::Minus) {
            Join::Sub
        } else {
            self.eat(&TokenKind::Plus);
            Join::Add
        };
        loop {
            let term_start = self.pos;
            let term = match self.peek() {
                Some(TokenKind::Number(n)) => Term::Number(*n),
                Some(TokenKind::Ident(name)) if !is_register_name(name) => {
                    Term::Symbol(name.clone())
                }
                Some(TokenKind::Ident(name)) => {
                    let token = &self.tokens[self.pos];
                    return Err((
                        ErrorKind::UnexpectedRegister(name.clone()),
                        token.col,
                        token.len,
                    ));
                }
                _ => return self.error("a number, label or constant"),
            };
            self.pos += 1;
            terms.push((join, term, self.span_from(term_start)));
            join = match self.peek() {
                Some(TokenKind::Plus) => Join::Add,
                Some(TokenKind::Minus) => Join::Sub,
                Some(TokenKind::Star) => Join::Mul,
                _ => break,
            };
            self.pos += 1;
        }
        Ok(Expr {
            terms,
            span: self.span_from(start),
        })
    }
}
