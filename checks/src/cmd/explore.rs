//! `livemerge explore`: stateright's web explorer for a configuration, behind a small proxy.
//!
//! stateright 0.31's server (`tiny_http`) `unwrap()`s a failed response write (a client that
//! hangs up can take it down, and `tiny_http` itself panics on reset connections), panics on an
//! address in use, bounds neither headers nor slow clients, serves no `Content-Type`, and only
//! knows the discoveries its on-demand checker has stumbled on. So it listens on a private
//! loopback port that only this process talks to, and clients talk to our bounded HTTP front
//! ([`crate::http_front`]): it binds the user's address itself (a clear error when taken),
//! bounds heads, time and connections, reads each backend answer whole before writing it (a
//! hang-up only costs that client), sets content types, and puts our shortest counterexamples
//! into the explorer's property list. Symmetry is off here: the explorer shows concrete disks,
//! step after step.

use super::{usage, Fail};
use crate::cli::ModelArgs;
use crate::http_front::{self, Request, Response};
use crate::search::{bfs, Limits, Verdict};
use clap::Args;
use livemerge_model::properties;
use livemerge_model::{Config, Event, LiveMerge, State};
use stateright::{Model, Path};
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct ExploreArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Address to serve on. Loopback unless you name another address.
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub listen: String,
}

pub fn run(args: ExploreArgs) -> Result<u8, Fail> {
    let base = Config {
        symmetry: false,
        ..Config::default()
    };
    let cfg = args.model.config_over(base).map_err(usage)?;
    let cfg = Config {
        symmetry: false,
        ..cfg
    };
    let addr: SocketAddr = args.listen.parse().map_err(|_| {
        usage(format!(
            "--listen {}: not an address like 127.0.0.1:3000",
            args.listen
        ))
    })?;
    let front =
        TcpListener::bind(addr).map_err(|e| usage(format!("cannot listen on {addr}: {e}")))?;
    let url = format!(
        "http://{}",
        front
            .local_addr()
            .map_err(|e| usage(format!("cannot listen on {addr}: {e}")))?
    );

    let backend = start_stateright(cfg)?;
    let discoveries = Arc::new(shortest_paths(&cfg));

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .map_err(|e| usage(format!("cannot handle Ctrl-C: {e}")))?;
    }
    say!("livemerge explore: {cfg}");
    say!("open {url}/");
    for (name, path) in discoveries.iter() {
        say!("  {name}: {url}/#/steps/{path}");
    }
    say!("(Ctrl-C stops it)");
    use std::io::Write;
    let _ = std::io::stdout().flush();

    let handler = Arc::new(move |rq: &Request| answer(rq, backend, &discoveries));
    http_front::serve(front, http_front::Limits::default(), handler, &stop)
        .map_err(|e| usage(format!("cannot serve on {addr}: {e}")))?;
    say!("livemerge explore: stopped");
    Ok(0)
}

/// Starts stateright's explorer on a free private port and waits until it answers.
fn start_stateright(cfg: Config) -> Result<SocketAddr, Fail> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| usage(format!("no free loopback port: {e}")))?
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    std::thread::spawn(move || {
        LiveMerge::new(cfg).checker().serve(addr);
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            return Err(usage("stateright's explorer did not start"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(addr)
}

/// Per property, our shortest path to its witness, as the explorer's index path.
fn shortest_paths(cfg: &Config) -> Vec<(&'static str, String)> {
    let outcome = bfs::run(
        cfg,
        &Limits {
            threads: 1,
            max_states: Some(5_000_000),
            timeout: Some(Duration::from_secs(30)),
            progress: false,
        },
    );
    let model = LiveMerge::new(*cfg);
    outcome
        .findings
        .iter()
        .filter(|f| {
            f.verdict == Verdict::Violated
                || (f.verdict == Verdict::Holds
                    && f.prop.expectation == properties::Expectation::Sometimes)
        })
        .filter_map(|f| Some((f.prop.name, encode(&model, f.path.as_ref()?)?)))
        .collect()
}

/// The explorer's URL path for a list of events (action indices, init state first).
pub fn encode(model: &LiveMerge, events: &[Event]) -> Option<String> {
    let init = model.init_states().into_iter().next()?;
    Path::<State, Event>::from_actions(model, init, events.iter()).map(|p| p.encode(model))
}

fn content_type(url: &str) -> &'static str {
    if url == "/" || url.ends_with(".htm") {
        "text/html; charset=utf-8"
    } else if url.ends_with(".js") {
        "application/javascript"
    } else if url.ends_with(".css") {
        "text/css"
    } else {
        "application/json"
    }
}

/// The answer to one request: forwarded to stateright's server, whole, with its content type.
fn answer(rq: &Request, backend: SocketAddr, ours: &[(&'static str, String)]) -> Response {
    let url = rq.path.as_str();
    // Only paths of this server: anything else ("@host/...", "//host/...", an absolute URL)
    // would let a client steer the forwarded request to another host.
    if !url.starts_with('/') || url.starts_with("//") || url.contains('@') || url.contains('\\') {
        return Response::empty(400);
    }
    let target = format!("http://{backend}{url}");
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    let reply = match rq.method.as_str() {
        "GET" => agent.get(&target).call(),
        "POST" if url == "/.runtocompletion" => agent.post(&target).call(),
        _ => return Response::empty(405),
    };
    let (status, body) = match reply {
        Ok(r) => (r.status(), read_body(r)),
        Err(ureq::Error::Status(code, r)) => (code, read_body(r)),
        Err(e) => (502, format!("explorer backend: {e}").into_bytes()),
    };
    let body = if status == 200 && (url == "/.status" || url.starts_with("/.states")) {
        rewrite_discoveries(&body, ours).unwrap_or(body)
    } else {
        body
    };
    Response {
        status,
        content_type: content_type(url),
        body,
    }
}

fn read_body(r: ureq::Response) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = std::io::Read::read_to_end(&mut r.into_reader(), &mut v);
    v
}

/// Replaces stateright's discovery paths (`[expectation, name, path]`) with ours where we have
/// one: ours are shortest; its on-demand checker only knows what has been clicked.
fn rewrite_discoveries(body: &[u8], ours: &[(&'static str, String)]) -> Option<Vec<u8>> {
    let ours: HashMap<&str, &str> = ours.iter().map(|(n, p)| (*n, p.as_str())).collect();
    let mut v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let fix = |props: &mut serde_json::Value| {
        if let Some(list) = props.as_array_mut() {
            for p in list {
                let name = p.get(1).and_then(|n| n.as_str()).map(str::to_string);
                if let (Some(name), Some(slot)) = (name, p.get_mut(2)) {
                    if let Some(path) = ours.get(name.as_str()) {
                        *slot = serde_json::Value::String(path.to_string());
                    }
                }
            }
        }
    };
    if let Some(props) = v.get_mut("properties") {
        fix(props);
    }
    if let Some(states) = v.as_array_mut() {
        for s in states {
            if let Some(props) = s.get_mut("properties") {
                fix(props);
            }
        }
    }
    serde_json::to_vec(&v).ok()
}
