//! `listen`, `serve` and `StopServe`, ported from eventlet's
//! `eventlet/eventlet: tests/convenience_test.py` (MIT licence, commit c8f903a), acceptance
//! cases 56–58 of the semantics spec.
//!
//! The servers run in green threads on may's sockets; the clients are std sockets on the test
//! thread (a plain thread, where blocking is allowed). They do not use `greenfetch::connect`
//! because may 0.3.51's `TcpStream::connect` has a rare race that can hang the connecting side
//! (see the `convenience` module docs); `connect` is exercised by the doctests.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use greenfetch::{Event, Queue, StopServe, WaitError, listen, serve, spawn};

fn listener() -> (may::net::TcpListener, SocketAddr) {
    let l = listen("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = l.local_addr().expect("local_addr");
    (l, addr)
}

/// A client connection whose reads fail after a minute instead of hanging a broken test.
fn connect(addr: SocketAddr) -> TcpStream {
    let c = TcpStream::connect(addr).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("set_read_timeout");
    c
}

/// Reads until the server closes the connection and returns what came. A close with unread
/// input makes the server's TCP send a reset instead of EOF: that counts as closed too.
fn read_all(mut s: TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    match s.read_to_end(&mut out) {
        Ok(_) => out,
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => out,
        Err(e) => panic!("reading until the server closes: {e}"),
    }
}

#[derive(Debug)]
struct ZeroDivisionError;

impl std::fmt::Display for ZeroDivisionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("integer division or modulo by zero")
    }
}

impl std::error::Error for ZeroDivisionError {}

// eventlet tests/convenience_test.py:24 test_exiting_server
#[test]
fn exiting_server() {
    let (l, addr) = listener();
    let gt = spawn(move || serve(l, |_conn, _peer| Ok(()), 1000));
    let mut client = connect(addr);
    client.write_all(b"a").unwrap();
    // The handler returned: the server closed the client socket.
    assert_eq!(read_all(client), b"");
    gt.kill();
    assert_eq!(gt.wait().unwrap_err(), WaitError::Killed);
}

// eventlet tests/convenience_test.py:36 test_excepting_server
#[test]
fn excepting_server() {
    let (l, addr) = listener();
    let crasher = |mut conn: may::net::TcpStream, _peer| {
        let _ = conn.read(&mut [0; 1024])?;
        Err(ZeroDivisionError.into())
    };
    let gt = spawn(move || serve(l, crasher, 1000));
    let mut client = connect(addr);
    client.write_all(b"a").unwrap();
    let err = gt.wait().unwrap().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::Other);
    assert!(err.get_ref().unwrap().is::<ZeroDivisionError>());
    assert_eq!(read_all(client), b"");
}

// eventlet tests/convenience_test.py:49 test_excepting_server_already_closed
// (eventlet's `0 // 0` is a run-time error; Rust's is a panic.)
#[test]
fn excepting_server_already_closed() {
    let (l, addr) = listener();
    let crasher = |mut conn: may::net::TcpStream, _peer| {
        let _ = conn.read(&mut [0; 1024])?;
        drop(conn);
        let zero = std::hint::black_box(0_u32);
        let quotient = 1 / zero;
        Err(format!("unreachable: {quotient}").into())
    };
    let gt = spawn(move || serve(l, crasher, 1000));
    let mut client = connect(addr);
    client.write_all(b"a").unwrap();
    let err = gt.wait().unwrap().unwrap_err();
    let panic = err.get_ref().unwrap().downcast_ref::<WaitError>().unwrap();
    assert!(matches!(panic, WaitError::Panicked(m) if m.contains("divide by zero")));
    assert_eq!(read_all(client), b"");
}

// eventlet tests/convenience_test.py:63 test_called_for_each_connection
#[test]
fn called_for_each_connection() {
    let (l, addr) = listener();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let counter = move |_conn, _peer| {
        h.fetch_add(1, Ordering::SeqCst);
        Ok(())
    };
    let gt = spawn(move || serve(l, counter, 1000));
    for _ in 0..100 {
        // EOF means the handler ran (it counts before it returns and drops the socket).
        assert_eq!(read_all(connect(addr)), b"");
    }
    gt.kill();
    assert_eq!(hits.load(Ordering::SeqCst), 100);
}

// eventlet tests/convenience_test.py:76 test_blocking
// eventlet checks that serve is still running after 10 ms; here, by structure: after serving a
// client to completion serve has not returned, and it goes on serving the next one.
#[test]
fn blocking() {
    let (l, addr) = listener();
    let served: Queue<()> = Queue::unbounded();
    let s = served.clone();
    let handler = move |_conn, _peer| {
        s.put(());
        Ok(())
    };
    let gt = spawn(move || serve(l, handler, 1000));
    assert_eq!(read_all(connect(addr)), b"");
    served.get();
    assert!(!gt.is_done(), "serve returned after its first client");
    assert_eq!(read_all(connect(addr)), b"");
    served.get();
    gt.kill();
    assert_eq!(gt.wait().unwrap_err(), WaitError::Killed);
}

// eventlet tests/convenience_test.py:84 test_raising_stopserve
#[test]
fn raising_stopserve() {
    let (l, addr) = listener();
    let client = std::thread::spawn(move || read_all(connect(addr)));
    // On the test thread: serve blocks it, and returns Ok when the handler says StopServe.
    serve(l, |_conn, _peer| Err(StopServe.into()), 1000).unwrap();
    assert_eq!(client.join().unwrap(), b"");
}

// eventlet tests/convenience_test.py:93 test_concurrency
// eventlet checks that a 6th client gets nothing within 10 ms. Here the handlers log their
// starts and ends: five start, the 6th client has got nothing while they run, and its handler
// starts only after one of the five has ended; at most five ever run at once.
#[test]
fn concurrency() {
    let (l, addr) = listener();
    let log = Arc::new(Mutex::new(Vec::<&str>::new()));
    let (active, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (lg, ac, mo) = (log.clone(), active.clone(), most.clone());
    let waiter = move |mut conn: may::net::TcpStream, _peer| {
        let now = ac.fetch_add(1, Ordering::SeqCst) + 1;
        mo.fetch_max(now, Ordering::SeqCst);
        lg.lock().unwrap().push("start");
        conn.write_all(b"hi")?;
        let _ = conn.read(&mut [0; 1]); // until the client closes
        ac.fetch_sub(1, Ordering::SeqCst);
        lg.lock().unwrap().push("end");
        Ok(())
    };
    let server = spawn(move || serve(l, waiter, 5));

    let test_client = || {
        let mut c = connect(addr);
        let mut hi = [0; 2];
        c.read_exact(&mut hi).unwrap();
        assert_eq!(&hi, b"hi");
        c
    };
    let mut busy: Vec<_> = (0..5).map(|_| test_client()).collect();

    // The very next client connects (the listen backlog) but gets no service.
    let mut sixth = connect(addr);
    sixth.set_nonblocking(true).unwrap();
    let nothing = sixth.read(&mut [0; 2]).unwrap_err();
    assert_eq!(nothing.kind(), io::ErrorKind::WouldBlock);
    assert_eq!(*log.lock().unwrap(), ["start"; 5]);

    // One handler ends: now the 6th is served.
    drop(busy.remove(0));
    sixth.set_nonblocking(false).unwrap();
    let mut hi = [0; 2];
    sixth.read_exact(&mut hi).unwrap();
    assert_eq!(&hi, b"hi");
    assert_eq!(
        *log.lock().unwrap(),
        ["start", "start", "start", "start", "start", "end", "start"]
    );
    assert_eq!(most.load(Ordering::SeqCst), 5);

    server.kill();
}

// Not in eventlet: a handler's io::Error comes out of serve as it is.
#[test]
fn handler_io_error_keeps_its_kind() {
    let (l, addr) = listener();
    let client = std::thread::spawn(move || read_all(connect(addr)));
    let err = serve(
        l,
        |_conn, _peer| Err(io::Error::new(io::ErrorKind::PermissionDenied, "no").into()),
        1,
    )
    .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
    client.join().unwrap();
}

// Not in eventlet: serve returns at a handler's error without waiting for the other handlers.
#[test]
fn error_returns_without_waiting_for_other_handlers() {
    let (l, addr) = listener();
    let release: Event<()> = Event::new();
    let r = release.clone();
    let handler = move |mut conn: may::net::TcpStream, _peer| {
        let mut cmd = [0; 1];
        conn.read_exact(&mut cmd)?;
        if &cmd == b"w" {
            conn.write_all(b"k")?;
            r.wait(); // stays busy until the test releases it
            Ok(())
        } else {
            Err("failed".into())
        }
    };
    let server = spawn(move || serve(l, handler, 10));
    let mut slow = connect(addr);
    slow.write_all(b"w").unwrap();
    slow.read_exact(&mut [0; 1]).unwrap(); // the slow handler is running
    connect(addr).write_all(b"x").unwrap();
    let err = server.wait().unwrap().unwrap_err();
    assert_eq!(err.to_string(), "failed");
    release.send(()).unwrap();
    assert_eq!(read_all(slow), b"");
}

// Not in eventlet (whose serve would accept one client and hang): concurrency 0 is refused.
#[test]
fn zero_concurrency_is_refused() {
    let (l, _) = listener();
    let err = serve(l, |_conn, _peer| Ok(()), 0).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}
