//! A picture of a path: a sequence diagram with one lane per actor (the parent, each disk's
//! child, the poller, the host, the database) and one row per step, the arrow going from the
//! actor that acted to the one it acted on. Steps that broke an always-property are drawn on a
//! red band. The web explorer shows it for every state; `livemerge show --svg` writes it.

use crate::canonical::ConcreteStep;
use crate::config::Config;
use crate::event::Event;
use crate::properties::{self, Expectation};
use crate::state::State;
use crate::transition::{Ending, Transition};
use std::fmt::Write;

const LANE_W: usize = 150;
const ROW_H: usize = 34;
const TOP: usize = 60;
const LEFT: usize = 40;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lane {
    Parent,
    Child(usize),
    Poller,
    Host,
    Db,
}

/// Which actor acted, on which, and a short label.
struct Arrow {
    from: Lane,
    to: Lane,
    label: String,
    fault: bool,
}

fn lane_x(lane: Lane, n: usize) -> usize {
    let i = match lane {
        Lane::Parent => 0,
        Lane::Child(d) => 1 + d,
        Lane::Poller => 1 + n,
        Lane::Host => 2 + n,
        Lane::Db => 3 + n,
    };
    LEFT + i * LANE_W + LANE_W / 2
}

fn arrow(cfg: &Config, st: &ConcreteStep) -> Arrow {
    use Transition as T;
    let (before, after) = (&st.before, &st.after);
    let label = st.transition.label();
    let a = |from, to, text: String| Arrow {
        from,
        to,
        label: text,
        fault: false,
    };
    let d = st.event.disk().unwrap_or(0);
    let child = Lane::Child(d);
    match st.transition {
        T::ParentBegins => a(Lane::Parent, Lane::Db, label.into()),
        T::ParentStartsChild => {
            let d = (0..cfg.n())
                .find(|&i| !before.disks[i].f.created() && after.disks[i].f.created())
                .unwrap_or(0);
            a(Lane::Parent, Lane::Child(d), label.into())
        }
        T::ParentReturns => a(Lane::Parent, Lane::Parent, label.into()),
        T::ParentDecides { .. } => {
            let seen: Vec<_> = (0..cfg.n())
                .filter(|&i| before.disks[i].f.created())
                .map(|i| before.disks[i].status.ovirt_name_in(cfg.release))
                .collect();
            a(
                Lane::Poller,
                Lane::Parent,
                format!("{label} (sees {})", seen.join(", ")),
            )
        }
        T::ParentEndAction { .. } => a(Lane::Poller, Lane::Parent, label.into()),
        T::Restart | T::UserRetries => a(Lane::Parent, Lane::Db, label.into()),
        T::PoolPicksUp | T::ChildReturns | T::GrandchildPicksUp | T::GrandchildReturns => {
            a(child, child, label.into())
        }
        T::ImageInfoFails => Arrow {
            fault: true,
            ..a(Lane::Host, child, label.into())
        },
        T::ChildStartsGrandchild | T::ChildNextStep { .. } => a(
            Lane::Poller,
            child,
            format!("{label} {}", after.disks[d].step.ovirt_name()),
        ),
        T::ChildOnSucceeded
        | T::ChildOnFailed { .. }
        | T::ChildCompletes
        | T::ChildFails(_)
        | T::GrandchildNeverExecuted
        | T::GrandchildEndsWithoutTask => a(Lane::Poller, child, label.into()),
        T::MergeReachesHost | T::GrandchildEnds(Ending::VolumeDeleted) => {
            a(child, Lane::Host, label.into())
        }
        T::MergeRefused { .. } | T::GrandchildEnds(_) => a(Lane::Host, child, label.into()),
        T::HostJobEnds => a(Lane::Host, Lane::Host, format!("disk-{}: {label}", d + 1)),
        T::HostJobFails => Arrow {
            fault: true,
            ..a(Lane::Host, Lane::Host, format!("disk-{}: {label}", d + 1))
        },
        T::DeleteVolumeFails => Arrow {
            fault: true,
            ..a(Lane::Host, child, label.into())
        },
        T::Expire => a(Lane::Poller, Lane::Db, label.into()),
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The always-properties that hold in `before` and not in `after`.
fn broken(cfg: &Config, before: &State, after: &State) -> Vec<&'static str> {
    properties::all(cfg)
        .into_iter()
        .filter(|p| p.expectation == Expectation::Always)
        .filter(|p| (p.holds)(cfg, before) && !(p.holds)(cfg, after))
        .map(|p| p.name)
        .collect()
}

/// The font size of every text but the lane names' (which are bold, same size).
pub const FONT_SIZE: f64 = 11.0;
/// Arrowheads are drawn in user units, `ARROW_HEAD` px long and high, their tip on the lane.
const ARROW_HEAD: usize = 8;
/// Gap between an arrow's line and the baseline of its label: clear of the arrowhead
/// (ARROW_HEAD / 2 above the line) and of the label's descenders.
const LABEL_LIFT: usize = ARROW_HEAD / 2 + 5;

/// A conservative estimate of how wide `text` is drawn at `font_size` px in a sans-serif font:
/// no glyph of the fonts browsers fall back to for ASCII is wider on average than 0.66 em
/// (0.72 em bold). The diagram sizes itself with it, and the tests check its text with it.
pub fn text_width(text: &str, font_size: f64, bold: bool) -> f64 {
    let em = if bold { 0.72 } else { 0.66 };
    text.chars().count() as f64 * font_size * em
}

/// A text to draw, and the horizontal span it covers.
struct Label {
    x: f64,
    y: usize,
    anchor: &'static str,
    color: &'static str,
    bold: bool,
    text: String,
}

impl Label {
    fn width(&self) -> f64 {
        text_width(&self.text, FONT_SIZE, self.bold)
    }

    fn left(&self) -> f64 {
        match self.anchor {
            "middle" => self.x - self.width() / 2.0,
            _ => self.x,
        }
    }

    fn right(&self) -> f64 {
        self.left() + self.width()
    }

    fn write(&self, s: &mut String) {
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{}" text-anchor="{}" fill="{}"{}>{}</text>"##,
            self.x,
            self.y,
            self.anchor,
            self.color,
            if self.bold {
                r#" font-weight="bold""#
            } else {
                ""
            },
            esc(&self.text)
        );
    }
}

/// The sequence diagram of a path, as a standalone SVG document. It is as wide as its widest text
/// needs (by [`text_width`]), so no label is cut off at its right edge.
pub fn sequence_diagram(cfg: &Config, steps: &[ConcreteStep]) -> String {
    let n = cfg.n();
    let lanes = n + 4;
    let lanes_right = LEFT + lanes * LANE_W;
    let height = TOP + (steps.len() + 1) * ROW_H;
    let mut names = vec!["RemoveSnapshot".to_string()];
    names.extend((0..n).map(|d| format!("disk-{} child", d + 1)));
    names.extend([
        "poller".to_string(),
        "host".to_string(),
        "database".to_string(),
    ]);
    let lane_of = |i: usize| match i {
        0 => Lane::Parent,
        i if i <= n => Lane::Child(i - 1),
        i if i == n + 1 => Lane::Poller,
        i if i == n + 2 => Lane::Host,
        _ => Lane::Db,
    };

    // Lay out first (shapes and labels), then size the picture to what was laid out.
    let mut shapes = String::new();
    let mut labels: Vec<Label> = Vec::new();
    let mut bands = Vec::new();
    for (i, st) in steps.iter().enumerate() {
        let y = TOP + (i + 1) * ROW_H;
        let first_label = labels.len();
        let ar = arrow(cfg, st);
        let color = if ar.fault { "#c00" } else { "#333" };
        let (x1, x2) = (lane_x(ar.from, n), lane_x(ar.to, n));
        labels.push(Label {
            x: 6.0,
            y: y + 4,
            anchor: "start",
            color: "#888",
            bold: false,
            text: (i + 1).to_string(),
        });
        if st.event == Event::Restart {
            let _ = write!(
                shapes,
                r##"<line x1="{LEFT}" y1="{y}" x2="{lanes_right}" y2="{y}" stroke="#c60" stroke-width="2" stroke-dasharray="8 4"/>"##,
            );
            labels.push(Label {
                x: (LEFT + 4) as f64,
                y: y - 4,
                anchor: "start",
                color: "#c60",
                bold: false,
                text: ar.label,
            });
        } else if x1 == x2 {
            let _ = write!(
                shapes,
                r##"<circle cx="{x1}" cy="{y}" r="4" fill="{color}"/>"##
            );
            labels.push(Label {
                x: (x1 + 8) as f64,
                y: y + 4,
                anchor: "start",
                color,
                bold: false,
                text: ar.label,
            });
        } else {
            let _ = write!(
                shapes,
                r##"<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{color}" stroke-width="1.5" marker-end="url(#arrow)"/>"##
            );
            // Centred over the arrow, above its head; never out past the left edge.
            let w = text_width(&ar.label, FONT_SIZE, false);
            let mid = (x1 + x2) as f64 / 2.0;
            labels.push(Label {
                x: mid.max(w / 2.0 + 4.0),
                y: y - LABEL_LIFT,
                anchor: "middle",
                color,
                bold: false,
                text: ar.label,
            });
        }
        let broken = broken(cfg, &st.before, &st.after);
        if !broken.is_empty() {
            bands.push(y);
            // Right of the lanes, and right of anything this row already drew there.
            let x = labels[first_label..]
                .iter()
                .map(|l| l.right() + 12.0)
                .fold((lanes_right + 4) as f64, f64::max);
            // One line per property, centred on the row, so the picture stays narrow.
            let k = broken.len();
            for (j, name) in broken.iter().enumerate() {
                labels.push(Label {
                    x,
                    y: (y + 4 + 13 * j).saturating_sub(13 * (k - 1) / 2),
                    anchor: "start",
                    color: "#c00",
                    bold: true,
                    text: format!("broken: {name}"),
                });
            }
        }
    }
    for (i, name) in names.iter().enumerate() {
        labels.push(Label {
            x: lane_x(lane_of(i), n) as f64,
            y: 30,
            anchor: "middle",
            color: "#000",
            bold: true,
            text: name.clone(),
        });
    }
    let needed = labels.iter().map(Label::right).fold(0.0, f64::max);
    let width = (lanes_right + LEFT).max(needed.ceil() as usize + LEFT / 2);

    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="{FONT_SIZE}">"#
    );
    let (h, half) = (ARROW_HEAD, ARROW_HEAD / 2);
    let _ = write!(
        s,
        r##"<defs><marker id="arrow" markerUnits="userSpaceOnUse" markerWidth="{h}" markerHeight="{h}" refX="{h}" refY="{half}" orient="auto"><path d="M0,0 L{h},{half} L0,{h} z" fill="#333"/></marker></defs>"##
    );
    let _ = write!(
        s,
        r##"<rect width="{width}" height="{height}" fill="#fff"/>"##
    );
    // Red bands first, so lanes and arrows are drawn over them.
    for y in bands {
        let _ = write!(
            s,
            r##"<rect class="violation" x="0" y="{}" width="{width}" height="{ROW_H}" fill="#fdd"/>"##,
            y - ROW_H / 2 - 6
        );
    }
    for i in 0..names.len() {
        let x = lane_x(lane_of(i), n);
        let _ = write!(
            s,
            r##"<line x1="{x}" y1="40" x2="{x}" y2="{}" stroke="#bbb" stroke-dasharray="4 3"/>"##,
            height - 10
        );
    }
    s.push_str(&shapes);
    for l in &labels {
        l.write(&mut s);
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_picture_is_as_wide_as_its_widest_label() {
        let cfg = Config {
            disks: 1,
            ..Config::default()
        };
        let s0 = State::initial(1);
        let steps = vec![ConcreteStep::new(&cfg, &s0, Event::ParentBegins).unwrap()];
        let svg = sequence_diagram(&cfg, &steps);
        let width: f64 = svg
            .split("width=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .and_then(|w| w.parse().ok())
            .unwrap();
        let label = "execute(): ACTIVE, snapshot LOCKED";
        assert!(svg.contains(label));
        assert!(width >= text_width(label, FONT_SIZE, false));
    }
}
