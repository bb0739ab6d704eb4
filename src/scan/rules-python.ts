import type { RuleInfo } from './rules.js';

const DO_NOT_RUN =
  'Do not import or run this code (trust_remote_code=True, torch.hub.load, datasets.load_dataset with a loading script and pip install all run it). Treat the repository as compromised and report it to the hub.';

/**
 * Rules for the code that ships beside the weights (Python files, notebooks,
 * shell scripts, TorchScript code members). Findings carry 1-based line and
 * column (`line`, `column`, `endLine`, `endColumn`) besides the byte `offset`.
 */
export const PYTHON_RULES: RuleInfo[] = [
  {
    id: 'python/remote-code',
    shortDescription: 'Python code runs code or commands fetched from the network',
    fullDescription:
      'Data from a network response (requests, urllib, sockets, files downloaded by dl_manager/hf_hub_download) reaches ' +
      'exec/eval/compile or a process call, or a command pipes a download into a shell (curl … | sh). What runs is ' +
      'whatever the server sends at that moment, not the code that was reviewed. Loading another repository\'s code ' +
      '(trust_remote_code=True, torch.hub.load of a GitHub repo) is reported too, as LOW/MEDIUM.',
    defaultSeverity: 'CRITICAL',
    help: DO_NOT_RUN,
  },
  {
    id: 'python/obfuscated-exec',
    shortDescription: 'Python code runs code hidden by encoding or string building',
    fullDescription:
      'exec/eval/compile (or a shell through base64 -d | sh) runs code that was decoded from an encoded literal ' +
      '(base64, hex, rot13, zlib, bz2, marshalled bytecode) or assembled to hide it (chr() joins, reversed strings, ' +
      'escaped characters). The decoded payload is shown and analysed in turn.',
    defaultSeverity: 'CRITICAL',
    help: DO_NOT_RUN,
  },
  {
    id: 'python/code-exec',
    shortDescription: 'Python code calls exec/eval/compile on dynamic text',
    fullDescription:
      'exec, eval, execfile, runpy or code.InteractiveInterpreter run a string. Constant strings are analysed as code ' +
      'too and reported as LOW; text computed at import time is MEDIUM; exec reached through getattr/__dict__ tricks is ' +
      'HIGH. Downloaded or decoded code is reported under python/remote-code and python/obfuscated-exec instead.',
    defaultSeverity: 'MEDIUM',
    help: 'Check where the string comes from; replace dynamic code with ordinary imports and calls.',
  },
  {
    id: 'python/process-exec',
    shortDescription: 'Python code runs an operating-system command',
    fullDescription:
      'os.system, os.popen, os.exec*/spawn*, subprocess.*, pty.spawn, platform.popen, asyncio subprocesses or libc ' +
      'system() run a command. Fixed commands at import time are HIGH (droppers do this); commands built from decoded ' +
      'or downloaded data are CRITICAL; build and data tools (git, nvcc, cmake, tar, ffmpeg, …) are INFO/LOW; other ' +
      'commands inside functions are LOW, or MEDIUM for network tools and inline shell/interpreter code.',
    defaultSeverity: 'HIGH',
    help: 'Find out what the command is for. Model code should not run commands on import.',
  },
  {
    id: 'python/reverse-shell',
    shortDescription: 'Python code connects a shell to a network socket',
    fullDescription:
      "A socket's file descriptor is duplicated onto stdin/stdout/stderr (os.dup2) or handed to a process as its standard " +
      'streams, a shell is spawned after that, or a command contains a reverse-shell idiom (/dev/tcp, nc -e, socat exec:).',
    defaultSeverity: 'CRITICAL',
    help: DO_NOT_RUN,
  },
  {
    id: 'python/unsafe-deserialization',
    shortDescription: 'Python code unpickles downloaded, decoded or embedded bytes',
    fullDescription:
      'pickle/dill/cloudpickle/marshal/yaml.load (unsafe loader)/jsonpickle load bytes that came from the network, from ' +
      'an encoded literal, or that are embedded in the source; torch.load/joblib.load/numpy.load(allow_pickle=True) of ' +
      'downloaded bytes. Unpickling runs code chosen by whoever made the bytes. Embedded pickles are scanned with the ' +
      'pickle rules as the member "<file>!<literal at line N>".',
    defaultSeverity: 'HIGH',
    help: 'Load only data you have scanned and trust, in a format that cannot carry code (safetensors, JSON).',
  },
  {
    id: 'python/native-code',
    shortDescription: 'Python code loads or calls native code',
    fullDescription:
      'ctypes/cffi load a shared library or call memory functions (memmove, CFUNCTYPE, VirtualAlloc). Loading a named ' +
      'library is LOW; a computed library path at import time is MEDIUM; shellcode-style calls are HIGH; native code ' +
      'from decoded or downloaded bytes is CRITICAL.',
    defaultSeverity: 'MEDIUM',
    help: 'Native code bypasses every Python-level check. Make sure the library is a known, shipped dependency.',
  },
  {
    id: 'python/network-access',
    shortDescription: 'Python code opens raw sockets or sends data when imported',
    fullDescription:
      'A raw socket connect/send (HIGH at import time, LOW inside functions), or an HTTP POST/PUT to a host other than ' +
      'a model hub (huggingface.co, hf.co) at import time (MEDIUM). Downloads (GET) are not reported on their own.',
    defaultSeverity: 'MEDIUM',
    help: 'Importing model code should not contact servers. Find out who the peer is and what is sent.',
  },
  {
    id: 'python/exfiltration',
    shortDescription: 'Python code sends credentials, the environment or host details out',
    fullDescription:
      'Data read from credential stores (SSH keys, ~/.aws, cloud and Docker configs, browser cookie and password ' +
      'databases, keychains, wallets) or the whole environment (os.environ) reaches a network send (HTTP, socket, DNS): ' +
      'CRITICAL. A single environment variable sent in a request body to a non-hub host, or host/user names sent to a ' +
      'non-hub host, is MEDIUM to HIGH. An API key sent as a request header is not reported.',
    defaultSeverity: 'CRITICAL',
    help: DO_NOT_RUN + ' Rotate any credentials on machines where it ran.',
  },
  {
    id: 'python/credential-access',
    shortDescription: 'Python code reads credential stores',
    fullDescription:
      'open/shutil.copy/sqlite3.connect/pathlib reads of SSH keys, cloud credentials, .netrc/.git-credentials, the ' +
      'Hugging Face token, browser profile databases (Cookies, Login Data, cookies.sqlite, logins.json), keychains or ' +
      'wallets. Browser and keychain stores are HIGH; one step higher at import time.',
    defaultSeverity: 'MEDIUM',
    help: 'Model, dataset and hub code never needs these files. Treat the repository as hostile unless this is explained.',
  },
  {
    id: 'python/persistence',
    shortDescription: 'Python code writes files that make code run again later',
    fullDescription:
      'Writes (open for write/append, pathlib write_text, shutil.copy/move, os.rename) to shell start-up files ' +
      '(.bashrc, .zshrc, .profile), crontabs, ~/.ssh/authorized_keys, site-packages and .pth files, ' +
      'sitecustomize/usercustomize, autostart entries, systemd/launchd units, or the Windows Run key; or a command that ' +
      'installs a crontab. CRITICAL at import time or when what is written is itself a malicious command.',
    defaultSeverity: 'HIGH',
    help: 'Do not run it; check those files on machines that did.',
  },
  {
    id: 'python/parse-error',
    shortDescription: 'Python source has syntax errors; scanned as far as it parses',
    fullDescription:
      'The parser recovered from syntax errors (Python 2 constructs it does not know, broken or truncated files). ' +
      'Everything that parsed was analysed; the first error is where the finding points.',
    defaultSeverity: 'INFO',
    help: 'Review the unparsed lines by hand if the file matters.',
  },
  {
    id: 'python/analysis-limit',
    shortDescription: 'Python analysis stopped at a limit',
    fullDescription:
      'The file was larger than the source-size limit (16 MiB; 64 MiB for notebooks) or the data-flow analysis used up ' +
      'its step budget, so part of it was not analysed.',
    defaultSeverity: 'LOW',
    help: 'Review the rest of the file by hand; generated data files this large are unusual in a model repository.',
  },
  {
    id: 'shell/remote-code',
    shortDescription: 'Shell script runs code fetched from the network',
    fullDescription:
      'A download is piped into a shell or interpreter (curl … | sh, wget -O- … | python), run through a substitution ' +
      '(bash <(curl …), sh -c "$(curl …)"), or downloaded to a file that is then run. CRITICAL for raw IP addresses and ' +
      'plain http, HIGH otherwise (common installer idiom, still unreviewed code).',
    defaultSeverity: 'HIGH',
    help: 'Download the script, review it, and pin it by checksum; or install from a package manager.',
  },
  {
    id: 'shell/decode-exec',
    shortDescription: 'Shell script runs a decoded command',
    fullDescription: 'Text decoded at run time (base64 -d, xxd -r, openssl enc -d, rev) is piped into a shell or evaluated.',
    defaultSeverity: 'CRITICAL',
    help: 'Decode the text yourself and read it. Hidden commands in install scripts are a strong sign of malware.',
  },
  {
    id: 'shell/reverse-shell',
    shortDescription: 'Shell script opens a reverse shell',
    fullDescription: 'bash /dev/tcp redirections, nc/ncat -e, shells piped through nc/telnet/openssl, socat exec:, or inline Python/Perl/PHP socket shells.',
    defaultSeverity: 'CRITICAL',
    help: 'Do not run this script; treat the repository as compromised.',
  },
  {
    id: 'shell/persistence',
    shortDescription: 'Shell script installs itself to run later',
    fullDescription:
      'Redirections, tee, cp/mv/ln or sed -i into shell start-up files, authorized_keys, crontabs, .pth files or service ' +
      'folders; crontab installs; systemctl enable, launchctl load, schtasks /create.',
    defaultSeverity: 'HIGH',
    help: 'Install scripts should not edit start-up files, crontabs or authorized_keys. Find out why it does.',
  },
  {
    id: 'shell/exfiltration',
    shortDescription: 'Shell script sends credentials, the environment or host details out',
    fullDescription: 'Credential files, env/printenv output or whoami/hostname/uname output reach an uploader (curl -d/-F/-T, wget --post-*, nc, scp).',
    defaultSeverity: 'CRITICAL',
    help: 'Do not run this script; rotate any credentials on machines where it ran.',
  },
  {
    id: 'shell/credential-access',
    shortDescription: 'Shell script reads credential stores',
    fullDescription: 'The script names SSH keys, cloud credentials, browser databases or the macOS keychain (security find-*-password).',
    defaultSeverity: 'MEDIUM',
    help: 'Install scripts have no reason to read keys, cloud credentials or browser data. Find out why it does.',
  },
];
