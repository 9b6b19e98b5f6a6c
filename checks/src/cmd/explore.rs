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
//!
//! It also makes the page say what the command line says: our BFS runs before serving, and when
//! it is complete the status carries its verdicts and counts (not "Searching" until "Run to
//! completion"); each action is named by the first line of its step, in oVirt's words (as
//! `check` prints it), not by the bare event; and the UI's emoji (empty boxes where no emoji font
//! is installed) and its `Pre-init`/`Init 0` rows become plain text.

use super::{usage, Fail};
use crate::args::ModelArgs;
use crate::http_front::{self, Request, Response};
use crate::search::{bfs, SearchLimits};
use clap::Args;
use livemerge_model::{Config, Event, LiveMerge, State};
use stateright::{Model, Path};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct ExploreArgs {
    #[command(flatten)]
    pub(crate) model: ModelArgs,
    /// Address to serve on. Loopback unless you name another address.
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub(crate) listen: String,
}

pub fn run(args: ExploreArgs) -> Result<u8, Fail> {
    if args.model.no_symmetry {
        return Err(usage(
            "--no-symmetry does not apply to explore: it always shows every disk",
        ));
    }
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
    let ours = Arc::new(shortest_paths(&cfg));
    let discoveries = &ours.paths;

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .map_err(|e| usage(format!("cannot handle Ctrl-C: {e}")))?;
    }
    say!("livemerge explore: {cfg}");
    say!("{}", ours.summary);
    say!("open {url}/");
    for (name, path) in discoveries.iter() {
        say!("  {name}: {url}/#/steps/{path}");
    }
    say!("(Ctrl-C stops it)");
    use std::io::Write;
    let _ = std::io::stdout().flush();

    let handler = Arc::new(move |rq: &Request| answer(rq, backend, &ours));
    http_front::serve(front, http_front::FrontLimits::default(), handler, &stop)
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

/// What our BFS found before serving: per property, the shortest path to its witness (as the
/// explorer's index path), and the status to show when the search was complete.
struct Ours {
    paths: Vec<(&'static str, String)>,
    /// The status fields (`done`, counts, model) to show, when the search was complete.
    status: Option<serde_json::Value>,
    /// One line for the banner and the page: where the verdicts come from.
    summary: String,
}

fn shortest_paths(cfg: &Config) -> Ours {
    let outcome = bfs::run(
        cfg,
        &SearchLimits {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_states: Some(5_000_000),
            timeout: Some(Duration::from_secs(30)),
            max_memory_mib: None,
            progress: false,
        },
    );
    let model = LiveMerge::new(*cfg);
    // A finding has a path only when the search found a witness: a counterexample, or a
    // sometimes-property's example.
    let paths = outcome
        .findings
        .iter()
        .filter_map(|f| Some((f.prop.name, encode(&model, f.path.as_ref()?)?)))
        .collect();
    let (summary, status) = match &outcome.stopped_by {
        None => {
            let summary = format!(
                "verdicts: livemerge check's BFS, complete ({} unique states)",
                outcome.unique
            );
            let status = serde_json::json!({
                "done": true,
                "state_count": outcome.generated,
                "unique_state_count": outcome.unique,
                "max_depth": outcome.max_depth,
                "model": format!("LiveMerge ({summary})"),
            });
            (summary, Some(status))
        }
        Some(why) => (
            format!(
                "verdicts: livemerge's BFS stopped early ({why}); properties without a path are undecided until \"Run to completion\""
            ),
            None,
        ),
    };
    Ours {
        paths,
        status,
        summary,
    }
}

/// The explorer's URL path for a list of events (action indices, init state first).
pub(crate) fn encode(model: &LiveMerge, events: &[Event]) -> Option<String> {
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
fn answer(rq: &Request, backend: SocketAddr, ours: &Ours) -> Response {
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
    let body = match url {
        _ if status != 200 => body,
        "/.status" => rewrite_status(&body, ours).unwrap_or(body),
        u if u.starts_with("/.states") => rewrite_states(&body, ours).unwrap_or(body),
        "/app.js" => rewrite_app_js(&body),
        _ => body,
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
/// one: ours are shortest; its on-demand checker only knows what has been clicked. After a
/// complete search of ours, a property without a path of ours has none at all.
fn fix_discoveries(props: &mut serde_json::Value, ours: &Ours) {
    let Some(list) = props.as_array_mut() else {
        return;
    };
    for p in list {
        let name = p.get(1).and_then(|n| n.as_str()).map(str::to_string);
        let (Some(name), Some(slot)) = (name, p.get_mut(2)) else {
            continue;
        };
        match ours.paths.iter().find(|(n, _)| *n == name) {
            Some((_, path)) => *slot = serde_json::Value::String(path.clone()),
            None if ours.status.is_some() => *slot = serde_json::Value::Null,
            None => {}
        }
    }
}

/// The checker's status: our discoveries and, when our search was complete, its verdicts and
/// counts, so the page agrees with `livemerge check` from the first load.
fn rewrite_status(body: &[u8], ours: &Ours) -> Option<Vec<u8>> {
    let mut v: serde_json::Value = serde_json::from_slice(body).ok()?;
    if let Some(props) = v.get_mut("properties") {
        fix_discoveries(props, ours);
    }
    if let (Some(fields), Some(obj)) = (
        ours.status.as_ref().and_then(|s| s.as_object()),
        v.as_object_mut(),
    ) {
        for (k, val) in fields {
            obj.insert(k.clone(), val.clone());
        }
    }
    serde_json::to_vec(&v).ok()
}

/// A state's successors: our discoveries, and each action named by what happened (the first
/// line of the step's outcome, in oVirt's words) instead of the bare event.
fn rewrite_states(body: &[u8], ours: &Ours) -> Option<Vec<u8>> {
    let mut v: serde_json::Value = serde_json::from_slice(body).ok()?;
    for s in v.as_array_mut()? {
        if let Some(props) = s.get_mut("properties") {
            fix_discoveries(props, ours);
        }
        let what = s
            .get("outcome")
            .and_then(|o| o.as_str())
            .and_then(|o| o.lines().next())
            .map(str::to_string);
        if let (Some(what), Some(obj)) = (what, s.as_object_mut()) {
            obj.insert("action".into(), serde_json::Value::String(what));
        }
    }
    serde_json::to_vec(&v).ok()
}

/// stateright's UI script, with its emoji as plain text (they render as empty boxes where no
/// emoji font is installed), its initial state named as such, and no `Pre-init` row in the
/// path. Each replacement is of stateright 0.31's exact text; a test checks they all apply.
pub const APP_JS_REPLACEMENTS: [(&str, &str); 9] = [
    ("\u{26a0}\u{fe0f}", "[!]"),
    ("\u{2705}", "[ok]"),
    ("\u{1f50e}", "[..]"),
    ("\u{2b06}\u{fe0f}", "[after]"),
    ("\u{2b07}\u{fe0f}", "[before]"),
    (
        "`Init ${actionIndex !== undefined ? actionIndex : 'unknown'}`",
        "'initial state'",
    ),
    ("`Init ${i}`", "'initial state'"),
    ("action: 'Pre-init'", "action: ''"),
    (
        "step.pathSteps = () => (prevStep ? prevStep.pathSteps() : []).concat([step]);",
        "step.pathSteps = () => (prevStep ? prevStep.pathSteps() : []).concat(prevStep ? [step] : []);",
    ),
];

fn rewrite_app_js(body: &[u8]) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(body) else {
        return body.to_vec();
    };
    APP_JS_REPLACEMENTS
        .iter()
        .fold(text.to_string(), |t, (from, to)| t.replace(from, to))
        .into_bytes()
}
