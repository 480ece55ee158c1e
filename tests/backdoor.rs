//! The backdoor console and server, ported from eventlet's
//! `eventlet/eventlet: tests/backdoor_test.py` (MIT licence, commit c8f903a), acceptance case 59
//! of the semantics spec. eventlet's console is a Python REPL (`print("hi")` echoes `hi`); here
//! the line is a command name, so the tests register a `hi` command that prints `hi`.
//!
//! The servers run in green threads on may's sockets; the clients are std sockets on the test
//! thread (see tests/convenience.rs for why not `greenfetch::connect`).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use greenfetch::{Commands, GreenThread, backdoor, backdoor_server, listen, spawn};

/// A client connection whose reads fail after a minute instead of hanging a broken test.
fn connect(addr: std::net::SocketAddr) -> io::Result<TcpStream> {
    let c = TcpStream::connect(addr)?;
    c.set_read_timeout(Some(Duration::from_secs(60)))?;
    Ok(c)
}

fn commands() -> Commands {
    Commands::new().command("hi", "print hi", |_| "hi".to_owned())
}

/// A client's view of a console: line reads, prompt reads, line writes.
struct Client<S: Read + Write>(BufReader<S>);

impl<S: Read + Write> Client<S> {
    fn new(stream: S) -> Self {
        Client(BufReader::new(stream))
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.0.read_line(&mut line).expect("read a line");
        line
    }

    fn prompt(&mut self) {
        let mut p = [0; 4];
        self.0.read_exact(&mut p).expect("read the prompt");
        assert_eq!(&p, b">>> ");
    }

    fn send(&mut self, text: &str) {
        self.0.get_mut().write_all(text.as_bytes()).expect("write");
    }

    /// Sends `command` and returns everything up to the next prompt.
    fn run(&mut self, command: &str) -> String {
        self.send(&format!("{command}\n"));
        let mut out = Vec::new();
        while !out.ends_with(b">>> ") {
            let mut b = [0; 1];
            self.0.read_exact(&mut b).expect("read up to the prompt");
            out.push(b[0]);
        }
        out.truncate(out.len() - 4);
        String::from_utf8(out).expect("UTF-8 output")
    }

    /// Reads until the console closes.
    fn rest(mut self) -> String {
        let mut out = String::new();
        self.0.read_to_string(&mut out).expect("read to EOF");
        out
    }
}

/// eventlet's `_run_test_on_client_and_server`: banner, prompt, a command's output, a new
/// prompt; then the client leaves.
fn interact<S: Read + Write>(client: S) {
    let mut c = Client::new(client);
    let banner = c.line();
    assert!(banner.starts_with("greenfetch "), "banner: {banner:?}");
    assert!(banner.contains("backdoor") && banner.contains("help"));
    c.prompt();
    c.send("hi\n");
    assert_eq!(c.line(), "hi\n");
    c.prompt();
}

/// `interact`, then the server is killed, as eventlet's test does.
fn run_test_on_client_and_server<S: Read + Write>(client: S, server: GreenThread<io::Result<()>>) {
    interact(client);
    server.kill();
}

fn tcp_server(addr: &str) -> io::Result<(GreenThread<io::Result<()>>, std::net::SocketAddr)> {
    let l = listen(addr)?;
    let addr = l.local_addr()?;
    Ok((spawn(move || backdoor_server(l, commands())), addr))
}

// eventlet tests/backdoor_test.py:14 test_server
#[test]
fn server() {
    let (server, addr) = tcp_server("127.0.0.1:0").unwrap();
    run_test_on_client_and_server(connect(addr).unwrap(), server);
}

// eventlet tests/backdoor_test.py:43 test_server_on_ipv6_socket
#[test]
fn server_on_ipv6_socket() {
    let Ok((server, addr)) = tcp_server("[::1]:0") else {
        eprintln!("skipped: cannot bind [::1]:0 (no IPv6 loopback here)");
        return;
    };
    run_test_on_client_and_server(connect(addr).unwrap(), server);
}

// eventlet tests/backdoor_test.py:52 test_server_on_unix_socket
// backdoor_server takes a TCP listener; on a Unix socket the accept is the caller's and the
// connection runs `backdoor()`, which takes any stream. Here both ends are std sockets on plain
// threads: may 0.3.51's Unix sockets close their fd before leaving epoll, so dropping one can
// unregister a socket that another thread has just opened under the same fd number.
#[test]
fn server_on_unix_socket() {
    use std::os::unix::net::{UnixListener, UnixStream};
    let path = std::env::temp_dir().join(format!(
        "greenfetch-backdoor-test-{}.socket",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let server = std::thread::spawn(move || -> io::Result<()> {
        let (stream, _) = listener.accept()?;
        backdoor(stream, &commands())
    });
    let client = UnixStream::connect(&path).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    interact(client);
    // The client left: the console saw end of input and returned Ok.
    server.join().unwrap().unwrap();
    let _ = std::fs::remove_file(&path);
}

// eventlet tests/backdoor_test.py:64 test_quick_client_disconnect
#[test]
fn quick_client_disconnect() {
    let (server, addr) = tcp_server("127.0.0.1:0").unwrap();
    drop(connect(addr).unwrap());
    // Can still reconnect: the server is running.
    drop(connect(addr).unwrap());
    // And it still serves a whole console.
    run_test_on_client_and_server(connect(addr).unwrap(), server);
}

// Not in eventlet: help, an unknown command, an argument, CRLF, a blank line, quit.
#[test]
fn console_protocol() {
    let (server, addr) = tcp_server("127.0.0.1:0").unwrap();
    let commands_help = {
        let mut c = Client::new(connect(addr).unwrap());
        c.line();
        c.prompt();
        let help = c.run("help");
        assert_eq!(c.run("hi\r"), "hi\n");
        assert_eq!(c.run(""), "");
        assert_eq!(
            c.run("bogus 1 2"),
            "unknown command \"bogus\"; type help for the list\n"
        );
        c.send("quit\n");
        assert_eq!(c.rest(), "", "the console closes after quit");
        help
    };
    assert_eq!(
        commands_help,
        "help  list the commands\nquit  close this console\nexit  close this console\n\
         hi    print hi\n"
    );
    server.kill();
}

// Not in eventlet: all consoles share one set of commands (eventlet's shared `locals`), and
// each console runs in its own green thread (two are open at once).
#[test]
fn consoles_share_commands() {
    let count = Arc::new(AtomicU64::new(0));
    let c2 = count.clone();
    let commands = Commands::new().command("bump", "add one", move |_| {
        (c2.fetch_add(1, Ordering::SeqCst) + 1).to_string()
    });
    let l = listen("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = spawn(move || backdoor_server(l, commands));
    let (mut a, mut b) = (
        Client::new(connect(addr).unwrap()),
        Client::new(connect(addr).unwrap()),
    );
    for c in [&mut a, &mut b] {
        c.line();
        c.prompt();
    }
    assert_eq!(a.run("bump"), "1\n");
    assert_eq!(b.run("bump"), "2\n");
    assert_eq!(a.run("bump"), "3\n");
    server.kill();
}

// Not in eventlet: the backdoor refuses to listen beyond loopback.
#[test]
fn refuses_non_loopback_listener() {
    let l = listen("0.0.0.0:0").unwrap();
    let err = backdoor_server(l, Commands::new()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}
