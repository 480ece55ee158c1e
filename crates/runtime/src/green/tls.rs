//! eventlet's `wrap_ssl`: turn a green TCP stream into a TLS stream, with rustls.
//!
//! The handshake and every later read and write go through the may socket underneath, so they
//! park the green thread, never the worker. [`wrap_ssl`] takes a [`TlsSide`]: the client side
//! names the server and trusts a set of roots; the server side presents a certificate chain and
//! its key ([`server_config`] builds one from DER).
//!
//! Layer: networking.
//!
//! # Examples
//!
//! A TLS echo over loopback, with a self-signed certificate made on the spot:
//!
//! ```
//! use std::io::{Read, Write};
//! use std::sync::Arc;
//! use greenfetch_runtime::green::tls::{client_config, server_config, wrap_ssl, TlsSide};
//!
//! let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
//! let cert_der = cert.cert.der().to_vec();
//! let key_der = cert.signing_key.serialize_der();
//!
//! let listener = greenfetch_runtime::listen("127.0.0.1:0").unwrap();
//! let addr = listener.local_addr().unwrap();
//! let server = server_config(vec![cert_der.clone()], key_der).unwrap();
//! let srv = greenfetch_runtime::spawn(move || {
//!     let (sock, _) = listener.accept().unwrap();
//!     let mut tls = wrap_ssl(sock, TlsSide::Server { config: server }).unwrap();
//!     let mut buf = [0u8; 5];
//!     tls.read_exact(&mut buf).unwrap();
//!     tls.write_all(&buf).unwrap();
//!     tls.flush().unwrap();
//! });
//!
//! // The client runs in a green thread too: may's sockets are meant for coroutines.
//! let client = greenfetch_runtime::spawn(move || {
//!     let sock = greenfetch_runtime::connect(addr).unwrap();
//!     let side = TlsSide::Client {
//!         server_name: "localhost".into(),
//!         config: client_config(&[cert_der]).unwrap(),
//!     };
//!     let mut tls = wrap_ssl(sock, side).unwrap();
//!     tls.write_all(b"hello").unwrap();
//!     tls.flush().unwrap();
//!     let mut back = [0u8; 5];
//!     tls.read_exact(&mut back).unwrap();
//!     back
//! });
//! assert_eq!(&client.wait().unwrap(), b"hello");
//! srv.wait().unwrap();
//! ```

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;

use may::net::TcpStream;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use rustls::{DEFAULT_VERSIONS, StreamOwned};

/// Which end of the TLS session this stream is.
///
/// ```
/// use greenfetch_runtime::green::tls::{client_config, TlsSide};
/// let side = TlsSide::Client { server_name: "example.test".into(), config: client_config(&[]).unwrap() };
/// assert!(matches!(side, TlsSide::Client { .. }));
/// ```
#[derive(Clone)]
pub enum TlsSide {
    /// The client: verifies the server's certificate for `server_name`.
    Client {
        /// The name the server's certificate must carry (a DNS name or an IP address).
        server_name: String,
        /// Trust roots and protocol settings ([`client_config`]).
        config: Arc<ClientConfig>,
    },
    /// The server: presents the certificate in `config` ([`server_config`]).
    Server {
        /// Certificate chain, key and protocol settings.
        config: Arc<ServerConfig>,
    },
}

impl fmt::Debug for TlsSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsSide::Client { server_name, .. } => f
                .debug_struct("Client")
                .field("server_name", server_name)
                .finish(),
            TlsSide::Server { .. } => f.debug_struct("Server").finish(),
        }
    }
}

/// A TLS session over a green TCP stream; `Read` and `Write` park only the green thread.
///
/// Made by [`wrap_ssl`].
pub enum TlsStream {
    /// The client end.
    Client(Box<StreamOwned<ClientConnection, TcpStream>>),
    /// The server end.
    Server(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = match self {
            TlsStream::Client(_) => "client",
            TlsStream::Server(_) => "server",
        };
        f.debug_struct("TlsStream").field("side", &side).finish()
    }
}

impl TlsStream {
    /// The green TCP stream underneath.
    ///
    /// See the [module example](self) for a whole session.
    pub fn get_ref(&self) -> &TcpStream {
        match self {
            TlsStream::Client(s) => s.get_ref(),
            TlsStream::Server(s) => s.get_ref(),
        }
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            TlsStream::Client(s) => s.read(buf),
            TlsStream::Server(s) => s.read(buf),
        }
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            TlsStream::Client(s) => s.write(buf),
            TlsStream::Server(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            TlsStream::Client(s) => s.flush(),
            TlsStream::Server(s) => s.flush(),
        }
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_err(e: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// A client configuration trusting exactly `roots` (DER certificates). Pass the web's roots
/// yourself if you need them; the HTTP agent ([`crate::green::ureq`]) trusts them by default.
///
/// ```
/// let cfg = greenfetch_runtime::green::tls::client_config(&[]).unwrap();
/// assert!(cfg.alpn_protocols.is_empty());
/// ```
pub fn client_config(roots: &[Vec<u8>]) -> io::Result<Arc<ClientConfig>> {
    let mut store = RootCertStore::empty();
    for der in roots {
        store
            .add(CertificateDer::from(der.clone()))
            .map_err(tls_err)?;
    }
    let cfg = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(DEFAULT_VERSIONS)
        .map_err(tls_err)?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// A server configuration presenting `chain` (DER certificates, leaf first) with `key`
/// (a DER private key: PKCS#8, PKCS#1 or SEC1).
///
/// ```
/// let c = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// let cfg = greenfetch_runtime::green::tls::server_config(
///     vec![c.cert.der().to_vec()],
///     c.signing_key.serialize_der(),
/// );
/// assert!(cfg.is_ok());
/// ```
pub fn server_config(chain: Vec<Vec<u8>>, key: Vec<u8>) -> io::Result<Arc<ServerConfig>> {
    let chain = chain.into_iter().map(CertificateDer::from).collect();
    let key =
        PrivateKeyDer::try_from(key).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(DEFAULT_VERSIONS)
        .map_err(tls_err)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(tls_err)?;
    Ok(Arc::new(cfg))
}

/// Wraps a green TCP stream in TLS and completes the handshake (eventlet's `wrap_ssl`).
///
/// A handshake failure (an untrusted certificate, plain HTTP spoken back, a closed socket) is an
/// `io::Error`. See the [module example](self).
pub fn wrap_ssl(mut stream: TcpStream, side: TlsSide) -> io::Result<TlsStream> {
    match side {
        TlsSide::Client {
            server_name,
            config,
        } => {
            let name = ServerName::try_from(server_name)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let mut conn = ClientConnection::new(config, name).map_err(tls_err)?;
            while conn.is_handshaking() {
                conn.complete_io(&mut stream)?;
            }
            Ok(TlsStream::Client(Box::new(StreamOwned::new(conn, stream))))
        }
        TlsSide::Server { config } => {
            let mut conn = ServerConnection::new(config).map_err(tls_err)?;
            while conn.is_handshaking() {
                conn.complete_io(&mut stream)?;
            }
            Ok(TlsStream::Server(Box::new(StreamOwned::new(conn, stream))))
        }
    }
}
