//! Replays every input kept in `fuzz/regressions/<target>/` through the same checks the fuzz
//! targets run (`fuzz/checks.rs`), so a bug the fuzzers found stays fixed. The fuzzers
//! themselves run outside CI (`fuzz/README.md`).

use crate::fuzz_checks::{check_parse_line, check_title};

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = format!("{}/fuzz/regressions/{target}", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0; // no input of this target has found a bug yet
    };
    for entry in entries {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let r = std::panic::catch_unwind(|| check(&data));
        assert!(r.is_ok(), "{} fails its check again", path.display());
        n += 1;
    }
    n
}

#[test]
fn title_regressions() {
    assert!(replay("title", check_title) >= 1);
}

#[test]
fn parse_line_regressions() {
    replay("parse_line", check_parse_line);
}
