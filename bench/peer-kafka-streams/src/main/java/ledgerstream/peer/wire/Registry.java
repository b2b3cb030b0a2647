package ledgerstream.peer.wire;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The few calls of the Confluent Schema Registry REST API the peer needs: register a
 * schema under a subject, look its id up, and fetch a schema by id (a writer schema the
 * peer has not met).
 */
public final class Registry {
    private static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String base;
    private final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    public Registry(String base) {
        this.base = base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
    }

    /** Registers {@code schema} under {@code subject} (a no-op if it is there); its id. */
    public int register(String subject, String schema) throws IOException {
        return post("/subjects/" + encode(subject) + "/versions", schema).get("id").asInt();
    }

    /** The id of {@code schema} under {@code subject}; fails if it was never registered. */
    public int lookup(String subject, String schema) throws IOException {
        return post("/subjects/" + encode(subject), schema).get("id").asInt();
    }

    /** The schema text with this id. */
    public String schemaById(int id) throws IOException {
        return send(HttpRequest.newBuilder(URI.create(base + "/schemas/ids/" + id)).GET())
                .get("schema")
                .asText();
    }

    private JsonNode post(String path, String schema) throws IOException {
        String body = JSON.writeValueAsString(JSON.createObjectNode().put("schema", schema));
        return send(HttpRequest.newBuilder(URI.create(base + path))
                .header("Content-Type", CONTENT_TYPE)
                .POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    private JsonNode send(HttpRequest.Builder request) throws IOException {
        try {
            HttpResponse<String> response = http.send(
                    request.timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() / 100 != 2) {
                throw new IOException("schema registry answered " + response.statusCode()
                        + " to " + response.request().uri() + ": " + response.body());
            }
            return JSON.readTree(response.body());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while calling the schema registry", e);
        }
    }

    private static String encode(String subject) {
        return URLEncoder.encode(subject, StandardCharsets.UTF_8);
    }
}
