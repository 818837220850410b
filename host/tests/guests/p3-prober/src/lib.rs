//! A hostile WASI 0.3 plugin: it tries to read files and environment variables through WASI
//! 0.3's own interfaces, and reports what it reached instead of trapping. The tests give it the
//! grants they give the WASI 0.2 `prober` and expect the same answers.

componentry_sdk::wit_bindgen::generate!({
    path: "../wit",
    world: "p3-prober",
    runtime_path: "componentry_sdk::wit_bindgen::rt",
});

use wasip3::cli::environment;
use wasip3::filesystem::preopens;
use wasip3::filesystem::types::{Descriptor, DescriptorFlags, OpenFlags, PathFlags};
use wasip3::sockets::types::{
    IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, TcpSocket, UdpSocket,
};

struct P3Prober;

impl Guest for P3Prober {
    async fn read_at(dir: String, path: String) -> Result<String, String> {
        let directory = preopened(&dir)?;
        // Following symlinks, as an attacker would: a link pointing out must still be refused.
        let file = directory
            .open_at(
                PathFlags::SYMLINK_FOLLOW,
                path,
                OpenFlags::empty(),
                DescriptorFlags::READ,
            )
            .await
            .map_err(|e| format!("{e:?}"))?;
        let (stream, done) = file.read_via_stream(0);
        let bytes = stream.collect().await;
        done.await.map_err(|e| format!("{e:?}"))?;
        String::from_utf8(bytes).map_err(|e| e.to_string())
    }

    async fn preopens() -> Vec<String> {
        preopens::get_directories()
            .into_iter()
            .map(|(_, name)| name)
            .collect()
    }

    async fn get_env(name: String) -> Option<String> {
        environment::get_environment()
            .into_iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }

    async fn write_at(dir: String, path: String, text: String) -> Result<(), String> {
        let directory = preopened(&dir)?;
        let file = directory
            .open_at(
                PathFlags::SYMLINK_FOLLOW,
                path,
                OpenFlags::CREATE | OpenFlags::TRUNCATE,
                DescriptorFlags::WRITE,
            )
            .await
            .map_err(|e| format!("{e:?}"))?;
        let (mut writer, reader) = wasip3::wit_stream::new();
        let done = file.write_via_stream(reader, 0);
        let rest = writer.write_all(text.into_bytes()).await;
        drop(writer);
        if !rest.is_empty() {
            return Err("the write stopped short".to_owned());
        }
        done.await.map_err(|e| format!("{e:?}"))
    }

    async fn connect(addr: String) -> Result<(), String> {
        let socket =
            TcpSocket::create(IpAddressFamily::Ipv4).map_err(|e| format!("create: {e:?}"))?;
        socket
            .connect(ipv4(&addr)?)
            .await
            .map_err(|e| format!("connect: {e:?}"))
    }

    async fn listen(addr: String) -> Result<(), String> {
        let socket =
            TcpSocket::create(IpAddressFamily::Ipv4).map_err(|e| format!("create: {e:?}"))?;
        socket
            .bind(ipv4(&addr)?)
            .map_err(|e| format!("bind: {e:?}"))?;
        socket
            .listen()
            .map(drop)
            .map_err(|e| format!("listen: {e:?}"))
    }

    async fn modified_at(dir: String, path: String) -> Result<(i64, i64), String> {
        let directory = preopened(&dir)?;
        let seconds = |stat: wasip3::filesystem::types::DescriptorStat| {
            stat.data_modification_timestamp
                .map_or(-1, |instant| instant.seconds)
        };
        let by_path = directory
            .stat_at(PathFlags::empty(), path.clone())
            .await
            .map_err(|e| format!("stat-at: {e:?}"))?;
        let file = directory
            .open_at(
                PathFlags::empty(),
                path,
                OpenFlags::empty(),
                DescriptorFlags::READ,
            )
            .await
            .map_err(|e| format!("open-at: {e:?}"))?;
        let opened = file.stat().await.map_err(|e| format!("stat: {e:?}"))?;
        Ok((seconds(by_path), seconds(opened)))
    }

    async fn udp_send(addr: String, text: String) -> Result<(), String> {
        let socket =
            UdpSocket::create(IpAddressFamily::Ipv4).map_err(|e| format!("create: {e:?}"))?;
        socket
            .send(text.into_bytes(), Some(ipv4(&addr)?))
            .await
            .map_err(|e| format!("send: {e:?}"))
    }

    async fn resolve(name: String) -> Result<Vec<String>, String> {
        let found = wasip3::sockets::ip_name_lookup::resolve_addresses(name)
            .await
            .map_err(|e| format!("lookup: {e:?}"))?;
        Ok(found
            .into_iter()
            .map(|address| match address {
                IpAddress::Ipv4((a, b, c, d)) => format!("{a}.{b}.{c}.{d}"),
                IpAddress::Ipv6(_) => "ipv6".to_owned(),
            })
            .collect())
    }

    async fn entropy() -> (u64, u64) {
        let random = wasip3::random::random::get_random_u64();
        let now = wasip3::clocks::system_clock::now();
        let seconds = u64::try_from(now.seconds).unwrap_or_default();
        (random, seconds * 1_000_000_000 + u64::from(now.nanoseconds))
    }
}

/// The preopened directory named `dir`.
fn preopened(dir: &str) -> Result<Descriptor, String> {
    preopens::get_directories()
        .into_iter()
        .find(|(_, name)| name == dir)
        .map(|(directory, _)| directory)
        .ok_or_else(|| format!("no preopened directory `{dir}`"))
}

/// `a.b.c.d:port` as a socket address.
fn ipv4(addr: &str) -> Result<IpSocketAddress, String> {
    let parsed: std::net::SocketAddrV4 = addr
        .parse()
        .map_err(|_| format!("not an address: {addr}"))?;
    let [a, b, c, d] = parsed.ip().octets();
    Ok(IpSocketAddress::Ipv4(Ipv4SocketAddress {
        port: parsed.port(),
        address: (a, b, c, d),
    }))
}

export!(P3Prober);
