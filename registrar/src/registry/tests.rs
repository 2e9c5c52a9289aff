use super::*;

fn sensor(name: &str, hostname: &str) -> NewSensor {
    NewSensor {
        name: name.into(),
        hostname: hostname.into(),
        honeypot: "recce7".into(),
        ip: "192.0.2.1".into(),
        publish: vec!["recce7.events".into()],
    }
}

/// The row the broker reads for `ident`, exactly as hpfeeds3 unpacks it.
fn broker_row(path: &Path, ident: &str) -> Option<(String, String, String, String, String)> {
    let db = Connection::open(path).unwrap();
    db.query_row("select * from authkeys where ident=?", [ident], |r| {
        let _id: i64 = r.get(0)?;
        Ok((r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
    })
    .optional()
    .unwrap()
}

#[test]
fn a_registration_writes_the_sensor_and_its_key_together() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sqlite.db");
    let mut registry = Registry::open(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let r = registry
        .register(&sensor("pi-1-recce7", "pi-1"), 10)
        .unwrap();
    assert_eq!(r.identifier, r.uuid);
    assert_eq!(r.secret.len(), SECRET_CHARS);
    assert!(r.secret.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(uuid::Uuid::parse_str(&r.uuid).unwrap().get_version_num(), 4);
    assert_eq!(r.created_date.len(), "2026-12-07 10:00:00.000000".len());
    let (owner, ident, secret, pubchans, subchans) = broker_row(&path, &r.uuid).unwrap();
    assert_eq!(
        (owner.as_str(), ident.as_str(), secret.as_str()),
        (AUTHKEY_OWNER, r.uuid.as_str(), r.secret.as_str())
    );
    assert_eq!(
        (pubchans.as_str(), subchans.as_str()),
        ("[\"recce7.events\"]", "[]")
    );
    // Names stay unique among active sensors; the host name per honeypot type.
    assert!(matches!(
        registry.register(&sensor("pi-1-recce7", "pi-2"), 10),
        Err(RegistryError::Taken)
    ));
    assert!(matches!(
        registry.register(&sensor("other", "pi-1"), 10),
        Err(RegistryError::Taken)
    ));
    let cowrie = NewSensor {
        honeypot: "cowrie".into(),
        ..sensor("pi-1-cowrie", "pi-1")
    };
    registry.register(&cowrie, 10).unwrap();
    assert!(matches!(
        registry.register(&sensor("pi-3", "pi-3"), 2),
        Err(RegistryError::Full)
    ));
    let listed = registry.list().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].publish, ["recce7.events"]);
    assert!(!listed[0].revoked);
    assert_eq!(registry.active_count().unwrap(), 2);
    assert_eq!(
        registry.secret_of(&r.uuid).unwrap().as_deref(),
        Some(r.secret.as_str())
    );
}

#[test]
fn a_revoked_sensor_loses_its_key_and_frees_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sqlite.db");
    let mut registry = Registry::open(&path).unwrap();
    let r = registry
        .register(&sensor("pi-1-recce7", "pi-1"), 10)
        .unwrap();
    let revoked = registry.revoke(&r.uuid).unwrap().unwrap();
    assert!(revoked.revoked && revoked.publish.is_empty());
    assert!(broker_row(&path, &r.uuid).is_none());
    assert_eq!(registry.secret_of(&r.uuid).unwrap(), None);
    let first = revoked.revoked_date.clone();
    assert_eq!(
        registry.revoke(&r.uuid).unwrap().unwrap().revoked_date,
        first
    );
    assert_eq!(
        registry
            .revoke("00000000-0000-4000-8000-000000000000")
            .unwrap(),
        None
    );
    // The same name registers again (a reinstalled Pi), with a new ident.
    let again = registry
        .register(&sensor("pi-1-recce7", "pi-1"), 10)
        .unwrap();
    assert_ne!(again.uuid, r.uuid);
    assert_eq!(registry.list().unwrap().len(), 2);
    assert!(registry.update_ip(&r.uuid, "192.0.2.7").unwrap().is_none());
    assert_eq!(
        registry
            .update_ip(&again.uuid, "192.0.2.7")
            .unwrap()
            .unwrap()
            .ip,
        "192.0.2.7"
    );
}

#[test]
fn an_existing_broker_store_is_used_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sqlite.db");
    {
        // As hpfeeds3 creates it, with a key of its own.
        let db = Connection::open(&path).unwrap();
        db.execute_batch(
            "create table logs (id integer primary key autoincrement, data TEXT);
             create table stats (id integer primary key autoincrement, ak TEXT, uid TEXT, data TEXT);
             create table authkeys (id integer primary key autoincrement, owner TEXT, ident TEXT,
                 secret TEXT, pubchans TEXT, subchans TEXT);
             insert into authkeys (owner, ident, secret, pubchans, subchans)
                 values ('me', 'normalizer', 's', '[]', '[\"recce7.events\"]');",
        )
        .unwrap();
    }
    let mut registry = Registry::open(&path).unwrap();
    registry.register(&sensor("a", "a"), 10).unwrap();
    assert!(broker_row(&path, "normalizer").is_some());
    assert_eq!(registry.list().unwrap().len(), 1);
}

#[test]
fn secrets_and_uuids_differ_every_time() {
    let a = new_secret().unwrap();
    let b = new_secret().unwrap();
    assert_ne!(a, b);
    assert_ne!(new_uuid().unwrap(), new_uuid().unwrap());
}
