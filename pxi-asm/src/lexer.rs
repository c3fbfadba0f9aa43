//! Splits one source line into tokens. Comments (`;` or `#` outside quotes)
//! end the line.

use crate::error::ErrorKind;

/// What a token is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A name: label, mnemonic, register or constant.
    Ident(String),
    /// A directive such as `.equ` (stored without the dot, lower case).
    Directive(String),
    /// A number or character literal.
    Number(i64),
    /// A string literal's bytes, escapes resolved.
    Str(Vec<u8>),
    /// `,`
    Comma,
    /// `:`
    Colon,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
}

impl TokenKind {
    /// How the token is named in "expected …, found …" messages.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Ident(name) => format!("`{name}`"),
            TokenKind::Directive(name) => format!("`.{name}`"),
            TokenKind::Number(n) => format!("number {n}"),
            TokenKind::Str(_) => "a string".into(),
            TokenKind::Comma => "`,`".into(),
            TokenKind::Colon => "`:`".into(),
            TokenKind::Plus => "`+`".into(),
            TokenKind::Minus => "`-`".into(),
            TokenKind::Star => "`*`".into(),
        }
    }
}

/// A token and the columns it covers (0-based start, width in characters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The token.
    pub kind: TokenKind,
    /// First column, 0-based, in characters.
    pub col: usize,
    /// Width in characters.
    pub len: usize,
}

/// A lexing error at columns `col..col + len` (0-based).
pub type LexError = (ErrorKind, usize, usize);

/// Most tokens one line may have: a statement needs a few dozen, and the
/// limit keeps a hostile megabyte line (`x+x+x+…`) from costing gigabytes.
pub const MAX_LINE_TOKENS: usize = 65_536;

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// Tokenize one line.
pub fn tokenize(line: &str) -> Result<Vec<Token>, LexError> {
    let chars: Vec<char> = line.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let kind = match c {
            ';' | '#' => break,
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            ',' | ':' | '+' | '-' | '*' => {
                i += 1;
                match c {
                    ',' => TokenKind::Comma,
                    ':' => TokenKind::Colon,
                    '+' => TokenKind::Plus,
                    '*' => TokenKind::Star,
                    _ => TokenKind::Minus,
                }
            }
            '"' => {
                let (bytes, end) = quoted(&chars, i, '"')?;
                i = end;
                TokenKind::Str(bytes)
            }
            '\'' => {
                let (bytes, end) = quoted(&chars, i, '\'')?;
                i = end;
                match bytes[..] {
                    [byte] => TokenKind::Number(byte as i64),
                    _ => return Err((ErrorKind::BadCharLiteral, start, end - start)),
                }
            }
            '.' => {
                i += 1;
                while i < chars.len() && is_name_char(chars[i]) {
                    i += 1;
                }
                let name: String = chars[start + 1..i].iter().collect();
                TokenKind::Directive(name.to_ascii_lowercase())
            }
            c if c.is_ascii_digit() => {
                while i < chars.len() && is_name_char(chars[i]) {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let value =
                    parse_number(&text).ok_or((ErrorKind::BadNumber(text), start, i - start))?;
                TokenKind::Number(value)
            }
            c if is_name_start(c) => {
                while i < chars.len() && is_name_char(chars[i]) {
                    i += 1;
                }
                TokenKind::Ident(chars[start..i].iter().collect())
            }
            other => return Err((ErrorKind::UnexpectedChar(other), start, 1)),
        };
        if tokens.len() == MAX_LINE_TOKENS {
            return Err((ErrorKind::TooManyTokens(MAX_LINE_TOKENS), start, i - start));
        }
        tokens.push(Token {
            kind,
            col: start,
            len: i - start,
        });
    }
    Ok(tokens)
}

/// Decimal, `0x` hex or `0b` binary, with optional `_` separators.
fn parse_number(text: &str) -> Option<i64> {
    let clean = text.replace('_', "");
    let lower = clean.to_ascii_lowercase();
    let (digits, radix) = if let Some(hex) = lower.strip_prefix("0x") {
        (hex, 16)
    } else if let Some(bin) = lower.strip_prefix("0b") {
        (bin, 2)
    } else {
        (lower.as_str(), 10)
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    i64::from_str_radix(digits, radix).ok()
}

/// Read a quoted literal starting at `chars[open]`; returns its bytes and the
/// index after the closing quote.
fn quoted(chars: &[char], open: usize, quote: char) -> Result<(Vec<u8>, usize), LexError> {
    let what = if quote == '"' { "string" } else { "character" };
    let mut bytes = Vec::new();
    let mut i = open + 1;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err((ErrorKind::Unterminated(what), open, chars.len() - open));
        };
        i += 1;
        match c {
            c if c == quote => return Ok((bytes, i)),
            '\\' => {
                let escape_start = i - 1;
                let Some(&e) = chars.get(i) else {
                    return Err((ErrorKind::Unterminated(what), open, chars.len() - open));
                };
                i += 1;
                let byte = match e {
                    'n' => b'\n',
                    't' => b'\t',
                    'r' => b'\r',
                    '0' => 0,
                    '\\' => b'\\',
                    '"' => b'"',
                    '\'' => b'\'',
                    'x' => {
                        let hex: String = chars.iter().skip(i).take(2).collect();
                        let value = (hex.len() == 2)
                            .then(|| u8::from_str_radix(&hex, 16).ok())
                            .flatten();
                        let Some(value) = value else {
                            return Err((
                                ErrorKind::BadEscape(format!("x{hex}")),
                                escape_start,
                                2 + hex.chars().count(),
                            ));
                        };
                        i += 2;
                        value
                    }
                    other => {
                        return Err((ErrorKind::BadEscape(other.to_string()), escape_start, 2));
                    }
                };
                bytes.push(byte);
            }
            c => {
                let mut buf = [0; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(line: &str) -> Vec<TokenKind> {
        tokenize(line)
            .unwrap()
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    #[test]
    fn numbers_and_literals() {
        use TokenKind::*;
        assert_eq!(
            kinds("li r1, 0x1F, 0b101, 1_000, 'a', '\\n' ; comment"),
            [
                Ident("li".into()),
                Ident("r1".into()),
                Comma,
                Number(31),
                Comma,
                Number(5),
                Comma,
                Number(1000),
                Comma,
                Number(97),
                Comma,
                Number(10)
            ]
        );
        assert_eq!(kinds("'#' # c"), [Number(35)]);
        assert_eq!(
            kinds(r#".string "a;\x41\0\"""#),
            [Directive("string".into()), Str(b"a;A\0\"".to_vec())]
        );
    }

    #[test]
    fn errors_point_at_the_text() {
        assert_eq!(
            tokenize("  0x"),
            Err((ErrorKind::BadNumber("0x".into()), 2, 2))
        );
        assert_eq!(
            tokenize("\"abc"),
            Err((ErrorKind::Unterminated("string"), 0, 4))
        );
        assert_eq!(tokenize("'ab'"), Err((ErrorKind::BadCharLiteral, 0, 4)));
        assert_eq!(
            tokenize("\"\\q\""),
            Err((ErrorKind::BadEscape("q".into()), 1, 2))
        );
        assert_eq!(tokenize("a @"), Err((ErrorKind::UnexpectedChar('@'), 2, 1)));
    }
}
