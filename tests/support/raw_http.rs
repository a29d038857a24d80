//! A minimal HTTP/1.1 client over a raw socket, for tests of the binaries that serve HTTP.

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::Value;

/// Sends `head` (request line and extra header lines) with `body` to `addr`, closing after the answer;
/// returns the status and the JSON body (`Null` when the body is not JSON).
pub fn request(addr: &str, head: &str, body: &[u8]) -> (u16, Value) {
    let (status, _, body) = exchange(addr, head, body);
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// Sends `head` with `body` to `addr`, closing after the answer; returns the status, the header block and the body.
pub fn exchange(addr: &str, head: &str, body: &[u8]) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let request = format!("{head}\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    stream.write_all(request.as_bytes()).unwrap();
    // A server may answer (413) and close before reading all of an oversized body.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, headers.to_owned(), body.to_owned())
}
