package ledgerstream.peer.wire;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;

import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;

/**
 * Records to and from the Confluent wire format: magic byte 0, the schema id as a 4-byte
 * big-endian int, then the Avro binary body. What Confluent's serializers write, byte
 * for byte, without their jars. One per task: it reuses its buffers, so it is not shared
 * between threads.
 */
public final class Codec {
    private static final byte MAGIC = 0;
    private static final int HEADER = 5;

    private final Catalog catalog;
    private final Map<Class<?>, Writer> writers = new HashMap<>();
    private final Buffer buffer = new Buffer(512);
    private BinaryEncoder encoder;
    private BinaryDecoder decoder;

    private record Writer(int id, SpecificDatumWriter<SpecificRecord> datumWriter) {}

    public Codec(Catalog catalog) {
        this.catalog = catalog;
    }

    /** {@code record} in the wire format, with its class's current schema id. */
    public byte[] encode(SpecificRecord record) {
        Writer writer = writers.computeIfAbsent(record.getClass(), this::writerFor);
        buffer.reset();
        buffer.write(MAGIC);
        buffer.write(writer.id >>> 24);
        buffer.write(writer.id >>> 16);
        buffer.write(writer.id >>> 8);
        buffer.write(writer.id);
        encoder = EncoderFactory.get().directBinaryEncoder(buffer, encoder);
        try {
            writer.datumWriter.write(record, encoder);
        } catch (IOException e) {
            throw new IllegalStateException("encoding " + record.getSchema().getFullName(), e);
        }
        return buffer.toByteArray();
    }

    /** The record in {@code bytes}, read with the reader of its schema id. */
    public SpecificRecord decode(byte[] bytes) throws DecodeException {
        Catalog.Reader reader = catalog.reader(schemaId(bytes));
        decoder = DecoderFactory.get().binaryDecoder(bytes, HEADER, bytes.length - HEADER, decoder);
        try {
            return reader.datumReader().read(null, decoder);
        } catch (IOException | RuntimeException e) {
            throw new DecodeException("bad-body",
                    "not a " + reader.fullName() + " in Avro binary: " + e.getMessage());
        }
    }

    /** The schema id of a record in the wire format, checking its header. */
    public static int schemaId(byte[] bytes) throws DecodeException {
        if (bytes == null || bytes.length == 0) {
            throw new DecodeException("empty", "the record has no value");
        }
        if (bytes.length < HEADER) {
            throw new DecodeException("truncated", "a record of " + bytes.length
                    + " bytes is shorter than the 5-byte Confluent header");
        }
        if (bytes[0] != MAGIC) {
            throw new DecodeException("bad-magic", "the first byte is " + bytes[0] + ", not 0");
        }
        return ((bytes[1] & 0xff) << 24) | ((bytes[2] & 0xff) << 16)
                | ((bytes[3] & 0xff) << 8) | (bytes[4] & 0xff);
    }

    public Catalog catalog() {
        return catalog;
    }

    private Writer writerFor(Class<?> type) {
        SpecificData model = SpecificData.getForClass(type);
        return new Writer(catalog.writerId(type), new SpecificDatumWriter<>(model.getSchema(type), model));
    }

    /** A byte buffer that hands out its bytes without the synchronisation of the JDK's. */
    private static final class Buffer extends ByteArrayOutputStream {
        Buffer(int size) {
            super(size);
        }

        @Override
        public void write(int b) {
            ensure(1);
            buf[count++] = (byte) b;
        }

        @Override
        public void write(byte[] b, int off, int len) {
            ensure(len);
            System.arraycopy(b, off, buf, count, len);
            count += len;
        }

        @Override
        public void reset() {
            count = 0;
        }

        @Override
        public byte[] toByteArray() {
            return java.util.Arrays.copyOf(buf, count);
        }

        private void ensure(int more) {
            if (count + more > buf.length) {
                buf = java.util.Arrays.copyOf(buf, Math.max(buf.length * 2, count + more));
            }
        }
    }
}
