//! The files the tool writes and reads back itself (counterexamples, the findings baseline, the
//! reports): reads bounded to regular files, atomic writes, and the first check every versioned
//! JSON file of ours gets, so that each refuses a foreign, truncated or future file in the same
//! words.

use std::path::Path;

/// Reads a regular file of at most `max` bytes: a device, a FIFO or a giant file is refused
/// rather than read forever.
pub(crate) fn read_regular_file(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    livemerge_impl::outfile::read_regular(path, max)
}

/// Writes `bytes` to `path` whole (see [`livemerge_impl::outfile::write_atomically`]): a target
/// that is not a regular file is refused and left alone.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    livemerge_impl::outfile::write_atomically(path, bytes)
}

/// Makes `dir` ready for `--save DIR` (created if missing): a path that exists and is not a
/// directory (a regular file, a device, a symlink to one) is refused before anything runs, by
/// every command that saves files, in the same words.
pub(crate) fn prepare_save_dir(dir: &Path) -> Result<(), String> {
    if dir.exists() && !dir.is_dir() {
        return Err(format!("--save {}: not a directory", dir.display()));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("--save {}: cannot create: {e}", dir.display()))
}

/// A kind of versioned JSON file: `{"format": FORMAT, "version": VERSION, ...}`.
pub(crate) struct Versioned {
    /// The `format` field it must have.
    pub(crate) format: &'static str,
    /// The one `version` this livemerge reads.
    pub(crate) version: u32,
    /// What errors call it: `counterexample`, `findings`.
    pub(crate) kind: &'static str,
}

impl Versioned {
    /// Parses `text` as JSON of this kind: one-line errors, naming the file as `shown`, for an
    /// empty, truncated or non-JSON file, another format, or another version.
    pub(crate) fn parse(&self, text: &[u8], shown: &str) -> Result<serde_json::Value, String> {
        let kind = self.kind;
        let (format, version) = (self.format, self.version);
        if text.iter().all(u8::is_ascii_whitespace) {
            return Err(format!("{shown}: empty file, not a livemerge {kind} file"));
        }
        let value: serde_json::Value = serde_json::from_slice(text).map_err(|e| {
            if e.is_eof() {
                format!("{shown}: truncated JSON ({e})")
            } else {
                format!("{shown}: not JSON ({e})")
            }
        })?;
        if value.get("format").and_then(|f| f.as_str()) != Some(format) {
            return Err(format!(
                "{shown}: not a livemerge {kind} file (no \"format\": \"{format}\")"
            ));
        }
        match value.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(version) => Ok(value),
            Some(v) => Err(format!(
                "{shown}: {kind} format version {v}, this livemerge reads version {version}"
            )),
            None => Err(format!("{shown}: no format version")),
        }
    }
}
