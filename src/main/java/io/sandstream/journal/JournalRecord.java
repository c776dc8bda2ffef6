package io.sandstream.journal;

/** A journal entry as handed to the pipeline: its position in the journal and how often it has been started. */
public record JournalRecord(long seq, JournalEntry entry, int attempt) {
}
