//! MD5 (RFC 1321), needed only because the official NAS-Bench-101 module hash is built from it.
//! Not for security.

const S: [u32; 64] = [
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9,
    14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15,
    21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
];

// floor(abs(sin(i + 1)) * 2^32), as published in RFC 1321.
const K: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];

// One step of round 1..4: a = b + ((a + f(b, c, d) + m[g] + K[i]) <<< S[i]).
macro_rules! step {
    ($f:ident, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $i:expr) => {
        $a = $b.wrapping_add(
            $a.wrapping_add($f($b, $c, $d))
                .wrapping_add($m)
                .wrapping_add(K[$i])
                .rotate_left(S[$i]),
        );
    };
}

#[inline(always)]
fn f1(b: u32, c: u32, d: u32) -> u32 {
    d ^ (b & (c ^ d))
}
#[inline(always)]
fn f2(b: u32, c: u32, d: u32) -> u32 {
    c ^ (d & (b ^ c))
}
#[inline(always)]
fn f3(b: u32, c: u32, d: u32) -> u32 {
    b ^ c ^ d
}
#[inline(always)]
fn f4(b: u32, c: u32, d: u32) -> u32 {
    c ^ (b | !d)
}

// Fully unrolled (the rolled loop was several times slower, and the module hash is MD5-bound).
fn compress(state: &mut [u32; 4], block: &[u8]) {
    let mut m = [0u32; 16];
    for (w, c) in m.iter_mut().zip(block.chunks_exact(4)) {
        *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
    let [mut a, mut b, mut c, mut d] = *state;
    step!(f1, a, b, c, d, m[0], 0);
    step!(f1, d, a, b, c, m[1], 1);
    step!(f1, c, d, a, b, m[2], 2);
    step!(f1, b, c, d, a, m[3], 3);
    step!(f1, a, b, c, d, m[4], 4);
    step!(f1, d, a, b, c, m[5], 5);
    step!(f1, c, d, a, b, m[6], 6);
    step!(f1, b, c, d, a, m[7], 7);
    step!(f1, a, b, c, d, m[8], 8);
    step!(f1, d, a, b, c, m[9], 9);
    step!(f1, c, d, a, b, m[10], 10);
    step!(f1, b, c, d, a, m[11], 11);
    step!(f1, a, b, c, d, m[12], 12);
    step!(f1, d, a, b, c, m[13], 13);
    step!(f1, c, d, a, b, m[14], 14);
    step!(f1, b, c, d, a, m[15], 15);
    step!(f2, a, b, c, d, m[1], 16);
    step!(f2, d, a, b, c, m[6], 17);
    step!(f2, c, d, a, b, m[11], 18);
    step!(f2, b, c, d, a, m[0], 19);
    step!(f2, a, b, c, d, m[5], 20);
    step!(f2, d, a, b, c, m[10], 21);
    step!(f2, c, d, a, b, m[15], 22);
    step!(f2, b, c, d, a, m[4], 23);
    step!(f2, a, b, c, d, m[9], 24);
    step!(f2, d, a, b, c, m[14], 25);
    step!(f2, c, d, a, b, m[3], 26);
    step!(f2, b, c, d, a, m[8], 27);
    step!(f2, a, b, c, d, m[13], 28);
    step!(f2, d, a, b, c, m[2], 29);
    step!(f2, c, d, a, b, m[7], 30);
    step!(f2, b, c, d, a, m[12], 31);
    step!(f3, a, b, c, d, m[5], 32);
    step!(f3, d, a, b, c, m[8], 33);
    step!(f3, c, d, a, b, m[11], 34);
    step!(f3, b, c, d, a, m[14], 35);
    step!(f3, a, b, c, d, m[1], 36);
    step!(f3, d, a, b, c, m[4], 37);
    step!(f3, c, d, a, b, m[7], 38);
    step!(f3, b, c, d, a, m[10], 39);
    step!(f3, a, b, c, d, m[13], 40);
    step!(f3, d, a, b, c, m[0], 41);
    step!(f3, c, d, a, b, m[3], 42);
    step!(f3, b, c, d, a, m[6], 43);
    step!(f3, a, b, c, d, m[9], 44);
    step!(f3, d, a, b, c, m[12], 45);
    step!(f3, c, d, a, b, m[15], 46);
    step!(f3, b, c, d, a, m[2], 47);
    step!(f4, a, b, c, d, m[0], 48);
    step!(f4, d, a, b, c, m[7], 49);
    step!(f4, c, d, a, b, m[14], 50);
    step!(f4, b, c, d, a, m[5], 51);
    step!(f4, a, b, c, d, m[12], 52);
    step!(f4, d, a, b, c, m[3], 53);
    step!(f4, c, d, a, b, m[10], 54);
    step!(f4, b, c, d, a, m[1], 55);
    step!(f4, a, b, c, d, m[8], 56);
    step!(f4, d, a, b, c, m[15], 57);
    step!(f4, c, d, a, b, m[6], 58);
    step!(f4, b, c, d, a, m[13], 59);
    step!(f4, a, b, c, d, m[4], 60);
    step!(f4, d, a, b, c, m[11], 61);
    step!(f4, c, d, a, b, m[2], 62);
    step!(f4, b, c, d, a, m[9], 63);
    state[0] = state[0].wrapping_add(a);
    state[1] = state[1].wrapping_add(b);
    state[2] = state[2].wrapping_add(c);
    state[3] = state[3].wrapping_add(d);
}

/// The MD5 digest of `data`.
pub fn md5(data: &[u8]) -> [u8; 16] {
    let mut state: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    let mut chunks = data.chunks_exact(64);
    for block in &mut chunks {
        compress(&mut state, block);
    }
    let rest = chunks.remainder();
    let mut tail = [0u8; 128];
    tail[..rest.len()].copy_from_slice(rest);
    tail[rest.len()] = 0x80;
    let len = if rest.len() < 56 { 64 } else { 128 };
    tail[len - 8..len].copy_from_slice(&((data.len() as u64).wrapping_mul(8)).to_le_bytes());
    for block in tail[..len].chunks_exact(64) {
        compress(&mut state, block);
    }
    let mut out = [0u8; 16];
    for (i, w) in state.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// Lower-case hexadecimal digits of a digest (what Python's `hexdigest()` gives).
pub fn hex(digest: &[u8; 16]) -> [u8; 32] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (i, b) in digest.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 15)];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hexs(data: &[u8]) -> String {
        String::from_utf8(hex(&md5(data)).to_vec()).unwrap()
    }

    #[test]
    fn rfc1321_test_suite() {
        assert_eq!(hexs(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hexs(b"a"), "0cc175b9c0f1b6a831c399e269772661");
        assert_eq!(hexs(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(hexs(b"message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
        assert_eq!(
            hexs(b"abcdefghijklmnopqrstuvwxyz"),
            "c3fcd3d76192e4007dfb496cca67e13b"
        );
        assert_eq!(
            hexs(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
            "d174ab98d277d9f5a5611c2c9f419d9f"
        );
        assert_eq!(
            hexs(
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
            ),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
    }
}
