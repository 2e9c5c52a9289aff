//! The SSH server as an attacker meets it before logging in: russh with the plug-in's own config
//! (`sensor::plugins::ssh::server_config`: Dropbear's algorithms, an ECDSA host key) and its
//! handler, fed arbitrary client bytes. The release binary aborts on a panic, so a panic here
//! would be a remote kill of the sensor. Past the key exchange everything is encrypted, so this
//! covers the version line, the packet framing, KEXINIT and the client's key-exchange message.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use sensor::persona::Persona;
use sensor::plugins::ssh::handler::SshHandler;
use sensor::plugins::ssh::login::LoginDecision;
use sensor::plugins::ssh::{hostkey, server_config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Every login is refused (the fuzzer never gets past the key exchange anyway).
#[derive(Debug)]
struct Refuse;

impl LoginDecision for Refuse {
    fn accept(&self, _peer: IpAddr, _user: &[u8], _password: &[u8]) -> bool {
        false
    }
}

static PERSONA: LazyLock<Arc<Persona>> = LazyLock::new(|| Arc::new(Persona::default()));

static CONFIG: LazyLock<Arc<russh::server::Config>> = LazyLock::new(|| {
    let dir = std::env::temp_dir().join(format!("recce7-fuzz-ssh-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a key directory");
    let key = hostkey::load_or_create(&dir.join(hostkey::FILE_NAME)).expect("a host key");
    let _ = std::fs::remove_dir_all(&dir);
    Arc::new(server_config(key, &PERSONA, 10))
});

fuzz_target!(|input: &[u8]| {
    let config = Arc::clone(&CONFIG);
    // A runtime per input: dropping it drops every task the input started (russh spawns the
    // session itself), so nothing of one input outlives it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let (events, mut queued) = tokio::sync::mpsc::channel(32);
        let handler = SshHandler::new(
            events,
            Arc::new(Refuse),
            Arc::clone(&PERSONA),
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            1024,
            10,
        );
        let run = tokio::spawn(async move {
            if let Ok(running) = russh::server::run_stream(config, server, handler).await {
                let _ = running.await;
            }
        });
        let (mut from_server, mut to_server) = tokio::io::split(client);
        let input = input.to_vec();
        let writer = tokio::spawn(async move {
            let _ = to_server.write_all(&input).await;
            let _ = to_server.shutdown().await;
        });
        // Whatever the server answers is read and dropped until it hangs up or goes quiet.
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            let mut buf = vec![0u8; 16 * 1024];
            while from_server.read(&mut buf).await.is_ok_and(|n| n > 0) {}
        })
        .await;
        while queued.try_recv().is_ok() {}
        writer.abort();
        drop(from_server);
        // The client is gone: the server sees the end of its input and stops.
        let _ = tokio::time::timeout(Duration::from_millis(100), run).await;
    });
    drop(runtime);
});
