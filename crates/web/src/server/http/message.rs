//! Messages: the [`Request`] a service gets and the [`Response`] it gives, with the server's
//! own error answers.
//!
//! Layer: apps (part of [`http`](super)).

use super::*;

/// A complete request: its head, its whole body, and who sent it.
///
/// ```
/// let req = greenfetch_web::server::http::Request::new("POST", "/titles?x=1", b"http://a.test/\n".to_vec())
///     .with_header("Accept", "application/json");
/// assert_eq!(req.path(), "/titles");
/// assert_eq!(req.query(), Some("x=1"));
/// assert_eq!(req.header("accept"), Some("application/json"));
/// assert_eq!(req.body(), b"http://a.test/\n");
/// ```
#[derive(Debug, Clone)]
pub struct Request {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) query: Option<String>,
    /// The authority of an absolute-form target (`GET http://a.test/ HTTP/1.1`).
    pub(super) authority: Option<String>,
    pub(super) version: u8,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
    pub(super) peer: SocketAddr,
}

impl Request {
    /// A request built by hand (to call a [`Service`] directly, in tests): HTTP/1.1, no
    /// headers, from `0.0.0.0:0`. `target` is a path with an optional `?query`.
    ///
    /// ```
    /// let req = greenfetch_web::server::http::Request::new("GET", "/healthz", Vec::new());
    /// assert_eq!(req.method(), "GET");
    /// ```
    pub fn new(method: &str, target: &str, body: Vec<u8>) -> Self {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (target.to_owned(), None),
        };
        Request {
            method: method.to_owned(),
            path,
            query,
            authority: None,
            version: 1,
            headers: Vec::new(),
            body,
            peer: SocketAddr::from(([0, 0, 0, 0], 0)),
        }
    }

    /// Adds a header (builder style, for requests built by hand).
    ///
    /// ```
    /// let req = greenfetch_web::server::http::Request::new("GET", "/", Vec::new())
    ///     .with_header("X-A", "1");
    /// assert_eq!(req.header("x-a"), Some("1"));
    /// ```
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The method, as sent (`GET`, `POST`, ...).
    ///
    /// ```
    /// assert_eq!(greenfetch_web::server::http::Request::new("POST", "/", vec![]).method(), "POST");
    /// ```
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path, without the query (an absolute-form target is reduced to its path).
    ///
    /// ```
    /// assert_eq!(greenfetch_web::server::http::Request::new("GET", "/a?b", vec![]).path(), "/a");
    /// ```
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query, without its `?`.
    ///
    /// ```
    /// assert_eq!(greenfetch_web::server::http::Request::new("GET", "/a", vec![]).query(), None);
    /// ```
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    ///
    /// ```
    /// assert_eq!(greenfetch_web::server::http::Request::new("GET", "/", vec![]).version(), 1);
    /// ```
    pub fn version(&self) -> u8 {
        self.version
    }

    /// The first header called `name` (case-insensitive); a value that is not UTF-8 has been
    /// decoded lossily.
    ///
    /// ```
    /// let req = greenfetch_web::server::http::Request::new("GET", "/", vec![]).with_header("Host", "h");
    /// assert_eq!(req.header("HOST"), Some("h"));
    /// assert_eq!(req.header("accept"), None);
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The host the request is for, port included, as sent: the authority of an absolute-form
    /// target (`GET http://a.test/ HTTP/1.1`, which RFC 9112 says wins over the header), else
    /// the `Host` header. `None` only for HTTP/1.0, which may leave it out (the server answers
    /// an HTTP/1.1 request without one with `400`), or for a request built by hand.
    ///
    /// ```
    /// use greenfetch_web::server::http::Request;
    /// let req = Request::new("GET", "/", vec![]).with_header("Host", "localhost:8080");
    /// assert_eq!(req.host(), Some("localhost:8080"));
    /// assert_eq!(Request::new("GET", "/", vec![]).host(), None);
    /// ```
    pub fn host(&self) -> Option<&str> {
        self.authority.as_deref().or_else(|| self.header("host"))
    }

    /// Every header, in the order sent.
    ///
    /// ```
    /// let req = greenfetch_web::server::http::Request::new("GET", "/", vec![]).with_header("A", "1");
    /// assert_eq!(req.headers().count(), 1);
    /// ```
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The whole body (at most [`HttpConfig::max_body`] bytes).
    ///
    /// ```
    /// assert!(greenfetch_web::server::http::Request::new("GET", "/", vec![]).body().is_empty());
    /// ```
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The client's address.
    ///
    /// ```
    /// assert_eq!(greenfetch_web::server::http::Request::new("GET", "/", vec![]).peer().port(), 0);
    /// ```
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }
}

/// A response: status, headers and a body in memory. `Content-Length` and `Connection` are
/// the server's business and are added when it is written.
///
/// ```
/// use greenfetch_web::server::http::Response;
/// let r = Response::text(404, "no such page\n").with_header("X-Why", "gone");
/// assert_eq!(r.status(), 404);
/// assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
/// assert_eq!(r.body(), b"no such page\n");
/// ```
#[derive(Debug, Clone)]
pub struct Response {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
    pub(super) close: bool,
}

impl Response {
    /// A response with `status`, no headers and no body.
    ///
    /// ```
    /// assert!(greenfetch_web::server::http::Response::new(204).body().is_empty());
    /// ```
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            close: false,
        }
    }

    /// A `text/plain; charset=utf-8` response.
    ///
    /// ```
    /// let r = greenfetch_web::server::http::Response::text(200, "ok\n");
    /// assert_eq!(r.body(), b"ok\n");
    /// ```
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Response::new(status).with_body("text/plain; charset=utf-8", body.into().into_bytes())
    }

    /// A response with `body` of type `content_type`.
    ///
    /// ```
    /// let r = greenfetch_web::server::http::Response::new(200).with_body("application/json", b"[]".to_vec());
    /// assert_eq!(r.header("Content-Type"), Some("application/json"));
    /// ```
    pub fn with_body(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
        self.headers
            .push(("Content-Type".to_owned(), content_type.to_owned()));
        self.body = body;
        self
    }

    /// An error: `{"error":{"kind":KIND,"message":MESSAGE}}` if `json`, else `MESSAGE` and a
    /// newline as text.
    ///
    /// ```
    /// use greenfetch_web::server::http::Response;
    /// let r = Response::error(413, "too_many_urls", "3 URLs; at most 2", true);
    /// assert_eq!(r.body(), br#"{"error":{"kind":"too_many_urls","message":"3 URLs; at most 2"}}"#);
    /// assert_eq!(Response::error(404, "not_found", "no", false).body(), b"no\n");
    /// ```
    pub fn error(status: u16, kind: &str, message: &str, json: bool) -> Self {
        if json {
            let body = serde_json::json!({"error": {"kind": kind, "message": message}});
            Response::new(status).with_body("application/json", body.to_string().into_bytes())
        } else {
            Response::text(status, format!("{message}\n"))
        }
    }

    /// Adds a header (`Content-Length` and `Connection` are ignored: the server writes those).
    ///
    /// ```
    /// let r = greenfetch_web::server::http::Response::new(405).with_header("Allow", "POST");
    /// assert_eq!(r.header("allow"), Some("POST"));
    /// ```
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Closes the connection after this response.
    ///
    /// ```
    /// let _r = greenfetch_web::server::http::Response::new(400).closing();
    /// ```
    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    /// The status code.
    ///
    /// ```
    /// assert_eq!(greenfetch_web::server::http::Response::new(201).status(), 201);
    /// ```
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first header called `name` (case-insensitive).
    ///
    /// ```
    /// assert_eq!(greenfetch_web::server::http::Response::new(200).header("x"), None);
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The body.
    ///
    /// ```
    /// assert_eq!(greenfetch_web::server::http::Response::text(200, "x").body(), b"x");
    /// ```
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}
