package io.sandstream.sessions.local;

import java.util.*;

/** TEMPORARY instrumentation, not committed. */
final class StartTrace {
    static final Map<String, List<Long>> STEPS = new LinkedHashMap<>();
    static final ThreadLocal<Long> LAST = new ThreadLocal<>();
    static void begin() { LAST.set(System.nanoTime()); }
    static synchronized void step(String name) {
        long now = System.nanoTime();
        Long last = LAST.get();
        if (last != null) STEPS.computeIfAbsent(name, k -> new ArrayList<>()).add(now - last);
        LAST.set(now);
    }
    static synchronized void end(long total) { STEPS.computeIfAbsent("TOTAL", k -> new ArrayList<>()).add(total); }
    static synchronized void report() {
        STEPS.forEach((k, v) -> { List<Long> s = new ArrayList<>(v); Collections.sort(s);
            System.out.printf("STEP %-28s p50 %8.3f ms  mean %8.3f ms (n=%d)%n", k, s.get(s.size()/2)/1e6, s.stream().mapToLong(x->x).average().orElse(0)/1e6, s.size()); });
    }
}
