#!/usr/bin/env bash
# Runs Wss4jClient.java (Apache WSS4J 1.6 + Santuario from Debian), compiling it
# first when the class is missing or older than the source. All arguments are
# passed through; see README.md for the command line.
#
# Classes go to target/interop-java/soap/classes (override: WSS4J_CLIENT_CACHE);
# concurrent runs serialise the compilation on a lock file there.
# Overridable: JAVA, JAVAC, WSS4J_CLASSPATH (as in tests/interop/wss/generate-all.sh).
# Needs: libwss4j-java libxml-security-java and a JDK (make deps installs them).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
SRC="$HERE/Wss4jClient.java"
CACHE=${WSS4J_CLIENT_CACHE:-"$ROOT/target/interop-java/soap"}
JAVA=${JAVA:-java}
JAVAC=${JAVAC:-javac}
J=/usr/share/java
WSS4J_CLASSPATH=${WSS4J_CLASSPATH:-"$J/wss4j.jar:$J/xmlsec.jar:$J/commons-logging.jar:$J/slf4j-api.jar:$J/slf4j-nop.jar"}
CLASSES="$CACHE/classes"

mkdir -p "$CACHE" || exit 1
(
    flock 9 || exit 1
    if [ ! -f "$CLASSES/Wss4jClient.class" ] || [ "$SRC" -nt "$CLASSES/Wss4jClient.class" ]; then
        rm -rf "$CACHE/classes.tmp"
        mkdir -p "$CACHE/classes.tmp" || exit 1
        "$JAVAC" -nowarn -d "$CACHE/classes.tmp" -cp "$WSS4J_CLASSPATH" "$SRC" >&2 || exit 1
        rm -rf "$CLASSES" && mv "$CACHE/classes.tmp" "$CLASSES" || exit 1
    fi
) 9>"$CACHE/.lock" || { echo "wss4j-client: javac failed" >&2; exit 1; }

# The JVM decodes the arguments with the locale's charset: make it UTF-8 (a
# subject with non-ASCII letters would otherwise arrive as '?').
export LC_ALL=C.UTF-8
exec "$JAVA" -Dfile.encoding=UTF-8 -cp "$CLASSES:$WSS4J_CLASSPATH" Wss4jClient "$@"
