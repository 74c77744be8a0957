#!/usr/bin/env python3
"""A court's check of a Sealpost audit export (sealpost-audit-export-1, docs/audit-export.md)
with standard tools only: Python's standard library for the entries, openssl for the seals.
The same checks as `sealpost-verify --audit-export`, written from the documentation, not from
Sealpost's code. Prints each step; exits 0 when every step holds, 1 at the first that does not,
2 when the head is not sealed (nothing attests the entries).

    audit-export-by-hand.py EXPORT.jsonl ROOT.pem ISSUING-CA.pem TRUSTED-LIST.xml
"""

import base64
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

FORMAT = "sealpost-audit-export-1"
GENESIS = "0" * 64
TAG = b"sealpost-audit-entry-1"
# The fields of the canonical encoding, in order (docs/architecture.md).
ENCODED = ["seq", "prev_hash", "time", "correlation_id", "channel", "operation", "identity",
           "outcome", "code", "kind", "detail", "message_id", "request_sha256"]
ENTRY = set(ENCODED) | {"hash", "request_base64"}
TSA_SERVICE = "http://uri.etsi.org/TrstSvc/Svctype/TSA/QTST"
TL = "{urn:sealpost:trusted-list:1}"
TOLERANCE = 300  # seconds beyond the token's accuracy, as sealpost-verify


def fail(line, why):
    print(f"FAIL: line {line}: {why}")
    sys.exit(1)


def no_twice(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("a key twice")
    return dict(pairs)


def canonical_encoding(entry):
    out = TAG
    for field in ENCODED:
        value = entry[field]
        if value is None:
            out += struct.pack(">Q", 2**64 - 1)
        else:
            data = str(value).encode("utf-8")
            out += struct.pack(">Q", len(data)) + data
    return out


def gentime(text):
    """The token's genTime plus its accuracy (Unix seconds), from `openssl ts -reply -text`."""
    fields = dict(l.split(": ", 1) for l in text.splitlines() if ": " in l)
    stamped = " ".join(fields["Time stamp"].split())
    when = datetime.strptime(stamped, "%b %d %H:%M:%S %Y GMT").replace(tzinfo=timezone.utc)
    accuracy = fields.get("Accuracy", "")
    seconds = int(accuracy.split()[0], 16) if accuracy.startswith("0x") else 0
    return int(when.timestamp()) + seconds


def published_tsa_fingerprints(trusted_list):
    root = ET.parse(trusted_list).getroot()
    found = set()
    for service in root.iter(TL + "TSPService"):
        if service.findtext(TL + "ServiceTypeIdentifier") == TSA_SERVICE:
            for cert in service.iter(TL + "X509Certificate"):
                found.add(hashlib.sha256(base64.b64decode(cert.text.strip())).hexdigest())
    return found


def main(export, root, issuing, trusted_list):
    with open(export, "rb") as f:
        lines = f.read().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    parsed = []
    for n, raw in enumerate(lines, 1):
        try:
            parsed.append(json.loads(raw.decode("utf-8"), object_pairs_hook=no_twice))
        except ValueError as e:
            fail(n, f"not one JSON object: {e}")
    if not parsed or parsed[0].get("format") != FORMAT:
        fail(1, f"not a {FORMAT} export")
    header = parsed[0]
    anchor = header["anchor"]
    if anchor is None or header["from_seq"] != anchor["seq"] + 1:
        fail(1, "the anchor is not the entry before from_seq")
    if anchor["seq"] == 0 and anchor["hash"] != GENESIS:
        fail(1, "an anchor at 0 must be the genesis hash")
    # Steps 1-3: every entry re-derived and linked to the one before, from the anchor.
    prev_seq, prev_hash, n = anchor["seq"], anchor["hash"], 1
    hashes, times = {}, {}
    for entry in parsed[1:]:
        if "seq" not in entry:
            break
        n += 1
        if set(entry) != ENTRY:
            fail(n, "an entry of another form")
        if entry["seq"] != prev_seq + 1 or entry["prev_hash"] != prev_hash:
            fail(n, f"entry {entry['seq']} does not follow entry {prev_seq}")
        if hashlib.sha256(canonical_encoding(entry)).hexdigest() != entry["hash"]:
            fail(n, f"entry {entry['seq']}: its hash is not that of its canonical encoding")
        request = base64.b64decode(entry["request_base64"], validate=True)
        if hashlib.sha256(request).hexdigest() != entry["request_sha256"]:
            fail(n, f"entry {entry['seq']}: the request is not the one it names")
        prev_seq, prev_hash = entry["seq"], entry["hash"]
        hashes[prev_seq] = prev_hash
        times[prev_seq] = max(entry["time"], times.get(prev_seq - 1, 0))
    if prev_seq != header["to_seq"]:
        fail(n + 1, f"the entries stop at {prev_seq}, before to_seq {header['to_seq']}")
    print(f"ok: entries {header['from_seq']} to {prev_seq} re-derived and linked from entry {anchor['seq']}")
    # Step 4: the trailer.
    end = parsed[-1].get("end")
    if end is None or (end["entries"], end["head_seq"], end["head_hash"]) != (
            prev_seq - anchor["seq"], prev_seq, prev_hash):
        fail(len(parsed), "no trailer, or not the one of these entries")
    print("ok: the trailer names the head")
    # Steps 5-8: each seal over its entry's hash, a valid token by the published unit.
    published = published_tsa_fingerprints(trusted_list)
    sealed_head = False
    last = None
    with tempfile.TemporaryDirectory() as work:
        token_file, signer = os.path.join(work, "seal.tst"), os.path.join(work, "signer.pem")
        for line, item in enumerate(parsed[n:-1], n + 1):
            seal = item.get("seal")
            if seal is None or set(item) != {"seal"}:
                fail(line, "not a seal line")
            seq = seal["seq"]
            if last is not None and seq <= last:
                fail(line, "seals out of order")
            last = seq
            if hashes.get(seq) != seal["hash"]:
                fail(line, f"the seal of entry {seq} does not name its hash")
            with open(token_file, "wb") as f:
                f.write(base64.b64decode(seal["token_base64"], validate=True))
            verified = subprocess.run(
                ["openssl", "ts", "-verify", "-token_in", "-in", token_file, "-digest",
                 seal["hash"], "-CAfile", root, "-untrusted", issuing],
                capture_output=True, text=True)
            if verified.returncode != 0 or "Verification: OK" not in verified.stdout:
                fail(line, f"the seal of entry {seq}: openssl ts -verify: {verified.stderr.strip()}")
            subprocess.run(["openssl", "cms", "-verify", "-inform", "DER", "-in", token_file,
                            "-noverify", "-signer", signer, "-out", os.devnull],
                           check=True, capture_output=True)
            der = subprocess.run(["openssl", "x509", "-in", signer, "-outform", "DER"],
                                 check=True, capture_output=True).stdout
            if hashlib.sha256(der).hexdigest() not in published:
                fail(line, f"the seal of entry {seq} is not by a published time-stamping unit")
            text = subprocess.run(["openssl", "ts", "-reply", "-token_in", "-in", token_file,
                                   "-text"], check=True, capture_output=True, text=True).stdout
            gen_time = gentime(text)
            if times[seq] > gen_time + TOLERANCE:
                fail(line, f"an entry up to {seq} states a time after the seal's time-stamp")
            print(f"ok: entry {seq} sealed by the published unit at {gen_time} (Unix seconds)")
            sealed_head = sealed_head or seq == prev_seq
    if not sealed_head:
        print(f"INDETERMINATE: the head, entry {prev_seq}, is not sealed")
        sys.exit(2)
    print("VALID")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
