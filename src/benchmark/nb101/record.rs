//! One record of the official dataset: the JSON payload, base64 and the ModelMetrics protobuf
//! (decoded and encoded by hand; the schema is in `model_metrics.proto` of google-research/nasbench).

use crate::space::nb101::{Cell, ModuleHash};

/// One evaluation during training (`EvaluationData`); absent optional fields are `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvaluationData {
    /// Epoch at the time of the evaluation (field 1).
    pub current_epoch: Option<f64>,
    /// Training seconds so far (field 2).
    pub training_time: Option<f64>,
    /// Accuracy on 10,000 training images (field 3).
    pub train_accuracy: Option<f64>,
    /// Validation accuracy (field 4).
    pub validation_accuracy: Option<f64>,
    /// Test accuracy (field 5).
    pub test_accuracy: Option<f64>,
    /// Checkpoint location (field 6).
    pub checkpoint_path: Option<String>,
}

/// The metrics of one training run (`ModelMetrics`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelMetrics {
    /// Evaluations at the start, half-way and end of training (field 1).
    pub evaluation_data: Vec<EvaluationData>,
    /// Trainable parameters (field 2).
    pub trainable_parameters: Option<i32>,
    /// Total seconds of training and evaluation (field 3).
    pub total_time: Option<f64>,
}

/// One record: a training run of one cell for one epoch budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Nb101Record {
    /// The module hash as written in the file.
    pub hash: ModuleHash,
    /// The epoch budget (4, 12, 36 or 108 in the official files).
    pub epochs: u32,
    /// The (pruned) cell.
    pub cell: Cell,
    /// The run's metrics.
    pub metrics: ModelMetrics,
}

/// A decoding problem inside a record, with its offset from the start of the record's data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct PayloadError {
    /// Offset in the record's data (JSON text) where the problem is.
    pub at: u64,
    /// What is wrong.
    pub message: String,
}

fn perr(at: u64, message: String) -> PayloadError {
    PayloadError { at, message }
}

// ---------- base64 ----------

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

const B64_INV: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 64 {
        t[B64[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// Decodes standard base64 with padding, skipping line breaks (Python's `encodebytes` puts one
/// every 76 characters). On error, gives the index of the offending character.
pub fn base64_decode(text: &[u8], out: &mut Vec<u8>) -> Result<(), (usize, String)> {
    out.clear();
    out.reserve(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut nbits = 0;
    let mut pad_at: Option<usize> = None;
    let mut count = 0usize;
    let mut i = 0;
    while i < text.len() {
        // Fast path: four plain characters at a 24-bit boundary.
        if nbits == 0 && pad_at.is_none() && i + 4 <= text.len() {
            let q = [
                B64_INV[usize::from(text[i])],
                B64_INV[usize::from(text[i + 1])],
                B64_INV[usize::from(text[i + 2])],
                B64_INV[usize::from(text[i + 3])],
            ];
            if (q[0] | q[1] | q[2] | q[3]) & 0x80 == 0 {
                let n = u32::from(q[0]) << 18
                    | u32::from(q[1]) << 12
                    | u32::from(q[2]) << 6
                    | u32::from(q[3]);
                out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
                count += 4;
                i += 4;
                continue;
            }
        }
        let (at, c) = (i, text[i]);
        i += 1;
        if c == b'\n' || c == b'\r' {
            continue;
        }
        if c == b'=' {
            pad_at.get_or_insert(at);
            count += 1;
            continue;
        }
        if pad_at.is_some() {
            return Err((at, "data after '=' padding".into()));
        }
        let v = B64_INV[usize::from(c)];
        if v == 0xff {
            return Err((at, format!("{:?} is not a base64 character", c as char)));
        }
        count += 1;
        acc = (acc << 6) | u32::from(v);
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((acc >> nbits) as u8);
        }
        // Back on a byte boundary after 4 characters: nbits is 0 again.
        acc &= (1 << nbits) - 1;
    }
    if !count.is_multiple_of(4) {
        return Err((
            text.len(),
            format!("{count} base64 characters, not a multiple of 4"),
        ));
    }
    let pads = text.iter().filter(|&&c| c == b'=').count();
    if pads > 2 || (pads > 0 && nbits == 0) {
        return Err((pad_at.unwrap_or(text.len()), "wrong '=' padding".into()));
    }
    Ok(())
}

/// Encodes as Python's `base64.encodebytes` does: lines of 76 characters, each ending in `\n`.
pub fn base64_encode_lines(data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len() * 4 / 3 + data.len() / 57 + 4);
    for line in data.chunks(57) {
        for c in line.chunks(3) {
            let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
            let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
            for k in 0..4 {
                if k <= c.len() {
                    s.push(B64[((n >> (18 - 6 * k)) & 63) as usize] as char);
                } else {
                    s.push('=');
                }
            }
        }
        s.push('\n');
    }
    s
}

// ---------- protobuf ----------

struct Pb<'a> {
    b: &'a [u8],
    i: usize,
}

impl Pb<'_> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let &byte = self
                .b
                .get(self.i)
                .ok_or_else(|| format!("varint runs past the end at byte {}", self.i))?;
            self.i += 1;
            if shift == 63 && byte > 1 {
                return Err(format!("varint too long at byte {}", self.i - 1));
            }
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!("varint too long at byte {}", self.i))
    }
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if self.b.len() - self.i < n {
            return Err(format!(
                "field of {n} bytes at byte {} runs past the end ({} bytes)",
                self.i,
                self.b.len()
            ));
        }
        let s = &self.b[self.i..self.i + n];
        self.i += n;
        Ok(s)
    }
    fn skip(&mut self, wire: u64) -> Result<(), String> {
        match wire {
            0 => self.varint().map(|_| ()),
            1 => self.take(8).map(|_| ()),
            2 => {
                let n = self.varint()? as usize;
                self.take(n).map(|_| ())
            }
            5 => self.take(4).map(|_| ()),
            w => Err(format!("unsupported wire type {w} at byte {}", self.i)),
        }
    }
    fn double(&mut self, wire: u64, name: &str) -> Result<f64, String> {
        if wire != 1 {
            return Err(format!(
                "{name} has wire type {wire}, expected 1 (double) at byte {}",
                self.i
            ));
        }
        Ok(f64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
}

fn decode_evaluation(b: &[u8]) -> Result<EvaluationData, String> {
    let mut p = Pb { b, i: 0 };
    let mut e = EvaluationData::default();
    while p.i < b.len() {
        let key = p.varint()?;
        let (field, wire) = (key >> 3, key & 7);
        match field {
            1 => e.current_epoch = Some(p.double(wire, "current_epoch")?),
            2 => e.training_time = Some(p.double(wire, "training_time")?),
            3 => e.train_accuracy = Some(p.double(wire, "train_accuracy")?),
            4 => e.validation_accuracy = Some(p.double(wire, "validation_accuracy")?),
            5 => e.test_accuracy = Some(p.double(wire, "test_accuracy")?),
            6 => {
                if wire != 2 {
                    return Err(format!("checkpoint_path has wire type {wire}, expected 2"));
                }
                let n = p.varint()? as usize;
                let s = std::str::from_utf8(p.take(n)?)
                    .map_err(|_| "checkpoint_path is not UTF-8".to_string())?;
                e.checkpoint_path = Some(s.to_string());
            }
            _ => p.skip(wire)?,
        }
    }
    Ok(e)
}

/// Decodes a `ModelMetrics` message.
pub fn decode_metrics(b: &[u8]) -> Result<ModelMetrics, String> {
    let mut p = Pb { b, i: 0 };
    let mut m = ModelMetrics::default();
    while p.i < b.len() {
        let at = p.i;
        let key = p.varint()?;
        let (field, wire) = (key >> 3, key & 7);
        match field {
            1 => {
                if wire != 2 {
                    return Err(format!(
                        "evaluation_data has wire type {wire}, expected 2 (message) at byte {at}"
                    ));
                }
                let n = p.varint()? as usize;
                let sub = p.take(n)?;
                m.evaluation_data.push(
                    decode_evaluation(sub)
                        .map_err(|e| format!("in evaluation_data at byte {at}: {e}"))?,
                );
            }
            2 => {
                if wire != 0 {
                    return Err(format!(
                        "trainable_parameters has wire type {wire}, expected 0 (varint) at byte {at}"
                    ));
                }
                // int32 is sign-extended to 64 bits on the wire.
                m.trainable_parameters = Some(p.varint()? as i64 as i32);
            }
            3 => m.total_time = Some(p.double(wire, "total_time")?),
            _ => p.skip(wire)?,
        }
    }
    Ok(m)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_double(out: &mut Vec<u8>, field: u64, v: Option<f64>) {
    if let Some(v) = v {
        put_varint(out, field << 3 | 1);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Encodes a `ModelMetrics` message (present fields in field order, as protobuf does).
pub fn encode_metrics(m: &ModelMetrics) -> Vec<u8> {
    let mut out = Vec::with_capacity(160);
    for e in &m.evaluation_data {
        let mut sub = Vec::with_capacity(48);
        put_double(&mut sub, 1, e.current_epoch);
        put_double(&mut sub, 2, e.training_time);
        put_double(&mut sub, 3, e.train_accuracy);
        put_double(&mut sub, 4, e.validation_accuracy);
        put_double(&mut sub, 5, e.test_accuracy);
        if let Some(p) = &e.checkpoint_path {
            put_varint(&mut sub, 6 << 3 | 2);
            put_varint(&mut sub, p.len() as u64);
            sub.extend_from_slice(p.as_bytes());
        }
        put_varint(&mut out, 1 << 3 | 2);
        put_varint(&mut out, sub.len() as u64);
        out.extend_from_slice(&sub);
    }
    if let Some(p) = m.trainable_parameters {
        put_varint(&mut out, 2 << 3);
        put_varint(&mut out, i64::from(p) as u64);
    }
    put_double(&mut out, 3, m.total_time);
    out
}

// ---------- JSON payload ----------

/// Offset in `data` of the JSON error position (serde gives 1-based line and column).
fn json_offset(data: &[u8], e: &serde_json::Error) -> u64 {
    let mut line = 1;
    let mut start = 0;
    for (i, &c) in data.iter().enumerate() {
        if line == e.line() {
            break;
        }
        if c == b'\n' {
            line += 1;
            start = i + 1;
        }
    }
    (start + e.column().saturating_sub(1)) as u64
}

/// Position of the `k`-th (0-based) top-level string of the payload, for error offsets.
fn field_offset(data: &[u8], k: usize) -> u64 {
    let mut seen = 0;
    let mut in_str = false;
    let mut esc = false;
    let mut depth = 0;
    for (i, &c) in data.iter().enumerate() {
        if in_str {
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
            }
            continue;
        }
        match c {
            b'[' => depth += 1,
            b']' => depth -= 1,
            b'"' => {
                in_str = true;
                if depth == 1 {
                    if seen == k {
                        return i as u64;
                    }
                    seen += 1;
                }
            }
            _ => {}
        }
    }
    0
}

/// Decodes a record's data: `[hash, epochs, "0101...", "input,...,output", base64(metrics)]`.
/// `scratch` is reused between calls to avoid allocations.
pub fn decode_payload(data: &[u8], scratch: &mut Vec<u8>) -> Result<Nb101Record, PayloadError> {
    let (hash, epochs, adjacency, ops, metrics): (&str, u32, &str, &str, String) =
        serde_json::from_slice(data).map_err(|e| {
            perr(
                json_offset(data, &e),
                format!("the payload is not [hash, epochs, adjacency, operations, metrics]: {e}"),
            )
        })?;
    let hash: ModuleHash = hash
        .parse()
        .map_err(|e| perr(field_offset(data, 0), format!("bad module hash: {e}")))?;
    let cell = Cell::from_official_strings(adjacency, ops)
        .map_err(|e| perr(field_offset(data, 1), format!("bad cell: {e}")))?;
    let at = field_offset(data, 3);
    base64_decode(metrics.as_bytes(), scratch).map_err(|(i, m)| {
        // Each line break is written `\n` (two bytes) in the file.
        let breaks = metrics.as_bytes()[..i]
            .iter()
            .filter(|&&c| c == b'\n')
            .count();
        perr(
            at + 1 + (i + breaks) as u64,
            format!("bad base64 in the metrics: {m}"),
        )
    })?;
    let metrics =
        decode_metrics(scratch).map_err(|m| perr(at, format!("bad ModelMetrics protobuf: {m}")))?;
    Ok(Nb101Record {
        hash,
        epochs,
        cell,
        metrics,
    })
}

/// Encodes a record's data exactly as the official files do (`json.dumps` of the list).
pub fn encode_payload(r: &Nb101Record) -> Vec<u8> {
    let b64 = base64_encode_lines(&encode_metrics(&r.metrics)).replace('\n', "\\n");
    format!(
        "[\"{}\", {}, \"{}\", \"{}\", \"{}\"]",
        r.hash,
        r.epochs,
        r.cell.adjacency_string(),
        r.cell.ops_string(),
        b64
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_rejects_garbage() {
        let mut out = Vec::new();
        for len in 0..200 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let text = base64_encode_lines(&data);
            base64_decode(text.as_bytes(), &mut out).unwrap();
            assert_eq!(out, data);
        }
        assert_eq!(base64_encode_lines(b"foob"), "Zm9vYg==\n");
        assert!(base64_decode(b"Zm9vYg=", &mut out).is_err());
        assert_eq!(base64_decode(b"Zm9v*g==", &mut out).unwrap_err().0, 4);
        assert!(base64_decode(b"Zm9vYg==Zm9v", &mut out).is_err());
        assert!(base64_decode(b"Zm9vY===", &mut out).is_err());
    }

    #[test]
    fn protobuf_round_trips_and_rejects_wrong_types() {
        let m = ModelMetrics {
            evaluation_data: vec![EvaluationData {
                current_epoch: Some(108.0),
                training_time: Some(1.5),
                train_accuracy: None,
                validation_accuracy: Some(0.9),
                test_accuracy: Some(0.91),
                checkpoint_path: Some("/x/model.ckpt-1".into()),
            }],
            trainable_parameters: Some(-3),
            total_time: Some(2.0),
        };
        assert_eq!(decode_metrics(&encode_metrics(&m)).unwrap(), m);
        // trainable_parameters as a double (wire type 1) instead of a varint.
        let bad = [0x11, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(decode_metrics(&bad).unwrap_err().contains("wire type 1"));
        // Truncated submessage.
        assert!(decode_metrics(&[0x0a, 0x05, 0x09]).is_err());
        // Unknown fields are skipped.
        assert_eq!(
            decode_metrics(&[0x20, 0x05]).unwrap(),
            ModelMetrics::default()
        );
    }
}
