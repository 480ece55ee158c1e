//! The fixture server (`greenfetch::server`): every endpoint, keep-alive and close, the faults,
//! port 0 and stop. The client is a few lines of HTTP/1.1 over `std::net` on the test thread
//! (a plain thread, so blocking sockets are fine here). Every socket has a read timeout, so a
//! broken server fails a test instead of hanging it.

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use greenfetch::server::{FixtureServer, Server};

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The first `n` bytes of the fixture's body pattern.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| ALPHABET[i % 64]).collect()
}

fn start() -> Server {
    FixtureServer::start("127.0.0.1:0").expect("fixture server starts on port 0")
}

/// A client connection: a buffered reader over a socket with a 10 s read timeout.
struct Client {
    r: BufReader<TcpStream>,
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }
}

impl Client {
    fn new(server: &Server) -> Client {
        let s = TcpStream::connect(server.addr()).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Client {
            r: BufReader::new(s),
        }
    }

    fn stream(&self) -> &TcpStream {
        self.r.get_ref()
    }

    fn send(&mut self, raw: &str) {
        self.r.get_mut().write_all(raw.as_bytes()).expect("send");
    }

    /// Sends a keep-alive GET for `path`.
    fn get(&mut self, path: &str) -> Resp {
        self.send(&format!("GET {path} HTTP/1.1\r\nHost: fixture\r\n\r\n"));
        self.read_response(false).expect("a response")
    }

    /// Reads a status line and headers.
    fn read_head(&mut self) -> io::Result<(u16, Vec<(String, String)>)> {
        let mut line = String::new();
        if self.r.read_line(&mut line)? == 0 {
            return Err(io::Error::new(ErrorKind::UnexpectedEof, "no response"));
        }
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(ErrorKind::InvalidData, line.clone()))?;
        assert!(line.starts_with("HTTP/1.1 "), "status line {line:?}");
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.r.read_line(&mut line)?;
            let l = line.trim_end_matches("\r\n");
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':').expect("a header line");
            headers.push((n.to_owned(), v.trim().to_owned()));
        }
        Ok((status, headers))
    }

    /// Reads one response; its body by Content-Length, chunked coding, or up to EOF.
    fn read_response(&mut self, head_only: bool) -> io::Result<Resp> {
        let (status, headers) = self.read_head()?;
        let mut resp = Resp {
            status,
            headers,
            body: Vec::new(),
        };
        if head_only || status == 204 || status == 304 {
            return Ok(resp);
        }
        if resp.header("transfer-encoding") == Some("chunked") {
            panic!("read_response does not decode chunked bodies");
        }
        match resp.header("content-length") {
            Some(n) => {
                resp.body = vec![0; n.parse().expect("a numeric Content-Length")];
                self.r.read_exact(&mut resp.body)?;
            }
            None => {
                self.r.read_to_end(&mut resp.body)?;
            }
        }
        Ok(resp)
    }

    /// True if the server has closed the connection (EOF within the read timeout).
    fn at_eof(&mut self) -> bool {
        matches!(self.r.read(&mut [0u8; 1]), Ok(0))
    }
}

/// One request on a fresh connection that the client closes after the response.
fn get(server: &Server, path: &str) -> Resp {
    Client::new(server).get(path)
}

#[test]
fn port_zero_binds_a_real_port_and_url_names_it() {
    let server = start();
    let port = server.addr().port();
    assert_ne!(port, 0);
    assert_eq!(server.url("/x"), format!("http://127.0.0.1:{port}/x"));
    assert_eq!(server.url("x"), format!("http://127.0.0.1:{port}/x"));
}

#[test]
fn bytes_gives_n_pattern_bytes() {
    let server = start();
    let mut c = Client::new(&server);
    for n in [0usize, 1, 512, 16 * 1024, 70_000, 1 << 20] {
        let r = c.get(&format!("/bytes/{n}"));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/octet-stream"));
        assert_eq!(r.header("content-length"), Some(n.to_string().as_str()));
        assert!(r.body == pattern(n), "pattern body of {n} bytes");
    }
    assert_eq!(c.get("/bytes/1073741825").status, 400);
    assert_eq!(c.get("/bytes/-1").status, 400);
    assert_eq!(c.get("/bytes/ten").status, 400);
    assert_eq!(server.hits(), 9);
    assert_eq!(server.connections(), 1);
}

#[test]
fn delay_answers_the_tag_after_the_delay_and_parks_only_its_own_connection() {
    let server = start();
    let t0 = Instant::now();
    let r = get(&server, "/delay/50/abc");
    assert!(t0.elapsed() >= Duration::from_millis(50));
    assert_eq!((r.status, r.text()), (200, "abc\n"));
    assert_eq!(r.header("content-type"), Some("text/plain"));

    // A long delay on one connection does not hold up another.
    let mut slow = Client::new(&server);
    slow.send("GET /delay/5000/late HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(get(&server, "/bytes/3").body, b"ABC");
    slow.stream().set_nonblocking(true).unwrap();
    let pending = slow.r.get_mut().read(&mut [0u8; 1]);
    assert_eq!(pending.unwrap_err().kind(), ErrorKind::WouldBlock);

    assert_eq!(get(&server, "/delay/600001/x").status, 400);
    assert_eq!(get(&server, "/delay/0/x/y").status, 404);
}

#[test]
fn status_gives_that_status_and_retry_after() {
    let server = start();
    let mut c = Client::new(&server);
    for code in [200u16, 201, 302, 404, 418, 500, 599] {
        let r = c.get(&format!("/status/{code}"));
        assert_eq!(r.status, code);
        assert_eq!(r.text(), format!("status {code}\n"));
        assert_eq!(r.header("content-type"), Some("text/plain"));
        assert_eq!(r.header("retry-after"), None);
    }
    let r = c.get("/status/429?retry-after=7");
    assert_eq!((r.status, r.header("retry-after")), (429, Some("7")));
    let r = c.get("/status/503?retry-after=0");
    assert_eq!((r.status, r.header("retry-after")), (503, Some("0")));
    let r = c.get("/status/204");
    assert_eq!((r.status, r.header("content-length")), (204, None));
    // Still in step after a body-less response.
    assert_eq!(c.get("/bytes/2").body, b"AB");
    for bad in [
        "/status/99",
        "/status/600",
        "/status/x",
        "/status/503?retry-after=soon",
    ] {
        assert_eq!(c.get(bad).status, 400, "{bad}");
    }
}

#[test]
fn feeds_of_each_format_parse_with_known_titles() {
    let server = start();
    for (kind, ctype) in [
        ("rss", "application/rss+xml"),
        ("atom", "application/atom+xml"),
        ("json", "application/feed+json"),
    ] {
        let r = get(&server, &format!("/feed/{kind}/ab_1-2"));
        assert_eq!(r.status, 200, "{kind}");
        assert_eq!(r.header("content-type"), Some(ctype));
        let feed = feed_rs::parser::parse(&r.body[..]).expect("a valid feed");
        assert_eq!(feed.title.expect("a title").content, "Feed ab_1-2");
        let titles: Vec<String> = feed
            .entries
            .into_iter()
            .map(|e| e.title.expect("an entry title").content)
            .collect();
        assert_eq!(
            titles,
            ["Entry ab_1-2.1", "Entry ab_1-2.2", "Entry ab_1-2.3"]
        );
    }
    assert_eq!(get(&server, "/feed/xml/1").status, 400);
    assert_eq!(get(&server, "/feed/rss/a%3Cb").status, 400);
}

#[test]
fn redirects_count_down_to_zero() {
    let server = start();
    let mut c = Client::new(&server);
    let mut path = "/redirect/3".to_owned();
    let mut hops = 0;
    loop {
        let r = c.get(&path);
        if r.status != 302 {
            assert_eq!((r.status, r.text()), (200, "redirected\n"));
            break;
        }
        path = r.header("location").expect("a Location").to_owned();
        hops += 1;
    }
    assert_eq!((hops, path.as_str()), (3, "/redirect/0"));
    assert_eq!(c.get("/redirect/two").status, 400);
}

#[test]
fn slow_sends_the_head_then_drips_the_body() {
    let server = start();
    let mut c = Client::new(&server);
    c.send("GET /slow/1000/300 HTTP/1.1\r\nHost: x\r\n\r\n");
    let (status, headers) = c.read_head().unwrap();
    let t_head = Instant::now();
    assert_eq!(status, 200);
    assert!(headers.contains(&("Content-Length".into(), "1000".into())));
    let mut body = Vec::new();
    let mut reads = 0;
    let mut buf = [0u8; 4096];
    while body.len() < 1000 {
        let n = c.r.read(&mut buf).unwrap();
        assert_ne!(n, 0, "EOF before the body was complete");
        body.extend_from_slice(&buf[..n]);
        reads += 1;
    }
    assert_eq!(body, pattern(1000));
    assert!(reads > 1, "the body came in one piece");
    assert!(t_head.elapsed() >= Duration::from_millis(200));
    // Keep-alive after a drip.
    assert_eq!(c.get("/bytes/1").body, b"A");
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let server = start();
    let mut c = Client::new(&server);
    assert_eq!(c.get("/bytes/5").body, b"ABCDE");
    let r = c.get("/status/200");
    assert_eq!(r.header("connection"), None);
    assert_eq!(server.connections(), 1);
    assert_eq!(server.hits(), 2);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = start();
    let mut c = Client::new(&server);
    c.send(
        "GET /bytes/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /delay/20/two HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /status/404 HTTP/1.1\r\nHost: x\r\n\r\nGET /bytes/3 HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(c.read_response(false).unwrap().body, b"A");
    assert_eq!(c.read_response(false).unwrap().body, b"two\n");
    assert_eq!(c.read_response(false).unwrap().status, 404);
    assert_eq!(c.read_response(false).unwrap().body, b"ABC");
}

#[test]
fn connection_close_and_http_1_0_close_after_the_response() {
    let server = start();
    let mut c = Client::new(&server);
    c.send("GET /bytes/4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let r = c.read_response(false).unwrap();
    assert_eq!(
        (r.body.as_slice(), r.header("connection")),
        (&b"ABCD"[..], Some("close"))
    );
    assert!(c.at_eof());

    let mut c = Client::new(&server);
    c.send("GET /bytes/4 HTTP/1.0\r\n\r\n");
    let r = c.read_response(false).unwrap();
    assert_eq!(
        (r.body.as_slice(), r.header("connection")),
        (&b"ABCD"[..], Some("close"))
    );
    assert!(c.at_eof());

    // HTTP/1.0 with keep-alive asked for stays open.
    let mut c = Client::new(&server);
    for _ in 0..2 {
        c.send("GET /bytes/2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let r = c.read_response(false).unwrap();
        assert_eq!(r.header("connection"), Some("keep-alive"));
        assert_eq!(r.body, b"AB");
    }
}

#[test]
fn head_has_the_get_head_and_no_body() {
    let server = start();
    let mut c = Client::new(&server);
    c.send("HEAD /bytes/100 HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read_response(true).unwrap();
    assert_eq!((r.status, r.header("content-length")), (200, Some("100")));
    c.send("HEAD /feed/atom/1 HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read_response(true).unwrap();
    assert_eq!(r.header("content-type"), Some("application/atom+xml"));
    // No body bytes were sent: the next response starts right away.
    assert_eq!(c.get("/bytes/2").body, b"AB");
}

#[test]
fn request_bodies_are_read_and_discarded() {
    let server = start();
    let mut c = Client::new(&server);
    let body = "x".repeat(100_000);
    c.send(&format!(
        "POST /status/201 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    assert_eq!(c.read_response(false).unwrap().status, 201);
    // A body and the next request in one write.
    c.send("PUT /bytes/1 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /bytes/2 HTTP/1.1\r\n\r\n");
    assert_eq!(c.read_response(false).unwrap().body, b"A");
    assert_eq!(c.read_response(false).unwrap().body, b"AB");
    // Expect: 100-continue gets its interim response before the body is sent.
    c.send("POST /bytes/1 HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    let (status, _) = c.read_head().unwrap();
    assert_eq!(status, 100);
    c.send("hello");
    assert_eq!(c.read_response(false).unwrap().body, b"A");
}

#[test]
fn garbage_gets_400_and_unknown_paths_404() {
    let server = start();
    let mut c = Client::new(&server);
    c.send("this is not http\r\n\r\n");
    let r = c.read_response(false).unwrap();
    assert_eq!((r.status, r.header("connection")), (400, Some("close")));
    assert!(c.at_eof());

    let mut c = Client::new(&server);
    c.send("GET /bytes/1 HTTP/1.1\r\nContent-Length: lots\r\n\r\n");
    assert_eq!(c.read_response(false).unwrap().status, 400);

    let mut c = Client::new(&server);
    c.send("POST /bytes/1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    assert_eq!(c.read_response(false).unwrap().status, 501);

    for path in [
        "/",
        "/nope",
        "/bytes",
        "/bytes/1/2",
        "/fault/nope",
        "/stats/",
    ] {
        let r = get(&server, path);
        assert_eq!(
            (r.status, r.header("content-type")),
            (404, Some("text/plain")),
            "{path}"
        );
    }
}

#[test]
fn large_heads_are_read_and_huge_ones_get_431() {
    let server = start();
    let mut c = Client::new(&server);
    let cookie = "c".repeat(20_000);
    c.send(&format!(
        "GET /bytes/3 HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n\r\n"
    ));
    assert_eq!(c.read_response(false).unwrap().body, b"ABC");
    let cookie = "c".repeat(70_000);
    c.send(&format!(
        "GET /bytes/3 HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n\r\n"
    ));
    let r = c.read_response(false).unwrap();
    assert_eq!((r.status, r.header("connection")), (431, Some("close")));
}

#[test]
fn fault_reset_resets_without_a_response() {
    let server = start();
    let mut c = Client::new(&server);
    c.send("GET /fault/reset HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut got = Vec::new();
    match c.r.read_to_end(&mut got) {
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
        Ok(_) => assert!(got.is_empty(), "a response after a reset: {got:?}"),
    }
}

#[test]
fn fault_truncate_sends_fewer_bytes_than_promised() {
    let server = start();
    let mut c = Client::new(&server);
    c.send("GET /fault/truncate HTTP/1.1\r\nHost: x\r\n\r\n");
    let (status, headers) = c.read_head().unwrap();
    assert_eq!(status, 200);
    assert!(headers.contains(&("Content-Length".into(), "1000".into())));
    let mut body = Vec::new();
    c.r.read_to_end(&mut body).unwrap();
    assert_eq!(body, pattern(100));
}

#[test]
fn fault_loop_redirects_to_itself() {
    let server = start();
    let mut c = Client::new(&server);
    for _ in 0..3 {
        let r = c.get("/fault/loop");
        assert_eq!((r.status, r.header("location")), (302, Some("/fault/loop")));
    }
}

#[test]
fn fault_hang_never_answers_until_the_server_stops() {
    let server = start();
    let mut c = Client::new(&server);
    c.send("GET /fault/hang HTTP/1.1\r\nHost: x\r\n\r\n");
    // The one place where a timeout is the assertion: nothing arrives.
    c.stream()
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let e = c.r.read(&mut [0u8; 1]).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{e}"
    );
    // Other connections are served meanwhile.
    assert_eq!(get(&server, "/bytes/1").body, b"A");
    c.stream()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    server.stop();
    assert!(c.at_eof(), "stop ends a hanging connection");
}

#[test]
fn fault_hang_ends_when_the_client_closes() {
    let server = start();
    let c = Client::new(&server);
    c.stream()
        .write_all(b"GET /fault/hang HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    wait_for(|| server.hits() == 1);
    c.stream().shutdown(Shutdown::Both).unwrap();
    drop(c);
    wait_for(|| server.open_connections() == 0);
}

/// Polls `cond` for up to 10 s (a bound against hangs, not a timing assertion).
fn wait_for(cond: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "condition never held"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn fault_endless_streams_chunks_until_the_client_goes_away() {
    let server = start();
    let mut c = Client::new(&server);
    c.send("GET /fault/endless HTTP/1.1\r\nHost: x\r\n\r\n");
    let (status, headers) = c.read_head().unwrap();
    assert_eq!(status, 200);
    assert!(headers.contains(&("Transfer-Encoding".into(), "chunked".into())));
    assert!(!headers.iter().any(|(n, _)| n == "Content-Length"));
    // Decode chunks until more than 1 MB of data has come.
    let mut data = 0usize;
    let mut line = String::new();
    while data <= 1 << 20 {
        line.clear();
        c.r.read_line(&mut line).unwrap();
        let size = usize::from_str_radix(line.trim_end(), 16).expect("a chunk size");
        assert_ne!(size, 0, "the endless body ended");
        let mut chunk = vec![0; size + 2];
        c.r.read_exact(&mut chunk).unwrap();
        assert_eq!(&chunk[size..], b"\r\n");
        assert_eq!(&chunk[..64], ALPHABET);
        data += size;
    }
    drop(c);
    // The write error ends the server's side.
    wait_for(|| server.open_connections() == 0);
}

#[test]
fn fault_endless_over_http_1_0_is_close_delimited() {
    let server = start();
    let mut c = Client::new(&server);
    c.send("GET /fault/endless HTTP/1.0\r\n\r\n");
    let (status, headers) = c.read_head().unwrap();
    assert_eq!(status, 200);
    assert!(!headers.iter().any(|(n, _)| n == "Transfer-Encoding"));
    let mut buf = vec![0; 200_000];
    c.r.read_exact(&mut buf).unwrap();
    assert!(buf == pattern(200_000));
}

#[test]
fn stats_counts_hits_and_connections() {
    let server = start();
    get(&server, "/bytes/1");
    let mut c = Client::new(&server);
    c.get("/status/500");
    let r = c.get("/stats");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON");
    assert_eq!(v["hits"], 3);
    assert_eq!(v["connections"], 2);
    assert!(v["open_connections"] == 1 || v["open_connections"] == 2);
    assert_eq!((server.hits(), server.connections()), (3, 2));
}

#[test]
fn stop_closes_the_listener() {
    let server = start();
    let addr = server.addr();
    assert_eq!(get(&server, "/bytes/1").status, 200);
    server.stop();
    let e = TcpStream::connect(addr).expect_err("connect after stop");
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn dropping_the_handle_stops_the_server() {
    let addr = start().addr();
    let e = TcpStream::connect(addr).expect_err("connect after drop");
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn stop_lets_an_in_flight_request_finish_then_closes() {
    let server = start();
    let mut stopper = Client::new(&server);
    stopper.send("GET /delay/100/x HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_for(|| server.hits() == 1);
    server.stop();
    // The in-flight request is answered, with a close.
    let r = stopper.read_response(false).unwrap();
    assert_eq!(
        (r.body.as_slice(), r.header("connection")),
        (&b"x\n"[..], Some("close"))
    );
    assert!(stopper.at_eof());
}

#[test]
fn a_second_server_on_the_same_port_fails_to_bind() {
    let server = start();
    let e = FixtureServer::start(&server.addr().to_string()).expect_err("second bind");
    assert_eq!(e.kind(), ErrorKind::AddrInUse);
    assert_eq!(get(&server, "/bytes/1").status, 200);
}

#[test]
fn many_concurrent_delays_all_complete() {
    let server = start();
    let mut clients: Vec<Client> = (0..200).map(|_| Client::new(&server)).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(&format!("GET /delay/100/{i} HTTP/1.1\r\nHost: x\r\n\r\n"));
    }
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(c.read_response(false).unwrap().text(), format!("{i}\n"));
    }
    assert_eq!(server.connections(), 200);
}
