//! Large values of the embedded store (documents, the signed requests of the audit log) kept
//! out of the B-tree: appended to segment files, `<dir>/<stream>-<number>.seg`, and named in
//! the store by a [`BlobRef`] (segment, offset, length, SHA-256).
//!
//! Durability: a group's blobs are appended and `fdatasync`ed before the store transaction
//! that names them commits, so a committed reference always points at durable bytes. A crash
//! between the two leaves bytes nobody names at the end of a segment: wasted space, never a
//! wrong answer, and appends continue after them. Every read checks the SHA-256, so a damaged
//! segment is reported, not served.
//!
//! Why: redb copies a value through its pages several times and writes it again when its leaf
//! changes; appending each value once to a file costs one copy and one sequential write, and
//! one fsync per group of commits.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use aws_lc_rs::digest;

use super::io_faults::{self, IoFaults};

use crate::core::StoreError;

/// A segment is closed once it holds this much.
const SEGMENT_BYTES: u64 = 1 << 30;

/// Where a blob is: 4 + 8 + 8 + 32 bytes in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobRef {
    pub segment: u32,
    pub offset: u64,
    pub len: u64,
    pub sha256: [u8; 32],
}

impl BlobRef {
    pub const ENCODED_LEN: usize = 52;

    pub fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        out[..4].copy_from_slice(&self.segment.to_be_bytes());
        out[4..12].copy_from_slice(&self.offset.to_be_bytes());
        out[12..20].copy_from_slice(&self.len.to_be_bytes());
        out[20..].copy_from_slice(&self.sha256);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<BlobRef, StoreError> {
        let bytes: &[u8; Self::ENCODED_LEN] = bytes.try_into().map_err(|_| {
            StoreError::Corrupt(format!("a blob reference of {} bytes", bytes.len()))
        })?;
        let mut segment = [0u8; 4];
        let mut offset = [0u8; 8];
        let mut len = [0u8; 8];
        let mut sha256 = [0u8; 32];
        segment.copy_from_slice(&bytes[..4]);
        offset.copy_from_slice(&bytes[4..12]);
        len.copy_from_slice(&bytes[12..20]);
        sha256.copy_from_slice(&bytes[20..]);
        Ok(BlobRef {
            segment: u32::from_be_bytes(segment),
            offset: u64::from_be_bytes(offset),
            len: u64::from_be_bytes(len),
            sha256,
        })
    }
}

/// One stream of segments (say, documents).
#[derive(Debug)]
pub struct Segments {
    dir: PathBuf,
    stream: &'static str,
    /// The segment being appended to: number, file, length.
    current: Mutex<(u32, File, u64)>,
    /// Errors injected before writes and syncs (the fault tests'), or none.
    faults: Option<Arc<IoFaults>>,
}

fn fail(what: &str, path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("{what} {}: {e}", path.display()))
}

fn segment_path(dir: &Path, stream: &str, number: u32) -> PathBuf {
    dir.join(format!("{stream}-{number:06}.seg"))
}

/// Opens (or creates, durably) a segment for appending; its length. Not in append mode: each
/// append writes at the length the file has on disk, which it reads first (see
/// [`Segments::append`]).
fn open_for_append(dir: &Path, path: &Path) -> Result<(File, u64), StoreError> {
    let existed = path.exists();
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .read(true)
        .open(path)
        .map_err(|e| fail("opening", path, e))?;
    if !existed {
        // The new file's name must be durable before anything in it is named.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| fail("syncing", dir, e))?;
    }
    let len = file.metadata().map_err(|e| fail("reading", path, e))?.len();
    Ok((file, len))
}

impl Segments {
    /// Opens the stream in `dir`, appending to its last segment.
    pub fn open(dir: &Path, stream: &'static str) -> Result<Segments, StoreError> {
        Self::open_with_faults(dir, stream, None)
    }

    /// [`Segments::open`], with `faults` injected before each write and sync.
    pub fn open_with_faults(
        dir: &Path,
        stream: &'static str,
        faults: Option<Arc<IoFaults>>,
    ) -> Result<Segments, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| fail("creating", dir, e))?;
        let prefix = format!("{stream}-");
        let mut last = 0u32;
        for entry in std::fs::read_dir(dir).map_err(|e| fail("reading", dir, e))? {
            let name = entry
                .map_err(|e| fail("reading", dir, e))?
                .file_name()
                .to_string_lossy()
                .into_owned();
            if let Some(n) = name
                .strip_prefix(&prefix)
                .and_then(|rest| rest.strip_suffix(".seg"))
                .and_then(|n| n.parse::<u32>().ok())
            {
                last = last.max(n);
            }
        }
        let number = last.max(1);
        let (file, len) = open_for_append(dir, &segment_path(dir, stream, number))?;
        Ok(Segments {
            dir: dir.to_owned(),
            stream,
            current: Mutex::new((number, file, len)),
            faults,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u32, File, u64)> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn path(&self, number: u32) -> PathBuf {
        segment_path(&self.dir, self.stream, number)
    }

    /// Appends `blobs`, each with its SHA-256 (which reads will check), and makes them
    /// durable; their references, in order.
    ///
    /// Nothing is recorded that was not written where it says: the append starts at the
    /// length the file has on disk (after a failed write, whatever part of it reached the
    /// file is cut off, or else lies before the next append), each blob is written at its
    /// offset, and once synced the file's length must be the one the references add up to.
    /// Any failure names nothing; the next append starts again from the disk.
    pub fn append(&self, blobs: &[(&[u8], [u8; 32])]) -> Result<Vec<BlobRef>, StoreError> {
        if blobs.is_empty() {
            return Ok(Vec::new());
        }
        let mut current = self.lock();
        if current.2 >= SEGMENT_BYTES {
            let next = current.0 + 1;
            let (file, len) = open_for_append(&self.dir, &self.path(next))?;
            *current = (next, file, len);
        }
        let (number, file, len) = &mut *current;
        let path = self.path(*number);
        let on_disk = |file: &File| {
            file.metadata()
                .map(|m| m.len())
                .map_err(|e| fail("reading", &path, e))
        };
        let start = on_disk(file)?;
        *len = start;
        let written = (|| {
            let mut refs = Vec::with_capacity(blobs.len());
            let mut at = start;
            let faults = self.faults.as_deref();
            for &(blob, sha256) in blobs {
                io_faults::before(faults, "segment write")
                    .and_then(|()| file.write_all_at(blob, at))
                    .map_err(|e| fail("writing", &path, e))?;
                refs.push(BlobRef {
                    segment: *number,
                    offset: at,
                    len: blob.len() as u64,
                    sha256,
                });
                at += blob.len() as u64;
            }
            io_faults::before(faults, "segment sync")
                .and_then(|()| file.sync_data())
                .map_err(|e| fail("syncing", &path, e))?;
            let end = on_disk(file)?;
            if end != at {
                return Err(StoreError::Unavailable(format!(
                    "{}: {end} bytes on disk after an append that ends at {at}",
                    path.display()
                )));
            }
            Ok((refs, at))
        })();
        match written {
            Ok((refs, end)) => {
                *len = end;
                Ok(refs)
            }
            Err(e) => {
                // What part of the group reached the file is named by nothing: cut it off
                // (if that fails too, the next append starts after it).
                let _ = file.set_len(start).and_then(|()| file.sync_data());
                Err(e)
            }
        }
    }

    /// Deletes the segments numbered below `segment` (never the one appended to): for when
    /// nothing in them is named any more.
    pub fn remove_before(&self, segment: u32) -> Result<(), StoreError> {
        let current = self.lock().0;
        for n in 1..segment.min(current) {
            let path = self.path(n);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(fail("removing", &path, e)),
            }
        }
        Ok(())
    }

    /// Whether the bytes `r` names lie within its segment as it is on disk (`lengths` caches
    /// the segments' lengths); why not, when they do not.
    pub fn holds(
        &self,
        r: &BlobRef,
        lengths: &mut std::collections::HashMap<u32, u64>,
    ) -> Result<(), String> {
        let path = self.path(r.segment);
        let length = match lengths.get(&r.segment) {
            Some(&n) => n,
            None => {
                let n = std::fs::metadata(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?
                    .len();
                lengths.insert(r.segment, n);
                n
            }
        };
        match r.offset.checked_add(r.len) {
            Some(end) if end <= length => Ok(()),
            _ => Err(format!(
                "{} holds {length} bytes; a blob is named at {} for {} bytes",
                path.display(),
                r.offset,
                r.len
            )),
        }
    }

    /// The blob `r` names, checked against its SHA-256.
    pub fn read(&self, r: &BlobRef) -> Result<Vec<u8>, StoreError> {
        let path = self.path(r.segment);
        let file = File::open(&path).map_err(|e| fail("opening", &path, e))?;
        let len = usize::try_from(r.len).map_err(|e| fail("reading", &path, e))?;
        let mut bytes = vec![0u8; len];
        file.read_exact_at(&mut bytes, r.offset)
            .map_err(|e| fail("reading", &path, e))?;
        if digest::digest(&digest::SHA256, &bytes).as_ref() != r.sha256 {
            return Err(StoreError::Corrupt(format!(
                "{} at {}: the bytes are not those stored (SHA-256 differs)",
                path.display(),
                r.offset
            )));
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashed(blobs: &[&'static [u8]]) -> Vec<(&'static [u8], [u8; 32])> {
        blobs
            .iter()
            .map(|b| {
                let mut sha = [0u8; 32];
                sha.copy_from_slice(digest::digest(&digest::SHA256, b).as_ref());
                (*b, sha)
            })
            .collect()
    }

    #[test]
    fn blobs_read_back_across_reopening_and_damage_is_reported() {
        let dir = std::env::temp_dir().join(format!("sealpost-blobs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = {
            let segments = Segments::open(&dir, "documents").expect("open");
            segments
                .append(&hashed(&[b"first letter", b"", b"second letter"]))
                .expect("append")
        };
        assert_eq!(first[1].len, 0);
        assert_eq!(first[2].offset, 12);
        let segments = Segments::open(&dir, "documents").expect("reopen");
        let later = segments
            .append(&hashed(&[b"third letter"]))
            .expect("append");
        assert_eq!((later[0].segment, later[0].offset), (1, 25));
        assert_eq!(segments.read(&first[0]).expect("read"), b"first letter");
        assert_eq!(segments.read(&later[0]).expect("read"), b"third letter");
        assert_eq!(
            BlobRef::decode(&later[0].encode()).expect("decode"),
            later[0]
        );
        assert!(BlobRef::decode(&[0u8; 51]).is_err());

        // Bytes that reached the file without being named (a write that failed half-way,
        // say on a full disk, and could not be cut off) do not shift what comes after them.
        {
            let mut file = OpenOptions::new()
                .append(true)
                .open(dir.join("documents-000001.seg"))
                .expect("segment");
            std::io::Write::write_all(&mut file, b"half a blob").expect("garbage");
        }
        let after = segments
            .append(&hashed(&[b"fourth letter"]))
            .expect("append");
        assert_eq!((after[0].segment, after[0].offset), (1, 25 + 12 + 11));
        assert_eq!(segments.read(&after[0]).expect("read"), b"fourth letter");
        let reopened = Segments::open(&dir, "documents").expect("reopen");
        assert_eq!(reopened.read(&after[0]).expect("read"), b"fourth letter");

        // A byte changed on disk is reported, not served.
        let path = dir.join("documents-000001.seg");
        let mut bytes = std::fs::read(&path).expect("segment");
        bytes[0] ^= 1;
        std::fs::write(&path, bytes).expect("write");
        let err = segments.read(&first[0]).expect_err("damaged");
        assert!(
            matches!(&err, StoreError::Corrupt(d) if d.contains("SHA-256")),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
