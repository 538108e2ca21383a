//! Regenerates data/nb101_20k.csv.gz from the published nb101_20k.csv:
//! `cargo run --release --example nb101_build_20k -- ../shared/data/nb101/nb101_20k.csv data/nb101_20k.csv.gz`
use std::io::Write;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(args.len() == 3, "usage: nb101_build_20k CSV OUT.gz");
    let published = std::fs::read_to_string(&args[1])?;
    let cells = seminas::space::nb101::enumerate::enumerate_with_hashes();
    let text = seminas::benchmark::nb101::embedded::build_20k_csv(&published, &cells)
        .map_err(anyhow::Error::msg)?;
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&args[2])?,
        flate2::Compression::best(),
    );
    gz.write_all(text.as_bytes())?;
    gz.finish()?;
    Ok(())
}
