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
"rss_bytes": B}` (the puts' time and the process's resident memory after
them), and serves until killed. Run with the Python that has moto
(.venv/bin/python after `bash tests/install-moto.sh`):

    moto_seeded.py --port P --bucket B --prefix PFX --records N [--load DIR]
"""

import argparse
import json
import os
import sys
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--records", type=int, default=0)
    ap.add_argument("--load")
    a = ap.parse_args()
    os.environ.setdefault("MOTO_PORT", str(a.port))
    from moto.moto_server.werkzeug_app import (DomainDispatcherApplication, MotoRequestHandler,
                                               create_backend_app)
    from werkzeug.serving import run_simple

    t0 = time.perf_counter()
    objects = seed(a.bucket, a.prefix.rstrip("/"), a.records, a.load)
    seconds = time.perf_counter() - t0
    print(json.dumps({"objects": objects, "seconds": seconds, "rss_bytes": rss_bytes()}), flush=True)
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True
    run_simple("127.0.0.1", a.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
