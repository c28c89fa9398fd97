//! Key encodings: big-endian integers so sled's byte order is numeric order.

use super::StoreError;

/// A `u64` key.
pub(crate) fn u64_key(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

/// An `i64` key with the sign bit flipped, so negative ids sort before positive ones.
pub(crate) fn i64_key(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

/// A two-part key `a ‖ b`; all keys sharing `a` form a prefix range sorted by `b`.
pub(crate) fn pair_key(a: u64, b: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&a.to_be_bytes());
    k[8..].copy_from_slice(&b.to_be_bytes());
    k
}

/// Reads a `u64` key or value written by [`u64_key`].
pub(crate) fn read_u64(tree: &'static str, bytes: &[u8]) -> Result<u64, StoreError> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StoreError::CorruptKey { tree })?;
    Ok(u64::from_be_bytes(arr))
}

/// Reads the second half of a [`pair_key`].
pub(crate) fn pair_second(tree: &'static str, bytes: &[u8]) -> Result<u64, StoreError> {
    match bytes.len() {
        16 => read_u64(tree, &bytes[8..]),
        _ => Err(StoreError::CorruptKey { tree }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_keys_sort_numerically() {
        assert!(u64_key(255) < u64_key(256));
        assert!(i64_key(-5) < i64_key(-1));
        assert!(i64_key(-1) < i64_key(0));
        assert!(i64_key(0) < i64_key(7));
        assert!(pair_key(1, u64::MAX) < pair_key(2, 0));
        assert_eq!(pair_second("t", &pair_key(3, 9)).unwrap(), 9);
        assert!(read_u64("t", &[1, 2]).is_err());
    }
}
