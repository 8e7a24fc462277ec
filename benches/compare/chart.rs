//! The SVG chart: grouped bars of the median ratio to `limit`, one group per headline figure.

use std::io;
use std::path::Path;

use plotters::prelude::*;

use crate::report::{Runs, Section};

/// The figures charted: (workload, metric, label).
const GROUPS: &[(&str, &str, &str)] = &[
    ("seq", "cpu_us", "1. parent CPU / child"),
    ("seq", "wall_us", "1. wall / child"),
    ("latency", "p50", "3. exit latency p50"),
    ("latency", "p99", "3. exit latency p99"),
    ("heap", "wall_us", "5. wall / child, big heap"),
];

const CLIP: f64 = 4.0;

const COLORS: &[RGBColor] = &[
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x98, 0xdf, 0x8a),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
    RGBColor(0xff, 0xbb, 0x78),
];

/// Draws the chart to `path` (SVG).
pub(crate) fn draw(path: &Path, sections: &[Section], runs: &[Runs]) -> io::Result<()> {
    // bars[g] = (backend, ratio) for every backend but limit that has the figure.
    let mut backends: Vec<&str> = Vec::new();
    let mut bars: Vec<Vec<(&str, f64)>> = Vec::new();
    for &(workload, key, _) in GROUPS {
        let mut group = Vec::new();
        for (s, r) in sections
            .iter()
            .zip(runs)
            .filter(|(s, _)| s.workload == workload)
        {
            for (b, name) in s.backends.iter().enumerate().filter(|(_, n)| *n != "limit") {
                if let Some(ratio) = r.stats(b, key).and_then(|st| st.ratio) {
                    group.push((name.as_str(), ratio));
                    if !backends.contains(&name.as_str()) {
                        backends.push(name);
                    }
                }
            }
        }
        bars.push(group);
    }
    plot(path, &backends, &bars).map_err(|e| io::Error::other(e.to_string()))
}

fn plot(
    path: &Path,
    backends: &[&str],
    bars: &[Vec<(&str, f64)>],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (1500, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    // Bars above CLIP (a fork in a big parent) are cut there; their label keeps the value.
    let top = bars
        .iter()
        .flatten()
        .map(|b| b.1)
        .fold(1.0, f64::max)
        .min(CLIP);
    let groups = GROUPS.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "median ratio to limit (raw posix_spawn + waitpid); lower is better; bars cut at 4",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..groups, 0f64..top * 1.12)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("ratio to limit")
        .draw()?;

    let slot = 0.8 / backends.len().max(1) as f64;
    for (i, name) in backends.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let rects: Vec<_> = bars
            .iter()
            .enumerate()
            .filter_map(|(g, group)| {
                let ratio = group.iter().find(|(n, _)| n == name)?.1;
                let x0 = g as f64 + 0.1 + i as f64 * slot;
                let y = ratio.min(top);
                Some(Rectangle::new(
                    [(x0, 0.0), (x0 + slot * 0.9, y)],
                    color.filled(),
                ))
            })
            .collect();
        chart
            .draw_series(rects)?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
        // The value above each bar.
        let labels = bars.iter().enumerate().filter_map(|(g, group)| {
            let ratio = group.iter().find(|(n, _)| n == name)?.1;
            let x = g as f64 + 0.1 + i as f64 * slot;
            let style = ("sans-serif", 10).into_font().color(&BLACK);
            let y = ratio.min(top) + top * 0.035;
            Some(Text::new(format!("{ratio:.2}"), (x, y), style))
        });
        chart.draw_series(labels)?;
    }
    // The floor, at 1.
    let floor = PathElement::new(vec![(0.0, 1.0), (groups, 1.0)], BLACK.stroke_width(1));
    chart.draw_series(std::iter::once(floor))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperMiddle)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    // Group names under the axis, centred on each group.
    for (g, &(_, _, label)) in GROUPS.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(g as f64 + 0.5, 0.0));
        let style = ("sans-serif", 13).into_font().color(&BLACK);
        let width = label.len() as i32 * 6;
        root.draw(&Text::new(label, (x - width / 2, y + 10), style))?;
    }
    root.present()?;
    Ok(())
}
