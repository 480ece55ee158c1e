//! `greenfetch merge FILE...`: the command around the library's k-way merge
//! ([`greenfetch::merge`]): it opens the files (`-` is stdin), writes the merged records to
//! stdout, and at the end says on stderr how many records it wrote, how many duplicates it
//! dropped and how many indices between 0 and the largest are missing.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

use greenfetch::merge::{Input, MergeError, merge as merge_inputs};

use super::{EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE};

/// `greenfetch merge`.
pub(crate) fn merge(files: Vec<PathBuf>) -> u8 {
    let mut sources = Vec::with_capacity(files.len());
    for f in files {
        let reader: Box<dyn BufRead> = if f.as_os_str() == "-" {
            Box::new(BufReader::with_capacity(64 * 1024, io::stdin()))
        } else {
            match File::open(&f) {
                Ok(file) => Box::new(BufReader::with_capacity(64 * 1024, file)),
                Err(e) => return super::usage_error(format!("{}: {e}", f.display())),
            }
        };
        sources.push(Input::new(f.display().to_string(), reader));
    }
    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout());
    let files = sources.len();
    let result = merge_inputs(sources, &mut out).and_then(|s| {
        out.flush()?;
        Ok(s)
    });
    match result {
        Ok(stats) => {
            eprintln!(
                "greenfetch: merged {} records from {} files; {} duplicates dropped; {} missing",
                stats.written, files, stats.duplicates, stats.missing
            );
            EXIT_OK
        }
        Err(MergeError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => EXIT_OK,
        Err(MergeError::Io(e)) => {
            eprintln!("greenfetch: merge: {e}");
            EXIT_SOME_FAILED
        }
        Err(MergeError::Bad(msg)) => {
            let _ = out.flush();
            eprintln!("greenfetch: merge: {msg}");
            EXIT_USAGE
        }
    }
}
