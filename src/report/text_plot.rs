//! A small text plot of a series, for terminals and logs (`seminas show`).

/// Plots `values` (one per x step; `None` = no value yet) in a `width` x `height` character
/// grid with the y range on the left and the x range below; empty when nothing has a value.
pub fn text_plot(values: &[Option<f64>], width: usize, height: usize) -> String {
    let known: Vec<f64> = values.iter().flatten().copied().collect();
    if known.is_empty() || width < 2 || height < 2 {
        return String::new();
    }
    let lo = known.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = known.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let n = values.len();
    let cols = width.min(n.max(2));
    let mut grid = vec![vec![' '; cols]; height];
    for (c, col) in (0..cols).map(|c| (c, c * (n - 1) / (cols - 1).max(1))) {
        // The value at the column's last step (a best-so-far curve's value there).
        if let Some(v) = values[col] {
            let row = ((v - lo) / span * (height - 1) as f64).round() as usize;
            grid[height - 1 - row.min(height - 1)][c] = '*';
        }
    }
    let label = |v: f64| format!("{v:.4}");
    let w = label(hi).len().max(label(lo).len());
    let mut out = String::new();
    for (r, line) in grid.iter().enumerate() {
        let y = if r == 0 {
            label(hi)
        } else if r == height - 1 {
            label(lo)
        } else {
            String::new()
        };
        out.push_str(&format!("{y:>w$} |{}\n", line.iter().collect::<String>()));
    }
    out.push_str(&format!("{:>w$} +{}\n", "", "-".repeat(cols)));
    let right = n.to_string();
    out.push_str(&format!(
        "{:>w$}  1{}{right}\n",
        "",
        " ".repeat(cols.saturating_sub(1 + right.len()))
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rising_curve_goes_from_bottom_left_to_top_right() {
        let v = [None, Some(1.0), Some(1.0), Some(2.0), Some(3.0)];
        let plot = text_plot(&v, 5, 3);
        let lines: Vec<&str> = plot.lines().collect();
        assert_eq!(lines[0], "3.0000 |    *");
        assert_eq!(lines[1], "       |   * ");
        assert_eq!(lines[2], "1.0000 | **  ");
        assert_eq!(lines[3], "       +-----");
        assert_eq!(lines[4], "        1   5");
        assert_eq!(text_plot(&[None, None], 10, 4), "");
    }
}
