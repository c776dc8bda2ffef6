package io.sandstream.telemetry;

import static io.restassured.RestAssured.given;

import java.util.Map;

/** Reads values out of {@code /q/metrics} (Prometheus text format) for tests. */
public final class PrometheusText {

    private final String text;

    private PrometheusText(String text) {
        this.text = text;
    }

    public static PrometheusText scrape() {
        return new PrometheusText(given().get("/q/metrics").then().statusCode(200).extract().asString());
    }

    /**
     * The sum of the samples of {@code name} that have every label of {@code labels} (0 when there is
     * none), so a test can compare before and after without caring about the other labels.
     */
    public double value(String name, Map<String, String> labels) {
        double sum = 0;
        for (String line : text.split("\n")) {
            if (line.startsWith("#") || !(line.startsWith(name + "{") || line.startsWith(name + " "))) {
                continue;
            }
            int space = line.lastIndexOf(' ');
            String series = line.substring(0, space);
            if (labels.entrySet().stream().allMatch(l -> series.contains(l.getKey() + "=\"" + l.getValue() + "\""))) {
                sum += Double.parseDouble(line.substring(space + 1));
            }
        }
        return sum;
    }

    /** True when a sample line of {@code name} is there at all. */
    public boolean has(String name) {
        return text.lines().anyMatch(line -> line.startsWith(name + "{") || line.startsWith(name + " "));
    }

    @Override
    public String toString() {
        return text;
    }
}
