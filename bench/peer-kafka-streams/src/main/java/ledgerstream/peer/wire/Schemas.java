package ledgerstream.peer.wire;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import org.apache.avro.Schema;

/**
 * The project's contract as files: {@code schemas/avro/<kind>/<RecordName>/v<N>.avsc}. Each
 * record's highest version is what writers write now, so it is the one registered and
 * looked up; its text is sent to the registry as it is in the file, as the Rust codec does.
 */
public final class Schemas {
    /** One record's current schema. */
    public record Current(String kind, String fullName, String text, Schema schema) {
        /** The subject under the TopicRecordNameStrategy: {@code <topic>-<full name>}. */
        public String subject(String topic) {
            return topic + "-" + fullName;
        }
    }

    private Schemas() {}

    /** The current version of every record under {@code root} ({@code schemas/avro}). */
    public static List<Current> load(Path root) throws IOException {
        List<Current> all = new ArrayList<>();
        for (String kind : List.of("commands", "events", "results")) {
            try (Stream<Path> records = Files.list(root.resolve(kind))) {
                for (Path record : records.sorted().toList()) {
                    Path latest = latestVersion(record);
                    String text = Files.readString(latest);
                    Schema schema = new Schema.Parser().parse(text);
                    all.add(new Current(kind, schema.getFullName(), text, schema));
                }
            }
        }
        return all;
    }

    private static Path latestVersion(Path record) throws IOException {
        try (Stream<Path> versions = Files.list(record)) {
            return versions
                    .filter(p -> p.getFileName().toString().matches("v\\d+\\.avsc"))
                    .max((a, b) -> Integer.compare(version(a), version(b)))
                    .orElseThrow(() -> new IOException("no v<N>.avsc in " + record));
        }
    }

    private static int version(Path file) {
        String name = file.getFileName().toString();
        return Integer.parseInt(name.substring(1, name.length() - ".avsc".length()));
    }
}
