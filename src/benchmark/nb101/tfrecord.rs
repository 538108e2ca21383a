//! TFRecord framing: per record a u64 little-endian length, the masked CRC-32C of those 8
//! bytes (u32 LE), the data, and the masked CRC-32C of the data (u32 LE).

use std::io::{self, Read, Write};

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) lookup tables for slicing-by-8.
const TABLES: [[u32; 256]; 8] = {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut s = 1;
    while s < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        s += 1;
    }
    t
};

/// The CRC-32C of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let lo = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) ^ crc;
        crc = TABLES[7][(lo & 0xff) as usize]
            ^ TABLES[6][((lo >> 8) & 0xff) as usize]
            ^ TABLES[5][((lo >> 16) & 0xff) as usize]
            ^ TABLES[4][(lo >> 24) as usize]
            ^ TABLES[3][usize::from(c[4])]
            ^ TABLES[2][usize::from(c[5])]
            ^ TABLES[1][usize::from(c[6])]
            ^ TABLES[0][usize::from(c[7])];
    }
    for &b in chunks.remainder() {
        crc = (crc >> 8) ^ TABLES[0][((crc ^ u32::from(b)) & 0xff) as usize];
    }
    !crc
}

/// TFRecord's masking of a CRC (so that CRCs of data holding CRCs stay well distributed).
pub fn masked_crc32c(data: &[u8]) -> u32 {
    let c = crc32c(data);
    c.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// What can go wrong while reading one record's framing.
#[derive(Debug, thiserror::Error)]
pub enum FramingError {
    /// The input stopped inside a record.
    #[error("truncated record: {what} needs {needed} bytes, only {got} left")]
    Truncated {
        /// The part being read.
        what: &'static str,
        /// Bytes it needs.
        needed: u64,
        /// Bytes there were.
        got: u64,
    },
    /// The length's CRC does not match.
    #[error("bad CRC-32C of the record length (stored {stored:#010x}, computed {computed:#010x})")]
    LengthCrc {
        /// The CRC in the file.
        stored: u32,
        /// The CRC of the length bytes.
        computed: u32,
    },
    /// The data's CRC does not match.
    #[error("bad CRC-32C of the record data (stored {stored:#010x}, computed {computed:#010x})")]
    DataCrc {
        /// The CRC in the file.
        stored: u32,
        /// The CRC of the data.
        computed: u32,
    },
    /// A length too large for any real record (guards the allocation).
    #[error("record length {0} is implausibly large")]
    TooLarge(u64),
    /// Reading failed.
    #[error("read error: {0}")]
    Io(#[from] io::Error),
}

/// A framing error and the byte offset of the offending field.
pub type LocatedError = (u64, FramingError);

/// Largest record accepted (real NAS-Bench-101 records are under 2 KB).
pub const MAX_RECORD_LEN: u64 = 1 << 26;

/// Reads TFRecord records one at a time, checking both CRCs.
pub struct RecordReader<R> {
    inner: R,
    offset: u64,
    buf: Vec<u8>,
}

impl<R: Read> RecordReader<R> {
    /// Wraps a reader positioned at the start of a record.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            offset: 0,
            buf: Vec::new(),
        }
    }

    /// Byte offset of the next record.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads as many bytes as there are up to `buf.len()`; returns how many.
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match self.inner.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    /// The next record's data and the byte offset where the record starts, `None` at a clean
    /// end of input. On error, the offset is that of the offending field.
    pub fn next_record(&mut self) -> Result<Option<(u64, &[u8])>, LocatedError> {
        let start = self.offset;
        let mut head = [0u8; 12];
        let got = self.fill(&mut head).map_err(|e| (start, e.into()))?;
        if got == 0 {
            return Ok(None);
        }
        if got < 12 {
            return Err((
                start,
                FramingError::Truncated {
                    what: "the record header",
                    needed: 12,
                    got: got as u64,
                },
            ));
        }
        let len = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
        let stored = u32::from_le_bytes(head[8..12].try_into().expect("4 bytes"));
        let computed = masked_crc32c(&head[..8]);
        if stored != computed {
            return Err((start + 8, FramingError::LengthCrc { stored, computed }));
        }
        if len > MAX_RECORD_LEN {
            return Err((start, FramingError::TooLarge(len)));
        }
        let total = len as usize + 4;
        let mut buf = std::mem::take(&mut self.buf);
        buf.resize(total, 0);
        let got = self.fill(&mut buf);
        let data_at = start + 12;
        let got = match got {
            Ok(g) => g,
            Err(e) => return Err((data_at, e.into())),
        };
        if got < total {
            let (what, needed, have) = if got < len as usize {
                ("the record data", len, got as u64)
            } else {
                ("the data CRC", 4, (got - len as usize) as u64)
            };
            return Err((
                data_at + if what == "the data CRC" { len } else { 0 },
                FramingError::Truncated {
                    what,
                    needed,
                    got: have,
                },
            ));
        }
        let data_len = len as usize;
        let stored = u32::from_le_bytes(buf[data_len..].try_into().expect("4 bytes"));
        let computed = masked_crc32c(&buf[..data_len]);
        if stored != computed {
            self.buf = buf;
            return Err((data_at + len, FramingError::DataCrc { stored, computed }));
        }
        self.offset = data_at + len + 4;
        self.buf = buf;
        Ok(Some((start, &self.buf[..data_len])))
    }
}

/// Writes one record with its framing.
pub fn write_record<W: Write>(w: &mut W, data: &[u8]) -> io::Result<()> {
    let len = (data.len() as u64).to_le_bytes();
    w.write_all(&len)?;
    w.write_all(&masked_crc32c(&len).to_le_bytes())?;
    w.write_all(data)?;
    w.write_all(&masked_crc32c(data).to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_known_values() {
        // RFC 3720 (iSCSI) test vectors and the classic check value.
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62a8_ab43);
        let inc: Vec<u8> = (0..32).collect();
        assert_eq!(crc32c(&inc), 0x46dd_794e);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn round_trip_and_framing_errors() {
        let mut file = Vec::new();
        write_record(&mut file, b"hello").unwrap();
        write_record(&mut file, b"").unwrap();
        write_record(&mut file, &[7u8; 100]).unwrap();
        let mut r = RecordReader::new(&file[..]);
        assert_eq!(r.next_record().unwrap().unwrap(), (0, &b"hello"[..]));
        assert_eq!(r.next_record().unwrap().unwrap(), (21, &b""[..]));
        assert_eq!(r.next_record().unwrap().unwrap().1, &[7u8; 100][..]);
        assert!(r.next_record().unwrap().is_none());

        let err = |bytes: &[u8]| {
            let mut r = RecordReader::new(bytes);
            loop {
                match r.next_record() {
                    Ok(Some(_)) => {}
                    Ok(None) => panic!("no error"),
                    Err(e) => return e,
                }
            }
        };
        // Truncated inside the second record's header, data and CRC.
        assert!(matches!(
            err(&file[..25]),
            (
                21,
                FramingError::Truncated {
                    needed: 12,
                    got: 4,
                    ..
                }
            )
        ));
        assert!(matches!(
            err(&file[..50]),
            (49, FramingError::Truncated { needed: 100, .. })
        ));
        assert!(matches!(
            err(&file[..file.len() - 1]),
            (
                149,
                FramingError::Truncated {
                    needed: 4,
                    got: 3,
                    ..
                }
            )
        ));
        // A flipped data byte and a flipped length byte.
        let mut bad = file.clone();
        bad[14] ^= 1;
        assert!(matches!(err(&bad), (17, FramingError::DataCrc { .. })));
        let mut bad = file.clone();
        bad[21] ^= 1;
        assert!(matches!(err(&bad), (29, FramingError::LengthCrc { .. })));
        // A huge length with a valid CRC.
        let mut huge = Vec::new();
        let len = u64::MAX.to_le_bytes();
        huge.extend_from_slice(&len);
        huge.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
        assert!(matches!(err(&huge), (0, FramingError::TooLarge(_))));
    }
}
