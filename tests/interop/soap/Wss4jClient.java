/*
 * Sealpost SOAP client made with Apache WSS4J 1.6 (Debian libwss4j-java) on
 * Apache Santuario 2.1 (libxml-security-java) and the JDK's HTTP client, for
 * the end-to-end tests. Same command line, output and exit codes as
 * zeep_client.py next to it (see README.md).
 *
 * The request is a DOM-built SOAP 1.1 or 1.2 envelope (proto/sealpost.wsdl,
 * document/literal, namespace urn:sealpost:v1) signed through WSS4J's message
 * API, the way CXF/Axis2 call it: WSSecHeader (mustUnderstand), WSSecTimestamp
 * (TTL 300 s), WSSecSignature over the Body and the Timestamp (wsu:Id on both),
 * exc-c14n, SHA-256 digests, RSA-SHA256 or ECDSA-SHA256 chosen from the
 * certificate's key type, the certificate as an X.509v3 BinarySecurityToken
 * referenced from the SecurityTokenReference (BST_DIRECT_REFERENCE). It is
 * POSTed over TLS trusting only the certificates of --ca, with
 *   SOAP 1.1: Content-Type: text/xml; charset=utf-8 and SOAPAction: "ACTION"
 *   SOAP 1.2: Content-Type: application/soap+xml; charset=utf-8; action="ACTION"
 * and the response is read with a namespace-aware DOM parser (no DOCTYPE).
 *
 * Usage (global options first, then the command):
 *   Wss4jClient --url URL --ca ROOT.pem --cert SENDER.pem --key SENDER.key
 *               [--soap 1.1|1.2] [--timeout SECONDS] COMMAND ...
 *     submit --recipient ID --type TYPE --subject S --reference R
 *            --key-idempotency K --document FILE [--document FILE ...]
 *            [--declared-sha256 HEX ...] --out EVIDENCE.xml
 *     get-evidence --message-id ID --out-dir DIR
 *     status --message-id ID
 * Keys: unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY"); certificates: PEM.
 * Fault codes are reported as written in the response (prefix:local).
 * Exit: 0 success (one JSON line on stdout), 3 SOAP fault (JSON on stdout),
 * 1 other error (stderr), 2 bad usage.
 * Hidden: --dump-request FILE writes the signed request bytes; with
 * --url dump: nothing is sent.
 *
 * Build and run: wss4j-client.sh (compiles into target/interop-java/soap).
 */

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.OutputKeys;
import javax.xml.transform.Transformer;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;

import org.apache.ws.security.WSConstants;
import org.apache.ws.security.WSEncryptionPart;
import org.apache.ws.security.WSSConfig;
import org.apache.ws.security.components.crypto.Merlin;
import org.apache.ws.security.message.WSSecHeader;
import org.apache.ws.security.message.WSSecSignature;
import org.apache.ws.security.message.WSSecTimestamp;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

public final class Wss4jClient {
    static final String NS = "urn:sealpost:v1";
    static final String SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/";
    static final String SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope";
    static final String RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    static final String ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
    static final String DUMP_URL = "dump:";
    static final int TIMESTAMP_TTL_SECONDS = 300;
    static final String KEY_ALIAS = "signer";
    static final char[] KEY_PASSWORD = "in-memory".toCharArray();

    static final int EXIT_OK = 0;
    static final int EXIT_ERROR = 1;
    static final int EXIT_USAGE = 2;
    static final int EXIT_FAULT = 3;

    static final String USAGE =
        "usage: Wss4jClient --url URL --ca ROOT.pem --cert SENDER.pem --key SENDER.key\n"
        + "                   [--soap 1.1|1.2] [--timeout SECONDS] COMMAND ...\n"
        + "  submit --recipient ID --type TYPE --subject S --reference R --key-idempotency K\n"
        + "         --document FILE [--document FILE ...] [--declared-sha256 HEX ...] --out FILE\n"
        + "  get-evidence --message-id ID --out-dir DIR\n"
        + "  status --message-id ID";

    private Wss4jClient() {}

    static final class UsageException extends Exception {
        UsageException(String message) {
            super(message);
        }
    }

    // ------------------------------------------------------------ arguments

    /** Options as parsed: single-valued ones and the repeatable ones. */
    static final class Args {
        final Map<String, String> global = new LinkedHashMap<>();
        final Map<String, String> options = new LinkedHashMap<>();
        final List<String> documents = new ArrayList<>();
        final List<String> declared = new ArrayList<>();
        String command;

        String soap() {
            return global.getOrDefault("soap", "1.1");
        }
    }

    static final List<String> GLOBAL_OPTIONS =
        List.of("url", "ca", "cert", "key", "soap", "timeout", "dump-request");
    static final Map<String, List<String>> COMMAND_OPTIONS = Map.of(
        "submit", List.of("recipient", "type", "subject", "reference", "key-idempotency",
                          "document", "declared-sha256", "out"),
        "get-evidence", List.of("message-id", "out-dir"),
        "status", List.of("message-id"));
    static final Map<String, List<String>> REQUIRED = Map.of(
        "submit", List.of("recipient", "type", "subject", "reference", "key-idempotency", "out"),
        "get-evidence", List.of("message-id", "out-dir"),
        "status", List.of("message-id"));

    static Args parseArgs(String[] argv) throws UsageException {
        Args a = new Args();
        for (int i = 0; i < argv.length; i++) {
            String arg = argv[i];
            if (a.command == null && !arg.startsWith("--")) {
                if (!COMMAND_OPTIONS.containsKey(arg)) {
                    throw new UsageException("unknown command: " + arg);
                }
                a.command = arg;
                continue;
            }
            if (!arg.startsWith("--")) {
                throw new UsageException("unexpected argument: " + arg);
            }
            String name = arg.substring(2);
            String value;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            } else {
                if (i + 1 >= argv.length) {
                    throw new UsageException("--" + name + " needs a value");
                }
                value = argv[++i];
            }
            List<String> allowed = a.command == null ? GLOBAL_OPTIONS : COMMAND_OPTIONS.get(a.command);
            if (!allowed.contains(name)) {
                throw new UsageException("unknown option --" + name
                    + (a.command == null ? "" : " for " + a.command));
            }
            if (name.equals("document")) {
                a.documents.add(value);
            } else if (name.equals("declared-sha256")) {
                a.declared.add(value);
            } else {
                Map<String, String> target = a.command == null ? a.global : a.options;
                if (target.put(name, value) != null) {
                    throw new UsageException("--" + name + " given twice");
                }
            }
        }
        if (a.command == null) {
            throw new UsageException("no command");
        }
        for (String name : List.of("url", "ca", "cert", "key")) {
            if (!a.global.containsKey(name)) {
                throw new UsageException("--" + name + " is required");
            }
        }
        for (String name : REQUIRED.get(a.command)) {
            if (!a.options.containsKey(name)) {
                throw new UsageException("--" + name + " is required");
            }
        }
        if (a.command.equals("submit") && a.documents.isEmpty()) {
            throw new UsageException("--document is required");
        }
        if (a.declared.size() > a.documents.size()) {
            throw new UsageException("more --declared-sha256 than --document");
        }
        if (!a.soap().equals("1.1") && !a.soap().equals("1.2")) {
            throw new UsageException("--soap must be 1.1 or 1.2");
        }
        if (a.global.get("url").equals(DUMP_URL) && !a.global.containsKey("dump-request")) {
            throw new UsageException("--url dump: needs --dump-request FILE");
        }
        if (a.global.containsKey("timeout")) {
            try {
                if (Double.parseDouble(a.global.get("timeout")) <= 0) {
                    throw new NumberFormatException();
                }
            } catch (NumberFormatException e) {
                throw new UsageException("--timeout must be a positive number of seconds");
            }
        }
        return a;
    }

    // ------------------------------------------------------------ keys and certificates

    static byte[] pemBlock(String path, String label) throws IOException {
        String text = new String(Files.readAllBytes(Paths.get(path)), StandardCharsets.US_ASCII);
        Matcher m = Pattern.compile("-----BEGIN " + label + "-----(.*?)-----END " + label + "-----",
                                    Pattern.DOTALL).matcher(text);
        if (!m.find()) {
            throw new IOException(path + ": no PEM block \"" + label + "\"");
        }
        return Base64.getMimeDecoder().decode(m.group(1));
    }

    static List<X509Certificate> certificates(String path) throws Exception {
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        List<X509Certificate> out = new ArrayList<>();
        try (InputStream in = Files.newInputStream(Paths.get(path))) {
            for (Certificate c : cf.generateCertificates(in)) {
                out.add((X509Certificate) c);
            }
        }
        if (out.isEmpty()) {
            throw new IOException(path + ": no certificate");
        }
        return out;
    }

    /** The key, read as the same algorithm as the certificate's public key. */
    static PrivateKey privateKey(String path, X509Certificate cert) throws Exception {
        String algorithm = cert.getPublicKey().getAlgorithm(); // "RSA" or "EC"
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(pemBlock(path, "PRIVATE KEY"));
        return KeyFactory.getInstance(algorithm).generatePrivate(spec);
    }

    static String signatureAlgorithm(X509Certificate cert) throws Exception {
        switch (cert.getPublicKey().getAlgorithm()) {
            case "RSA":
                return RSA_SHA256;
            case "EC":
                return ECDSA_SHA256;
            default:
                throw new Exception("unsupported key type " + cert.getPublicKey().getAlgorithm());
        }
    }

    static Merlin signerCrypto(PrivateKey key, X509Certificate cert) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry(KEY_ALIAS, key, KEY_PASSWORD, new Certificate[] {cert});
        Merlin crypto = new Merlin();
        crypto.setKeyStore(ks);
        return crypto;
    }

    // ------------------------------------------------------------ the envelope

    static final class Envelope {
        final Document doc;
        final Element operation;
        final String soapNs;

        Envelope(String soapVersion, String operationName) throws Exception {
            soapNs = soapVersion.equals("1.2") ? SOAP12_NS : SOAP11_NS;
            String p = soapVersion.equals("1.2") ? "soap" : "soapenv";
            DocumentBuilderFactory dbf = DocumentBuilderFactory.newInstance();
            dbf.setNamespaceAware(true);
            doc = dbf.newDocumentBuilder().newDocument();
            Element env = doc.createElementNS(soapNs, p + ":Envelope");
            env.setAttributeNS("http://www.w3.org/2000/xmlns/", "xmlns:" + p, soapNs);
            doc.appendChild(env);
            env.appendChild(doc.createElementNS(soapNs, p + ":Header"));
            Element body = doc.createElementNS(soapNs, p + ":Body");
            env.appendChild(body);
            operation = doc.createElementNS(NS, "sp:" + operationName);
            operation.setAttributeNS("http://www.w3.org/2000/xmlns/", "xmlns:sp", NS);
            body.appendChild(operation);
        }

        Element add(Element parent, String name, String text) {
            Element e = doc.createElementNS(NS, "sp:" + name);
            e.setTextContent(text);
            parent.appendChild(e);
            return e;
        }

        Element add(Element parent, String name) {
            Element e = doc.createElementNS(NS, "sp:" + name);
            parent.appendChild(e);
            return e;
        }
    }

    static void sign(Envelope env, PrivateKey key, X509Certificate cert) throws Exception {
        WSSecHeader secHeader = new WSSecHeader();
        secHeader.setMustUnderstand(true);
        secHeader.insertSecurityHeader(env.doc);

        WSSecTimestamp timestamp = new WSSecTimestamp();
        timestamp.setTimeToLive(TIMESTAMP_TTL_SECONDS);
        timestamp.build(env.doc, secHeader);

        WSSecSignature signature = new WSSecSignature();
        signature.setUserInfo(KEY_ALIAS, new String(KEY_PASSWORD));
        signature.setKeyIdentifierType(WSConstants.BST_DIRECT_REFERENCE);
        signature.setSignatureAlgorithm(signatureAlgorithm(cert));
        signature.setDigestAlgo(WSConstants.SHA256);
        signature.setSigCanonicalization(WSConstants.C14N_EXCL_OMIT_COMMENTS);
        List<WSEncryptionPart> parts = new ArrayList<>();
        parts.add(new WSEncryptionPart(WSConstants.ELEM_BODY, env.soapNs, ""));
        parts.add(new WSEncryptionPart("Timestamp", WSConstants.WSU_NS, ""));
        signature.setParts(parts);
        signature.build(env.doc, signerCrypto(key, cert), secHeader);
    }

    static byte[] serialize(Document doc) throws Exception {
        Transformer t = TransformerFactory.newInstance().newTransformer();
        t.setOutputProperty(OutputKeys.ENCODING, "UTF-8");
        t.setOutputProperty(OutputKeys.INDENT, "no");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        t.transform(new DOMSource(doc), new StreamResult(out));
        return out.toByteArray();
    }

    static String mediaType(String path) {
        return path.toLowerCase(Locale.ROOT).endsWith(".pdf")
            ? "application/pdf" : "application/octet-stream";
    }

    static String hex(byte[] bytes) {
        StringBuilder sb = new StringBuilder();
        for (byte b : bytes) {
            sb.append(String.format("%02x", b & 0xff));
        }
        return sb.toString();
    }

    static Envelope buildRequest(Args a) throws Exception {
        String soap = a.soap();
        switch (a.command) {
            case "submit": {
                Envelope env = new Envelope(soap, "SubmitRegisteredMail");
                Element op = env.operation;
                env.add(op, "IdempotencyKey", a.options.get("key-idempotency"));
                env.add(op, "Recipient", a.options.get("recipient"));
                env.add(op, "MessageType", a.options.get("type"));
                env.add(op, "Subject", a.options.get("subject"));
                env.add(op, "SenderReference", a.options.get("reference"));
                for (int i = 0; i < a.documents.size(); i++) {
                    String path = a.documents.get(i);
                    byte[] content = Files.readAllBytes(Paths.get(path));
                    String sha256 = i < a.declared.size()
                        ? a.declared.get(i)
                        : hex(MessageDigest.getInstance("SHA-256").digest(content));
                    Element d = env.add(op, "Document");
                    env.add(d, "Id", "d" + (i + 1));
                    env.add(d, "Name", new File(path).getName());
                    env.add(d, "MediaType", mediaType(path));
                    env.add(d, "Sha256", sha256);
                    env.add(d, "Content", Base64.getEncoder().encodeToString(content));
                }
                return env;
            }
            case "get-evidence": {
                Envelope env = new Envelope(soap, "GetEvidence");
                env.add(env.operation, "MessageId", a.options.get("message-id"));
                return env;
            }
            case "status": {
                Envelope env = new Envelope(soap, "GetMessageStatus");
                env.add(env.operation, "MessageId", a.options.get("message-id"));
                return env;
            }
            default:
                throw new IllegalStateException(a.command);
        }
    }

    static String soapAction(Args a) {
        switch (a.command) {
            case "submit":
                return "urn:sealpost:v1:SubmitRegisteredMail";
            case "get-evidence":
                return "urn:sealpost:v1:GetEvidence";
            default:
                return "urn:sealpost:v1:GetMessageStatus";
        }
    }

    // ------------------------------------------------------------ HTTP

    static SSLContext trustOnly(String caPath) throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        int n = 0;
        for (X509Certificate c : certificates(caPath)) {
            trust.setCertificateEntry("ca-" + n++, c);
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    static HttpResponse<byte[]> post(Args a, byte[] body, String contentType, String soapAction)
            throws Exception {
        Duration timeout = Duration.ofMillis(
            (long) (Double.parseDouble(a.global.getOrDefault("timeout", "60")) * 1000));
        HttpClient client = HttpClient.newBuilder()
            .sslContext(trustOnly(a.global.get("ca")))
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(timeout)
            .build();
        HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create(a.global.get("url")))
            .timeout(timeout)
            .header("Content-Type", contentType)
            .POST(HttpRequest.BodyPublishers.ofByteArray(body));
        if (soapAction != null) {
            rb.header("SOAPAction", soapAction);
        }
        return client.send(rb.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    // ------------------------------------------------------------ the response

    static Document parse(byte[] xml) throws Exception {
        DocumentBuilderFactory dbf = DocumentBuilderFactory.newInstance();
        dbf.setNamespaceAware(true);
        dbf.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        dbf.setFeature("http://xml.org/sax/features/external-general-entities", false);
        dbf.setFeature("http://xml.org/sax/features/external-parameter-entities", false);
        dbf.setXIncludeAware(false);
        dbf.setExpandEntityReferences(false);
        javax.xml.parsers.DocumentBuilder db = dbf.newDocumentBuilder();
        db.setErrorHandler(new org.xml.sax.helpers.DefaultHandler()); // throw, do not print
        return db.parse(new ByteArrayInputStream(xml));
    }

    static List<Element> children(Element parent) {
        List<Element> out = new ArrayList<>();
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n.getNodeType() == Node.ELEMENT_NODE) {
                out.add((Element) n);
            }
        }
        return out;
    }

    /** The element child named {ns}local; ns "" means no namespace. */
    static Element child(Element parent, String ns, String local) {
        for (Element e : children(parent)) {
            String ens = e.getNamespaceURI() == null ? "" : e.getNamespaceURI();
            if (local.equals(e.getLocalName()) && ns.equals(ens)) {
                return e;
            }
        }
        return null;
    }

    static String childText(Element parent, String ns, String local) {
        Element e = parent == null ? null : child(parent, ns, local);
        return e == null ? null : e.getTextContent();
    }

    static Element descendant(Element root, String ns, String local) {
        org.w3c.dom.NodeList l = root.getElementsByTagNameNS(ns, local);
        return l.getLength() == 0 ? null : (Element) l.item(0);
    }

    static void writeFile(String path, byte[] data) throws IOException {
        Path p = Paths.get(path).toAbsolutePath();
        if (p.getParent() != null) {
            Files.createDirectories(p.getParent());
        }
        Files.write(p, data);
    }

    static byte[] base64(String text) {
        return Base64.getMimeDecoder().decode(text.trim());
    }

    /** The JSON of a SOAP fault; writes the sp:Fault's Evidence if any. */
    static Map<String, Object> fault(Args a, String envNs, Element faultEl, int status)
            throws IOException {
        Map<String, Object> out = new LinkedHashMap<>();
        Element detail;
        if (envNs.equals(SOAP12_NS)) {
            Element code = child(faultEl, SOAP12_NS, "Code");
            out.put("fault", childText(code, SOAP12_NS, "Value"));
            Element sub = code == null ? null : child(code, SOAP12_NS, "Subcode");
            out.put("subcode", childText(sub, SOAP12_NS, "Value"));
            out.put("reason", childText(child(faultEl, SOAP12_NS, "Reason"), SOAP12_NS, "Text"));
            detail = child(faultEl, SOAP12_NS, "Detail");
        } else {
            out.put("fault", childText(faultEl, "", "faultcode"));
            out.put("subcode", null);
            out.put("reason", childText(faultEl, "", "faultstring"));
            detail = child(faultEl, "", "detail");
        }
        Element sp = descendant(detail != null ? detail : faultEl, NS, "Fault");
        out.put("code", childText(sp, NS, "Code"));
        out.put("correlation_id", childText(sp, NS, "CorrelationId"));
        out.put("http_status", status);
        String evidence = childText(sp, NS, "Evidence");
        String target = null;
        if (a.command.equals("submit")) {
            target = a.options.get("out");
        } else if (a.command.equals("get-evidence")) {
            target = Paths.get(a.options.get("out-dir"), "fault-evidence.xml").toString();
        }
        if (evidence != null && !evidence.trim().isEmpty() && target != null) {
            writeFile(target, base64(evidence));
            out.put("evidence", target);
        }
        return out;
    }

    static Map<String, Object> result(Args a, Element response) throws Exception {
        Map<String, Object> out = new LinkedHashMap<>();
        switch (a.command) {
            case "submit": {
                String evidence = childText(response, NS, "Evidence");
                if (evidence == null) {
                    throw new Exception("SubmitRegisteredMailResponse without Evidence");
                }
                writeFile(a.options.get("out"), base64(evidence));
                out.put("message_id", childText(response, NS, "MessageId"));
                out.put("evidence", a.options.get("out"));
                return out;
            }
            case "get-evidence": {
                String dir = a.options.get("out-dir");
                Files.createDirectories(Paths.get(dir));
                List<String> paths = new ArrayList<>();
                int i = 0;
                for (Element e : children(response)) {
                    if (NS.equals(e.getNamespaceURI()) && "Evidence".equals(e.getLocalName())) {
                        String path = Paths.get(dir, "evidence-" + (++i) + ".xml").toString();
                        writeFile(path, base64(e.getTextContent()));
                        paths.add(path);
                    }
                }
                out.put("message_id", a.options.get("message-id"));
                out.put("evidences", paths);
                return out;
            }
            default: {
                out.put("message_id", childText(response, NS, "MessageId"));
                out.put("status", childText(response, NS, "Status"));
                out.put("recipient", childText(response, NS, "Recipient"));
                out.put("submitted_at", childText(response, NS, "SubmittedAt"));
                String n = childText(response, NS, "Evidences");
                out.put("evidences", n == null ? null : Long.valueOf(n.trim()));
                return out;
            }
        }
    }

    static final Map<String, String> RESPONSE_ELEMENT = Map.of(
        "submit", "SubmitRegisteredMailResponse",
        "get-evidence", "GetEvidenceResponse",
        "status", "GetMessageStatusResponse");

    // ------------------------------------------------------------ JSON

    static String json(Object v) {
        if (v == null) {
            return "null";
        }
        if (v instanceof Number || v instanceof Boolean) {
            return v.toString();
        }
        if (v instanceof Map) {
            StringBuilder sb = new StringBuilder("{");
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                if (sb.length() > 1) {
                    sb.append(", ");
                }
                sb.append(json(e.getKey().toString())).append(": ").append(json(e.getValue()));
            }
            return sb.append('}').toString();
        }
        if (v instanceof List) {
            StringBuilder sb = new StringBuilder("[");
            for (Object o : (List<?>) v) {
                if (sb.length() > 1) {
                    sb.append(", ");
                }
                sb.append(json(o));
            }
            return sb.append(']').toString();
        }
        String s = v.toString();
        StringBuilder sb = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': sb.append("\\\""); break;
                case '\\': sb.append("\\\\"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                default:
                    if (c < 0x20 || c > 0x7e) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
            }
        }
        return sb.append('"').toString();
    }

    static void emit(Map<String, Object> obj) {
        System.out.println(json(obj));
        System.out.flush();
    }

    // ------------------------------------------------------------ main

    static int run(Args a) throws Exception {
        List<X509Certificate> certs = certificates(a.global.get("cert"));
        X509Certificate cert = certs.get(0);
        PrivateKey key = privateKey(a.global.get("key"), cert);

        WSSConfig.init();
        Envelope env = buildRequest(a);
        sign(env, key, cert);
        byte[] request = serialize(env.doc);

        String action = soapAction(a);
        String contentType;
        String soapActionHeader;
        if (a.soap().equals("1.2")) {
            contentType = "application/soap+xml; charset=utf-8; action=\"" + action + "\"";
            soapActionHeader = null;
        } else {
            contentType = "text/xml; charset=utf-8";
            soapActionHeader = "\"" + action + "\"";
        }

        String dump = a.global.get("dump-request");
        if (dump != null) {
            writeFile(dump, request);
        }
        if (a.global.get("url").equals(DUMP_URL)) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("dumped", dump);
            out.put("content_type", contentType);
            out.put("soap_action", soapActionHeader);
            emit(out);
            return EXIT_OK;
        }

        HttpResponse<byte[]> response = post(a, request, contentType, soapActionHeader);
        int status = response.statusCode();
        byte[] body = response.body();
        Document doc;
        try {
            doc = parse(body);
        } catch (Exception e) {
            throw new Exception("HTTP " + status + ", response is not XML ("
                + e.getMessage() + "): " + snippet(body));
        }
        Element root = doc.getDocumentElement();
        String envNs = root.getNamespaceURI();
        if (!"Envelope".equals(root.getLocalName())
                || !(SOAP11_NS.equals(envNs) || SOAP12_NS.equals(envNs))) {
            throw new Exception("HTTP " + status + ", response is not a SOAP envelope: "
                + snippet(body));
        }
        Element respBody = child(root, envNs, "Body");
        List<Element> content = respBody == null ? List.of() : children(respBody);
        if (content.size() == 1 && envNs.equals(content.get(0).getNamespaceURI())
                && "Fault".equals(content.get(0).getLocalName())) {
            emit(fault(a, envNs, content.get(0), status));
            return EXIT_FAULT;
        }
        if (status != 200) {
            throw new Exception("HTTP " + status + " without a SOAP fault: " + snippet(body));
        }
        String expected = RESPONSE_ELEMENT.get(a.command);
        if (content.size() != 1 || !NS.equals(content.get(0).getNamespaceURI())
                || !expected.equals(content.get(0).getLocalName())) {
            throw new Exception("expected one sp:" + expected + " in the response Body: "
                + snippet(body));
        }
        emit(result(a, content.get(0)));
        return EXIT_OK;
    }

    static String snippet(byte[] body) {
        String s = new String(body, StandardCharsets.UTF_8);
        return s.length() > 500 ? s.substring(0, 500) + "..." : s;
    }

    public static void main(String[] argv) {
        Args a;
        try {
            a = parseArgs(argv);
        } catch (UsageException e) {
            System.err.println("Wss4jClient: " + e.getMessage());
            System.err.println(USAGE);
            System.exit(EXIT_USAGE);
            return;
        }
        int rc;
        try {
            rc = run(a);
        } catch (Exception e) {
            StringBuilder msg = new StringBuilder(e.toString());
            for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
                msg.append(": ").append(c);
            }
            System.err.println("Wss4jClient: " + msg);
            rc = EXIT_ERROR;
        }
        System.exit(rc);
    }
}
