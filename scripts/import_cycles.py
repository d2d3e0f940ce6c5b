#!/usr/bin/env python3
"""No import circles among src files: builds the file-level graph of every
crate::, super:: and self:: path (in `use` and inline, test modules left
out), resolves each to the deepest file it names, and fails listing each
strongly connected component of more than one file. On the tree before the
house-in-order change it names fact_load <-> warehouse and functions <->
rewrite."""
import os, re, sys
root = sys.argv[1] if len(sys.argv) > 1 else 'src'
files = {}
for d, _, fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            p = os.path.join(d, f)
            rel = os.path.relpath(p, root)[:-3].split(os.sep)
            if rel[-1] == 'mod': rel = rel[:-1]
            if rel in (['lib'], ['main']): rel = []
            files['::'.join(rel)] = p
def resolve(mod, segs):
    # deepest module path that is a file
    best = None
    for i in range(len(segs), -1, -1):
        m = '::'.join(segs[:i])
        if m in files: return m
    return None
def strip_tests(text):
    i = text.find('#[cfg(test)]')
    return text if i < 0 else text[:i]
edges = {}
for mod, p in files.items():
    if mod == '' : continue
    text = strip_tests(open(p).read())
    text = re.sub(r'//[^\n]*', '', text)
    parts = mod.split('::')
    is_dir = p.endswith('mod.rs')
    here = parts if is_dir else parts[:-1]  # the module super:: of children refers to
    out = set()
    # expand `use a::{b, c::{d}}` roughly: take every path prefix token sequence
    for m in re.finditer(r'\b(crate|super|self)((?:::\w+)+)(::\{[^;]*\})?', text):
        head, rest, group = m.group(1), m.group(2), m.group(3)
        segs = rest.strip(':').split('::')
        if head == 'crate': base = []
        elif head == 'super': base = parts[:-1]
        else: base = parts
        # super::super
        while segs and segs[0] == 'super': base = base[:-1]; segs = segs[1:]
        full = base + segs
        targets = [full]
        if group:
            for g in re.findall(r'(\w+)(?:::(\w+))?', group):
                targets.append(full + [x for x in g if x])
        for t in targets:
            r = resolve(mod, t)
            if r is not None and r != mod and r != '':
                out.add(r)
    edges[mod] = out
# Tarjan
index = {}; low = {}; st = []; on = set(); sccs = []; n = [0]
sys.setrecursionlimit(10000)
def sc(v):
    index[v] = low[v] = n[0]; n[0] += 1; st.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in index: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        c = []
        while True:
            w = st.pop(); on.discard(w); c.append(w)
            if w == v: break
        if len(c) > 1: sccs.append(c)
for v in list(edges): 
    if v not in index: sc(v)
print(f"{len(edges)} files, {sum(len(e) for e in edges.values())} import edges")
for c in sccs:
    print("cycle:", sorted(c))
    for a in sorted(c):
        print("   ", a, "->", sorted(x for x in edges[a] if x in c))
sys.exit(1 if sccs else 0)
