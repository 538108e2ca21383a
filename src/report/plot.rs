//! Line plots with error bands, written as SVG (always) and PNG (feature `plot`).
//!
//! The SVG is written by hand so that it is small, deterministic and readable; the PNG is the
//! same SVG rasterised with resvg, with an embedded font so that text renders on machines
//! without fonts.

use std::fmt::Write;

/// One line of a plot.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// y at x = 1, 2, ...
    pub y: Vec<f64>,
    /// Half-width of the band around `y` at each x (same length as `y`), if any.
    pub band: Option<Vec<f64>>,
}

/// A plot of series against x = `x_step`, 2 `x_step`, ...
#[derive(Debug, Clone)]
pub struct LinePlot {
    /// Title above the plot.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// The x of the first point and the spacing of the points (1: queries 1, 2, ...).
    pub x_step: f64,
    /// Label of the y axis.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
}

/// Errors of PNG rendering.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The SVG could not be parsed (a bug in this module).
    #[error("cannot render plot: {0}")]
    Render(String),
}

const W: f64 = 860.0;
const H: f64 = 520.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;
const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
];

/// About `n` round tick values covering `[lo, hi]`.
fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = (hi - lo).max(1e-12);
    let raw = span / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

fn fmt_tick(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
            + usize::from((step * 10f64.powf(-step.log10().floor())).fract() > 1e-9)
    };
    format!("{v:.decimals$}")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl LinePlot {
    /// The y range shown: the data after the first tenth of the x axis (early points of
    /// best-so-far curves are far below and would flatten the interesting part), padded.
    fn y_range(&self) -> (f64, f64) {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for s in &self.series {
            let skip = s.y.len() / 10;
            for (i, &y) in s.y.iter().enumerate().skip(skip) {
                let b = s.band.as_ref().map(|b| b[i]).unwrap_or(0.0);
                if y.is_finite() {
                    lo = lo.min(y - b);
                    hi = hi.max(y + b);
                }
            }
        }
        if !lo.is_finite() {
            return (0.0, 1.0);
        }
        let pad = ((hi - lo) * 0.05).max(1e-6);
        (lo - pad, hi + pad)
    }

    /// The plot as an SVG document.
    pub fn to_svg(&self) -> String {
        let n = self
            .series
            .iter()
            .map(|s| s.y.len())
            .max()
            .unwrap_or(1)
            .max(2);
        let (ylo, yhi) = self.y_range();
        let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
        let px = |x: f64| LEFT + (x - 1.0) / (n as f64 - 1.0) * pw;
        let py = |y: f64| TOP + (yhi - y) / (yhi - ylo) * ph;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="DejaVu Sans, sans-serif" font-size="13">"#
        );
        let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<defs><clipPath id="area"><rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}"/></clipPath></defs>"#
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="28" text-anchor="middle" font-size="16">{}</text>"#,
            LEFT + pw / 2.0,
            escape(&self.title)
        );
        // Grid and ticks.
        let yt = ticks(ylo, yhi, 6);
        let ystep = if yt.len() > 1 { yt[1] - yt[0] } else { 1.0 };
        for &t in &yt {
            let y = py(t);
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" y1="{y:.2}" x2="{:.2}" y2="{y:.2}" stroke="#e0e0e0"/><text x="{:.2}" y="{:.2}" text-anchor="end">{}</text>"##,
                LEFT + pw,
                LEFT - 8.0,
                y + 4.5,
                fmt_tick(t, ystep)
            );
        }
        // Ticks in x units (x = index * x_step).
        let step = if self.x_step > 0.0 { self.x_step } else { 1.0 };
        let xt: Vec<f64> = ticks(step, n as f64 * step, 8)
            .into_iter()
            .filter(|&t| t >= step)
            .collect();
        let xstep_ticks = if xt.len() > 1 { xt[1] - xt[0] } else { 1.0 };
        for &t in &xt {
            let x = px(t / step);
            let _ = writeln!(
                s,
                r##"<line x1="{x:.2}" y1="{TOP}" x2="{x:.2}" y2="{:.2}" stroke="#e0e0e0"/><text x="{x:.2}" y="{:.2}" text-anchor="middle">{}</text>"##,
                TOP + ph,
                TOP + ph + 18.0,
                fmt_tick(t, xstep_ticks)
            );
        }
        let _ = writeln!(
            s,
            r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.2}" y="{:.2}" text-anchor="middle">{}</text>"#,
            LEFT + pw / 2.0,
            H - 15.0,
            escape(&self.x_label)
        );
        let _ = writeln!(
            s,
            r#"<text transform="translate(22 {:.2}) rotate(-90)" text-anchor="middle">{}</text>"#,
            TOP + ph / 2.0,
            escape(&self.y_label)
        );
        // Bands first, then lines on top.
        let _ = writeln!(s, r#"<g clip-path="url(#area)">"#);
        for (k, se) in self.series.iter().enumerate() {
            let c = COLORS[k % COLORS.len()];
            if let Some(b) = &se.band {
                let pts = |sign: f64| -> Vec<String> {
                    se.y.iter()
                        .zip(b)
                        .enumerate()
                        .filter(|(_, (y, _))| y.is_finite())
                        .map(|(i, (y, b))| {
                            format!("{:.2},{:.2}", px(i as f64 + 1.0), py(y + sign * b))
                        })
                        .collect()
                };
                let mut poly = pts(1.0);
                poly.extend(pts(-1.0).into_iter().rev());
                let _ = writeln!(
                    s,
                    r#"<polygon points="{}" fill="{c}" fill-opacity="0.18" stroke="none"/>"#,
                    poly.join(" ")
                );
            }
        }
        for (k, se) in self.series.iter().enumerate() {
            let c = COLORS[k % COLORS.len()];
            let pts: Vec<String> =
                se.y.iter()
                    .enumerate()
                    .filter(|(_, y)| y.is_finite())
                    .map(|(i, y)| format!("{:.2},{:.2}", px(i as f64 + 1.0), py(*y)))
                    .collect();
            let _ = writeln!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="2"/>"#,
                pts.join(" ")
            );
        }
        let _ = writeln!(s, "</g>");
        // Legend.
        for (k, se) in self.series.iter().enumerate() {
            let c = COLORS[k % COLORS.len()];
            let y = TOP + 12.0 + 22.0 * k as f64;
            let x = LEFT + pw + 16.0;
            let _ = writeln!(
                s,
                r#"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="{c}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
                x + 24.0,
                x + 32.0,
                y + 4.5,
                escape(&se.name)
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

/// Rasterises an SVG written by [`LinePlot::to_svg`] to PNG bytes.
#[cfg(feature = "plot")]
pub fn svg_to_png(svg: &str) -> Result<Vec<u8>, PlotError> {
    use resvg::{tiny_skia, usvg};
    use std::io::Read;
    use std::sync::Arc;
    static FONT_GZ: &[u8] = include_bytes!("../../data/fonts/DejaVuSans.ttf.gz");
    let mut font = Vec::new();
    flate2::read::GzDecoder::new(FONT_GZ)
        .read_to_end(&mut font)
        .map_err(|e| PlotError::Render(format!("embedded font: {e}")))?;
    let mut db = usvg::fontdb::Database::new();
    db.load_font_data(font);
    db.set_sans_serif_family("DejaVu Sans");
    let opt = usvg::Options {
        fontdb: Arc::new(db),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &opt).map_err(|e| PlotError::Render(e.to_string()))?;
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| PlotError::Render("empty image".into()))?;
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap
        .encode_png()
        .map_err(|e| PlotError::Render(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(93.1, 94.4, 6), vec![93.25, 93.5, 93.75, 94.0, 94.25]);
        assert_eq!(fmt_tick(93.25, 0.25), "93.25");
        assert_eq!(fmt_tick(94.0, 0.5), "94.0");
        assert_eq!(fmt_tick(150.0, 25.0), "150");
    }

    fn plot() -> LinePlot {
        LinePlot {
            x_step: 1.0,
            title: "t <&>".into(),
            x_label: "queries".into(),
            y_label: "acc".into(),
            series: vec![
                Series {
                    name: "a".into(),
                    y: vec![1.0, 2.0, 3.0],
                    band: Some(vec![0.1, 0.1, 0.1]),
                },
                Series {
                    name: "b".into(),
                    y: vec![1.5, 2.5, 2.7],
                    band: None,
                },
            ],
        }
    }

    #[test]
    fn svg_has_one_line_per_series_and_escapes_text() {
        let svg = plot().to_svg();
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<polygon").count(), 1);
        assert!(svg.contains("t &lt;&amp;&gt;"));
    }

    #[cfg(feature = "plot")]
    #[test]
    fn png_renders_with_text() {
        let png = svg_to_png(&plot().to_svg()).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        // The same plot without any text must differ: the embedded font drew glyphs.
        let mut bare = plot();
        bare.title.clear();
        let bare_png = svg_to_png(&bare.to_svg()).unwrap();
        assert_ne!(png, bare_png);
    }
}
