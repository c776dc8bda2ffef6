package io.sandstream.sessions.aca;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.List;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.sandstream.config.SandstreamConfig.AcaContract;
import io.sandstream.sessions.ExecutionResult.Status;
import io.sandstream.sessions.ExecutionResult;
import io.sandstream.sessions.SessionFile;

/**
 * The ACA wire format both ways, against response bodies in the shapes Azure's data plane answers
 * (the service's documented examples and what its clients parse), without any HTTP in between.
 */
class AcaWireTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Instant START = Instant.parse("2025-01-01T10:00:00Z");
    private static final Instant END = Instant.parse("2025-01-01T10:00:01Z");

    private static JsonNode json(String text) throws Exception {
        return JSON.readTree(text.replace('\'', '"'));
    }

    private static ExecutionResult legacy(String body) throws Exception {
        return AcaWire.execution(AcaContract.LEGACY, json(body), START, END);
    }

    private static ExecutionResult resource(String body) throws Exception {
        return AcaWire.execution(AcaContract.RESOURCE, json(body), START, END);
    }

    @Test
    void requestBodiesOfBothContracts() {
        assertEquals("{\"properties\":{\"codeInputType\":\"inline\",\"executionType\":\"synchronous\","
                + "\"code\":\"print(1)\",\"timeoutInSeconds\":30}}",
                AcaWire.executeBody(AcaContract.LEGACY, "print(1)", 30).toString());
        assertEquals("{\"codeInputType\":\"Inline\",\"executionType\":\"Synchronous\",\"code\":\"print(1)\","
                + "\"timeoutInSeconds\":60}", AcaWire.executeBody(AcaContract.RESOURCE, "print(1)", 60).toString());
    }

    @Test
    void legacySuccessWithItsReferenceIds() throws Exception {
        ExecutionResult r = legacy("{'$id':'1','properties':{'$id':'2','status':'Success','stdout':'hello\\n',"
                + "'stderr':'','result':42,'executionTimeInMilliseconds':12}}");
        assertEquals(Status.Succeeded, r.status());
        assertEquals("hello\n", r.stdout());
        assertEquals("", r.stderr());
        assertEquals(42, r.result().intValue());
        assertEquals(12, r.executionMs());
        assertNull(r.errorType());
        assertEquals(START, r.startedAt());
        assertEquals(END, r.completedAt());
    }

    @Test
    void legacyFailureIsAResultWithTheExceptionNamed() throws Exception {
        ExecutionResult r = legacy("{'$id':'1','properties':{'$id':'2','status':'Failure','stdout':'before\\n',"
                + "'stderr':'Traceback (most recent call last):\\n  File \\'<stdin>\\', line 2, in <module>\\n"
                + "ValueError: boom\\n','result':'','executionTimeInMilliseconds':3}}");
        assertEquals(Status.Failed, r.status());
        assertEquals("ValueError", r.errorType());
        assertEquals("boom", r.errorMessage());
        assertNull(r.result(), "ACA's empty string means no value");
        assertTrue(r.stderr().contains("Traceback"));
    }

    @Test
    void resourceSucceededAsTheServiceDocumentsIt() throws Exception {
        ExecutionResult r = resource("{'id':'testExecutionId','identifier':'testSessionIdentifier',"
                + "'executionType':'Synchronous','status':'Succeeded','result':{'stdout':'63\\n','stderr':'',"
                + "'executionResult':'','executionTimeInMilliseconds':4}}");
        assertEquals(Status.Succeeded, r.status());
        assertEquals("63\n", r.stdout());
        assertNull(r.result());
        assertEquals(4, r.executionMs());
    }

    @Test
    void resourceValuesAndFailures() throws Exception {
        ExecutionResult value = resource("{'id':'e','identifier':'s','executionType':'Synchronous','status':'Succeeded',"
                + "'result':{'stdout':'','stderr':'','executionResult':{'a':[1,2]},'executionTimeInMilliseconds':1}}");
        assertEquals(json("{'a':[1,2]}"), value.result());

        ExecutionResult failed = resource("{'id':'e','identifier':'s','executionType':'Synchronous','status':'Failed',"
                + "'result':{'stdout':'','stderr':'Traceback (most recent call last):\\nZeroDivisionError: division by zero',"
                + "'executionResult':'','executionTimeInMilliseconds':2}}");
        assertEquals(Status.Failed, failed.status());
        assertEquals("ZeroDivisionError", failed.errorType());
        assertEquals("division by zero", failed.errorMessage());

        ExecutionResult timedOut = resource("{'id':'e','identifier':'s','executionType':'Synchronous','status':'Failed',"
                + "'error':{'code':'ExecutionTimeout','message':'The execution exceeded 10 seconds.'},"
                + "'result':{'stdout':'','stderr':'','executionTimeInMilliseconds':10000}}");
        assertEquals(Status.TimedOut, timedOut.status());
        assertEquals("ExecutionTimeout", timedOut.errorType());
        assertEquals("The execution exceeded 10 seconds.", timedOut.errorMessage());

        assertEquals(Status.Cancelled, resource("{'status':'Canceled','result':{}}").status());
        ExecutionResult running = resource("{'status':'Running'}");
        assertEquals(Status.Failed, running.status(), "a synchronous call that did not finish");
        assertEquals("ExecutionFailed", running.errorType());
        assertEquals(1000, running.executionMs(), "measured when the pool does not say");
    }

    @Test
    void statusWordsInEitherContractAndAnyCase() {
        assertEquals(Status.Succeeded, AcaWire.status("Success", null));
        assertEquals(Status.Succeeded, AcaWire.status("SUCCEEDED", null));
        assertEquals(Status.Failed, AcaWire.status("Failure", null));
        assertEquals(Status.Failed, AcaWire.status("failed", null));
        assertEquals(Status.TimedOut, AcaWire.status("Timeout", null));
        assertEquals(Status.TimedOut, AcaWire.status("TimedOut", null));
        assertEquals(Status.Cancelled, AcaWire.status("Cancelled", null));
        assertEquals(Status.Failed, AcaWire.status("", null));
    }

    @Test
    void fileListsOfBothContracts() throws Exception {
        List<SessionFile> legacy = AcaWire.files(AcaContract.LEGACY, json("{'$id':'1','value':[{'$id':'2','properties':"
                + "{'$id':'3','filename':'data.csv','size':120,'lastModifiedTime':'2024-05-01T10:00:00.123Z'}},"
                + "{'$id':'4','properties':{'$id':'5','filename':'/mnt/data/b.bin','size':3,"
                + "'lastModifiedTime':'2024-05-01T10:00:00+00:00'}}]}"));
        assertEquals(List.of(new SessionFile("data.csv", 120, Instant.parse("2024-05-01T10:00:00.123Z")),
                new SessionFile("b.bin", 3, Instant.parse("2024-05-01T10:00:00Z"))), legacy);

        List<SessionFile> resource = AcaWire.files(AcaContract.RESOURCE, json("{'value':[{'name':'testfile.yaml',"
                + "'type':'File','contentType':'application/yaml','sizeInBytes':4,'lastModifiedAt':'2024-05-29T00:00:00.000Z'},"
                + "{'name':'test-sub-directory','type':'Directory','lastModifiedAt':'2024-04-29T00:00:00.000Z'}],"
                + "'nextLink':null}"));
        assertEquals(List.of(new SessionFile("testfile.yaml", 4, Instant.parse("2024-05-29T00:00:00Z"))), resource,
                "directories are not files");

        assertEquals(new SessionFile("up.txt", 5, Instant.parse("2024-05-29T00:00:00Z")), AcaWire.uploaded(
                AcaContract.RESOURCE, json("{'name':'up.txt','type':'File','contentType':'text/plain','sizeInBytes':5,"
                        + "'lastModifiedAt':'2024-05-29T00:00:00.000Z'}")));
        assertEquals("up.txt", AcaWire.uploaded(AcaContract.LEGACY, json("{'$id':'1','value':[{'$id':'2','properties':"
                + "{'$id':'3','filename':'up.txt','size':5,'lastModifiedTime':'2024-05-29T00:00:00Z'}}]}")).name());
    }

    @Test
    void errorsAndWhichOnesMeanAFullPool() throws Exception {
        AcaWire.AzureError full = AcaWire.error(json("{'error':{'code':'SessionPoolFull','message':'Every session is in use.'}}"), null);
        assertEquals(new AcaWire.AzureError("SessionPoolFull", "Every session is in use."), full);
        assertTrue(AcaWire.poolFull(full));
        assertTrue(AcaWire.poolFull(new AcaWire.AzureError("NotFound",
                "No available session: the session pool has reached its maximum number of sessions.")));
        assertFalse(AcaWire.poolFull(AcaWire.error(json("{'error':{'code':'FileNotFound','message':'No such file.'}}"), null)));
        assertFalse(AcaWire.poolFull(AcaWire.error(json("{'code':'SessionNotFound','message':'No session.'}"), null)));
        assertFalse(AcaWire.poolFull(null));
        assertEquals(new AcaWire.AzureError("SessionPoolFull", ""), AcaWire.error(new byte[0], "SessionPoolFull"));
        assertEquals(new AcaWire.AzureError("PoolNotFound", ""), AcaWire.error("not json".getBytes(), "PoolNotFound"));
        assertNull(AcaWire.error("<html>".getBytes(), null));
    }

    @Test
    void aRefusedExecutionIsAFailedResultNamedByItsAzureCode() {
        ExecutionResult r = AcaWire.refused(new AcaWire.AzureError("InvalidRequestBody", "code is too long"), START, END);
        assertEquals(Status.Failed, r.status());
        assertEquals("InvalidRequestBody", r.errorType());
        assertEquals("code is too long", r.stderr());
    }
}
