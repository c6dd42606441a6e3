"""mprof serve's answers that need no profiling process: the index, the
symbol endpoint go tool pprof asks, and the status of each bad request,
as net/http/pprof would give it."""

import errno
import os
import threading
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer

import pytest

from mproflib import profile, serve


@pytest.fixture(scope="module")
def base():
    server = ThreadingHTTPServer(("127.0.0.1", 0), serve.Handler)
    server.daemon_threads = True
    server.verbose = False
    server.turns = threading.BoundedSemaphore(serve.DUMPS_AT_ONCE)
    server.waiting = threading.BoundedSemaphore(serve.MAX_WAITING)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/debug/pprof"
    server.shutdown()
    server.server_close()


def status(url, data=None, method=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(
                url, data=data, method=method), timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_index_and_symbol(base):
    code, body = status(base + "/")
    assert code == 200 and b"Processes that profile their heap" in body
    assert status(base + "/symbol") == (200, b"num_symbols: 0\n")
    assert status(base + "/symbol", data=b"0x1234")[0] == 200
    assert status(base + "/heap", data=b"", method="PUT")[0] == 405


@pytest.mark.parametrize("path, code", [
    ("/goroutine", 404),
    ("/heap?pid=abc", 400),
    ("/heap?pid=", 400),
    ("/heap?seconds=-1", 400),
    ("/heap?what=1", 400),
    ("/heap?%zz", 400),
    ("/heap?pid=4194000", 404),
    (f"/heap?pid={os.getpid()}", 404),
    ("/lifetimes?pid=1&seconds=1", 400),
])
def test_bad_requests(base, path, code):
    got, body = status(base + path)
    assert got == code and body.startswith(b"mprof serve: ")


@pytest.mark.parametrize("error, code", [
    (profile.Busy("try later"), 503),
    (profile.Refused("not yours"), 403),
    (profile.NotFound("gone"), 404),
    (profile.BadInput("not a profile"), 404),
    (profile.os_error(PermissionError(errno.EPERM, "x"), "m"), 403),
    (profile.os_error(FileNotFoundError(errno.ENOENT, "x"), "m"), 404),
])
def test_errors_map_to_statuses_by_their_kind(error, code):
    assert serve.http_error(error).status == code
