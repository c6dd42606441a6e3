"""PCs to frames: through the saved maps and each ELF file's program
headers to an address in the file, then llvm-symbolizer or addr2line,
one batch per object, reading the object's separate debug file where one
is found by its build ID: in the directories the user names, in
/usr/lib/debug/.build-id, or from the debuginfod servers of
DEBUGINFOD_URLS (debuginfod-find, which caches what it fetches); or, for
a stripped object, by its .gnu_debuglink, as GDB finds it."""

import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from . import elf, tree

# The allocator's own frames, which reports drop from the top of each
# stack so that it starts at the code that asked for memory, as pprof
# does: operator new and the standard allocators in front of malloc.
ALLOCATOR = re.compile(
    r"operator new|__libc_(malloc|calloc|realloc|memalign|valloc|pvalloc)$"
    r"|(malloc|calloc|realloc|reallocarray|memalign|aligned_alloc"
    r"|posix_memalign|valloc|pvalloc)$"
    r"|(std::|__gnu_cxx::)(allocator|allocator_traits|__new_allocator"
    r"|new_allocator)<.*>::allocate\(")


def warn(msg):
    print(f"mprof: warning: {msg}", file=sys.stderr)


def elf_functions(path):
    """({name: [(start, end)]} of the function symbols of the ELF file
    PATH, its symbol table's and its dynamic symbol table's, and {start:
    name} of the dynamic symbol table's, each address's public name: of
    strdup, __strdup and the hidden __GI___strdup, strdup)."""
    ranges, public, best = defaultdict(list), {}, {}
    for kind, name, value, size, info, shndx in elf.symbols(path):
        if info & 0xf not in (2, 10) or not shndx:      # FUNC, IFUNC
            continue
        text = name.decode(errors="replace")
        ranges[text].append((value, value + max(size, 1)))
        # As perf, but the fewest underscores first: a weak strdup
        # before a global __strdup.
        rank = (len(text) - len(text.lstrip("_")), info >> 4 != 1,
                len(text))
        if kind == 11 and (value not in best or rank < best[value]):
            best[value], public[value] = rank, text
    return ranges, public


def public_names(obj, frames):
    """FRAMES of OBJ ({addr: [Frame]}) with the outermost frame of each
    address named by the dynamic symbol table where it names the same
    function, as llvm-symbolizer, pprof and perf name it, rather than by
    one of the aliases addr2line takes from the symbol table."""
    ranges, public = elf_functions(obj)
    for addr, chain in frames.items():
        outer = chain[-1]
        start = next((s for s, e in ranges.get(outer.function, ())
                      if s <= addr < e), None)
        if start in public:
            outer.function = public[start]
    return frames


class Frame:
    def __init__(self, function, file="", line=0, module="", named=True):
        self.function, self.file, self.line = function, file, line
        self.module = module
        # False for module+offset, where no name was found.
        self.named = named

    def label(self):
        if self.file:
            name = self.file.rpartition("/")[2]
            return f"{self.function} {name}:{self.line}"
        return self.function


class Symbolizer:
    """Turns runtime addresses into frames (innermost first, inlined
    frames included), batching one symbolizer run per object."""

    def __init__(self, debug_dirs=()):
        self.debug_dirs = list(debug_dirs) + ["/usr/lib/debug"]
        self.segments = {}
        self.objects = {}       # (path, inode) -> the file or None
        self.usables = {}       # (path, inode) -> what usable returns
        self.build_ids = {}     # (path, inode) -> build ID or None
        self.debug_files = {}   # build ID -> debug file or None
        self.frames = {}        # (pc, mapping id) -> [Frame]

    def file(self, path, inode):
        """The file that was mapped at PATH as inode INODE, if it is still
        there: PATH itself, or, for a file mprof run bound over PATH, the
        built one (same inode); None if it cannot be told."""
        key = (path, inode)
        if key not in self.objects:
            ok = None
            for f in (path, tree.stand_in(path)):
                try:
                    if f and os.path.isfile(f) and (
                            not inode or os.stat(f).st_ino == inode):
                        ok = f
                        break
                except OSError:
                    pass
            self.objects[key] = ok
        return self.objects[key]

    def build_id(self, path, inode):
        key = (path, inode)
        if key not in self.build_ids:
            f = self.file(path, inode)
            self.build_ids[key] = f and elf.build_id(f)
        return self.build_ids[key]

    def debug_file(self, build_id, remote=True):
        """The separate debug file of BUILD_ID, or None; from debuginfod
        only if REMOTE."""
        if build_id not in self.debug_files or (
                remote and self.debug_files[build_id] is False):
            found = None
            for d in self.debug_dirs:
                f = os.path.join(d, ".build-id", build_id[:2],
                                 build_id[2:] + ".debug")
                if os.path.isfile(f):
                    found = f
                    break
            if not found and not remote:
                found = False
            elif not found and os.environ.get("DEBUGINFOD_URLS") and \
                    shutil.which("debuginfod-find"):
                try:
                    p = subprocess.run(
                        ["debuginfod-find", "debuginfo", build_id],
                        capture_output=True, text=True, timeout=120)
                    out = p.stdout.strip()
                    if p.returncode == 0 and os.path.isfile(out):
                        found = out
                except (OSError, subprocess.TimeoutExpired):
                    pass
            self.debug_files[build_id] = found
        return self.debug_files[build_id] or None

    def usable(self, path, inode):
        """(the file mapped at PATH or None, the file to symbolize with) of
        the object mapped at PATH, or (None, None), with a warning once,
        if neither it nor a debug file is found."""
        key = (path, inode)
        if key not in self.usables:
            f = self.file(path, inode)
            bid = self.build_id(path, inode)
            # debuginfod (a download) only for an object that has lost
            # its symbol table, or is gone; an object without a build ID
            # may name its debug file by .gnu_debuglink.
            stripped = not f or not elf.has_symtab(f)
            debug = bid and self.debug_file(bid, stripped)
            if not debug and f and stripped:
                debug = elf.debuglink_file(f, self.debug_dirs)
            self.usables[key] = (f, debug or f)
            if not f and not debug:
                if path.endswith(" (deleted)"):
                    why = f"{path[:-10]} was deleted since the run"
                elif not os.path.exists(path):
                    why = f"{path}: missing"
                else:
                    why = f"{path} was replaced since the run"
                warn(f"{why}{' (build ID ' + bid + ')' if bid else ''}; its "
                     "frames are shown as module+offset")
        return self.usables[key]

    def load_segments(self, path):
        if path not in self.segments:
            try:
                self.segments[path] = elf.load_segments(path)
            except OSError:
                self.segments[path] = []
        return self.segments[path]

    def locate(self, pc, history):
        """(object path or None, address to look up, module, file offset)."""
        maps = next((m for m in history
                     if any(s <= pc < e for s, e, _, _, _ in m)), [])
        for start, end, offset, inode, path in maps:
            if start <= pc < end:
                file_off = pc - 1 - start + offset
                module = os.path.basename(path) or "[anon]"
                if not path.startswith("/"):
                    return None, None, module, file_off
                placed, obj = self.usable(path, inode)
                if not obj:
                    return None, None, module, file_off
                if not placed:
                    # Only the debug file is left, whose program headers
                    # keep the addresses but not the file offsets: place
                    # the PC by the load bias, from where the object's
                    # first page was mapped.
                    first = [st for st, _, o, i, p in maps
                             if (p, i, o) == (path, inode, 0)]
                    segs = self.load_segments(obj)
                    if not first or not segs:
                        return None, None, module, file_off
                    bias = first[0] - (min(v for _, v, _ in segs) & ~0xfff)
                    return obj, pc - 1 - bias, module, file_off
                for p_offset, p_vaddr, p_filesz in self.load_segments(placed):
                    if p_offset <= file_off < p_offset + p_filesz:
                        return obj, file_off - p_offset + p_vaddr, module, \
                            file_off
                return None, None, module, file_off
        return None, None, "", pc

    def symbolize(self, profile):
        """Fill self.frames for every pc of PROFILE."""
        for key, bid in getattr(profile, "build_ids", {}).items():
            self.build_ids.setdefault(key, bid)
        wanted = defaultdict(set)
        where = {}
        for s in profile.samples:
            mid = id(s.mapping)
            for pc in s.stack:
                key = (pc, mid)
                if key in where:
                    continue
                obj, addr, module, off = self.locate(pc, s.history)
                where[key] = (obj, addr, module, off)
                if obj:
                    wanted[obj].add(addr)
        # One symbolizer per object and per core: its cost grows with the
        # distinct addresses, so split big objects across the cores.
        jobs = []
        for obj, addrs in wanted.items():
            addrs = sorted(addrs)
            n = max(1, min(os.cpu_count() or 1, len(addrs) // 5000))
            jobs += [(obj, addrs[i::n]) for i in range(n)]
        resolved = {}
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            for result in pool.map(lambda job: run_symbolizer(*job), jobs):
                resolved.update(result)
        for key, (obj, addr, module, off) in where.items():
            frames = resolved.get((obj, addr)) if obj else None
            if not frames:
                name = f"{module}+{off:#x}" if module else f"{key[0]:#x}"
                frames = [Frame(name, module=module, named=False)]
            for f in frames:
                f.module = module
            self.frames[key] = frames

    def user_pcs(self, sample):
        """SAMPLE's stack without the PCs at its top whose every frame
        is the allocator's (at least one PC is kept)."""
        mid = id(sample.mapping)
        stack, i = sample.stack, 0
        while i < len(stack) - 1 and all(
                ALLOCATOR.match(f.function)
                for f in self.frames[(stack[i], mid)]):
            i += 1
        return stack[i:]

    def stack(self, sample):
        """Frames of SAMPLE, innermost first, from the first that is not
        the allocator's."""
        mid = id(sample.mapping)
        frames = [f for pc in self.user_pcs(sample)
                  for f in self.frames[(pc, mid)]]
        i = 0
        while i < len(frames) - 1 and ALLOCATOR.match(frames[i].function):
            i += 1
        return frames[i:]


def run_symbolizer(obj, addrs):
    """{(obj, addr): [Frame]} from llvm-symbolizer, or addr2line."""
    out = {}
    query = "".join(f"{a:#x}\n" for a in addrs)
    if shutil.which("llvm-symbolizer"):
        p = subprocess.run(
            ["llvm-symbolizer", "--output-style=JSON", "--inlining",
             "--demangle", "--obj=" + obj], input=query,
            capture_output=True, text=True)
        for line in p.stdout.splitlines():
            try:
                entry = json.loads(line)
                addr = int(entry["Address"], 16)
            except (ValueError, KeyError, TypeError):
                continue
            frames = [Frame(s["FunctionName"], s.get("FileName", ""),
                            s.get("Line", 0))
                      for s in entry.get("Symbol", [])
                      if s.get("FunctionName") not in (None, "", "??")]
            if frames:
                out[(obj, addr)] = frames
        if out or p.returncode == 0:
            return out
    if shutil.which("addr2line"):
        p = subprocess.run(["addr2line", "-a", "-f", "-i", "-C", "-e", obj],
                           input=query, capture_output=True, text=True)
        lines, addr, i = p.stdout.splitlines(), None, 0
        while i < len(lines):
            if lines[i].startswith("0x") and i + 2 < len(lines) + 1:
                addr = int(lines[i], 16)
                i += 1
                continue
            func = lines[i]
            loc = lines[i + 1] if i + 1 < len(lines) else "??:0"
            i += 2
            if func == "??" or addr is None:
                continue
            file, _, line = loc.split(" (")[0].rpartition(":")
            out.setdefault(addr, []).append(
                Frame(func, "" if file == "??" else file,
                      int(line) if line.isdigit() else 0))
        out = {(obj, a): f for a, f in public_names(obj, out).items()}
    return out
