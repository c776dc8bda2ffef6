package io.sandstream.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

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
}
