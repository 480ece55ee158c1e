//! TEMPORARY stand-in (replaced by the decode helper's module).
#![allow(missing_docs, dead_code)]
use std::fmt;
use std::io::{self, Read};
pub const ACCEPT_ENCODING: &str = "gzip";
#[derive(Debug)]
pub struct DecodeError(String);
impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for DecodeError {}
pub fn decoder<'a>(
    ce: &str,
    body: Box<dyn Read + Send + 'a>,
) -> Result<Box<dyn Read + Send + 'a>, DecodeError> {
    if ce.trim().eq_ignore_ascii_case("gzip") {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(body)))
    } else {
        Err(DecodeError(format!("unknown {ce}")))
    }
}
pub fn decode_error(e: &io::Error) -> Option<&DecodeError> {
    e.get_ref().and_then(|i| i.downcast_ref())
}
