//! The binary's command line, run as a process on a temporary SQLite store.

use std::process::Command;

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

/// Reads the server's stderr until it logs its address; returns (bootstrap key if printed, address).
fn wait_listening(stderr: &mut impl std::io::BufRead) -> (Option<String>, String) {
    let mut key = None;
    let mut line = String::new();
    loop {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "server exited before listening");
        if let Some(k) = line.split_whitespace().find(|w| w.starts_with("pck_")) {
            key = Some(k.to_owned());
        }
        if line.contains("property-contacts listening") {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            return (key, v["listen"].as_str().unwrap().to_owned());
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
fn first_serve_prints_a_one_time_admin_key_and_stops_on_sigterm() {
    use std::io::BufReader;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("serve.db").display());
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_property-contacts"))
            .env("DATABASE_URL", &db)
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
    let (key, addr) = wait_listening(&mut stderr);
    let key = key.expect("first start prints an admin key");
    assert_eq!(http_get(&addr, "/api/v1/properties", &key), 200);
    assert_eq!(http_get(&addr, "/api/v1/properties", "pck_wrong"), 401);
    stop(&mut child);

    // Second start on the same store: keys exist, so none is printed.
    let mut child = spawn();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let (again, addr) = wait_listening(&mut stderr);
    assert_eq!(again, None);
    assert_eq!(http_get(&addr, "/api/v1/properties", &key), 200);
    stop(&mut child);
}
