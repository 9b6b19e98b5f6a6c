//! The matrix as JUnit XML, for CI systems: one test suite per configuration, one test case per
//! property. A case fails when its verdict or length differs from the baseline; a violation the
//! baseline expects passes, with its counterexample in the case's `system-out`.

use super::axes::config_name;
use super::baseline::Difference;
use super::Row;
use crate::report::{format_trace, ConcretePath};
use crate::search::Verdict;
use quick_xml::events::{BytesCData, Event};
use quick_xml::Writer;
use std::io;

/// The XML document (quick-xml escapes every attribute and text).
pub(crate) fn render(rows: &[Row], diffs: &[Difference], baseline: &str) -> io::Result<String> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(quick_xml::events::BytesDecl::new(
        "1.0",
        Some("UTF-8"),
        None,
    )))?;
    let tests: usize = rows.iter().map(|r| r.outcome.findings.len()).sum::<usize>()
        + diffs.iter().filter(|d| d.new.is_none()).count();
    let total_secs: f64 = rows.iter().map(|r| r.outcome.seconds).sum();
    w.create_element("testsuites")
        .with_attribute(("name", "livemerge matrix"))
        .with_attribute(("tests", tests.to_string().as_str()))
        .with_attribute(("failures", diffs.len().to_string().as_str()))
        .with_attribute(("errors", "0"))
        .with_attribute(("time", format!("{total_secs:.3}").as_str()))
        .write_inner_content(|w| {
            for r in rows {
                suite(w, r, diffs, baseline)?;
            }
            Ok(())
        })?;
    String::from_utf8(w.into_inner()).map_err(io::Error::other)
}

fn suite(w: &mut Writer<Vec<u8>>, r: &Row, diffs: &[Difference], baseline: &str) -> io::Result<()> {
    let name = config_name(&r.cfg);
    let mine: Vec<&Difference> = diffs.iter().filter(|d| d.configuration == name).collect();
    let gone: Vec<&&Difference> = mine.iter().filter(|d| d.new.is_none()).collect();
    let time = format!("{:.3}", r.outcome.seconds);
    w.create_element("testsuite")
        .with_attribute(("name", name.as_str()))
        .with_attribute((
            "tests",
            (r.outcome.findings.len() + gone.len()).to_string().as_str(),
        ))
        .with_attribute(("failures", mine.len().to_string().as_str()))
        .with_attribute(("errors", "0"))
        .with_attribute(("skipped", "0"))
        .with_attribute(("time", time.as_str()))
        .write_inner_content(|w| {
            for f in &r.outcome.findings {
                let diff = mine.iter().find(|d| d.property == f.prop.name);
                let trace = match (&f.verdict, &f.path) {
                    (Verdict::Violated, Some(path)) => {
                        Some(match ConcretePath::rebuild(&r.cfg, path) {
                            Ok(t) => format!(
                                "counterexample to {} \"{}\" ({} steps, shortest):\n{}",
                                f.prop.expectation.name(),
                                f.prop.name,
                                path.len(),
                                format_trace(&r.cfg, &t)
                            ),
                            Err(e) => format!("(cannot show the counterexample: {e})"),
                        })
                    }
                    _ => None,
                };
                let case = w
                    .create_element("testcase")
                    .with_attribute(("name", f.prop.name))
                    .with_attribute(("classname", name.as_str()))
                    .with_attribute(("time", time.as_str()));
                match (diff, trace) {
                    (None, None) => {
                        case.write_empty()?;
                    }
                    (None, Some(trace)) => {
                        case.write_inner_content(|w| {
                            let out =
                                format!("expected: {baseline} records this violation\n{trace}");
                            text_element(w, "system-out", &out)
                        })?;
                    }
                    (Some(d), trace) => {
                        case.write_inner_content(|w| {
                            failure(w, d, baseline)?;
                            if let Some(trace) = trace {
                                text_element(w, "system-out", &trace)?;
                            }
                            Ok(())
                        })?;
                    }
                }
            }
            for d in &gone {
                w.create_element("testcase")
                    .with_attribute(("name", d.property.as_str()))
                    .with_attribute(("classname", name.as_str()))
                    .write_inner_content(|w| failure(w, d, baseline))?;
            }
            Ok(())
        })?;
    Ok(())
}

fn failure(w: &mut Writer<Vec<u8>>, d: &Difference, baseline: &str) -> io::Result<()> {
    let message = format!("changed from {baseline}: {d}");
    w.create_element("failure")
        .with_attribute(("message", message.as_str()))
        .with_attribute(("type", "changed verdict"))
        .write_inner_content(|w| cdata(w, &message))?;
    Ok(())
}

/// An element holding `text` as CDATA. Some JUnit readers drop entity references in element
/// text (`&quot;`, `&gt;`), which our steps are full of; CDATA reaches every reader intact.
fn text_element(w: &mut Writer<Vec<u8>>, name: &str, text: &str) -> io::Result<()> {
    w.create_element(name)
        .write_inner_content(|w| cdata(w, text))?;
    Ok(())
}

/// `text` as CDATA sections, split where it contains `]]>` (which no section may hold).
fn cdata(w: &mut Writer<Vec<u8>>, text: &str) -> io::Result<()> {
    for part in BytesCData::escaped(text) {
        w.write_event(Event::CData(part))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::Reader;

    #[test]
    fn cdata_text_round_trips_even_with_a_cdata_end_inside() {
        let text = "a ]]> b <c> & 'd' \"e\" ]]]]>>";
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
        text_element(&mut w, "system-out", text).unwrap();
        let xml = String::from_utf8(w.into_inner()).unwrap();
        let mut r = Reader::from_str(&xml);
        let mut got = String::new();
        loop {
            match r.read_event().unwrap() {
                Event::CData(c) => got.push_str(&c.into_inner()),
                Event::Text(t) => panic!("text outside CDATA: {t:?}"),
                Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(got, text, "{xml}");
    }
}
