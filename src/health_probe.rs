//! `sora-bot healthcheck`: asks the running bot's own `/healthz` and exits 0
//! when it answers 200. The runtime image has no curl or wget; a container
//! health check (Dockerfile `HEALTHCHECK`, compose `healthcheck`) runs this in
//! the same container, with the same `HTTP_BIND`.

use std::{
    io::{Read, Write},
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream},
    time::Duration,
};

/// Well within a health check's usual 5 s time-out.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The address to ask for `HTTP_BIND` (a wildcard bind is asked on loopback).
pub fn target(http_bind: Option<&str>) -> Result<SocketAddr, String> {
    let bind = http_bind.map(str::trim).filter(|b| !b.is_empty()).unwrap_or("127.0.0.1:8080");
    let mut addr: SocketAddr = bind.parse().map_err(|_| format!("HTTP_BIND: {bind:?} is not an address"))?;
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => addr.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        IpAddr::V6(ip) if ip.is_unspecified() => addr.set_ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        _ => {}
    }
    Ok(addr)
}

/// `GET /healthz` on `addr`: `Ok` on a 200, else what went wrong.
pub fn probe(addr: SocketAddr) -> Result<(), String> {
    let mut stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)
        .map_err(|error| format!("cannot connect to {addr}: {error}"))?;
    stream
        .set_read_timeout(Some(PROBE_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(PROBE_TIMEOUT)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|error| format!("cannot ask {addr}: {error}"))?;
    let mut head = [0_u8; 64];
    let read = stream.read(&mut head).map_err(|error| format!("no answer from {addr}: {error}"))?;
    let status_line = String::from_utf8_lossy(&head[..read]);
    let status_line = status_line.lines().next().unwrap_or_default();
    if status_line.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(format!("/healthz answered {status_line:?}"))
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn a_wildcard_bind_is_probed_on_loopback() {
        assert_eq!(target(Some("0.0.0.0:8080")).unwrap(), "127.0.0.1:8080".parse().unwrap());
        assert_eq!(target(Some("[::]:9000")).unwrap(), "[::1]:9000".parse().unwrap());
        assert_eq!(target(None).unwrap(), "127.0.0.1:8080".parse().unwrap());
        assert!(target(Some("nonsense")).is_err());
    }

    /// A one-shot server answering `status_line`.
    fn server(status_line: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut request = [0_u8; 256];
            let _ = socket.read(&mut request);
            let _ = socket.write_all(format!("{status_line}\r\ncontent-length: 0\r\n\r\n").as_bytes());
        });
        addr
    }

    #[test]
    fn only_a_200_is_healthy() {
        assert_eq!(probe(server("HTTP/1.1 200 OK")), Ok(()));
        let unhealthy = probe(server("HTTP/1.1 503 Service Unavailable")).unwrap_err();
        assert!(unhealthy.contains("503"), "{unhealthy}");
        let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        assert!(probe(closed).unwrap_err().contains("cannot connect"));
    }
}
