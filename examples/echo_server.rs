//! eventlet's `examples/echoserver.py`: a line echo server, one green thread per client.
//!
//! ```text
//! cargo run --example echo_server -- [PORT] [--max-clients N]
//! ```
//!
//! Listens on 127.0.0.1:PORT (default 0: the OS picks a free port) and prints the bound address
//! on stdout first. Each accepted client is handed to `spawn_n` on a `GreenPool` of 10,000; its
//! green thread reads lines (each read parks only that green thread) and writes them back
//! until the client closes. With `--max-clients N` the server stops accepting after N clients,
//! waits for them to leave, and exits. Try it with `nc 127.0.0.1 PORT`.

use std::io::{self, BufRead, BufReader, Write};
use std::process::ExitCode;

use greenfetch::{GreenPool, listen};
use may::net::{TcpListener, TcpStream};

const USAGE: &str = "usage: echo_server [PORT] [--max-clients N]";

struct Args {
    port: u16,
    max_clients: Option<u64>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        port: 0,
        max_clients: None,
    };
    while let Some(arg) = args.next() {
        if arg == "--max-clients" {
            let n = args.next().ok_or("--max-clients needs a number")?;
            parsed.max_clients = Some(n.parse().map_err(|_| format!("bad client count {n:?}"))?);
        } else {
            parsed.port = arg.parse().map_err(|_| format!("bad port {arg:?}"))?;
        }
    }
    Ok(parsed)
}

/// Echoes every line back until the client closes (or the connection fails).
fn handle(stream: TcpStream) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if reader.get_mut().write_all(&line).is_err() {
                    return;
                }
            }
        }
    }
}

/// eventlet's accept loop: every client gets a green thread from the pool.
fn accept_loop(server: TcpListener, max_clients: Option<u64>) -> io::Result<u64> {
    let pool = GreenPool::new(10_000);
    let mut accepted = 0;
    while max_clients.is_none_or(|max| accepted < max) {
        let (stream, _peer) = server.accept()?;
        accepted += 1;
        pool.spawn_n(move || handle(stream));
    }
    drop(server); // stop listening; the clients being served go on
    pool.waitall().map_err(io::Error::other)?;
    Ok(accepted)
}

fn run(args: Args) -> io::Result<()> {
    let server = listen(("127.0.0.1", args.port))?;
    println!("echo server listening on {}", server.local_addr()?);
    io::stdout().flush()?;

    // The main thread only waits: all socket I/O runs in green threads.
    let served = greenfetch::spawn(move || accept_loop(server, args.max_clients))
        .wait()
        .map_err(io::Error::other)??;
    println!("served {served} clients");
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("echo_server: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_server: {e}");
            ExitCode::FAILURE
        }
    }
}
