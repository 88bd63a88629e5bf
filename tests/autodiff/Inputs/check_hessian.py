"""check_hessian.py rows H ROWS | check H ROWS: further.bp's Hessian (run --hessian loss --json) against central
differences of its gradient. `rows` prints a CSV whose rows move one element of X or W by +h, then by -h (for the
script with W an input, so that --data can bind it); `check` compares H with (grad(+h) - grad(-h)) / 2h from run
--grad --json --per-row on those rows, and checks that H is symmetric (up to rounding: d2/dA dB and d2/dB dA
add their terms in different orders)."""
import json
import sys

X = [[2, 4, -2]]
W = [[0.5, -0.3], [0.1, 0.8], [-0.6, 0.2]]
H = 1e-5
names = [("X", r, c) for r in range(1) for c in range(3)] + [("W", r, c) for r in range(3) for c in range(2)]


def point():
    return {"X": [row[:] for row in X], "W": [row[:] for row in W]}


def flat(value):
    return [x for item in value for x in flat(item)] if isinstance(value, list) else [value]


if sys.argv[1] == "rows":
    print(",".join(f"{n}[{r},{c}]" for n, r, c in names))
    for n, r, c in names:
        for sign in (1, -1):
            p = point()
            p[n][r][c] += sign * H
            print(",".join(repr(p[m][i][j]) for m, i, j in names))
    sys.exit(0)

hessian = json.load(open(sys.argv[2]))["hessian"]["loss"]
rows = [json.loads(line)["gradients"]["loss"] for line in open(sys.argv[3])]
worst = 0.0
for k, (n, r, c) in enumerate(names):  # the row of d2loss / d(n[r,c]) d(everything)
    plus, minus = rows[2 * k], rows[2 * k + 1]
    for m in ("X", "W"):
        numeric = [(a - b) / (2 * H) for a, b in zip(flat(plus[m]), flat(minus[m]))]
        shape = len(W[0]) if n == "W" else len(X[0])
        block = flat(hessian[n][m])
        analytic = block[(r * shape + c) * len(numeric):(r * shape + c + 1) * len(numeric)]
        worst = max([worst] + [abs(a - b) / max(1, abs(b)) for a, b in zip(analytic, numeric)])
sizes = {"X": 3, "W": 6}
symmetric = all(abs(a - b) <= 1e-14 * max(1, abs(a))
                for n in sizes for m in sizes for i in range(sizes[n]) for j in range(sizes[m])
                for a, b in [(flat(hessian[n][m])[i * sizes[m] + j], flat(hessian[m][n])[j * sizes[n] + i])])
print("central differences: " + ("within 1e-6" if worst <= 1e-6 else f"DIFFER by {worst}"))
print("symmetric: " + ("within 1e-14" if symmetric else "NO"))
