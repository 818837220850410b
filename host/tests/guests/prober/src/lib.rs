//! A hostile plugin: tries to reach files, variables and hosts, and reports what happened.
//! Filesystem and socket calls go straight to WASI (the `wasi` crate), so what is tested is the
//! host's sandbox, not the guest's libc.

componentry_sdk::wit_bindgen::generate!({
    path: "../wit",
    world: "prober",
    runtime_path: "componentry_sdk::wit_bindgen::rt",
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
        let (ip, port) = addr.split_once(':').ok_or("not a.b.c.d:port")?;
        let octets: Vec<u8> = ip.split('.').filter_map(|o| o.parse().ok()).collect();
        let [a, b, c, d] = octets[..] else {
            return Err("not an IPv4 address".into());
        };
        let port: u16 = port.parse().map_err(|_| "bad port")?;
        let network = wasi::sockets::instance_network::instance_network();
        let socket = wasi::sockets::tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv4)
            .map_err(|e| format!("create: {e:?}"))?;
        let remote = IpSocketAddress::Ipv4(Ipv4SocketAddress {
            port,
            address: (a, b, c, d),
        });
        socket
            .start_connect(&network, remote)
            .map_err(|e| format!("connect: {e:?}"))?;
        loop {
            match socket.finish_connect() {
                Ok(_) => return Ok(()),
                Err(wasi::sockets::network::ErrorCode::WouldBlock) => socket.subscribe().block(),
                Err(e) => return Err(format!("connect: {e:?}")),
            }
        }
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
}

export!(Prober);
