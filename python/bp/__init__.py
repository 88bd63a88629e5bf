"""bp: compile a backpropagation script in this process and call its forward and gradient functions.

    import bp
    m = bp.compile("input a = 5\\ninput b = -6\\ninput c = 7\\nnode d = a + b\\nnode f = d * c\\noutput f\\n")
    m.forward()                    # {'f': -7.0}: every argument not given takes the script's value
    out, grad = m.gradient(a=1.5)  # grad['f']['a'] == 7.0: d f / d a
    grad['f']['c']                 # -4.5
    m = bp.load("nested.so")       # a model built by `bpc build nested.bp --shared`: no compiler needed

Values are float64. A scalar comes back as a numpy.float64 (a Python float that also has .shape == () and
.dtype), a tensor as a numpy.ndarray of its declared shape; the gradient of output o by argument x has shape
o.shape + x.shape (a tensor output's Jacobian). An argument takes anything numpy.asarray turns into its exact
shape (a number for a scalar); another shape raises ValueError naming the argument and both shapes.

The package is a ctypes binding of bp's C API (compiler/include/bp/bp.h) in libbp.so, which it takes from the
first of: the path in the environment variable BP_LIBRARY; libbp.so beside this file (the installed layout,
`cmake --install`); build/python/libbp.so of the source tree this file sits in (`cmake -B build`).

Threads: any number of threads may call forward and gradient on one model at once. The compiled code runs
without the GIL; each thread keeps its own arrays for a model's in, out and grad (ctypes calls bound to their
addresses, which makes a call on nested.bp cost about 3 us: bench/python_call.py).
"""
import collections
import ctypes
import functools
import operator
import os
import threading

import numpy as np

__all__ = ["compile", "compile_file", "load", "Model", "Argument", "Output", "CompileError", "library_path"]


class CompileError(Exception):
    """A script that did not compile (or could not be read). str() is every diagnostic as bpc prints it:
    "name:line:col: error: ...", the line and a caret."""


Argument = collections.namedtuple("Argument", "name shape kind has_default")
Argument.__doc__ = """An input or param: its name, its shape (a tuple; () for a scalar), kind 'input' or 'param',
and whether the script gives it a value (None for a model from bp.load: a shared object does not say)."""
Output = collections.namedtuple("Output", "name shape")
Output.__doc__ = "An output: its name and its shape."


def _find_library():
    chosen = os.environ.get("BP_LIBRARY")
    if chosen:
        if not os.path.isfile(chosen):
            raise ImportError("bp: BP_LIBRARY names %s, which is not a file" % chosen)
        return chosen
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.path.normpath(os.path.join(here, *parts))
                  for parts in (["libbp.so"], [os.pardir, os.pardir, "build", "python", "libbp.so"])]
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise ImportError("bp: libbp.so not found: set BP_LIBRARY to its path (looked for %s)" % ", ".join(candidates))


library_path = _find_library()
_lib = ctypes.CDLL(library_path)

_size = ctypes.c_size_t
_sizep = ctypes.POINTER(_size)
_ptr = ctypes.c_void_p
_status = ctypes.c_int
_OK, _COMPILE_ERROR, _NOT_FOUND = 0, 2, 5


def _declare(name, restype, *argtypes):
    function = getattr(_lib, name)
    function.restype = restype
    function.argtypes = argtypes
    return function


_declare("bp_status_message", ctypes.c_char_p, _status)
_declare("bp_options_create", _status, ctypes.POINTER(_ptr))
_declare("bp_options_set_opt_level", _status, _ptr, ctypes.c_int)
_declare("bp_options_set_gradient", _status, _ptr, ctypes.c_int)
_declare("bp_options_add_of", _status, _ptr, ctypes.c_char_p)
_declare("bp_options_add_wrt", _status, _ptr, ctypes.c_char_p)
_declare("bp_options_free", None, _ptr)
_declare("bp_compile_string", _status, ctypes.c_char_p, ctypes.c_char_p, _ptr, ctypes.POINTER(_ptr),
         ctypes.POINTER(_ptr))
_declare("bp_compile_file", _status, ctypes.c_char_p, _ptr, ctypes.POINTER(_ptr), ctypes.POINTER(_ptr))
_declare("bp_model_free", None, _ptr)
_declare("bp_error_message", ctypes.c_char_p, _ptr)
_declare("bp_error_free", None, _ptr)
for _what in ("in_size", "out_size", "grad_rows", "grad_cols", "num_args", "num_outputs"):
    _declare("bp_model_" + _what, _status, _ptr, _sizep)
for _what in ("arg", "output"):
    _declare("bp_model_%s_name" % _what, _status, _ptr, _size, ctypes.POINTER(ctypes.c_char_p))
    _declare("bp_model_%s_rank" % _what, _status, _ptr, _size, _sizep)
    _declare("bp_model_%s_shape" % _what, _status, _ptr, _size, ctypes.POINTER(ctypes.c_int64), _size)
    _declare("bp_model_%s_offset" % _what, _status, _ptr, _size, _sizep)
_declare("bp_model_arg_kind", _status, _ptr, _size, ctypes.POINTER(ctypes.c_int))
_declare("bp_model_arg_has_default", _status, _ptr, _size, ctypes.POINTER(ctypes.c_int))
_declare("bp_model_arg_grad_col", _status, _ptr, _size, _sizep)
_declare("bp_model_output_grad_row", _status, _ptr, _size, _sizep)
_declare("bp_model_defaults", _status, _ptr, _ptr, _size)
_forward = _declare("bp_model_forward", _status, _ptr, _ptr, _size, _ptr, _size)
_gradient = _declare("bp_model_gradient", _status, _ptr, _ptr, _size, _ptr, _size, _ptr, _size)


def _check(status):
    if status:
        raise RuntimeError(_lib.bp_status_message(status).decode())


def _query(function, *args, ctype=_size):
    """The value a bp_model_* query writes through its last parameter."""
    result = ctype()
    _check(function(*args, ctypes.byref(result)))
    return result.value


def _optional_query(function, *args):
    """The same for a grad row or column: None where the model does not differentiate that value."""
    result = _size()
    status = function(*args, ctypes.byref(result))
    if status == _NOT_FOUND:
        return None
    _check(status)
    return result.value


def _shape(function, handle, index, rank):
    shape = (ctypes.c_int64 * max(rank, 1))()
    _check(function(handle, index, shape, rank))
    return tuple(shape[:rank])


class _Layout:
    """Where each argument and output sits in the flat arrays in, out and grad (bp.h's layout): what a Model
    needs besides its two functions."""

    def __init__(self, arguments, outputs, arg_offsets, out_offsets, grad_cols, grad_rows, in_size, out_size,
                 grad_shape, defaults):
        self.arguments, self.outputs = tuple(arguments), tuple(outputs)
        self.in_size, self.out_size, self.grad_shape = in_size, out_size, grad_shape
        self.defaults = defaults
        # name -> (offset, size, shape), for filling `in`
        self.slots = {a.name: (o, int(np.prod(a.shape, dtype=np.int64)), a.shape)
                      for a, o in zip(arguments, arg_offsets)}
        self.arg_readers = [_reader(o, a.shape) for a, o in zip(arguments, arg_offsets)]
        self.out_readers = [(o.name, _reader(off, o.shape)) for o, off in zip(outputs, out_offsets)]
        self.grad_readers = [(o.name, [(a.name, _block_reader(row, col, grad_shape[1], o.shape, a.shape))
                                       for a, col in zip(arguments, grad_cols) if col is not None])
                             for o, row in zip(outputs, grad_rows) if row is not None]

    @classmethod
    def of_model(cls, handle):
        """The layout of a bp_model, read through the C API."""
        lib = _lib
        arguments, arg_offsets, grad_cols = [], [], []
        for i in range(_query(lib.bp_model_num_args, handle)):
            rank = _query(lib.bp_model_arg_rank, handle, i)
            kind = _query(lib.bp_model_arg_kind, handle, i, ctype=ctypes.c_int)
            arguments.append(Argument(_query(lib.bp_model_arg_name, handle, i, ctype=ctypes.c_char_p).decode(),
                                      _shape(lib.bp_model_arg_shape, handle, i, rank),
                                      "param" if kind == 1 else "input",
                                      bool(_query(lib.bp_model_arg_has_default, handle, i, ctype=ctypes.c_int))))
            arg_offsets.append(_query(lib.bp_model_arg_offset, handle, i))
            grad_cols.append(_optional_query(lib.bp_model_arg_grad_col, handle, i))
        outputs, out_offsets, grad_rows = [], [], []
        for i in range(_query(lib.bp_model_num_outputs, handle)):
            rank = _query(lib.bp_model_output_rank, handle, i)
            outputs.append(Output(_query(lib.bp_model_output_name, handle, i, ctype=ctypes.c_char_p).decode(),
                                  _shape(lib.bp_model_output_shape, handle, i, rank)))
            out_offsets.append(_query(lib.bp_model_output_offset, handle, i))
            grad_rows.append(_optional_query(lib.bp_model_output_grad_row, handle, i))
        in_size = _query(lib.bp_model_in_size, handle)
        defaults = np.empty(in_size)
        _check(lib.bp_model_defaults(handle, defaults.ctypes.data, in_size))
        defaults.flags.writeable = False
        grad_shape = (_query(lib.bp_model_grad_rows, handle), _query(lib.bp_model_grad_cols, handle))
        return cls(arguments, outputs, arg_offsets, out_offsets, grad_cols, grad_rows, in_size,
                   _query(lib.bp_model_out_size, handle), grad_shape, defaults)


def _reader(offset, shape):
    """How a result is taken from a flat array that the next call overwrites: a numpy.float64 for a scalar,
    else a fresh array of its shape."""
    if not shape:
        return operator.itemgetter(offset)
    end = offset + int(np.prod(shape, dtype=np.int64))
    return lambda flat: flat[offset:end].copy().reshape(shape)


def _block_reader(row, col, columns, output_shape, argument_shape):
    """The same for d output / d argument in the flat gradient of `columns` columns: its block, of shape
    output.shape + argument.shape."""
    if not output_shape and not argument_shape:
        return _reader(row * columns + col, ())
    rows, cols = int(np.prod(output_shape, dtype=np.int64)), int(np.prod(argument_shape, dtype=np.int64))
    return lambda flat: (flat.reshape(-1, columns)[row:row + rows, col:col + cols].copy()
                         .reshape(output_shape + argument_shape))


class _Workspace:
    """One thread's arrays for one model's calls, with the calls bound to their addresses once (asking NumPy
    for an address costs more than the call itself)."""

    def __init__(self, layout, bind_forward, bind_gradient):
        self.flat_in = np.empty(layout.in_size)
        self.out = np.empty(layout.out_size)
        self.grad = np.empty(layout.grad_shape[0] * layout.grad_shape[1])
        in_, out, grad = (ctypes.c_void_p(a.ctypes.data) for a in (self.flat_in, self.out, self.grad))
        self.forward = bind_forward(in_, out)
        self.gradient = bind_gradient(in_, out, grad) if bind_gradient else None


class Model:
    """A compiled script (bp.compile, bp.compile_file).

    arguments: every input, then every param, in declaration order (Argument: name, shape, kind, has_default).
    outputs: every output (Output: name, shape).
    """

    def __init__(self, layout, bind_forward, bind_gradient, close=None):
        """A model from its layout and its two functions, forward(in, out) and gradient(in, out, grad) over
        contiguous float64 arrays laid out as bp.h says. bind_forward(in, out) and bind_gradient(in, out, grad)
        take the arrays' addresses (ctypes.c_void_p) and return a call without arguments that runs the function
        on them and returns 0 or None on success, else a bp_status; bind_gradient is None for a model without
        its gradient. close() is called once when the model is dropped. bp.compile binds the C API's
        bp_model_forward and bp_model_gradient; the functions of a model built as a shared library would bind
        the same way."""
        self._layout, self._bind_forward, self._bind_gradient, self._close = layout, bind_forward, bind_gradient, close
        self._local = threading.local()
        self.arguments, self.outputs = layout.arguments, layout.outputs

    def __del__(self):
        close, self._close = getattr(self, "_close", None), None
        if close:
            close()

    def __repr__(self):
        describe = lambda values: ", ".join(v.name + (str(list(v.shape)) if v.shape else "") for v in values)
        return "<bp.Model (%s) -> (%s)>" % (describe(self.arguments), describe(self.outputs))

    @property
    def has_gradient(self):
        return self._bind_gradient is not None

    def defaults(self, kind=None):
        """The script's values of the arguments (0 for an input declared without one), as a dict of fresh
        values; kind='input' or 'param' keeps those alone."""
        flat = self._layout.defaults
        return {a.name: read(flat) for a, read in zip(self.arguments, self._layout.arg_readers)
                if kind is None or a.kind == kind}

    def _workspace(self, values):
        """This thread's workspace, its `in` holding the script's defaults overwritten by `values` (name ->
        number or array)."""
        workspace = getattr(self._local, "workspace", None)
        if workspace is None:
            workspace = self._local.workspace = _Workspace(self._layout, self._bind_forward, self._bind_gradient)
        flat = workspace.flat_in
        slots = self._layout.slots
        if len(values) < len(slots):  # else every argument is given
            flat[:] = self._layout.defaults
        for name, value in values.items():
            slot = slots.get(name)
            if slot is None:
                raise TypeError("the model has no argument '%s' (its arguments: %s)"
                                % (name, ", ".join(a.name for a in self.arguments)))
            offset, size, shape = slot
            if not shape and type(value) in (float, int):  # the common case, without numpy
                flat[offset] = value
                continue
            array = np.asarray(value, dtype=np.float64)
            if array.shape != shape:
                raise ValueError("argument '%s' has shape %s, but the value given has shape %s"
                                 % (name, list(shape), list(array.shape)))
            flat[offset:offset + size] = array.ravel()
        return workspace

    def forward(self, **inputs):
        """Every output at the given arguments (the others take the script's values), as a dict by name."""
        workspace = self._workspace(inputs)
        _check(workspace.forward())
        out = workspace.out
        return {name: read(out) for name, read in self._layout.out_readers}

    def gradient(self, **inputs):
        """(outputs, gradients): the outputs as forward gives them, and gradients[o][x], the derivative of
        output o by argument x, of shape o.shape + x.shape, for every output and argument differentiated (all
        of them unless compiled with `of` or `wrt`)."""
        workspace = self._workspace(inputs)
        if workspace.gradient is None:
            raise RuntimeError("the model was compiled without its gradient (gradient=False)")
        _check(workspace.gradient())
        out, grad = workspace.out, workspace.grad
        return ({name: read(out) for name, read in self._layout.out_readers},
                {name: {argument: read(grad) for argument, read in readers}
                 for name, readers in self._layout.grad_readers})


def _options(of, wrt, opt_level, gradient):
    options = _ptr()
    _check(_lib.bp_options_create(ctypes.byref(options)))
    try:
        _check(_lib.bp_options_set_opt_level(options, opt_level))
        _check(_lib.bp_options_set_gradient(options, int(bool(gradient))))
        for name in [of] if isinstance(of, str) else of or ():
            _check(_lib.bp_options_add_of(options, name.encode()))
        for name in [wrt] if isinstance(wrt, str) else wrt or ():
            _check(_lib.bp_options_add_wrt(options, name.encode()))
    except BaseException:
        _lib.bp_options_free(options)
        raise
    return options


def _finish(compile_call, of, wrt, opt_level, gradient):
    if opt_level not in (0, 1, 2, 3):
        raise ValueError("opt_level must be 0, 1, 2 or 3, not %r" % (opt_level,))
    options = _options(of, wrt, opt_level, gradient)
    handle, error = _ptr(), _ptr()
    try:
        status = compile_call(options, ctypes.byref(handle), ctypes.byref(error))
    finally:
        _lib.bp_options_free(options)
    if status == _COMPILE_ERROR:
        message = _lib.bp_error_message(error).decode("utf-8", "replace")
        _lib.bp_error_free(error)
        raise CompileError(message.rstrip("\n"))
    _check(status)
    try:
        layout = _Layout.of_model(handle)
    except BaseException:
        _lib.bp_model_free(handle)
        raise
    sizes = [ctypes.c_size_t(n) for n in (layout.in_size, layout.out_size, np.prod(layout.grad_shape))]
    bind_forward = lambda in_, out: functools.partial(_forward, handle, in_, sizes[0], out, sizes[1])
    bind_gradient = lambda in_, out, grad: functools.partial(_gradient, handle, in_, sizes[0], out, sizes[1],
                                                             grad, sizes[2])
    return Model(layout, bind_forward, bind_gradient if gradient else None,
                 lambda free=_lib.bp_model_free: free(handle))


def compile(source, name="<string>", of=None, wrt=None, opt_level=2, gradient=True):
    """Compiles the script `source` (named `name` in diagnostics) to a Model, or raises CompileError.

    of: the outputs to differentiate (a name or a list; bpc's --of), wrt: the inputs and params to differentiate
    by (--wrt); None: every one. opt_level: LLVM's -O0 to -O3. gradient=False compiles the forward function
    alone."""
    return _finish(lambda options, handle, error: _lib.bp_compile_string(source.encode(), name.encode(), options,
                                                                         handle, error), of, wrt, opt_level, gradient)


def compile_file(path, of=None, wrt=None, opt_level=2, gradient=True):
    """Compiles the script at `path` (its name in diagnostics), as compile does."""
    return _finish(lambda options, handle, error: _lib.bp_compile_file(os.fsencode(path), options, handle, error),
                   of, wrt, opt_level, gradient)


def load(path):
    """The model in the shared object at `path`, built by `bpc build SCRIPT --shared`: its layout comes from the
    object's own metadata functions (bp_prefix(), then PREFIX_num_args(), PREFIX_arg_name(i), ...), so neither
    the header nor a compiler is needed, and forward and gradient call PREFIX_forward and PREFIX_gradient
    directly (gradient only where the object has PREFIX_gradient). Argument.has_default is None: the object does
    not say. Raises OSError if the file cannot be loaded and ValueError if bpc did not build it."""
    library = ctypes.CDLL(os.path.abspath(path))
    try:
        prefix_function = library.bp_prefix
    except AttributeError:
        raise ValueError("%s has no bp_prefix(): it was not built by `bpc build --shared`" % path) from None
    prefix_function.restype, prefix_function.argtypes = ctypes.c_char_p, ()
    prefix = prefix_function().decode()

    def function(name, restype, *argtypes):
        found = getattr(library, "%s_%s" % (prefix, name))
        found.restype, found.argtypes = restype, argtypes
        return found

    long, index = ctypes.c_long, (ctypes.c_long,)
    shape_of = lambda what: (lambda i, rank=function(what + "_rank", long, *index),
                             shape=function(what + "_shape", ctypes.POINTER(long), *index):
                             tuple(shape(i)[:rank(i)]))
    optional = lambda value: None if value < 0 else value
    arg_name, arg_kind = function("arg_name", ctypes.c_char_p, *index), function("arg_kind", ctypes.c_int, *index)
    arg_offset, arg_col = function("arg_offset", long, *index), function("arg_grad_col", long, *index)
    arg_shape = shape_of("arg")
    count = function("num_args", long)()
    arguments = [Argument(arg_name(i).decode(), arg_shape(i), "param" if arg_kind(i) == 1 else "input", None)
                 for i in range(count)]
    arg_offsets = [arg_offset(i) for i in range(count)]
    grad_cols = [optional(arg_col(i)) for i in range(count)]
    out_name, out_offset = function("out_name", ctypes.c_char_p, *index), function("out_offset", long, *index)
    out_row, out_shape = function("out_grad_row", long, *index), shape_of("out")
    count = function("num_outputs", long)()
    outputs = [Output(out_name(o).decode(), out_shape(o)) for o in range(count)]
    out_offsets = [out_offset(o) for o in range(count)]
    grad_rows = [optional(out_row(o)) for o in range(count)]
    in_size, out_size = function("in_size", long)(), function("out_size", long)()
    defaults = np.array(function("defaults", ctypes.POINTER(ctypes.c_double))()[:in_size], dtype=np.float64)
    defaults.flags.writeable = False
    functions = function("functions", ctypes.c_char_p)().decode().split(",")
    grad_shape = (function("grad_rows", long)(), function("grad_cols", long)()) if "gradient" in functions else (0, 0)
    layout = _Layout(arguments, outputs, arg_offsets, out_offsets, grad_cols, grad_rows, in_size, out_size,
                     grad_shape, defaults)
    forward = function("forward", None, _ptr, _ptr)
    bind_forward = lambda in_, out: functools.partial(forward, in_, out)  # returns None: nothing can fail
    bind_gradient = None
    if "gradient" in functions:
        gradient = function("gradient", None, _ptr, _ptr, _ptr)
        bind_gradient = lambda in_, out, grad: functools.partial(gradient, in_, out, grad)
    return Model(layout, bind_forward, bind_gradient)
