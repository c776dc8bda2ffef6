package io.sandstream.console;

import java.util.List;
import java.util.Map;

/** What the console's dashboard shows, read from the same meters {@code /q/metrics} exposes. */
public record Overview(String at, List<PoolLoad> pools, List<LaneLoad> lanes, Executions executions, Journal journal) {

    /** Sessions of one pool by state ({@code sandstream.pool.sessions}) and its executions so far. */
    public record PoolLoad(String pool, String language, int ready, int busy, int idle, int max, long executions) {
    }

    /**
     * One lane: waiting now ({@code sandstream.queue.depth}) and the time from acceptance to start
     * ({@code sandstream.queue.wait}): how many have started and their mean wait since the service
     * started; the maximum, median and 99th percentile over Micrometer's recent window of about two
     * minutes (the percentiles are null when nothing started in it).
     */
    public record LaneLoad(String lane, long depth, long started, double waitMeanMs, double waitMaxMs, Double waitP50Ms,
            Double waitP99Ms) {
    }

    /** Executions run by every pool ({@code sandstream.pool.executions}): per second recently, in total, by status. */
    public record Executions(double perSecond, long total, Map<String, Long> byStatus) {
    }

    /** Accepted and not yet finished, and the limit beyond which ingress answers 429. */
    public record Journal(long pending, long pendingLimit) {
    }
}
