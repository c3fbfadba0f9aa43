//! A client of virglrenderer's vtest protocol (`virgl_test_server`, Debian
//! package `virgl-server`): the host-side [`Transport`] that tests the
//! TGSI translation and the virgl executor without QEMU.
//!
//! Messages are `[length, command]` dwords followed by the payload; the
//! server answers some of them. A command the renderer rejects (an invalid
//! shader, a bad handle) makes the server drop the connection, which shows
//! up here as an I/O error on the next read.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use std::vec::Vec;
use std::{format, vec};

use crate::{Shader, Shaders, Transport};

use crate::protocol::{BIND_SHADER_BUFFER, FORMAT_R8_UNORM, TARGET_BUFFER};

const RESOURCE_CREATE: u32 = 2;
const RESOURCE_UNREF: u32 = 3;
const TRANSFER_GET: u32 = 4;
const TRANSFER_PUT: u32 = 5;
const SUBMIT_CMD: u32 = 6;
const RESOURCE_BUSY_WAIT: u32 = 7;
const CREATE_RENDERER: u32 = 8;
const PING_PROTOCOL_VERSION: u32 = 10;
const PROTOCOL_VERSION: u32 = 11;
/// `VCMD_BUSY_WAIT_FLAG_WAIT`: block until the resource is idle.
const BUSY_WAIT_BLOCK: u32 = 1;
/// Protocol version asked for (client-chosen resource handles).
const VERSION: u32 = 2;

/// A connection to a vtest server: one virgl context.
pub struct Vtest {
    stream: UnixStream,
    /// A resource to wait on (the server waits per resource).
    last_resource: Option<u32>,
}

impl Vtest {
    /// Connect to the server listening on `socket` and create a context.
    pub fn connect(socket: &Path) -> io::Result<Vtest> {
        let stream = UnixStream::connect(socket).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot connect to the vtest server at {}: {e}",
                    socket.display()
                ),
            )
        })?;
        let mut v = Vtest {
            stream,
            last_resource: None,
        };
        let name = b"pxos\0";
        v.stream
            .write_all(&dwords_bytes(&[name.len() as u32, CREATE_RENDERER]))?;
        v.stream.write_all(name)?;
        v.send(PING_PROTOCOL_VERSION, &[])?;
        v.reply(0)?;
        v.send(PROTOCOL_VERSION, &[VERSION])?;
        let version = v.reply(1)?;
        if version[0] < VERSION {
            return Err(io::Error::other(format!(
                "the vtest server speaks protocol {}, pxOS needs {VERSION}",
                version[0]
            )));
        }
        Ok(v)
    }

    fn send(&mut self, command: u32, payload: &[u32]) -> io::Result<()> {
        let mut message = vec![payload.len() as u32, command];
        message.extend_from_slice(payload);
        self.stream.write_all(&dwords_bytes(&message)).map_err(lost)
    }

    /// Read a reply of `words` dwords after its 2-dword header.
    fn reply(&mut self, words: usize) -> io::Result<Vec<u32>> {
        let mut bytes = vec![0u8; (2 + words) * 4];
        self.stream.read_exact(&mut bytes).map_err(lost)?;
        Ok(bytes[8..]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    fn transfer_header(handle: u32, offset: u32, bytes: u32) -> [u32; 11] {
        // handle, level, stride, layer_stride, box x y z w h d, data size
        [handle, 0, 0, 0, offset, 0, 0, bytes, 1, 1, bytes]
    }

    fn busy_wait(&mut self, handle: u32) -> io::Result<()> {
        self.send(RESOURCE_BUSY_WAIT, &[handle, BUSY_WAIT_BLOCK])?;
        self.reply(1).map(|_| ())
    }
}

/// The connection ended: the renderer rejected a command (and killed the context).
fn lost(e: io::Error) -> io::Error {
    use io::ErrorKind::{BrokenPipe, ConnectionReset, UnexpectedEof};
    if matches!(e.kind(), UnexpectedEof | ConnectionReset | BrokenPipe) {
        io::Error::new(
            e.kind(),
            "the vtest server closed the connection: the renderer rejected a command \
             (see the server log)",
        )
    } else {
        e
    }
}

fn dwords_bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

impl Transport for Vtest {
    type Error = io::Error;

    fn create_buffer(&mut self, handle: u32, bytes: u32) -> io::Result<()> {
        // handle, target, format, bind, width, height, depth, array size, last level, samples
        self.send(
            RESOURCE_CREATE,
            &[
                handle,
                TARGET_BUFFER,
                FORMAT_R8_UNORM,
                BIND_SHADER_BUFFER,
                bytes,
                1,
                1,
                1,
                0,
                0,
            ],
        )?;
        self.last_resource = Some(handle);
        Ok(())
    }

    fn destroy(&mut self, handle: u32) -> io::Result<()> {
        if self.last_resource == Some(handle) {
            self.last_resource = None;
        }
        self.send(RESOURCE_UNREF, &[handle])
    }

    fn write(&mut self, handle: u32, offset: u32, words: &[u32]) -> io::Result<()> {
        let bytes = (words.len() * 4) as u32;
        let mut message = vec![11 + words.len() as u32, TRANSFER_PUT];
        message.extend_from_slice(&Self::transfer_header(handle, offset, bytes));
        message.extend_from_slice(words);
        self.stream.write_all(&dwords_bytes(&message)).map_err(lost)
    }

    fn read(&mut self, handle: u32, offset: u32, out: &mut [u32]) -> io::Result<()> {
        self.busy_wait(handle)?;
        let bytes = (out.len() * 4) as u32;
        self.send(TRANSFER_GET, &Self::transfer_header(handle, offset, bytes))?;
        let mut raw = vec![0u8; bytes as usize];
        self.stream.read_exact(&mut raw).map_err(lost)?;
        for (w, c) in out.iter_mut().zip(raw.chunks_exact(4)) {
            *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        Ok(())
    }

    fn submit(&mut self, commands: &[u32]) -> io::Result<()> {
        self.send(SUBMIT_CMD, commands)
    }

    fn wait(&mut self) -> io::Result<()> {
        // A round trip proves the server processed everything before it;
        // waiting on a resource makes the GPU work finish too.
        match self.last_resource {
            Some(handle) => self.busy_wait(handle),
            None => {
                self.send(PING_PROTOCOL_VERSION, &[])?;
                self.reply(0).map(|_| ())
            }
        }
    }
}

/// The runtime's shaders as translated on the host (`shaders::tgsi::runtime`), ready for
/// [`crate::Context::new`].
pub fn runtime_shaders(t: &shaders::tgsi::RuntimeShaders) -> Shaders<'_> {
    Shaders {
        run_slice: shader(&t.run_slice),
        resolve: shader(&t.resolve),
        run_vector: shader(&t.run_vector),
    }
}

fn shader(t: &shaders::tgsi::Translation) -> Shader<'_> {
    Shader {
        text: &t.text,
        tokens: t.token_bound(),
        workgroup: t.workgroup,
        shared_bytes: t.shared_bytes,
    }
}

/// A `virgl_test_server` started for this process, stopped on drop.
pub struct Server {
    child: Child,
    socket: PathBuf,
    log: PathBuf,
}

impl Server {
    /// Start the server on a fresh socket in `dir` (its log goes next to it).
    pub fn start(dir: &Path) -> io::Result<Server> {
        let socket = dir.join("vtest.sock");
        let log = dir.join("vtest.log");
        let _ = std::fs::remove_file(&socket);
        let out = std::fs::File::create(&log)?;
        let child = Command::new("virgl_test_server")
            .arg("--use-egl-surfaceless")
            .arg(format!("--socket-path={}", socket.display()))
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot start virgl_test_server ({e}); on Debian install virgl-server \
                         (scripts/setup.sh does)"
                    ),
                )
            })?;
        let mut server = Server { child, socket, log };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !server.socket.exists() {
            if let Some(status) = server.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "virgl_test_server exited ({status}) before listening: {}",
                    server.log_text()
                )));
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(
                    "virgl_test_server did not listen within 10 s",
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    /// The socket clients connect to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// What the server printed so far.
    pub fn log_text(&self) -> std::string::String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
