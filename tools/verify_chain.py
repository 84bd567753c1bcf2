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
                (proleptic Gregorian calendar), modulo 2^64 two's complement
                (it wraps only past 294247 AD)
    kind, host_id, rollout_id, payload, event_id
                each: uint32 big-endian byte length + UTF-8 bytes;
                null is the length 0xFFFFFFFF and no bytes

payload is the string exactly as exported (jsonb's canonical text, i.e.
PostgreSQL's payload::text); ts is exported as YYYY-MM-DDTHH:MM:SS.ffffffZ
for the years 1 to 9999, and otherwise with an ISO 8601 expanded year, sign
and at least six digits, astronomical numbering (+000000 is 1 BC, -004712 is
4713 BC): -004712-01-01T00:00:00.000000Z, +294276-12-31T23:59:59.999999Z.
"""

import argparse
import hashlib
import json
import re
import struct
import sys

GENESIS = bytes(32)
NULL_LENGTH = 0xFFFFFFFF
TS_RE = re.compile(r"([+-][0-9]{6,}|[0-9]{4})-([0-9]{2})-([0-9]{2})"
                   r"T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{6})Z")


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date, any year
    (astronomical numbering); datetime stops at years 1 and 9999."""
    y -= m <= 2
    era = y // 400                      # floor division: negative years too
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def ts_micros(ts):
    """The chain's ts: microseconds since the Unix epoch of an exported ts,
    as int64 (two's complement, modulo 2^64)."""
    m = TS_RE.fullmatch(ts)
    if m is None:
        raise ValueError("ts %r is not YYYY-MM-DDTHH:MM:SS.ffffffZ" % ts)
    y, mo, d, h, mi, s, us = (int(g) for g in m.groups())
    micros = (((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + s) * 1000000 + us
    return (micros + 2**63) % 2**64 - 2**63


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
