#!/usr/bin/python3
"""Build ptmscope's allowlist of Python globals from the real libraries.

Run with Debian's python (it has torch, numpy, scikit-learn and joblib):

    /usr/bin/python3 scripts/gen-allowlist.py

Writes (both committed, both deterministic so a re-run gives a clean diff):
  src/scan/policy/allowlist.json        ecosystem -> sorted "module.qualname" entries
  test/scan/policy/real-globals.json    every global seen in real benign pickles made here

How the lists are made, per ecosystem:
  * Entries are read off the installed libraries (weights_only allowlist, module
    walks, scalar types ...), plus a few SUPPLEMENT lists: names that newer
    releases than the installed ones write into pickles (the installed torch is
    1.13 and numpy 1.24; files on model hubs come from torch 2.x / numpy 2.x).
    Each supplement says where its names come from.
  * Then real objects are pickled (torch.save zip + legacy, torch.jit.save,
    pickle.dumps at protocols 0-5, joblib.dump) and every GLOBAL/STACK_GLOBAL in
    the streams is collected. A seen global that is not allowlisted stops the
    script, unless it is listed in EXPECTED_NOT_ALLOWED with the reason.
  * Nothing malicious is created or loaded here. The only unpickling is of the
    benign joblib files this script itself just wrote (joblib interleaves raw
    array bytes with the pickle opcodes, so the stream cannot be walked with
    pickletools alone).

The scanner never imports any of these libraries; it only compares names.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import decimal
import fractions
import importlib
import inspect
import io
import json
import os
import pathlib
import pickle
import pickletools
import pkgutil
import platform
import sys
import tempfile
import types
import uuid
import warnings
import zipfile

warnings.filterwarnings("ignore")

ROOT = pathlib.Path(__file__).resolve().parent.parent
ALLOWLIST_OUT = ROOT / "src/scan/policy/allowlist.json"
REAL_GLOBALS_OUT = ROOT / "test/scan/policy/real-globals.json"

import joblib  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402
import sklearn  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402


def qual(obj) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


# Names that must never end up in the allowlist: they load files, run code or
# deserialise nested payloads. Checked at the end as a guard against a library
# walk picking one up.
FORBIDDEN_PREFIXES = (
    "torch.storage._load_from_bytes",
    "torch.load",
    "torch.serialization.load",
    "torch.jit.load",
    "torch.jit._serialization",
    "torch.hub.",
    "torch.utils.collect_env",
    "builtins.getattr",
    "builtins.type",
    "builtins.eval",
    "builtins.exec",
    "builtins.__import__",
    "__builtin__.getattr",
    "__builtin__.eval",
    "numpy.load",
    "numpy.fromfile",
    "joblib.load",
    "pickle.",
    "os.",
    "subprocess.",
)


# --------------------------------------------------------------------------
# Collecting the globals a pickle stream references, without loading it.
# --------------------------------------------------------------------------

_STRING_OPS = {
    "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE",
    "STRING", "BINSTRING", "SHORT_BINSTRING",
}


def globals_in(data: bytes) -> set[tuple[str, str]]:
    """(module, name) of every GLOBAL/INST/STACK_GLOBAL in the first pickle of data.

    STACK_GLOBAL takes its two strings from the stack; CPython's pickler pushes
    them as string opcodes, memoised and re-fetched with GET, so tracking the
    recent pushes plus the memo is enough for streams that real picklers write.
    """
    found: set[tuple[str, str]] = set()
    memo: dict[int, object] = {}
    pushed: list[object] = []
    for op, arg, _pos in pickletools.genops(data):
        name = op.name
        if name in ("GLOBAL", "INST"):
            module, _, qualname = arg.partition(" ")
            found.add((module, qualname))
            pushed.append(None)
        elif name == "STACK_GLOBAL":
            qualname = pushed.pop() if pushed else None
            module = pushed.pop() if pushed else None
            if not isinstance(module, str) or not isinstance(qualname, str):
                raise SystemExit("STACK_GLOBAL with operands this collector cannot follow")
            found.add((module, qualname))
            pushed.append(None)
        elif name in _STRING_OPS:
            pushed.append(arg)
        elif name == "MEMOIZE":
            memo[len(memo)] = pushed[-1] if pushed else None
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[arg] = pushed[-1] if pushed else None
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            pushed.append(memo.get(arg))
        elif name == "STOP":
            break
        else:
            pushed.append(None)
    return found


def globals_in_pickles(data: bytes, count: int) -> set[tuple[str, str]]:
    """Globals of `count` pickles written back to back (torch's legacy format:
    magic number, protocol, sys info, the object, its storage keys; raw storage
    bytes follow and are not pickle)."""
    found: set[tuple[str, str]] = set()
    pos = 0
    for _ in range(count):
        ops = list(pickletools.genops(data[pos:]))
        found |= globals_in(data[pos:])
        pos += ops[-1][2] + 1
    return found


def pickled_at_all_protocols(obj) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for proto in range(0, pickle.HIGHEST_PROTOCOL + 1):
        try:
            found |= globals_in(pickle.dumps(obj, protocol=proto))
        except (TypeError, pickle.PicklingError, AttributeError):
            # Some objects (Cython types at protocol 0/1) cannot be pickled at
            # every protocol; the ones that can are enough.
            continue
    return found


def torch_saved(obj) -> set[tuple[str, str]]:
    """Globals of torch.save(obj) in the zip format and in the legacy format."""
    found: set[tuple[str, str]] = set()
    buf = io.BytesIO()
    torch.save(obj, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        for member in zf.namelist():
            if member.endswith(".pkl"):
                found |= globals_in(zf.read(member))
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=False)
    found |= globals_in_pickles(buf.getvalue(), 5)
    return found


def torchscript_saved(module) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    buf = io.BytesIO()
    torch.jit.save(module, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        for member in zf.namelist():
            # data.pkl, constants.pkl and the code/*.debug_pkl source maps
            if member.endswith((".pkl", ".debug_pkl")):
                found |= globals_in(zf.read(member))
    return found


# --------------------------------------------------------------------------
# python: stdlib types that ordinary data pickles need
# --------------------------------------------------------------------------

# Plain value types. Constructing any of them from pickle data only builds a value.
_BUILTIN_TYPES = [
    "set", "frozenset", "bytearray", "bytes", "complex", "slice", "range",
    "list", "dict", "tuple", "int", "float", "str", "bool", "object",
]
# Python 2 names (protocol < 3 writes builtins as __builtin__; Python 3 maps
# xrange/long/unicode to range/int/str when loading).
_PY2_ONLY_BUILTINS = ["xrange", "long", "unicode"]


def python_entries() -> set[str]:
    entries = {f"builtins.{n}" for n in _BUILTIN_TYPES}
    entries |= {f"__builtin__.{n}" for n in _BUILTIN_TYPES + _PY2_ONLY_BUILTINS}
    entries |= {
        # Singletons: pickling `...` / NotImplemented writes them as globals.
        "builtins.Ellipsis", "builtins.NotImplemented",
        "__builtin__.Ellipsis", "__builtin__.NotImplemented",
        "collections.OrderedDict", "collections.defaultdict",
        "collections.deque", "collections.Counter",
        "datetime.datetime", "datetime.date", "datetime.time",
        "datetime.timedelta", "datetime.timezone",
        "decimal.Decimal", "fractions.Fraction", "uuid.UUID",
        # Protocol 0/1 object reconstruction: base.__new__(cls) + base.__init__,
        # where cls and base are themselves globals the policy checks.
        "copyreg._reconstructor", "copy_reg._reconstructor",
        # Protocol < 3 writes bytes as _codecs.encode(latin-1 text, 'latin1').
        "_codecs.encode",
        # Very common in training checkpoints (saved command-line args); it is
        # a plain attribute bag, construction runs nothing.
        "argparse.Namespace",
        # Same kind of attribute bag, used in configs saved next to weights.
        "types.SimpleNamespace",
        # Path objects saved in configs. Constructing one only splits a string;
        # the I/O methods (read_text, write_bytes, open ...) are on the deny
        # list, so `pathlib.PosixPath.write_text` is still caught.
        "pathlib.PurePosixPath", "pathlib.PureWindowsPath",
        "pathlib.PosixPath", "pathlib.WindowsPath",
    }
    # Deliberately absent: builtins.type (builds classes), copyreg.__newobj__
    # (protocol >= 2 writes NEWOBJ instead, so no real pickle here needed it),
    # re._compile, enum members, functools.partial, builtins.getattr.
    return entries


def python_samples() -> dict[str, object]:
    return {
        "OrderedDict": collections.OrderedDict(a=1),
        "defaultdict": collections.defaultdict(list, {1: [2]}),
        "defaultdict(int)": collections.defaultdict(int),
        "deque": collections.deque([1, 2]),
        "Counter": collections.Counter("abca"),
        "datetime": datetime.datetime(2024, 1, 2, 3, 4, 5),
        "datetime(utc)": datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc),
        "date": datetime.date(2024, 1, 2),
        "time": datetime.time(1, 2),
        "timedelta": datetime.timedelta(days=1),
        "timezone": datetime.timezone(datetime.timedelta(hours=2), "x"),
        "Decimal": decimal.Decimal("1.5"),
        "Fraction": fractions.Fraction(1, 3),
        "UUID": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "Namespace": argparse.Namespace(lr=0.1, epochs=3),
        "SimpleNamespace": types.SimpleNamespace(a=1),
        "PurePosixPath": pathlib.PurePosixPath("/a/b"),
        "PosixPath": pathlib.PosixPath("/a/b"),
        "PureWindowsPath": pathlib.PureWindowsPath("c:/a"),
        "set": {1, 2},
        "frozenset": frozenset({1}),
        "bytearray": bytearray(b"xy"),
        "bytes": b"xy",
        "empty bytes": b"",
        "complex": 1 + 2j,
        "slice": slice(1, 5, 2),
        "range": range(3),
        "Ellipsis": ...,
        "NotImplemented": NotImplemented,
        "object": object(),
        "types": [int, float, str, bool, list, dict, tuple, bytes, set, frozenset, complex],
    }


# --------------------------------------------------------------------------
# torch
# --------------------------------------------------------------------------

# Written by torch 2.x's weights_only unpickler allowlist
# (torch/_weights_only_unpickler.py, torch/storage.py::_new_dtypes,
# torch/_utils.py), absent from the installed 1.13.
TORCH_SUPPLEMENT = [
    "collections.Counter",
    "_codecs.encode",
    "builtins.bytearray",
    "builtins.set",
    "builtins.complex",
    "torch.device",
    "torch._utils._rebuild_parameter_with_state",
    "torch._utils._rebuild_qtensor",
    "torch._utils._rebuild_tensor_v3",
    "torch._utils._rebuild_wrapper_subclass",
    "torch._utils._rebuild_device_tensor_from_numpy",
    "torch._utils._rebuild_device_tensor_from_cpu_tensor",
    "torch._tensor._rebuild_from_type_v2",
    "torch.nn.parameter.Buffer",
    # torch 2.x dtypes (str(dtype) is the pickled spelling)
    "torch.float8_e5m2", "torch.float8_e4m3fn", "torch.float8_e5m2fnuz",
    "torch.float8_e4m3fnuz", "torch.float8_e8m0fnu", "torch.float4_e2m1fn_x2",
    "torch.bits8", "torch.bits16", "torch.bits1x8", "torch.bits2x4", "torch.bits4x2",
    "torch.uint16", "torch.uint32", "torch.uint64",
    *[f"torch.uint{n}" for n in range(1, 8)],
    *[f"torch.int{n}" for n in range(1, 8)],
    # torch 2.x layouts/memory formats pickle as the torch attribute.
    "torch.jagged",
]

# Activation functions whole-module pickles store as attributes
# (TransformerEncoderLayer keeps F.relu / F.gelu as `self.activation`).
# All are pure tensor math; only these, not torch.nn.functional as a whole.
TORCH_ACTIVATIONS = [
    "relu", "gelu", "silu", "elu", "selu", "celu", "leaky_relu", "relu6",
    "hardswish", "hardsigmoid", "mish", "softplus", "softsign", "tanh",
    "sigmoid", "glu", "logsigmoid", "tanhshrink", "softmax", "log_softmax",
]

# Classes that whole-module pickles carry in hook dictionaries.
TORCH_HOOK_CLASSES = [
    "torch.nn.utils.weight_norm.WeightNorm",
    "torch.nn.utils.spectral_norm.SpectralNorm",
    "torch.nn.utils.spectral_norm.SpectralNormStateDictHook",
    "torch.nn.utils.spectral_norm.SpectralNormLoadStateDictPreHook",
    "torch.nn.modules.module._WrappedHook",
    "torch.utils.hooks.RemovableHandle",
]


def torch_entries() -> set[str]:
    from torch._weights_only_unpickler import _get_allowed_globals

    entries = set(_get_allowed_globals().keys())
    entries |= set(TORCH_SUPPLEMENT)
    entries |= {"torch.Size", "torch.device", "torch.Tensor", qual(torch.Tensor)}
    # Every dtype/layout/memory format/qscheme constant, under its torch.* name
    # (aliases such as torch.float are the same object and pickle the same way).
    constant_types = (torch.dtype, torch.layout, torch.memory_format, torch.qscheme)
    for attr in dir(torch):
        value = getattr(torch, attr, None)
        if isinstance(value, constant_types) and not attr.startswith("_"):
            entries.add(f"torch.{attr}")
    # Parameter and its relatives (not the _ParameterMeta metaclass: calling a
    # metaclass builds a class, as type() does).
    for _, value in vars(torch.nn.parameter).items():
        if (
            inspect.isclass(value)
            and value.__module__ == "torch.nn.parameter"
            and not issubclass(value, type)
        ):
            entries.add(qual(value))
    # Every nn.Module subclass in torch.nn.modules: whole-model pickles name them.
    for info in pkgutil.iter_modules(torch.nn.modules.__path__, "torch.nn.modules."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, nn.Module)
                and value.__module__.startswith("torch.nn.modules.")
                and "<locals>" not in value.__qualname__
            ):
                entries.add(qual(value))
    # DataParallel-wrapped models are saved whole surprisingly often.
    entries.add(qual(nn.DataParallel))
    entries |= set(TORCH_HOOK_CLASSES)
    for name in TORCH_ACTIVATIONS:
        fn = getattr(torch.nn.functional, name)
        entries.add(f"torch.nn.functional.{name}")
        module = getattr(fn, "__module__", None) or "torch._C._nn"
        entries.add(f"{module}.{fn.__name__}")
    return entries


def torch_samples() -> dict[str, object]:
    tensors = {
        "f32": torch.ones(2),
        "bf16": torch.ones(2, dtype=torch.bfloat16),
        "f16": torch.ones(2, dtype=torch.float16),
        "f64": torch.ones(2, dtype=torch.float64),
        "i64": torch.ones(2, dtype=torch.int64),
        "i32": torch.ones(2, dtype=torch.int32),
        "i8": torch.ones(2, dtype=torch.int8),
        "u8": torch.ones(2, dtype=torch.uint8),
        "bool": torch.ones(2, dtype=torch.bool),
        "c64": torch.ones(2, dtype=torch.complex64),
        "sparse": torch.ones(2, 2).to_sparse(),
        "csr": torch.ones(2, 2).to_sparse_csr(),
        "qtensor": torch.quantize_per_tensor(torch.ones(2), 0.1, 0, torch.quint8),
        "meta": torch.ones(2, device="meta"),
        "param": nn.Parameter(torch.ones(2)),
        "uninit": nn.UninitializedParameter(),
        "device": torch.device("cpu"),
        "size": torch.Size([2, 3]),
        "dtypes": [torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.bool],
        # Legacy tensor-type objects (old checkpoints store e.g. a default tensor type).
        "tensor types": [torch.FloatTensor, torch.LongTensor, torch.cuda.FloatTensor],
        "qscheme": torch.per_tensor_affine,
    }
    big = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 8), nn.GELU(),
        nn.Dropout(), nn.LayerNorm(8), nn.Embedding(3, 8), nn.LSTM(8, 8),
        nn.GRU(8, 8), nn.TransformerEncoderLayer(8, 2),
        nn.TransformerDecoderLayer(8, 2, activation="gelu"),
        nn.MultiheadAttention(8, 2), nn.ModuleList([nn.Linear(2, 2)]),
        nn.ModuleDict({"a": nn.Tanh()}), nn.ParameterList([nn.Parameter(torch.ones(2))]),
        nn.ParameterDict({"p": nn.Parameter(torch.ones(2))}), nn.Transformer(8, 2, 1, 1, 16),
        nn.SiLU(), nn.Softmax(dim=-1), nn.Identity(), nn.GroupNorm(2, 4),
        nn.ConvTranspose2d(2, 2, 2), nn.Conv1d(2, 2, 1), nn.Upsample(scale_factor=2),
    )
    model = nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    checkpoint = {
        "model": big.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": 3,
        "args": argparse.Namespace(lr=0.1),
        "rng": torch.get_rng_state(),
    }
    return {
        **{f"tensor {k}": v for k, v in tensors.items()},
        "state_dict": big.state_dict(),
        "checkpoint": checkpoint,
        "whole model": big,
        "weight_norm": nn.utils.weight_norm(nn.Linear(2, 2)),
        "spectral_norm": nn.utils.spectral_norm(nn.Linear(2, 2)),
        "DataParallel": nn.DataParallel(nn.Linear(2, 2)),
    }


class _ScriptedNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 2)
        self.conv = nn.Conv2d(1, 1, 1)
        self.sizes = [1, 2]
        self.scale = {"a": 1.0}
        self.offset = torch.ones(2)

    def forward(self, x):
        return self.linear(x) + self.offset


def torchscript_entries() -> set[str]:
    import torch.jit._pickle as jit_pickle

    entries = {"__torch__.*"}
    for name, value in vars(jit_pickle).items():
        if callable(value) and (name.startswith("build_") or name.startswith("restore_")):
            entries.add(f"torch.jit._pickle.{name}")
    return entries


def torchscript_samples() -> dict[str, object]:
    return {
        "scripted": torch.jit.script(_ScriptedNet()),
        "traced": torch.jit.trace(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), torch.ones(1, 2)),
    }


# --------------------------------------------------------------------------
# numpy
# --------------------------------------------------------------------------

# numpy 2.x spellings (numpy/_core, numpy/dtypes.py), absent from numpy 1.24.
NUMPY_SUPPLEMENT = [
    "numpy._core.multiarray._reconstruct",
    "numpy._core.multiarray.scalar",
    "numpy._core.numeric._frombuffer",
    "numpy._core.records.recarray",
    "numpy._core.records.record",
    "numpy.bool", "numpy.long", "numpy.ulong",
    *[
        f"numpy.dtypes.{n}"
        for n in (
            "BoolDType Int8DType ByteDType UInt8DType UByteDType Int16DType ShortDType "
            "UInt16DType UShortDType Int32DType IntDType UInt32DType UIntDType Int64DType "
            "LongDType UInt64DType ULongDType LongLongDType ULongLongDType Float16DType "
            "Float32DType Float64DType LongDoubleDType Complex64DType Complex128DType "
            "CLongDoubleDType ObjectDType BytesDType StrDType VoidDType DateTime64DType "
            "TimeDelta64DType StringDType"
        ).split()
    ],
    # numpy < 1.17 pickled RandomState through this module-level helper.
    "numpy.random.__RandomState_ctor",
    # numpy < 1.16 module spelling of matrix.
    "numpy.matrixlib.defmatrix.matrix",
]


def numpy_entries() -> set[str]:
    import numpy.core.multiarray as multiarray
    import numpy.core.numeric as numeric
    import numpy.random._pickle as np_random_pickle
    import numpy.random.bit_generator as bit_generator

    entries = set(NUMPY_SUPPLEMENT)
    entries |= {
        "numpy.ndarray", "numpy.dtype",
        f"numpy.core.multiarray.{multiarray._reconstruct.__name__}",
        "numpy.core.multiarray.scalar",
        f"numpy.core.numeric.{numeric._frombuffer.__name__}",
        "numpy.ma.core._mareconstruct", qual(np.ma.MaskedArray),
        qual(np.ma.core.MaskedConstant), qual(np.ma.core.mvoid),
        "numpy.matrix", "numpy.recarray", "numpy.record",
        "numpy.core.records.recarray", "numpy.core.records.record",
    }
    # Every scalar type, under each numpy.<name> it is reachable as.
    for attr in dir(np):
        value = getattr(np, attr, None)
        if isinstance(value, type) and issubclass(value, np.generic):
            entries.add(f"numpy.{attr}")
            entries.add(qual(value))
    # Dtype classes where this numpy has them (numpy.dtypes is 1.25+).
    dtypes_module = getattr(np, "dtypes", None)
    if dtypes_module is not None:
        for attr, value in vars(dtypes_module).items():
            if isinstance(value, type) and attr.endswith("DType"):
                entries.add(f"numpy.dtypes.{attr}")
    # numpy.random pickling helpers and the classes they rebuild.
    for attr, value in vars(np_random_pickle).items():
        if callable(value) and "ctor" in attr:
            entries.add(f"numpy.random._pickle.{attr}")
    for cls in (np.random.RandomState, np.random.Generator, np.random.MT19937,
                np.random.PCG64, np.random.PCG64DXSM, np.random.Philox,
                np.random.SFC64, np.random.SeedSequence, np.random.BitGenerator):
        entries.add(qual(cls))
    # Cython's generated reconstructor for SeedSequence (it only rebuilds that type).
    entries.add(f"{bit_generator.__name__}.__pyx_unpickle_SeedSequence")
    return entries


def numpy_samples() -> dict[str, object]:
    samples: dict[str, object] = {}
    for dt in ["?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4",
               "f8", "g", "c8", "c16", "G", "U5", "S5", "V4", "M8[s]", "m8[ms]",
               "O", ">i4", [("a", "i4"), ("b", "f8", (2,))]]:
        samples[f"array {dt}"] = np.zeros(3, dtype=dt)
    samples["object array"] = np.array([1, "a", None, {1: 2}], dtype=object)
    samples["fortran"] = np.asfortranarray(np.ones((2, 3)))
    samples["masked"] = np.ma.masked_array([1, 2, 3], mask=[0, 1, 0])
    samples["masked constant"] = np.ma.masked
    samples["recarray"] = np.rec.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")])
    samples["matrix"] = np.matrix([[1, 2]])
    samples["scalars"] = [
        t(1) for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
                       np.uint64, np.float16, np.float32, np.float64, np.longdouble,
                       np.complex64, np.complex128, np.clongdouble, np.str_, np.bytes_)
    ] + [np.datetime64("2020-01-01"), np.timedelta64(1, "s"), np.void(b"ab")]
    samples["dtypes"] = [np.dtype("f8"), np.dtype("U3"), np.dtype([("a", "i4")])]
    samples["scalar types"] = [np.float64, np.float32, np.int64, np.int32, np.bool_,
                               np.ndarray, np.uint8, np.complex128, np.str_]
    samples["RandomState"] = np.random.RandomState(0)
    samples["default_rng"] = np.random.default_rng(0)
    for name in ("MT19937", "PCG64", "PCG64DXSM", "Philox", "SFC64"):
        bitgen = getattr(np.random, name)
        samples[f"bitgen {name}"] = bitgen(0)
        samples[f"Generator {name}"] = np.random.Generator(bitgen(0))
    samples["SeedSequence"] = np.random.SeedSequence(1)
    return samples


# --------------------------------------------------------------------------
# scikit-learn
# --------------------------------------------------------------------------

_SKLEARN_SKIP_PARTS = {
    "tests", "test", "testing", "_testing", "externals", "_show_versions",
    "datasets", "conftest", "_build_utils", "__check_build", "experimental",
    "_min_dependencies", "_distributor_init",
    # test helpers shipped inside sklearn.utils
    "estimator_checks", "_mocking",
}


def _skip_sklearn_module(name: str) -> bool:
    return any(part in _SKLEARN_SKIP_PARTS for part in name.split("."))


def _walk_sklearn():
    """Import every sklearn module outside the skipped ones (tests, datasets ...)."""
    pending = [(sklearn.__path__, "sklearn.")]
    while pending:
        path, prefix = pending.pop()
        for info in pkgutil.iter_modules(path, prefix):
            if _skip_sklearn_module(info.name):
                continue
            try:
                module = importlib.import_module(info.name)
            except Exception as exc:  # optional dependency missing: say so, go on
                print(f"  sklearn: skipped {info.name}: {exc}", file=sys.stderr)
                continue
            yield module
            if info.ispkg:
                pending.append((module.__path__, info.name + "."))


# scipy.sparse matrices appear inside fitted estimators (TfidfVectorizer keeps a
# csr_matrix); constructing one only builds arrays. Both the private module
# spelling (scipy >= 1.8) and the old public one are listed.
_SCIPY_SPARSE_FORMATS = ["csr", "csc", "coo", "dia", "lil", "dok", "bsr"]


def sklearn_entries() -> set[str]:
    entries: set[str] = set()
    pyx_unpicklers: list[tuple[str, str]] = []
    for module in _walk_sklearn():
        for attr, value in vars(module).items():
            if inspect.isclass(value):
                mod = getattr(value, "__module__", "") or ""
                if (
                    not issubclass(value, type)  # metaclasses build classes, like type()
                    and mod.startswith("sklearn.")
                    and not _skip_sklearn_module(mod)
                    and "<locals>" not in value.__qualname__
                ):
                    entries.add(qual(value))
            elif attr.startswith("__pyx_unpickle_") and callable(value):
                pyx_unpicklers.append((module.__name__, attr))
    # Functions are not allowlisted, with one family of exceptions proven
    # necessary by real pickles (HistGradientBoosting's loss objects are
    # written as `sklearn._loss._loss.__pyx_unpickle_CyHalfBinomialLoss`):
    # Cython's generated `__pyx_unpickle_<Class>` only re-creates <Class> and
    # restores its fields, so it is allowed exactly when <Class> is.
    for module_name, attr in pyx_unpicklers:
        cls_name = attr[len("__pyx_unpickle_"):]
        if f"{module_name}.{cls_name}" in entries:
            entries.add(f"{module_name}.{attr}")
    import scipy.sparse as sparse

    for fmt in _SCIPY_SPARSE_FORMATS:
        for kind in ("matrix", "array"):
            cls = getattr(sparse, f"{fmt}_{kind}", None)
            if cls is None:
                continue
            entries.add(qual(cls))
            entries.add(f"scipy.sparse._{fmt}.{fmt}_{kind}")
            if kind == "matrix":
                entries.add(f"scipy.sparse.{fmt}.{fmt}_matrix")
    return entries


def sklearn_samples() -> dict[str, object]:
    from sklearn.cluster import KMeans
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import PCA
    from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor,
                                  HistGradientBoostingClassifier,
                                  HistGradientBoostingRegressor, RandomForestClassifier)
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import LabelEncoder, OneHotEncoder, StandardScaler
    from sklearn.svm import SVC

    rng = np.random.RandomState(0)
    X = rng.rand(60, 4)
    y = (X[:, 0] > 0.5).astype(int)
    yr = X[:, 1]
    texts = ["the cat sat", "a dog ran", "cats and dogs"] * 5
    return {
        "Pipeline(StandardScaler, LogisticRegression)": Pipeline(
            [("scale", StandardScaler()), ("clf", LogisticRegression())]).fit(X, y),
        "RandomForestClassifier": RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y),
        "RandomForestClassifier(RandomState)": RandomForestClassifier(
            n_estimators=2, random_state=np.random.RandomState(1)).fit(X, y),
        "GradientBoostingClassifier": GradientBoostingClassifier(n_estimators=3).fit(X, y),
        "GradientBoostingRegressor": GradientBoostingRegressor(n_estimators=3).fit(X, yr),
        "HistGradientBoostingClassifier": HistGradientBoostingClassifier(max_iter=3).fit(X, y),
        "HistGradientBoostingRegressor": HistGradientBoostingRegressor(max_iter=3).fit(X, yr),
        "KMeans": KMeans(3, n_init=2, random_state=0).fit(X),
        "SVC": SVC(probability=True, random_state=0).fit(X, y),
        "TfidfVectorizer": TfidfVectorizer().fit(texts),
        "LabelEncoder": LabelEncoder().fit(["a", "b", "a"]),
        "OneHotEncoder": OneHotEncoder().fit([["a", 1], ["b", 2]]),
        "PCA": PCA(2).fit(X),
        "ColumnTransformer": ColumnTransformer(
            [("num", StandardScaler(), [0, 1])], remainder="drop").fit(X),
    }


# --------------------------------------------------------------------------
# joblib
# --------------------------------------------------------------------------

def joblib_entries() -> set[str]:
    import joblib.numpy_pickle as numpy_pickle
    import joblib.numpy_pickle_compat as compat

    entries = {
        qual(numpy_pickle.NumpyArrayWrapper),
        qual(compat.NDArrayWrapper),
        qual(compat.ZNDArrayWrapper),
        # joblib < 0.10 defined the old wrappers in numpy_pickle itself.
        "joblib.numpy_pickle.NDArrayWrapper",
        "joblib.numpy_pickle.ZNDArrayWrapper",
    }
    # scikit-learn < 0.23 vendored joblib as sklearn.externals.joblib; old model
    # files still name those modules.
    for entry in list(entries):
        entries.add("sklearn.externals." + entry)
    return entries


def joblib_globals(obj) -> set[tuple[str, str]]:
    """Globals of joblib.dump(obj) files (plain and compressed).

    Loads only the benign file just written, through joblib's own unpickler
    with find_class recording the names it is asked for.
    """
    import joblib.numpy_pickle as numpy_pickle

    seen: set[tuple[str, str]] = set()

    class Recorder(numpy_pickle.NumpyUnpickler):
        def find_class(self, module, name):
            seen.add((module, name))
            return super().find_class(module, name)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.joblib")
        for compress in (0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3), ("lzma", 3)):
            joblib.dump(obj, path, compress=compress)
            with open(path, "rb") as raw:
                with numpy_pickle._read_fileobject(raw, path, None) as stream:
                    Recorder(path, stream, mmap_mode=None).load()
    return seen


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

# Globals that real benign pickles do contain but that stay off the allowlist.
EXPECTED_NOT_ALLOWED = {
    # pickle.dumps(tensor) (not torch.save) stores storages as a nested
    # torch.load of bytes: exactly the nested-deserialisation hole to report.
    ("torch.storage", "_load_from_bytes"): "nested torch.load; torch.save never writes it",
    # Lazy modules keep bound-method hooks, which protocol 2 writes via getattr.
    ("__builtin__", "getattr"): "bound-method hooks of Lazy* modules; a generic gadget",
    ("builtins", "getattr"): "bound-method hooks of Lazy* modules; a generic gadget",
}


def main() -> int:
    ecosystems = {
        "python": python_entries(),
        "torch": torch_entries(),
        "torchscript": torchscript_entries(),
        "numpy": numpy_entries(),
        "sklearn": sklearn_entries(),
        "joblib": joblib_entries(),
    }

    seen: dict[str, set[tuple[str, str]]] = {k: set() for k in ecosystems}
    for obj in python_samples().values():
        seen["python"] |= pickled_at_all_protocols(obj)
    for obj in torch_samples().values():
        seen["torch"] |= torch_saved(obj)
    # Outside torch.save: what plain pickle makes of modules and tensors.
    seen["torch"] |= globals_in(pickle.dumps(nn.Linear(2, 2), protocol=2))
    seen["torch"] |= torch_saved(nn.LazyLinear(3))
    for obj in torchscript_samples().values():
        seen["torchscript"] |= torchscript_saved(obj)
    for obj in numpy_samples().values():
        seen["numpy"] |= pickled_at_all_protocols(obj)
    for obj in sklearn_samples().values():
        for proto in range(2, pickle.HIGHEST_PROTOCOL + 1):
            seen["sklearn"] |= globals_in(pickle.dumps(obj, protocol=proto))
    sk = sklearn_samples()
    seen["joblib"] |= joblib_globals({
        "ints": np.arange(5), "floats": np.zeros((2, 2), dtype="f4"),
        "objects": np.array(["x", None], dtype=object),
        "model": sk["Pipeline(StandardScaler, LogisticRegression)"],
        "forest": sk["RandomForestClassifier"],
    })

    def allowed_somewhere(module: str, name: str) -> bool:
        full = f"{module}.{name}"
        for entries in ecosystems.values():
            if full in entries:
                return True
            if any(e.endswith(".*") and full.startswith(e[:-1]) for e in entries):
                return True
        return False

    missing = []
    for eco, pairs in seen.items():
        for module, name in sorted(pairs):
            if not allowed_somewhere(module, name) and (module, name) not in EXPECTED_NOT_ALLOWED:
                missing.append(f"{eco}: {module}.{name}")
    if missing:
        print("Real benign pickles use globals that are not allowlisted; add them "
              "(with a reason) or to EXPECTED_NOT_ALLOWED:\n  " + "\n  ".join(missing),
              file=sys.stderr)
        return 1

    for eco, entries in ecosystems.items():
        bad = sorted(e for e in entries if e.startswith(FORBIDDEN_PREFIXES))
        if bad:
            print(f"{eco}: forbidden entries picked up: {bad}", file=sys.stderr)
            return 1

    versions = {
        "torch": torch.__version__,
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "joblib": joblib.__version__,
        "scipy": scipy.__version__,
        "python": platform.python_version(),
    }
    allowlist = {
        "generatedBy": "scripts/gen-allowlist.py",
        "versions": versions,
        "ecosystems": {eco: sorted(entries) for eco, entries in ecosystems.items()},
    }
    ALLOWLIST_OUT.parent.mkdir(parents=True, exist_ok=True)
    ALLOWLIST_OUT.write_text(json.dumps(allowlist, indent=1) + "\n")

    real = {
        "generatedBy": "scripts/gen-allowlist.py",
        "versions": versions,
        "note": "Globals seen in benign pickles written by the real libraries, as "
                "'module name' (the GLOBAL opcode's two fields) per ecosystem. "
                "expectedNotAllowed: seen, but deliberately not allowlisted.",
        "globals": {
            eco: sorted(f"{m} {n}" for m, n in pairs if (m, n) not in EXPECTED_NOT_ALLOWED)
            for eco, pairs in seen.items()
        },
        "expectedNotAllowed": {
            f"{m} {n}": why for (m, n), why in sorted(EXPECTED_NOT_ALLOWED.items())
            if any((m, n) in pairs for pairs in seen.values())
        },
    }
    REAL_GLOBALS_OUT.parent.mkdir(parents=True, exist_ok=True)
    REAL_GLOBALS_OUT.write_text(json.dumps(real, indent=1) + "\n")

    print(f"wrote {ALLOWLIST_OUT.relative_to(ROOT)} and {REAL_GLOBALS_OUT.relative_to(ROOT)}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    for eco, entries in ecosystems.items():
        print(f"  {eco:<12} {len(entries):>5} allowed   {len(seen[eco]):>4} seen in real pickles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
