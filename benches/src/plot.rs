//! SVG charts for the report (plotters' SVG backend: no fonts or system
//! libraries needed; text is left to the browser).

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use crate::measure::Summary;

const PALETTE: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
];

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("drawing a chart: {e}")
}

/// One bar series: a name and one value per category (`None`: not measured).
pub struct Bars {
    pub name: String,
    pub values: Vec<Option<Summary>>,
}

/// Grouped bars, one group per category, with min–max whiskers.
pub fn grouped_bars(path: &Path, title: &str, y_label: &str, categories: &[String], series: &[Bars]) -> Result<()> {
    let top =
        series.iter().flat_map(|s| s.values.iter().flatten().map(|v| v.max)).fold(0.0f64, f64::max).max(1e-9) * 1.15;
    let root = SVGBackend::new(path, (860, 460)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..categories.len() as f64, 0f64..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .x_label_formatter(&|_| String::new())
        .y_desc(y_label)
        .draw()
        .map_err(err)?;
    let width = 0.8 / series.len().max(1) as f64;
    for (k, s) in series.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let x0 = |i: usize| i as f64 + 0.1 + k as f64 * width;
        let bars: Vec<(usize, &Summary)> =
            s.values.iter().enumerate().filter_map(|(i, v)| v.as_ref().map(|v| (i, v))).collect();
        chart
            .draw_series(
                bars.iter()
                    .map(|(i, v)| Rectangle::new([(x0(*i), 0.0), (x0(*i) + width * 0.9, v.median)], colour.filled())),
            )
            .map_err(err)?
            .label(s.name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
        chart
            .draw_series(bars.iter().map(|(i, v)| {
                let xc = x0(*i) + width * 0.45;
                PathElement::new(vec![(xc, v.min), (xc, v.max)], BLACK.stroke_width(2))
            }))
            .map_err(err)?;
        chart
            .draw_series(bars.iter().map(|(i, v)| {
                Text::new(format!("{:.1}", v.median), (x0(*i), v.max + top * 0.02), ("sans-serif", 11).into_font())
            }))
            .map_err(err)?;
    }
    for (i, name) in categories.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        root.draw(&Text::new(
            name.clone(),
            (px - 4 * name.chars().count() as i32, py + 8),
            ("sans-serif", 14).into_font(),
        ))
        .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Lines through points, one per series; axes optionally logarithmic.
pub struct Line {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

pub fn lines(path: &Path, title: &str, x_label: &str, y_label: &str, log_axes: bool, series: &[Line]) -> Result<()> {
    let all = || series.iter().flat_map(|s| s.points.iter().copied());
    let (xmin, xmax) = all().fold((f64::MAX, f64::MIN), |(a, b), (x, _)| (a.min(x), b.max(x)));
    let (ymin, ymax) = all().fold((f64::MAX, f64::MIN), |(a, b), (_, y)| (a.min(y), b.max(y)));
    if xmin > xmax {
        return Ok(());
    }
    let root = SVGBackend::new(path, (860, 460)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut builder = ChartBuilder::on(&root);
    builder.caption(title, ("sans-serif", 20)).margin(12).x_label_area_size(40).y_label_area_size(64);
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart.configure_mesh().x_desc(x_label).y_desc(y_label).draw().map_err(err)?;
            for (k, s) in series.iter().enumerate() {
                let colour = PALETTE[k % PALETTE.len()];
                chart
                    .draw_series(LineSeries::new(s.points.clone(), colour.stroke_width(2)))
                    .map_err(err)?
                    .label(s.name.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], colour.stroke_width(2)));
                chart.draw_series(s.points.iter().map(|p| Circle::new(*p, 4, colour.filled()))).map_err(err)?;
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(err)?;
        }};
    }
    if log_axes {
        draw!(
            builder
                .build_cartesian_2d((xmin * 0.7..xmax * 1.4).log_scale(), (ymin * 0.5..ymax * 2.0).log_scale())
                .map_err(err)?
        );
    } else {
        draw!(builder.build_cartesian_2d(0f64..xmax * 1.1, 0f64..ymax * 1.15).map_err(err)?);
    }
    root.present().map_err(err)?;
    Ok(())
}
