"""test_bp.py: the bp Python package against bpc: the same numbers bit for bit, shapes, selections, diagnostics,
argument checks, threads, and the XOR example.

Run by ctest (test `python`), which sets PYTHONPATH, BP_LIBRARY and BPC (the bpc to compare with); by hand from
the repository root after building: PYTHONPATH=python python3 -m pytest python/tests
"""
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import bp

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir)
EXAMPLES = os.path.join(ROOT, "examples")
BPC = os.environ.get("BPC", os.path.join(ROOT, "build", "bpc"))

NESTED = os.path.join(EXAMPLES, "nested.bp")
FURTHER = os.path.join(EXAMPLES, "further.bp")
# further.bp's layer with its prediction as a second, tensor output (its gradient is a Jacobian).
LAYER = """input X[1,3] = [[2, 4, -2]]
param W[3,2] = [[0.5, -0.3], [0.1, 0.8], [-0.6, 0.2]]
node yo = sigmoid(X @ W)
node loss = -log(yo[0, 0])
output loss, yo
"""


def bpc_json(path, *options):
    """bpc run PATH --json OPTIONS, parsed (bpc prints every double so that it reads back exactly)."""
    result = subprocess.run([BPC, "run", path, "--json", *options], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def assert_same(value, expected):
    """Equal bit for bit, shape included (expected: bpc's JSON number or nested list)."""
    expected = np.array(expected, dtype=np.float64)
    assert np.shape(value) == expected.shape
    assert np.array_equal(np.asarray(value), expected)


def test_nested_matches_bpc_bit_for_bit():
    model = bp.compile_file(NESTED)
    outputs, gradients = model.gradient()
    assert outputs == {"f": -7.0}
    assert gradients == {"f": {"a": 7.0, "b": 7.0, "c": -1.0}}
    # Another point, against bpc at the same point: the floats compare exactly.
    point = {"a": 0.1, "b": 0.2, "c": 1 / 3}
    outputs, gradients = model.gradient(**point)
    expected = bpc_json(NESTED, "--grad", *("--set=%s=%r" % item for item in point.items()))
    assert outputs == expected["outputs"]
    assert gradients == expected["gradients"]
    assert model.forward(**point) == expected["outputs"]
    # Arguments not given take the script's values again, not the last call's.
    assert model.gradient(c=2.0) == ({"f": -2.0}, {"f": {"a": 2.0, "b": 2.0, "c": -1.0}})
    assert model.forward() == {"f": -7.0}


def test_scalars_are_numpy_float64():
    outputs, gradients = bp.compile_file(NESTED).gradient()
    for value in (outputs["f"], gradients["f"]["a"]):
        assert isinstance(value, np.float64) and isinstance(value, float) and value.shape == ()


def test_description():
    model = bp.compile_file(FURTHER)
    assert model.arguments == (bp.Argument("X", (1, 3), "input", True), bp.Argument("W", (3, 2), "param", True))
    assert model.outputs == (bp.Output("loss", ()),)
    assert repr(model) == "<bp.Model (X[1, 3], W[3, 2]) -> (loss)>"
    defaults = model.defaults()
    assert_same(defaults["W"], [[0.5, -0.3], [0.1, 0.8], [-0.6, 0.2]])
    assert list(model.defaults("input")) == ["X"] and list(model.defaults("param")) == ["W"]
    defaults["W"][0, 0] = 99  # a fresh copy: the model keeps its own
    assert model.defaults()["W"][0, 0] == 0.5
    undeclared = bp.compile("input x\nnode y = 2 * x\noutput y\n")
    assert undeclared.arguments == (bp.Argument("x", (), "input", False),)
    assert undeclared.forward() == {"y": 0.0}


def test_further_tensors_match_bpc():
    model = bp.compile_file(FURTHER)
    outputs, gradients = model.gradient()
    expected = bpc_json(FURTHER, "--grad")
    assert_same(outputs["loss"], expected["outputs"]["loss"])
    assert gradients["loss"]["W"].shape == (3, 2) and gradients["loss"]["X"].shape == (1, 3)
    assert_same(gradients["loss"]["W"], expected["gradients"]["loss"]["W"])
    assert_same(gradients["loss"]["X"], expected["gradients"]["loss"]["X"])


def test_jacobian_of_a_tensor_output_matches_bpc(tmp_path):
    path = tmp_path / "layer.bp"
    path.write_text(LAYER)
    W = np.array([[0.25, -1.0], [2.0, 0.5], [-0.75, 0.125]])
    outputs, gradients = bp.compile_file(str(path)).gradient(W=W)
    expected = bpc_json(str(path), "--grad", "--set=W=" + json.dumps(W.tolist()))
    assert_same(outputs["yo"], expected["outputs"]["yo"])
    assert gradients["yo"]["W"].shape == (1, 2, 3, 2)  # yo.shape + W.shape
    assert gradients["yo"]["X"].shape == (1, 2, 1, 3)
    for output in ("loss", "yo"):
        for argument in ("X", "W"):
            assert_same(gradients[output][argument], expected["gradients"][output][argument])


def test_selection_of_and_wrt():
    full = bp.compile(LAYER).gradient()[1]
    outputs, gradients = bp.compile(LAYER, of="loss", wrt=["W"]).gradient()
    assert list(outputs) == ["loss", "yo"]  # every output is still computed
    assert list(gradients) == ["loss"] and list(gradients["loss"]) == ["W"]
    assert np.array_equal(gradients["loss"]["W"], full["loss"]["W"])
    with pytest.raises(bp.CompileError, match="'nope'.*loss, yo"):
        bp.compile(LAYER, of=["nope"])


def test_forward_only_model():
    model = bp.compile_file(NESTED, gradient=False, opt_level=0)
    assert not model.has_gradient
    assert model.forward(c=2.0) == {"f": -2.0}
    with pytest.raises(RuntimeError, match="without its gradient"):
        model.gradient()
    with pytest.raises(ValueError, match="opt_level"):
        bp.compile_file(NESTED, opt_level=4)


def test_compile_error_is_bpc_diagnostic():
    typo = os.path.join(EXAMPLES, "typo.bp")
    with pytest.raises(bp.CompileError) as raised:
        bp.compile_file(typo)
    check = subprocess.run([BPC, "check", typo], capture_output=True, text=True)
    assert check.returncode == 1 and str(raised.value) == check.stderr.rstrip("\n")
    with pytest.raises(bp.CompileError) as raised:
        bp.compile("input a = 5\nnode f = a * e\noutput f\n", name="typo.bp")
    assert str(raised.value) == ("typo.bp:2:14: error: use of undefined name 'e'\n"
                                 "node f = a * e\n"
                                 "             ^")
    with pytest.raises(bp.CompileError, match="<string>:1:"):
        bp.compile("node = 1\n")
    with pytest.raises(bp.CompileError, match="no-such-file.bp"):
        bp.compile_file(os.path.join(EXAMPLES, "no-such-file.bp"))


def test_wrong_shapes_and_names():
    model = bp.compile(LAYER)
    with pytest.raises(ValueError, match=r"argument 'W' has shape \[3, 2\], but the value given has shape \[2, 3\]"):
        model.gradient(W=np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"argument 'X' has shape \[1, 3\], but the value given has shape \[\]"):
        model.forward(X=1.0)
    with pytest.raises(ValueError, match=r"argument 'a' has shape \[\], but the value given has shape \[1\]"):
        bp.compile_file(NESTED).forward(a=[1.0])
    with pytest.raises(TypeError, match="no argument 'w'.*X, W"):
        model.forward(w=1.0)
    # Lists, integers and 0-d arrays are taken as float64.
    assert model.forward(X=[[2, 4, -2]])["loss"] == model.forward()["loss"]
    assert bp.compile_file(NESTED).forward(a=np.array(5), b=-6, c=np.float32(7)) == {"f": -7.0}


def test_results_are_fresh_arrays():
    model = bp.compile(LAYER)
    outputs, gradients = model.gradient()
    kept = outputs["yo"].copy(), gradients["yo"]["W"].copy()
    model.gradient(W=np.ones((3, 2)))  # the next call does not write into earlier results
    assert np.array_equal(outputs["yo"], kept[0]) and np.array_equal(gradients["yo"]["W"], kept[1])


def test_threads_call_gradient_at_once():
    model = bp.compile(LAYER)
    rng = np.random.default_rng(0)
    points = [rng.normal(size=(3, 2)) for _ in range(16)]
    expected = [model.gradient(W=W) for W in points]
    failures = []

    def work(thread):
        for step in range(200):
            i = (thread + step) % len(points)
            outputs, gradients = model.gradient(W=points[i])
            if not (np.array_equal(outputs["yo"], expected[i][0]["yo"])
                    and np.array_equal(gradients["yo"]["W"], expected[i][1]["yo"]["W"])):
                failures.append((thread, step))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_xor_example_trains_as_the_c_demo_does():
    """examples/python/xor_train.py prints what examples/embed (the same training in C) prints."""
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, "python", "xor_train.py")],
                            capture_output=True, text=True, check=True)
    assert result.stdout == ("mean loss after 2000 steps: 0.003491\n"
                             "xor(0, 0) = 0.0255 (want 0)\n"
                             "xor(0, 1) = 0.9382 (want 1)\n"
                             "xor(1, 0) = 0.9392 (want 1)\n"
                             "xor(1, 1) = 0.0762 (want 0)\n")


def shared_object(tmp_path, script, *options):
    """`bpc build SCRIPT --shared` into tmp_path: the .so's path."""
    path = tmp_path / (os.path.splitext(os.path.basename(script))[0] + "".join(options).replace("-", "_") + ".so")
    subprocess.run([BPC, "build", script, "--shared", "-o", str(path), *options], check=True, cwd=tmp_path)
    return str(path)


def test_load_reads_a_shared_object_without_its_header(tmp_path):
    layer = tmp_path / "layer.bp"
    layer.write_text(LAYER)
    W = np.array([[0.25, -1.0], [2.0, 0.5], [-0.75, 0.125]])
    for script, point in ((NESTED, {"a": 0.1, "c": 1 / 3}), (FURTHER, {}), (str(layer), {"W": W})):
        loaded, compiled = bp.load(shared_object(tmp_path, script)), bp.compile_file(script)
        assert [(a.name, a.shape, a.kind) for a in loaded.arguments] == \
            [(a.name, a.shape, a.kind) for a in compiled.arguments]
        assert loaded.outputs == compiled.outputs
        for name, value in compiled.defaults().items():
            assert np.array_equal(loaded.defaults()[name], value)
        (out, grad), (expected_out, expected_grad) = loaded.gradient(**point), compiled.gradient(**point)
        assert out.keys() == expected_out.keys() and grad.keys() == expected_grad.keys()
        for name in out:  # bit for bit: the same code, compiled by bpc build and by the JIT
            assert np.array_equal(out[name], expected_out[name])
            for argument in grad[name]:
                assert np.array_equal(grad[name][argument], expected_grad[name][argument])
        assert loaded.forward(**point).keys() == expected_out.keys()


def test_load_follows_the_selection_and_refuses_other_objects(tmp_path):
    layer = tmp_path / "layer.bp"
    layer.write_text(LAYER)
    loaded = bp.load(shared_object(tmp_path, str(layer), "--of", "loss", "--wrt", "W"))
    outputs, gradients = loaded.gradient()
    assert list(outputs) == ["loss", "yo"]
    assert list(gradients) == ["loss"] and list(gradients["loss"]) == ["W"]
    assert np.array_equal(gradients["loss"]["W"], bp.compile(LAYER).gradient()[1]["loss"]["W"])
    forward_only = bp.load(shared_object(tmp_path, NESTED, "--emit-fn", "jvp"))
    assert not forward_only.has_gradient and forward_only.forward() == {"f": -7.0}
    with pytest.raises(ValueError, match="not built by `bpc build --shared`"):
        bp.load(bp.library_path)  # a shared object, but not a model
    with pytest.raises(OSError):
        bp.load(str(tmp_path / "missing.so"))
