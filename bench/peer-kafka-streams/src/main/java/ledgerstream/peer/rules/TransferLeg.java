package ledgerstream.peer.rules;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * An account's part in one transfer (domain/src/state.rs, {@code TransferLeg}): debited
 * (with what a refund must match, and whether it was refunded) or credited.
 */
public record TransferLeg(boolean debited, String otherAccount, long amountMinor, long feeMinor,
        boolean refunded) {

    static TransferLeg debited(String to, long amount, long fee) {
        return new TransferLeg(true, to, amount, fee, false);
    }

    static TransferLeg credited(String from, long amount) {
        return new TransferLeg(false, from, amount, 0, false);
    }

    TransferLeg asRefunded() {
        return new TransferLeg(debited, otherAccount, amountMinor, feeMinor, true);
    }

    public byte[] toBytes() {
        byte[] other = otherAccount.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(1 + 8 + 8 + other.length)
                .put((byte) ((debited ? 1 : 0) | (refunded ? 2 : 0)))
                .putLong(amountMinor)
                .putLong(feeMinor)
                .put(other)
                .array();
    }

    public static TransferLeg fromBytes(byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        byte flags = in.get();
        long amount = in.getLong();
        long fee = in.getLong();
        String other = new String(bytes, 17, bytes.length - 17, StandardCharsets.UTF_8);
        return new TransferLeg((flags & 1) != 0, other, amount, fee, (flags & 2) != 0);
    }
}
