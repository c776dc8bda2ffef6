package io.sandstream.edge;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import io.sandstream.problem.ErrorShapes;

/**
 * One connection's guard, in its Netty pipeline around Vert.x's HTTP/1 codec: the header read
 * timeout (a request's header block must arrive within {@code header-timeout} of its first byte, or
 * of the connection's opening), the keep-alive timeout between requests, and an error body (problem
 * JSON, or Azure's under {@code /pools/}) for the requests the codec could not decode (Vert.x would answer those with an empty body). Everything
 * runs on the connection's event loop.
 */
final class ConnectionGuard {

    /** Waits for Vert.x to pick HTTP/1 or HTTP/2 (it looks at the first bytes) before placing the guard. */
    private static final String INSTALLER = "sandstream-guard-installer";
    /** Before the request decoder: sees the raw bytes, so a request's first byte starts its header clock. */
    private static final String BYTES = "sandstream-request-bytes";
    /** After the response encoder: sees decoded requests and the responses written to them. */
    private static final String MESSAGES = "sandstream-request-guard";
    private static final Duration LINGER = Duration.ofSeconds(2);

    private enum State {
        /** Between requests on a kept-alive connection. */
        IDLE,
        /** Reading a request's header block (or waiting for the first request of a new connection). */
        HEADERS,
        /** A request is being served: its body, the application, the response (SSE may last hours). */
        SERVING,
        /** Upgraded (WebSocket, h2c) or HTTP/2: nothing more to watch. */
        DONE,
        /** Answered by the guard and closing: whatever else arrives is dropped. */
        REFUSED
    }

    private final HttpEdge edge;
    private final Channel channel;
    private State state = State.HEADERS;
    private int outstanding;
    private ScheduledFuture<?> timer;

    private ConnectionGuard(HttpEdge edge, Channel channel) {
        this.edge = edge;
        this.channel = channel;
    }

    /** Guards a connection Vert.x has just set up; the header clock starts now. */
    static void attach(Channel channel, HttpEdge edge) {
        ConnectionGuard guard = new ConnectionGuard(edge, channel);
        channel.closeFuture().addListener(closed -> guard.cancel());
        guard.arm();
        if (!guard.place(channel.pipeline())) {
            channel.pipeline().addLast(INSTALLER, guard.new Installer());
        }
    }

    /** Puts the guard around the HTTP/1 codec; false when there is none (yet). */
    private boolean place(ChannelPipeline pipeline) {
        if (pipeline.get("httpDecoder") == null || pipeline.get("httpEncoder") == null) {
            return false;
        }
        pipeline.addBefore("httpDecoder", BYTES, new Bytes());
        pipeline.addAfter("httpEncoder", MESSAGES, new Messages());
        return true;
    }

    /**
     * Vert.x configures the codec when the first bytes show HTTP/1 (not the HTTP/2 preface), adding
     * it after this handler, and hands it those bytes through here: the guard is placed just in time.
     */
    private final class Installer extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!place(ctx.pipeline())) {
                cancel();
                state = State.DONE; // HTTP/2: its own codec, outside this guard
            }
            ctx.pipeline().remove(this);
            ctx.fireChannelRead(msg);
        }
    }

    private final class Bytes extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (state == State.IDLE && msg instanceof ByteBuf bytes && bytes.isReadable()) {
                state = State.HEADERS;
                arm();
            }
            ctx.fireChannelRead(msg);
        }
    }

    private final class Messages extends ChannelDuplexHandler {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (state == State.REFUSED) {
                ReferenceCountUtil.release(msg);
                return;
            }
            if (state != State.DONE && msg instanceof HttpRequest request) {
                DecoderResult result = request.decoderResult();
                if (result.isFailure()) {
                    ReferenceCountUtil.release(msg);
                    refuse(result.cause(), request.uri());
                    return;
                }
                cancel();
                state = State.SERVING;
                outstanding++;
            }
            ctx.fireChannelRead(msg);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            int code = msg instanceof HttpResponse response ? response.status().code() : 0;
            if (code == 101) {
                cancel();
                state = State.DONE;
            } else if (code >= 100 && code < 200) {
                // 100 Continue: the request's body is still to come.
            } else if (msg instanceof LastHttpContent && state == State.SERVING && --outstanding <= 0) {
                outstanding = 0;
                state = State.IDLE;
                arm();
            }
            ctx.write(msg, promise);
        }
    }

    /**
     * What Vert.x's default handler would answer, with a body that says why. {@code target} is the
     * request-target the codec read (a placeholder when the request line itself was refused).
     */
    private void refuse(Throwable cause, String target) {
        HttpResponseStatus status = cause instanceof TooLongHttpLineException ? HttpResponseStatus.REQUEST_URI_TOO_LONG
                : cause instanceof TooLongHttpHeaderException ? HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
                        : HttpResponseStatus.BAD_REQUEST;
        String detail = switch (status.code()) {
            case 414 -> "The request line is longer than the server accepts.";
            case 431 -> "The request's header block is larger than the server accepts.";
            default -> "The request is not valid HTTP/1.1 (" + HttpEdge.reason(cause) + ").";
        };
        edge.invalidRequest(status.code());
        end(status, target, status.code() == 400 ? "invalid-http" : "http-" + status.code(), detail);
    }

    /** Starts the clock for the current state. */
    private void arm() {
        cancel();
        long nanos = (state == State.IDLE ? edge.keepAliveTimeout() : edge.headerTimeout()).toNanos();
        if (nanos > 0) {
            timer = channel.eventLoop().schedule(this::expire, nanos, TimeUnit.NANOSECONDS);
        }
    }

    private void cancel() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private void expire() {
        timer = null;
        if (state == State.IDLE) {
            edge.timedOut("keep-alive");
            channel.close();
        } else if (state == State.HEADERS) {
            edge.timedOut("header");
            end(HttpResponseStatus.REQUEST_TIMEOUT, null, "header-timeout",
                    "The request's headers did not arrive within " + edge.headerTimeout().toMillis() + " ms.");
        }
    }

    /** Answers the request being read, past Vert.x (which has not seen it), and closes. */
    private void end(HttpResponseStatus status, String target, String slug, String detail) {
        cancel();
        state = State.REFUSED;
        ChannelHandlerContext first = channel.pipeline().firstContext();
        ByteBuf answer = answer(status, HttpEdge.error(target, status.code(), slug, status.reasonPhrase(), detail));
        // From the first handler's context the bytes skip every encoder: they are a whole response.
        lingeringClose(first == null ? channel.writeAndFlush(answer) : first.writeAndFlush(answer));
    }

    /** A complete HTTP/1.1 response carrying an error document, as bytes. */
    static ByteBuf answer(HttpResponseStatus status, ErrorShapes.Rendered error) {
        byte[] body = error.body().getBytes(StandardCharsets.UTF_8);
        StringBuilder headers = new StringBuilder();
        error.headers().forEach((name, value) -> headers.append(name).append(": ").append(value).append("\r\n"));
        String head = "HTTP/1.1 " + status.code() + " " + status.reasonPhrase() + "\r\n"
                + "Content-Type: " + error.contentType() + "\r\nContent-Length: " + body.length + "\r\n" + headers
                + (status.code() == 429 ? "Retry-After: 1\r\n" : "") + "Connection: close\r\n\r\n";
        return Unpooled.wrappedBuffer(head.getBytes(StandardCharsets.US_ASCII), body);
    }

    /**
     * Closes once {@code written} is out, the way a client can still read it: the client may still be
     * sending (a 1 MiB header block), and closing a socket with unread input resets the connection,
     * which can discard our answer before the client reads it. So the output is shut first, input is
     * drained (the codec discards it after a failure) and the socket closed after {@link #LINGER}.
     */
    static void lingeringClose(ChannelFuture written) {
        written.addListener(done -> {
            Channel channel = written.channel();
            if (channel instanceof DuplexChannel duplex && channel.isActive()) {
                duplex.shutdownOutput();
                channel.eventLoop().schedule(() -> channel.close(), LINGER.toMillis(), TimeUnit.MILLISECONDS);
            } else {
                channel.close();
            }
        });
    }
}
