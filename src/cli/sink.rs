//! Where outputs go, record by record, so that nothing is ever half out while counted as done:
//! stdout (a record is written whole or, when stdout is a file, cut back off it), and the
//! files of `-o DIR` (written under a temporary name and renamed into place when complete).
//!
//! A write that fails (a full disk, an I/O error) is an [`io::Error`] whose message names the
//! input and the file; the job runner stops on it, so the journal, appended only after a record
//! is out, names exactly the inputs whose output is complete. `--fsync` adds a sync of the
//! data (and, for `-o DIR`, of the directory) before a record counts as out: the output then
//! survives the machine crashing, not just the process dying.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// stdout, written one whole record at a time.
pub(crate) struct Stdout {
    out: io::Stdout,
    /// stdout is a regular file: a failed record is cut back off it, and `--fsync` syncs it.
    file: bool,
    /// Where the last complete record ended in that file.
    good_end: Option<u64>,
    fsync: bool,
}

impl Stdout {
    pub(crate) fn new(fsync: bool) -> Self {
        let out = io::stdout();
        let file = is_regular_file(&out);
        let good_end = if file { end_of_file(&out) } else { None };
        Stdout {
            out,
            file,
            good_end,
            fsync,
        }
    }

    /// Writes one record made of `parts`, whole. On failure, when stdout is a file, what
    /// reached it of this record is cut off again, so the file ends with the last complete
    /// record; the error says which input (`who`) could not be written.
    pub(crate) fn record(&mut self, who: &str, parts: &[&[u8]]) -> io::Result<()> {
        let written = parts.iter().try_for_each(|p| write_all(&self.out, p));
        let synced = written.and_then(|()| {
            if self.fsync && self.file {
                sync_data(&self.out)
            } else {
                Ok(())
            }
        });
        match synced {
            Ok(()) => {
                if self.file {
                    self.good_end = position(&self.out);
                }
                Ok(())
            }
            Err(e) => {
                if self.file {
                    self.cut_back();
                }
                let kind = e.kind();
                if kind == io::ErrorKind::BrokenPipe {
                    return Err(e); // the reader is done (`| head`): not worth a word
                }
                Err(io::Error::new(kind, format!("{who}: writing stdout: {e}")))
            }
        }
    }

    /// Truncates the output file to the end of the last complete record.
    fn cut_back(&self) {
        #[cfg(unix)]
        {
            if let Some(end) = self.good_end {
                let _ = rustix::fs::ftruncate(&self.out, end);
            }
        }
    }
}

/// Writes all of `bytes` to stdout's descriptor itself: std's line buffer in front of it could
/// keep part of a failed record and write it out later, after the record was cut off.
#[cfg(unix)]
fn write_all(out: &io::Stdout, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match rustix::io::write(out, bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn write_all(out: &io::Stdout, bytes: &[u8]) -> io::Result<()> {
    let mut lock = out.lock();
    lock.write_all(bytes)?;
    lock.flush()
}

#[cfg(unix)]
fn is_regular_file(out: &io::Stdout) -> bool {
    rustix::fs::fstat(out).is_ok_and(|st| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile
    })
}

#[cfg(not(unix))]
fn is_regular_file(_: &io::Stdout) -> bool {
    false
}

/// The offset writes go to now (for a file opened to append, its end after a write).
#[cfg(unix)]
fn position(out: &io::Stdout) -> Option<u64> {
    rustix::fs::seek(out, rustix::fs::SeekFrom::Current(0)).ok()
}

#[cfg(not(unix))]
fn position(_: &io::Stdout) -> Option<u64> {
    None
}

/// Where the first record will land: the current offset, or the end for a file opened to
/// append (`>>`), whose offset is not moved until the first write.
#[cfg(unix)]
fn end_of_file(out: &io::Stdout) -> Option<u64> {
    let append = rustix::fs::fcntl_getfl(out).is_ok_and(|f| f.contains(rustix::fs::OFlags::APPEND));
    if append {
        rustix::fs::fstat(out).ok().map(|st| st.st_size as u64)
    } else {
        position(out)
    }
}

#[cfg(not(unix))]
fn end_of_file(_: &io::Stdout) -> Option<u64> {
    None
}

#[cfg(unix)]
fn sync_data(out: &io::Stdout) -> io::Result<()> {
    rustix::fs::fdatasync(out).map_err(io::Error::from)
}

#[cfg(not(unix))]
fn sync_data(_: &io::Stdout) -> io::Result<()> {
    Ok(())
}

/// Writes `body` to `dir/name` as a whole or not at all: into `dir/.name.part` first, renamed
/// into place when complete (a SIGKILL at any moment leaves no partial body under the final
/// name; a rerun writes the same temporary name again). With `fsync`, the file is synced before
/// the rename and the directory after it. On failure the temporary file is removed and the
/// error says which input (`who`) and file.
pub(crate) fn write_file(
    dir: &Path,
    name: &str,
    body: &[u8],
    fsync: bool,
    who: &str,
) -> io::Result<PathBuf> {
    let path = dir.join(name);
    let part = part_path(dir, name);
    let attempt = (|| -> io::Result<()> {
        let mut f = File::create(&part)?;
        f.write_all(body)?;
        if fsync {
            f.sync_all()?;
        }
        drop(f);
        fs::rename(&part, &path)?;
        if fsync {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    match attempt {
        Ok(()) => Ok(path),
        Err(e) => {
            let _ = fs::remove_file(&part);
            Err(io::Error::new(
                e.kind(),
                format!("{who}: writing {}: {e}", path.display()),
            ))
        }
    }
}

/// The temporary name of `dir/name` while it is written.
pub(crate) fn part_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}.part"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_renamed_into_place_and_a_failure_leaves_nothing() {
        let dir = std::env::temp_dir().join(format!("gf-sink-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = write_file(&dir, "000001-x", b"body", true, "#1 u").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"body");
        assert!(!part_path(&dir, "000001-x").exists());
        // A directory where the file should go: the rename fails, nothing is left behind.
        fs::create_dir_all(dir.join("000002-y").join("inside")).unwrap();
        let e = write_file(&dir, "000002-y", b"body", false, "#2 v").unwrap_err();
        assert!(e.to_string().starts_with("#2 v: writing "), "{e}");
        assert!(!part_path(&dir, "000002-y").exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
