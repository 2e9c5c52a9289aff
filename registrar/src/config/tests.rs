use super::*;

const KEY: &str = "deploy-key-0123456789";

fn with_key() -> SecretSources {
    SecretSources {
        deploy_key_env: Some(Secret::new(KEY)),
        admin_token_env: None,
    }
}

#[test]
fn the_shipped_config_is_valid_with_a_deploy_key_and_local() {
    let problems = parse_config(
        SHIPPED_CONFIG,
        "configs/registrar.toml",
        &SecretSources::default(),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(problems.lines().count(), 1, "{problems}");
    assert!(
        problems.starts_with("configs/registrar.toml: registrar.deploy_key: required"),
        "{problems}"
    );
    let s = parse_config(SHIPPED_CONFIG, "configs/registrar.toml", &with_key()).unwrap();
    assert!(s.listen.ip().is_loopback());
    assert_eq!(s.deploy_key.expose(), KEY);
    assert_eq!(s.admin_token, None);
    assert_eq!(s.broker_port, 10000);
    assert_eq!(s.broker_host, None);
    // The shipped table is the default one.
    assert_eq!(s.honeypot_channels, default_honeypot_channels());
    assert_eq!(s.honeypot_channels["recce7"], ["recce7.events"]);
    // Secrets never reach a log through Debug.
    let debug = format!("{s:?}");
    assert!(!debug.contains(KEY), "{debug}");
}

#[test]
fn every_problem_is_named_with_its_key() {
    let text = r#"
[registrar]
listen = "0.0.0.0"
deploy_key = "short"
admin_token = "has space 0123456789"
broker_port = 0
hosts = ["ok.example", "bad host"]
bogus = 1

[registrar.limits]
max_body_bytes = 1
max_failed_attempts_per_minute = 0

[registrar.honeypot_channels]
recce7 = []
"bad type" = ["x"]
cowrie = ["cowrie sessions"]
"#;
    let problems = parse_config(text, "r.toml", &SecretSources::default())
        .unwrap_err()
        .to_string();
    let keys: Vec<&str> = problems
        .lines()
        .map(|l| l.split(": ").nth(1).unwrap())
        .collect();
    for key in [
        "registrar.bogus",
        "registrar.listen",
        "registrar.deploy_key",
        "registrar.admin_token",
        "registrar.hosts[1]",
        "registrar.broker_port",
        "registrar.honeypot_channels.recce7",
        "registrar.honeypot_channels.bad type",
        "registrar.honeypot_channels.cowrie[0]",
        "registrar.limits.max_body_bytes",
        "registrar.limits.max_failed_attempts_per_minute",
    ] {
        assert!(keys.contains(&key), "{key} missing from:\n{problems}");
    }
    assert!(problems.contains("registrar.deploy_key: must be 16 to 256 characters"));
    // Neither secret is echoed.
    assert!(!problems.contains("short\"") && !problems.contains("has space"));
}

#[test]
fn secrets_come_from_the_environment_a_file_or_the_config_in_that_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("key");
    std::fs::write(&file, "  from-the-file-0123456789\n").unwrap();
    let with_file = format!(
        "[registrar]\ndeploy_key_file = \"{}\"\nadmin_token = \"admin-token-0123456789\"\n",
        file.display()
    );
    let none = SecretSources::default();
    let s = parse_config(&with_file, "r.toml", &none).unwrap();
    assert_eq!(s.deploy_key.expose(), "from-the-file-0123456789");
    assert_eq!(
        s.admin_token.as_ref().map(Secret::expose),
        Some("admin-token-0123456789")
    );
    let s = parse_config(&with_file, "r.toml", &with_key()).unwrap();
    assert_eq!(s.deploy_key.expose(), KEY);
    let both = format!(
        "[registrar]\ndeploy_key = \"{KEY}\"\ndeploy_key_file = \"{}\"\n",
        file.display()
    );
    let problems = parse_config(&both, "r.toml", &none)
        .unwrap_err()
        .to_string();
    assert_eq!(
        problems,
        "r.toml: registrar.deploy_key_file: give deploy_key or deploy_key_file, not both (line 3)"
    );
    let missing = "[registrar]\ndeploy_key_file = \"/nonexistent/recce7-key\"\n";
    let problems = parse_config(missing, "r.toml", &none)
        .unwrap_err()
        .to_string();
    assert!(
        problems
            .starts_with("r.toml: registrar.deploy_key_file: cannot read /nonexistent/recce7-key"),
        "{problems}"
    );
    let same = format!("[registrar]\ndeploy_key = \"{KEY}\"\nadmin_token = \"{KEY}\"\n");
    let problems = parse_config(&same, "r.toml", &none)
        .unwrap_err()
        .to_string();
    assert!(
        problems.starts_with("r.toml: registrar.admin_token: must differ from the deploy key"),
        "{problems}"
    );
}

#[test]
fn a_honeypot_table_replaces_the_defaults() {
    let text = format!(
        "[registrar]\ndeploy_key = \"{KEY}\"\nbroker_host = \"broker.example.org\"\nbroker_port = 20000\n[registrar.honeypot_channels]\nrecce7 = [\"recce7.events\", \"recce7.extra\"]\n"
    );
    let s = parse_config(&text, "r.toml", &SecretSources::default()).unwrap();
    assert_eq!(s.honeypot_channels.len(), 1);
    assert_eq!(s.broker_host.as_deref(), Some("broker.example.org"));
    assert_eq!(s.broker_port, 20000);
}
