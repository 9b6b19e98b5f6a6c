//! Starts `livemerge explore` on a free loopback port for a test, and talks HTTP to it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub struct Explorer {
    pub child: Child,
    pub addr: SocketAddr,
    pub url: String,
    /// What it printed before serving: the URL and the counterexample links.
    pub banner: String,
    rest: mpsc::Receiver<String>,
}

impl Explorer {
    pub fn start(flags: &[&str]) -> Explorer {
        // The port is free when picked, but another process may take it before the explorer
        // binds it (tests run in parallel): then the explorer exits, and a new port is tried.
        for _ in 0..5 {
            if let Some(e) = Self::try_start(flags) {
                return e;
            }
        }
        panic!("the explorer did not start on any of 5 free ports");
    }

    fn try_start(flags: &[&str]) -> Option<Explorer> {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_livemerge"))
            .arg("explore")
            .args(flags)
            .args(["--listen", &addr.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut banner = String::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    banner.push_str(&line);
                    banner.push('\n');
                    if line.starts_with("(Ctrl-C stops it)") {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return None;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => panic!("the explorer prints no banner"),
            }
        }
        Some(Explorer {
            child,
            addr,
            url: format!("http://{addr}"),
            banner,
            rest: rx,
        })
    }

    pub fn get_text(&self, path: &str) -> String {
        let mut s = String::new();
        ureq::get(&format!("{}{path}", self.url))
            .timeout(Duration::from_secs(30))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .into_reader()
            .read_to_string(&mut s)
            .unwrap();
        s
    }

    pub fn get_json(&self, path: &str) -> serde_json::Value {
        serde_json::from_str(&self.get_text(path)).unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// Waits for the process to end; its exit code and what it printed after the banner.
    pub fn wait(&mut self) -> (Option<i32>, String) {
        let status = self.child.wait().unwrap();
        let mut out = String::new();
        while let Ok(l) = self.rest.recv_timeout(Duration::from_secs(5)) {
            out.push_str(&l);
            out.push('\n');
        }
        (status.code(), out)
    }
}

impl Drop for Explorer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
