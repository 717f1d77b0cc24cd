#!/usr/bin/env python3
"""Circles among librnn's source files, two ways:
  include: a .c file depends on the .c files that implement the headers it includes (header X.h
           -> the .c files defining a function X.h declares, found with nm), headers followed
           transitively;
  link:    object a depends on object b when a uses a symbol b defines (nm).
Prints every strongly connected component of more than one file. Run from the repository root
after `make`: python3 scripts/dep_circles.py [build]"""
import os, re, subprocess, sys
from collections import defaultdict

build = sys.argv[1] if len(sys.argv) > 1 else "build"
srcs = []
for d, _, fs in os.walk("src"):
    for f in fs:
        if f.endswith((".c", ".h")):
            srcs.append(os.path.join(d, f))

def resolve(inc, frm):
    for base in (os.path.dirname(frm), "src", "include"):
        p = os.path.normpath(os.path.join(base, inc))
        if os.path.exists(p):
            return p
    return None

includes = defaultdict(set)
for f in srcs:
    for line in open(f, errors="replace"):
        m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
        if m:
            p = resolve(m.group(1), f)
            if p and p.startswith("src/"):
                includes[f].add(p)

defs, uses = defaultdict(set), defaultdict(set)
for f in srcs:
    if not f.endswith(".c"):
        continue
    o = os.path.join(build, "obj", f[:-2] + ".o")
    if not os.path.exists(o):
        continue
    out = subprocess.run(["nm", o], capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            uses[f].add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBR":
            defs[f].add(parts[2])
owner = {s: f for f, ss in defs.items() for s in ss}

# header -> implementing .c files: those defining a symbol named in the header
ident = re.compile(r"\b(rnn_\w+)\s*\(")
impl = defaultdict(set)
for h in srcs:
    if h.endswith(".h"):
        for name in ident.findall(open(h, errors="replace").read()):
            if name in owner:
                impl[h].add(owner[name])

def closure(f):
    seen, todo = set(), [f]
    while todo:
        for g in includes[todo.pop()]:
            if g not in seen:
                seen.add(g)
                todo.append(g)
    return seen

cfiles = sorted(f for f in srcs if f.endswith(".c") and f in defs)
graphs = {
    "include": {c: {i for h in closure(c) for i in impl[h]} - {c} for c in cfiles},
    "link": {c: {owner[s] for s in uses[c] if s in owner} - {c} for c in cfiles},
}

def sccs(g):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            out.append(sorted(comp))
    sys.setrecursionlimit(10000)
    for v in g:
        if v not in index: visit(v)
    return [c for c in out if len(c) > 1]

for name, g in graphs.items():
    comps = sccs(g)
    print(f"{name} graph: {len(g)} files, {sum(len(e) for e in g.values())} edges, "
          f"{len(comps)} circle(s)")
    for c in comps:
        print(f"  circle of {len(c)}: " + " ".join(c))
    io_train = [c for c in comps if any(f.startswith("src/io/") for f in c) and
                any(f == "src/train.c" or f.startswith("src/train/") for f in c)]
    print(f"  training and io/ in one circle: {'yes' if io_train else 'no'}")

