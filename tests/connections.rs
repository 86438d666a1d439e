//! Connection limits of the real binary: with its open-files limit lowered below the number of
//! sockets an attacker opens (idle ones and ones sending headers slowly), other clients are still
//! answered within a second and the slow sockets are closed within the header timeout; an answer
//! given before a large body was read tells a keep-alive client to reconnect.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Open-files limit of the service in this test: fewer than the sockets opened against it.
const FD_LIMIT: u64 = 128;

struct Service {
    child: Child,
    addr: String,
    key: String,
    _dir: tempfile::TempDir,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(env: &[(&str, &str)]) -> Service {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("admin.key");
    let mut command = Command::new(env!("CARGO_BIN_EXE_property-contacts"));
    command
        .env("DATABASE_URL", format!("sqlite:{}", dir.path().join("c.db").display()))
        .env("BOOTSTRAP_KEY_FILE", &key_file)
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: FD_LIMIT, rlim_max: FD_LIMIT };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let mut child = command.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "server exited before listening");
        if line.contains("property-contacts listening") {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            break v["listen"].as_str().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let key = std::fs::read_to_string(&key_file).unwrap().trim().to_owned();
    Service { child, addr, key, _dir: dir }
}

/// One request on a fresh connection; the status and how long the answer took.
fn get(addr: &str, path: &str, key: &str) -> (u16, Duration) {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    let status = resp.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, started.elapsed())
}

/// Whether the server closed `s` (EOF or reset) within `within`.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn idle_and_slow_sockets_beyond_the_fd_limit_lock_nobody_out() {
    let service = start(&[("HTTP_HEADER_READ_TIMEOUT_SECS", "3"), ("HTTP_IDLE_TIMEOUT_SECS", "30")]);
    // More idle sockets than the service may hold descriptors.
    let idle: Vec<TcpStream> =
        (0..FD_LIMIT + 40).map(|_| TcpStream::connect(&service.addr).unwrap()).collect();
    // And sockets that send their headers a byte at a time.
    let mut slow: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = TcpStream::connect(&service.addr).unwrap();
            s.write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n").unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..3 {
        let (status, took) = get(&service.addr, "/livez", "");
        assert_eq!(status, 200, "/livez");
        assert!(took < Duration::from_secs(1), "/livez took {took:?}");
        let (status, took) = get(&service.addr, "/api/v1/properties", &service.key);
        assert_eq!(status, 200, "an API call");
        assert!(took < Duration::from_secs(1), "an API call took {took:?}");
    }
    // The slow-header sockets trickle on, and are closed once the header timeout has passed.
    let started = Instant::now();
    for s in &mut slow {
        let _ = s.write_all(b"X");
    }
    for (i, s) in slow.iter_mut().enumerate() {
        let left = Duration::from_secs(5).saturating_sub(started.elapsed());
        assert!(
            closed_within(s, left.max(Duration::from_millis(10))),
            "slow socket {i} still open after 5 s"
        );
    }
    drop(idle);
    let (status, _) = get(&service.addr, "/livez", "");
    assert_eq!(status, 200);
}

#[test]
fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let service = start(&[("HTTP_IDLE_TIMEOUT_SECS", "2"), ("HTTP_HEADER_READ_TIMEOUT_SECS", "30")]);
    let mut s = TcpStream::connect(&service.addr).unwrap();
    write!(s, "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    // Read the rest of the answer, then stay silent.
    let started = Instant::now();
    assert!(closed_within(&mut s, Duration::from_secs(5)), "idle connection kept past 5 s");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1500), "closed too early: {took:?}");
}

#[test]
fn an_early_answer_to_a_large_body_says_connection_close() {
    let service = start(&[]);
    let body = format!("{{\"name\":\"{}\"}}", "x".repeat(200_000));
    for (path, auth, expected) in [
        // No credential: 401 before the body is read.
        ("/api/v1/properties/p1", String::new(), 401),
        // Unknown route: 404.
        ("/nowhere", format!("Authorization: Bearer {}\r\n", service.key), 404),
    ] {
        let mut s = TcpStream::connect(&service.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "PUT {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .unwrap();
        let _ = s.write_all(body.as_bytes());
        let mut head = Vec::new();
        let mut reader = BufReader::new(&mut s);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            head.push(line.to_ascii_lowercase());
        }
        assert!(head.first().is_some_and(|l| l.contains(&format!(" {expected} "))), "{path}: {head:?}");
        assert!(
            head.iter().any(|l| l.starts_with("connection: close")),
            "{path}: no Connection: close in {head:?}"
        );
    }
    // A declared length over the body limit is answered 413 at once, without waiting for the bytes.
    let started = Instant::now();
    let mut s = TcpStream::connect(&service.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "PUT /api/v1/properties/p1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n{{\"na",
        service.key
    )
    .unwrap();
    let mut status = String::new();
    BufReader::new(&mut s).read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    assert!(started.elapsed() < Duration::from_secs(2), "413 took {:?}", started.elapsed());

    // A body that is read keeps the connection alive: two requests on one connection.
    let mut s = TcpStream::connect(&service.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    for name in ["a", "b"] {
        let body = format!("{{\"name\":\"{name}\"}}");
        write!(
            s,
            "PUT /api/v1/properties/p-{name} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            service.key,
            body.len()
        )
        .unwrap();
        let mut length = 0usize;
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(status.starts_with("HTTP/1.1 201"), "{status}");
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let lower = line.to_ascii_lowercase();
            assert!(!lower.starts_with("connection: close"), "a read body must not close the connection");
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut rest = vec![0u8; length];
        reader.read_exact(&mut rest).unwrap();
    }
}
