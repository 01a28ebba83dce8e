// Reference renderer for the mapping-template conformance corpus: Apache Velocity 1.7 with
// API Gateway's variables implemented in Java ($input backed by Jayway JsonPath 2.0.0 over
// json-smart, $util, $context, $stageVariables). Null references render as empty text, as on
// AWS. Usage: java Oracle <corpus dir>; prints one JSON object per case:
// {"name":…, "output":…, "overrides":…} or {"name":…, "error":…}.
// The case format is described in tests/vtl_conformance.rs.

import com.jayway.jsonpath.Configuration;
import com.jayway.jsonpath.JsonPath;
import java.io.File;
import java.io.PrintStream;
import java.io.StringWriter;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.minidev.json.JSONValue;
import org.apache.commons.lang.StringEscapeUtils;
import org.apache.velocity.VelocityContext;
import org.apache.velocity.app.VelocityEngine;
import org.apache.velocity.app.event.EventCartridge;
import org.apache.velocity.app.event.ReferenceInsertionEventHandler;

public class Oracle {
    /** The $context variables, in the order $context lists them (as src/vtl/aws.rs). */
    static final String[] CONTEXT_VARIABLES = {
        "accountId", "apiId", "authorizer.principalId", "awsEndpointRequestId", "deploymentId",
        "domainName", "domainPrefix", "error.message", "error.messageString", "error.responseType",
        "error.validationErrorString", "extendedRequestId", "httpMethod", "identity.accountId",
        "identity.apiKey", "identity.apiKeyId", "identity.caller",
        "identity.cognitoAuthenticationProvider", "identity.cognitoAuthenticationType",
        "identity.cognitoIdentityId", "identity.cognitoIdentityPoolId", "identity.principalOrgId",
        "identity.sourceIp", "identity.clientCert.clientCertPem", "identity.clientCert.subjectDN",
        "identity.clientCert.issuerDN", "identity.clientCert.serialNumber",
        "identity.clientCert.validity.notBefore", "identity.clientCert.validity.notAfter",
        "identity.user", "identity.userAgent", "identity.userArn", "isCanaryRequest", "path",
        "protocol", "requestId", "requestTime", "requestTimeEpoch", "resourceId", "resourcePath",
        "stage", "wafResponseCode", "webaclArn", "customDomain.basePathMatched",
    };

    static final Configuration JSON = Configuration.defaultConfiguration();

    /** One corpus case. Lists keep the order of the case file. */
    static class Case {
        String name;
        String template = "";
        String body = "";
        List<String[]> path = new ArrayList<>();
        List<String[]> querystring = new ArrayList<>();
        List<String[]> header = new ArrayList<>();
        List<String[]> context = new ArrayList<>();
        List<String[]> stage = new ArrayList<>();
    }

    static List<Case> parse(String text) {
        List<Case> cases = new ArrayList<>();
        Case c = null;
        String section = null;
        List<String> buf = null;
        for (String line : text.split("\n", -1)) {
            if (line.startsWith("=== ")) {
                if (c != null) finish(c, section, buf);
                c = new Case();
                c.name = line.substring(4).trim();
                cases.add(c);
                section = null;
                buf = null;
            } else if (c == null) {
                continue;
            } else if (line.startsWith("--- ")) {
                finish(c, section, buf);
                section = line.substring(4).trim();
                buf = new ArrayList<>();
            } else if (section != null) {
                buf.add(line);
            } else if (!line.trim().isEmpty() && !line.startsWith("#")) {
                int colon = line.indexOf(": ");
                String key = colon < 0 ? line.trim() : line.substring(0, colon);
                String value = colon < 0 ? "" : line.substring(colon + 2);
                int dot = key.indexOf('.');
                String kind = dot < 0 ? key : key.substring(0, dot);
                String name = dot < 0 ? "" : key.substring(dot + 1);
                String[] kv = {name, value};
                switch (kind) {
                    case "path": c.path.add(kv); break;
                    case "querystring": c.querystring.add(kv); break;
                    case "header": c.header.add(kv); break;
                    case "context": c.context.add(kv); break;
                    case "stage": c.stage.add(kv); break;
                    case "body": c.body = value; break;
                    default: throw new IllegalArgumentException("bad line in " + c.name + ": " + line);
                }
            }
        }
        if (c != null) finish(c, section, buf);
        return cases;
    }

    /** A section's lines joined with '\n', trailing blank lines dropped. */
    static void finish(Case c, String section, List<String> buf) {
        if (section == null) return;
        while (!buf.isEmpty() && buf.get(buf.size() - 1).trim().isEmpty()) buf.remove(buf.size() - 1);
        String text = String.join("\n", buf);
        if (section.equals("template")) c.template = text;
        else if (section.equals("body")) c.body = text;
        else if (section.equals("expect")) return; // AWS-recorded output, checked by the Rust test
        else throw new IllegalArgumentException("bad section in " + c.name + ": " + section);
    }

    static Map<String, Object> firstWins(List<String[]> list) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (String[] kv : list) if (!m.containsKey(kv[0])) m.put(kv[0], kv[1]);
        return m;
    }

    static String find(List<String[]> list, String name, boolean fold) {
        for (String[] kv : list) {
            if (fold ? kv[0].equalsIgnoreCase(name) : kv[0].equals(name)) return kv[1];
        }
        return null;
    }

    /** $input. */
    public static class Input {
        final Case c;
        final String body;
        Object doc;
        boolean parsed;

        Input(Case c) {
            this.c = c;
            this.body = c.body.isEmpty() ? "{}" : c.body;
        }

        public String getBody() {
            return body;
        }

        Object doc() {
            if (!parsed) {
                parsed = true;
                try {
                    doc = JSON.jsonProvider().parse(body);
                } catch (RuntimeException e) {
                    doc = null;
                }
            }
            return doc;
        }

        /** The JSONPath result; throws when the path finds nothing. */
        Object select(Object path) {
            Object d = doc();
            if (d == null || path == null) throw new IllegalStateException("no document");
            return JsonPath.compile(String.valueOf(path)).read(d);
        }

        public Object path(Object path) {
            try {
                return select(path);
            } catch (RuntimeException e) {
                return null;
            }
        }

        public String json(Object path) {
            try {
                return JSONValue.toJSONString(select(path));
            } catch (RuntimeException e) {
                return "\"\"";
            }
        }

        public Map<String, Object> params() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("path", firstWins(c.path));
            m.put("querystring", firstWins(c.querystring));
            m.put("header", firstWins(c.header));
            return m;
        }

        public String params(Object name) {
            if (name == null) return "";
            String n = String.valueOf(name);
            String v = find(c.path, n, false);
            if (v == null) v = find(c.querystring, n, false);
            if (v == null) v = find(c.header, n, true);
            return v == null ? "" : v;
        }

        public String toString() {
            return "";
        }
    }

    /** $util. */
    public static class Util {
        public String escapeJavaScript(Object s) {
            return s == null ? null : StringEscapeUtils.escapeJavaScript(String.valueOf(s));
        }

        public Object parseJson(Object s) {
            if (s == null) return null;
            try {
                return JSON.jsonProvider().parse(String.valueOf(s));
            } catch (RuntimeException e) {
                return null;
            }
        }

        public String urlEncode(Object s) throws Exception {
            return s == null ? null : URLEncoder.encode(String.valueOf(s), "UTF-8");
        }

        public String urlDecode(Object s) throws Exception {
            if (s == null) return null;
            try {
                return URLDecoder.decode(String.valueOf(s), "UTF-8");
            } catch (IllegalArgumentException e) {
                return null;
            }
        }

        public String base64Encode(Object s) {
            if (s == null) return null;
            return Base64.getEncoder().encodeToString(String.valueOf(s).getBytes(StandardCharsets.UTF_8));
        }

        public String base64Decode(Object s) {
            if (s == null) return null;
            try {
                return new String(Base64.getDecoder().decode(String.valueOf(s)), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                return null;
            }
        }

        public String toString() {
            return "";
        }
    }

    @SuppressWarnings("unchecked")
    static void insertPath(Map<String, Object> map, String path, Object value) {
        int dot = path.indexOf('.');
        if (dot < 0) {
            map.put(path, value);
            return;
        }
        String head = path.substring(0, dot);
        Object child = map.get(head);
        if (!(child instanceof Map)) {
            child = new LinkedHashMap<String, Object>();
            map.put(head, child);
        }
        insertPath((Map<String, Object>) child, path.substring(dot + 1), value);
    }

    static Map<String, Object> contextMap(Case c) {
        Map<String, Object> root = new LinkedHashMap<>();
        for (String name : CONTEXT_VARIABLES) {
            String v = find(c.context, name, false);
            if (v != null) insertPath(root, name, v);
        }
        for (String[] kv : c.context) {
            if (kv[0].startsWith("authorizer.") && !kv[0].equals("authorizer.principalId")) {
                insertPath(root, kv[0], kv[1]);
            }
        }
        Map<String, Object> request = new LinkedHashMap<>();
        request.put("header", new LinkedHashMap<String, Object>());
        request.put("path", new LinkedHashMap<String, Object>());
        request.put("querystring", new LinkedHashMap<String, Object>());
        Map<String, Object> response = new LinkedHashMap<>();
        response.put("header", new LinkedHashMap<String, Object>());
        root.put("requestOverride", request);
        root.put("responseOverride", response);
        return root;
    }

    static Object get(Object map, String key) {
        return map instanceof Map ? ((Map<?, ?>) map).get(key) : null;
    }

    /** The overrides left in $context, in the canonical text the Rust test also builds. */
    static String overrides(Map<String, Object> context) {
        StringBuilder out = new StringBuilder();
        Object request = get(context, "requestOverride");
        Object response = get(context, "responseOverride");
        group(out, "request.header", get(request, "header"), false);
        group(out, "request.path", get(request, "path"), true);
        group(out, "request.querystring", get(request, "querystring"), false);
        group(out, "response.header", get(response, "header"), false);
        Object status = get(response, "status");
        if ((status instanceof Integer || status instanceof Long)) {
            long s = ((Number) status).longValue();
            if (s >= 100 && s <= 599) out.append("response.status=").append(s).append('\n');
        }
        return out.toString();
    }

    static void group(StringBuilder out, String prefix, Object map, boolean joined) {
        if (!(map instanceof Map)) return;
        for (Map.Entry<?, ?> e : ((Map<?, ?>) map).entrySet()) {
            Object v = e.getValue();
            if (v == null) continue;
            List<String> values = new ArrayList<>();
            if (v instanceof List) {
                for (Object item : (List<?>) v) values.add(String.valueOf(item));
            } else {
                values.add(String.valueOf(v));
            }
            if (joined) values = Arrays.asList(String.join(",", values));
            out.append(prefix).append('.').append(e.getKey()).append('=');
            for (String s : values) out.append('[').append(s).append(']');
            out.append('\n');
        }
    }

    public static void main(String[] args) throws Exception {
        VelocityEngine ve = new VelocityEngine();
        ve.setProperty("runtime.log.logsystem.class", "org.apache.velocity.runtime.log.NullLogChute");
        ve.init();
        File[] files = new File(args[0]).listFiles((d, n) -> n.endsWith(".vtlcases"));
        Arrays.sort(files);
        PrintStream out = new PrintStream(System.out, true, "UTF-8");
        for (File f : files) {
            String text = new String(Files.readAllBytes(f.toPath()), StandardCharsets.UTF_8);
            for (Case c : parse(text)) {
                VelocityContext ctx = new VelocityContext();
                EventCartridge ec = new EventCartridge();
                ec.addEventHandler(new ReferenceInsertionEventHandler() {
                    public Object referenceInsert(String reference, Object value) {
                        return value == null ? "" : value;
                    }
                });
                ec.attachToContext(ctx);
                Map<String, Object> context = contextMap(c);
                Map<String, Object> stage = firstWins(c.stage);
                ctx.put("input", new Input(c));
                ctx.put("util", new Util());
                ctx.put("context", context);
                ctx.put("stageVariables", stage);
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("name", f.getName() + ":" + c.name);
                try {
                    StringWriter w = new StringWriter();
                    ve.evaluate(ctx, w, c.name, c.template);
                    result.put("output", w.toString());
                    result.put("overrides", overrides(context));
                } catch (Exception e) {
                    Throwable t = e;
                    while (t.getCause() != null) t = t.getCause();
                    result.put("error", e.getClass().getSimpleName() + ": " + t);
                }
                out.println(JSONValue.toJSONString(result));
            }
        }
    }
}
