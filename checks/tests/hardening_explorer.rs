//! Hardening, class 2: the explorer's HTTP front bounds what a client can make it hold. A
//! 1 MiB header gets 431 without the server's memory growing; 100 slow clients hold at most the
//! connection cap of threads and are timed out (408) or turned away (503); 100 clients that
//! reset their connection cost nothing and print no panic; after each, a normal request is
//! answered. Memory and threads are read from the server's /proc/PID/status.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The front's connection cap and head timeout (`http_front::FrontLimits::default()`).
const CAP: usize = 32;
const HEAD_TIMEOUT: Duration = Duration::from_secs(3);

struct Server {
    child: Child,
    addr: SocketAddr,
    stderr: std::path::PathBuf,
    _tmp: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Server {
    let tmp = tempfile::tempdir().unwrap();
    let stderr = tmp.path().join("stderr");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_livemerge"))
        .args(["explore", "--poller", "3.6.0", "--disks", "1"])
        .args(["--listen", &addr.to_string()])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    for line in out.lines() {
        if line.unwrap().starts_with("(Ctrl-C stops it)") {
            break;
        }
    }
    Server {
        child,
        addr,
        stderr,
        _tmp: tmp,
    }
}

impl Server {
    /// (VmRSS in KiB, Threads) of the server process.
    fn usage(&self) -> (u64, u64) {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let field = |name: &str| {
            s.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap()
        };
        (field("VmRSS:"), field("Threads:"))
    }

    /// The status of a plain GET.
    fn get(&self, path: &str) -> u16 {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        status(&mut s).unwrap_or(0)
    }

    fn assert_no_panic(&self) {
        let err = std::fs::read_to_string(&self.stderr).unwrap();
        assert!(!err.contains("panicked"), "{err}");
        assert!(self.child.id() > 0);
    }
}

/// The status code of the answer on `s`, if one came.
fn status(s: &mut TcpStream) -> Option<u16> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    while !buf.windows(2).any(|w| w == b"\r\n") {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let line = String::from_utf8_lossy(&buf);
    line.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// Closes `s` with a reset (SO_LINGER 0) instead of a FIN.
fn reset(s: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a socket we own, with a correctly sized linger value.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(s);
}

#[test]
#[ignore = "slow tier: holds 100 slow clients open against the explorer, over 3 s (scripts/test runs it)"]
fn class2_explorer_bounds_headers_slow_clients_and_resets() {
    let server = start();
    assert_eq!(server.get("/.status"), 200);
    let (rss0, threads0) = server.usage();

    // A 1 MiB header: 431, and the server does not hold it.
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(b"GET / HTTP/1.1\r\nX-Big: ");
        let _ = w.write_all(&vec![b'a'; 1 << 20]);
        let _ = w.write_all(b"\r\n\r\n");
    });
    assert_eq!(status(&mut s), Some(431));
    let _ = writer.join();
    let (rss1, _) = server.usage();
    eprintln!("1 MiB header: 431; VmRSS {rss0} KiB -> {rss1} KiB");
    assert!(rss1 < rss0 + 8 * 1024, "{rss0} KiB -> {rss1} KiB");
    assert_eq!(server.get("/.status"), 200);

    // 100 slow clients: each sends half a request line and waits.
    let t0 = Instant::now();
    let mut slow: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr).unwrap();
            let _ = s.write_all(b"GET /.sta");
            s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let (_, threads_busy) = server.usage();
    eprintln!("100 slow clients: threads {threads0} -> {threads_busy} (cap {CAP})");
    assert!(
        threads_busy <= threads0 + CAP as u64,
        "{threads0} -> {threads_busy}"
    );
    let answers: Vec<Option<u16>> = slow.iter_mut().map(status).collect();
    let timed_out = answers.iter().filter(|a| **a == Some(408)).count();
    let turned_away = answers.iter().filter(|a| **a == Some(503)).count();
    eprintln!(
        "100 slow clients: {timed_out} timed out (408), {turned_away} turned away (503), all answered in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(timed_out + turned_away, 100, "{answers:?}");
    assert!(timed_out <= CAP, "{timed_out}");
    assert!(t0.elapsed() < HEAD_TIMEOUT + Duration::from_secs(5));
    drop(slow);
    std::thread::sleep(Duration::from_millis(300));
    let (_, threads_after) = server.usage();
    assert!(
        threads_after <= threads0 + 2,
        "{threads0} -> {threads_after}"
    );
    assert_eq!(server.get("/.status"), 200);

    // 100 resets: some after a whole request, some in the middle of one.
    for i in 0..100 {
        let mut s = TcpStream::connect(server.addr).unwrap();
        let req: &[u8] = if i % 2 == 0 {
            b"GET /.status HTTP/1.1\r\nHost: x\r\n\r\n"
        } else {
            b"GET /.stat"
        };
        let _ = s.write_all(req);
        reset(s);
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(server.get("/.status"), 200);
    let (rss2, threads2) = server.usage();
    eprintln!("100 resets: VmRSS {rss2} KiB, threads {threads2}, no panic");
    assert!(rss2 < rss0 + 16 * 1024, "{rss0} KiB -> {rss2} KiB");
    server.assert_no_panic();
}
