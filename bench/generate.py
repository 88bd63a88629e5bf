#!/usr/bin/env python3
"""Generates the benchmark workloads, each in four equivalent forms, from one description.

For a workload NAME (nested, mlp-H, mlp-2-32-32-1, dag-N) it writes into the output folder:

  NAME.bp    the script bp compiles (`bpc build`, the JIT column)
  NAME.c     straight-line C, as a person would write it: PREFIX_forward, and PREFIX_gradient = the forward
             pass, then a reverse sweep with one adjoint per node; same C ABI and names as `bpc build`
  NAME.ops   the same computation as a flat operation list, taped by the ADOL-C column
  NAME.in    the argument vector `in` (inputs, then params), one number per line (exact: Python repr)

Every form evaluates exactly the same IEEE operations in the same order: the generator builds expression
trees, lowers them into a node list the way bp's GraphBuilder does (left-to-right chains, one node per
operation), and emits the .c and .ops files from that node list. The C reverse sweep replays bp's
Autodiff.cpp: nodes from last to first, operands left to right, each operand's adjoint accumulated in that
order, local derivatives as in compiler/lib/Autodiff/DerivativeRules.cpp (tanh' = 1 - t*t, sigmoid' = s*(1-s), sin' = cos).

Usage: generate.py OUTDIR [WORKLOAD...]   (default: every workload; the seed is fixed)
"""
import json
import math
import os
import random
import sys

SEED = 20240611
SPLIT_NODES = 2000   # C functions of workloads with more nodes than this are split into chunks ...
CHUNK = 1000         # ... of about this many statements each (gcc is superlinear in one huge function)

LOW, HIGH = 0.1, 1.0   # dag node values stay in this range of magnitudes

ALL_WORKLOADS = ["nested", "mlp-4", "mlp-16", "mlp-64", "mlp-2-32-32-1", "dag-1000", "dag-10000", "dag-100000"]

# ---------------------------------------------------------------------------------------------------------
# Expressions (what the .bp script says) and their lowering to nodes (what every form computes)


class Name:
    def __init__(self, node):
        self.node = node          # node index


class Const:
    def __init__(self, value):
        self.value = float(value)


class Chain:                      # first (op operand)...; left-associative, + - at one level, * at another
    def __init__(self, first, links):
        self.first, self.links = first, links


class Call:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg


ADDITIVE = {"+": "add", "-": "sub"}
MULTIPLICATIVE = {"*": "mul"}


class Workload:
    def __init__(self, name):
        self.name = name
        self.prefix = name.replace("-", "_")
        self.nodes = []           # dicts: name, op ('input'|'param'|add|sub|mul|neg|sin|tanh|exp|sigmoid), args
        self.values = []          # `in`, in argument order
        self.statements = []      # the script, line by line
        self.outputs = []         # node indices

    # leaves ------------------------------------------------------------------------------------------------
    def argument(self, kind, name, value):
        self.nodes.append({"name": name, "op": kind, "args": [], "index": len(self.values)})
        self.values.append(float(value))
        self.statements.append(f"{kind} {name} = {num(value)}")
        return len(self.nodes) - 1

    # computed nodes ----------------------------------------------------------------------------------------
    def _add(self, op, args):
        self.nodes.append({"name": None, "op": op, "args": args})
        return ("n", len(self.nodes) - 1)

    def lower(self, expr):
        """Operand for `expr`, adding a node per operation exactly as bp's GraphBuilder::lower does."""
        if isinstance(expr, Name):
            return ("n", expr.node)
        if isinstance(expr, Const):
            return ("c", expr.value)
        if isinstance(expr, Call):
            return self._add(expr.fn, [self.lower(expr.arg)])
        value = self.lower(expr.first)
        for op, operand in expr.links:
            value = self._add({**ADDITIVE, **MULTIPLICATIVE}[op], [value, self.lower(operand)])
        return value

    def node(self, name, expr):
        kind, index = self.lower(expr)
        assert kind == "n" and self.nodes[index]["name"] is None, "a node statement must compute something"
        self.nodes[index]["name"] = name
        self.statements.append(f"node {name} = {show(expr, self)}")
        return index

    def output(self, index):
        self.outputs.append(index)
        self.statements.append(f"output {self.nodes[index]['name']}")


def num(value):
    value = float(value)
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def show(expr, w, parent=None):
    if isinstance(expr, Name):
        return w.nodes[expr.node]["name"]
    if isinstance(expr, Const):
        assert expr.value >= 0, "a negative literal would parse as a negation node"
        return num(expr.value)
    if isinstance(expr, Call):
        return f"{expr.fn}({show(expr.arg, w)})"
    level = "add" if expr.links[0][0] in ADDITIVE else "mul"
    parts = [show(expr.first, w, level)]
    for op, operand in expr.links:
        parts.append(f" {op} {show(operand, w, level + '-rhs')}")
    text = "".join(parts)
    # a chain inside a tighter chain, or as the right operand of one at the same level, needs parentheses
    if parent in ("mul", "mul-rhs") or (parent == "add-rhs" and level == "add"):
        text = f"({text})"
    return text


# ---------------------------------------------------------------------------------------------------------
# The workloads


def nested():
    w = Workload("nested")
    a = w.argument("input", "a", 5)
    b = w.argument("input", "b", -6)
    c = w.argument("input", "c", 7)
    d = w.node("d", Chain(Name(a), [("+", Name(b))]))
    f = w.node("f", Chain(Name(d), [("*", Name(c))]))
    w.output(f)
    return w


def mlp(hidden, rng):
    """2 -> H tanh -> 1 sigmoid, squared error summed over the four XOR samples written out one by one."""
    w = Workload(f"mlp-{hidden}")
    w.statements.append(f"# XOR with a 2-{hidden}-1 network: tanh hidden units, a sigmoid output, squared error")
    w1, w2, b1, v = [], [], [], []
    for j in range(hidden):
        w1.append(w.argument("param", f"w1_{j}", round(rng.uniform(-1, 1), 6)))
        w2.append(w.argument("param", f"w2_{j}", round(rng.uniform(-1, 1), 6)))
        b1.append(w.argument("param", f"b1_{j}", round(rng.uniform(-0.5, 0.5), 6)))
    for j in range(hidden):
        v.append(w.argument("param", f"v_{j}", round(rng.uniform(-1, 1), 6)))
    c = w.argument("param", "c", round(rng.uniform(-0.5, 0.5), 6))
    losses = []
    for s, (x1, x2, t) in enumerate([(0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0)]):
        w.statements.append(f"# sample {s}: x = ({x1}, {x2}), target {t}")
        hs = []
        for j in range(hidden):
            z = w.node(f"z{s}_{j}", Chain(Chain(Name(w1[j]), [("*", Const(x1))]),
                                           [("+", Chain(Name(w2[j]), [("*", Const(x2))])), ("+", Name(b1[j]))]))
            hs.append(w.node(f"h{s}_{j}", Call("tanh", Name(z))))
        terms = [Chain(Name(v[j]), [("*", Name(hs[j]))]) for j in range(hidden)]
        sum_expr = Chain(terms[0], [("+", t_) for t_ in terms[1:]] + [("+", Name(c))])
        p = w.node(f"p{s}", Call("sigmoid", sum_expr))
        e = w.node(f"e{s}", Chain(Name(p), [("-", Const(t))]))
        losses.append(w.node(f"l{s}", Chain(Name(e), [("*", Name(e))])))
    loss = w.node("loss", Chain(Name(losses[0]), [("+", Name(l)) for l in losses[1:]]))
    w.output(loss)
    return w


def layered_mlp(sizes, rng):
    """An MLP of the given layer sizes (mlp-2-32-32-1) as a new user writes it in scalar bp: one param per weight
    and bias, one `node` line per neuron and sample (tanh hidden layers, a sigmoid output), the squared error
    summed over four fixed samples written as constants."""
    w = Workload("mlp-" + "-".join(map(str, sizes)))
    assert sizes[-1] == 1, "one output neuron"
    w.statements.append(f"# a {'-'.join(map(str, sizes))} network: tanh hidden layers, a sigmoid output, squared "
                        "error over four samples")
    layers = []                      # per layer after the inputs: [(weights, bias)] per neuron
    for depth, (fan_in, width) in enumerate(zip(sizes, sizes[1:]), 1):
        w.statements.append(f"# layer {depth}: {width} neuron(s) of {fan_in} input(s)")
        scale = 1 / math.sqrt(fan_in)
        layer = []
        for j in range(width):
            weights = [w.argument("param", f"w{depth}_{j}_{i}", round(rng.uniform(-scale, scale), 6))
                       for i in range(fan_in)]
            layer.append((weights, w.argument("param", f"b{depth}_{j}", round(rng.uniform(-0.1, 0.1), 6))))
        layers.append(layer)
    losses = []
    for s, (x, t) in enumerate([((0.2, 0.7), 0.9), ((0.5, 0.1), 0.2), ((0.9, 0.4), 0.6), ((0.3, 0.8), 0.7)]):
        w.statements.append(f"# sample {s}: x = {x}, target {t}")
        values = [Const(v) for v in x]
        for depth, layer in enumerate(layers, 1):
            hidden = depth < len(layers)
            neurons = []
            for j, (weights, bias) in enumerate(layer):
                terms = [Chain(Name(wi), [("*", v)]) for wi, v in zip(weights, values)]
                total = Chain(terms[0], [("+", term) for term in terms[1:]] + [("+", Name(bias))])
                name = f"h{depth}_{s}_{j}" if hidden else f"y_{s}"
                neurons.append(Name(w.node(name, Call("tanh" if hidden else "sigmoid", total))))
            values = neurons
        e = w.node(f"e_{s}", Chain(values[0], [("-", Const(t))]))
        losses.append(w.node(f"l_{s}", Chain(Name(e), [("*", Name(e))])))
    w.output(w.node("loss", Chain(Name(losses[0]), [("+", Name(l)) for l in losses[1:]])))
    return w


def dag(n, rng):
    """A random DAG over 16 inputs: + - * sin tanh, operands biased to recent nodes, every node live."""
    w = Workload(f"dag-{n}")
    w.statements.append(f"# a random DAG of {n} nodes over 16 inputs; total = the sum of the last 16 nodes")
    ids, vals = [], []
    for k in range(16):
        value = round(rng.uniform(-1, 1), 6)
        ids.append(w.argument("input", f"x{k}", value))
        vals.append(value)
    used = [False] * len(ids)
    pending = 0                       # index into ids/vals below which every node is used

    def recent(i):
        # operands: mostly a recent node, sometimes any earlier node (so that paths to the output stay short
        # and adjoints neither vanish nor explode), sometimes an input
        r = rng.random()
        if r < 0.1:
            return rng.randrange(16)
        if r < 0.3:
            return rng.randrange(i)
        return max(0, i - 1 - min(int(rng.expovariate(1 / 6)), i - 1))

    for k in range(n):
        i = len(ids)
        while pending < i and used[pending]:
            pending += 1
        # liveness: an unused node more than 12 back (or any, near the end) becomes the first operand
        if pending < i - 12 or (k >= n - 32 and pending < min(i, n)):
            first = pending
        else:
            first = recent(i)
        second = recent(i)
        a, b = vals[first], vals[second]
        results = {"tanh": math.tanh(a), "sin": math.sin(a), "add": a + b, "sub": a - b, "mul": a * b}
        # keep values moderate (LOW <= |v| <= HIGH): the first op, in a random order weighted towards tanh,
        # whose result is in range; else the in-range-most one
        ops = ["tanh", "sin", "add", "sub", "mul"]
        weights = [30, 15, 20, 15, 20]
        order = []
        while ops:
            pick = rng.choices(range(len(ops)), weights)[0]
            order.append(ops.pop(pick))
            weights.pop(pick)
        good = [o for o in order if LOW <= abs(results[o]) <= HIGH]
        op = good[0] if good else min(order, key=lambda o: abs(math.log(abs(results[o]) or 1e-300)))
        value = results[op]
        if op in ("tanh", "sin"):
            expr = Call(op, Name(ids[first]))
        else:
            expr = Chain(Name(ids[first]), [({"add": "+", "sub": "-", "mul": "*"}[op], Name(ids[second]))])
            used[second] = True
        used[first] = True
        ids.append(w.node(f"n{k}", expr))
        vals.append(value)
        used.append(False)
    last = ids[-16:]
    for j in range(len(ids) - 16, len(ids)):
        used[j] = True
    dead = [w.nodes[ids[j]]["name"] for j in range(len(ids)) if not used[j]]
    out = w.node("total", Chain(Name(last[0]), [("+", Name(j)) for j in last[1:]]))
    w.output(out)
    w.dead = dead
    return w


def build(name):
    rng = random.Random(f"{SEED}-{name}")
    if name == "nested":
        return nested()
    if name.count("-") > 1:
        return layered_mlp([int(size) for size in name.split("-")[1:]], rng)
    kind, size = name.split("-")
    return mlp(int(size), rng) if kind == "mlp" else dag(int(size), rng)


# ---------------------------------------------------------------------------------------------------------
# The reverse sweep, as bp's Autodiff.cpp performs it


def reverse_sweep(w, output):
    """[(node, operand position, operand node, first contribution?)] in bp's order, and the adjoint set."""
    varies = []
    for node in w.nodes:
        varies.append(node["op"] in ("input", "param") or any(k == "n" and varies[x] for k, x in node["args"]))
    has_adjoint = [False] * len(w.nodes)
    steps = []
    if varies[output]:
        has_adjoint[output] = True
        for i in range(output, -1, -1):
            if not has_adjoint[i]:
                continue
            for pos, (kind, x) in enumerate(w.nodes[i]["args"]):
                if kind != "n" or not varies[x]:
                    continue
                steps.append((i, pos, x, not has_adjoint[x]))
                has_adjoint[x] = True
    return steps, has_adjoint


# ---------------------------------------------------------------------------------------------------------
# C


def c_literal(value):
    text = repr(float(value))
    return text if ("." in text or "e" in text or "n" in text) else text + ".0"


def forward_expr(node, ref):
    op, args = node["op"], [ref(a) for a in node["args"]]
    if op in ("add", "sub", "mul"):
        return f"{args[0]} {dict(add='+', sub='-', mul='*')[op]} {args[1]}"
    if op == "neg":
        return f"-{args[0]}"
    if op == "sigmoid":
        return f"1.0 / (1.0 + exp(-{args[0]}))"
    return f"{op}({args[0]})"


def contribution(node, pos, ref, self_ref, adj):
    """adjoint * local derivative, as (sign, expr) with sign '-' for subtraction's second operand."""
    op, args = node["op"], node["args"]
    if op == "add":
        return "", adj
    if op == "sub":
        return ("", adj) if pos == 0 else ("-", adj)
    if op == "neg":
        return "-", adj
    if op == "mul":
        return "", f"{adj} * {ref(args[1 - pos])}"
    if op == "tanh":
        return "", f"{adj} * (1.0 - {self_ref} * {self_ref})"
    if op == "sigmoid":
        return "", f"{adj} * ({self_ref} * (1.0 - {self_ref}))"
    if op == "sin":
        return "", f"{adj} * cos({ref(args[0])})"
    if op == "exp":
        return "", f"{adj} * {self_ref}"
    raise ValueError(op)


def emit_c(w, path):
    P = w.prefix
    output = w.outputs[0]
    assert len(w.outputs) == 1
    steps, has_adjoint = reverse_sweep(w, output)
    args = [i for i, n in enumerate(w.nodes) if n["op"] in ("input", "param")]
    computed = [i for i, n in enumerate(w.nodes) if n["op"] not in ("input", "param")]
    split = len(computed) > SPLIT_NODES
    lines = [f"/* {w.name}.c: generated by bench/generate.py; the hand-written C baseline for {w.name}.bp.",
             f" * {len(computed)} nodes, {len(steps)} reverse-sweep contributions"
             + (f"; split into functions of {CHUNK} statements that share state through arrays." if split else "."),
             " */", "#include <math.h>", ""]

    if not split:
        def name(i):
            return w.nodes[i]["name"] or f"t{i}"

        def ref(a):
            return name(a[1]) if a[0] == "n" else c_literal(a[1])

        def forward_body():
            body = [f"  const double {name(i)} = in[{w.nodes[i]['index']}];" for i in args]
            body += [f"  const double {name(i)} = {forward_expr(w.nodes[i], ref)};" for i in computed]
            return body

        lines.append(f"void {P}_forward(const double *in, double *out) {{")
        lines += forward_body()
        lines += [f"  out[0] = {name(output)};", "}", ""]
        lines.append(f"void {P}_gradient(const double *in, double *out, double *grad) {{")
        lines += forward_body()
        lines += [f"  out[0] = {name(output)};", "  /* reverse sweep: one adjoint per node */",
                  f"  double g_{name(output)} = 1.0;"]
        for i, pos, x, first in steps:
            sign, expr = contribution(w.nodes[i], pos, ref, name(i), f"g_{name(i)}")
            if first:
                lines.append(f"  double g_{name(x)} = {sign}{expr};")
            else:
                lines.append(f"  g_{name(x)} {sign or '+'}= {expr};")
        for k, i in enumerate(args):
            lines.append(f"  grad[{k}] = {'g_' + name(i) if has_adjoint[i] else '0.0'};")
        lines += ["}", ""]
    else:
        # Chunks of CHUNK statements. Inside a chunk every value and adjoint is a local variable; a value that
        # a later chunk (or the reverse sweep) uses goes through the array v, an adjoint that several chunks
        # touch (and every argument's) through g; arguments are read from `in` where they are used.
        N = len(w.nodes)
        assert args == list(range(len(args)))
        name = lambda i: w.nodes[i]["name"] or f"t{i}"
        fchunk = {i: k // CHUNK for k, i in enumerate(computed)}
        schunk = [k // CHUNK for k in range(len(steps))]
        exported = {output}                      # values a later forward chunk uses
        for i in computed:
            for kind, x in w.nodes[i]["args"]:
                if kind == "n" and x in fchunk and fchunk[x] != fchunk[i]:
                    exported.add(x)
        recorded = set(exported)                 # ... plus the values the reverse sweep reads
        touch = {}                               # adjoint -> the reverse chunks that touch it
        for k, (i, pos, x, first) in enumerate(steps):
            node = w.nodes[i]
            if node["op"] in ("tanh", "sigmoid", "exp"):
                recorded.add(i)
            elif node["op"] == "mul" and node["args"][1 - pos][0] == "n":
                recorded.add(node["args"][1 - pos][1])
            elif node["op"] == "sin":
                recorded.add(node["args"][0][1])
            touch.setdefault(x, set()).add(schunk[k])
            touch.setdefault(i, set()).add(schunk[k])
        local_adjoint = {x for x, chunks in touch.items() if len(chunks) == 1 and x in fchunk}
        recorded -= set(args)

        def forward_chunk(k, stores):
            def ref(a):
                if a[0] == "c":
                    return c_literal(a[1])
                x = a[1]
                return f"in[{x}]" if x not in fchunk else name(x) if fchunk[x] == k else f"v[{x}]"
            body = []
            for i in computed[k * CHUNK:(k + 1) * CHUNK]:
                body.append(f"  const double {name(i)} = {forward_expr(w.nodes[i], ref)};")
                if i in stores:
                    body.append(f"  v[{i}] = {name(i)};")
            return body

        def vref(a):
            if a[0] == "c":
                return c_literal(a[1])
            return f"in[{a[1]}]" if a[1] not in fchunk else f"v[{a[1]}]"

        def adj(x):
            return f"g_{name(x)}" if x in local_adjoint else f"g[{x}]"

        nf = (len(computed) + CHUNK - 1) // CHUNK
        nr = (len(steps) + CHUNK - 1) // CHUNK
        for k in range(nf):
            lines += [f"__attribute__((noinline)) static void forward_{k}(const double *restrict in, "
                      "double *restrict v) {"] + forward_chunk(k, exported) + ["}", ""]
        for k in range(nf):
            lines += [f"__attribute__((noinline)) static void record_{k}(const double *restrict in, "
                      "double *restrict v) {"] + forward_chunk(k, recorded) + ["}", ""]
        for k in range(nr):
            lines.append(f"__attribute__((noinline)) static void reverse_{k}(const double *restrict in, "
                         "const double *restrict v, double *restrict g) {")
            if output in local_adjoint and k == 0:
                lines.append(f"  double {adj(output)} = 1.0;")
            for i, pos, x, first in steps[k * CHUNK:(k + 1) * CHUNK]:
                sign, expr = contribution(w.nodes[i], pos, vref, f"v[{i}]", adj(i))
                if first:
                    decl = "double " if x in local_adjoint else ""
                    lines.append(f"  {decl}{adj(x)} = {sign}{expr};")
                else:
                    lines.append(f"  {adj(x)} {sign or '+'}= {expr};")
            lines += ["}", ""]
        lines += [f"void {P}_forward(const double *in, double *out) {{", f"  double v[{N}];"]
        lines += [f"  forward_{k}(in, v);" for k in range(nf)]
        lines += [f"  out[0] = v[{output}];", "}", ""]
        lines += [f"void {P}_gradient(const double *in, double *out, double *grad) {{",
                  f"  double v[{N}], g[{N}];"]
        lines += [f"  record_{k}(in, v);" for k in range(nf)]
        lines.append(f"  out[0] = v[{output}];")
        if output not in local_adjoint:
            lines.append(f"  g[{output}] = 1.0;")
        lines += [f"  reverse_{k}(in, v, g);" for k in range(nr)]
        for k, i in enumerate(args):
            lines.append(f"  grad[{k}] = {f'g[{i}]' if has_adjoint[i] else '0.0'};")
        lines += ["}", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return split, len(steps)


# ---------------------------------------------------------------------------------------------------------
# The operation list for ADOL-C: `in K`, `out M`, then one line per computed node, `OP A [B]`, where an
# operand is a node index (arguments are 0..K-1, in `in` order) or `c:VALUE`; then `output INDEX` lines.


def emit_ops(w, path):
    args = [i for i, n in enumerate(w.nodes) if n["op"] in ("input", "param")]
    assert args == list(range(len(args)))
    lines = [f"in {len(args)}", f"out {len(w.outputs)}"]
    for n in w.nodes[len(args):]:
        lines.append(" ".join([n["op"]] + [str(x) if k == "n" else f"c:{x!r}" for k, x in n["args"]]))
    lines += [f"output {o}" for o in w.outputs]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def generate(name, outdir):
    w = build(name)
    with open(os.path.join(outdir, f"{name}.bp"), "w") as f:
        f.write("\n".join(w.statements) + "\n")
    split, contributions = emit_c(w, os.path.join(outdir, f"{name}.c"))
    emit_ops(w, os.path.join(outdir, f"{name}.ops"))
    with open(os.path.join(outdir, f"{name}.in"), "w") as f:
        f.write("".join(repr(v) + "\n" for v in w.values))
    meta = {"name": name, "prefix": w.prefix, "num_in": len(w.values), "num_out": len(w.outputs),
            "nodes": sum(1 for n in w.nodes if n["op"] not in ("input", "param")),
            "contributions": contributions, "split": split, "dead": len(getattr(w, "dead", []))}
    with open(os.path.join(outdir, f"{name}.json"), "w") as f:
        json.dump(meta, f)
    return meta


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    outdir, names = argv[1], argv[2:] or ALL_WORKLOADS
    os.makedirs(outdir, exist_ok=True)
    for name in names:
        if name not in ALL_WORKLOADS:
            sys.exit(f"unknown workload {name!r}; one of {', '.join(ALL_WORKLOADS)}")
        meta = generate(name, outdir)
        print(json.dumps(meta))


if __name__ == "__main__":
    main(sys.argv)
