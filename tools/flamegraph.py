#!/usr/bin/env python3
"""tools/flamegraph.py — a flame graph (SVG) from a callgrind profile.

    python3 tools/flamegraph.py callgrind.out [--title T] [--root FN] \
        [--folded out.folded] > out.svg

callgrind records, per function, its own cost and the inclusive cost of each
call edge (caller -> callee), not whole stacks.  Stacks are rebuilt from the
root down: the cost that reaches a function along one path is split among
its own cost and its callees in the proportions callgrind measured for that
function over all paths.  That is exact for functions reached along one path
(most of the append path) and an estimate for shared helpers (palloc,
LWLockAcquire), whose width is right in total but spread by proportion.
Recursion (a callee already on the stack) counts as the caller's own cost.

--root starts the graph at a function (default: every function that no
other function calls, which with --toggle-collect are the collected ones).
--folded also writes the stacks in the folded format ("a;b;c cost" per line)
that other flame graph tools read.  Only the first event (Ir) is used.
"""
import argparse
import html
import re
import sys
from collections import defaultdict


def parse(path):
    """Self cost per function and inclusive cost per call edge."""
    self_cost = defaultdict(int)
    calls = defaultdict(int)
    names = {}                      # compressed "(id)" -> name, per kind

    def name(kind, spec):
        m = re.match(r'\((\d+)\)(?:\s+(.*))?$', spec)
        if not m:
            return spec
        key = (kind, m.group(1))
        if m.group(2) is not None:
            names[key] = m.group(2)
        return names.get(key, spec)

    fn = None
    cfn = None
    pending_call = False
    with open(path, errors='replace') as f:
        for line in f:
            line = line.rstrip('\n')
            if not line or line.startswith('#'):
                continue
            if line.startswith('fn='):
                fn = name('fn', line[3:])
                continue
            if line.startswith('cfn=') or line.startswith('cfi=') or line.startswith('cfl='):
                if line.startswith('cfn='):
                    cfn = name('fn', line[4:])
                continue
            if line.startswith('calls='):
                pending_call = True
                continue
            if '=' in line.split(' ')[0]:
                # fl=, fi=, fe=, ob=, cob=, and header lines: no cost
                continue
            parts = line.split()
            if not parts or fn is None:
                continue
            if not re.match(r'^([+-]?\d+|\*|0x[0-9a-fA-F]+)$', parts[0]):
                continue
            cost = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            if pending_call:
                calls[(fn, cfn)] += cost
                pending_call = False
            else:
                self_cost[fn] += cost
    return self_cost, calls


def clean(fn):
    # callgrind's recursion marker (name'2) and the file prefix it may add
    fn = re.sub(r"'\d+$", '', fn)
    return fn


def fold(self_cost, calls, roots, min_frac=0.0005):
    callees = defaultdict(list)
    callers = defaultdict(int)
    for (a, b), c in calls.items():
        if c > 0:
            callees[a].append((b, c))
            callers[b] += 1
    incl = defaultdict(int)
    for f, c in self_cost.items():
        incl[f] += c
    for (a, b), c in calls.items():
        incl[a] += c
    if not roots:
        roots = [f for f in incl if incl[f] > 0 and callers[f] == 0]
    total = sum(incl[r] for r in roots)
    stacks = defaultdict(float)

    def walk(f, budget, stack):
        stack = stack + [clean(f)]
        if incl[f] == 0:
            return
        own = budget * self_cost.get(f, 0) / incl[f]
        for g, c in callees[f]:
            share = budget * c / incl[f]
            if g in walk.on_stack or share < min_frac * total:
                own += share
                continue
            walk.on_stack.add(g)
            walk(g, share, stack)
            walk.on_stack.discard(g)
        if own > 0:
            stacks[';'.join(stack)] += own
    walk.on_stack = set()
    for r in roots:
        walk.on_stack.add(r)
        walk(r, incl[r], [])
        walk.on_stack.discard(r)
    return stacks, total


def svg(stacks, total, title, width=1200, row=16):
    # build a tree of frames
    tree = {}
    for stack, cost in stacks.items():
        node = tree
        for fr in stack.split(';'):
            entry = node.setdefault(fr, [0.0, {}])
            entry[0] += cost
            node = entry[1]
    depth = [0]
    rects = []

    def place(node, x, d):
        depth[0] = max(depth[0], d)
        for fr, (cost, kids) in sorted(node.items()):
            w = cost / total * (width - 20)
            if w >= 0.3:
                rects.append((x, d, w, fr, cost))
                place(kids, x, d + 1)
            x += w

    place(tree, 10.0, 0)
    height = (depth[0] + 1) * row + 60
    out = ['<?xml version="1.0" standalone="no"?>',
           '<svg version="1.1" width="%d" height="%d" xmlns="http://www.w3.org/2000/svg">' % (width, height),
           '<rect x="0" y="0" width="%d" height="%d" fill="#f8f8f8"/>' % (width, height),
           '<text x="%d" y="24" font-size="17" font-family="Verdana" text-anchor="middle">%s</text>'
           % (width // 2, html.escape(title))]
    for x, d, w, fr, cost in rects:
        y = height - 30 - (d + 1) * row
        h = sum(ord(ch) for ch in fr)
        evlog = 'evlog' in fr or fr.startswith(('append_', 'partition_for', 'after_insert', 'store_event'))
        color = ('rgb(%d,%d,%d)' % (80 + h % 60, 140 + h % 80, 220)) if evlog else \
                ('rgb(%d,%d,%d)' % (225, 100 + h % 120, 40 + h % 50))
        label = fr if len(fr) * 7 < w else (fr[:int(w / 7) - 2] + '..' if w > 30 else '')
        out.append('<g><title>%s (%.0f instructions, %.2f%%)</title>'
                   '<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" rx="2" ry="2"/>'
                   '<text x="%.1f" y="%d" font-size="11" font-family="Verdana">%s</text></g>'
                   % (html.escape(fr), cost, 100.0 * cost / total, x, y, w, row - 1, color,
                      x + 3, y + row - 4, html.escape(label)))
    out.append('<text x="10" y="%d" font-size="12" font-family="Verdana">width: share of instructions '
               '(callgrind Ir); blue: evlog.so, orange: PostgreSQL and libc</text>' % (height - 8))
    out.append('</svg>')
    return '\n'.join(out) + '\n'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('profile')
    ap.add_argument('--title', default='flame graph')
    ap.add_argument('--root', action='append', default=[])
    ap.add_argument('--folded')
    a = ap.parse_args()
    self_cost, calls = parse(a.profile)
    stacks, total = fold(self_cost, calls, a.root)
    if total == 0:
        sys.exit('no cost in %s (no function matched --root?)' % a.profile)
    if a.folded:
        with open(a.folded, 'w') as f:
            for s, c in sorted(stacks.items()):
                f.write('%s %d\n' % (s, round(c)))
    sys.stdout.write(svg(stacks, total, a.title))


if __name__ == '__main__':
    main()
