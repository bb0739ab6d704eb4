/**
 * What the Python analysis knows about the standard library and common
 * packages: which callables run code or commands (sinks), which return data an
 * attacker controls or that should stay private (sources), and which paths and
 * hosts matter. Names are canonical dotted paths ("os.system"); `canonical()`
 * maps the aliases Python offers for the same thing (posix.system, cPickle, …).
 */

export type SinkKind =
  | 'code-exec'
  | 'process'
  | 'deserialize'
  | 'native'
  | 'socket'
  | 'http'
  | 'dns'
  | 'file-write'
  | 'file-copy';

export interface SinkSpec {
  kind: SinkKind;
  /** Positional indexes and keyword names that carry the payload (code, command, data, URL, path). */
  args: (number | string)[];
  /** For process sinks: the first argument is the program (the os.exec and os.spawn families); 'spawn' skips the mode argument. */
  argv?: 'exec' | 'spawn';
}

const exec0: SinkSpec = { kind: 'code-exec', args: [0, 'source', 'object', 'expression'] };
const proc0: SinkSpec = { kind: 'process', args: [0, 'args', 'cmd', 'command'] };

export const SINKS: Record<string, SinkSpec> = {
  'builtins.exec': exec0,
  'builtins.eval': exec0,
  'builtins.execfile': exec0,
  'runpy.run_path': exec0,
  'runpy.run_module': exec0,
  'code.InteractiveInterpreter.runsource': exec0,
  'code.InteractiveInterpreter.runcode': exec0,
  'code.InteractiveConsole.push': exec0,
  'code.InteractiveConsole.runsource': exec0,
  'code.interact': { kind: 'code-exec', args: ['local'] },
  'types.FunctionType': exec0,
  'IPython.get_ipython.run_cell': exec0,
  'IPython.get_ipython.ex': exec0,

  'os.system': proc0,
  'os.popen': proc0,
  'os.popen2': proc0,
  'os.popen3': proc0,
  'os.popen4': proc0,
  'os.startfile': proc0,
  'os.posix_spawn': { kind: 'process', args: [0, 1], argv: 'exec' },
  'os.posix_spawnp': { kind: 'process', args: [0, 1], argv: 'exec' },
  'subprocess.Popen': proc0,
  'subprocess.call': proc0,
  'subprocess.run': proc0,
  'subprocess.check_call': proc0,
  'subprocess.check_output': proc0,
  'subprocess.getoutput': proc0,
  'subprocess.getstatusoutput': proc0,
  'pty.spawn': proc0,
  'platform.popen': proc0,
  'asyncio.create_subprocess_shell': proc0,
  'asyncio.create_subprocess_exec': { kind: 'process', args: [0, 1, 2, 3, 4, 5, 6, 7], argv: 'exec' },
  'pexpect.spawn': proc0,
  'pexpect.run': proc0,
  'IPython.get_ipython.system': proc0,
  'IPython.get_ipython.getoutput': proc0,
  'libc.system': proc0,

  'pickle.loads': { kind: 'deserialize', args: [0, 'data'] },
  'pickle.load': { kind: 'deserialize', args: [0, 'file'] },
  'pickle.Unpickler': { kind: 'deserialize', args: [0, 'file'] },
  'dill.loads': { kind: 'deserialize', args: [0] },
  'dill.load': { kind: 'deserialize', args: [0] },
  'cloudpickle.loads': { kind: 'deserialize', args: [0] },
  'cloudpickle.load': { kind: 'deserialize', args: [0] },
  'marshal.loads': { kind: 'deserialize', args: [0] },
  'marshal.load': { kind: 'deserialize', args: [0] },
  'torch.load': { kind: 'deserialize', args: [0, 'f'] },
  'joblib.load': { kind: 'deserialize', args: [0, 'filename'] },
  'numpy.load': { kind: 'deserialize', args: [0, 'file'] },
  'pandas.read_pickle': { kind: 'deserialize', args: [0] },
  'yaml.load': { kind: 'deserialize', args: [0, 'stream'] },
  'yaml.unsafe_load': { kind: 'deserialize', args: [0, 'stream'] },
  'jsonpickle.decode': { kind: 'deserialize', args: [0] },
  'shelve.open': { kind: 'deserialize', args: [0] },

  'ctypes.CDLL': { kind: 'native', args: [0, 'name'] },
  'ctypes.PyDLL': { kind: 'native', args: [0, 'name'] },
  'ctypes.WinDLL': { kind: 'native', args: [0, 'name'] },
  'ctypes.OleDLL': { kind: 'native', args: [0, 'name'] },
  'ctypes.cdll.LoadLibrary': { kind: 'native', args: [0] },
  'ctypes.windll.LoadLibrary': { kind: 'native', args: [0] },
  'ctypes.memmove': { kind: 'native', args: [1] },
  'ctypes.CFUNCTYPE': { kind: 'native', args: [] },
  'ctypes.WINFUNCTYPE': { kind: 'native', args: [] },
  'ctypes.windll.kernel32.VirtualAlloc': { kind: 'native', args: [] },
  'ctypes.windll.kernel32.CreateThread': { kind: 'native', args: [] },
  'ctypes.windll.kernel32.RtlMoveMemory': { kind: 'native', args: [1] },
  'cffi.FFI.dlopen': { kind: 'native', args: [0] },

  'socket.socket.connect': { kind: 'socket', args: [0] },
  'socket.socket.connect_ex': { kind: 'socket', args: [0] },
  'socket.socket.send': { kind: 'socket', args: [0] },
  'socket.socket.sendall': { kind: 'socket', args: [0] },
  'socket.socket.sendto': { kind: 'socket', args: [0, 1] },
  'socket.create_connection': { kind: 'socket', args: [0] },
  'telnetlib.Telnet': { kind: 'socket', args: [0] },
  'ftplib.FTP.storbinary': { kind: 'socket', args: [0, 1] },
  'smtplib.SMTP.sendmail': { kind: 'socket', args: [2] },
  'paramiko.SSHClient.connect': { kind: 'socket', args: [0] },

  'requests.post': { kind: 'http', args: [0, 'url', 1, 'data', 'json', 'files', 'params', 'headers'] },
  'requests.put': { kind: 'http', args: [0, 'url', 1, 'data', 'json', 'files', 'params', 'headers'] },
  'requests.patch': { kind: 'http', args: [0, 'url', 1, 'data', 'json', 'files', 'params', 'headers'] },
  'requests.request': { kind: 'http', args: [1, 'url', 'data', 'json', 'files', 'params', 'headers'] },
  'requests.get': { kind: 'http', args: [0, 'url', 'params', 'data', 'headers'] },
  'requests.head': { kind: 'http', args: [0, 'url', 'params'] },
  'requests.delete': { kind: 'http', args: [0, 'url', 'params', 'data'] },
  'httpx.post': { kind: 'http', args: [0, 'url', 'data', 'json', 'content', 'files', 'params', 'headers'] },
  'httpx.put': { kind: 'http', args: [0, 'url', 'data', 'json', 'content', 'files', 'params', 'headers'] },
  'httpx.get': { kind: 'http', args: [0, 'url', 'params', 'headers'] },
  'httpx.request': { kind: 'http', args: [1, 'url', 'data', 'json', 'content', 'params'] },
  'urllib.request.urlopen': { kind: 'http', args: [0, 'url', 1, 'data'] },
  'urllib.request.Request': { kind: 'http', args: [0, 'url', 1, 'data'] },
  'http.client.HTTPConnection.request': { kind: 'http', args: [1, 'url', 2, 'body', 3, 'headers'] },
  'aiohttp.ClientSession.post': { kind: 'http', args: [0, 'url', 'data', 'json'] },
  'urllib3.PoolManager.request': { kind: 'http', args: [1, 'url', 'body', 'fields'] },

  'socket.gethostbyname': { kind: 'dns', args: [0] },
  'socket.getaddrinfo': { kind: 'dns', args: [0] },

  'builtins.open': { kind: 'file-write', args: [0, 'file'] },
  'os.open': { kind: 'file-write', args: [0, 'path'] },
  'codecs.open': { kind: 'file-write', args: [0, 'filename'] },
  'shutil.copy': { kind: 'file-copy', args: [0, 1] },
  'shutil.copy2': { kind: 'file-copy', args: [0, 1] },
  'shutil.copyfile': { kind: 'file-copy', args: [0, 1] },
  'shutil.move': { kind: 'file-copy', args: [0, 1] },
  'os.rename': { kind: 'file-copy', args: [0, 1] },
  'os.replace': { kind: 'file-copy', args: [0, 1] },
  'os.symlink': { kind: 'file-copy', args: [0, 1] },
  'winreg.SetValueEx': { kind: 'file-write', args: [0, 1, 4] },
};

// os.exec*/spawn* take the program first (spawn* after a mode).
for (const v of ['l', 'le', 'lp', 'lpe', 'v', 've', 'vp', 'vpe']) {
  SINKS[`os.exec${v}`] = { kind: 'process', args: [0, 1, 2, 3, 4, 5, 6, 7], argv: 'exec' };
  SINKS[`os.spawn${v}`] = { kind: 'process', args: [1, 2, 3, 4, 5, 6, 7], argv: 'spawn' };
}
// Sessions and clients send the same way as the module-level helpers.
for (const m of ['post', 'put', 'patch', 'request', 'get']) {
  SINKS[`requests.Session.${m}`] = SINKS[`requests.${m}`];
  if (SINKS[`httpx.${m}`]) SINKS[`httpx.Client.${m}`] = SINKS[`httpx.${m}`];
}
SINKS['http.client.HTTPSConnection.request'] = SINKS['http.client.HTTPConnection.request'];

/** Callables whose result holds data fetched from the network. */
export const NETWORK_SOURCES = new Set([
  'requests.get',
  'requests.post',
  'requests.put',
  'requests.patch',
  'requests.request',
  'requests.Session.get',
  'requests.Session.post',
  'requests.Session.request',
  'httpx.get',
  'httpx.post',
  'httpx.request',
  'httpx.Client.get',
  'urllib.request.urlopen',
  'urllib3.PoolManager.request',
  'http.client.HTTPConnection.getresponse',
  'http.client.HTTPSConnection.getresponse',
  'socket.socket.recv',
  'socket.socket.recvfrom',
  'socket.socket.recv_into',
  'socket.socket.makefile',
  'aiohttp.ClientSession.get',
  'pycurl.Curl.perform',
]);

/** Callables (matched on the last name) that download to a local file and return its path. */
export const DOWNLOAD_TO_FILE = new Set([
  'download',
  'download_and_extract',
  'download_custom',
  'hf_hub_download',
  'cached_download',
  'cached_path',
  'snapshot_download',
  'urlretrieve',
  'download_url',
  'download_file_from_google_drive',
]);

/** Callables that describe the machine: host and user names, OS details (reconnaissance when sent out). */
export const SYSINFO_SOURCES = new Set([
  'platform.node',
  'platform.uname',
  'platform.platform',
  'platform.system',
  'platform.version',
  'platform.release',
  'platform.machine',
  'platform.processor',
  'socket.gethostname',
  'socket.getfqdn',
  'getpass.getuser',
  'os.getlogin',
  'os.uname',
  'uuid.getnode',
  'psutil.users',
  'psutil.net_if_addrs',
]);

/** Callables that return stored secrets directly. */
export const SECRET_SOURCES = new Set([
  'keyring.get_password',
  'keyring.get_credential',
  'win32crypt.CryptUnprotectData',
  'browser_cookie3.chrome',
  'browser_cookie3.firefox',
  'browser_cookie3.load',
  'browser_cookie3.edge',
  'browsercookie.chrome',
  'browsercookie.firefox',
]);

/** Module aliases that Python exposes under other names. */
const MODULE_ALIASES: [string, string][] = [
  ['posix', 'os'],
  ['nt', 'os'],
  ['__builtin__', 'builtins'],
  ['__builtins__', 'builtins'],
  ['cPickle', 'pickle'],
  ['_pickle', 'pickle'],
  ['pickle._Unpickler', 'pickle.Unpickler'],
  ['urllib2.urlopen', 'urllib.request.urlopen'],
  ['urllib2.Request', 'urllib.request.Request'],
  ['urllib.urlopen', 'urllib.request.urlopen'],
  ['urllib.urlretrieve', 'urllib.request.urlretrieve'],
  ['six.moves.urllib.request', 'urllib.request'],
  ['httplib', 'http.client'],
  ['requests.api', 'requests'],
  ['requests.sessions.Session', 'requests.Session'],
  ['commands', 'subprocess'],
  ['popen2.popen2', 'os.popen2'],
  ['popen2.popen3', 'os.popen3'],
  ['popen2.popen4', 'os.popen4'],
  ['_socket', 'socket'],
  ['socket.SocketType', 'socket.socket'],
  ['numpy.lib.npyio.load', 'numpy.load'],
  ['torch.serialization.load', 'torch.load'],
  ['joblib.numpy_pickle.load', 'joblib.load'],
  ['ctypes.cdll.msvcrt', 'libc'],
  ['ctypes.cdll.LoadLibrary.system', 'libc.system'],
  ['ctypes.CDLL.system', 'libc.system'],
  ['ctypes.PyDLL.system', 'libc.system'],
  ['importlib.__import__', 'builtins.__import__'],
  ['builtins.bytes.fromhex', 'bytes.fromhex'],
  ['builtins.bytearray.fromhex', 'bytes.fromhex'],
];

/** Maps an import path to the name the catalogue uses ("posix.system" → "os.system"). */
export function canonical(q: string): string {
  for (const [from, to] of MODULE_ALIASES) {
    if (q === from) return to;
    if (q.startsWith(from + '.')) return to + q.slice(from.length);
  }
  return q;
}

/** Names every module sees without an import. */
export const BUILTIN_NAMES = new Set([
  'exec', 'eval', 'compile', 'open', '__import__', 'getattr', 'setattr', 'vars', 'globals', 'locals', 'dir',
  'execfile', 'input', 'chr', 'ord', 'str', 'bytes', 'bytearray', 'int', 'hex', 'oct', 'bin', 'reversed', 'list',
  'tuple', 'set', 'frozenset', 'dict', 'map', 'filter', 'zip', 'sorted', 'len', 'range', 'print', 'repr',
  'unichr', 'unicode', 'basestring', 'reload', 'breakpoint', 'memoryview', 'type', 'object', 'isinstance',
  'super', 'enumerate', 'iter', 'next', 'sum', 'min', 'max', 'abs', 'any', 'all', 'hash', 'id', 'format',
  'float', 'bool', 'callable', 'classmethod', 'staticmethod', 'property', 'hasattr', 'delattr', 'round',
  'pow', 'divmod', 'slice', 'ascii', 'help', 'exit', 'quit', 'Exception', 'ValueError', 'TypeError',
  'KeyError', 'IndexError', 'RuntimeError', 'ImportError', 'NotImplementedError', 'OSError', 'IOError',
  'AttributeError', 'StopIteration', 'NotImplemented', 'Ellipsis', 'file', 'raw_input', 'apply', 'buffer',
  'intern', 'coerce', 'long', 'xrange', 'cmp', 'reduce',
]);

/** Modules whose members `from X import *` brings in and that the catalogue cares about. */
export const STAR_EXPORTS: Record<string, string[]> = {
  os: ['system', 'popen', 'execl', 'execle', 'execlp', 'execv', 'execve', 'execvp', 'execvpe', 'spawnl', 'spawnv', 'spawnlp', 'spawnvp', 'startfile', 'environ', 'getenv', 'dup2', 'getlogin', 'remove', 'listdir'],
  subprocess: ['Popen', 'call', 'run', 'check_call', 'check_output', 'getoutput', 'getstatusoutput', 'PIPE'],
  socket: ['socket', 'create_connection', 'gethostname', 'AF_INET', 'SOCK_STREAM'],
  pty: ['spawn'],
  base64: ['b64decode', 'b32decode', 'b16decode', 'b85decode', 'a85decode', 'urlsafe_b64decode', 'decodebytes', 'decodestring'],
  zlib: ['decompress'],
  marshal: ['loads', 'load'],
  pickle: ['loads', 'load'],
  ctypes: ['CDLL', 'cdll', 'windll', 'memmove', 'CFUNCTYPE'],
  requests: ['get', 'post', 'put', 'patch'],
  codecs: ['decode', 'encode'],
  binascii: ['unhexlify', 'a2b_hex', 'a2b_base64'],
};

// ------------------------------------------------------------------ paths

function normPath(p: string): string {
  return p.replace(/\\/g, '/').replace(/\/+/g, '/').toLowerCase();
}

const CREDENTIAL_PATHS: [RegExp, string][] = [
  [/(^|\/)\.ssh\/(id_[a-z0-9_]+(\.pub)?|identity|config)$/, 'SSH private keys'],
  [/(^|\/)\.ssh\/?$/, 'SSH key folder'],
  [/(^|\/)\.aws\/(credentials|config)$|(^|\/)\.aws\/?$/, 'AWS credentials'],
  [/(^|\/)\.config\/gcloud(\/|$)/, 'Google Cloud credentials'],
  [/(^|\/)\.azure(\/|$)/, 'Azure credentials'],
  [/(^|\/)\.kube\/config$/, 'Kubernetes credentials'],
  [/(^|\/)\.docker\/config\.json$/, 'Docker registry credentials'],
  [/(^|\/)\.git-credentials$|(^|\/)\.netrc$|(^|\/)_netrc$|(^|\/)\.pypirc$/, 'stored credentials (.netrc, .git-credentials, .pypirc)'],
  [/(^|\/)(\.huggingface|\.cache\/huggingface)\/(token|stored_tokens)$/, 'Hugging Face token'],
  [/(google\/chrome|chromium|bravesoftware|brave-browser|microsoft\/edge|opera software|opera|vivaldi|yandexbrowser)(\/|$)/, 'browser profile (Chromium family)'],
  [/(^|\/)(login data|web data|cookies|local state)(-journal)?$/, 'browser credential database'],
  [/(^|\/)(\.mozilla\/firefox|mozilla\/firefox)(\/|$)/, 'Firefox profile'],
  [/(^|\/)(cookies\.sqlite|logins\.json|key[34]\.db|signons\.sqlite)$/, 'Firefox credential database'],
  [/(^|\/)library\/keychains(\/|$)|\.keychain(-db)?$|(^|\/)\.local\/share\/keyrings(\/|$)/, 'keychain'],
  [/^\/etc\/(shadow|gshadow|sudoers)$/, 'system password database'],
  [/(^|\/)(wallet\.dat|\.electrum|\.bitcoin|exodus\/exodus\.wallet)(\/|$)/, 'cryptocurrency wallet'],
];

/** What a path is, when it names a credential store ("AWS credentials"), else undefined. */
export function credentialPath(path: string): string | undefined {
  const p = normPath(path);
  for (const [re, what] of CREDENTIAL_PATHS) if (re.test(p)) return what;
  return undefined;
}

const PERSISTENCE_PATHS: [RegExp, string][] = [
  [/(^|\/)\.(bashrc|bash_profile|bash_login|profile|zshrc|zprofile|zshenv|zlogin|cshrc|tcshrc|kshrc|mkshrc)$/, 'shell start-up file'],
  [/(^|\/)\.config\/fish\/config\.fish$/, 'shell start-up file'],
  [/^\/etc\/(profile|bash\.bashrc|bashrc|zsh\/zshrc|zshrc|environment|rc\.local)$|^\/etc\/profile\.d\//, 'system shell start-up file'],
  [/^\/etc\/cron|^\/var\/spool\/cron|(^|\/)crontab$|^\/etc\/anacrontab$/, 'crontab'],
  [/(^|\/)\.ssh\/authorized_keys2?$/, 'SSH authorized_keys'],
  // A .pth file runs at interpreter start only in a site-packages folder (elsewhere .pth is a PyTorch checkpoint).
  [/(^|\/)(site|dist)-packages\/[^/]*\.pth$/, 'Python .pth start-up file'],
  [/(^|\/)(site|user)customize\.py$/, 'Python start-up module'],
  [/(^|\/)(site|dist)-packages\//, 'installed Python package'],
  [/(^|\/)\.config\/autostart\/|^\/etc\/xdg\/autostart\//, 'desktop autostart entry'],
  [/^\/etc\/systemd\/|(^|\/)\.config\/systemd\/user\/|^\/etc\/init\.d\/|^\/lib\/systemd\//, 'system service'],
  [/(^|\/)library\/(launchagents|launchdaemons)\//, 'launchd agent'],
  [/start menu\/programs\/startup\//, 'Windows startup folder'],
  [/^\/etc\/ld\.so\.preload$/, 'dynamic linker preload'],
  [/^\/etc\/sudoers/, 'sudoers'],
  [/software\/microsoft\/windows\/currentversion\/run/, 'Windows Run key'],
];

/** What a path is, when writing it makes code run later (persistence), else undefined. */
export function persistencePath(path: string): string | undefined {
  const p = normPath(path);
  for (const [re, what] of PERSISTENCE_PATHS) if (re.test(p)) return what;
  return undefined;
}

/** Environment variables that hold a home folder: folded to "~" so paths built on them still match. */
export const HOME_VARS = new Set(['HOME', 'USERPROFILE', 'APPDATA', 'LOCALAPPDATA', 'XDG_CONFIG_HOME', 'HOMEPATH']);

// ------------------------------------------------------------------ hosts

/** The host part of a URL or "host:port", lower-cased; undefined when there is none. */
export function hostOf(url: string): string | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/\s]*@)?(\[[^\]]+\]|[^/:?#\s'"]+)/i.exec(url.trim());
  if (m) return m[1].toLowerCase();
  return undefined;
}

/**
 * Model hubs: data sent to or fetched from these is the model's own business.
 * Only Hugging Face counts; GitHub, raw.githubusercontent.com and others are
 * ordinary hosts (fine to download from, judged like any host when code is
 * run from them or data is posted to them).
 */
export function isHubHost(host: string | undefined): boolean {
  if (!host) return false;
  return /(^|\.)huggingface\.co$|(^|\.)hf\.co$/.test(host);
}

export function isIpHost(host: string | undefined): boolean {
  if (!host) return false;
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || /^\[?[0-9a-f:]+\]?$/i.test(host) && host.includes(':');
}

// ------------------------------------------------------------------ programs

/** Programs that build, inspect or unpack things; running them with fixed arguments is ordinary. */
export const ORDINARY_PROGRAMS = new Set([
  'git', 'git-lfs', 'nvcc', 'nvidia-smi', 'cmake', 'make', 'ninja', 'gcc', 'g++', 'cc', 'c++', 'clang', 'clang++',
  'hipcc', 'hipconfig', 'rocm-smi', 'pkg-config', 'which', 'where', 'tar', 'unzip', 'gunzip', 'bunzip2', '7z', '7za',
  'unrar', 'ffmpeg', 'ffprobe', 'sox', 'mkdir', 'ls', 'nproc', 'lscpu', 'free', 'df', 'du', 'wc', 'sort', 'uname',
  'nvidia-debugdump', 'ldconfig', 'java', 'javac', 'mvn', 'perl', 'ruby', 'node', 'npm', 'cargo', 'rustc', 'go',
  'mpirun', 'torchrun', 'accelerate', 'deepspeed', 'huggingface-cli', 'tensorboard', 'jupyter', 'protoc', 'swig',
  'readlink', 'realpath', 'dirname', 'basename', 'grep', 'sed', 'awk', 'cut', 'head', 'tail', 'tr', 'echo', 'cat',
  'find', 'date', 'sleep', 'true', 'false', 'test', 'pwd', 'cp', 'mv', 'ln', 'rm', 'wget', 'curl', 'gsutil', 'aws',
  'rsync', 'md5sum', 'sha256sum', 'nvidia-ml-py', 'lspci', 'ldd', 'objdump', 'nm', 'strip', 'ar', 'ld', 'as',
  'hostname', 'whoami', 'id', 'ps', 'kill', 'top', 'htop', 'ulimit', 'numactl', 'taskset', 'valgrind', 'gdb',
]);

/** Package installers: running them installs code from an index (worth knowing, rarely an attack by itself). */
export const INSTALLERS = new Set(['pip', 'pip3', 'conda', 'mamba', 'apt', 'apt-get', 'yum', 'dnf', 'brew', 'uv']);

/** Shells and interpreters: given code inline, they run whatever the string says. */
export const SHELLS = new Set(['sh', 'bash', 'zsh', 'dash', 'ksh', 'csh', 'tcsh', 'fish', 'ash', 'busybox', 'cmd', 'cmd.exe', 'powershell', 'powershell.exe', 'pwsh']);
