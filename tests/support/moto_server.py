"""moto's S3 server with one request handled at a time.

`moto_server` (moto 5.2.5) serves each request on its own thread, and its
conditional writes check, then write, with no lock between the two: two
`PUT`s with `If-None-Match: *` to one key can both succeed (two writers
then both hold Terraform's `.tflock`, which real S3 never allows). This
runs the same server, the same arguments, with requests serialised by one
lock, so a conditional write is atomic as it is on S3. Connections are
still accepted on many threads; the handling of a request, from reading
its body to the whole response body, is under the lock.

`MOTO_TEST_WRITE_DELAY_MS` (tests of this server only) makes every object
write wait that long between moto's precondition check and the write: the
window two writers race through, held open, so a test can show the lock
closes it (tests/fleet/concurrency.rs).

Run by tests/support/moto.rs with .venv's python:
`python tests/support/moto_server.py -H 127.0.0.1 -p PORT`.
"""

import os
import sys
import threading
import time

import moto.s3.models
import moto.server

_run_simple = moto.server.run_simple


def _serialised(app):
    lock = threading.Lock()

    def handle(environ, start_response):
        with lock:
            # The whole body inside the lock: a lazy body would otherwise
            # run the handler's remaining work outside it. A WSGI server
            # closes the body it was given, so this does for moto's.
            body = app(environ, start_response)
            try:
                return list(body)
            finally:
                if hasattr(body, "close"):
                    body.close()

    return handle


def _run_simple_serialised(host, port, app, **options):
    return _run_simple(host, port, _serialised(app), **options)


def _delay_writes(ms):
    put_object = moto.s3.models.S3Backend.put_object

    def delayed(self, *args, **kwargs):
        time.sleep(ms / 1000)
        return put_object(self, *args, **kwargs)

    moto.s3.models.S3Backend.put_object = delayed


if __name__ == "__main__":
    delay = os.environ.get("MOTO_TEST_WRITE_DELAY_MS")
    if delay:
        _delay_writes(int(delay))
    moto.server.run_simple = _run_simple_serialised
    moto.server.main(sys.argv[1:])
