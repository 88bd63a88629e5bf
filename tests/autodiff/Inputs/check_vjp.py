"""check_vjp.py GRAD ROW1 MIX: compares run --vjp's JSON with the Jacobian rows of run --grad --json for
further.bp's outputs yo ([1,2]) and loss: ROW1 holds yo's product with seed [[1,0]], MIX yo's with [[0.5,2]] and
loss's with 3."""
import json
import sys

grad, row1, mix = (json.load(open(path)) for path in sys.argv[1:4])


def flat(value):
    return [x for item in value for x in flat(item)] if isinstance(value, list) else [value]


def row(name, r):  # d yo[0, r] / d name, flat
    return flat(grad["gradients"]["yo"][name][0][r])


names = ["X", "W"]
print("row 1: " + ("exact" if all(flat(row1["vjp"]["yo"][n]) == row(n, 0) for n in names) else "DIFFERS"))
close = all(abs(got - (0.5 * a + 2 * b)) <= 1e-15 * max(1, abs(got))
            for n in names for got, a, b in zip(flat(mix["vjp"]["yo"][n]), row(n, 0), row(n, 1)))
print("0.5 row 1 + 2 row 2: " + ("within 1e-15" if close else "DIFFERS"))
exact = all(flat(mix["vjp"]["loss"][n]) == [3 * g for g in flat(grad["gradients"]["loss"][n])] for n in names)
print("3 dloss: " + ("exact" if exact else "DIFFERS"))
