"""check_hvp.py HESSIAN HVP NAME=V...: compares run --hvp's JSON (HVP) with the Hessian of run --hessian --json
(HESSIAN) of the same output: hvp(out)/dA must be the sum over the arguments B of d2 out / dA dB contracted with
B's direction (a number fills the argument; arguments not named have direction 0), element by element, to 1e-12
relative. Prints one line per argument: its name and the largest relative difference, or DIFFERS."""
import json
import sys

hessian, hvp = (json.load(open(path)) for path in sys.argv[1:3])
directions = {}
for pair in sys.argv[3:]:
    name, value = pair.split("=", 1)
    directions[name] = json.loads(value)


def flat(value):
    return [x for item in value for x in flat(item)] if isinstance(value, list) else [value]


(out, products), = hvp["hvp"].items()
for a, value in products.items():
    got = flat(value)
    expected, scale = [0.0] * len(got), [1.0] * len(got)
    for b, block in hessian["hessian"][out][a].items():
        entries = flat(block)
        columns = len(entries) // len(got)
        v = flat(directions.get(b, 0))
        v = v * columns if len(v) == 1 else v
        for r in range(len(got)):
            terms = [h * x for h, x in zip(entries[r * columns:(r + 1) * columns], v)]
            expected[r] += sum(terms)
            scale[r] = max([scale[r]] + [abs(t) for t in terms])
    worst = max(abs(g - e) / s for g, e, s in zip(got, expected, scale))
    print(a + ": " + ("within 1e-12" if worst <= 1e-12 else "DIFFERS by %g" % worst))
