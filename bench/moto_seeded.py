#!/usr/bin/env python3
"""moto's S3 server with a bucket already full: case 9's seeding.

Putting a million records through HTTP takes moto hours (~100 puts a
second on 2 cores); put into moto's S3 backend in its own process before
it serves, the same objects take about a minute. This runs moto's server
exactly as `moto_server` does (`moto.server.main`: werkzeug's
`run_simple`, threaded, moto's request handler) after creating the bucket
and putting into it, through the backend's own `put_object`:

- the records `records.record(i)` makes for i in 0..N, under PREFIX (the
  same keys and bytes the HTTP seeding of bench/records.py put), and
- with `--load DIR`, every file under DIR as PREFIX/<its path under DIR>
  (the segments and manifests a `records compact` of a local store wrote).

Then it prints one JSON line to stdout, `{"objects": N, "seconds": S,
"rss_bytes": B, "listing": ...}` (the puts' time, the process's resident
memory after them, and how listings are answered), and serves until
killed.

Listings. moto answers every listing by copying and walking the whole
bucket (`_VersionedKeyStore.items()`, a dict copy of every key) and
sorting what matches: at a million records, ~2 s a listing whatever its
prefix, where S3 answers in time with what it returns. Unless
`--moto-listing` is given, listings are answered from a sorted index of
the bucket's key names (`index_listings`): moto's own `list_objects` runs
unchanged on the keys under the prefix (and after the start key or
continuation token) alone, found by bisection; the index is made again
after any key is added or removed. Before serving, `check_index` compares
the indexed answers with moto's own for listings of the seeded bucket
(prefixes, delimiters, start keys, pages) and exits non-zero on any
difference. Run with the Python that has moto
(.venv/bin/python after `bash tests/install-moto.sh`):

    moto_seeded.py --port P --bucket B --prefix PFX --records N [--load DIR] [--moto-listing]
"""

import argparse
import bisect
import json
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def seed(bucket, prefix, n, load):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    from records import record

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    backend.create_bucket(bucket, "us-east-1")
    objects = 0
    for i in range(n):
        key, body = record(i)
        backend.put_object(bucket, f"{prefix}/{key}", body, disable_notification=True)
        objects += 1
    if load:
        for top, _, files in os.walk(load):
            for name in sorted(files):
                path = os.path.join(top, name)
                rel = os.path.relpath(path, load).replace(os.sep, "/")
                with open(path, "rb") as f:
                    backend.put_object(bucket, f"{prefix}/{rel}", f.read(), disable_notification=True)
                objects += 1
    return objects


# The lower bound (a start key or a continuation token's key) of the
# listing this thread is answering, set by the indexed list_objects_v2.
_BOUND = threading.local()


class _KeysUnder:
    """What moto's `list_objects` reads of a bucket (`bucket.keys.items()`),
    for the keys under `prefix` and after `after` only, in key order."""

    def __init__(self, store, prefix, after):
        self.store, self.prefix, self.after = store, prefix, after

    def items(self):
        names = self.store.fleetform_names()
        i = bisect.bisect_left(names, self.prefix)
        if self.after is not None and self.after >= self.prefix:
            i = bisect.bisect_right(names, self.after)
        while i < len(names) and names[i].startswith(self.prefix):
            value = self.store.get(names[i])
            if value is not None:
                yield names[i], value
            i += 1


class _BucketUnder:
    def __init__(self, keys):
        self.keys = keys


def index_listings():
    """Answers moto's listings from a sorted index of key names (see the
    module's doc); returns moto's own `list_objects`, for `check_index`."""
    from moto.s3.models import FakeTableStorageBucket, S3Backend
    from moto.s3.utils import _VersionedKeyStore

    def names(store):
        found = store.__dict__.get("fleetform_sorted")
        if found is None or store.__dict__.get("fleetform_len") != len(store):
            found = sorted(dict.keys(store))
            store.__dict__["fleetform_sorted"], store.__dict__["fleetform_len"] = found, len(store)
        return found

    def changes(method):
        def changed(store, key, *args, **kwargs):
            new = not dict.__contains__(store, key)
            out = method(store, key, *args, **kwargs)
            if new:
                store.__dict__["fleetform_sorted"] = None
            return out
        return changed

    def removes(method):
        def removed(store, key, *args, **kwargs):
            store.__dict__["fleetform_sorted"] = None
            return method(store, key, *args, **kwargs)
        return removed

    _VersionedKeyStore.fleetform_names = names
    _VersionedKeyStore.__setitem__ = changes(_VersionedKeyStore.__setitem__)
    _VersionedKeyStore.setlist = changes(_VersionedKeyStore.setlist)
    _VersionedKeyStore.pop = removes(_VersionedKeyStore.pop)
    _VersionedKeyStore.__delitem__ = removes(dict.__delitem__)
    own_list, own_v2 = S3Backend.list_objects, S3Backend.list_objects_v2

    def list_objects(self, bucket, prefix, delimiter, marker, max_keys):
        if isinstance(bucket, FakeTableStorageBucket) or not isinstance(bucket.keys, _VersionedKeyStore):
            return own_list(self, bucket, prefix, delimiter, marker, max_keys)
        after = getattr(_BOUND, "after", None)
        if marker:
            after = self._pagination_tokens.get(marker) or marker
        under = _BucketUnder(_KeysUnder(bucket.keys, prefix or "", after))
        return own_list(self, under, prefix, delimiter, marker, max_keys)

    def list_objects_v2(self, bucket, prefix, delimiter, continuation_token, start_after, max_keys):
        _BOUND.after = self._pagination_tokens.get(continuation_token) if continuation_token else start_after
        try:
            return own_v2(self, bucket, prefix, delimiter, continuation_token, start_after, max_keys)
        finally:
            _BOUND.after = None

    S3Backend.list_objects, S3Backend.list_objects_v2 = list_objects, list_objects_v2
    return own_list, own_v2


def check_index(bucket_name, prefix, own):
    """The indexed listings of the seeded bucket against moto's own: every
    key and folder of each, in order, and the pages' truncation. Exits
    non-zero on the first difference; returns how many were compared."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import S3Backend, s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    bucket = backend.get_bucket(bucket_name)
    names = sorted(dict.keys(bucket.keys))
    middle = names[len(names) // 2] if names else "m"
    own_list, own_v2 = own

    def shown(answer):
        keys, truncated, token = answer
        return [k.name if hasattr(k, "name") else k for k in keys], truncated, token

    def pages(listing, p, d, s, m):
        """The first two pages (the second through the first's token)."""
        first = shown(listing(backend, bucket, p, d, None, s, m))
        second = shown(listing(backend, bucket, p, d, first[2], None, m)) if first[2] else None
        return [first[:2], second and second[:2]]

    # Each of moto's own answers walks the whole bucket (~2 s at a million
    # keys): 20 listings, 5 of them two pages.
    cases = [(p, d, s, m) for p in ("", f"{prefix}/audit/", f"{prefix}/audit/2026/11/05", f"{prefix}/segments/",
                                    "absent/")
             for d, s, m in ((None, None, 1000), ("/", None, 2), (None, middle, 1000), (None, None, 7))]
    for p, d, s, m in cases:
        ours = pages(S3Backend.list_objects_v2, p, d, s, m)
        indexed, S3Backend.list_objects = S3Backend.list_objects, own_list
        try:
            theirs = pages(own_v2, p, d, s, m)
        finally:
            S3Backend.list_objects = indexed
        if ours != theirs:
            sys.exit(f"moto_seeded.py: the indexed listing of prefix {p!r} (delimiter {d!r}, start after "
                     f"{s!r}, {m} keys a page) differs from moto's own: {str(ours)[:300]} vs {str(theirs)[:300]}")
    return len(cases)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--records", type=int, default=0)
    ap.add_argument("--load")
    ap.add_argument("--moto-listing", action="store_true",
                    help="answer listings as moto does (walking the whole bucket), not from the index")
    a = ap.parse_args()
    os.environ.setdefault("MOTO_PORT", str(a.port))
    from moto.moto_server.werkzeug_app import (DomainDispatcherApplication, MotoRequestHandler,
                                               create_backend_app)
    from werkzeug.serving import run_simple

    t0 = time.perf_counter()
    objects = seed(a.bucket, a.prefix.rstrip("/"), a.records, a.load)
    seconds = time.perf_counter() - t0
    listing = "moto's own"
    if not a.moto_listing:
        own = index_listings()
        checked = check_index(a.bucket, a.prefix.rstrip("/"), own)
        listing = f"indexed, checked against moto's own on {checked} listings"
    print(json.dumps({"objects": objects, "seconds": seconds, "rss_bytes": rss_bytes(),
                      "listing": listing}), flush=True)
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True
    run_simple("127.0.0.1", a.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
