package ledgerstream.peer.wire;

import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.avro.Schema;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificRecord;
import org.apache.avro.util.ClassSecurityValidator;

/**
 * Which schema id each record class is written with, and how to read each id met. Shared
 * by every stream thread: the ids are fixed at start, and readers of other ids (an older
 * writer schema) are fetched from the registry once and kept, as Confluent's
 * deserializer does.
 */
public final class Catalog {
    /** How to read one schema id. */
    record Reader(String fullName, SpecificDatumReader<SpecificRecord> datumReader) {}

    static {
        // Avro 1.12 instantiates only classes it trusts: add the generated records'.
        ClassSecurityValidator.setGlobal(ClassSecurityValidator.composite(ClassSecurityValidator.getGlobal(),
                type -> type.getName().startsWith("ledgerstream.account.")));
    }

    private final Registry registry;
    private final Map<Class<?>, Integer> writerIds;
    private final Map<Integer, Reader> readers = new ConcurrentHashMap<>();

    private Catalog(Registry registry, Map<Class<?>, Integer> writerIds) {
        this.registry = registry;
        this.writerIds = writerIds;
    }

    /**
     * Looks up (or, with {@code register}, registers) every current schema under its
     * topic's subject. {@code topics} maps a kind (commands, events, results) to its topic.
     */
    public static Catalog connect(Registry registry, List<Schemas.Current> schemas,
            Map<String, String> topics, boolean register) throws IOException {
        Map<Class<?>, Integer> ids = new HashMap<>();
        Catalog catalog = new Catalog(registry, ids);
        for (Schemas.Current current : schemas) {
            String subject = current.subject(topics.get(current.kind()));
            int id = register
                    ? registry.register(subject, current.text())
                    : registry.lookup(subject, current.text());
            Class<?> type = classOf(current.schema());
            ids.put(type, id);
            catalog.readers.put(id, new Reader(current.fullName(), readerOf(current.schema(), type)));
        }
        return catalog;
    }

    /** A catalog of known ids and no registry (tests): an unknown id fails to decode. */
    static Catalog fixed(Map<Class<?>, Integer> ids) {
        Catalog catalog = new Catalog(null, Map.copyOf(ids));
        ids.forEach((type, id) -> {
            Schema schema = SpecificData.get().getSchema(type);
            catalog.readers.put(id, new Reader(schema.getFullName(), readerOf(schema, type)));
        });
        return catalog;
    }

    /** The schema id records of {@code type} are written with. */
    public int writerId(Class<?> type) {
        Integer id = writerIds.get(type);
        if (id == null) {
            throw new IllegalArgumentException("no schema id for " + type.getName());
        }
        return id;
    }

    /** The reader of schema {@code id}, fetched from the registry the first time. */
    Reader reader(int id) throws DecodeException {
        Reader reader = readers.get(id);
        if (reader != null) {
            return reader;
        }
        String text;
        try {
            if (registry == null) {
                throw new IOException("no registry to ask");
            }
            text = registry.schemaById(id);
        } catch (IOException e) {
            throw new DecodeException("unknown-schema-id", "schema id " + id + ": " + e.getMessage());
        }
        Schema writer;
        try {
            writer = new Schema.Parser().parse(text);
        } catch (RuntimeException e) {
            throw new DecodeException("unreadable-schema", "schema id " + id + ": " + e.getMessage());
        }
        Class<?> type = SpecificData.get().getClass(writer);
        if (type == null || !SpecificRecord.class.isAssignableFrom(type)) {
            throw new DecodeException("unexpected-record",
                    "schema id " + id + " is " + writer.getFullName() + ", not a ledgerstream record");
        }
        reader = new Reader(writer.getFullName(), readerOf(writer, type));
        readers.put(id, reader);
        return reader;
    }

    /** The full record name of schema {@code id}, without decoding anything. */
    public String recordName(int id) throws DecodeException {
        return reader(id).fullName();
    }

    private static Class<?> classOf(Schema schema) {
        Class<?> type = SpecificData.get().getClass(schema);
        if (type == null) {
            throw new IllegalStateException("no generated class for " + schema.getFullName());
        }
        return type;
    }

    @SuppressWarnings("unchecked")
    private static SpecificDatumReader<SpecificRecord> readerOf(Schema writer, Class<?> type) {
        Schema reader = SpecificData.get().getSchema(type);
        return new SpecificDatumReader<>(writer, reader, SpecificData.getForClass(type));
    }
}
