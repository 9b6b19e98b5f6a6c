//! Every sequence diagram of every counterexample the matrix finds keeps its text inside the
//! picture, and no text over an arrowhead. Text widths are estimated as the diagram estimates
//! them (`livemerge_model::text_width`: font size x characters x a conservative glyph width);
//! everything else is read back from the SVG itself with an XML parser.

use livemerge_checks::matrix::axes::Axes;
use livemerge_checks::report::ConcretePath;
use livemerge_checks::search::{bfs, SearchLimits, Verdict};
use livemerge_model::{sequence_diagram, text_width};
use quick_xml::events::Event as Xml;
use quick_xml::Reader;
use std::collections::HashMap;

/// A box: left, top, right, bottom.
type Rect = (f64, f64, f64, f64);

struct Picture {
    width: f64,
    texts: Vec<(String, Rect)>,
    heads: Vec<Rect>,
}

fn attrs(e: &quick_xml::events::BytesStart) -> HashMap<String, String> {
    e.attributes()
        .map(|a| {
            let a = a.expect("well-formed attribute");
            (
                a.key.as_ref().to_string(),
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .expect("escaped value")
                    .into_owned(),
            )
        })
        .collect()
}

fn num(a: &HashMap<String, String>, k: &str) -> f64 {
    a.get(k)
        .unwrap_or_else(|| panic!("no {k} in {a:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("{k} is not a number in {a:?}"))
}

fn read(svg: &str) -> Picture {
    let mut r = Reader::from_str(svg);
    let mut width = 0.0;
    let mut font = 0.0;
    let mut head = (0.0, 0.0, 0.0, 0.0); // marker width, height, refX, refY
    let mut lines = Vec::new();
    let mut texts = Vec::new();
    let mut open_text: Option<HashMap<String, String>> = None;
    let mut raw = String::new();
    loop {
        match r.read_event().expect("well-formed SVG") {
            Xml::Start(e) | Xml::Empty(e) => {
                let a = attrs(&e);
                match e.name().as_ref() {
                    "svg" => {
                        width = num(&a, "width");
                        font = num(&a, "font-size");
                    }
                    "marker" => {
                        assert_eq!(
                            a.get("markerUnits").map(String::as_str),
                            Some("userSpaceOnUse")
                        );
                        head = (
                            num(&a, "markerWidth"),
                            num(&a, "markerHeight"),
                            num(&a, "refX"),
                            num(&a, "refY"),
                        );
                    }
                    "line" if a.contains_key("marker-end") => lines.push(a),
                    "text" => open_text = Some(a),
                    _ => {}
                }
            }
            // Text arrives in pieces: plain runs, and entity references (`&gt;`) apart.
            Xml::Text(t) if open_text.is_some() => raw.push_str(&t.into_inner()),
            Xml::GeneralRef(r) if open_text.is_some() => {
                raw.push('&');
                raw.push_str(&r.into_inner());
                raw.push(';');
            }
            Xml::End(e) if e.name().as_ref() == "text" => {
                let a = open_text.take().expect("a text was open");
                let text = quick_xml::escape::unescape(&raw).unwrap().into_owned();
                raw.clear();
                let bold = a.get("font-weight").map(String::as_str) == Some("bold");
                let w = text_width(&text, font, bold);
                let (x, y) = (num(&a, "x"), num(&a, "y"));
                let left = match a.get("text-anchor").map(String::as_str) {
                    Some("middle") => x - w / 2.0,
                    Some("end") => x - w,
                    _ => x,
                };
                // Ascenders reach 0.8 em above the baseline, descenders 0.25 em below.
                texts.push((text, (left, y - 0.8 * font, left + w, y + 0.25 * font)));
            }
            Xml::Eof => break,
            _ => {}
        }
    }
    // A marker is drawn at the line's end, its reference point on it, pointing along the line.
    let heads = lines
        .iter()
        .map(|a| {
            let (x1, x2, y) = (num(a, "x1"), num(a, "x2"), num(a, "y2"));
            let (w, h, rx, ry) = head;
            let top = y - ry;
            if x2 >= x1 {
                (x2 - rx, top, x2 - rx + w, top + h)
            } else {
                (x2 + rx - w, top, x2 + rx, top + h)
            }
        })
        .collect();
    Picture {
        width,
        texts,
        heads,
    }
}

fn overlaps(a: Rect, b: Rect) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

#[test]
#[ignore = "slow tier: draws every counterexample of the matrix, over 30 s (scripts/test runs it)"]
fn every_counterexample_diagram_of_the_matrix_fits_its_text() {
    let limits = SearchLimits {
        threads: 2,
        max_states: None,
        timeout: None,
        progress: false,
        max_memory_mib: None,
    };
    let mut diagrams = 0;
    for cfg in Axes::default().configurations().unwrap() {
        let outcome = bfs::run(&cfg, &limits);
        for f in &outcome.findings {
            let (Verdict::Violated, Some(path)) = (&f.verdict, &f.path) else {
                continue;
            };
            let trace = ConcretePath::rebuild(&cfg, path).unwrap();
            let steps = &trace.steps;
            let svg = sequence_diagram(&cfg, steps);
            let pic = read(&svg);
            let at = format!("{cfg}, \"{}\"", f.prop.name);
            assert!(pic.texts.len() > steps.len(), "{at}: too few texts");
            for (text, r) in &pic.texts {
                assert!(
                    r.0 >= 0.0,
                    "{at}: {text:?} starts left of the picture ({})",
                    r.0
                );
                assert!(
                    r.2 <= pic.width,
                    "{at}: {text:?} ends at {:.0}, past the width {}",
                    r.2,
                    pic.width
                );
                for h in &pic.heads {
                    assert!(
                        !overlaps(*r, *h),
                        "{at}: {text:?} {r:?} overlaps an arrowhead {h:?}"
                    );
                }
            }
            diagrams += 1;
        }
    }
    // The matrix has violations (findings.json): the loop above must have drawn them.
    assert!(diagrams >= 36, "only {diagrams} diagrams checked");
}
