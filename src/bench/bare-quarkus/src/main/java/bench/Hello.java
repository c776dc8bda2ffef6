package bench;

import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;

/** The baseline's one endpoint; its health is Quarkus' own /q/health/ready. */
@Path("/hello")
public class Hello {

    @GET
    public String hello() {
        return "hello";
    }
}
