//! Which partition an account's records go to: Kafka's default partitioner for
//! keyed records, the one the Java client and librdkafka's `murmur2_random` use —
//! `toPositive(murmur2(key)) % partitions`. Every producer of `account-commands`
//! must use it (docs/processor.md, "Partitioning"); the processor refuses a command that is
//! elsewhere, so that an account's commands, events, results and state always
//! meet on one partition number.

/// The partition of `key` among `partitions`.
///
/// # Panics
///
/// When `partitions` is not positive.
pub fn partition_for(key: &[u8], partitions: i32) -> i32 {
    assert!(partitions > 0, "a topic has at least one partition");
    // toPositive: the sign bit cleared, not the absolute value.
    (murmur2(key) & 0x7fff_ffff) % partitions
}

/// Kafka's `Utils.murmur2`: 32-bit MurmurHash2 with seed 0x9747b28c, as a signed
/// Java int.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    // Java's length is an int; keys are far below 2^31 bytes.
    let mut h = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() == 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors of Kafka's own `UtilsTest.testMurmur2`.
    #[test]
    fn murmur2_matches_kafka() {
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        for (key, expected) in cases {
            assert_eq!(murmur2(key), expected, "{}", String::from_utf8_lossy(key));
        }
    }

    #[test]
    fn partitions_are_in_range_and_stable() {
        for partitions in 1..=12 {
            for i in 0..500 {
                let key = format!("acc-{i}");
                let p = partition_for(key.as_bytes(), partitions);
                assert!((0..partitions).contains(&p));
                assert_eq!(p, partition_for(key.as_bytes(), partitions));
            }
        }
        // -973932308 & 0x7fffffff = 1173551340; 1173551340 % 6 = 0.
        assert_eq!(partition_for(b"21", 6), 1_173_551_340 % 6);
    }
}
