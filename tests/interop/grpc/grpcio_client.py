#!/usr/bin/env python3
"""Sealpost gRPC client made with Python grpcio, for the end-to-end tests.

A real third-party gRPC stack talking to `sealpost serve`: the stubs are
compiled from proto/sealpost.proto with grpcio-tools when the client starts,
the connection is mutual TLS (the sender's certificate chain and key, the
server verified against --ca only), and a submission's Manifest is serialized,
then signed with the same key by the `cryptography` package: ECDSA P-256 with
SHA-256 (DER) or RSA PKCS#1 v1.5 with SHA-256, chosen from the key type.

Usage (global options first, then the command):

  grpcio_client.py --target HOST:PORT --ca ROOT.pem [--cert CHAIN.pem --key KEY.pem]
                   [--server-name NAME] COMMAND ...

  COMMAND:
    submit --recipient ID --type TYPE --subject S --reference R
           --key-idempotency K --document FILE [--document FILE ...]
           [--declared-sha256 HEX ...] [--signed-at UNIX] [--sign-with KEY.pem]
           [--tamper] --out EVIDENCE.xml
    get-evidence --message-id ID --out-dir DIR
    status --message-id ID

Output: one JSON line on stdout.
  submit        {"message_id": ..., "evidence": PATH}                  exit 0
  get-evidence  {"message_id": ..., "evidences": [PATH, ...]}          exit 0
  status        {"message_id", "status", "recipient", "submitted_at",
                 "evidences"}                                           exit 0
  refusal       {"status": gRPC status name, "message": details,
                 "code": sealpost-code trailer,
                 "correlation_id": sealpost-correlation-id trailer,
                 "message_id": sealpost-message-id trailer or null}     exit 3
  other errors: message on stderr, exit 1; bad usage: exit 2.

Negative-test aids: --declared-sha256 replaces the Nth document's declared
digest; --signed-at sets the manifest's signing time; --sign-with signs the
manifest with another key than the TLS one; --tamper changes the manifest
after it is signed.
"""

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time

import grpc
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "..", "proto"))


def load_stubs():
    out = tempfile.mkdtemp(prefix="sealpost-grpc-stubs-")
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    rc = protoc.main([
        "grpc_tools.protoc",
        f"-I{PROTO_DIR}",
        f"-I{include}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        os.path.join(PROTO_DIR, "sealpost.proto"),
    ])
    if rc != 0:
        raise RuntimeError(f"protoc failed on sealpost.proto ({rc})")
    sys.path.insert(0, out)
    import sealpost_pb2  # noqa: E402
    import sealpost_pb2_grpc  # noqa: E402
    return sealpost_pb2, sealpost_pb2_grpc


def sign(key_pem, data):
    key = serialization.load_pem_private_key(key_pem, password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    raise ValueError("unsupported key type")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--server-name", default="localhost")
    parser.add_argument("--timeout", type=float, default=60.0)
    commands = parser.add_subparsers(dest="command", required=True)
    submit = commands.add_parser("submit")
    submit.add_argument("--recipient", required=True)
    submit.add_argument("--type", required=True)
    submit.add_argument("--subject", required=True)
    submit.add_argument("--reference", required=True)
    submit.add_argument("--key-idempotency", required=True)
    submit.add_argument("--document", action="append", required=True)
    submit.add_argument("--declared-sha256", action="append", default=[])
    submit.add_argument("--signed-at", type=int)
    submit.add_argument("--sign-with")
    submit.add_argument("--tamper", action="store_true")
    submit.add_argument("--out", required=True)
    get = commands.add_parser("get-evidence")
    get.add_argument("--message-id", required=True)
    get.add_argument("--out-dir", required=True)
    status = commands.add_parser("status")
    status.add_argument("--message-id", required=True)
    args = parser.parse_args()

    pb, pb_grpc = load_stubs()
    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(args.ca),
        private_key=read(args.key) if args.key else None,
        certificate_chain=read(args.cert) if args.cert else None,
    )
    channel = grpc.secure_channel(
        args.target,
        credentials,
        options=[
            ("grpc.ssl_target_name_override", args.server_name),
            ("grpc.max_send_message_length", 200 * 1024 * 1024),
            ("grpc.max_receive_message_length", 200 * 1024 * 1024),
        ],
    )
    stub = pb_grpc.RegisteredMailStub(channel)
    try:
        if args.command == "submit":
            documents, contents = [], []
            for i, path in enumerate(args.document):
                content = read(path)
                declared = hashlib.sha256(content).hexdigest()
                if i < len(args.declared_sha256):
                    declared = args.declared_sha256[i]
                media = "application/pdf" if path.endswith(".pdf") else "application/octet-stream"
                doc_id = f"d{i + 1}"
                documents.append(pb.DocumentDigest(
                    id=doc_id, name=os.path.basename(path), media_type=media, sha256=declared))
                contents.append(pb.DocumentContent(id=doc_id, content=content))
            manifest = pb.Manifest(
                idempotency_key=args.key_idempotency,
                recipient=args.recipient,
                message_type=args.type,
                subject=args.subject,
                sender_reference=args.reference,
                documents=documents,
                signed_at=args.signed_at if args.signed_at is not None else int(time.time()),
            ).SerializeToString()
            signature = sign(read(args.sign_with or args.key), manifest)
            if args.tamper:
                changed = pb.Manifest()
                changed.ParseFromString(manifest)
                changed.subject = changed.subject + " (changed)"
                manifest = changed.SerializeToString()
            reply = stub.SubmitRegisteredMail(
                pb.SubmitRegisteredMailRequest(
                    manifest=manifest, signature=signature, documents=contents),
                timeout=args.timeout,
            )
            with open(args.out, "wb") as f:
                f.write(reply.evidence)
            print(json.dumps({"message_id": reply.message_id, "evidence": args.out}))
        elif args.command == "get-evidence":
            reply = stub.GetEvidence(
                pb.GetEvidenceRequest(message_id=args.message_id), timeout=args.timeout)
            os.makedirs(args.out_dir, exist_ok=True)
            paths = []
            for i, evidence in enumerate(reply.evidences):
                path = os.path.join(args.out_dir, f"evidence-{i + 1}.xml")
                with open(path, "wb") as f:
                    f.write(evidence)
                paths.append(path)
            print(json.dumps({"message_id": args.message_id, "evidences": paths}))
        else:
            reply = stub.GetMessageStatus(
                pb.GetMessageStatusRequest(message_id=args.message_id), timeout=args.timeout)
            print(json.dumps({
                "message_id": reply.message_id,
                "status": reply.state,
                "recipient": reply.recipient,
                "submitted_at": reply.submitted_at,
                "evidences": reply.evidences,
            }))
    except grpc.RpcError as e:
        trailers = dict(e.trailing_metadata() or ())
        print(json.dumps({
            "status": e.code().name,
            "message": e.details(),
            "code": trailers.get("sealpost-code"),
            "correlation_id": trailers.get("sealpost-correlation-id"),
            "message_id": trailers.get("sealpost-message-id"),
        }))
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
