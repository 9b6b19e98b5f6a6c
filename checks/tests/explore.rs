//! `livemerge explore` over real HTTP: the explorer's status and states, its counterexample
//! links, a client that hangs up mid-response, an address in use, and Ctrl-C.

mod explorer;
use explorer::Explorer;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

#[test]
fn the_explorer_serves_the_bug_1280160_discovery_with_its_path() {
    let ex = Explorer::start(&["--poller", "3.6.0", "--disks", "1"]);
    let status: serde_json::Value = ex.get_json("/.status");
    let props = status["properties"].as_array().unwrap();
    let bug = props
        .iter()
        .find(|p| p[1] == "snapshot removed implies merge done")
        .expect("the property is listed");
    assert_eq!(bug[0], "Always");
    let path = bug[2].as_str().expect("a discovery path").to_string();
    // The printed URL names the same path.
    assert!(ex.banner.contains(&format!(
        "snapshot removed implies merge done: {}/#/steps/{path}",
        ex.url
    )));

    // Walk the path: each step is among the successors of the previous one.
    let indices: Vec<&str> = path.split('/').collect();
    let mut prefix = String::new();
    let mut last = serde_json::Value::Null;
    for (i, idx) in indices.iter().enumerate() {
        let succ: serde_json::Value = ex.get_json(&format!("/.states{prefix}"));
        let list = succ.as_array().unwrap();
        let n: usize = idx.parse().unwrap();
        last = list
            .iter()
            .find(|s| s["actionIndex"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("step {i} missing"));
        prefix.push('/');
        prefix.push_str(idx);
    }
    let state = last["state"].as_str().unwrap();
    assert!(state.contains("snapshot deleted"), "{state}");
    assert!(state.contains("disk-1: child UNKNOWN queued"), "{state}");
    assert!(last["outcome"]
        .as_str()
        .unwrap()
        .contains("onSucceeded(RemoveSnapshot): snapshot row DELETED"));
    let svg = last["svg"].as_str().unwrap();
    assert!(
        svg.contains("class=\"violation\""),
        "the breaking step is highlighted"
    );
    // The step before is the poller taking NOT_STARTED for finished: it is among the
    // successors of the state two steps back.
    let two_back = prefix.rsplitn(3, '/').nth(2).unwrap();
    assert!(ex
        .get_text(&format!("/.states{two_back}"))
        .contains("sees disk-1 NOT_STARTED -> parent SUCCEEDED"));
}

#[test]
fn a_client_that_hangs_up_does_not_take_the_explorer_down() {
    let ex = Explorer::start(&["--poller", "3.6.0", "--disks", "2"]);
    for _ in 0..20 {
        let mut s = TcpStream::connect(ex.addr).unwrap();
        // The initial state's successors carry SVGs: a response of some size.
        s.write_all(b"GET /.states/0/0/0/0 HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        drop(s);
    }
    let mut s = TcpStream::connect(ex.addr).unwrap();
    s.write_all(b"GET /.states/0/0/0 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    s.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
    let mut buf = [0u8; 16];
    let _ = std::io::Read::read(&mut s, &mut buf);
    drop(s);
    std::thread::sleep(Duration::from_millis(300));
    let status: serde_json::Value = ex.get_json("/.status");
    assert!(status["properties"].is_array(), "still serving");
    assert!(ex.get_text("/").contains("<html"), "the UI still loads");
}

#[test]
fn the_proxy_only_forwards_its_own_paths() {
    // A target that is not a path would steer the forwarded request to another host.
    let bait = TcpListener::bind("127.0.0.1:0").unwrap();
    let bait_addr = bait.local_addr().unwrap();
    bait.set_nonblocking(true).unwrap();
    let ex = Explorer::start(&["--disks", "1"]);
    for target in [
        format!("@{bait_addr}/secret"),
        format!("//{bait_addr}/secret"),
        format!("http://{bait_addr}/secret"),
    ] {
        let mut s = TcpStream::connect(ex.addr).unwrap();
        s.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut head = [0u8; 12];
        std::io::Read::read_exact(&mut s, &mut head).unwrap();
        let head = String::from_utf8_lossy(&head);
        assert!(!head.contains("200"), "{target}: {head}");
    }
    assert!(bait.accept().is_err(), "nothing reached the other server");
}

#[test]
fn an_address_in_use_is_one_line_and_exit_2() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let o = Command::new(env!("CARGO_BIN_EXE_livemerge"))
        .args(["explore", "--disks", "1", "--listen", &addr])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    let o = Command::new(env!("CARGO_BIN_EXE_livemerge"))
        .args(["explore", "--listen", "localhost"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn ctrl_c_stops_it_cleanly() {
    let mut ex = Explorer::start(&["--disks", "1"]);
    let status = Command::new("kill")
        .args(["-INT", &ex.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let (code, out) = ex.wait();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("livemerge explore: stopped"), "{out}");
}

#[test]
fn on_first_load_the_property_list_agrees_with_check() {
    let flags = ["--poller", "3.6.1", "--disks", "2", "--restarts", "1"];
    let ex = Explorer::start(&flags);
    let check = Command::new(env!("CARGO_BIN_EXE_livemerge"))
        .args(["check", "--format", "json", "-q", "--no-symmetry"])
        .args(flags)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    // The first status the page fetches, before anything was clicked.
    let status: serde_json::Value = ex.get_json("/.status");
    assert_eq!(status["done"], true, "{status}");
    assert_eq!(status["unique_state_count"], report["unique_states"]);
    assert!(
        status["model"].as_str().unwrap().contains("complete"),
        "{status}"
    );
    let props = status["properties"].as_array().unwrap();
    let cli = report["properties"].as_array().unwrap();
    assert_eq!(props.len(), cli.len());
    for p in cli {
        let name = p["name"].as_str().unwrap();
        let shown = props.iter().find(|q| q[1] == name).expect(name);
        // A path is shown exactly for a counterexample (always, eventually) or an example
        // (sometimes), as the CLI reports them.
        let has_path = !p["counterexample"].is_null() || !p["example"].is_null();
        assert_eq!(shown[2].is_string(), has_path, "{name}: {shown} vs {p}");
        let holds = p["holds"].as_bool().expect("the check is complete");
        let sometimes = p["expectation"] == "sometimes";
        assert_eq!(has_path, holds == sometimes, "{name}");
    }
}

#[test]
fn actions_are_named_in_ovirt_words_and_the_ui_is_plain_text() {
    let ex = Explorer::start(&["--poller", "3.6.0", "--disks", "1"]);
    // The initial state's step: what happened, not "Init 0".
    let init = ex.get_json("/.states");
    let first = ex.get_json("/.states/0");
    let begins = first.as_array().unwrap()[0].clone();
    let outcome = begins["outcome"].as_str().unwrap();
    assert_eq!(
        begins["action"].as_str().unwrap(),
        outcome.lines().next().unwrap()
    );
    assert!(
        begins["action"]
            .as_str()
            .unwrap()
            .starts_with("RemoveSnapshot.execute() begins"),
        "{begins}"
    );
    assert!(init.as_array().unwrap()[0].get("action").is_none());
    // The UI script: no emoji (no font may have them), no Pre-init or "Init N" rows.
    let js = ex.get_text("/app.js");
    let odd: Vec<char> = js.chars().filter(|c| !c.is_ascii()).collect();
    assert!(
        odd.is_empty(),
        "non-ASCII characters left in app.js: {odd:?}"
    );
    assert!(!js.contains("Pre-init") && !js.contains("`Init $"));
    assert!(js.contains("'initial state'"));
    for (_, to) in livemerge_checks::cmd::explore::APP_JS_REPLACEMENTS {
        assert!(js.contains(to), "replacement {to:?} did not apply");
    }
}
