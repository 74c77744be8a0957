// Verifies an enveloped XML signature with Apache Santuario (Debian libxml-security-java), the
// way a relying party using Java would: the signature value with the certificate from KeyInfo,
// then that certificate's chain with Java's PKIX validator.
//
// usage: java -cp CLASSPATH SantuarioVerify SIGNED.xml ROOT.pem ISSUING.pem
// prints OK and exits 0, or prints FAIL and the reason and exits 1.
import java.io.File;
import java.io.FileInputStream;
import java.security.cert.CertPath;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.Collections;
import javax.xml.parsers.DocumentBuilderFactory;
import org.apache.xml.security.Init;
import org.apache.xml.security.signature.XMLSignature;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

public class SantuarioVerify {
    public static void main(String[] args) throws Exception {
        Init.init();
        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        factory.setNamespaceAware(true);
        factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        Document doc = factory.newDocumentBuilder().parse(new File(args[0]));
        // Same-document references name elements by a plain Id (XAdES SignedProperties):
        // declare those attributes as IDs, as an application would.
        NodeList all = doc.getElementsByTagNameNS("*", "*");
        for (int i = 0; i < all.getLength(); i++) {
            Element e = (Element) all.item(i);
            if (e.hasAttribute("Id")) {
                e.setIdAttribute("Id", true);
            }
        }
        NodeList signatures = doc.getElementsByTagNameNS("http://www.w3.org/2000/09/xmldsig#", "Signature");
        if (signatures.getLength() != 1) {
            System.out.println("FAIL: " + signatures.getLength() + " signatures");
            System.exit(1);
        }
        XMLSignature signature = new XMLSignature((Element) signatures.item(0), "");
        X509Certificate signer = signature.getKeyInfo().getX509Certificate();
        if (signer == null || !signature.checkSignatureValue(signer)) {
            System.out.println("FAIL: the signature does not verify");
            System.exit(1);
        }
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        X509Certificate root = (X509Certificate) cf.generateCertificate(new FileInputStream(args[1]));
        X509Certificate issuing = (X509Certificate) cf.generateCertificate(new FileInputStream(args[2]));
        CertPath path = cf.generateCertPath(Arrays.asList(signer, issuing));
        PKIXParameters params = new PKIXParameters(Collections.singleton(new TrustAnchor(root, null)));
        params.setRevocationEnabled(false);
        try {
            CertPathValidator.getInstance("PKIX").validate(path, params);
        } catch (Exception e) {
            System.out.println("FAIL: chain: " + e.getMessage());
            System.exit(1);
        }
        System.out.println("OK " + signer.getSubjectX500Principal());
    }
}
