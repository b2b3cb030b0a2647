package ledgerstream.peer.rules;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.UUID;

/**
 * Deterministic ids, as the Rust processor derives them, so that deciding a command again
 * gives the same records: UUID v5 (SHA-1) of an event's (account, command, index)
 * (domain/src/ids.rs) and of a transfer follow-up's (transfer, step)
 * (processors/src/wire/follow_up.rs). One per task: the digest is not thread-safe.
 */
public final class Ids {
    private static final UUID EVENT_NAMESPACE = UUID.fromString("13591313-8391-47b7-a579-1fb176553d03");
    private static final UUID FOLLOW_UP_NAMESPACE = UUID.fromString("abe6949a-4667-4c14-b10d-6e2b9f9bf581");

    private final MessageDigest sha1;
    private final ByteBuffer name = ByteBuffer.allocate(16 + 8 + 256 + 16 + 4);

    public Ids() {
        try {
            sha1 = MessageDigest.getInstance("SHA-1");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-1", e);
        }
    }

    /** The id of the {@code index}-th event (from 0) that {@code command} made on {@code account}. */
    public UUID eventId(String account, UUID command, int index) {
        byte[] accountBytes = account.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buffer = accountBytes.length + 44 > name.capacity()
                ? ByteBuffer.allocate(accountBytes.length + 44)
                : name.clear();
        buffer.putLong(accountBytes.length).put(accountBytes);
        putUuid(buffer, command);
        buffer.putInt(index);
        return v5(EVENT_NAMESPACE, buffer);
    }

    /** The command id of a transfer's follow-up; {@code step} is {@code credit} or {@code refund}. */
    public UUID followUpId(UUID transfer, String step) {
        ByteBuffer buffer = name.clear();
        putUuid(buffer, transfer);
        buffer.put(step.getBytes(StandardCharsets.US_ASCII));
        return v5(FOLLOW_UP_NAMESPACE, buffer);
    }

    private UUID v5(UUID namespace, ByteBuffer buffer) {
        ByteBuffer ns = ByteBuffer.allocate(16);
        putUuid(ns, namespace);
        sha1.reset();
        sha1.update(ns.array());
        sha1.update(buffer.array(), 0, buffer.position());
        byte[] hash = sha1.digest();
        hash[6] = (byte) ((hash[6] & 0x0f) | 0x50);
        hash[8] = (byte) ((hash[8] & 0x3f) | 0x80);
        ByteBuffer bits = ByteBuffer.wrap(hash, 0, 16);
        return new UUID(bits.getLong(), bits.getLong());
    }

    static void putUuid(ByteBuffer buffer, UUID id) {
        buffer.putLong(id.getMostSignificantBits()).putLong(id.getLeastSignificantBits());
    }
}
