#!/usr/bin/env python3
"""tools/ledger_hash.py: an independent, stdlib-only reimplementation of the ledger's hash chain
(src/ledger/chain.c), checkpoint message and Ed25519 check (src/ledger/checkpoint.c) and verify
rules (src/ledger/verify.c), so tests can recompute a chain without trusting our C code.

Byte layouts (all integers big-endian, str = u32 length || bytes), from src/ledger/ledger.h:
  entry hash = SHA-256(b"openlora-ledger-entry-v1\\0" || u64 seq || i64 time_ns || str kind ||
                       str key_id || u8 has_request_id || [str request_id] || str body || prev[32])
  checkpoint message = b"openlora-ledger-checkpoint-v1\\0" || u64 size || head[32] || i64 time_ns

Usage: ledger_hash.py verify LEDGER.sqlite [CHECKPOINT_DIR [KEY.pub ...]]
Prints "ok" or "bad SEQ: PROBLEM" (or "bad checkpoint FILE: ...") and exits 0 / 1.
"""
import base64
import glob
import hashlib
import json
import os
import sqlite3
import struct
import sys

ENTRY_DOMAIN = b"openlora-ledger-entry-v1\0"
CHECKPOINT_DOMAIN = b"openlora-ledger-checkpoint-v1\0"
ZERO_HASH = bytes(32)


def _bytes(s):
    return s.encode("utf-8") if isinstance(s, str) else bytes(s)


def _str(s):
    b = _bytes(s)
    return struct.pack(">I", len(b)) + b


def entry_message(seq, time_ns, kind, key_id, request_id, body, prev):
    m = ENTRY_DOMAIN + struct.pack(">Qq", seq, time_ns) + _str(kind) + _str(key_id)
    m += b"\1" + _str(request_id) if request_id is not None else b"\0"
    return m + _str(body) + bytes(prev)


def entry_hash(seq, time_ns, kind, key_id, request_id, body, prev):
    return hashlib.sha256(entry_message(seq, time_ns, kind, key_id, request_id, body, prev)).digest()


def checkpoint_message(size, head, time_ns):
    return CHECKPOINT_DOMAIN + struct.pack(">Q", size) + bytes(head) + struct.pack(">q", time_ns)


# ---- Ed25519 verification (RFC 8032 section 5.1.7, after its reference code) ----------------
_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    A, B = (y1 - x1) * (y2 - x2) % _P, (y1 + x1) * (y2 + x2) % _P
    C, Dd = t1 * 2 * _D * t2 % _P, z1 * 2 * z2 % _P
    E, F, G, H = B - A, Dd - C, Dd + C, B + A
    return (E * F % _P, G * H % _P, F * G % _P, E * H % _P)


def _mul(s, p):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, p)
        p = _add(p, p)
        s >>= 1
    return q


def _equal(a, b):
    x1, y1, z1, _ = a
    x2, y2, z2, _ = b
    return (x1 * z2 - x2 * z1) % _P == 0 and (y1 * z2 - y2 * z1) % _P == 0


def _recover_x(y, sign):
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P)
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    return _P - x if (x & 1) != sign else x


def _decompress(s):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % _P)


_G = (lambda y: (_recover_x(y, 0), y, 1, _recover_x(y, 0) * y % _P))(4 * pow(5, _P - 2, _P) % _P)


def ed25519_verify(public, msg, signature):
    if len(public) != 32 or len(signature) != 64:
        return False
    A, R = _decompress(public), _decompress(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if A is None or R is None or s >= _L:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + msg).digest(), "little") % _L
    return _equal(_mul(s, _G), _add(R, _mul(h, A)))


def pem_public_key(pem_text):
    """The raw 32-byte key of an Ed25519 PEM public key (SubjectPublicKeyInfo)."""
    body = "".join(l for l in pem_text.splitlines() if l and not l.startswith("-----"))
    der = base64.b64decode(body)
    prefix = bytes.fromhex("302a300506032b6570032100")
    if len(der) != 44 or not der.startswith(prefix):
        raise ValueError("not an Ed25519 public key")
    return der[12:]


# ---- checkpoints and chain verification -----------------------------------------------------
def read_checkpoint(path):
    """(size, head, time_ns, public_key, signature) from a checkpoint JSON file."""
    with open(path) as f:
        o = json.load(f)
    if o.get("version") != 1:
        raise ValueError("version is not 1")
    return (o["size"], bytes.fromhex(o["head"]), o["time_ns"], bytes.fromhex(o["public_key"]),
            bytes.fromhex(o["signature"]))


def checkpoint_valid(cp, trusted_pubs):
    size, head, time_ns, pub, sig = cp
    return pub in trusted_pubs and ed25519_verify(pub, checkpoint_message(size, head, time_ns), sig)


def verify_chain(rows, checkpoints=()):
    """rows: (seq, time_ns, kind, key_id, request_id, body, prev_hash, hash) in seq order (the
    SQLite store's column order). checkpoints: (size, head) pairs already authenticated.
    Returns (0, None) or (bad_seq, problem), the lowest faulty seq, with the C verifier's rules."""
    bad = []
    heads = {}
    for size, head in checkpoints:
        heads.setdefault(size, []).append(bytes(head))
    last_seq, last_hash = 0, ZERO_HASH
    for seq, time_ns, kind, key_id, request_id, body, prev, h in rows:
        prev, h = bytes(prev), bytes(h)
        if seq > last_seq + 1:
            bad.append((last_seq + 1, "missing (deleted)"))
        elif seq < last_seq + 1:
            bad.append((seq, "out of order"))
        elif prev != last_hash:
            bad.append((seq, "does not link to seq %d" % last_seq))
        elif entry_hash(seq, time_ns, kind, key_id, request_id, body, prev) != h:
            bad.append((seq, "contents do not match its hash"))
        for head in heads.get(seq, []):
            if head != h:
                bad.append((seq, "differs from a signed checkpoint"))
        last_seq, last_hash = seq, h
    if any(size == 0 and head != ZERO_HASH for size, head in checkpoints):
        bad.append((1, "checkpoint of an empty ledger with a non-zero head"))
    if any(size > last_seq for size, _ in checkpoints):
        bad.append((last_seq + 1, "truncated"))
    return min(bad, key=lambda b: b[0]) if bad else (0, None)


def main(argv):
    if len(argv) < 2 or argv[0] != "verify":
        print(next(l for l in __doc__.splitlines() if l.startswith("Usage")), file=sys.stderr)
        return 2
    db = sqlite3.connect("file:%s?mode=ro" % argv[1], uri=True)
    rows = db.execute("SELECT seq, time_ns, kind, key_id, request_id, body, prev_hash, hash"
                      " FROM ledger ORDER BY seq")
    cps = []
    if len(argv) > 2 and os.path.isdir(argv[2]):
        pubs = [pem_public_key(open(p).read()) for p in argv[3:]]
        for path in sorted(glob.glob(os.path.join(argv[2], "checkpoint-*.json"))):
            try:
                cp = read_checkpoint(path)
            except (OSError, ValueError, KeyError, TypeError) as e:
                print("bad checkpoint %s: malformed (%s)" % (path, e))
                return 1
            if not checkpoint_valid(cp, pubs):
                print("bad checkpoint %s: untrusted or forged" % path)
                return 1
            cps.append((cp[0], cp[1]))
    seq, problem = verify_chain(rows, cps)
    if seq:
        print("bad %d: %s" % (seq, problem))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
