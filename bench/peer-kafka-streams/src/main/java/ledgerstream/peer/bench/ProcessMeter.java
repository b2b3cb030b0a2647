package ledgerstream.peer.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A process's CPU time and memory, from /proc: user + system time of all its threads
 * ({@code /proc/<pid>/stat}, in clock ticks) and its resident set ({@code /proc/<pid>/status}).
 */
final class ProcessMeter {
    private final long pid;
    private final double secondsPerTick;

    ProcessMeter(long pid, int ticksPerSecond) {
        this.pid = pid;
        this.secondsPerTick = 1.0 / ticksPerSecond;
    }

    /** CPU seconds used so far (user + system); NaN if the process is gone. */
    double cpuSeconds() {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            // The command name (field 2) may hold spaces: count fields after its ')'.
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            long utime = Long.parseLong(fields[11]);
            long stime = Long.parseLong(fields[12]);
            return (utime + stime) * secondsPerTick;
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
    }

    /** Resident set size in MiB; -1 if unknown. */
    long residentMib() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) >> 10;
                }
            }
        } catch (IOException | RuntimeException e) {
            // Gone: unknown.
        }
        return -1;
    }

    /** The 1-minute load average. */
    static String load() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
        } catch (IOException e) {
            return "?";
        }
    }
}
