//! Offline inputs: the artifacts a draft reads, whichever door they came in by. Files an
//! engineer exported by hand ([`Files`]) and the daemon's evidence [`bundle::Bundle`] both
//! implement [`Artifacts`]; [`files`] recognises each file's kind from its content and reads
//! the small ones into records; [`logs`] reads log files as line streams.
//!
//! Live collection (`collect`) and the store know nothing of this module; the bundle lays
//! the store's evidence out as the files `draft` reads.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::record::Instant;

pub mod bundle;
pub mod files;
pub mod inspect;
pub mod logs;

/// Where a draft's artifacts come from: files on disk ([`Files`]) or an incident's stored
/// evidence (the daemon's bundle). Names are paths; a bundle's are relative.
pub trait Artifacts: Sync {
    /// Every artifact, in a stable order.
    fn names(&self) -> io::Result<Vec<PathBuf>>;
    /// An artifact's bytes from its start.
    fn open(&self, name: &Path) -> io::Result<Box<dyn Read + Send + '_>>;
    /// When an artifact was last modified, where that is known: the last resort for the
    /// year of year-less log times when no input gives one (never the wall clock).
    fn modified(&self, _name: &Path) -> Option<Instant> {
        None
    }
    /// At most `n` bytes of an artifact's end (the default reads it through).
    fn tail(&self, name: &Path, n: u64) -> io::Result<Vec<u8>> {
        let mut reader = self.open(name)?;
        let mut tail: Vec<u8> = Vec::new();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = reader.read(&mut buffer)?;
            if read == 0 {
                return Ok(tail);
            }
            tail.extend_from_slice(&buffer[..read]);
            let excess = tail.len().saturating_sub(n as usize);
            tail.drain(..excess);
        }
    }
}

/// The newest modification time among `names`: no line of them was written later, which
/// bounds the year of year-less times when nothing else gives one (never the wall clock).
pub fn newest_modified<'a>(artifacts: &dyn Artifacts, names: impl IntoIterator<Item = &'a Path>) -> Option<Instant> {
    names.into_iter().filter_map(|name| artifacts.modified(name)).max()
}

/// Files and folders given on the command line.
pub struct Files<'a>(pub &'a [PathBuf]);

impl Artifacts for Files<'_> {
    fn names(&self) -> io::Result<Vec<PathBuf>> {
        files::expand(self.0)
    }

    fn open(&self, name: &Path) -> io::Result<Box<dyn Read + Send + '_>> {
        Ok(Box::new(File::open(name)?))
    }

    fn modified(&self, name: &Path) -> Option<Instant> {
        let modified = std::fs::metadata(name).ok()?.modified().ok()?;
        Instant::try_from(modified).ok()
    }

    fn tail(&self, name: &Path, n: u64) -> io::Result<Vec<u8>> {
        let mut file = File::open(name)?;
        let length = file.metadata()?.len();
        file.seek(SeekFrom::Start(length.saturating_sub(n)))?;
        let mut tail = Vec::new();
        file.take(n).read_to_end(&mut tail)?;
        Ok(tail)
    }
}
