//! Replays every input kept in `fuzz/regressions/<target>/` through the same checks the fuzz
//! targets run (`fuzz/checks.rs`), so a bug the fuzzers found stays fixed. The fuzzers
//! themselves run outside CI (`fuzz/README.md`).

use crate::fuzz_checks::{
    check_cookies, check_decode, check_merge, check_parse_line, check_proxy_answer, check_robots,
    check_serve_request, check_title,
};

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
    // Kept inputs: lines that the checks once needed to see (not fuzzer finds; see
    // fuzz/README.md).
    assert!(replay("parse_line", check_parse_line) >= 4);
}

#[test]
fn serve_request_regressions() {
    replay("serve_request", check_serve_request);
    // The check itself on a few requests, so it runs in CI even before a regression exists.
    for input in [
        &b"POST /titles HTTP/1.1\r\nHost: localhost\r\nContent-Length: 25\r\n\r\nhttp://10.0.0.1/\nnot a url\n"[..],
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /nope HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: evil.test:8080\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00",
        b"POST /titles HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"",
    ] {
        check_serve_request(input);
    }
}

#[test]
fn proxy_answer_regressions() {
    replay("proxy_answer", check_proxy_answer);
    // The check itself on answers of every kind, so it runs in CI before a regression exists.
    for input in [
        &b"\x00HTTP/1.1 200 Connection established\r\n\r\n\x16\x03"[..],
        b"\x00HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
        b"\x00HTTP/1.1 200",
        b"\x01\x05\x00\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x50",
        b"\x02\x05\x02\x01\x00\x05\x00\x00\x03\x02ab\x00\x50",
        b"\x03\x05\x00\x05\x05",
        b"\x04\x00\x5a\x00\x00\x00\x00\x00\x00",
        b"\x05\x00\x5b",
    ] {
        check_proxy_answer(input);
    }
}

#[test]
fn robots_regressions() {
    replay("robots", check_robots);
    for input in [
        &b"private/x\nUser-agent: *\nDisallow: /private\n"[..],
        b"a%2Fb\nUser-agent: greenfetch\nAllow: /a\nDisallow: /\n",
        b"\nUser-agent: *\nDisallow: /*$\n",
        b"x\n\xff\xfe\x00garbage",
    ] {
        check_robots(input);
    }
}

#[test]
fn decode_regressions() {
    replay("decode", check_decode);
    // The check itself on a few inputs, so it runs in CI even before a regression exists:
    // every coding and pair, bodies and round trips, whole and dripped.
    for pick in 0..=255u8 {
        check_decode(&[pick]);
        check_decode(&[pick, 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 3]);
        let mut text = vec![pick];
        text.extend_from_slice(b"a text that goes there and back again, again and again");
        check_decode(&text);
    }
}

#[test]
fn cookies_regressions() {
    replay("cookies", check_cookies);
    for input in [
        &b"# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\ta\tb\n\0c=d; Path=/a"[..],
        b"#HttpOnly_.127.0.0.1\tTRUE\t/a\tTRUE\t99999999999\tx\ty\n",
        b"Set-Cookie: s=1; Max-Age=60\n\0t=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT\nbad",
        b"\t\t\t\t\t\t\n\0=; ;;\n\xff\xfe",
    ] {
        check_cookies(input);
    }
}

#[test]
fn merge_regressions() {
    replay("merge", check_merge);
    for input in [
        &b"{\"index\":0}\n{\"index\":2}\n\0{\"index\":1}\n{\"index\":2,\"d\":1}\n"[..],
        b"{\"index\":3}\r\n\n  \n\0\0{\"index\":18446744073709551615}",
        b"{\"index\":2}\n{\"index\":1}\n",
        b"{\"index\":-1}\n\0{\"url\":1}",
        b"\xff\xfe{\"index\":0}",
        b"",
    ] {
        check_merge(input);
    }
}
