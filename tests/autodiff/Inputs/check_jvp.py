"""check_jvp.py GRAD JVP NAME=TANGENT...: compares run --jvp's JSON (JVP) with the Jacobian of run --grad --json
(GRAD): for every output, jvp(out) must be the sum over the arguments of d out / d arg contracted with arg's
tangent (a number fills the argument; arguments not named have tangent 0), element by element, to 1e-14
relative. Prints one line per output: its name and the largest relative difference, or DIFFERS."""
import json
import sys

grad, jvp = (json.load(open(path)) for path in sys.argv[1:3])
tangents = {}
for pair in sys.argv[3:]:
    name, value = pair.split("=", 1)
    tangents[name] = json.loads(value)


def flat(value):
    return [x for item in value for x in flat(item)] if isinstance(value, list) else [value]


for out, value in jvp["jvp"].items():
    got = flat(value)
    expected = [0.0] * len(got)
    for name, jacobian in grad["gradients"][out].items():
        entries = flat(jacobian)
        columns = len(entries) // len(got)
        tangent = flat(tangents.get(name, 0))
        tangent = tangent * columns if len(tangent) == 1 else tangent
        for r in range(len(got)):
            expected[r] += sum(j * t for j, t in zip(entries[r * columns:(r + 1) * columns], tangent))
    worst = max(abs(g - e) / max(1.0, abs(e)) for g, e in zip(got, expected))
    print(out + ": " + ("within 1e-14" if worst <= 1e-14 else "DIFFERS by %g" % worst))
