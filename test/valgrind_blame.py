#!/usr/bin/env python3
"""valgrind_blame.py — which memcheck reports are evlog's fault.

    valgrind_blame.py --ours 'append.c|batch.c|...' LOG...
        prints every report that counts against evlog, then a last line
        "N counted, M not counted"; exits 1 if N > 0.

The memcheck suite runs the whole server under valgrind, so a report can
have evlog's functions on its stack only because evlog called into
PostgreSQL, which then tripped over state of its own (shared-invalidation
messages, relcache init, padding in WAL records).  Counting any report with
an evlog frame anywhere makes the suite fail by timing.  The rule here
blames evlog only for what happens in evlog's code or to evlog's memory:

  addressability (invalid read/write/free, overlap, unaddressable syscall
      argument, fishy allocation size): an evlog frame anywhere on the
      stack.  PostgreSQL's own code does not touch freed or out-of-bounds
      memory on its own; if it does so under an evlog call, evlog most
      likely handed it a bad pointer.
  uninitialised values (conditional jump, use of size N, uninitialised
      syscall argument): the innermost frames, up to the first frame inside
      PostgreSQL or another library, are evlog's (libc's string and memory
      helpers and valgrind's own replacements are looked through), or the
      value's origin (--track-origins=yes) is an allocation made by evlog:
      a stack allocation in an evlog function, or a heap block whose first
      caller past the allocators is evlog's.
  anything else: an evlog frame anywhere on the stack.
"""
import re
import sys

# a report starts with "==PID== Message" (the message starts upper-case);
# frames are "==PID==    at 0x...: fn (file.c:12)" or "(in /path/lib.so)"
HEAD = re.compile(r'^==(\d+)== ([A-Z].*)$')
FRAME = re.compile(r'^==(\d+)== +(?:at|by) 0x[0-9A-Fa-f]+: (\S+)(?: \((.*)\))?\s*$')
ORIGIN = re.compile(r'^==(\d+)== +Uninitialised value was created by (a heap|a stack|a client)')
CONT = re.compile(r'^==(\d+)== +\S')
BLANK = re.compile(r'^==(\d+)== *$')

ADDRESSABILITY = re.compile(r'^(Invalid (read|write|free)|Mismatched free|Source and destination overlap'
                            r'|Syscall param .* points to unaddressable|Argument .* fishy'
                            r'|Jump to the invalid address)')
UNINITIALISED = re.compile(r'^(Conditional jump or move depends on uninitialised'
                           r'|Use of uninitialised value'
                           r'|Syscall param .* (points to|contains) uninitialised)')

# functions looked through when finding who used or allocated a value
LOOK_THROUGH_USE = re.compile(r'^(mem\w*|str\w*|__mem\w*|__str\w*|bcmp|__GI_\w+|_vgr\w+|__\w+_avx\w*|__\w+_sse\w*)$')
ALLOCATORS = re.compile(r'^(malloc|calloc|realloc|_vgr\w+|AllocSet\w+|GenerationAlloc\w*|SlabAlloc\w*'
                        r'|palloc\w*|MemoryContextAlloc\w*|repalloc\w*|pstrdup|pnstrdup|psprintf'
                        r'|palloc0|MemoryContextStrdup|enlargeStringInfo|initStringInfo\w*)$')
LIBC = re.compile(r'(libc\.so|ld-linux|vgpreload_|libc-)')


class Frame:
    def __init__(self, fn, where):
        self.fn = fn
        self.where = where or ''

    def file(self):
        m = re.match(r'^([^:]+):\d+$', self.where)
        return m.group(1) if m else None


class Report:
    def __init__(self, pid, message):
        self.pid = pid
        self.message = message
        self.stack = []
        self.origin_kind = None
        self.origin = []
        self.lines = []


def parse(lines):
    """Split valgrind output into reports: each has its stack and, when
    reported, the origin stack of an uninitialised value.  The stacks of
    "Address ... alloc'd/free'd" blocks that follow are kept as text only."""
    reports = []
    cur = None
    section = None              # 'stack', 'origin' or 'other'
    for line in lines:
        line = line.rstrip('\n')
        m = HEAD.match(line)
        if m:
            cur = Report(m.group(1), m.group(2))
            reports.append(cur)
            cur.lines.append(line)
            section = 'stack'
            continue
        if cur is None or not (CONT.match(line) or BLANK.match(line)):
            continue
        cur.lines.append(line)
        m = FRAME.match(line)
        if m:
            frame = Frame(m.group(2), m.group(3))
            if section == 'stack':
                cur.stack.append(frame)
            elif section == 'origin':
                cur.origin.append(frame)
            continue
        m = ORIGIN.match(line)
        if m:
            cur.origin_kind = m.group(2).split()[-1]
            section = 'origin'
        elif not BLANK.match(line):
            section = 'other'
    return [r for r in reports if r.stack]


def make_is_ours(ours):
    files = re.compile(r'^(%s)$' % ours)

    def is_ours(frame):
        f = frame.file()
        if f is not None and files.match(f.split('/')[-1]):
            return True
        return '/evlog.so' in frame.where
    return is_ours


def innermost_is_ours(stack, is_ours, look_through):
    for fr in stack:
        if is_ours(fr):
            return True
        if look_through.match(fr.fn) or LIBC.search(fr.where):
            continue
        return False
    return False


def counts(report, is_ours):
    """True when the report is evlog's fault (see the module comment)."""
    if ADDRESSABILITY.match(report.message):
        return any(is_ours(f) for f in report.stack)
    if UNINITIALISED.match(report.message):
        if innermost_is_ours(report.stack, is_ours, LOOK_THROUGH_USE):
            return True
        if report.origin_kind == 'stack':
            return bool(report.origin) and is_ours(report.origin[0])
        if report.origin_kind == 'heap':
            return innermost_is_ours(report.origin, is_ours, ALLOCATORS)
        return False
    return any(is_ours(f) for f in report.stack)


def main(argv):
    ours = None
    files = []
    i = 0
    while i < len(argv):
        if argv[i] == '--ours':
            ours = argv[i + 1]
            i += 2
        else:
            files.append(argv[i])
            i += 1
    if ours is None:
        print('usage: valgrind_blame.py --ours "a.c|b.c" LOG...', file=sys.stderr)
        return 2
    is_ours = make_is_ours(ours)
    counted = not_counted = 0
    for path in files:
        with open(path, errors='replace') as f:
            for r in parse(f):
                if counts(r, is_ours):
                    counted += 1
                    print('--- counted against evlog (%s)' % path)
                    print('\n'.join(r.lines))
                else:
                    not_counted += 1
    print('%d counted, %d not counted' % (counted, not_counted))
    return 1 if counted else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
