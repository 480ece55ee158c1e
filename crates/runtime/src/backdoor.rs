//! [`backdoor_server`]: a line console of named [`Commands`] for looking inside a running
//! process over TCP.
//!
//! A client (`nc 127.0.0.1 PORT`) gets a banner line and the prompt `>>> `; each line it sends is
//! a command name and an optional argument, answered by the command's output and a new prompt.
//! `help` lists the commands, `quit` or `exit` (or end of input) closes the console. Every
//! connection gets its own console in its own green thread, and all of them share the same
//! commands.
//!
//! **Bind it to loopback only**: anyone who can connect can run every command.
//! [`backdoor_server`] refuses a listener whose address is not a loopback address.
//!
//! # Examples
//!
//! ```
//! use std::io::{Read, Write};
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//! use greenfetch_runtime::{backdoor_server, connect, listen, Commands};
//!
//! # fn main() -> std::io::Result<()> {
//! let hits = Arc::new(AtomicU64::new(41));
//! let h = hits.clone();
//! let commands = Commands::new()
//!     .command("hits", "how many hits so far", move |_| h.load(Ordering::SeqCst).to_string())
//!     .command("echo", "repeat the argument", |arg| arg.to_owned());
//!
//! let listener = listen("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! let server = greenfetch_runtime::spawn(move || backdoor_server(listener, commands));
//!
//! // A client, in a green thread (where may's sockets belong).
//! let transcript = greenfetch_runtime::spawn(move || -> std::io::Result<String> {
//!     let mut console = connect(addr)?;
//!     console.write_all(b"hits\necho hello\r\nquit\n")?;
//!     let mut transcript = String::new();
//!     console.read_to_string(&mut transcript)?; // the console closes after `quit`
//!     Ok(transcript)
//! });
//! let transcript = transcript.wait().unwrap()?;
//! assert!(transcript.starts_with("greenfetch "));
//! assert!(transcript.contains(">>> 41\n>>> hello\n>>> "));
//!
//! server.kill(); // backdoor_server only returns on an accept error
//! # Ok(())
//! # }
//! ```
//!
//! eventlet: `eventlet.backdoor`. eventlet's console is a Python REPL over the socket with a
//! shared `locals` dict; Rust has no REPL to embed, so greenfetch keeps the wire protocol (banner,
//! `>>> `, line in, output out, one console per connection, a server that keeps accepting) and
//! replaces `locals` with [`Commands`], a registry of named functions. [`backdoor()`] runs a
//! console in the caller until it ends, where eventlet's schedules a green thread and returns
//! (wrap it in [`spawn_n`](crate::spawn_n) for that). Nothing is printed to stdout: callers
//! print the address themselves.
//!
//! Layer: networking (uses [`greenthread`], [`convenience`](crate::convenience) and `may::net`).

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::IpAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use may::net::TcpListener;

use crate::convenience::in_green_thread;
use crate::greenthread::{self, panic_message};

/// The prompt written before each command line is read.
///
/// ```
/// assert_eq!(greenfetch_runtime::backdoor::PROMPT, ">>> ");
/// ```
pub const PROMPT: &str = ">>> ";

/// The longest command line accepted, in bytes; a longer one is discarded with a message.
///
/// ```
/// assert_eq!(greenfetch_runtime::backdoor::MAX_LINE, 64 * 1024);
/// ```
pub const MAX_LINE: usize = 64 * 1024;

const BUILTINS: [(&str, &str); 3] = [
    ("help", "list the commands"),
    ("quit", "close this console"),
    ("exit", "close this console"),
];

type CommandFn = Arc<dyn Fn(&str) -> String + Send + Sync + 'static>;

#[derive(Clone)]
struct Command {
    description: String,
    run: CommandFn,
}

/// The named commands a backdoor console offers (eventlet's `locals`), shared by all consoles.
///
/// Each command is a function of the rest of the line (its argument, trimmed; empty if none)
/// that returns the text to print. `help`, `quit` and `exit` are built in.
///
/// ```
/// use greenfetch_runtime::Commands;
///
/// let commands = Commands::new()
///     .command("add", "add two numbers: add 2 3", |args| {
///         let sum: i64 = args.split_whitespace().filter_map(|n| n.parse::<i64>().ok()).sum();
///         sum.to_string()
///     });
/// assert_eq!(commands.call("add", "2 3").as_deref(), Some("5"));
/// assert_eq!(commands.call("nope", ""), None);
/// ```
#[derive(Clone, Default)]
pub struct Commands {
    map: BTreeMap<String, Command>,
}

impl fmt::Debug for Commands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.map.keys()).finish()
    }
}

impl Commands {
    /// No commands yet (only the built-in `help`, `quit` and `exit`).
    ///
    /// ```
    /// assert_eq!(format!("{:?}", greenfetch_runtime::Commands::new()), "{}");
    /// ```
    pub fn new() -> Self {
        Commands::default()
    }

    /// Adds (or replaces) the command `name`, described by a one-line `description` in `help`.
    ///
    /// `run` gets the argument: the rest of the line after the name, trimmed. It runs in the
    /// console's green thread, so it must not block the OS thread; a panic is reported to the
    /// client and the console goes on.
    ///
    /// # Panics
    ///
    /// If `name` is empty, contains whitespace, or is one of the built-ins `help`, `quit` and
    /// `exit`: these are programming errors.
    ///
    /// ```
    /// let commands = greenfetch_runtime::Commands::new().command("ping", "answer pong", |_| "pong".into());
    /// assert_eq!(commands.call("ping", "").as_deref(), Some("pong"));
    /// ```
    #[must_use]
    pub fn command<F>(mut self, name: &str, description: &str, run: F) -> Self
    where
        F: Fn(&str) -> String + Send + Sync + 'static,
    {
        assert!(
            !name.is_empty() && !name.contains(char::is_whitespace),
            "backdoor command names must be one word, not {name:?}"
        );
        assert!(
            BUILTINS.iter().all(|(b, _)| *b != name),
            "{name:?} is a built-in backdoor command"
        );
        self.map.insert(
            name.to_owned(),
            Command {
                description: description.to_owned(),
                run: Arc::new(run),
            },
        );
        self
    }

    /// Runs the command `name` with argument `args`, as a console would: `None` if there is no
    /// such command (built-ins included: they only exist in a console).
    ///
    /// ```
    /// let commands = greenfetch_runtime::Commands::new().command("twice", "say it twice", |a| a.repeat(2));
    /// assert_eq!(commands.call("twice", "ab"), Some("abab".to_owned()));
    /// ```
    pub fn call(&self, name: &str, args: &str) -> Option<String> {
        self.map.get(name).map(|c| (c.run)(args))
    }

    /// The text `help` prints: one line per command, built-ins first, names aligned.
    fn help(&self) -> String {
        let lines: Vec<(&str, &str)> = BUILTINS
            .iter()
            .copied()
            .chain(
                self.map
                    .iter()
                    .map(|(n, c)| (n.as_str(), c.description.as_str())),
            )
            .collect();
        let width = lines.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (name, description) in lines {
            out.push_str(&format!("{name:width$}  {description}\n"));
        }
        out
    }

    /// The reply to one input line, or `None` to close the console.
    fn reply(&self, line: &str) -> Option<String> {
        let line = line.trim();
        let (name, args) = match line.split_once(char::is_whitespace) {
            Some((n, a)) => (n, a.trim()),
            None => (line, ""),
        };
        let out = match name {
            "" => String::new(),
            "quit" | "exit" => return None,
            "help" => self.help(),
            _ => match self.map.get(name) {
                None => format!("unknown command {name:?}; type help for the list\n"),
                Some(c) => match catch_unwind(AssertUnwindSafe(|| (c.run)(args))) {
                    Ok(out) => out,
                    Err(p) => format!("command {name:?} panicked: {}\n", panic_message(&*p)),
                },
            },
        };
        Some(out)
    }
}

/// The banner line a console starts with.
fn banner() -> String {
    format!(
        "greenfetch {} backdoor; type help for the commands, quit to leave\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// Runs one console on `stream` until the client sends `quit`/`exit` or closes its end.
///
/// Writes the banner and the prompt, then answers each line (LF or CRLF ended). Returns
/// `Ok(())` when the console ends normally and the I/O error otherwise (a client that vanished
/// shows up as `BrokenPipe` or `ConnectionReset`). Any `Read + Write` stream works: a may
/// `TcpStream` in a green thread, or a std stream on a plain thread (prefer std's Unix sockets
/// to may 0.3.51's, see [`convenience`](crate::convenience)).
///
/// eventlet: `backdoor((conn, addr), locals)`, which schedules the console and returns; this
/// runs it in the caller (use `spawn_n(move || backdoor(stream, &commands))` for eventlet's).
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
/// use greenfetch_runtime::{backdoor, Commands};
///
/// // On a plain thread, where blocking is fine, any std stream can carry a console.
/// let (mut client, server) = UnixStream::pair()?;
/// let commands = Commands::new().command("hi", "greet", |_| "hello".into());
/// let console = std::thread::spawn(move || backdoor(server, &commands));
///
/// client.write_all(b"hi\n")?;
/// client.shutdown(std::net::Shutdown::Write)?; // end of input closes the console
/// let mut transcript = String::new();
/// client.read_to_string(&mut transcript)?;
/// assert!(transcript.ends_with(">>> hello\n>>> "));
/// console.join().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn backdoor<S: Read + Write>(stream: S, commands: &Commands) -> io::Result<()> {
    let mut reader = BufReader::new(stream);
    reader
        .get_mut()
        .write_all(format!("{}{PROMPT}", banner()).as_bytes())?;
    let mut line = Vec::new();
    loop {
        line.clear();
        let reply = match read_line(&mut reader, &mut line)? {
            Line::Eof => return Ok(()),
            Line::TooLong => format!("line too long (more than {MAX_LINE} bytes)\n"),
            Line::Complete => match commands.reply(&String::from_utf8_lossy(&line)) {
                Some(out) => out,
                None => return Ok(()),
            },
        };
        let mut out = reply;
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(PROMPT);
        reader.get_mut().write_all(out.as_bytes())?;
    }
}

enum Line {
    Complete,
    TooLong,
    Eof,
}

/// Reads one line into `buf` (without its LF or CRLF), at most [`MAX_LINE`] bytes of it.
fn read_line<R: BufRead>(reader: &mut R, buf: &mut Vec<u8>) -> io::Result<Line> {
    let n = reader
        .by_ref()
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(Line::Eof);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        return Ok(Line::Complete);
    }
    if buf.len() <= MAX_LINE {
        return Ok(Line::Complete); // the last line, without a newline
    }
    // Too long: skip to the end of the line.
    loop {
        let mut rest = Vec::new();
        let n = reader
            .by_ref()
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut rest)?;
        if n == 0 || rest.last() == Some(&b'\n') {
            return Ok(Line::TooLong);
        }
    }
}

/// Whether `ip` is a loopback address (an IPv4-mapped IPv6 loopback included).
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
    }
}

/// Accepts connections on `listener` and runs a [`backdoor()`] console for each, in its own
/// green thread, all sharing `commands`. Blocks the caller and keeps accepting.
///
/// Refuses (with `ErrorKind::InvalidInput`) a listener whose local address is not loopback.
/// Clients that disconnect at once, and accept errors that only concern such a client, do not
/// stop it; it returns only on another accept error. Stop it by running it in a green thread
/// and [`kill`](crate::GreenThread::kill)ing that. Called from a plain thread, it runs its
/// accept loop in a green thread and blocks the thread until that ends.
///
/// eventlet: `backdoor_server(sock, locals)`, which also prints the address it listens on;
/// this prints nothing.
///
/// ```
/// let public = greenfetch_runtime::listen("0.0.0.0:0")?;
/// let refused = greenfetch_runtime::backdoor_server(public, greenfetch_runtime::Commands::new()).unwrap_err();
/// assert_eq!(refused.kind(), std::io::ErrorKind::InvalidInput);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn backdoor_server(listener: TcpListener, commands: Commands) -> io::Result<()> {
    let local = listener.local_addr()?;
    if !is_loopback(local.ip()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the backdoor must listen on a loopback address, not {local}"),
        ));
    }
    let commands = Arc::new(commands);
    // On a plain thread, the accept loop still runs in a green thread (see `convenience`).
    in_green_thread(move || accept_loop(&listener, &commands))
}

fn accept_loop(listener: &TcpListener, commands: &Arc<Commands>) -> io::Result<()> {
    loop {
        let (stream, _peer) = crate::convenience::accept(listener)?;
        let commands = commands.clone();
        greenthread::spawn_n(move || {
            // A console's I/O error only ends that console.
            let _ = backdoor(stream, &commands);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_parses_name_and_argument() {
        let c = Commands::new().command("echo", "repeat", |a| format!("[{a}]"));
        assert_eq!(c.reply("  echo   a b  ").as_deref(), Some("[a b]"));
        assert_eq!(c.reply("echo").as_deref(), Some("[]"));
        assert_eq!(c.reply("").as_deref(), Some(""));
        assert_eq!(c.reply("quit"), None);
        assert_eq!(c.reply("exit"), None);
        assert!(
            c.reply("nope")
                .unwrap()
                .starts_with("unknown command \"nope\"")
        );
    }

    #[test]
    fn help_lists_builtins_then_commands_aligned() {
        let c = Commands::new().command("count", "the count", |_| String::new());
        assert_eq!(
            c.reply("help").unwrap(),
            "help   list the commands\nquit   close this console\nexit   close this console\n\
             count  the count\n"
        );
    }

    #[test]
    fn a_panicking_command_is_reported() {
        let c = Commands::new().command("boom", "panics", |_| panic!("kaboom"));
        assert_eq!(
            c.reply("boom").unwrap(),
            "command \"boom\" panicked: kaboom\n"
        );
    }

    #[test]
    fn lines_crlf_eof_and_overlong() {
        let mut input: Vec<u8> = b"a\r\nb\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
        input.extend(b"\nc");
        let mut r = io::Cursor::new(input);
        let mut buf = Vec::new();
        let mut next = |r: &mut io::Cursor<Vec<u8>>| {
            buf.clear();
            match read_line(r, &mut buf).unwrap() {
                Line::Complete => Some(String::from_utf8(buf.clone()).unwrap()),
                Line::TooLong => Some("<too long>".into()),
                Line::Eof => None,
            }
        };
        assert_eq!(next(&mut r).as_deref(), Some("a"));
        assert_eq!(next(&mut r).as_deref(), Some("b"));
        assert_eq!(next(&mut r).as_deref(), Some("<too long>"));
        assert_eq!(next(&mut r).as_deref(), Some("c"));
        assert_eq!(next(&mut r), None);
    }

    #[test]
    fn loopback_check() {
        assert!(is_loopback("127.0.0.1".parse().unwrap()));
        assert!(is_loopback("::1".parse().unwrap()));
        assert!(is_loopback("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_loopback("0.0.0.0".parse().unwrap()));
        assert!(!is_loopback("::".parse().unwrap()));
    }
}
