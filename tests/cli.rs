//! The binary's command line, run as a process on a temporary SQLite store.

#[path = "support/pg_database.rs"]
mod pg_database;

use std::process::Command;

use pg_database::PgDatabase;

fn cli(db: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_property-contacts"))
        .env("DATABASE_URL", db)
        .env_remove("RUST_LOG")
        .args(args)
        .output()
        .expect("run property-contacts")
}

#[test]
fn keys_create_list_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("cli.db").display());

    let out = cli(&db, &["migrate"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let out = cli(
        &db,
        &["keys", "create", "--tenant", "acme", "--name", "channel-manager", "--scopes", "read,admin"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let key = stdout.trim();
    // The key alone on stdout, nothing else.
    assert_eq!(stdout.lines().count(), 1);
    assert!(key.starts_with("pck_"), "{key}");
    let id = key.split('_').nth(1).unwrap();

    let out = cli(&db, &["keys", "list"]);
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(listing.contains(id) && listing.contains("acme"));
    assert!(listing.contains("read,admin"), "{listing}");
    assert!(!listing.contains(key), "list must never print secrets");

    let out = cli(&db, &["keys", "revoke", id]);
    assert!(out.status.success());
    let out = cli(&db, &["keys", "revoke", id]);
    assert!(!out.status.success(), "revoking twice is an error");

    let out = cli(&db, &["keys", "create", "--tenant", "acme", "--scopes", "read,root"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown scope"));
}

#[test]
fn rejects_unknown_database_scheme() {
    let out = cli("mysql://x", &["migrate"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL"));
}

/// Reads the server's stderr until it logs its address; returns (whether a key was written to a
/// file, the address). Fails if a key ever appears in the log stream.
fn wait_listening(stderr: &mut impl std::io::BufRead) -> (bool, String) {
    let mut key_written = false;
    let mut line = String::new();
    loop {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "server exited before listening");
        assert!(!line.contains("pck_"), "a key reached the log stream: {line}");
        key_written |= line.contains("one admin key was created");
        if line.contains("property-contacts listening") {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            return (key_written, v["listen"].as_str().unwrap().to_owned());
        }
    }
}

/// Minimal HTTP/1.1 GET returning the status code.
fn http_get(addr: &str, path: &str, key: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn first_serve_writes_a_one_time_admin_key_file_and_stops_on_sigterm() {
    use std::io::BufReader;
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("serve.db").display());
    let key_file = dir.path().join("admin.key");
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_property-contacts"))
            .env("DATABASE_URL", &db)
            .env("BOOTSTRAP_KEY_FILE", &key_file)
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env_remove("RUST_LOG")
            .arg("serve")
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let stop = |child: &mut std::process::Child| {
        let ok = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(ok.success());
        assert!(child.wait().unwrap().success(), "serve exits cleanly on SIGTERM");
    };

    let mut child = spawn();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let (written, addr) = wait_listening(&mut stderr);
    assert!(written, "first start says it wrote an admin key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the key file is readable by the service's user alone");
    let key = std::fs::read_to_string(&key_file).unwrap().trim().to_owned();
    assert!(key.starts_with("pck_"), "{key}");
    assert_eq!(http_get(&addr, "/api/v1/properties", &key), 200);
    assert_eq!(http_get(&addr, "/api/v1/properties", "pck_wrong"), 401);
    stop(&mut child);

    // Second start on the same store: keys exist, so none is printed.
    let mut child = spawn();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    std::fs::remove_file(&key_file).unwrap();
    let (again, addr) = wait_listening(&mut stderr);
    assert!(!again);
    assert!(!key_file.exists(), "no second key is written");
    assert_eq!(http_get(&addr, "/api/v1/properties", &key), 200);
    stop(&mut child);
}

/// One HTTP/1.1 request with a body; returns the status code.
fn http_send(addr: &str, method: &str, path: &str, key: &str, body: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn sigterm_turns_readyz_503_and_drains_in_flight_requests() {
    use std::io::{BufReader, Read, Write};
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("drain.db").display());
    let key_file = dir.path().join("admin.key");
    let mut child = Command::new(env!("CARGO_BIN_EXE_property-contacts"))
        .env("DATABASE_URL", &db)
        .env("BOOTSTRAP_KEY_FILE", &key_file)
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("SHUTDOWN_READY_DELAY_MS", "1000")
        .env("DRAIN_TIMEOUT_SECS", "10")
        .env_remove("RUST_LOG")
        .arg("serve")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let (written, addr) = wait_listening(&mut stderr);
    assert!(written);
    let key = std::fs::read_to_string(&key_file).unwrap().trim().to_owned();
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    assert_eq!(http_send(&addr, "PUT", "/api/v1/properties/slow", &key, "{}"), 201);

    // A slow client: headers and half the body now, the rest after shutdown has begun.
    let body = r#"{"contacts":[{"contact_profiles":[{"type":"general"}],"contact_person":{"name":"Ann","language_code":"en-gb"},"phones":[{"phone_number":"+31201234567","phone_tech_type":1}],"email":"ann@hotel.example"}]}"#;
    let (head, tail) = body.split_at(body.len() / 2);
    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        slow,
        "PUT /contacts-api/properties/slow/contacts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
        body.len()
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));

    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    std::thread::sleep(Duration::from_millis(300));
    // Draining: still listening, but no longer ready.
    assert_eq!(http_send(&addr, "GET", "/readyz", &key, ""), 503);
    assert_eq!(http_send(&addr, "GET", "/livez", &key, ""), 200);

    // Past the ready delay the listener is closed, but the in-flight request still completes.
    std::thread::sleep(Duration::from_millis(1200));
    assert!(std::net::TcpStream::connect(&addr).is_err(), "new connections are refused once draining");
    slow.write_all(tail.as_bytes()).unwrap();
    let mut resp = String::new();
    slow.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("\"revision\":1"), "{resp}");
    assert!(child.wait().unwrap().success());
}

/// Several processes on one Postgres each cache keys for `KEY_CACHE_TTL_MS`: a key revoked with the
/// CLI stops working on every one of them within that time.
#[test]
fn a_revoked_key_stops_on_every_process_within_the_cache_ttl() {
    use std::io::BufReader;
    use std::time::{Duration, Instant};
    let Some(db) = PgDatabase::create("pc_cli") else { return };
    let dir = tempfile::tempdir().unwrap();
    assert!(cli(&db.url, &["migrate"]).status.success());
    let out = cli(&db.url, &["keys", "create", "--tenant", "acme", "--scopes", "read"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let id = key.split('_').nth(1).unwrap().to_owned();

    let ttl = Duration::from_millis(1500);
    let mut processes = Vec::new();
    for i in 0..2 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_property-contacts"))
            .env("DATABASE_URL", &db.url)
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("KEY_CACHE_TTL_MS", ttl.as_millis().to_string())
            .env("BOOTSTRAP_KEY_FILE", dir.path().join(format!("admin-{i}.key")))
            .env_remove("RUST_LOG")
            .arg("serve")
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let (_, addr) = wait_listening(&mut stderr);
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        processes.push((child, addr));
    }
    // Both cache the key.
    for (_, addr) in &processes {
        assert_eq!(http_get(addr, "/api/v1/properties", &key), 200);
    }
    let revoked_at = Instant::now();
    assert!(cli(&db.url, &["keys", "revoke", &id]).status.success());
    for (_, addr) in &processes {
        loop {
            match http_get(addr, "/api/v1/properties", &key) {
                401 => break,
                200 => assert!(
                    revoked_at.elapsed() < ttl + Duration::from_millis(500),
                    "{addr} still accepts the revoked key after {:?}",
                    revoked_at.elapsed()
                ),
                other => panic!("{addr}: {other}"),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    for (mut child, _) in processes {
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let _ = child.wait();
    }
}
