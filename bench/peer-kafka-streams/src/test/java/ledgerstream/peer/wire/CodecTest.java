package ledgerstream.peer.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Instant;
import java.util.HexFormat;
import java.util.Map;
import java.util.UUID;

import ledgerstream.account.Channel;
import ledgerstream.account.EventMetadata;
import ledgerstream.account.events.MoneyWithdrawn;
import org.junit.jupiter.api.Test;

/** The peer writes the bytes the Rust codec writes: its golden test, schemas/tests/roundtrip.rs. */
class CodecTest {
    private static final String GOLDEN_MONEY_WITHDRAWN = String.join("",
            "0000000007",
            "48", "65326234633664382d303030302d343030302d383030302d303030303030303030303037",
            "14", "6163632d303030303432",
            "0e",
            "80e8c8e4d466",
            "48", "38613866336331652d366134622d346331642d396335652d326237663164306539613131",
            "48", "35623165326636302d336437612d346538622d386339642d306131623263336434653566",
            "48", "38613866336331652d366134622d346331642d396335652d326237663164306539613131",
            "90a10f", "06", "555344", "e807", "88e06a",
            "02", "1c", "61746d20377468206176656e7565",
            "04");

    private static MoneyWithdrawn sample() {
        String command = "8a8f3c1e-6a4b-4c1d-9c5e-2b7f1d0e9a11";
        EventMetadata metadata = new EventMetadata(UUID.fromString("e2b4c6d8-0000-4000-8000-000000000007"),
                "acc-000042", 7L, Instant.ofEpochMilli(1_763_726_400_000L), UUID.fromString(command),
                "5b1e2f60-3d7a-4e8b-8c9d-0a1b2c3d4e5f", command);
        return new MoneyWithdrawn(metadata, 125_000L, "USD", 500L, 874_500L, "atm 7th avenue", Channel.ATM);
    }

    @Test
    void money_withdrawn_has_the_golden_bytes() {
        Codec codec = new Codec(Catalog.fixed(Map.of(MoneyWithdrawn.class, 7)));
        byte[] bytes = codec.encode(sample());
        assertEquals(GOLDEN_MONEY_WITHDRAWN, HexFormat.of().formatHex(bytes));
    }

    @Test
    void decoding_gives_the_record_back() throws DecodeException {
        Codec codec = new Codec(Catalog.fixed(Map.of(MoneyWithdrawn.class, 7)));
        assertEquals(sample(), codec.decode(codec.encode(sample())));
    }

    @Test
    void malformed_records_name_their_failure() {
        Codec codec = new Codec(Catalog.fixed(Map.of(MoneyWithdrawn.class, 7)));
        byte[] good = codec.encode(sample());
        assertEquals("empty", assertThrows(DecodeException.class, () -> codec.decode(new byte[0])).failure());
        assertEquals("truncated", assertThrows(DecodeException.class,
                () -> codec.decode(new byte[] {0, 0, 0})).failure());
        byte[] magic = good.clone();
        magic[0] = 1;
        assertEquals("bad-magic", assertThrows(DecodeException.class, () -> codec.decode(magic)).failure());
        byte[] unknown = good.clone();
        unknown[4] = 9;
        assertEquals("unknown-schema-id", assertThrows(DecodeException.class,
                () -> codec.decode(unknown)).failure());
        byte[] cut = java.util.Arrays.copyOf(good, 20);
        assertEquals("bad-body", assertThrows(DecodeException.class, () -> codec.decode(cut)).failure());
    }
}
