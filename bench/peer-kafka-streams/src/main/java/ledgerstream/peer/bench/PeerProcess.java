package ledgerstream.peer.bench;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The peer in a JVM of its own, so that its CPU and memory are its own: started from this
 * jar, its stderr (logs) to a file, its stdout read for the {@code peer state} and
 * {@code peer stats} lines ({@link ledgerstream.peer.PeerApp}).
 */
final class PeerProcess implements AutoCloseable {
    private final Process process;
    private volatile String tuning = "?";
    private volatile long runningAt;
    private volatile boolean failed;
    private volatile long heapUsedMib;
    private volatile long heapCommittedMib;
    private volatile long maxHeapUsedMib;
    private volatile long gcCount;
    private volatile long gcMillis;

    private PeerProcess(Process process) {
        this.process = process;
        Thread reader = new Thread(this::read, "peer-stdout");
        reader.setDaemon(true);
        reader.start();
    }

    static PeerProcess start(List<String> jvmOptions, List<String> peerArgs, Path log) throws IOException {
        String jar;
        try {
            jar = new File(PeerProcess.class.getProtectionDomain().getCodeSource().getLocation().toURI()).getPath();
        } catch (java.net.URISyntaxException e) {
            throw new IOException("where is this jar?", e);
        }
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", jar, "ledgerstream.peer.PeerApp"));
        command.addAll(peerArgs);
        Process process = new ProcessBuilder(command)
                .redirectError(ProcessBuilder.Redirect.to(log.toFile()))
                .start();
        return new PeerProcess(process);
    }

    long pid() {
        return process.pid();
    }

    boolean alive() {
        return process.isAlive() && !failed;
    }

    /** Its settings, as it printed them. */
    String tuning() {
        return tuning;
    }

    /** When it reached RUNNING (epoch ms), 0 before. */
    long runningAt() {
        return runningAt;
    }

    long heapUsedMib() {
        return heapUsedMib;
    }

    long heapCommittedMib() {
        return heapCommittedMib;
    }

    long maxHeapUsedMib() {
        return maxHeapUsedMib;
    }

    long gcCount() {
        return gcCount;
    }

    long gcMillis() {
        return gcMillis;
    }

    /** Forgets the highest heap seen so far: the window's own maximum starts now. */
    void resetMaxHeap() {
        maxHeapUsedMib = heapUsedMib;
    }

    private void read() {
        try (BufferedReader lines = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = lines.readLine()) != null) {
                String[] f = line.split(" ");
                if (line.startsWith("peer tuning ")) {
                    tuning = line.substring("peer tuning ".length());
                } else if (line.startsWith("peer state ")) {
                    if (f[2].equals("RUNNING") && runningAt == 0) {
                        runningAt = Long.parseLong(f[4]);
                    } else if (f[2].equals("ERROR")) {
                        failed = true;
                    }
                } else if (line.startsWith("peer stats ")) {
                    heapUsedMib = Long.parseLong(f[5]);
                    heapCommittedMib = Long.parseLong(f[7]);
                    gcCount = Long.parseLong(f[9]);
                    gcMillis = Long.parseLong(f[11]);
                    maxHeapUsedMib = Math.max(maxHeapUsedMib, heapUsedMib);
                }
            }
        } catch (IOException | RuntimeException e) {
            // The process ended: alive() says so.
        }
    }

    /** Stops it (SIGTERM: Kafka Streams closes cleanly), then kills it after 60 s. */
    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor();
        }
    }
}
