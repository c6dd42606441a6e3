"""mprof serve: heap profiles over HTTP, as Go's net/http/pprof serves
them, for `go tool pprof URL`, Parca and Grafana Alloy to scrape.

  /debug/pprof/              the processes of this user that profile
  /debug/pprof/heap?pid=N    in-use heap (pprof opens inuse_space)
  /debug/pprof/allocs?pid=N  allocations (alloc_space)
  /debug/pprof/lifetimes?pid=N  how long blocks lived, in tcmalloc's
                             lifetime profile (deallocated_space)
  ...&seconds=S              the growth over S seconds: two dumps, the
                             second less the first; a process that does
                             not profile is attached for them (mprof
                             attach) and detached after

Each request dumps the process from outside, as mprof dump does, into a
directory of its own that is removed afterwards; without pid, the one
process that profiles.  A bad request gets a 4xx status and one line and
touches no process.
"""

import html
import os
import socket
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import attach, live
from .formats import Options, pprof
from .profile import BadInput, Busy, DiffProfile, Profile, Refused
from .symbolize import Symbolizer

KINDS = {"heap": "inuse_space", "allocs": "alloc_space", "lifetimes": None}
MAX_SECONDS = 600
# Dumps made at once; more requests wait for a turn, and beyond
# MAX_WAITING they are turned away.
DUMPS_AT_ONCE = 4
MAX_WAITING = 64


class HTTPError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def profiling_pids():
    """The processes this user may read whose libc profiles."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            if os.geteuid() and os.stat(f"/proc/{name}").st_uid != \
                    os.geteuid():
                continue
            live.check_profiling(int(name))
            found.append(int(name))
        except (BadInput, OSError):
            continue
    return sorted(found)


def command_line(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(
                errors="replace").strip()
    except OSError:
        return ""


def parse_query(query):
    """(pid or None, seconds or None) of a query string."""
    try:
        params = urllib.parse.parse_qs(query, keep_blank_values=True,
                                       strict_parsing=bool(query),
                                       max_num_fields=8)
    except ValueError:
        raise HTTPError(400, "a malformed query string")
    unknown = set(params) - {"pid", "seconds", "gc", "debug"}
    if unknown:
        raise HTTPError(400, "unknown parameter "
                        f"{sorted(unknown)[0][:40]!r}: this server takes "
                        "pid and seconds")
    if any(len(v) > 1 for v in params.values()):
        raise HTTPError(400, "a parameter given twice")
    if params.get("debug", ["0"])[0] != "0":
        raise HTTPError(400, "debug: only the binary profile (debug=0) is "
                        "served; mprof report makes text")

    def number(name, low, high):
        if name not in params:
            return None
        text = params[name][0]
        if not text.isdigit() or not low <= int(text) <= high:
            raise HTTPError(400, f"{name} must be a whole number from {low} "
                            f"to {high}, not {text[:40]!r}")
        return int(text)
    return number("pid", 1, 1 << 22), number("seconds", 1, MAX_SECONDS)


def choose_pid(pid):
    if pid is None:
        pids = profiling_pids()
        if len(pids) != 1:
            raise HTTPError(400, f"{len(pids)} processes profile here: give "
                            "?pid=N (listed at /debug/pprof/)")
        return pids[0]
    try:
        owner = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        raise HTTPError(404, f"no process {pid}")
    if os.geteuid() and owner != os.geteuid():
        raise HTTPError(403, f"process {pid} belongs to another user")
    return pid


def http_error(e):
    """The HTTP error of the BadInput E: what can be done later is 503,
    what is not allowed 403, and what is not there, or not a profile,
    404."""
    status = (503 if isinstance(e, Busy) else 403 if isinstance(e, Refused)
              else 404)
    return HTTPError(status, str(e))


def dump_into(pid, top, name):
    """A dump of PID as TOP/name/mprof.PID.1."""
    try:
        where = live.dump(pid, os.path.join(top, name))
    except BadInput as e:
        raise http_error(e)
    final = os.path.join(top, "dumps", f"mprof.{pid}.{name}")
    os.makedirs(os.path.dirname(final), exist_ok=True)
    os.rename(where, final)


# The processes this server attached, with the requests that wait on
# each: the last to finish detaches it.
attached = {}
attached_lock = threading.Lock()


def window_begin(pid, seconds):
    """Attach PID for a window of SECONDS unless it profiles already.
    Returns whether the window must end with window_end."""
    with attached_lock:
        if attached.get(pid):
            attached[pid] += 1
            return True
        try:
            if attach.counting(pid):
                return False
            # It stops by itself should this server be gone by then.
            attach.attach(pid, out="", seconds=seconds + 60)
        except BadInput as e:
            raise http_error(e)
        attached[pid] = 1
        return True


def window_end(pid):
    with attached_lock:
        attached[pid] -= 1
        if attached[pid] == 0:
            del attached[pid]
            try:
                attach.detach(pid, timeout=1)
            except BadInput:
                pass


def profile_of(pid, seconds, sample, turns):
    """A gzipped profile.proto of PID: its heap now, or its growth over
    SECONDS, for which a process that does not profile is attached.
    Each dump and the report take one of TURNS; the wait between two
    dumps takes none."""
    with tempfile.TemporaryDirectory(prefix="mprof-serve.") as top:
        window = seconds and window_begin(pid, seconds)
        try:
            with turns:
                dump_into(pid, top, "1")
            if seconds:
                time.sleep(seconds)
                with turns:
                    dump_into(pid, top, "2")
        finally:
            if window:
                window_end(pid)
        dumps = os.path.join(top, "dumps")
        with turns:
            try:
                # A process attached a moment ago may have taken no
                # sample before the first dump: the second is the growth.
                first = os.path.join(dumps, f"mprof.{pid}.1")
                if seconds and not any(n.endswith(".heap")
                                       for n in os.listdir(first)):
                    profile = Profile([dumps], dump=2)
                else:
                    profile = (DiffProfile([dumps], 1, 2) if seconds
                               else Profile([dumps], dump=1))
                sym = Symbolizer()
                sym.symbolize(profile)
            except BadInput as e:
                raise HTTPError(404, f"process {pid}: {e}")
            return pprof.render(profile, sym, Options(
                sample=sample or "inuse_space", lifetimes=sample is None,
                labels={"command": command_line(pid)}))


class Handler(BaseHTTPRequestHandler):
    server_version = "mprof"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            super().log_message(fmt, *args)

    def reply(self, status, body, kind="text/plain; charset=utf-8",
              extra=()):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        try:
            url = urllib.parse.urlsplit(self.path)
            path = url.path.rstrip("/")
            if path in ("/debug/pprof", ""):
                self.reply(200, self.index().encode(),
                           "text/html; charset=utf-8")
                return
            if path == "/debug/pprof/symbol":
                # What go tool pprof asks for the PCs a profile left
                # unnamed (no name was found: the reader's own debug
                # files may have one): no names here.
                self.reply(200, b"num_symbols: 0\n")
                return
            kind = path[len("/debug/pprof/"):] \
                if path.startswith("/debug/pprof/") else None
            if kind not in KINDS:
                raise HTTPError(404, f"no profile at {url.path[:80]!r}: "
                                "/debug/pprof/heap, /debug/pprof/allocs and "
                                "/debug/pprof/lifetimes are served")
            pid, seconds = parse_query(url.query)
            if seconds and kind == "lifetimes":
                raise HTTPError(400, "lifetimes are counted from the start:"
                                " no seconds")
            if not self.server.waiting.acquire(blocking=False):
                raise HTTPError(503, "too many requests at once")
            try:
                pid = choose_pid(pid)
                data = profile_of(pid, seconds, KINDS[kind],
                                  self.server.turns)
            finally:
                self.server.waiting.release()
            self.reply(200, data, "application/octet-stream",
                       [("Content-Disposition",
                         f'attachment; filename="{kind}"')])
        except HTTPError as e:
            self.reply(e.status, f"mprof serve: {e}\n".encode())
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:  # one request's failure never stops the rest
            traceback.print_exc(file=sys.stderr)
            try:
                self.reply(500, f"mprof serve: internal error: {e}\n"
                           .encode())
            except OSError:
                pass

    do_HEAD = do_GET

    def do_POST(self):
        if urllib.parse.urlsplit(self.path).path == "/debug/pprof/symbol":
            self.reply(200, b"")
            return
        self.reply(405, b"mprof serve: only GET\n", extra=[("Allow", "GET")])

    do_PUT = do_DELETE = do_POST

    def index(self):
        rows = "".join(
            f"<tr><td>{pid}</td><td>{html.escape(command_line(pid))}</td>"
            f'<td><a href="heap?pid={pid}">heap</a> '
            f'<a href="allocs?pid={pid}">allocs</a> '
            f'<a href="lifetimes?pid={pid}">lifetimes</a></td></tr>\n'
            for pid in profiling_pids())
        return ("<!DOCTYPE html>\n<html><head><title>/debug/pprof/</title>"
                "</head><body>\n<p>Processes that profile their heap:</p>\n"
                "<table>\n<tr><th>pid</th><th>command</th><th>profiles</th>"
                f"</tr>\n{rows}</table>\n</body></html>\n")


def main(listen, verbose=False):
    host, _, port = listen.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise BadInput(f"--listen {listen}: not ADDRESS:PORT")
    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        server = Server((host, int(port)), Handler)
    except OSError as e:
        raise BadInput(f"cannot listen on {listen}: {e.strerror}")
    server.daemon_threads = True
    server.verbose = verbose
    server.turns = threading.BoundedSemaphore(DUMPS_AT_ONCE)
    server.waiting = threading.BoundedSemaphore(MAX_WAITING)
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"mprof: serving heap profiles on "
          f"http://{shown}:{port}/debug/pprof/", file=sys.stderr, flush=True)
    if not (host.startswith("127.") or host == "::1"):
        print("mprof: warning: not only this machine can ask: a profile "
              "shows the call stacks, file names and command lines of "
              "this user's profiled processes", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
