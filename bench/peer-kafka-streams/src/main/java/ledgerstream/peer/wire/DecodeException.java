package ledgerstream.peer.wire;

/**
 * A record that cannot be read. {@link #failure()} is the processor's stable failure name
 * (docs/processor.md, "Records and headers"): the record goes to the dead-letter topic.
 */
public final class DecodeException extends Exception {
    private final String failure;

    public DecodeException(String failure, String message) {
        super(message, null, false, false);
        this.failure = failure;
    }

    public String failure() {
        return failure;
    }
}
