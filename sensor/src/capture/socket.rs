//! The capture socket: `AF_PACKET`/`SOCK_DGRAM` (packets from their IP header), the BPF filter
//! of [`super::bpf`] attached, non-blocking for tokio, and the kernel's own counts of what it
//! delivered and dropped.

use std::io;
use std::mem::MaybeUninit;
use std::net::IpAddr;
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::unix::AsyncFd;

/// `ETH_P_ALL` in network byte order, as `socket(2)` and `sockaddr_ll` want it.
fn eth_p_all() -> u16 {
    (libc::ETH_P_ALL as u16).to_be()
}

/// The kernel's counts since the last read (`PACKET_STATISTICS` resets them when read).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelCounts {
    /// Packets that passed the filter (delivered or dropped).
    pub packets: u64,
    /// Packets dropped because the socket's buffer was full.
    pub drops: u64,
}

/// An open, filtered capture socket (opened before privileges are dropped, outside the
/// runtime); [`PacketSocket::watch`] hands it to tokio.
pub struct PacketSocket {
    socket: Socket,
}

/// A capture socket tokio watches.
pub struct WatchedPacketSocket {
    fd: AsyncFd<Socket>,
}

impl PacketSocket {
    /// Opens the socket on `interface` (every interface when `None`) for TCP to `addresses`
    /// (every address when empty), with a receive buffer of `buffer_bytes`. Fails with
    /// `PermissionDenied` without root or `CAP_NET_RAW`.
    pub fn open(
        interface: Option<&str>,
        addresses: &[IpAddr],
        buffer_bytes: usize,
    ) -> io::Result<PacketSocket> {
        let socket = Socket::new(
            Domain::PACKET,
            Type::DGRAM.nonblocking().cloexec(),
            Some(Protocol::from(i32::from(eth_p_all()))),
        )?;
        // Filter first, so nothing unfiltered queues up before it is attached.
        socket.attach_filter(&super::bpf::tcp_filter(addresses))?;
        socket.set_recv_buffer_size(buffer_bytes)?;
        if let Some(name) = interface {
            bind_interface(&socket, name)?;
        }
        // What queued before the filter was attached is not ours to read: drain it.
        let mut scratch = [MaybeUninit::<u8>::uninit(); 64];
        while socket.recv(&mut scratch).is_ok() {}
        let _ = read_counts(&socket);
        Ok(PacketSocket { socket })
    }

    /// Registers the socket with tokio's reactor (inside the runtime).
    pub fn watch(self) -> io::Result<WatchedPacketSocket> {
        // SAFETY: the socket owns its descriptor and is moved into the `AsyncFd`, which keeps
        // it open for as long as it is registered.
        let fd = unsafe { AsyncFd::register(self.socket) }.map_err(io::Error::from)?;
        Ok(WatchedPacketSocket { fd })
    }
}

impl WatchedPacketSocket {
    /// Waits for packets and reads up to `max` of them, each into `buf` and handed to `each`
    /// (the bytes from the IP header, cut to the filter's snap length). Returns how many.
    pub async fn recv_batch(
        &self,
        buf: &mut [u8],
        max: usize,
        mut each: impl FnMut(&[u8]),
    ) -> io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            let mut n = 0;
            while n < max {
                match recv(guard.get_inner(), buf) {
                    Ok(len) => {
                        n += 1;
                        each(&buf[..len.min(buf.len())]);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        guard.clear_ready();
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            if n > 0 {
                return Ok(n);
            }
        }
    }

    /// The kernel's counts since the last call.
    pub fn counts(&self) -> io::Result<KernelCounts> {
        read_counts(self.fd.get_ref())
    }
}

fn recv(socket: &Socket, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `recv` only writes initialised bytes into the buffer it is given; a `[u8]` is a
    // valid `[MaybeUninit<u8>]` of the same length.
    let uninit = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
    socket.recv(uninit)
}

fn bind_interface(socket: &Socket, name: &str) -> io::Result<()> {
    let c_name = std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name has a NUL"))?;
    // SAFETY: a NUL-terminated name; the call only reads it.
    let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
    if index == 0 {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no interface {name:?}"),
        ));
    }
    // SAFETY: an all-zero sockaddr_ll is valid; its fields are then set.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = eth_p_all();
    addr.sll_ifindex = index as i32;
    // SAFETY: `addr` is a valid sockaddr_ll and the length is its size.
    let rc = unsafe {
        libc::bind(
            socket.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn read_counts(socket: &Socket) -> io::Result<KernelCounts> {
    // SAFETY: an all-zero tpacket_stats is valid.
    let mut stats: libc::tpacket_stats = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `stats`.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&mut stats as *mut libc::tpacket_stats).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(KernelCounts {
        packets: u64::from(stats.tp_packets),
        drops: u64::from(stats.tp_drops),
    })
}
