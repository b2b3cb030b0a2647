package ledgerstream.peer;

import java.util.HashMap;
import java.util.Map;

/** {@code --name value} options, each with a default; an unknown name is an error. */
public final class Args {
    private final Map<String, String> given = new HashMap<>();
    private final Map<String, String> known = new HashMap<>();

    public Args(String[] args) {
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("expected --name value, got " + args[i]);
            }
            given.put(args[i].substring(2), args[++i]);
        }
    }

    public String string(String name, String fallback) {
        known.put(name, fallback);
        return given.getOrDefault(name, fallback);
    }

    public int integer(String name, int fallback) {
        return Integer.parseInt(string(name, Integer.toString(fallback)));
    }

    public long number(String name, long fallback) {
        return Long.parseLong(string(name, Long.toString(fallback)));
    }

    public boolean flag(String name, boolean fallback) {
        return Boolean.parseBoolean(string(name, Boolean.toString(fallback)));
    }

    /** Fails on an option no call above asked for (a typo would otherwise be ignored). */
    public void requireKnown() {
        for (String name : given.keySet()) {
            if (!known.containsKey(name)) {
                throw new IllegalArgumentException("unknown option --" + name + "; known: " + known.keySet());
            }
        }
    }
}
