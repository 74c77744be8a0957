/*
 * Interop generator: WS-Security signed SOAP envelopes made by Apache WSS4J
 * 1.6.19 (Debian libwss4j-java) on top of Apache Santuario 2.1.7 (Debian
 * libxml-security-java), through WSS4J's own message API (WSSecHeader,
 * WSSecTimestamp, WSSecSignature), the way CXF/Axis2 call it. Keys come from the
 * PKCS#12 bundles of the Sealpost development PKI (password "sealpost-dev",
 * aliases "sender-a" / "sender-b").
 *
 * What it produces (in OUT_DIR, stable names; content changes on every run
 * because of the timestamp, the random Ids and, for ECDSA, the nonce):
 *
 *   wss4j-rsa-sha256-bst-soap11.xml
 *       sender-b (RSA-2048), rsa-sha256 + sha256, exc-c14n (with WSS4J's
 *       InclusiveNamespaces PrefixList), X.509 BinarySecurityToken referenced by
 *       wsse:Reference, SOAP 1.1, Security header mustUnderstand="1".
 *   wss4j-ec-sha256-bst-soap12.xml
 *       sender-a (ECDSA P-256), ecdsa-sha256 + sha256, exc-c14n, BST, SOAP 1.2
 *       (WSS4J writes mustUnderstand="true" there).
 *   wss4j-rsa-sha256-ski-soap11.xml
 *       sender-b, rsa-sha256 + sha256, exc-c14n, no BinarySecurityToken: the key
 *       is named by a wsse:KeyIdentifier of ValueType X509SubjectKeyIdentifier,
 *       so the verifier must already know the sender's certificate. SOAP 1.1.
 *
 * Every envelope signs the SOAP Body and the wsu:Timestamp (TTL 300 s), both
 * carrying wsu:Id. The input envelope is a plain SOAP envelope whose Body holds
 * <sp:SubmitRegisteredMail xmlns:sp="urn:sealpost:test"><sp:Subject>Interop
 * test</sp:Subject></sp:SubmitRegisteredMail>; the signed DOM is written with
 * the JDK's identity Transformer (no indentation), nothing is edited.
 *
 * Build and run (Debian packages libwss4j-java, libxml-security-java and a JDK):
 *   CP=/usr/share/java/wss4j.jar:/usr/share/java/xmlsec.jar:/usr/share/java/commons-logging.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-nop.jar
 *   javac -d OUT_DIR/classes -cp "$CP" tests/interop/wss/Wss4jSign.java
 *   java -cp "OUT_DIR/classes:$CP" Wss4jSign PKI_DIR OUT_DIR
 * (generate-all.sh does exactly this.)
 */

import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.List;

import javax.xml.parsers.DocumentBuilder;
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

public final class Wss4jSign {
    static final String SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/";
    static final String SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope";
    static final String RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    static final String ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
    static final String P12_PASSWORD = "sealpost-dev";
    static final int TIMESTAMP_TTL_SECONDS = 300;

    static final String PAYLOAD =
        "<sp:SubmitRegisteredMail xmlns:sp=\"urn:sealpost:test\">"
        + "<sp:Subject>Interop test</sp:Subject>"
        + "</sp:SubmitRegisteredMail>";

    private Wss4jSign() {}

    static Document unsignedEnvelope(String soapNs, String prefix) throws Exception {
        String xml = "<" + prefix + ":Envelope xmlns:" + prefix + "=\"" + soapNs + "\">"
            + "<" + prefix + ":Header/>"
            + "<" + prefix + ":Body>" + PAYLOAD + "</" + prefix + ":Body>"
            + "</" + prefix + ":Envelope>";
        DocumentBuilderFactory dbf = DocumentBuilderFactory.newInstance();
        dbf.setNamespaceAware(true);
        dbf.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        DocumentBuilder db = dbf.newDocumentBuilder();
        return db.parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));
    }

    static Merlin cryptoFor(File p12) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(p12)) {
            ks.load(in, P12_PASSWORD.toCharArray());
        }
        Merlin crypto = new Merlin();
        crypto.setKeyStore(ks);
        return crypto;
    }

    static Document sign(String soapNs, String prefix, File p12, String alias,
                         String sigAlgo, int keyIdType) throws Exception {
        Document doc = unsignedEnvelope(soapNs, prefix);

        WSSecHeader secHeader = new WSSecHeader();
        secHeader.setMustUnderstand(true);
        secHeader.insertSecurityHeader(doc);

        WSSecTimestamp timestamp = new WSSecTimestamp();
        timestamp.setTimeToLive(TIMESTAMP_TTL_SECONDS);
        timestamp.build(doc, secHeader);

        WSSecSignature signature = new WSSecSignature();
        signature.setUserInfo(alias, P12_PASSWORD);
        signature.setKeyIdentifierType(keyIdType);
        signature.setSignatureAlgorithm(sigAlgo);
        signature.setDigestAlgo(WSConstants.SHA256);
        signature.setSigCanonicalization(WSConstants.C14N_EXCL_OMIT_COMMENTS);
        List<WSEncryptionPart> parts = new ArrayList<WSEncryptionPart>();
        parts.add(new WSEncryptionPart(WSConstants.ELEM_BODY, soapNs, ""));
        parts.add(new WSEncryptionPart("Timestamp", WSConstants.WSU_NS, ""));
        signature.setParts(parts);
        signature.build(doc, cryptoFor(p12), secHeader);
        return doc;
    }

    static void write(Document doc, File out) throws Exception {
        Transformer t = TransformerFactory.newInstance().newTransformer();
        t.setOutputProperty(OutputKeys.ENCODING, "UTF-8");
        t.setOutputProperty(OutputKeys.INDENT, "no");
        try (OutputStream os = new FileOutputStream(out)) {
            t.transform(new DOMSource(doc), new StreamResult(os));
        }
        System.out.println("wss4j: wrote " + out.getPath());
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: java Wss4jSign PKI_DIR OUT_DIR");
            System.exit(2);
        }
        File pki = new File(args[0]);
        File out = new File(args[1]);
        if (!out.isDirectory() && !out.mkdirs()) {
            throw new IllegalStateException("cannot create " + out);
        }
        WSSConfig.init();

        File senderA = new File(pki, "sender-a.p12");
        File senderB = new File(pki, "sender-b.p12");

        write(sign(SOAP11_NS, "soapenv", senderB, "sender-b", RSA_SHA256,
                   WSConstants.BST_DIRECT_REFERENCE),
              new File(out, "wss4j-rsa-sha256-bst-soap11.xml"));
        write(sign(SOAP12_NS, "soap", senderA, "sender-a", ECDSA_SHA256,
                   WSConstants.BST_DIRECT_REFERENCE),
              new File(out, "wss4j-ec-sha256-bst-soap12.xml"));
        write(sign(SOAP11_NS, "soapenv", senderB, "sender-b", RSA_SHA256,
                   WSConstants.SKI_KEY_IDENTIFIER),
              new File(out, "wss4j-rsa-sha256-ski-soap11.xml"));
    }
}
