#!/usr/bin/env bash
# Runs every WS-Security interop generator of this folder:
#   zeep_sign.py       (Python zeep + xmlsec)      -> OUT_DIR/zeep-*.xml
#   node_soap_sign.js  (npm soap WSSecurityCert)   -> OUT_DIR/node-soap-*.xml
#   Wss4jSign.java     (Apache WSS4J 1.6, Debian)  -> OUT_DIR/wss4j-*.xml
# compiling the Java first into OUT_DIR/classes. All generators are run even if
# one fails; the exit status is non-zero if any of them failed.
#
# Usage: tests/interop/wss/generate-all.sh PKI_DIR OUT_DIR
#   PKI_DIR: made by `sealpost pki init --dir PKI_DIR`
#
# Dependencies are installed beforehand by a separate step (see README.md):
#   Debian: libwss4j-java libxml-security-java default-jdk-headless (javac) nodejs/npm
#   Python: tests/.venv/bin/pip install -r tests/interop/wss/requirements.txt
#   Node:   (cd tests/interop/wss && npm ci)
# Overridable: PYTHON (default tests/.venv/bin/python), NODE (default node),
#   JAVA, JAVAC, WSS4J_CLASSPATH.
# Check the outputs with: tests/interop/wss/check-xmlsec1.sh PKI_DIR OUT_DIR
set -u

if [ "$#" -ne 2 ]; then
    echo "usage: $0 PKI_DIR OUT_DIR" >&2
    exit 2
fi
PKI_DIR=$1
OUT_DIR=$2
HERE=$(cd "$(dirname "$0")" && pwd)

PYTHON=${PYTHON:-"$HERE/../../.venv/bin/python"}
NODE=${NODE:-node}
JAVA=${JAVA:-java}
JAVAC=${JAVAC:-javac}
J=/usr/share/java
WSS4J_CLASSPATH=${WSS4J_CLASSPATH:-"$J/wss4j.jar:$J/xmlsec.jar:$J/commons-logging.jar:$J/slf4j-api.jar:$J/slf4j-nop.jar"}

for f in sender-a.pem sender-a.key sender-a.p12 sender-b.pem sender-b.key sender-b.p12; do
    if [ ! -f "$PKI_DIR/$f" ]; then
        echo "generate-all: missing $PKI_DIR/$f (run: sealpost pki init --dir $PKI_DIR)" >&2
        exit 2
    fi
done
mkdir -p "$OUT_DIR/classes" || exit 2

failed=()

echo "== zeep"
"$PYTHON" "$HERE/zeep_sign.py" "$PKI_DIR" "$OUT_DIR" || failed+=(zeep)

echo "== node soap"
if [ ! -d "$HERE/node_modules/soap" ]; then
    echo "generate-all: $HERE/node_modules missing: run 'npm ci' in $HERE first" >&2
    failed+=(node-soap)
else
    "$NODE" "$HERE/node_soap_sign.js" "$PKI_DIR" "$OUT_DIR" || failed+=(node-soap)
fi

echo "== wss4j"
if "$JAVAC" -d "$OUT_DIR/classes" -cp "$WSS4J_CLASSPATH" "$HERE/Wss4jSign.java"; then
    "$JAVA" -cp "$OUT_DIR/classes:$WSS4J_CLASSPATH" Wss4jSign "$PKI_DIR" "$OUT_DIR" || failed+=(wss4j)
else
    failed+=(wss4j-javac)
fi

if [ "${#failed[@]}" -ne 0 ]; then
    echo "generate-all: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "generate-all: all generators succeeded"
