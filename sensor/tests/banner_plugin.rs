//! The example plug-in end to end, in-process: the pattern a new plug-in author copies.
//! Build a config, bind the sensor, talk to it over a real socket, shut it down with the token,
//! and check every recorded row in SQLite.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn banner_plugin_records_every_line_and_answers_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sensor.sqlite");
    let port = testkit::free_port();
    let config = sensor::config::parse(
        &format!(
            r#"
[sensor]
name = "example"
listen = ["127.0.0.1"]
database = "{}"

[[plugin]]
name = "ftp"
kind = "banner"
port = {port}
table = "ftp"
[plugin.options]
banner = "220 (vsFTPd 3.0.3)\r\n"
reply = "530 Please login with USER and PASS.\r\n"
protocol = "ftp"
"#,
            db.display()
        ),
        "example.toml",
    )
    .expect("a valid config");

    let sensor = sensor::Sensor::bind(config).expect("bind and open the store");
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(sensor.run(shutdown.clone()));

    let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    assert_eq!(
        lines.next_line().await.unwrap().unwrap(),
        "220 (vsFTPd 3.0.3)"
    );
    for command in ["USER anonymous", "PASS guest@", "RETR /etc/passwd"] {
        write
            .write_all(format!("{command}\r\n").as_bytes())
            .await
            .unwrap();
        let reply = lines.next_line().await.unwrap().unwrap();
        assert_eq!(reply, "530 Please login with USER and PASS.");
    }
    drop(write);
    drop(lines);

    // Give the session a moment to see the close, then stop: the recorder drains before run ends.
    tokio::time::sleep(Duration::from_millis(200)).await;
    shutdown.cancel();
    let summary = running.await.unwrap().unwrap();
    assert_eq!((summary.accepted, summary.ended, summary.lost), (1, 1, 0));

    let conn = rusqlite::Connection::open(&db).unwrap();
    let recorded: Vec<String> = conn
        .prepare("SELECT line FROM ftp WHERE eventType = 'service.input' ORDER BY ID")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        recorded,
        ["USER anonymous", "PASS guest@", "RETR /etc/passwd"]
    );
    let (protocol, reason): (String, String) = conn
        .query_row("SELECT protocol, closeReason FROM sessions", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((protocol.as_str(), reason.as_str()), ("ftp", "peer closed"));
}
