package ledgerstream.peer.processor;

import java.util.Map;

/**
 * The pipeline's topics, each name followed by a suffix as the Rust benchmark names its
 * copies ({@code account-commands-bench-1a2b3c4d}), and their partition count (they are
 * co-partitioned).
 */
public record Topics(String commands, String events, String results, String deadLetters, int partitions) {
    public static Topics withSuffix(String suffix, int partitions) {
        return new Topics("account-commands" + suffix, "account-events" + suffix,
                "account-command-results" + suffix, "account-dead-letters" + suffix, partitions);
    }

    /** Topic per schema kind, for the registry's subjects. */
    public Map<String, String> byKind() {
        return Map.of("commands", commands, "events", events, "results", results);
    }
}
