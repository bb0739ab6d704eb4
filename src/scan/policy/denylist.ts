/**
 * Known-bad Python globals: what a pickle must not be able to reach.
 *
 * Patterns are dotted paths, either exact ("os.system") or a whole namespace
 * ("subprocess.*": anything strictly under subprocess). The policy matches
 * them against EVERY dotted suffix of a global, after alias normalisation, so
 * `pathlib.os.system` hits "os.system" and `x.__globals__.get` hits
 * "__globals__.*". A one-part exact pattern ("from_file") therefore matches any
 * global whose last part is that name; those are kept to names distinctive
 * enough not to collide with ordinary classes.
 *
 * Severity: CRITICAL when the global by itself runs code, starts processes,
 * touches files or the network, imports modules or deserialises nested data;
 * HIGH for gadgets that need a second step (attribute walks, apply/partial,
 * monkey-patching). The allowlist test asserts no allowlisted entry is hit.
 */
import type { Severity } from '../finding.js';

export type DenyCategory =
  | 'process'
  | 'code'
  | 'import'
  | 'file'
  | 'network'
  | 'deserialize'
  | 'gadget'
  | 'attribute-walk'
  | 'system';

export interface DenyRule {
  pattern: string;
  severity: Severity;
  category: DenyCategory;
  /** Lower-case predicate completing "<global> ...", e.g. "runs a shell command". */
  reason: string;
}

function rules(category: DenyCategory, severity: Severity, reason: string, patterns: readonly string[]): DenyRule[] {
  return patterns.map((pattern) => ({ pattern, severity, category, reason }));
}

/** "a.B" and everything under it: for classes whose methods are the danger. */
function withMembers(...paths: string[]): string[] {
  return paths.flatMap((p) => [p, `${p}.*`]);
}

function under(module: string, names: readonly string[]): string[] {
  return names.map((n) => `${module}.${n}`);
}

// os functions that start or replace processes.
const OS_PROCESS = [
  'system', 'popen', 'popen2', 'popen3', 'popen4', 'startfile',
  'execl', 'execle', 'execlp', 'execlpe', 'execv', 'execve', 'execvp', 'execvpe',
  'spawnl', 'spawnle', 'spawnlp', 'spawnlpe', 'spawnv', 'spawnve', 'spawnvp', 'spawnvpe',
  'fork', 'forkpty', 'posix_spawn', 'posix_spawnp', 'kill', 'killpg',
];

// os functions that read, write, delete or re-permission files.
const OS_FILE = [
  'open', 'fdopen', 'read', 'pread', 'readv', 'write', 'pwrite', 'writev', 'sendfile',
  'remove', 'unlink', 'rmdir', 'removedirs', 'rename', 'renames', 'replace',
  'mkdir', 'makedirs', 'mkfifo', 'mknod', 'symlink', 'link', 'truncate', 'ftruncate',
  'chmod', 'lchmod', 'fchmod', 'chown', 'lchown', 'fchown', 'chdir', 'fchdir', 'chroot',
  'listdir', 'scandir', 'walk', 'fwalk', 'utime', 'putenv', 'unsetenv',
];

// pathlib methods that do I/O; the classes themselves only split strings and are allowlisted.
const PATH_IO_METHODS = [
  'open', 'read_text', 'read_bytes', 'write_text', 'write_bytes', 'touch', 'mkdir',
  'rmdir', 'unlink', 'rename', 'replace', 'symlink_to', 'hardlink_to', 'link_to',
  'chmod', 'lchmod', 'iterdir', 'glob', 'rglob', 'walk', 'readlink', 'stat', 'lstat',
  'exists', 'samefile', 'owner', 'group', 'resolve', 'absolute', 'expanduser', 'home', 'cwd',
];
const PATH_CLASSES = ['pathlib.Path', 'pathlib.PosixPath', 'pathlib.WindowsPath'];

// Attribute names whose presence in a dotted global means it walks into
// interpreter internals (classic sandbox-escape chains) or calls a special method directly.
export const DUNDER_WALK: readonly string[] = [
  '__subclasses__', '__globals__', '__builtins__', '__import__', '__getattribute__',
  '__getattr__', '__setattr__', '__delattr__', '__class__', '__mro__', '__base__',
  '__bases__', '__code__', '__func__', '__self__', '__dict__', '__loader__', '__spec__',
  '__init__', '__new__', '__init_subclass__', '__call__', '__closure__', '__wrapped__',
  '__reduce__', '__reduce_ex__', '__setstate__', '__getstate__', '__get__', '__set__',
  '__delete__', '__objclass__', '__defaults__', '__kwdefaults__', '__getitem__',
  '__setitem__', '__delitem__', '__class_getitem__', '__build_class__',
];

export const DENYLIST: readonly DenyRule[] = [
  // --- starting processes -------------------------------------------------
  ...rules('process', 'CRITICAL', 'starts a process or runs a shell command', [
    ...under('os', OS_PROCESS),
    'subprocess.*', '_posixsubprocess.*', '_winapi.*', 'pty.*', 'pexpect.*',
    'commands.*', 'popen2.*', // Python 2
    'platform.popen',
    'asyncio.create_subprocess_exec', 'asyncio.create_subprocess_shell', 'asyncio.subprocess.*',
    'pydoc.pipepager', 'pydoc.pager', 'pydoc.tempfilepager', 'pydoc.getpager',
    'numpy.f2py.*', 'numpy.distutils.*', // compile and run build tools
    'torch.utils.collect_env.*', // shells out to collect system info
    'torch.utils.cpp_extension.*', // compiles and loads native code
  ]),

  // --- evaluating code ----------------------------------------------------
  ...rules('code', 'CRITICAL', 'evaluates or compiles Python code', [
    'builtins.exec', 'builtins.eval', 'builtins.compile', 'builtins.execfile',
    'code.interact', 'code.compile_command', ...withMembers('code.InteractiveInterpreter', 'code.InteractiveConsole'),
    'codeop.*', 'runpy.*', 'marshal.*',
    'types.FunctionType', 'types.CodeType', 'types.LambdaType',
    'timeit.timeit', 'timeit.repeat', 'timeit.main', ...withMembers('timeit.Timer'),
    'cProfile.run', 'cProfile.runctx', ...withMembers('cProfile.Profile'),
    'profile.run', 'profile.runctx', ...withMembers('profile.Profile'),
    'pdb.*', 'bdb.*', 'idlelib.*', ...withMembers('trace.Trace'),
    'numpy.testing._private.utils.runstring',
    // GraphModule pickles carry Python source that reduce_graph_module exec()s.
    'torch.fx.graph_module.*',
  ]),

  // --- importing modules ---------------------------------------------------
  ...rules('import', 'CRITICAL', 'imports or loads modules chosen by the file', [
    'builtins.__import__', 'builtins.reload',
    'importlib.*', 'imp.*', 'pkgutil.*', 'zipimport.*', 'pkg_resources.*', 'site.*',
    'pydoc.locate', 'sys.modules', 'sys.path', 'sys.meta_path', 'sys.path_hooks',
    'sys.path_importer_cache',
    'logging.config.*', // dictConfig resolves and instantiates dotted names
    'torch.package.*', 'torch.ops.load_library', 'load_library',
    'torch.hub.*', // downloads a repository and imports its hubconf.py
  ]),

  // --- file access ---------------------------------------------------------
  ...rules('file', 'CRITICAL', 'reads, writes or deletes files', [
    'builtins.open', 'builtins.file',
    'io.open', 'io.open_code', ...withMembers('io.FileIO'),
    ...under('os', OS_FILE),
    'shutil.*', 'tempfile.*', 'glob.glob', 'glob.iglob', 'glob.glob0', 'glob.glob1', 'fileinput.*',
    ...PATH_CLASSES.flatMap((c) => under(c, PATH_IO_METHODS)),
    'pathlib._NormalAccessor.*', 'pathlib._normal_accessor.*',
    'read_text', 'read_bytes', 'write_text', 'write_bytes', 'from_file', 'tofile',
    'codecs.open', 'mmap.*',
    'numpy.fromfile', 'numpy.save', 'numpy.savez', 'numpy.savez_compressed', 'numpy.savetxt',
    'numpy.loadtxt', 'numpy.genfromtxt', 'numpy.fromregex', ...withMembers('numpy.memmap'),
    'numpy.lib.npyio.*', 'numpy.lib.format.open_memmap', 'numpy.core.memmap.*',
    'numpy.ndarray.dump', 'numpy.ma.dump',
    'torch.save', 'torch.serialization.save', 'torch.from_file',
    'joblib.dump', 'joblib.numpy_pickle.dump',
  ]),
  // Anything else file-object shaped; BytesIO/StringIO are harmless but never needed in a model.
  ...rules('file', 'HIGH', 'creates file objects or opens archives by name', [
    'io.*', 'zipfile.*', 'tarfile.*', 'gzip.open', 'bz2.open', 'lzma.open', 'sqlite3.*', 'dbm.*',
    'pandas.io.*',
  ]),

  // --- network -------------------------------------------------------------
  ...rules('network', 'CRITICAL', 'opens network connections', [
    'socket.*', 'socketserver.*', 'SocketServer.*', 'ssl.*',
    'http.client.*', 'http.server.*', 'http.cookiejar.*', 'httplib.*',
    'urllib.*', 'urllib2.*', 'urllib3.*', 'requests.*', 'httpx.*', 'aiohttp.*',
    'ftplib.*', 'smtplib.*', 'telnetlib.*', 'poplib.*', 'imaplib.*', 'nntplib.*',
    'webbrowser.*', 'xmlrpc.*', 'xmlrpclib.*',
    'asyncio.open_connection', 'asyncio.start_server', 'asyncio.open_unix_connection',
    'asyncio.start_unix_server',
    'numpy.DataSource', 'numpy.lib._datasource.*', 'numpy.lib.DataSource',
    'sklearn.datasets.*',
  ]),

  // --- nested deserialisation ---------------------------------------------
  ...rules('deserialize', 'CRITICAL', 'deserialises nested data, which can run arbitrary code', [
    'pickle.*', '_pickle.load', '_pickle.loads', '_pickle.Unpickler',
    'dill.*', 'cloudpickle.*', 'jsonpickle.*', 'shelve.*',
    'joblib.load', 'joblib.numpy_pickle.load',
    'sklearn.externals.joblib.load', 'sklearn.externals.joblib.numpy_pickle.load',
    'torch.load', 'torch.serialization.load', 'torch.serialization._load',
    'torch.jit.load', 'torch.jit._load_for_lite_interpreter', 'torch.jit._serialization.*',
    'torch.jit.mobile._load_for_lite_interpreter', 'torch._C.import_ir_module',
    'torch.storage._load_from_bytes',
    'numpy.load', 'numpy.loads', 'numpy.core.numeric.loads', 'numpy.ma.load', 'numpy.ma.loads',
    'numpy.ma.core.load', 'numpy.ma.core.loads', 'numpy.lib.format.read_array',
    'pandas.read_pickle', 'pandas.io.pickle.read_pickle', 'pandas.compat.pickle_compat.*',
    'yaml.load', 'yaml.unsafe_load', 'yaml.full_load', 'yaml.load_all', 'yaml.unsafe_load_all',
    'yaml.full_load_all', 'yaml.UnsafeLoader', 'yaml.Loader',
  ]),

  // --- native code, interpreter and machine state --------------------------
  ...rules('system', 'CRITICAL', 'loads native code or controls processes and packages', [
    'ctypes.*', '_ctypes.*', 'cffi.*', 'numpy.ctypeslib.*',
    'multiprocessing.*', '_multiprocessing.*',
    'pip.*', 'setuptools.*', 'distutils.*', 'ensurepip.*', 'venv.*',
    'winreg.*', '_winreg.*',
    'sys.settrace', 'sys.setprofile', 'sys.addaudithook', 'sys.breakpointhook',
  ]),
  ...rules('system', 'HIGH', 'reaches interpreter or operating-system state no model file needs', [
    'os.*', 'sys.*', 'signal.signal', 'signal.alarm', 'signal.setitimer', 'signal.pthread_kill',
    'signal.raise_signal', 'signal.set_wakeup_fd', 'signal.siginterrupt',
    'atexit.*', 'resource.*', 'builtins.exit', 'builtins.quit', 'msvcrt.*', '_thread.*', 'thread.*',
  ]),
  // A global that resolves to the module object itself (`pathlib.os`): BUILD on
  // it rewrites the module's attributes, i.e. monkey-patches os/sys/builtins.
  ...rules('system', 'HIGH', 'resolves to a sensitive module object, which BUILD can monkey-patch', [
    'os', 'sys', 'builtins', 'subprocess', 'importlib', 'pickle', 'shutil', 'socket', 'ctypes',
  ]),

  // --- gadgets: harmless alone, chain other globals into arbitrary behaviour --
  ...rules('gadget', 'HIGH', 'is a generic call or attribute gadget used to chain exploits', [
    'builtins.getattr', 'builtins.setattr', 'builtins.delattr', 'builtins.hasattr',
    'builtins.globals', 'builtins.locals', 'builtins.vars', 'builtins.dir',
    'builtins.breakpoint', 'builtins.input', 'builtins.help', 'builtins.__build_class__',
    'builtins.type', 'builtins.super', 'builtins.apply', 'builtins.map', 'builtins.filter',
    'functools.partial', 'functools.partialmethod', 'functools.reduce',
    'functools.update_wrapper', 'functools.wraps',
    'operator.attrgetter', 'operator.methodcaller', 'operator.itemgetter',
    'operator.getitem', 'operator.setitem', 'operator.delitem', 'operator.call',
    'itertools.starmap',
    'types.MethodType', 'types.new_class', 'types.ModuleType',
    'copyreg.pickle', 'copyreg.constructor', 'copyreg.add_extension',
    'copyreg.remove_extension', 'copyreg.clear_extension_cache', 'copyreg.dispatch_table',
  ]),
  ...rules('attribute-walk', 'HIGH', 'walks into interpreter internals through special attributes', [
    'inspect.*', 'gc.*',
    ...DUNDER_WALK.flatMap((d) => [d, `${d}.*`]),
  ]),
];
