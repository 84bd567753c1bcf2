#!/usr/bin/env python3
"""verify_chain.py -- check an export of evlog's hash chain, independently of
PostgreSQL and of evlog's C code.  Python 3 standard library only.

Export (JSON lines, in seq order):

    PGCLIENTENCODING=UTF8 psql -XAt \\
        -c 'SELECT line FROM evlog.chain_export ORDER BY seq, anchor DESC' > export.jsonl

Verify:

    python3 verify_chain.py export.jsonl                    # or - for stdin
    python3 verify_chain.py --head SEQ:HEX export.jsonl     # also prove a noted head

Exit status 0 when every line chains correctly ("ok ..." on stdout), 1 at
the first bad seq ("bad seq N: reason" on stdout), 2 on usage errors.

Format (version 1), for re-implementing this in any language:

    hash(n) = SHA-256(hash(p) || enc(n))

p is the previous existing event (the line's prev_seq); hash(p) is 32 zero
bytes for the first event ever sealed (prev_seq null), else the previous
line's hash, or an anchor line's ({"anchor_seq": p, "hash": ...}) when the
prefix up to p was pruned.  enc(n) concatenates:

    seq         int64 big-endian
    ts          int64 big-endian, microseconds since 1970-01-01T00:00:00Z
    kind, host_id, rollout_id, payload, event_id
                each: uint32 big-endian byte length + UTF-8 bytes;
                null is the length 0xFFFFFFFF and no bytes

payload is the string exactly as exported (jsonb's canonical text, i.e.
PostgreSQL's payload::text); ts is exported as YYYY-MM-DDTHH:MM:SS.ffffffZ.
"""

import argparse
import datetime
import hashlib
import json
import struct
import sys

GENESIS = bytes(32)
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
NULL_LENGTH = 0xFFFFFFFF


def ts_micros(ts):
    """Microseconds since the Unix epoch of YYYY-MM-DDTHH:MM:SS.ffffffZ."""
    dt = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")
    dt = dt.replace(tzinfo=datetime.timezone.utc)
    return (dt - EPOCH) // datetime.timedelta(microseconds=1)


def enc_string(s):
    if s is None:
        return struct.pack(">I", NULL_LENGTH)
    b = s.encode("utf-8")
    return struct.pack(">I", len(b)) + b


def encode_event(ev):
    return (struct.pack(">qq", ev["seq"], ts_micros(ev["ts"]))
            + enc_string(ev["kind"]) + enc_string(ev["host_id"])
            + enc_string(ev["rollout_id"]) + enc_string(ev["payload"])
            + enc_string(ev["event_id"]))


class Bad(Exception):
    def __init__(self, seq, reason):
        super().__init__(reason)
        self.seq = seq
        self.reason = reason


def verify(lines):
    """Check every line; return (events, head_seq, head_hash) or raise Bad."""
    anchors = {}
    prev_seq, prev_hash = None, None     # None: nothing checked yet
    events = 0
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise Bad(None, "line %d is not JSON: %s" % (lineno, e))
        if "anchor_seq" in obj:
            if prev_seq is not None:
                raise Bad(obj["anchor_seq"], "anchor after the first event")
            anchors[obj["anchor_seq"]] = bytes.fromhex(obj["hash"])
            continue
        seq = obj.get("seq")
        if obj.get("hash") is None:
            raise Bad(seq, "event row is not in the chain")
        if obj.get("kind") is None or obj.get("ts") is None or obj.get("payload") is None:
            raise Bad(seq, "event row is missing")
        if prev_seq is None:
            # the first event: genesis, or an anchor for a pruned prefix
            if obj["prev_seq"] is None:
                prev = GENESIS
            elif obj["prev_seq"] in anchors:
                prev = anchors[obj["prev_seq"]]
            else:
                raise Bad(seq, "no anchor for the recorded predecessor seq %s"
                          % obj["prev_seq"])
        else:
            if seq is None or seq <= prev_seq:
                raise Bad(seq, "seq does not increase (previous %d)" % prev_seq)
            if obj["prev_seq"] != prev_seq:
                raise Bad(seq, "link records predecessor seq %s but the previous link is seq %d"
                          % (obj["prev_seq"], prev_seq))
            prev = prev_hash
        try:
            computed = hashlib.sha256(prev + encode_event(obj)).digest()
        except (KeyError, TypeError, ValueError, struct.error) as e:
            raise Bad(seq, "cannot encode the event: %s" % e)
        stored = bytes.fromhex(obj["hash"])
        if computed != stored:
            raise Bad(seq, "event does not match its chain hash (expected %s, found %s)"
                      % (stored.hex(), computed.hex()))
        prev_seq, prev_hash = seq, stored
        events += 1
    return events, prev_seq, prev_hash


def main():
    ap = argparse.ArgumentParser(description="Verify an export of evlog's hash chain.")
    ap.add_argument("export", help="JSON-lines export, or - for stdin")
    ap.add_argument("--head", metavar="SEQ:HEX",
                    help="a head noted earlier (evlog_chain_head()): the export must contain it")
    args = ap.parse_args()

    f = sys.stdin if args.export == "-" else open(args.export, encoding="utf-8")
    try:
        # keep the hashes of every line so a noted head can be checked too
        seen = {}

        def remember(lines):
            for line in lines:
                if args.head and line.strip():
                    try:
                        obj = json.loads(line)
                        if obj.get("seq") is not None and obj.get("hash"):
                            seen[obj["seq"]] = obj["hash"]
                    except ValueError:
                        pass
                yield line

        events, head_seq, head_hash = verify(remember(f))
    except Bad as bad:
        print("bad seq %s: %s" % (bad.seq, bad.reason))
        return 1
    finally:
        if f is not sys.stdin:
            f.close()

    if args.head:
        try:
            seq_s, hex_s = args.head.split(":", 1)
            noted_seq, noted_hash = int(seq_s), hex_s.lower()
        except ValueError:
            print("--head must be SEQ:HEX", file=sys.stderr)
            return 2
        if seen.get(noted_seq) != noted_hash:
            print("bad seq %d: noted head hash %s, export has %s"
                  % (noted_seq, noted_hash, seen.get(noted_seq)))
            return 1
    if events == 0:
        print("ok: empty export")
    else:
        print("ok: %d events, head seq %d hash %s" % (events, head_seq, head_hash.hex()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
