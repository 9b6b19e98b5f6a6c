//! A real browser against the explorer: headless Chromium driven over WebDriver (Debian's
//! `chromium` and `chromium-driver`; the test script installs them). It opens the explorer,
//! follows the bug 1280160 counterexample from the property list to its last step, and checks
//! what the page shows there: the steps named in oVirt's words, and nothing a font may lack
//! (emoji draw as empty boxes where no emoji font is installed).
//! `LIVEMERGE_SCREENSHOT=docs/explorer.png` keeps a screenshot.

mod explorer;
use explorer::Explorer;
use serde_json::{json, Value};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Driver {
    process: Child,
    base: String,
    session: String,
    /// Chromium's profile: a directory of our own, removed with the driver.
    _profile: tempfile::TempDir,
}

impl Driver {
    fn start() -> Driver {
        let driver = which("chromedriver").expect(
            "chromedriver is not installed: run scripts/test, or apt-get install chromium chromium-driver",
        );
        let chrome =
            which("chromium").expect("chromium is not installed (apt-get install chromium)");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let process = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while ureq::get(&format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not answer");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::Builder::new()
            .prefix("livemerge-chromium-")
            .tempdir()
            .expect("a profile directory");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chrome,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         "--window-size=1400,1400",
                         format!("--user-data-dir={}", profile.path().display())]
            }
        }}});
        let mut d = Driver {
            process,
            base,
            session: String::new(),
            _profile: profile,
        };
        let v = d.call("POST", "/session", Some(caps));
        d.session = v["sessionId"].as_str().expect("a session").to_string();
        d
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let rq = ureq::request(method, &url).timeout(Duration::from_secs(60));
        let r = match body {
            Some(b) => rq
                .set("Content-Type", "application/json")
                .send_string(&b.to_string()),
            None => rq.call(),
        };
        let v: Value = match r {
            Ok(r) => serde_json::from_str(&r.into_string().unwrap()).unwrap(),
            Err(ureq::Error::Status(code, r)) => panic!(
                "{method} {path}: {code} {}",
                r.into_string().unwrap_or_default()
            ),
            Err(e) => panic!("{method} {path}: {e}"),
        };
        v["value"].clone()
    }

    fn s(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session)
    }

    fn goto(&self, url: &str) {
        self.call("POST", &self.s("/url"), Some(json!({"url": url})));
    }

    fn script(&self, js: &str) -> Value {
        self.call(
            "POST",
            &self.s("/execute/sync"),
            Some(json!({"script": js, "args": []})),
        )
    }

    /// Waits until `js` (an expression) is truthy, returning its value.
    fn wait_for(&self, js: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = self.script(&format!("return {js};"));
            if !(v.is_null() || v == json!(false) || v == json!("")) {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {js}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn click_link(&self, text: &str) {
        let el = self.call(
            "POST",
            &self.s("/element"),
            Some(json!({"using": "xpath", "value": format!("//a[contains(., '{text}')]")})),
        );
        let id = el
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_string();
        self.call(
            "POST",
            &self.s(&format!("/element/{id}/click")),
            Some(json!({})),
        );
    }

    fn screenshot(&self) -> Vec<u8> {
        let b64 = self.call("GET", &self.s("/screenshot"), None);
        decode_base64(b64.as_str().unwrap())
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = ureq::delete(&format!("{}/session/{}", self.base, self.session)).call();
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn which(name: &str) -> Option<String> {
    std::env::var("PATH")
        .ok()?
        .split(':')
        .map(|d| format!("{d}/{name}"))
        .find(|p| std::path::Path::new(p).exists())
}

fn decode_base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let bytes: Vec<u8> = s
        .bytes()
        .filter(|c| *c != b'=' && !c.is_ascii_whitespace())
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let v: Vec<u32> = chunk.iter().map(|&c| val(c) as u32).collect();
        let n = v
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, x)| acc | x << (18 - 6 * i));
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    out
}

#[test]
#[ignore = "slow tier: drives Chromium through chromedriver (scripts/test runs it)"]
fn chromium_follows_the_counterexample_to_its_last_step() {
    let ex = Explorer::start(&["--poller", "3.6.0", "--disks", "1"]);
    let d = Driver::start();
    d.goto(&format!("{}/", ex.url));
    // The property list shows the discovery as a link; follow it.
    d.wait_for("document.body.innerText.includes('Always snapshot removed implies merge done')");
    d.click_link("Always snapshot removed implies merge done");
    // app.js walks the path step by step, then selects the last step.
    let hash = d.wait_for("location.hash.startsWith('#/steps/') && location.hash");
    assert_eq!(
        hash.as_str().unwrap().matches('/').count(),
        7,
        "{hash}: six indices"
    );
    let page = d
        .wait_for("document.body.innerText.includes('snapshot deleted') && document.body.innerText")
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        page.contains("parent RemoveSnapshot: ended (rows deleted) | snapshot deleted"),
        "{page}"
    );
    assert!(
        page.contains("disk-1: child UNKNOWN queued, polled | host: base <- top | db: base <- top"),
        "{page}"
    );
    assert!(
        page.contains("onSucceeded(RemoveSnapshot): snapshot row DELETED"),
        "{page}"
    );
    // The path of actions: the initial state, then what happened at each step in oVirt's
    // words, as `livemerge check` prints them (not stateright's `Pre-init`, `Init 0`, or the
    // bare event `poller: dispatch RemoveSnapshot`).
    let path = d.wait_for(
        "Array.from(document.querySelectorAll('ol.path-list li')).map(li => li.innerText.trim())",
    );
    let path: Vec<&str> = path
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(path.len(), 6, "{path:?}");
    assert_eq!(path[0], "initial state", "{path:?}");
    assert!(
        path[1].starts_with("RemoveSnapshot.execute() begins"),
        "{path:?}"
    );
    assert!(
        path[4].contains(
            "doPolling(RemoveSnapshot, rule 3.6.0) sees disk-1 NOT_STARTED -> parent SUCCEEDED"
        ),
        "{path:?}"
    );
    assert!(
        path[5].contains("onSucceeded(RemoveSnapshot): snapshot row DELETED"),
        "{path:?}"
    );
    assert!(
        !path
            .iter()
            .any(|p| p.contains("dispatch") || p.contains("Init")),
        "{path:?}"
    );
    // Every character on the page is one any sans-serif font has: no emoji, no U+FFFD.
    let text = d.script("return document.body.innerText;");
    let odd: Vec<char> = text
        .as_str()
        .unwrap()
        .chars()
        .filter(|c| !(c.is_ascii_graphic() || c.is_ascii_whitespace()))
        .collect();
    assert!(odd.is_empty(), "characters a font may lack: {odd:?}");
    let summary = d.script(
        "return Array.from(document.querySelectorAll('nav b')).map(b => b.innerText).join('|');",
    );
    assert!(
        summary
            .as_str()
            .unwrap()
            .contains("[!] Counterexample found"),
        "{summary}"
    );
    // The sequence diagram is on the page with the breaking step highlighted.
    let bands = d.wait_for("document.querySelectorAll('svg rect.violation').length");
    assert!(bands.as_u64().unwrap() >= 1);
    let png = d.screenshot();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    if let Ok(path) = std::env::var("LIVEMERGE_SCREENSHOT") {
        std::fs::write(&path, &png).unwrap();
    }
}
