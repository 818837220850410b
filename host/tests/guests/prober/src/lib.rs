//! A hostile plugin: tries to reach files, variables and hosts, and reports what happened.
//! Filesystem and socket calls go straight to WASI (the `wasi` crate), so what is tested is the
//! host's sandbox, not the guest's libc.

componentry_sdk::wit_bindgen::generate!({
    path: "../wit",
    world: "prober",
    runtime_path: "componentry_sdk::wit_bindgen::rt",
    generate_all,
});

use exports::componentry::test::probe::Guest;
use wasi::filesystem::preopens::get_directories;
use wasi::filesystem::types::{Descriptor, DescriptorFlags, OpenFlags, PathFlags};
use wasi::io::streams::StreamError;
use wasi::sockets::network::{IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};

struct Prober;

fn preopen(dir: &str) -> Result<Descriptor, String> {
    get_directories()
        .into_iter()
        .find(|(_, name)| name == dir)
        .map(|(descriptor, _)| descriptor)
        .ok_or_else(|| format!("no preopened directory `{dir}`"))
}

fn open(dir: &str, path: &str, write: bool) -> Result<Descriptor, String> {
    let (open_flags, flags) = if write {
        (
            OpenFlags::CREATE | OpenFlags::TRUNCATE,
            DescriptorFlags::WRITE,
        )
    } else {
        (OpenFlags::empty(), DescriptorFlags::READ)
    };
    preopen(dir)?
        .open_at(PathFlags::SYMLINK_FOLLOW, path, open_flags, flags)
        .map_err(|e| format!("{e:?}"))
}

/// Everything an input stream has until it closes.
fn read_all(stream: &wasi::io::streams::InputStream) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(4096) {
            Ok(chunk) => bytes.extend(chunk),
            Err(StreamError::Closed) => return Ok(bytes),
            Err(StreamError::LastOperationFailed(e)) => return Err(e.to_debug_string()),
        }
    }
}

impl Guest for Prober {
    fn read_at(dir: String, path: String) -> Result<String, String> {
        let file = open(&dir, &path, false)?;
        let stream = file.read_via_stream(0).map_err(|e| format!("{e:?}"))?;
        let bytes = read_all(&stream)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn write_at(dir: String, path: String, contents: String) -> Result<(), String> {
        let file = open(&dir, &path, true)?;
        let stream = file.write_via_stream(0).map_err(|e| format!("{e:?}"))?;
        stream
            .blocking_write_and_flush(contents.as_bytes())
            .map_err(|e| format!("{e:?}"))
    }

    fn read_file(path: String) -> Result<String, String> {
        std::fs::read_to_string(&path).map_err(|e| e.to_string())
    }

    fn preopens() -> Vec<String> {
        get_directories()
            .into_iter()
            .map(|(_, name)| name)
            .collect()
    }

    fn get_env(name: String) -> Option<String> {
        std::env::var(name).ok()
    }

    fn env_count() -> u32 {
        std::env::vars().count() as u32
    }

    fn connect(addr: String) -> Result<(), String> {
        connect_tcp(&addr).map(|_| ())
    }

    fn http_get(scheme: String, authority: String, path: String) -> Result<(u16, String), String> {
        use wasi::http::types::{Fields, Method, OutgoingRequest, Scheme};
        let request = OutgoingRequest::new(Fields::new());
        request.set_method(&Method::Get).map_err(|_| "method")?;
        let scheme = match scheme.as_str() {
            "https" => Scheme::Https,
            _ => Scheme::Http,
        };
        request.set_scheme(Some(&scheme)).map_err(|_| "scheme")?;
        request
            .set_authority(Some(&authority))
            .map_err(|_| "authority")?;
        request
            .set_path_with_query(Some(&path))
            .map_err(|_| "path")?;
        let pending =
            wasi::http::outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
        let response = loop {
            match pending.get() {
                Some(result) => break result,
                None => pending.subscribe().block(),
            }
        };
        let response = response
            .map_err(|()| "response taken twice".to_owned())?
            .map_err(|e| format!("{e:?}"))?;
        let status = response.status();
        let body = response.consume().map_err(|()| "body")?;
        let stream = body.stream().map_err(|()| "stream")?;
        let bytes = read_all(&stream)?;
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }

    fn resolve(name: String) -> Result<Vec<String>, String> {
        let network = wasi::sockets::instance_network::instance_network();
        let addresses = wasi::sockets::ip_name_lookup::resolve_addresses(&network, &name)
            .map_err(|e| format!("lookup: {e:?}"))?;
        let mut found = Vec::new();
        loop {
            match addresses.resolve_next_address() {
                Ok(Some(IpAddress::Ipv4((a, b, c, d)))) => found.push(format!("{a}.{b}.{c}.{d}")),
                Ok(Some(IpAddress::Ipv6(_))) => found.push("ipv6".into()),
                Ok(None) => return Ok(found),
                Err(wasi::sockets::network::ErrorCode::WouldBlock) => addresses.subscribe().block(),
                Err(e) => return Err(format!("lookup: {e:?}")),
            }
        }
    }

    fn entropy() -> (u64, u64) {
        let random = wasi::random::random::get_random_u64();
        let now = wasi::clocks::wall_clock::now();
        (
            random,
            now.seconds * 1_000_000_000 + u64::from(now.nanoseconds),
        )
    }

    fn say(line: String) {
        println!("{line}");
    }

    fn complain(line: String) {
        eprintln!("{line}");
    }

    fn flood_stdout(bytes: u32) {
        let stdout = wasi::cli::stdout::get_stdout();
        let mut left = bytes as usize;
        while left > 0 {
            let permit = match stdout.check_write() {
                Ok(0) => {
                    stdout.subscribe().block();
                    continue;
                }
                Ok(permit) => permit as usize,
                Err(_) => return,
            };
            let chunk = left.min(permit);
            if stdout.write(&vec![b'x'; chunk]).is_err() {
                return;
            }
            left -= chunk;
        }
        let _ = stdout.blocking_flush();
    }

    fn log_line(message: String) {
        componentry::plugin::log::log(componentry::plugin::log::Level::Info, &message);
    }

    fn sleep(ms: u64) {
        wasi::clocks::monotonic_clock::subscribe_duration(ms * 1_000_000).block();
    }

    fn poll_sleep(ms: u64) {
        let pollable = wasi::clocks::monotonic_clock::subscribe_duration(ms * 1_000_000);
        wasi::io::poll::poll(&[&pollable]);
    }

    fn read_stdin() -> Result<u64, String> {
        let stdin = wasi::cli::stdin::get_stdin();
        read_all(&stdin).map(|bytes| bytes.len() as u64)
    }

    fn await_peer(addr: String) -> Result<Vec<u8>, String> {
        let (input, _output) = connect_tcp(&addr)?;
        input.blocking_read(1).map_err(|e| format!("read: {e:?}"))
    }

    fn open_many(dir: String, path: String, n: u32) -> Result<u32, String> {
        let mut held = Vec::new();
        for _ in 0..n {
            held.push(open(&dir, &path, false)?);
        }
        Ok(held.len() as u32)
    }

    fn hold_pollables(n: u32) -> u32 {
        let held: Vec<_> = (0..n)
            .map(|_| wasi::clocks::monotonic_clock::subscribe_duration(1_000_000_000))
            .collect();
        held.len() as u32
    }

    fn listen(addr: String) -> Result<(), String> {
        let network = wasi::sockets::instance_network::instance_network();
        let socket = wasi::sockets::tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv4)
            .map_err(|e| format!("create: {e:?}"))?;
        socket
            .start_bind(&network, ipv4(&addr)?)
            .map_err(|e| format!("bind: {e:?}"))?;
        finish(&socket.subscribe(), || socket.finish_bind()).map_err(|e| format!("bind: {e:?}"))?;
        socket
            .start_listen()
            .map_err(|e| format!("listen: {e:?}"))?;
        finish(&socket.subscribe(), || socket.finish_listen()).map_err(|e| format!("listen: {e:?}"))
    }

    fn udp_send(addr: String, payload: String) -> Result<(), String> {
        use wasi::sockets::udp::OutgoingDatagram;
        let network = wasi::sockets::instance_network::instance_network();
        let socket = wasi::sockets::udp_create_socket::create_udp_socket(IpAddressFamily::Ipv4)
            .map_err(|e| format!("create: {e:?}"))?;
        let any = IpSocketAddress::Ipv4(Ipv4SocketAddress {
            port: 0,
            address: (0, 0, 0, 0),
        });
        socket
            .start_bind(&network, any)
            .map_err(|e| format!("bind: {e:?}"))?;
        finish(&socket.subscribe(), || socket.finish_bind()).map_err(|e| format!("bind: {e:?}"))?;
        let (_incoming, outgoing) = socket.stream(None).map_err(|e| format!("stream: {e:?}"))?;
        outgoing.subscribe().block();
        outgoing.check_send().map_err(|e| format!("send: {e:?}"))?;
        let datagram = OutgoingDatagram {
            data: payload.into_bytes(),
            remote_address: Some(ipv4(&addr)?),
        };
        outgoing
            .send(&[datagram])
            .map(|_| ())
            .map_err(|e| format!("send: {e:?}"))
    }

    fn modified(dir: String, path: String) -> Result<u64, String> {
        let stat = preopen(&dir)?
            .stat_at(PathFlags::SYMLINK_FOLLOW, &path)
            .map_err(|e| format!("{e:?}"))?;
        let time = stat
            .data_modification_timestamp
            .ok_or("no modification time")?;
        Ok(time.seconds * 1_000_000_000 + u64::from(time.nanoseconds))
    }
}

/// `a.b.c.d:port` as a WASI socket address.
fn ipv4(addr: &str) -> Result<IpSocketAddress, String> {
    let (ip, port) = addr.split_once(':').ok_or("not a.b.c.d:port")?;
    let octets: Vec<u8> = ip.split('.').filter_map(|o| o.parse().ok()).collect();
    let [a, b, c, d] = octets[..] else {
        return Err("not an IPv4 address".into());
    };
    let port: u16 = port.parse().map_err(|_| "bad port")?;
    Ok(IpSocketAddress::Ipv4(Ipv4SocketAddress {
        port,
        address: (a, b, c, d),
    }))
}

/// Calls a `finish-*` function until it stops saying would-block.
fn finish<R>(
    ready: &wasi::io::poll::Pollable,
    mut attempt: impl FnMut() -> Result<R, wasi::sockets::network::ErrorCode>,
) -> Result<R, wasi::sockets::network::ErrorCode> {
    loop {
        match attempt() {
            Err(wasi::sockets::network::ErrorCode::WouldBlock) => ready.block(),
            other => return other,
        }
    }
}

/// Opens a TCP connection to an IPv4 `a.b.c.d:port`.
fn connect_tcp(
    addr: &str,
) -> Result<
    (
        wasi::io::streams::InputStream,
        wasi::io::streams::OutputStream,
    ),
    String,
> {
    let network = wasi::sockets::instance_network::instance_network();
    let socket = wasi::sockets::tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv4)
        .map_err(|e| format!("create: {e:?}"))?;
    socket
        .start_connect(&network, ipv4(addr)?)
        .map_err(|e| format!("connect: {e:?}"))?;
    let streams = finish(&socket.subscribe(), || socket.finish_connect())
        .map_err(|e| format!("connect: {e:?}"));
    // The streams are children of the socket: keep it alive as long as the process.
    std::mem::forget(socket);
    streams
}

export!(Prober);
