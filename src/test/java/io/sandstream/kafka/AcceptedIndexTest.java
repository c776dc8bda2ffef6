package io.sandstream.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.sandstream.journal.JournalEntry;
import io.sandstream.model.Priority;
import io.sandstream.model.Tenant;

/** The cluster-wide count of a tenant's unfinished work that the Kafka journal's queued quota reads. */
class AcceptedIndexTest {

    private static JournalEntry entry(String id, Tenant tenant) {
        return new JournalEntry(id, id, "/tests", "io.sandstream.code.execute", "s", null, Priority.NORMAL,
                JournalEntry.State.QUEUED, Instant.now(), "{}".getBytes(StandardCharsets.UTF_8), null, tenant);
    }

    @Test
    void countsEachTenantsAcceptedWorkUntilItsResultArrives() throws Exception {
        AcceptedIndex index = new AcceptedIndex();
        Tenant a = new Tenant("t/a");
        Tenant b = new Tenant("t/b");
        index.read(AcceptedIndex.marker(List.of(entry("1", a), entry("2", a), entry("3", b), entry("4", Tenant.SHARED))));
        index.read(AcceptedIndex.marker(List.of(entry("2", a)))); // a marker read twice counts once
        assertEquals(2, index.pending(a));
        assertEquals(1, index.pending(b));
        assertEquals(0, index.pending(Tenant.SHARED), "the shared tenant has no quota and is not counted");

        index.finished("1");
        index.finished("1");
        index.finished("3");
        assertEquals(1, index.pending(a));
        assertEquals(0, index.pending(b));
        assertEquals(a, index.find("2").orElseThrow().tenant());
    }

    /** 200,000 entries are kept: a tenant read from many markers is one object, not one per entry. */
    @Test
    void entriesOfOneTenantShareItsOneInstance() throws Exception {
        AcceptedIndex index = new AcceptedIndex();
        index.read(AcceptedIndex.marker(List.of(entry("1", new Tenant("t/a")))));
        index.read(AcceptedIndex.marker(List.of(entry("2", new Tenant("t/a")), entry("3", Tenant.SHARED))));
        assertSame(index.find("1").orElseThrow().tenant(), index.find("2").orElseThrow().tenant());
        assertSame(Tenant.SHARED, index.find("3").orElseThrow().tenant());
        assertEquals(Priority.NORMAL, index.find("2").orElseThrow().priority());
        assertEquals(0, index.pending(new Tenant("t/nobody")));
    }

    /**
     * Room for twice the journal's {@code max-pending}, never fewer than 200,000: an index that
     * drops entries makes queued work unknown on the other instances and uncounted in the quota.
     */
    @Test
    void keepsRoomForTwiceMaxPendingAndNeverFewerThanItsFloor() throws Exception {
        assertEquals(AcceptedIndex.MIN_ENTRIES, new AcceptedIndex(10_000).limit());
        assertEquals(Long.MAX_VALUE - 1, new AcceptedIndex(Long.MAX_VALUE).limit(), "no overflow: unbounded stays unbounded");
        AcceptedIndex sized = new AcceptedIndex(150_000);
        assertEquals(300_000, sized.limit());
        AcceptedIndex floor = new AcceptedIndex();
        Tenant a = new Tenant("t/a");
        int held = 250_000;
        for (int first = 0; first < held; first += 1_000) {
            List<JournalEntry> batch = new java.util.ArrayList<>();
            for (int i = first; i < first + 1_000; i++) {
                batch.add(entry(Integer.toString(i), a));
            }
            byte[] marker = AcceptedIndex.marker(batch);
            sized.read(marker);
            floor.read(marker);
        }
        assertEquals(held, sized.size());
        assertEquals(held, sized.pending(a), "every unfinished execution counts against its tenant");
        assertTrue(sized.find("0").isPresent(), "the first one accepted is still known");

        assertTrue(floor.size() <= AcceptedIndex.MIN_ENTRIES, "the floor bounds the default index: " + floor.size());
        assertEquals(floor.size(), floor.pending(a), "a dropped entry leaves the count with it");
    }
}
