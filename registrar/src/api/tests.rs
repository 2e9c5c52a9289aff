use super::*;
use crate::config::{SecretSources, parse_config};
use axum::http::Request as HttpRequest;
use tower::ServiceExt;

const KEY: &str = "deploy-key-0123456789";
const ADMIN: &str = "admin-token-0123456789";

fn app(dir: &std::path::Path, extra: &str) -> Router {
    let text = format!(
        "[registrar]\ndeploy_key = \"{KEY}\"\nadmin_token = \"{ADMIN}\"\nbroker_auth_db = \"{}\"\n{extra}",
        dir.join("sqlite.db").display()
    );
    let settings = parse_config(&text, "r.toml", &SecretSources::default()).unwrap();
    let registry = Registry::open(&settings.broker_auth_db).unwrap();
    router(AppState::new(registry, settings))
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, Value) {
    call_from(app, "192.0.2.1", method, uri, headers, body).await
}

async fn call_from(
    app: &Router,
    from: &str,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, Value) {
    let mut request = HttpRequest::builder()
        .method(method)
        .uri(uri)
        .header("host", "127.0.0.1:8090");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let mut request = request.body(Body::from(body.to_owned())).unwrap();
    let peer: SocketAddr = SocketAddr::new(from.parse().unwrap(), 40000);
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

fn registration(name: &str, key: &str) -> String {
    json!({"name": name, "hostname": name, "deploy_key": key, "honeypot": "recce7"}).to_string()
}

#[tokio::test]
async fn a_sensor_registers_as_with_mhn() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), "");
    let (status, v) = call(
        &app,
        "POST",
        "/api/sensor/",
        &[],
        &registration("pi-1", KEY),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    for field in [
        "uuid",
        "name",
        "honeypot",
        "created_date",
        "ip",
        "hostname",
        "identifier",
        "secret",
        "publish",
        "broker_host",
        "broker_port",
    ] {
        assert!(v.get(field).is_some(), "{field} missing: {v}");
    }
    assert_eq!(v["identifier"], v["uuid"]);
    assert_eq!(v["ip"], "192.0.2.1");
    assert_eq!(v["publish"], json!(["recce7.events"]));
    assert_eq!(v["broker_host"], "127.0.0.1");
    assert_eq!(v["broker_port"], 10000);
    let (status, v) = call(
        &app,
        "POST",
        "/api/sensor/",
        &[],
        &registration("pi-1", KEY),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["error"],
        "Sensor with name or hostname \"pi-1\" already exists."
    );
}

#[tokio::test]
async fn every_refusal_has_mhns_text_or_a_clear_one() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), "[registrar.limits]\nmax_body_bytes = 512\n");
    let cases: Vec<(String, StatusCode, &str)> = vec![
        (
            registration("pi-1", "wrong-key-0123456789"),
            StatusCode::UNAUTHORIZED,
            "Not authorized to perform this request.",
        ),
        (
            json!({"name": "pi-1", "hostname": "pi-1", "honeypot": "recce7"}).to_string(),
            StatusCode::UNAUTHORIZED,
            "Not authorized to perform this request.",
        ),
        (
            json!({"deploy_key": KEY, "hostname": "pi-1"}).to_string(),
            StatusCode::BAD_REQUEST,
            "Missing required fields: ['name', 'honeypot'].",
        ),
        (
            json!({"name": "pi-1", "hostname": "pi-1", "deploy_key": KEY, "honeypot": "nope"})
                .to_string(),
            StatusCode::BAD_REQUEST,
            "Unknown honeypot type \"nope\": this registrar knows amun, conpot, cowrie, dionaea, elastichoney, glastopf, kippo, p0f, recce7, shockpot, snort, suricata, wordpot (registrar.honeypot_channels).",
        ),
        (
            "not json".into(),
            StatusCode::BAD_REQUEST,
            "The request body must be a JSON object (Content-Type: application/json).",
        ),
        (
            format!(
                "{{\"deploy_key\": \"{KEY}\", \"pad\": \"{}\"}}",
                "x".repeat(600)
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "The request body is larger than 512 bytes.",
        ),
    ];
    for (body, status, text) in cases {
        let (got, v) = call(&app, "POST", "/api/sensor/", &[], &body).await;
        assert_eq!(
            (got, v["error"].as_str().unwrap_or("")),
            (status, text),
            "{body}"
        );
    }
    let (status, v) = call(
        &app,
        "POST",
        "/api/sensor/",
        &[("host", "evil.example")],
        &registration("pi-1", KEY),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, v) = call(&app, "GET", "/api/nope/", &[], "").await;
    assert_eq!(
        (status, v["error"].as_str()),
        (
            StatusCode::NOT_FOUND,
            Some("Requested resource was not found.")
        )
    );
}

#[tokio::test]
async fn a_host_header_naming_another_service_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), "");
    let request = HttpRequest::builder()
        .method("POST")
        .uri("/api/sensor/")
        .header("host", "evil.example")
        .body(Body::from(registration("pi-1", KEY)))
        .unwrap();
    let mut request = request;
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 1))));
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::MISDIRECTED_REQUEST);
    // An absolute-form target naming another host is refused too.
    let mut request = HttpRequest::builder()
        .uri("http://evil.example/metrics")
        .header("host", "127.0.0.1")
        .body(Body::empty())
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 1))));
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::MISDIRECTED_REQUEST);
}

#[tokio::test]
async fn wrong_keys_are_limited_per_source_and_a_blocked_source_learns_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(
        dir.path(),
        "[registrar.limits]\nmax_failed_attempts_per_minute = 3\n",
    );
    for i in 0..3 {
        let (status, _) = call(
            &app,
            "POST",
            "/api/sensor/",
            &[],
            &registration(&format!("g{i}"), "guess-0123456789ab"),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Blocked: even the right key gets 429 now.
    let (status, v) = call(
        &app,
        "POST",
        "/api/sensor/",
        &[],
        &registration("pi-1", KEY),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(
        v["error"],
        "Too many failed attempts from this address; try again in a minute."
    );
    // Admin guesses from there are blocked too; another address is not.
    let (status, _) = call(
        &app,
        "GET",
        "/api/sensors/",
        &[("authorization", &format!("Bearer {ADMIN}"))],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, _) = call_from(
        &app,
        "192.0.2.2",
        "POST",
        "/api/sensor/",
        &[],
        &registration("pi-1", KEY),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, metrics) = call(&app, "GET", "/metrics", &[], "").await;
    let text = metrics.as_str().unwrap();
    assert!(
        text.contains("recce7_registrar_refusals_total{reason=\"not_authorized\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("recce7_registrar_refusals_total{reason=\"rate_limited\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("recce7_registrar_registrations_total 1"),
        "{text}"
    );
    assert!(text.contains("recce7_registrar_sensors 1"), "{text}");
}

#[tokio::test]
async fn the_admin_lists_and_revokes_and_sensors_connect() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), "");
    let (_, reg) = call(
        &app,
        "POST",
        "/api/sensor/",
        &[],
        &registration("pi-1", KEY),
    )
    .await;
    let uuid = reg["uuid"].as_str().unwrap().to_owned();
    let secret = reg["secret"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {ADMIN}");
    for headers in [
        vec![],
        vec![("authorization", "Bearer wrong-token-0123456789")],
        vec![("authorization", KEY)],
    ] {
        let (status, v) = call(&app, "GET", "/api/sensors/", &headers, "").await;
        assert_eq!(
            (status, v["error"].as_str()),
            (
                StatusCode::UNAUTHORIZED,
                Some("Not authorized to perform this request.")
            )
        );
    }
    let (status, list) = call(
        &app,
        "GET",
        "/api/sensors/",
        &[("authorization", &bearer)],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0].get("secret").is_none(), "{list}");
    let (status, _) = call(&app, "GET", "/api/sensor/", &[("apikey", ADMIN)], "").await;
    assert_eq!(status, StatusCode::OK);
    // CHN's connect: basic auth with the uuid and the secret (not the uuid: every subscriber
    // sees it as the publisher's ident).
    let basic =
        |user: &str, password: &str| format!("Basic {}", base64(&format!("{user}:{password}")));
    let connect = format!("/api/sensor/{uuid}/connect/");
    let (status, v) = call_from(
        &app,
        "192.0.2.77",
        "POST",
        &connect,
        &[("authorization", &basic(&uuid, &secret))],
        "",
    )
    .await;
    assert_eq!(
        (status, v["ip"].as_str()),
        (StatusCode::OK, Some("192.0.2.77"))
    );
    let (status, _) = call(
        &app,
        "POST",
        &connect,
        &[("authorization", &basic(&uuid, &uuid))],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(
        &app,
        "POST",
        &connect,
        &[("authorization", &basic(&uuid, "nope"))],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Revoke.
    let path = format!("/api/sensor/{uuid}/");
    let (status, _) = call(&app, "DELETE", &path, &[], "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, v) = call(&app, "DELETE", &path, &[("authorization", &bearer)], "").await;
    assert_eq!(
        (status, v["revoked"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{v}"
    );
    for bad in [
        "/api/sensor/not-a-uuid/",
        "/api/sensor/00000000-0000-4000-8000-000000000000/",
    ] {
        let (status, _) = call(&app, "DELETE", bad, &[("authorization", &bearer)], "").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
    }
    let (status, _) = call(
        &app,
        "POST",
        &connect,
        &[("authorization", &basic(&uuid, &secret))],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The name is free again.
    let (status, _) = call(
        &app,
        "POST",
        "/api/sensor/",
        &[],
        &registration("pi-1", KEY),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn base64_decodes_as_basic_auth_needs() {
    let decode = |text: &str| BASIC_AUTH.decode(text).ok();
    assert_eq!(decode("dXNlcjpwYXNz").unwrap(), b"user:pass");
    assert_eq!(decode("YQ==").unwrap(), b"a");
    assert_eq!(decode("YQ").unwrap(), b"a");
    assert!(decode("a b").is_none());
    assert_eq!(decode(&base64("x:y:z")).unwrap(), b"x:y:z");
}

/// Standard base64, for the tests' `Authorization: Basic`.
fn base64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), "[registrar.limits]\nheader_timeout_secs = 1\n");
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    tx.send(Ok(Bytes::from_static(b"{"))).await.unwrap();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut request = HttpRequest::builder()
        .method("POST")
        .uri("/api/sensor/")
        .header("host", "127.0.0.1:8090")
        .header("content-length", "100")
        .body(Body::from_stream(stream))
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 1))));
    let response = tokio::time::timeout(std::time::Duration::from_secs(5), app.oneshot(request))
        .await
        .expect("answered before the client's body ends")
        .unwrap();
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    drop(tx);
}
