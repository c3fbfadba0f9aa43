//! Source maps: which source line and label every code pixel came from.
//!
//! Stored next to the image as `prog.pxi.map`, a line-based text file (see
//! `docs/pxi-format.md`):
//!
//! ```text
//! pxi-map 1
//! file 0 examples/hello.pxs
//! symbol code main 0
//! symbol data message 0
//! pixel 0 0 12 main
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// First line of every map file.
pub const MAP_HEADER: &str = "pxi-map 1";

/// Which address space a symbol lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    /// Code addresses (pixel indices into the code).
    Code,
    /// Data memory word addresses.
    Data,
}

impl Space {
    fn keyword(self) -> &'static str {
        match self {
            Space::Code => "code",
            Space::Data => "data",
        }
    }
}

/// A label and its address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    /// The label.
    pub name: String,
    /// Code or data.
    pub space: Space,
    /// Its address.
    pub addr: u32,
}

/// Where one code pixel came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PixelSource {
    /// Index into [`SourceMap::files`].
    pub file: u32,
    /// Line, from 1.
    pub line: u32,
    /// The nearest code label at or before the pixel, if any.
    pub label: Option<String>,
}

/// The source map of one image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceMap {
    /// Source files, as named when assembling.
    pub files: Vec<String>,
    /// Every label, in source order.
    pub symbols: Vec<Symbol>,
    /// One entry per code pixel, in code order.
    pub pixels: Vec<PixelSource>,
}

/// Why a map file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// Reading failed.
    #[error("cannot read source map `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line does not follow the format.
    #[error("source map line {line}: {message}")]
    Syntax {
        /// Line number, from 1.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Whether the source map next to the image could be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapStatus {
    /// `prog.pxi.map` was found and describes this image.
    Loaded(SourceMap),
    /// There is no `prog.pxi.map`.
    Missing(PathBuf),
    /// `prog.pxi.map` describes another code length; it is ignored.
    Mismatched {
        /// The map file.
        path: PathBuf,
        /// Code pixels the map describes.
        map_len: usize,
        /// Code pixels of the image.
        code_len: usize,
    },
}

impl MapStatus {
    /// The map, when it belongs to the image.
    pub fn map(&self) -> Option<&SourceMap> {
        match self {
            MapStatus::Loaded(map) => Some(map),
            _ => None,
        }
    }

    /// The map, when it belongs to the image, by value.
    pub fn into_map(self) -> Option<SourceMap> {
        match self {
            MapStatus::Loaded(map) => Some(map),
            _ => None,
        }
    }

    /// Why there are no source lines, or `None` when there are.
    pub fn note(&self) -> Option<String> {
        match self {
            MapStatus::Loaded(_) => None,
            MapStatus::Missing(path) => Some(format!(
                "no source map ({} not found): no source lines or labels",
                path.display()
            )),
            MapStatus::Mismatched {
                path,
                map_len,
                code_len,
            } => Some(format!(
                "source map {} ignored: it describes {map_len} code pixels, the image has {code_len}",
                path.display()
            )),
        }
    }
}

/// A pixel's source, resolved for display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceLine<'m> {
    /// File name.
    pub file: &'m str,
    /// Line, from 1.
    pub line: u32,
    /// Nearest preceding label.
    pub label: Option<&'m str>,
}

impl SourceMap {
    /// The sidecar path of an image: `prog.pxi` → `prog.pxi.map`.
    pub fn sidecar(image: &Path) -> PathBuf {
        let mut name = image.as_os_str().to_owned();
        name.push(".map");
        PathBuf::from(name)
    }

    /// Source of code pixel `pc`.
    pub fn pixel(&self, pc: u32) -> Option<SourceLine<'_>> {
        let p = self.pixels.get(pc as usize)?;
        Some(SourceLine {
            file: self.files.get(p.file as usize)?,
            line: p.line,
            label: p.label.as_deref(),
        })
    }

    /// The first label defined at `addr` in `space`.
    pub fn label_at(&self, space: Space, addr: u32) -> Option<&str> {
        self.symbols
            .iter()
            .find(|s| s.space == space && s.addr == addr)
            .map(|s| s.name.as_str())
    }

    /// Append the map of a program linked at code pixel `code` and data
    /// address `data` (see `pxi::program::link`): its files, its symbols as
    /// `name.label` at their linked addresses, and its pixels.
    pub fn link(&mut self, name: &str, program: &SourceMap, code: u32, data: u32) {
        let first_file = self.files.len() as u32;
        self.files.extend(program.files.iter().cloned());
        self.symbols.extend(program.symbols.iter().map(|s| Symbol {
            name: format!("{name}.{}", s.name),
            space: s.space,
            addr: s.addr + if s.space == Space::Code { code } else { data },
        }));
        self.pixels.truncate(code as usize);
        self.pixels
            .extend(program.pixels.iter().map(|p| PixelSource {
                file: p.file + first_file,
                line: p.line,
                label: p.label.as_ref().map(|l| format!("{name}.{l}")),
            }));
    }

    /// The map as text.
    pub fn to_text(&self) -> String {
        let mut out = format!("{MAP_HEADER}\n");
        for (i, file) in self.files.iter().enumerate() {
            let _ = writeln!(out, "file {i} {file}");
        }
        for s in &self.symbols {
            let _ = writeln!(out, "symbol {} {} {}", s.space.keyword(), s.name, s.addr);
        }
        for (pc, p) in self.pixels.iter().enumerate() {
            let _ = writeln!(
                out,
                "pixel {pc} {} {} {}",
                p.file,
                p.line,
                p.label.as_deref().unwrap_or("-")
            );
        }
        out
    }

    /// Parse map text, checking every line.
    pub fn parse(text: &str) -> Result<SourceMap, MapError> {
        let mut map = SourceMap::default();
        let mut lines = text.lines().enumerate();
        if lines.next().map(|(_, l)| l.trim_end()) != Some(MAP_HEADER) {
            return Err(MapError::Syntax {
                line: 1,
                message: format!("expected `{MAP_HEADER}`"),
            });
        }
        for (index, line) in lines {
            let syntax = |message: &str| MapError::Syntax {
                line: index + 1,
                message: message.to_string(),
            };
            let number = |field: Option<&str>, what: &str| {
                field
                    .and_then(|f| f.parse::<u32>().ok())
                    .ok_or_else(|| syntax(&format!("expected {what}")))
            };
            let (keyword, rest) = line.split_once(' ').unwrap_or((line, ""));
            match keyword {
                "file" => {
                    let (index, path) = rest
                        .split_once(' ')
                        .ok_or_else(|| syntax("expected `file <index> <path>`"))?;
                    if number(Some(index), "a file index")? as usize != map.files.len() {
                        return Err(syntax("file indices must count up from 0"));
                    }
                    map.files.push(path.to_string());
                }
                "symbol" => {
                    let mut fields = rest.split(' ');
                    let space = match fields.next() {
                        Some("code") => Space::Code,
                        Some("data") => Space::Data,
                        _ => return Err(syntax("expected `code` or `data`")),
                    };
                    let name = fields
                        .next()
                        .filter(|n| !n.is_empty())
                        .ok_or_else(|| syntax("expected a name"))?;
                    let addr = number(fields.next(), "an address")?;
                    map.symbols.push(Symbol {
                        name: name.to_string(),
                        space,
                        addr,
                    });
                }
                "pixel" => {
                    let mut fields = rest.split(' ');
                    if number(fields.next(), "a code address")? as usize != map.pixels.len() {
                        return Err(syntax("pixels must be listed in code order from 0"));
                    }
                    let file = number(fields.next(), "a file index")?;
                    if file as usize >= map.files.len() {
                        return Err(syntax("unknown file index"));
                    }
                    let line = number(fields.next(), "a line number")?;
                    let label = match fields.next() {
                        Some("-") => None,
                        Some(name) if !name.is_empty() => Some(name.to_string()),
                        _ => return Err(syntax("expected a label or `-`")),
                    };
                    map.pixels.push(PixelSource { file, line, label });
                }
                "" => {}
                _ => return Err(syntax(&format!("unknown record `{keyword}`"))),
            }
        }
        Ok(map)
    }

    /// Write the map to `path`.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.to_text())
    }

    /// Read a map from `path`.
    /// The sidecar map of the image at `image_path`, checked against the
    /// image's `code_len` code pixels: a map of another length is ignored.
    pub fn load_for(image_path: &Path, code_len: usize) -> Result<MapStatus, MapError> {
        let path = SourceMap::sidecar(image_path);
        if !path.exists() {
            return Ok(MapStatus::Missing(path));
        }
        let map = SourceMap::read(&path)?;
        if map.pixels.len() != code_len {
            return Ok(MapStatus::Mismatched {
                path,
                map_len: map.pixels.len(),
                code_len,
            });
        }
        Ok(MapStatus::Loaded(map))
    }

    /// Read and parse a map file.
    pub fn read(path: &Path) -> Result<SourceMap, MapError> {
        let text = std::fs::read_to_string(path).map_err(|source| MapError::Io {
            path: path.into(),
            source,
        })?;
        SourceMap::parse(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip_and_errors() {
        let map = SourceMap {
            files: vec!["a b/x.pxs".into()],
            symbols: vec![Symbol {
                name: "main".into(),
                space: Space::Code,
                addr: 0,
            }],
            pixels: vec![
                PixelSource {
                    file: 0,
                    line: 3,
                    label: None,
                },
                PixelSource {
                    file: 0,
                    line: 4,
                    label: Some("main".into()),
                },
            ],
        };
        assert_eq!(SourceMap::parse(&map.to_text()).unwrap(), map);
        assert_eq!(
            map.pixel(1),
            Some(SourceLine {
                file: "a b/x.pxs",
                line: 4,
                label: Some("main")
            })
        );
        assert_eq!(map.label_at(Space::Code, 0), Some("main"));
        let err = SourceMap::parse("pxi-map 1\npixel 0 5 1 -\n").unwrap_err();
        assert_eq!(err.to_string(), "source map line 2: unknown file index");
        assert!(SourceMap::parse("nope").is_err());
    }
}
