package io.sandstream.mcp;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayDeque;
import java.util.Deque;

import io.modelcontextprotocol.json.McpJsonMapper;
import io.modelcontextprotocol.json.TypeRef;
import io.modelcontextprotocol.spec.McpSchema;
import io.modelcontextprotocol.spec.McpStreamableServerTransport;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import reactor.core.publisher.Mono;

/**
 * One SSE stream of an MCP session (the answer to one POST request, or the GET stream), as the
 * SDK's session writes to it. Every event gets an id {@code <stream>_<n>} and the last
 * {@code replayEvents} are kept, so a client whose connection dropped can send {@code GET} with
 * {@code Last-Event-ID} and get what followed on this stream, then the rest live
 * ({@link #resume}): the spec's resumability, which the SDK's session leaves to the transport.
 */
final class McpStream implements McpStreamableServerTransport {

    private record Event(long number, String text) {
    }

    private final String id;
    private final McpJsonMapper json;
    private final int keep;
    private final Deque<Event> kept = new ArrayDeque<>();
    private long sent;
    private HttpServerResponse response;
    private boolean closed;

    McpStream(String id, McpJsonMapper json, int keep, HttpServerResponse response) {
        this.id = id;
        this.json = json;
        this.keep = keep;
        this.response = response;
        response.closeHandler(ignored -> detach(response));
    }

    String id() {
        return id;
    }

    /** The stream this {@code Last-Event-ID} names, or null when it is not one of ours. */
    static String streamOf(String lastEventId) {
        int cut = lastEventId == null ? -1 : lastEventId.lastIndexOf('_');
        return cut <= 0 ? null : lastEventId.substring(0, cut);
    }

    @Override
    public Mono<Void> sendMessage(McpSchema.JSONRPCMessage message) {
        return sendMessage(message, null);
    }

    @Override
    public Mono<Void> sendMessage(McpSchema.JSONRPCMessage message, String messageId) {
        return Mono.fromRunnable(() -> send(message));
    }

    private synchronized void send(McpSchema.JSONRPCMessage message) {
        if (closed) {
            return;
        }
        String data;
        try {
            data = json.writeValueAsString(message);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Event event = new Event(++sent, "id: " + id + "_" + sent + "\nevent: message\ndata: " + data + "\n\n");
        kept.addLast(event);
        while (kept.size() > keep) {
            kept.removeFirst();
        }
        if (response != null && !response.closed()) {
            response.write(Buffer.buffer(event.text()));
        }
    }

    /**
     * A reconnection: the kept events after {@code lastEventId}, then the rest of the stream on
     * {@code next}; ends {@code next} at once when the stream has ended meanwhile.
     */
    synchronized void resume(String lastEventId, HttpServerResponse next) {
        long after = Long.parseLong(lastEventId.substring(lastEventId.lastIndexOf('_') + 1));
        for (Event event : kept) {
            if (event.number() > after) {
                next.write(Buffer.buffer(event.text()));
            }
        }
        if (closed) {
            next.end();
            return;
        }
        if (response != null && !response.closed() && !response.ended()) {
            response.end();
        }
        response = next;
        next.closeHandler(ignored -> detach(next));
    }

    /** The client went away: the stream goes on, kept for a reconnection. */
    private synchronized void detach(HttpServerResponse gone) {
        if (response == gone) {
            response = null;
        }
    }

    synchronized boolean closed() {
        return closed;
    }

    @Override
    public <T> T unmarshalFrom(Object data, TypeRef<T> typeRef) {
        return json.convertValue(data, typeRef);
    }

    @Override
    public Mono<Void> closeGracefully() {
        return Mono.fromRunnable(this::close);
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (response != null && !response.closed() && !response.ended()) {
            response.end();
        }
    }
}
