//! Image files to network inputs: JPEG and PNG decoding to RGB, then the ImageNet evaluation
//! preprocessing (resize the shorter side, center crop), optionally mirrored.
//!
//! The resize is PIL's bilinear filter with antialiasing (what torchvision's `Resize` uses on
//! PIL images): a triangle filter whose support widens by the scale factor when shrinking, so
//! a large downscale averages every source pixel (like an area filter) instead of skipping
//! pixels; when enlarging it is plain bilinear interpolation (pixel centers aligned). Unlike
//! PIL it keeps the intermediate row pass in `f32` (no 8-bit rounding between the passes).
//! All arithmetic is sequential `f32` per image, so the bytes do not depend on threads.

use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

/// A decoded image: `width x height` pixels of interleaved RGB bytes, row after row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rgb {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Decodes a JPEG or PNG file's bytes (told apart by their signature, not the file name: some
/// ImageNet `.JPEG` files are PNGs) to RGB. Grayscale is repeated in the three channels, alpha
/// dropped, 16-bit samples reduced to their high byte, palettes expanded, CMYK converted.
pub(crate) fn decode(bytes: &[u8]) -> Result<Rgb, String> {
    if bytes.starts_with(PNG_MAGIC) {
        decode_png(bytes)
    } else if bytes.starts_with(&[0xff, 0xd8]) {
        decode_jpeg(bytes)
    } else {
        let head: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
        Err(format!(
            "neither a JPEG nor a PNG file (first bytes: {})",
            if head.is_empty() {
                "none, the file is empty".into()
            } else {
                head.join(" ")
            }
        ))
    }
}

fn decode_jpeg(bytes: &[u8]) -> Result<Rgb, String> {
    // zune-jpeg fills a truncated file's missing blocks with gray instead of failing (its
    // strict mode would fail, but also on flaws libjpeg and PIL accept), which would train on
    // half-gray images without notice.
    if !ends_after_its_scan(bytes) {
        return Err("truncated JPEG (no end-of-image marker after the image data)".into());
    }
    let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut dec = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    let data = dec.decode().map_err(|e| format!("bad JPEG: {e:?}"))?;
    let info = dec.info().ok_or("bad JPEG: no image header")?;
    let (width, height) = (usize::from(info.width), usize::from(info.height));
    if data.len() != width * height * 3 {
        return Err(format!(
            "bad JPEG: {} bytes decoded for {width}x{height} RGB pixels",
            data.len()
        ));
    }
    Ok(Rgb {
        width,
        height,
        data,
    })
}

/// Whether an end-of-image marker (`FF D9`) follows the first scan. The header segments are
/// skipped by their lengths, as an EXIF thumbnail inside them is a whole JPEG with its own end
/// marker. Inside scan data an `FF` byte is followed by `00` or a restart marker, so `FF D9`
/// there is the real end.
fn ends_after_its_scan(bytes: &[u8]) -> bool {
    let mut at = 2;
    while at + 4 <= bytes.len() {
        if bytes[at] != 0xff {
            at += 1; // stray bytes between segments: skipped, as libjpeg does
            continue;
        }
        let marker = bytes[at + 1];
        if marker == 0xff {
            at += 1; // fill byte
            continue;
        }
        let len = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        at += 2 + len;
        if marker == 0xda {
            return bytes
                .get(at..)
                .is_some_and(|scan| scan.windows(2).any(|w| w == [0xff, 0xd9]));
        }
    }
    false
}

fn decode_png(bytes: &[u8]) -> Result<Rgb, String> {
    let bad = |e: png::DecodingError| format!("bad PNG: {e}");
    let mut dec = png::Decoder::new(std::io::Cursor::new(bytes));
    // Palette and low bit depths to 8-bit, 16-bit to 8-bit, transparency to an alpha channel.
    dec.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = dec.read_info().map_err(bad)?;
    let size = reader
        .output_buffer_size()
        .ok_or("bad PNG: the image is too large")?;
    let mut buf = vec![0u8; size];
    let frame = reader.next_frame(&mut buf).map_err(bad)?;
    let (width, height) = (frame.width as usize, frame.height as usize);
    let stride = frame.line_size;
    let per_pixel = match frame.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => return Err("bad PNG: palette left unexpanded".into()),
    };
    if frame.bit_depth != png::BitDepth::Eight || stride < width * per_pixel {
        return Err(format!(
            "bad PNG: unexpected output layout {:?} {:?}",
            frame.color_type, frame.bit_depth
        ));
    }
    let mut data = Vec::with_capacity(width * height * 3);
    for row in buf.chunks(stride).take(height) {
        for px in row[..width * per_pixel].chunks_exact(per_pixel) {
            if per_pixel <= 2 {
                data.extend_from_slice(&[px[0]; 3]);
            } else {
                data.extend_from_slice(&px[..3]);
            }
        }
    }
    Ok(Rgb {
        width,
        height,
        data,
    })
}

/// The size after resizing `(width, height)` so that its shorter side is `short`, as
/// torchvision's `Resize(short)`: the longer side is `floor(short * long / short_side)`.
pub(crate) fn resized_size(width: usize, height: usize, short: usize) -> (usize, usize) {
    if width <= height {
        (short, (short * height / width.max(1)).max(1))
    } else {
        ((short * width / height.max(1)).max(1), short)
    }
}

/// Offset of a centered crop of `crop` out of `size`: torchvision's `CenterCrop`,
/// `round((size - crop) / 2)` with Python's rounding of halves to even.
pub(crate) fn crop_offset(size: usize, crop: usize) -> usize {
    let d = size.saturating_sub(crop);
    let half = d / 2;
    if d % 2 == 1 && half % 2 == 1 {
        half + 1
    } else {
        half
    }
}

/// Filter taps of output pixels `first..first + count` of a resize from `input` to `output`
/// pixels along one axis: for each, the first input pixel and the normalised weights.
fn taps(input: usize, output: usize, first: usize, count: usize) -> Vec<(usize, Vec<f32>)> {
    let scale = input as f64 / output as f64;
    let filter_scale = scale.max(1.0);
    // The triangle filter has support 1; shrinking widens it by the scale.
    let support = filter_scale;
    (first..first + count)
        .map(|o| {
            let center = (o as f64 + 0.5) * scale;
            let lo = ((center - support + 0.5).floor().max(0.0)) as usize;
            let hi = ((center + support + 0.5).floor() as usize).min(input);
            let mut w: Vec<f64> = (lo..hi)
                .map(|i| (1.0 - ((i as f64 - center + 0.5) / filter_scale).abs()).max(0.0))
                .collect();
            let sum: f64 = w.iter().sum();
            if sum > 0.0 {
                w.iter_mut().for_each(|v| *v /= sum);
            }
            // Drop zero weights at the ends, so that an unscaled axis copies pixels exactly.
            let start = w.iter().position(|&v| v != 0.0).unwrap_or(0);
            let end = w.iter().rposition(|&v| v != 0.0).map_or(start, |e| e + 1);
            (
                lo + start,
                w[start..end].iter().map(|&v| v as f32).collect(),
            )
        })
        .collect()
}

/// Resizes `img` so that its shorter side is `short`, takes the centered `crop x crop`
/// square, mirrors it left-right when `flip`, and returns it channel-major (`3 x crop x crop`
/// bytes). Only the pixels inside the crop are computed. Needs `short >= crop`.
pub(crate) fn resize_crop(img: &Rgb, short: usize, crop: usize, flip: bool) -> Vec<u8> {
    let (w, h) = (img.width, img.height);
    let (rw, rh) = resized_size(w, h, short);
    let (left, top) = (crop_offset(rw, crop), crop_offset(rh, crop));
    let cols = taps(w, rw, left, crop);
    let rows = taps(h, rh, top, crop);
    // Source rows the vertical pass reads.
    let y0 = rows.iter().map(|r| r.0).min().unwrap_or(0);
    let y1 = rows.iter().map(|r| r.0 + r.1.len()).max().unwrap_or(0);
    // Horizontal pass over the needed rows: (y1 - y0) x crop x 3 values.
    let mut mid = vec![0f32; (y1 - y0) * crop * 3];
    for (y, out) in (y0..y1).zip(mid.chunks_exact_mut(crop * 3)) {
        let row = &img.data[y * w * 3..(y + 1) * w * 3];
        for ((x0, wts), px) in cols.iter().zip(out.chunks_exact_mut(3)) {
            let mut acc = [0f32; 3];
            for (k, &wt) in wts.iter().enumerate() {
                let s = &row[(x0 + k) * 3..(x0 + k) * 3 + 3];
                for c in 0..3 {
                    acc[c] += wt * f32::from(s[c]);
                }
            }
            px.copy_from_slice(&acc);
        }
    }
    // Vertical pass, written channel-major.
    let plane = crop * crop;
    let mut out = vec![0u8; 3 * plane];
    for (oy, (r0, wts)) in rows.iter().enumerate() {
        for ox in 0..crop {
            let mut acc = [0f32; 3];
            for (k, &wt) in wts.iter().enumerate() {
                let s = &mid[((r0 + k - y0) * crop + ox) * 3..][..3];
                for c in 0..3 {
                    acc[c] += wt * s[c];
                }
            }
            let x = if flip { crop - 1 - ox } else { ox };
            for (c, v) in acc.iter().enumerate() {
                out[c * plane + oy * crop + x] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gray(width: usize, height: usize, f: impl Fn(usize, usize) -> u8) -> Rgb {
        let mut data = Vec::new();
        for y in 0..height {
            for x in 0..width {
                data.extend_from_slice(&[f(x, y); 3]);
            }
        }
        Rgb {
            width,
            height,
            data,
        }
    }

    #[test]
    fn sizes_and_offsets_follow_torchvision() {
        // Resize(256) of a 500x375 image: 341x256 (int(256 * 500 / 375) = 341).
        assert_eq!(resized_size(500, 375, 256), (341, 256));
        assert_eq!(resized_size(375, 500, 256), (256, 341));
        assert_eq!(resized_size(10, 10, 37), (37, 37));
        // CenterCrop: round((size - crop) / 2), halves to even.
        assert_eq!(crop_offset(256, 224), 16);
        assert_eq!(crop_offset(341, 224), 58); // 58.5 -> 58
        assert_eq!(crop_offset(37, 32), 2); // 2.5 -> 2
        assert_eq!(crop_offset(39, 32), 4); // 3.5 -> 4
        assert_eq!(crop_offset(9, 8), 0); // 0.5 -> 0
    }

    #[test]
    fn a_constant_image_stays_constant() {
        let img = gray(50, 31, |_, _| 77);
        for (short, crop) in [(37, 32), (9, 8), (256, 224), (31, 31)] {
            let out = resize_crop(&img, short, crop, false);
            assert_eq!(out.len(), 3 * crop * crop);
            assert!(out.iter().all(|&v| v == 77), "{short} {crop}");
        }
    }

    #[test]
    fn unscaled_is_an_exact_copy_and_flip_mirrors() {
        let img = gray(6, 4, |x, y| (x * 40 + y) as u8);
        let out = resize_crop(&img, 4, 4, false);
        // 6x4 -> shorter side already 4; crop columns 1..5.
        let expect: Vec<u8> = (0..4)
            .flat_map(|y| (1..5).map(move |x| (x * 40 + y) as u8))
            .collect();
        assert_eq!(&out[..16], &expect[..]);
        assert_eq!(&out[16..32], &expect[..]);
        let flipped = resize_crop(&img, 4, 4, true);
        for y in 0..4 {
            let row: Vec<u8> = expect[y * 4..y * 4 + 4].iter().rev().copied().collect();
            assert_eq!(&flipped[y * 4..y * 4 + 4], &row[..]);
        }
    }

    #[test]
    fn a_2x_upscale_is_bilinear() {
        // Columns 0, 100, 200, 240 enlarged 2x (pixel centers aligned): each source pixel
        // becomes 3/4 of itself + 1/4 of its neighbour (the edge repeats), as PIL's bilinear.
        let src = [0u8, 100, 200, 240];
        let img = gray(4, 4, |x, _| src[x]);
        let out = resize_crop(&img, 8, 8, false);
        let row: Vec<u8> = out[..8].to_vec();
        assert_eq!(row, [0, 25, 75, 125, 175, 210, 230, 240]);
        assert!(out[..64].chunks(8).all(|r| r == &row[..]));
    }

    #[test]
    fn a_large_shrink_averages_like_an_area_filter() {
        // 4x shrink of alternating 0/200 columns: the widened triangle filter gives a weighted
        // mean near 100 everywhere, where point sampling would give 0 or 200.
        let img = gray(64, 64, |x, _| if x % 2 == 0 { 0 } else { 200 });
        let out = resize_crop(&img, 16, 16, false);
        // Inside, the 8 taps of each output pixel give even and odd columns equal total
        // weight: exactly 100. At the borders the clipped support tilts it (93, 107).
        assert!(
            out[16 * 8 + 2..16 * 8 + 14].iter().all(|&v| v == 100),
            "{out:?}"
        );
        assert!(out.iter().all(|&v| (90..=110).contains(&v)), "{out:?}");
    }

    #[test]
    fn truncation_is_found_after_a_thumbnail_and_stray_bytes() {
        let jpeg = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/gradient_12x10.jpg"
        ))
        .unwrap();
        // An APP1 segment holding a whole tiny "thumbnail" (with its own end marker) and two
        // stray bytes after it, both before the image's own segments.
        let app1 = [0xff, 0xe1, 0, 8, 0xff, 0xd8, 0xff, 0xd9, 0, 0, 7, 7];
        let full = [&jpeg[..2], &app1[..], &jpeg[2..]].concat();
        assert!(ends_after_its_scan(&full));
        let img = decode(&full).unwrap();
        assert_eq!((img.width, img.height), (12, 10));
        let cut = &full[..full.len() - 40];
        assert!(!ends_after_its_scan(cut));
        assert!(decode(cut).unwrap_err().contains("truncated JPEG"));
    }

    #[test]
    fn garbage_is_refused_with_its_first_bytes() {
        let e = decode(b"hello").unwrap_err();
        assert!(
            e.contains("neither a JPEG nor a PNG file (first bytes: 68 65 6c 6c)"),
            "{e}"
        );
        assert!(decode(b"").unwrap_err().contains("empty"));
        let e = decode(b"\x89PNG\r\n\x1a\nxx").unwrap_err();
        assert!(e.starts_with("bad PNG"), "{e}");
        let e = decode(&[0xff, 0xd8, 0xff, 0xe0, 0, 0]).unwrap_err();
        assert!(e.contains("truncated JPEG"), "{e}");
    }
}
