//! A minimal NBD client over a unix socket: the fixed-newstyle handshake with
//! `NBD_OPT_EXPORT_NAME`, then simple-reply reads and writes, one request at a time.
//!
//! It is the guest's disk controller: the guest writes through it with FUA (force unit access),
//! so that a write the server acknowledged is on the image file, not in qemu's caches, and a
//! SIGKILLed daemon cannot take an acknowledged write with it.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

const NBDMAGIC: u64 = 0x4e42_444d_4147_4943;
const IHAVEOPT: u64 = 0x4948_4156_454f_5054;
const FLAG_FIXED_NEWSTYLE: u16 = 1;
const FLAG_NO_ZEROES: u16 = 2;
const OPT_EXPORT_NAME: u32 = 1;
const REQUEST_MAGIC: u32 = 0x2560_9513;
const REPLY_MAGIC: u32 = 0x6744_6698;
const CMD_READ: u16 = 0;
const CMD_WRITE: u16 = 1;
const CMD_DISC: u16 = 2;
const CMD_FLAG_FUA: u16 = 1;

/// One connection to one export.
pub struct Nbd {
    s: UnixStream,
    size: u64,
    handle: u64,
}

fn io(what: &str) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("NBD {what}: {e}")
}

impl Nbd {
    /// Connects to `export` of the NBD server listening on `socket`.
    pub fn connect(socket: &Path, export: &str) -> Result<Nbd, String> {
        let mut s = UnixStream::connect(socket)
            .map_err(|e| format!("cannot connect to {}: {e}", socket.display()))?;
        // A daemon that stops answering must not hang the guest or the verdict forever.
        let t = Some(Duration::from_secs(30));
        let _ = s.set_read_timeout(t);
        let _ = s.set_write_timeout(t);
        let mut hello = [0u8; 18];
        s.read_exact(&mut hello).map_err(io("handshake"))?;
        let magic = u64::from_be_bytes(hello[0..8].try_into().unwrap_or_default());
        let opt = u64::from_be_bytes(hello[8..16].try_into().unwrap_or_default());
        if magic != NBDMAGIC || opt != IHAVEOPT {
            return Err("NBD handshake: not a newstyle NBD server".into());
        }
        let flags = u16::from_be_bytes([hello[16], hello[17]]);
        if flags & FLAG_FIXED_NEWSTYLE == 0 {
            return Err("NBD handshake: the server is not fixed-newstyle".into());
        }
        let no_zeroes = flags & FLAG_NO_ZEROES != 0;
        let client_flags = u32::from(FLAG_FIXED_NEWSTYLE | (flags & FLAG_NO_ZEROES));
        let mut m = Vec::new();
        m.extend_from_slice(&client_flags.to_be_bytes());
        m.extend_from_slice(&IHAVEOPT.to_be_bytes());
        m.extend_from_slice(&OPT_EXPORT_NAME.to_be_bytes());
        m.extend_from_slice(&(export.len() as u32).to_be_bytes());
        m.extend_from_slice(export.as_bytes());
        s.write_all(&m).map_err(io("handshake"))?;
        // The server answers EXPORT_NAME with the size and flags, or closes on an unknown name.
        let mut info = [0u8; 10];
        s.read_exact(&mut info)
            .map_err(|e| format!("NBD export '{export}' refused: {e}"))?;
        if !no_zeroes {
            let mut z = [0u8; 124];
            s.read_exact(&mut z).map_err(io("handshake"))?;
        }
        let size = u64::from_be_bytes(info[0..8].try_into().unwrap_or_default());
        Ok(Nbd { s, size, handle: 0 })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    fn request(
        &mut self,
        cmd: u16,
        flags: u16,
        offset: u64,
        len: u32,
        data: &[u8],
    ) -> Result<(), String> {
        self.handle += 1;
        let mut m = Vec::with_capacity(28 + data.len());
        m.extend_from_slice(&REQUEST_MAGIC.to_be_bytes());
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&cmd.to_be_bytes());
        m.extend_from_slice(&self.handle.to_be_bytes());
        m.extend_from_slice(&offset.to_be_bytes());
        m.extend_from_slice(&len.to_be_bytes());
        m.extend_from_slice(data);
        self.s.write_all(&m).map_err(io("request"))
    }

    fn reply(&mut self) -> Result<(), String> {
        let mut r = [0u8; 16];
        self.s.read_exact(&mut r).map_err(io("reply"))?;
        let magic = u32::from_be_bytes([r[0], r[1], r[2], r[3]]);
        let err = u32::from_be_bytes([r[4], r[5], r[6], r[7]]);
        let handle = u64::from_be_bytes(r[8..16].try_into().unwrap_or_default());
        if magic != REPLY_MAGIC || handle != self.handle {
            return Err("NBD reply: out of step with the request".into());
        }
        if err != 0 {
            return Err(format!("NBD request failed: error {err}"));
        }
        Ok(())
    }

    /// Reads `len` bytes at `offset`.
    pub fn read(&mut self, offset: u64, len: u32) -> Result<Vec<u8>, String> {
        self.request(CMD_READ, 0, offset, len, &[])?;
        self.reply()?;
        let mut buf = vec![0u8; len as usize];
        self.s.read_exact(&mut buf).map_err(io("read"))?;
        Ok(buf)
    }

    /// Writes `data` at `offset`, durably (FUA): `Ok` is the server's acknowledgement.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), String> {
        self.request(CMD_WRITE, CMD_FLAG_FUA, offset, data.len() as u32, data)?;
        self.reply()
    }
}

impl Drop for Nbd {
    fn drop(&mut self) {
        let _ = self.request(CMD_DISC, 0, 0, 0, &[]);
    }
}
