package ledgerstream.peer.processor;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * What an earlier command with the same id came to: applied at a version, or rejected
 * with a code and message, to be answered again (domain/src/idempotency.rs).
 */
record Outcome(boolean applied, long version, String code, String message) {
    static Outcome applied(long version) {
        return new Outcome(true, version, null, null);
    }

    static Outcome rejected(String code, String message) {
        return new Outcome(false, 0, code, message);
    }

    byte[] toBytes() {
        if (applied) {
            return ByteBuffer.allocate(9).put((byte) 'A').putLong(version).array();
        }
        byte[] c = code.getBytes(StandardCharsets.UTF_8);
        byte[] m = message.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(1 + 4 + c.length + m.length)
                .put((byte) 'R').putInt(c.length).put(c).put(m).array();
    }

    static Outcome fromBytes(byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        if (in.get() == 'A') {
            return applied(in.getLong());
        }
        int length = in.getInt();
        String code = new String(bytes, 5, length, StandardCharsets.UTF_8);
        String message = new String(bytes, 5 + length, bytes.length - 5 - length, StandardCharsets.UTF_8);
        return rejected(code, message);
    }
}
