package io.sandstream.poolapi;

import java.util.List;

/**
 * The sessions that the cluster's other instances hold, for {@code listSessions}. With several
 * instances each session lives on one of them, and one listing answers for all, as one Azure pool's
 * does. With one instance (the SQLite journal) there are none.
 */
public interface PeerSessions {

    /** The mark of a call that another instance of the cluster sent (signed: a caller cannot add it). */
    String HOP_HEADER = "X-Sandstream-Hop";

    /**
     * Whether this listing was asked by another instance, which wants only this instance's own
     * sessions. A mark that is not valid is refused (403, {@code ForwardRefused}).
     */
    boolean fromPeer(String mark, String requestTarget);

    /**
     * Every session of {@code pool} held by the other instances that {@code authorization}'s key
     * may see, as they list them. Blocking; {@code 503 SessionListIncomplete} when one of them does
     * not answer, rather than a listing that leaves its sessions out.
     */
    List<ResourceResponses.Session> list(String pool, String apiVersion, String authorization);
}
