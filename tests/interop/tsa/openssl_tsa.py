#!/usr/bin/env python3
"""An RFC 3161 TSA over HTTP made of `openssl ts -reply` and Python's standard library: a
time-stamping service nobody here wrote, for the service's remote-TSA tests.

    openssl_tsa.py --cert UNIT.pem --key UNIT.key --chain CA.pem --dir STATE_DIR

Listens on 127.0.0.1 (a free port), says `listening address=127.0.0.1:PORT` on stderr, and
answers each POSTed `application/timestamp-query` with openssl's `application/timestamp-reply`.
"""

import argparse
import http.server
import os
import subprocess
import sys
import tempfile
import threading

CONFIG = """\
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
serial = {serial}
crypto_device = builtin
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1.2
other_policies = 1.3.6.1.4.1.99999.1.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--chain", required=True)
    parser.add_argument("--dir", required=True)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    serial = os.path.join(args.dir, "serial")
    if not os.path.exists(serial):
        with open(serial, "w") as f:
            f.write("01\n")
    config = os.path.join(args.dir, "tsa.cnf")
    with open(config, "w") as f:
        f.write(CONFIG.format(serial=serial))
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            query = self.rfile.read(length)
            with tempfile.TemporaryDirectory(dir=args.dir) as work, lock:
                q = os.path.join(work, "q.tsq")
                r = os.path.join(work, "r.tsr")
                with open(q, "wb") as f:
                    f.write(query)
                done = subprocess.run(
                    ["openssl", "ts", "-reply", "-config", config, "-queryfile", q,
                     "-signer", args.cert, "-inkey", args.key, "-chain", args.chain,
                     "-out", r],
                    capture_output=True)
                if done.returncode != 0:
                    self.send_error(500, done.stderr.decode(errors="replace")[:200])
                    return
                with open(r, "rb") as f:
                    reply = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, fmt, *values):
            sys.stderr.write("openssl-tsa: " + (fmt % values) + "\n")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host, port = server.server_address[:2]
    sys.stderr.write(f"openssl ts -reply listening address={host}:{port}\n")
    sys.stderr.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
