"""Checks the archive time-stamps of a Sealpost evidence with Trail of Bits' rfc3161-client.

usage: archive_imprint.py EVIDENCE OUT_DIR | rfc3161_client_archive.py OUT_DIR ROOT_PEM ISSUING_PEM

Each line read ("N HEX") names archive time-stamp N (OUT_DIR/archive-N.tst) and the imprint
archive_imprint.py recomputed for it from the XAdES rule: the token must verify over exactly
that digest, chaining to the root, and be refused over any other. Prints one line per case;
exits 1 on any failure (or when no line was read).
"""

import os
import sys

from rfc3161_client import VerificationError, VerifierBuilder, decode_timestamp_response

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "court"))
from rfc3161_client_evidence import as_response, load  # noqa: E402


def main():
    out_dir, root_pem, issuing_pem = sys.argv[1:4]
    root, issuing = load(root_pem), load(issuing_pem)
    failures, checked = 0, 0
    for line in sys.stdin:
        n, imprint = line.split()
        with open(os.path.join(out_dir, f"archive-{n}.tst"), "rb") as f:
            response = decode_timestamp_response(as_response(f.read()))
        verifier = (
            VerifierBuilder().add_root_certificate(root).add_intermediate_certificate(issuing).build()
        )
        checked += 1
        try:
            verifier.verify(response, bytes.fromhex(imprint))
            print(f"ok   archive time-stamp {n}: verified, genTime {response.tst_info.gen_time}")
        except VerificationError as e:
            print(f"FAIL archive time-stamp {n}: {e}")
            failures += 1
        try:
            verifier.verify(response, bytes(32))
            print(f"FAIL archive time-stamp {n}: verified for another digest")
            failures += 1
        except VerificationError:
            print(f"ok   archive time-stamp {n}: another digest is refused")
    sys.exit(1 if failures or not checked else 0)


if __name__ == "__main__":
    main()
