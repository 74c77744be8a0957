"""Checks the archive time-stamps of a Sealpost evidence with Trail of Bits' rfc3161-client.

usage: archive_imprint.py EVIDENCE OUT_DIR | rfc3161_client_archive.py OUT_DIR ROOT_PEM ISSUING_PEM

Each line read ("N HEX") names archive time-stamp N (OUT_DIR/archive-N.tst) and the imprint
archive_imprint.py recomputed for it from the XAdES rule: the token must verify over exactly
that digest, chaining to the root, and be refused over any other. Prints one line per case;
exits 1 on any failure (or when no line was read).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "court"))
from rfc3161_client_evidence import check, load  # noqa: E402


def main():
    out_dir, root_pem, issuing_pem = sys.argv[1:4]
    root, issuing = load(root_pem), load(issuing_pem)
    failures, checked = 0, 0
    for line in sys.stdin:
        n, imprint = line.split()
        with open(os.path.join(out_dir, f"archive-{n}.tst"), "rb") as f:
            token = f.read()
        checked += 1
        failures += check(f"archive time-stamp {n}", token, bytes.fromhex(imprint), root, issuing)
    sys.exit(1 if failures or not checked else 0)


if __name__ == "__main__":
    main()
