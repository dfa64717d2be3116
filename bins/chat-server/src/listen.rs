//! The listening socket, bound by hand rather than with `TcpListener::bind` for the options
//! a server needs: address reuse across restarts, an optional shared port, a deep backlog.

use std::net::SocketAddr;

/// Connections waiting to be accepted: a reconnect storm after a deploy brings thousands at
/// once (the kernel caps it at net.core.somaxconn).
const LISTEN_BACKLOG: u32 = 4096;

/// Binds `address`; with `reuse_port`, other processes may bind it too (SO_REUSEPORT).
pub fn listen(address: SocketAddr, reuse_port: bool) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if address.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    // A restarted server must bind while the old one's connections sit in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    if reuse_port {
        socket.set_reuseport(true)?;
    }
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}
