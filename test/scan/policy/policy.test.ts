/**
 * Policy.classify over a wide table: allowlisted globals per ecosystem, unknown
 * ones, every deny group, alias normalisation, dotted and dunder walks,
 * malformed names, config extensions, and every global that real benign
 * pickles (written by scripts/gen-allowlist.py with the real libraries) use.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { severityRank, type Severity } from '../../../src/scan/finding.js';
import {
  ALLOWLIST,
  DEFAULT_ECOSYSTEMS,
  ECOSYSTEMS,
  Policy,
  isValidPattern,
  type Ecosystem,
  type GlobalVerdict,
} from '../../../src/scan/policy/policy.js';
import { DENYLIST, DUNDER_WALK } from '../../../src/scan/policy/denylist.js';

const ROOT = fileURLToPath(new URL('../../../..', import.meta.url));
const policy = Policy.default();
const WITH_TS: readonly Ecosystem[] = [...DEFAULT_ECOSYSTEMS, 'torchscript'];

function show(module: string, name: string, v: GlobalVerdict): string {
  return `${JSON.stringify(module)} ${JSON.stringify(name)} -> ${JSON.stringify(v)}`;
}

function assertAllowed(module: string, name: string, ecosystems?: readonly Ecosystem[]): void {
  const v = policy.classify(module, name, ecosystems);
  assert.equal(v.verdict, 'allowed', show(module, name, v));
  assert.equal(v.severity, 'INFO', show(module, name, v));
}

test('allowlisted globals from each ecosystem are allowed', () => {
  const table: Array<[string, string]> = [
    // python
    ['collections', 'OrderedDict'],
    ['collections', 'defaultdict'],
    ['builtins', 'set'],
    ['__builtin__', 'set'],
    ['__builtin__', 'xrange'],
    ['copyreg', '_reconstructor'],
    ['copy_reg', '_reconstructor'],
    ['_codecs', 'encode'],
    ['datetime', 'datetime'],
    ['argparse', 'Namespace'],
    ['pathlib', 'PosixPath'],
    ['uuid', 'UUID'],
    // torch
    ['torch._utils', '_rebuild_tensor_v2'],
    ['torch._utils', '_rebuild_parameter'],
    ['torch', 'FloatStorage'],
    ['torch', 'BFloat16Storage'],
    ['torch', 'Size'],
    ['torch', 'device'],
    ['torch', 'float32'],
    ['torch', 'bfloat16'],
    ['torch', 'float8_e4m3fn'],
    ['torch', 'per_tensor_affine'],
    ['torch.storage', 'UntypedStorage'],
    ['torch._tensor', '_rebuild_from_type_v2'],
    ['torch.nn.parameter', 'Parameter'],
    ['torch.nn.modules.linear', 'Linear'],
    ['torch.nn.modules.container', 'Sequential'],
    ['torch.nn.modules.conv', 'Conv2d'],
    ['torch.nn.modules.transformer', 'TransformerEncoderLayer'],
    ['torch.nn.functional', 'relu'],
    // numpy
    ['numpy.core.multiarray', '_reconstruct'],
    ['numpy._core.multiarray', '_reconstruct'],
    ['numpy.core.multiarray', 'scalar'],
    ['numpy', 'ndarray'],
    ['numpy', 'dtype'],
    ['numpy', 'float64'],
    ['numpy', 'bool_'],
    ['numpy.dtypes', 'Float64DType'],
    ['numpy.ma.core', '_mareconstruct'],
    ['numpy.random._pickle', '__randomstate_ctor'],
    ['numpy.random._pickle', '__bit_generator_ctor'],
    ['numpy.random._mt19937', 'MT19937'],
    // sklearn
    ['sklearn.tree._tree', 'Tree'],
    ['sklearn.ensemble._forest', 'RandomForestClassifier'],
    ['sklearn.pipeline', 'Pipeline'],
    ['sklearn.linear_model._logistic', 'LogisticRegression'],
    ['sklearn._loss._loss', '__pyx_unpickle_CyHalfBinomialLoss'],
    ['scipy.sparse._csr', 'csr_matrix'],
    // joblib
    ['joblib.numpy_pickle', 'NumpyArrayWrapper'],
    ['joblib.numpy_pickle_compat', 'NDArrayWrapper'],
    ['sklearn.externals.joblib.numpy_pickle', 'NumpyArrayWrapper'],
  ];
  for (const [m, n] of table) assertAllowed(m, n);
});

test('a STACK_GLOBAL name may be dotted: the full path decides', () => {
  assertAllowed('torch', '_utils._rebuild_tensor_v2');
  assertAllowed('torch.nn', 'modules.linear.Linear');
  const v = policy.classify('collections', 'OrderedDict.fromkeys');
  assert.equal(v.verdict, 'unknown', 'only exact entries are allowed, not their attributes');
});

test('globals on no list are unknown at MEDIUM and named in the reason', () => {
  const table: Array<[string, string]> = [
    ['mypkg.models', 'Net'],
    ['__main__', 'MyModel'],
    ['copyreg', '__newobj__'],
    ['re', '_compile'],
    ['sklearn.utils.validation', 'check_array'], // a function: sklearn functions are not allowlisted
    ['torch.nn.functional', 'conv2d'],
    ['torch.profiler', 'profile'],
    ['builtins', 'print'],
    ['pandas.core.frame', 'DataFrame'],
  ];
  for (const [m, n] of table) {
    const v = policy.classify(m, n);
    assert.equal(v.verdict, 'unknown', show(m, n, v));
    assert.equal(v.severity, 'MEDIUM', show(m, n, v));
    assert.ok(v.reason.includes(`${m}.${n}`), v.reason);
    assert.equal(v.matched, undefined);
  }
});

interface DenyCase {
  g: [string, string];
  severity: Severity;
  category: string;
  canonical?: string;
}

const DENY_CASES: DenyCase[] = [
  // process
  { g: ['os', 'system'], severity: 'CRITICAL', category: 'process' },
  { g: ['os', 'popen'], severity: 'CRITICAL', category: 'process' },
  { g: ['os', 'execvp'], severity: 'CRITICAL', category: 'process' },
  { g: ['os', 'spawnlp'], severity: 'CRITICAL', category: 'process' },
  { g: ['os', 'fork'], severity: 'CRITICAL', category: 'process' },
  { g: ['os', 'posix_spawn'], severity: 'CRITICAL', category: 'process' },
  { g: ['subprocess', 'Popen'], severity: 'CRITICAL', category: 'process' },
  { g: ['subprocess', 'check_output'], severity: 'CRITICAL', category: 'process' },
  { g: ['_posixsubprocess', 'fork_exec'], severity: 'CRITICAL', category: 'process' },
  { g: ['pty', 'spawn'], severity: 'CRITICAL', category: 'process' },
  { g: ['commands', 'getoutput'], severity: 'CRITICAL', category: 'process' },
  { g: ['platform', 'popen'], severity: 'CRITICAL', category: 'process' },
  { g: ['asyncio', 'create_subprocess_shell'], severity: 'CRITICAL', category: 'process' },
  { g: ['pydoc', 'pipepager'], severity: 'CRITICAL', category: 'process' },
  { g: ['numpy.f2py', 'compile'], severity: 'CRITICAL', category: 'process' },
  { g: ['torch.utils.collect_env', 'run'], severity: 'CRITICAL', category: 'process' },
  // code
  { g: ['builtins', 'eval'], severity: 'CRITICAL', category: 'code' },
  { g: ['builtins', 'exec'], severity: 'CRITICAL', category: 'code' },
  { g: ['builtins', 'compile'], severity: 'CRITICAL', category: 'code' },
  { g: ['__builtin__', 'execfile'], severity: 'CRITICAL', category: 'code', canonical: 'builtins.execfile' },
  { g: ['code', 'interact'], severity: 'CRITICAL', category: 'code' },
  { g: ['codeop', 'compile_command'], severity: 'CRITICAL', category: 'code' },
  { g: ['runpy', '_run_code'], severity: 'CRITICAL', category: 'code' },
  { g: ['types', 'FunctionType'], severity: 'CRITICAL', category: 'code' },
  { g: ['types', 'CodeType'], severity: 'CRITICAL', category: 'code' },
  { g: ['marshal', 'loads'], severity: 'CRITICAL', category: 'code' },
  { g: ['timeit', 'timeit'], severity: 'CRITICAL', category: 'code' },
  { g: ['cProfile', 'run'], severity: 'CRITICAL', category: 'code' },
  { g: ['profile', 'runctx'], severity: 'CRITICAL', category: 'code' },
  { g: ['pdb', 'run'], severity: 'CRITICAL', category: 'code' },
  { g: ['trace', 'Trace.runctx'], severity: 'CRITICAL', category: 'code' },
  { g: ['idlelib.pyshell', 'main'], severity: 'CRITICAL', category: 'code' },
  { g: ['numpy.testing._private.utils', 'runstring'], severity: 'CRITICAL', category: 'code' },
  { g: ['torch.fx.graph_module', 'reduce_graph_module'], severity: 'CRITICAL', category: 'code' },
  // import
  { g: ['builtins', '__import__'], severity: 'CRITICAL', category: 'import' },
  { g: ['importlib', 'import_module'], severity: 'CRITICAL', category: 'import' },
  { g: ['importlib.util', 'spec_from_file_location'], severity: 'CRITICAL', category: 'import' },
  { g: ['imp', 'load_source'], severity: 'CRITICAL', category: 'import' },
  { g: ['pkgutil', 'resolve_name'], severity: 'CRITICAL', category: 'import' },
  { g: ['pydoc', 'locate'], severity: 'CRITICAL', category: 'import' },
  { g: ['zipimport', 'zipimporter'], severity: 'CRITICAL', category: 'import' },
  { g: ['sys', 'modules'], severity: 'CRITICAL', category: 'import' },
  { g: ['logging.config', 'dictConfig'], severity: 'CRITICAL', category: 'import' },
  { g: ['torch.hub', 'load'], severity: 'CRITICAL', category: 'import' },
  { g: ['torch.ops', 'load_library'], severity: 'CRITICAL', category: 'import' },
  // file
  { g: ['builtins', 'open'], severity: 'CRITICAL', category: 'file' },
  { g: ['__builtin__', 'file'], severity: 'CRITICAL', category: 'file', canonical: 'builtins.file' },
  { g: ['io', 'open'], severity: 'CRITICAL', category: 'file' },
  { g: ['_io', 'FileIO'], severity: 'CRITICAL', category: 'file', canonical: 'io.FileIO' },
  { g: ['os', 'remove'], severity: 'CRITICAL', category: 'file' },
  { g: ['os', 'makedirs'], severity: 'CRITICAL', category: 'file' },
  { g: ['shutil', 'rmtree'], severity: 'CRITICAL', category: 'file' },
  { g: ['tempfile', 'mkstemp'], severity: 'CRITICAL', category: 'file' },
  { g: ['glob', 'glob'], severity: 'CRITICAL', category: 'file' },
  { g: ['fileinput', 'input'], severity: 'CRITICAL', category: 'file' },
  { g: ['pathlib', 'Path.write_text'], severity: 'CRITICAL', category: 'file' },
  { g: ['pathlib', 'PosixPath.unlink'], severity: 'CRITICAL', category: 'file' },
  { g: ['pathlib', 'WindowsPath.read_bytes'], severity: 'CRITICAL', category: 'file' },
  { g: ['numpy', 'fromfile'], severity: 'CRITICAL', category: 'file' },
  { g: ['numpy', 'save'], severity: 'CRITICAL', category: 'file' },
  { g: ['numpy', 'memmap'], severity: 'CRITICAL', category: 'file' },
  { g: ['numpy', 'ndarray.tofile'], severity: 'CRITICAL', category: 'file' },
  { g: ['torch', 'from_file'], severity: 'CRITICAL', category: 'file' },
  { g: ['torch', 'UntypedStorage.from_file'], severity: 'CRITICAL', category: 'file' },
  { g: ['torch', 'save'], severity: 'CRITICAL', category: 'file' },
  { g: ['io', 'BytesIO'], severity: 'HIGH', category: 'file' },
  { g: ['zipfile', 'ZipFile'], severity: 'HIGH', category: 'file' },
  // network
  { g: ['socket', 'socket'], severity: 'CRITICAL', category: 'network' },
  { g: ['_socket', 'socket'], severity: 'CRITICAL', category: 'network', canonical: 'socket.socket' },
  { g: ['http.client', 'HTTPConnection'], severity: 'CRITICAL', category: 'network' },
  { g: ['urllib.request', 'urlopen'], severity: 'CRITICAL', category: 'network' },
  { g: ['urllib2', 'urlopen'], severity: 'CRITICAL', category: 'network' },
  { g: ['requests', 'get'], severity: 'CRITICAL', category: 'network' },
  { g: ['requests.api', 'post'], severity: 'CRITICAL', category: 'network' },
  { g: ['ftplib', 'FTP'], severity: 'CRITICAL', category: 'network' },
  { g: ['smtplib', 'SMTP'], severity: 'CRITICAL', category: 'network' },
  { g: ['telnetlib', 'Telnet'], severity: 'CRITICAL', category: 'network' },
  { g: ['webbrowser', 'open'], severity: 'CRITICAL', category: 'network' },
  { g: ['xmlrpc.client', 'ServerProxy'], severity: 'CRITICAL', category: 'network' },
  { g: ['ssl', 'wrap_socket'], severity: 'CRITICAL', category: 'network' },
  { g: ['numpy.lib._datasource', 'open'], severity: 'CRITICAL', category: 'network' },
  // nested deserialisation
  { g: ['pickle', 'loads'], severity: 'CRITICAL', category: 'deserialize' },
  { g: ['_pickle', 'loads'], severity: 'CRITICAL', category: 'deserialize' },
  { g: ['cPickle', 'loads'], severity: 'CRITICAL', category: 'deserialize', canonical: 'pickle.loads' },
  { g: ['dill', 'loads'], severity: 'CRITICAL', category: 'deserialize' },
  { g: ['cloudpickle', 'loads'], severity: 'CRITICAL', category: 'deserialize' },
  { g: ['joblib', 'load'], severity: 'CRITICAL', category: 'deserialize' },
  { g: ['torch', 'load'], severity: 'CRITICAL', category: 'deserialize' },
  { g: ['torch.jit', 'load'], severity: 'CRITICAL', category: 'deserialize' },
  { g: ['torch.storage', '_load_from_bytes'], severity: 'CRITICAL', category: 'deserialize' },
  { g: ['numpy', 'load'], severity: 'CRITICAL', category: 'deserialize' },
  { g: ['pandas', 'read_pickle'], severity: 'CRITICAL', category: 'deserialize' },
  { g: ['yaml', 'load'], severity: 'CRITICAL', category: 'deserialize' },
  { g: ['yaml', 'unsafe_load'], severity: 'CRITICAL', category: 'deserialize' },
  // native code, interpreter, packages
  { g: ['ctypes', 'CDLL'], severity: 'CRITICAL', category: 'system' },
  { g: ['_ctypes', 'dlopen'], severity: 'CRITICAL', category: 'system' },
  { g: ['cffi', 'FFI'], severity: 'CRITICAL', category: 'system' },
  { g: ['multiprocessing', 'Process'], severity: 'CRITICAL', category: 'system' },
  { g: ['pip', 'main'], severity: 'CRITICAL', category: 'system' },
  { g: ['pip._internal.cli.main', 'main'], severity: 'CRITICAL', category: 'system' },
  { g: ['setuptools', 'setup'], severity: 'CRITICAL', category: 'system' },
  { g: ['distutils.core', 'setup'], severity: 'CRITICAL', category: 'system' },
  { g: ['ensurepip', 'bootstrap'], severity: 'CRITICAL', category: 'system' },
  { g: ['sys', 'settrace'], severity: 'CRITICAL', category: 'system' },
  { g: ['sys', 'exit'], severity: 'HIGH', category: 'system' },
  { g: ['os', 'getcwd'], severity: 'HIGH', category: 'system' },
  { g: ['signal', 'signal'], severity: 'HIGH', category: 'system' },
  { g: ['atexit', 'register'], severity: 'HIGH', category: 'system' },
  { g: ['pathlib', 'os'], severity: 'HIGH', category: 'system', canonical: 'os' },
  // gadgets
  { g: ['builtins', 'getattr'], severity: 'HIGH', category: 'gadget' },
  { g: ['builtins', 'setattr'], severity: 'HIGH', category: 'gadget' },
  { g: ['builtins', 'delattr'], severity: 'HIGH', category: 'gadget' },
  { g: ['builtins', 'globals'], severity: 'HIGH', category: 'gadget' },
  { g: ['builtins', 'locals'], severity: 'HIGH', category: 'gadget' },
  { g: ['builtins', 'vars'], severity: 'HIGH', category: 'gadget' },
  { g: ['builtins', 'dir'], severity: 'HIGH', category: 'gadget' },
  { g: ['builtins', 'breakpoint'], severity: 'HIGH', category: 'gadget' },
  { g: ['builtins', 'input'], severity: 'HIGH', category: 'gadget' },
  { g: ['builtins', 'help'], severity: 'HIGH', category: 'gadget' },
  { g: ['builtins', '__build_class__'], severity: 'HIGH', category: 'gadget' },
  { g: ['builtins', 'type'], severity: 'HIGH', category: 'gadget' },
  { g: ['functools', 'partial'], severity: 'HIGH', category: 'gadget' },
  { g: ['functools', 'reduce'], severity: 'HIGH', category: 'gadget' },
  { g: ['operator', 'attrgetter'], severity: 'HIGH', category: 'gadget' },
  { g: ['operator', 'methodcaller'], severity: 'HIGH', category: 'gadget' },
  { g: ['operator', 'itemgetter'], severity: 'HIGH', category: 'gadget' },
  { g: ['_operator', 'methodcaller'], severity: 'HIGH', category: 'gadget', canonical: 'operator.methodcaller' },
  { g: ['types', 'MethodType'], severity: 'HIGH', category: 'gadget' },
  { g: ['copyreg', 'pickle'], severity: 'HIGH', category: 'gadget' },
  { g: ['__builtin__', 'reduce'], severity: 'HIGH', category: 'gadget', canonical: 'functools.reduce' },
  // attribute walks
  { g: ['builtins', 'object.__subclasses__'], severity: 'HIGH', category: 'attribute-walk' },
  { g: ['torch.nn.modules.linear', 'Linear.__init__.__globals__'], severity: 'HIGH', category: 'attribute-walk' },
  { g: ['numpy', 'ndarray.__class__.__mro__'], severity: 'HIGH', category: 'attribute-walk' },
  { g: ['collections', 'OrderedDict.__dict__'], severity: 'HIGH', category: 'attribute-walk' },
  { g: ['inspect', 'getmembers'], severity: 'HIGH', category: 'attribute-walk' },
];

test('every deny group: severity, category and the pattern that matched', () => {
  for (const c of DENY_CASES) {
    const [m, n] = c.g;
    const v = policy.classify(m, n);
    const where = show(m, n, v);
    assert.equal(v.verdict, 'dangerous', where);
    assert.equal(v.severity, c.severity, where);
    assert.equal(v.category, c.category, where);
    assert.ok(v.matched, where);
    assert.ok(v.reason.startsWith(`${m}.${n}`), where);
    if (c.canonical) assert.equal(v.canonical, c.canonical, where);
  }
});

test('aliases are normalised: posix/nt, __builtin__, cPickle/_pickle, _io, _socket, copy_reg, exceptions', () => {
  const table: Array<[string, string, string]> = [
    ['posix', 'system', 'os.system'],
    ['nt', 'system', 'os.system'],
    ['nt', 'spawnv', 'os.spawnv'],
    ['__builtin__', 'eval', 'builtins.eval'],
    ['__builtin__', 'getattr', 'builtins.getattr'],
    ['cPickle', 'loads', 'pickle.loads'],
    ['_pickle', 'Unpickler', 'pickle.Unpickler'],
    ['_io', 'open', 'io.open'],
    ['_socket', 'socket', 'socket.socket'],
    ['copy_reg', 'pickle', 'copyreg.pickle'],
    ['exceptions', 'eval', 'builtins.eval'], // Python 3 maps Python 2's exceptions module to builtins
  ];
  for (const [m, n, canonical] of table) {
    const v = policy.classify(m, n);
    assert.equal(v.verdict, 'dangerous', show(m, n, v));
    assert.equal(v.canonical, canonical, show(m, n, v));
    assert.ok(v.reason.includes(`(${canonical})`), v.reason);
  }
  // Same rule, same severity, whichever spelling.
  assert.equal(policy.classify('posix', 'system').severity, policy.classify('os', 'system').severity);
});

test('private submodules named like aliases are not mistaken for them', () => {
  // numpy.random._pickle and torch.jit._pickle are not CPython's _pickle.
  assertAllowed('numpy.random._pickle', '__generator_ctor');
  assertAllowed('torch.jit._pickle', 'build_intlist', WITH_TS);
  // ...but reaching the real one through any module still counts.
  const v = policy.classify('mymod', '_pickle.loads');
  assert.equal(v.verdict, 'dangerous', show('mymod', '_pickle.loads', v));
});

test('dotted walks hit the deny rule for any suffix', () => {
  const table: Array<[string, string, string, Severity]> = [
    ['pathlib', 'os.system', 'os.system', 'CRITICAL'],
    ['numpy', '__builtins__.exec', 'builtins.exec', 'CRITICAL'],
    ['foo.bar.subprocess', 'Popen', 'subprocess.Popen', 'CRITICAL'],
    ['torch', 'serialization.pickle.loads', 'pickle.loads', 'CRITICAL'],
    ['collections', 'os.posix.system', 'os.system', 'CRITICAL'],
    ['mypkg', 'nt.system', 'os.system', 'CRITICAL'],
    ['torch', '_C.__builtins__.eval', 'builtins.eval', 'CRITICAL'],
    ['mypkg', '__builtin__.reduce', 'functools.reduce', 'HIGH'],
    // private import aliases (`import os as _os`) and a builtin function's __self__
    ['random', '_os.system', 'os.system', 'CRITICAL'],
    ['tempfile', '_sys.modules', 'sys.modules', 'CRITICAL'],
    ['numpy', '_builtins.eval', 'builtins.eval', 'CRITICAL'],
    ['numpy.core.fromnumeric', '_sum_.__self__.exec', 'builtins.exec', 'CRITICAL'],
  ];
  for (const [m, n, canonical, severity] of table) {
    const v = policy.classify(m, n);
    assert.equal(v.verdict, 'dangerous', show(m, n, v));
    assert.equal(v.canonical, canonical, show(m, n, v));
    assert.equal(v.severity, severity, show(m, n, v));
  }
  // A walk that starts from an allowlisted module is not allowed by that.
  assert.equal(policy.classify('torch', 'nn.modules.linear.os.system').verdict, 'dangerous');
});

test('every dunder of the walk list makes a global at least HIGH, wherever it sits', () => {
  for (const d of DUNDER_WALK) {
    for (const [m, n] of [
      ['collections', `OrderedDict.${d}`],
      ['collections', `OrderedDict.${d}.get`],
      [`mymod.${d}`, 'x'],
    ] as Array<[string, string]>) {
      const v = policy.classify(m, n);
      assert.equal(v.verdict, 'dangerous', show(m, n, v));
      assert.ok(severityRank(v.severity) >= severityRank('HIGH'), show(m, n, v));
    }
  }
  // Not every dunder-looking name is a walk.
  assert.equal(policy.classify('__main__', 'Net').verdict, 'unknown');
  assert.equal(policy.classify('__torch__', 'Net', WITH_TS).verdict, 'allowed');
});

test('the highest matching severity wins', () => {
  // os.* is HIGH, os.system CRITICAL; sys.* is HIGH, sys.modules CRITICAL.
  assert.equal(policy.classify('os', 'system').severity, 'CRITICAL');
  assert.equal(policy.classify('os', 'getpid').severity, 'HIGH');
  assert.equal(policy.classify('sys', 'modules').severity, 'CRITICAL');
  // A CRITICAL target behind a HIGH dunder walk stays CRITICAL.
  const v = policy.classify('x', '__globals__.os.system');
  assert.equal(v.severity, 'CRITICAL', show('x', '__globals__.os.system', v));
  assert.equal(v.canonical, 'os.system');
});

test('malformed names are never allowed', () => {
  const table: Array<[string, string]> = [
    ['os', ''],
    ['', 'system'],
    ['os.', 'system'],
    ['os', '.system'],
    ['..x', 'y'],
    ['torch', '_utils..x'],
    [' collections', 'OrderedDict'],
    ['collections', 'OrderedDict '],
    ['collections', 'OrderedDict\n'],
    ['collections\r', 'OrderedDict'],
    ['collections', 'Ordered Dict'],
    ['torch._utils', '_rebuild_tensor_v2()'],
    ['builtins', 'set;'],
    ['builtins', 'se\u0074\u200b'],
    ['\uff4f\uff53', 'system'], // full-width "os"
    ['torch', '1abc'],
    ['mod', 'f.<locals>.C'],
  ];
  for (const [m, n] of table) {
    const v = policy.classify(m, n);
    assert.notEqual(v.verdict, 'allowed', show(m, n, v));
    assert.ok(severityRank(v.severity) >= severityRank('MEDIUM'), show(m, n, v));
  }
});

test('torchscript names are allowed only when torchscript is requested', () => {
  const names: Array<[string, string]> = [
    ['__torch__.torch.nn.modules.linear', 'Linear'],
    ['__torch__.torch.nn.modules.linear.___torch_mangle_0', 'Linear'],
    ['__torch__', 'M'],
    ['torch.jit._pickle', 'restore_type_tag'],
  ];
  for (const [m, n] of names) {
    assert.equal(policy.classify(m, n).verdict, 'unknown', `${m}.${n} by default`);
    assertAllowed(m, n, WITH_TS);
    assertAllowed(m, n, ['torchscript']);
  }
  // The prefix entry never shields a dangerous walk.
  assert.equal(policy.classify('__torch__.builtins', 'eval', WITH_TS).verdict, 'dangerous');
  assert.equal(policy.classify('__torch__', 'x.__globals__', WITH_TS).verdict, 'dangerous');
});

test('ecosystems limit which allowlists apply', () => {
  assert.equal(policy.classify('sklearn.tree._tree', 'Tree', ['python', 'numpy']).verdict, 'unknown');
  assertAllowed('sklearn.tree._tree', 'Tree', ['sklearn']);
  assert.equal(policy.classify('torch._utils', '_rebuild_tensor_v2', ['python', 'numpy']).verdict, 'unknown');
  assertAllowed('numpy', 'ndarray', ['python', 'numpy']);
  // Deny rules apply whatever the ecosystems.
  assert.equal(policy.classify('os', 'system', []).verdict, 'dangerous');
});

test('config allow entries extend the allowlist but never override a deny rule', () => {
  const p = Policy.fromConfig({ allow: ['mypkg.models.*', 'mypkg.Net', 'os.system', 'subprocess.*', 'builtins.getattr'] });
  const a = p.classify('mypkg.models.resnet', 'ResNet');
  assert.equal(a.verdict, 'allowed');
  assert.equal(a.matched, 'mypkg.models.*');
  assert.equal(p.classify('mypkg', 'Net').verdict, 'allowed');
  assert.equal(p.classify('mypkg', 'Net2').verdict, 'unknown');
  assert.equal(p.classify('mypkg.models', '__init__').verdict, 'dangerous');
  assert.equal(p.classify('mypkg.models', 'os.system').verdict, 'dangerous');
  // User allow applies whatever ecosystems are requested.
  assert.equal(p.classify('mypkg', 'Net', ['numpy']).verdict, 'allowed');
  for (const [m, n] of [['os', 'system'], ['subprocess', 'Popen'], ['builtins', 'getattr']] as Array<[string, string]>) {
    assert.equal(p.classify(m, n).verdict, 'dangerous', `${m}.${n} stays denied`);
  }
  // The default policy is untouched.
  assert.equal(policy.classify('mypkg', 'Net').verdict, 'unknown');
});

test('config deny entries add and raise, never lower', () => {
  const p = Policy.fromConfig({
    deny: [
      { pattern: 'mypkg.dangerous.*', severity: 'HIGH', reason: 'runs plugin hooks' },
      { pattern: 'builtins.getattr', severity: 'CRITICAL' },
      { pattern: 'os.system', severity: 'MEDIUM' },
      { pattern: 'torch.nn.modules.linear.Linear', severity: 'MEDIUM', reason: 'we only ship state dicts.' },
    ],
  });
  const a = p.classify('mypkg.dangerous', 'Loader');
  assert.equal(a.verdict, 'dangerous');
  assert.equal(a.severity, 'HIGH');
  assert.equal(a.category, 'config');
  assert.equal(a.matched, 'mypkg.dangerous.*');
  assert.ok(a.reason.includes('runs plugin hooks'), a.reason);
  // Suffix matching applies to config rules too.
  assert.equal(p.classify('other', 'mypkg.dangerous.Loader').severity, 'HIGH');
  assert.equal(p.classify('builtins', 'getattr').severity, 'CRITICAL');
  assert.equal(p.classify('os', 'system').severity, 'CRITICAL');
  assert.equal(p.classify('os', 'system').category, 'process');
  const lin = p.classify('torch.nn.modules.linear', 'Linear');
  assert.equal(lin.verdict, 'dangerous');
  assert.equal(lin.severity, 'MEDIUM');
  assert.ok(lin.reason.endsWith('we only ship state dicts.'), lin.reason);
});

test('fromConfig rejects malformed entries and reuses the default when empty', () => {
  assert.equal(Policy.fromConfig(undefined), Policy.default());
  assert.equal(Policy.fromConfig({ allow: [], deny: [] }), Policy.default());
  assert.throws(() => Policy.fromConfig({ allow: ['os..system'] }), /allow entry "os\.\.system"/);
  assert.throws(() => Policy.fromConfig({ allow: ['*'] }), TypeError);
  assert.throws(() => Policy.fromConfig({ deny: [{ pattern: 'a.*.b', severity: 'HIGH' }] }), /deny pattern/);
  assert.throws(() => Policy.fromConfig({ deny: [{ pattern: 'a.b', severity: 'LOW' }] }), /MEDIUM, HIGH, CRITICAL/);
});

test('patterns: dotted identifiers with an optional trailing .*', () => {
  for (const ok of ['os', 'os.system', 'subprocess.*', '__torch__.*', 'a_1.B2._c']) assert.ok(isValidPattern(ok), ok);
  for (const bad of ['', '*', '.*', 'os.', '.os', 'os..system', 'os.*.x', 'os.sys tem', '1os', 'os.*.*', 42, null]) {
    assert.ok(!isValidPattern(bad), String(bad));
  }
});

test('the built-in lists are consistent: every allowlist entry is allowed, every deny rule well-formed', () => {
  for (const eco of ECOSYSTEMS) {
    const entries = ALLOWLIST[eco];
    assert.ok(entries.length > 0, `${eco} allowlist is empty`);
    assert.deepEqual([...entries], [...entries].sort(), `${eco} allowlist is sorted`);
    assert.equal(new Set(entries).size, entries.length, `${eco} allowlist has duplicates`);
    for (const e of entries) {
      assert.ok(isValidPattern(e), `${eco}: ${e}`);
      if (e.endsWith('.*')) continue;
      const dot = e.lastIndexOf('.');
      const v = policy.classify(e.slice(0, dot), e.slice(dot + 1), [eco]);
      assert.equal(v.verdict, 'allowed', `${eco}: ${show(e.slice(0, dot), e.slice(dot + 1), v)}`);
    }
  }
  for (const r of DENYLIST) {
    assert.ok(isValidPattern(r.pattern), r.pattern);
    assert.ok(severityRank(r.severity) >= severityRank('HIGH'), `${r.pattern} ${r.severity}`);
    assert.ok(r.reason.length > 0 && !r.reason.endsWith('.'), r.pattern);
  }
});

test('the allowlist keeps out what must never be allowed', () => {
  const all = ECOSYSTEMS.flatMap((e) => ALLOWLIST[e]);
  const forbidden = [
    'torch.storage._load_from_bytes',
    'torch.load',
    'torch.jit.load',
    'builtins.getattr',
    'builtins.type',
    'builtins.eval',
    'copyreg.__newobj__',
    'numpy.load',
    'torch.nn.parameter._ParameterMeta',
  ];
  for (const f of forbidden) assert.ok(!all.includes(f), f);
  for (const prefix of ['torch.hub.', 'torch.utils.collect_env.', 'os.', 'subprocess.', 'pickle.']) {
    assert.deepEqual(all.filter((e) => e.startsWith(prefix)), [], prefix);
  }
  // sklearn functions are out (Cython's generated __pyx_unpickle_* reconstructors excepted).
  for (const fn of ['sklearn.utils.validation.check_array', 'sklearn.utils.parallel.delayed', 'sklearn.base.clone']) {
    assert.ok(!all.includes(fn), fn);
  }
});

interface RealGlobals {
  globals: Record<string, string[]>;
  expectedNotAllowed: Record<string, string>;
}

test('every global in real benign pickles made by the real libraries is allowed', () => {
  const real = JSON.parse(readFileSync(join(ROOT, 'test/scan/policy/real-globals.json'), 'utf8')) as RealGlobals;
  let count = 0;
  for (const [eco, pairs] of Object.entries(real.globals)) {
    assert.ok(pairs.length > 0, eco);
    const ecosystems = eco === 'torchscript' ? WITH_TS : DEFAULT_ECOSYSTEMS;
    for (const pair of pairs) {
      const space = pair.indexOf(' ');
      const [m, n] = [pair.slice(0, space), pair.slice(space + 1)];
      const v = policy.classify(m, n, ecosystems);
      assert.equal(v.verdict, 'allowed', `${eco}: ${show(m, n, v)}`);
      count++;
    }
  }
  assert.ok(count > 150, `only ${count} real globals`);
  // Real pickles also hold these; they stay flagged on purpose.
  for (const pair of Object.keys(real.expectedNotAllowed)) {
    const [m, n] = pair.split(' ');
    assert.equal(policy.classify(m, n).verdict, 'dangerous', pair);
  }
});

test('classify returns the same verdict object for repeated lookups', () => {
  const a = policy.classify('torch._utils', '_rebuild_tensor_v2');
  const b = policy.classify('torch._utils', '_rebuild_tensor_v2');
  assert.equal(a, b);
  // Different ecosystems are different questions.
  assert.notEqual(policy.classify('torch._utils', '_rebuild_tensor_v2', ['numpy']).verdict, 'allowed');
});
