#!/usr/bin/env python3
"""What one call of a compiled gradient costs from Python: bp's m.gradient on nested.bp against PyTorch's
backward() on the same function, f = (a + b) * c at a = 5, b = -6, c = 7, in one run.

Rows, each the median per-call time of --reps repetitions (calls per repetition doubled until one takes
--min-time seconds), the rows interleaved repetition by repetition:
  bp gradient       out, grad = m.gradient(a=5.0, b=-6.0, c=7.0): the inputs as Python floats, the output and the
                    three derivatives back as numpy.float64 in dicts
  bp gradient()     the same with every input at the script's default
  bp forward        m.forward(a=5.0, b=-6.0, c=7.0)
  ctypes floor      bp_model_gradient called through ctypes with its arguments prepared once: what any call
                    from Python through ctypes costs at least
  torch backward    a, b, c float64 tensors with requires_grad, made once; per call the grads reset (None),
                    f = (a + b) * c, f.backward(), and f and the three grads read back as Python floats
  torch fresh       the same with new leaf tensors from the three floats on every call

The ratio is torch backward's time over bp gradient's. Without PyTorch (Debian's python3-torch) the torch rows
are left out and the script says so. Exits 1 if bp's numbers differ from PyTorch's or from the tutorial's
(f = -7, df/da = df/db = 7, df/dc = -1). Usage, from the repository root after building:
  /usr/bin/python3 bench/python_call.py [--library build/python/libbp.so] [--reps 7] [--min-time 0.05]
"""
import argparse
import datetime
import os
import statistics
import sys
import timeit

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def calibrate(timer, min_time):
    number = 1
    while timer.timeit(number) < min_time:
        number *= 2
    return number


def measure(calls, reps, min_time):
    """name -> median seconds per call, the calls interleaved within each repetition."""
    timers = {name: timeit.Timer(call) for name, call in calls.items()}
    numbers = {name: calibrate(timer, min_time) for name, timer in timers.items()}
    samples = {name: [] for name in calls}
    for _ in range(reps):
        for name, timer in timers.items():
            samples[name].append(timer.timeit(numbers[name]) / numbers[name])
    return {name: statistics.median(times) for name, times in samples.items()}


def torch_calls():
    """The PyTorch rows, or None without PyTorch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    leaves = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (5.0, -6.0, 7.0)]

    def backward():
        a, b, c = leaves
        a.grad = b.grad = c.grad = None
        f = (a + b) * c
        f.backward()
        return f.item(), a.grad.item(), b.grad.item(), c.grad.item()

    def fresh(values=(5.0, -6.0, 7.0)):
        a, b, c = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values)
        f = (a + b) * c
        f.backward()
        return f.item(), a.grad.item(), b.grad.item(), c.grad.item()

    return torch.__version__, {"torch backward": backward, "torch fresh": fresh}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", help="libbp.so (default: BP_LIBRARY, else the package's search)")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--min-time", type=float, default=0.05)
    args = parser.parse_args()
    if args.library:
        os.environ["BP_LIBRARY"] = args.library
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import bp

    model = bp.compile_file(os.path.join(ROOT, "examples", "nested.bp"))
    expected = ({"f": -7.0}, {"f": {"a": 7.0, "b": 7.0, "c": -1.0}})
    if model.gradient(a=5.0, b=-6.0, c=7.0) != expected:
        sys.exit("python_call: bp's gradient is not the tutorial's")

    workspace = model._workspace({})
    calls = {"bp gradient": lambda: model.gradient(a=5.0, b=-6.0, c=7.0),
             "bp gradient()": model.gradient,
             "bp forward": lambda: model.forward(a=5.0, b=-6.0, c=7.0),
             "ctypes floor": workspace.gradient}
    torch = torch_calls()
    if torch is None:
        print("PyTorch not found (Debian: apt-get install python3-torch): measuring bp alone")
    else:
        for name, call in torch[1].items():
            if call() != (-7.0, 7.0, 7.0, -1.0):
                sys.exit("python_call: PyTorch's %s differs from bp's gradient" % name)
        calls.update(torch[1])

    times = measure(calls, args.reps, args.min_time)
    print("%s, load average %.1f, %s, bp %s%s" % (
        datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), os.getloadavg()[0], "python " + sys.version.split()[0],
        bp.library_path, ", torch " + torch[0] if torch else ""))
    print("| call | time per call | torch backward / call |")
    print("|---|---|---|")
    for name, seconds in times.items():
        ratio = "%.2fx" % (times["torch backward"] / seconds) if torch else "-"
        print("| %s | %.2f us | %s |" % (name, seconds * 1e6, ratio))
    goal = times["bp gradient"] < 5e-6
    print("bp gradient: %.2f us per call (goal < 5 us: %s)" % (times["bp gradient"] * 1e6, "met" if goal else "missed"))


if __name__ == "__main__":
    main()
