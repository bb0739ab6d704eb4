/**
 * A small, careful reader for shell text: install.sh scripts, notebook `!`
 * lines, and the command strings Python hands to os.system/subprocess. It
 * splits words the way sh does (quotes, escapes, $(…), `…`, <(…), heredocs)
 * and then looks for a handful of patterns that ordinary install scripts do not
 * contain: fetch-and-run (curl … | sh), decode-and-run (base64 -d | sh),
 * reverse shells, writes to start-up files, and credentials or the environment
 * sent out. It does not try to be a shell; anything it cannot follow is left
 * alone rather than guessed at.
 */
import { INSTALLERS, ORDINARY_PROGRAMS, SHELLS, credentialPath, hostOf, persistencePath } from './catalog.js';

export type ShellRule = 'remote-code' | 'decode-exec' | 'reverse-shell' | 'persistence' | 'exfiltration' | 'credential-access';

export interface ShellHit {
  rule: ShellRule;
  /** UTF-16 offsets of the command in the analysed text. */
  start: number;
  end: number;
  /** The command as written (clipped). */
  command: string;
  /** One sentence on what the command does. */
  detail: string;
  /** Hosts named by the command's URLs. */
  hosts: string[];
}

export interface ShellCommand {
  /** Program name without path or .exe, after wrappers (sudo, env, nohup, …). */
  program: string;
  args: string[];
  start: number;
  end: number;
}

export interface ShellAnalysis {
  hits: ShellHit[];
  commands: ShellCommand[];
  /** Python code given inline (python -c "…", python <<EOF …): scanned as Python by the caller. */
  python: { code: string; start: number; end: number }[];
}

interface Sub {
  text: string;
  /** Offset of the substitution's text in the analysed string. */
  start: number;
}

interface Word {
  value: string;
  start: number;
  end: number;
  subs: Sub[];
}

interface Redir {
  op: string;
  target?: Word;
  body?: string;
  bodyStart?: number;
}

interface Cmd {
  words: Word[];
  redirs: Redir[];
  start: number;
  end: number;
}

type Tok = { t: 'word'; w: Word } | { t: 'op'; op: string; start: number; end: number };

const OPS = ['&&', '||', ';;', '|&', ';', '&', '|', '(', ')', '\n'];
const REDIRS = ['<<<', '<<-', '&>>', '<<', '>>', '>&', '<&', '>|', '<>', '&>', '>', '<'];

const FETCHERS = new Set(['curl', 'wget', 'fetch', 'aria2c', 'lwp-request', 'lwp-download', 'http', 'https', 'iwr', 'irm', 'invoke-webrequest', 'invoke-restmethod']);
const NETCATS = new Set(['nc', 'ncat', 'netcat', 'nc.traditional', 'nc.openbsd', 'telnet']);
const WRAPPERS = new Set(['sudo', 'doas', 'env', 'nohup', 'exec', 'time', 'command', 'builtin', 'nice', 'ionice', 'stdbuf', 'setsid', 'timeout', 'xargs', 'su']);
const DECODERS = new Set(['base64', 'base32', 'xxd', 'openssl', 'rev', 'gunzip', 'zcat', 'uudecode', 'tr']);
const MAX_DEPTH = 4;

function isInterpreter(p: string): boolean {
  return SHELLS.has(p) || /^python[0-9.]*$/.test(p) || p === 'perl' || p === 'ruby' || p === 'node' || p === 'php' || p === 'source' || p === '.' || p === 'eval';
}

function lex(s: string): Tok[] {
  const toks: Tok[] = [];
  const n = s.length;
  let i = 0;
  const pendingHeredocs: { redir: Redir; delim: string; strip: boolean }[] = [];
  let lastRedir: Redir | undefined;

  const readBalanced = (from: number, open: string, close: string): number => {
    // from points just after the opening bracket; returns index of the matching close.
    let depth = 1;
    let j = from;
    while (j < n) {
      const c = s[j];
      if (c === '\\') j += 2;
      else if (c === "'") {
        const k = s.indexOf("'", j + 1);
        j = k < 0 ? n : k + 1;
      } else if (c === '"') {
        j++;
        while (j < n && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
        j++;
      } else if (c === open) {
        depth++;
        j++;
      } else if (c === close) {
        if (--depth === 0) return j;
        j++;
      } else j++;
    }
    return n;
  };

  const readWord = (): Word => {
    const start = i;
    let value = '';
    const subs: Sub[] = [];
    const dollarParen = () => {
      const close = readBalanced(i + 2, '(', ')');
      subs.push({ text: s.slice(i + 2, close), start: i + 2 });
      value += s.slice(i, close + 1);
      i = close + 1;
    };
    const backtick = () => {
      let j = i + 1;
      while (j < n && s[j] !== '`') j += s[j] === '\\' ? 2 : 1;
      subs.push({ text: s.slice(i + 1, j), start: i + 1 });
      value += s.slice(i, j + 1);
      i = j + 1;
    };
    while (i < n) {
      const c = s[i];
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') break;
      if ((c === '<' || c === '>') && s[i + 1] === '(' && i === start) {
        const close = readBalanced(i + 2, '(', ')');
        subs.push({ text: s.slice(i + 2, close), start: i + 2 });
        value += s.slice(i, close + 1);
        i = close + 1;
        continue;
      }
      if (';&|()<>'.includes(c)) break;
      if (c === '\\') {
        if (s[i + 1] === '\n') i += 2;
        else {
          value += s[i + 1] ?? '';
          i += 2;
        }
      } else if (c === "'") {
        const k = s.indexOf("'", i + 1);
        const end = k < 0 ? n : k;
        value += s.slice(i + 1, end);
        i = end + 1;
      } else if (c === '$' && s[i + 1] === "'") {
        // ANSI-C quoting: $'\x63url' is a known way to hide a command name.
        let j = i + 2;
        let out = '';
        while (j < n && s[j] !== "'") {
          if (s[j] === '\\' && j + 1 < n) {
            const e = s[j + 1];
            const hex = /^x([0-9a-fA-F]{1,2})/.exec(s.slice(j + 1, j + 4));
            const oct = /^([0-7]{1,3})/.exec(s.slice(j + 1, j + 4));
            if (hex) {
              out += String.fromCharCode(parseInt(hex[1], 16));
              j += 1 + hex[0].length;
            } else if (oct) {
              out += String.fromCharCode(parseInt(oct[1], 8));
              j += 1 + oct[0].length;
            } else {
              out += ({ n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', e: '\x1b', a: '\x07' } as Record<string, string>)[e] ?? e;
              j += 2;
            }
          } else out += s[j++];
        }
        value += out;
        i = j + 1;
      } else if (c === '"') {
        i++;
        while (i < n && s[i] !== '"') {
          if (s[i] === '\\' && '"\\$`\n'.includes(s[i + 1] ?? '')) {
            if (s[i + 1] !== '\n') value += s[i + 1];
            i += 2;
          } else if (s[i] === '$' && s[i + 1] === '(') dollarParen();
          else if (s[i] === '`') backtick();
          else value += s[i++];
        }
        i++;
      } else if (c === '$' && s[i + 1] === '(') dollarParen();
      else if (c === '`') backtick();
      else {
        value += c;
        i++;
      }
    }
    return { value, start, end: Math.min(i, n), subs };
  };

  while (i < n) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '\\' && s[i + 1] === '\n') {
      i += 2;
      continue;
    }
    if (c === '#') {
      while (i < n && s[i] !== '\n') i++;
      continue;
    }
    if (c === '\n') {
      toks.push({ t: 'op', op: '\n', start: i, end: i + 1 });
      i++;
      // Heredoc bodies start on the next line and are data for their command, not commands.
      for (const h of pendingHeredocs.splice(0)) {
        const bodyStart = i;
        let body = '';
        while (i < n) {
          let e = s.indexOf('\n', i);
          if (e < 0) e = n;
          const line = s.slice(i, e);
          i = Math.min(n, e + 1);
          if ((h.strip ? line.replace(/^\t+/, '') : line) === h.delim) break;
          body += line + '\n';
        }
        h.redir.body = body;
        h.redir.bodyStart = bodyStart;
      }
      continue;
    }
    // fd-prefixed redirections: 2>&1, 1>/dev/null
    const fd = /^\d+(?=[<>])/.exec(s.slice(i, i + 4));
    const at = fd ? i + fd[0].length : i;
    const redir = REDIRS.find((r) => s.startsWith(r, at) && !((r === '<' || r === '>') && s[at + 1] === '('));
    if (redir) {
      toks.push({ t: 'op', op: redir, start: i, end: at + redir.length });
      i = at + redir.length;
      lastRedir = undefined;
      continue;
    }
    const op = OPS.find((o) => s.startsWith(o, i));
    if (op) {
      toks.push({ t: 'op', op, start: i, end: i + op.length });
      i += op.length;
      continue;
    }
    const w = readWord();
    if (w.end === w.start) {
      i++;
      continue;
    }
    toks.push({ t: 'word', w });
    const prev = toks[toks.length - 2];
    if (prev && prev.t === 'op' && (prev.op === '<<' || prev.op === '<<-')) {
      lastRedir = { op: prev.op, target: w };
      pendingHeredocs.push({ redir: lastRedir, delim: w.value, strip: prev.op === '<<-' });
      (toks[toks.length - 1] as { t: 'word'; w: Word; heredoc?: Redir }).heredoc = lastRedir;
    }
  }
  return toks;
}

/** Splits tokens into pipelines of commands with their redirections. */
function parse(toks: Tok[]): Cmd[][] {
  const pipelines: Cmd[][] = [];
  let pipe: Cmd[] = [];
  let cmd: Cmd | undefined;
  const endCmd = () => {
    if (cmd && (cmd.words.length || cmd.redirs.length)) pipe.push(cmd);
    cmd = undefined;
  };
  const endPipe = () => {
    endCmd();
    if (pipe.length) pipelines.push(pipe);
    pipe = [];
  };
  for (let k = 0; k < toks.length; k++) {
    const t = toks[k];
    if (t.t === 'op') {
      if (t.op === '|' || t.op === '|&') {
        endCmd();
        continue;
      }
      if (REDIRS.includes(t.op)) {
        const next = toks[k + 1];
        cmd ??= { words: [], redirs: [], start: t.start, end: t.end };
        if (next && next.t === 'word') {
          const heredoc = (next as { heredoc?: Redir }).heredoc;
          cmd.redirs.push(heredoc ?? { op: t.op, target: next.w });
          cmd.end = next.w.end;
          k++;
        } else cmd.redirs.push({ op: t.op });
        continue;
      }
      endPipe();
      continue;
    }
    cmd ??= { words: [], redirs: [], start: t.w.start, end: t.w.end };
    cmd.words.push(t.w);
    cmd.end = t.w.end;
  }
  endPipe();
  return pipelines;
}

function baseName(p: string): string {
  const b = p.replace(/\\/g, '/').split('/').pop() ?? p;
  return b.toLowerCase().replace(/\.exe$/, '');
}

/** The command's program and arguments after assignments and wrappers such as sudo and env. */
function programOf(c: Cmd): { program: string; args: Word[]; path: string } | undefined {
  let ws = c.words;
  for (let guard = 0; guard < 8 && ws.length; guard++) {
    while (ws.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(ws[0].value)) ws = ws.slice(1);
    if (!ws.length) return undefined;
    const p = baseName(ws[0].value);
    // A wrapper with nothing to wrap is the program itself (`env | curl …` dumps the environment).
    if (!WRAPPERS.has(p) || ws.length === 1) return { program: p, args: ws.slice(1), path: ws[0].value };
    ws = ws.slice(1);
    // Wrapper options (sudo -u root -E, timeout 10, nice -n 5): skip flags and their values.
    while (ws.length && (ws[0].value.startsWith('-') || (p === 'timeout' && /^\d/.test(ws[0].value)))) {
      const flag = ws[0].value;
      ws = ws.slice(1);
      if ((p === 'sudo' || p === 'su') && /^-[ugCpDhrt]$/.test(flag) && ws.length) ws = ws.slice(1);
      if (p === 'nice' && flag === '-n' && ws.length) ws = ws.slice(1);
    }
  }
  return undefined;
}

function reads(stdinFrom: 'pipe' | 'none', prog: string, args: Word[]): boolean {
  // Whether an interpreter takes its program from stdin (curl … | bash, … | python -).
  if (stdinFrom !== 'pipe') return false;
  if (prog === 'source' || prog === '.' || prog === 'eval') return false;
  const vals = args.map((a) => a.value);
  if (vals.some((v) => v === '-c' || v === '-m' || v === '-e' || v === '-r' || v === '-Command' || v === '/c')) {
    return SHELLS.has(prog) && vals.includes('-s');
  }
  const positional = vals.filter((v) => !v.startsWith('-') || v === '-');
  return positional.length === 0 || positional[0] === '-' || vals.includes('-s');
}

function inlineCode(prog: string, args: Word[]): Word | undefined {
  const flag = SHELLS.has(prog) ? ['-c', '/c', '-Command', '-command', '-EncodedCommand'] : /^python/.test(prog) ? ['-c'] : ['-e', '-r', '-E'];
  for (let k = 0; k < args.length - 1; k++) if (flag.includes(args[k].value) || /^-[a-z]*c$/.test(args[k].value) && SHELLS.has(prog)) return args[k + 1];
  if (prog === 'eval') return args[0];
  return undefined;
}

function normaliseHome(p: string): string {
  return p.replace(/^\$\{?(HOME|USERPROFILE)\}?/, '~').replace(/^%(USERPROFILE|APPDATA|LOCALAPPDATA)%/i, '~');
}

function urlsIn(text: string): string[] {
  return [...text.matchAll(/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"`)|;&<>]+/gi)].map((m) => m[0]);
}

function hostsIn(text: string): string[] {
  const out = new Set<string>();
  for (const u of urlsIn(text)) {
    const h = hostOf(u);
    if (h) out.add(h);
  }
  return [...out];
}

const UPLOAD_FLAGS = /^(-d|--data(-binary|-raw|-urlencode|-ascii)?|-F|--form(-string)?|-T|--upload-file|--post-data|--post-file|--body-data|--body-file|--json)(=|$)/;

function isUploader(prog: string, args: Word[]): boolean {
  if (prog === 'curl') return args.some((a) => UPLOAD_FLAGS.test(a.value) || /^-[a-zA-Z]*[dFT]$/.test(a.value));
  if (prog === 'wget') return args.some((a) => /^--(post|body)-(data|file)/.test(a.value));
  if (NETCATS.has(prog)) return args.some((a) => /^\d{1,3}(\.\d{1,3}){3}$|^[a-z0-9.-]+\.[a-z]{2,}$/i.test(a.value));
  if (prog === 'scp' || prog === 'rsync' || prog === 'sftp') return args.some((a) => /^[^/\s]+:/.test(a.value) || /@/.test(a.value));
  if (prog === 'ftp' || prog === 'sendmail' || prog === 'mail') return true;
  return false;
}

function isEnvDump(prog: string, args: Word[]): boolean {
  return prog === 'env' && args.length === 0 || prog === 'printenv' && args.length === 0 || prog === 'export' && args[0]?.value === '-p' || prog === 'set' && args.length === 0 || /\/proc\/[^/]+\/environ/.test(args.map((a) => a.value).join(' '));
}

const RECON = new Set(['whoami', 'hostname', 'id', 'ifconfig', 'ip', 'uname', 'w', 'last', 'ps']);

function clip(s: string, max = 300): string {
  const t = s.trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

/** Analyses shell text. Never throws; `depth` bounds recursion into sh -c and $(…). */
export function analyzeShell(text: string, depth = 0): ShellAnalysis {
  const out: ShellAnalysis = { hits: [], commands: [], python: [] };
  if (depth > MAX_DEPTH || !text.trim()) return out;
  let pipelines: Cmd[][];
  try {
    pipelines = parse(lex(text));
  } catch {
    return out;
  }
  const downloaded = new Map<string, string>(); // file name → URL
  const hit = (rule: ShellRule, c: { start: number; end: number }, detail: string, extraText = '') => {
    const command = text.slice(c.start, c.end);
    out.hits.push({ rule, start: c.start, end: c.end, command: clip(command), detail, hosts: hostsIn(command + ' ' + extraText) });
  };
  // Nested text (sh -c "…", $(…)) is analysed on its own; its hits are pinned to the outer word.
  const nested = (inner: string, at: { start: number; end: number }) => {
    const a = analyzeShell(inner, depth + 1);
    for (const h of a.hits) out.hits.push({ ...h, start: at.start, end: at.end });
    for (const c of a.commands) out.commands.push({ ...c, start: at.start, end: at.end });
    for (const p of a.python) out.python.push({ ...p, start: at.start, end: at.end });
    return a;
  };

  for (const pipe of pipelines) {
    const progs = pipe.map((c) => ({ c, p: programOf(c) }));
    for (let k = 0; k < progs.length; k++) {
      const { c, p } = progs[k];
      // Substitutions run first, wherever they appear.
      for (const w of c.words) {
        for (const sub of w.subs) {
          const a = nested(sub.text, c);
          const fetches = a.commands.some((x) => FETCHERS.has(x.program));
          const decodes = a.commands.some((x) => DECODERS.has(x.program) && x.args.some((v) => /^(-d|--decode|-D|-r|-ps|enc)$/.test(v)));
          const runs = p && (isInterpreter(p.program) || k === 0 && w === c.words[0]);
          if (runs && fetches) hit('remote-code', c, `runs code fetched by ${a.commands.find((x) => FETCHERS.has(x.program))!.program} (${p?.program ?? 'command substitution'})`, sub.text);
          else if (runs && decodes) hit('decode-exec', c, `runs a command decoded at run time (${p?.program ?? 'command substitution'})`);
          if (p && isUploader(p.program, p.args)) {
            if (a.commands.some((x) => isEnvDump(x.program, x.args.map((v) => ({ value: v, start: 0, end: 0, subs: [] })))))
              hit('exfiltration', c, `sends the environment variables to ${hostsIn(text.slice(c.start, c.end)).join(', ') || 'a remote host'}`);
            else if (a.commands.some((x) => RECON.has(x.program)))
              hit('exfiltration', c, `sends system details (${a.commands.filter((x) => RECON.has(x.program)).map((x) => x.program).join(', ')}) to a remote host`);
          }
        }
      }
      for (const r of c.redirs) {
        if (r.body !== undefined && p) {
          if (/^python/.test(p.program)) out.python.push({ code: r.body, start: c.start, end: c.end });
          else if (SHELLS.has(p.program)) nested(r.body, c);
        }
      }
      if (!p) {
        checkRedirs(c);
        continue;
      }
      out.commands.push({ program: p.program, args: p.args.map((a) => a.value), start: c.start, end: c.end });
      const args = p.args;
      const vals = args.map((a) => a.value);
      const joined = [p.path, ...vals].join(' ');
      const stdin: 'pipe' | 'none' = k > 0 ? 'pipe' : 'none';

      // curl … | sh, … | python -
      if (isInterpreter(p.program) && reads(stdin, p.program, args)) {
        const before = progs.slice(0, k);
        const fetcher = before.find((x) => x.p && FETCHERS.has(x.p.program));
        const decoder = before.find((x) => x.p && DECODERS.has(x.p.program) && (x.p.program === 'rev' || x.p.args.some((a) => /^(-d|--decode|-D|-r|-p|-ps|enc|-base64)$/.test(a.value))));
        const span = { start: pipe[0].start, end: c.end };
        if (fetcher) hit('remote-code', span, `pipes a download from ${fetcher.p!.program} into ${p.program}`);
        else if (decoder) hit('decode-exec', span, `pipes text decoded by ${decoder.p!.program} into ${p.program}`);
      }
      // bash <(curl …), python <(wget -O- …)
      // (handled by the substitution pass above)

      // Inline code: python -c "…", sh -c "…", perl -e "…"
      const code = isInterpreter(p.program) ? inlineCode(p.program, args) : undefined;
      if (code) {
        if (/^python/.test(p.program)) out.python.push({ code: code.value, start: c.start, end: c.end });
        else if (SHELLS.has(p.program) || p.program === 'eval') nested(code.value, c);
        if (/socket|fsockopen|TCPClient|IO::Socket|TCPSocket/i.test(code.value) && /dup2|pty|\/bin\/(ba)?sh|exec|subprocess|system|spawn|cmd\.exe|iex|Invoke-Expression|popen/i.test(code.value))
          hit('reverse-shell', c, `runs ${p.program} code that connects a socket and hands it a shell`);
      }
      if (p.program === 'eval' && !code) nested(vals.join(' '), c);

      // Reverse shells
      if (/\/dev\/(tcp|udp)\//.test(joined) || c.redirs.some((r) => r.target && /\/dev\/(tcp|udp)\//.test(r.target.value)))
        hit('reverse-shell', { start: pipe[0].start, end: pipe[pipe.length - 1].end }, 'redirects a shell through /dev/tcp, a bash network socket');
      else if (NETCATS.has(p.program) && vals.some((v) => /^-[a-zA-Z]*[ec]$/.test(v) || v === '--exec' || v === '--sh-exec'))
        hit('reverse-shell', c, `runs ${p.program} -e/-c, serving a shell over the network`);
      else if (NETCATS.has(p.program) && progs.some((x) => x.p && SHELLS.has(x.p.program) && x !== progs[k]))
        hit('reverse-shell', { start: pipe[0].start, end: pipe[pipe.length - 1].end }, `pipes a shell through ${p.program}`);
      else if (p.program === 'socat' && vals.some((v) => /^(exec|system):/i.test(v)))
        hit('reverse-shell', c, 'runs socat to connect a program to the network');
      else if (p.program === 'openssl' && vals[0] === 's_client' && progs.some((x) => x.p && SHELLS.has(x.p.program)))
        hit('reverse-shell', { start: pipe[0].start, end: pipe[pipe.length - 1].end }, 'pipes a shell through an openssl connection');

      // Download, then run the file.
      if (p.program === 'curl' || p.program === 'wget') {
        const url = vals.find((v) => /^[a-z]+:\/\//i.test(v));
        let file: string | undefined;
        for (let j = 0; j < vals.length; j++) {
          const v = vals[j];
          if (v === '-o' || v === '--output' || v === '-O' && p.program === 'wget' || v === '--output-document') file = vals[j + 1];
          else if (/^--output(-document)?=/.test(v)) file = v.split('=').slice(1).join('=');
          else if (/^-[a-zA-Z]*o$/.test(v) && p.program === 'curl') file = vals[j + 1];
        }
        if (!file && url && (p.program === 'wget' || vals.some((v) => /^-[a-zA-Z]*O$/.test(v) || v === '--remote-name')))
          file = url.split(/[?#]/)[0].split('/').pop();
        if (file && url && file !== '-') downloaded.set(baseName(file), url);
      } else if (downloaded.size) {
        const target = p.path.startsWith('./') || p.path.includes('/') ? baseName(p.path) : isInterpreter(p.program) ? baseName(vals.find((v) => !v.startsWith('-')) ?? '') : '';
        if (target && downloaded.has(target))
          hit('remote-code', c, `runs ${target}, downloaded from ${downloaded.get(target)}`, downloaded.get(target));
      }

      // Persistence: start-up files, crontab, services.
      checkRedirs(c);
      if (p.program === 'tee' || p.program === 'cp' || p.program === 'mv' || p.program === 'install' || p.program === 'ln' || p.program === 'sed' && vals.some((v) => /^-i/.test(v))) {
        const targets = p.program === 'tee' || p.program === 'sed' ? vals.filter((v) => !v.startsWith('-')) : vals.filter((v) => !v.startsWith('-')).slice(-1);
        for (const t of targets) {
          const what = persistencePath(normaliseHome(t));
          if (what && !(p.program === 'sed' && t === targets[0])) hit('persistence', c, `writes ${t} (${what})`);
        }
      }
      if (p.program === 'crontab' && vals.length && !vals.every((v) => v === '-l' || v === '-e' || v === '-r' || v === '-u' || v === '-i'))
        hit('persistence', { start: pipe[0].start, end: pipe[pipe.length - 1].end }, 'installs a crontab');
      if (p.program === 'crontab' && !vals.length && k > 0) hit('persistence', { start: pipe[0].start, end: pipe[pipe.length - 1].end }, 'installs a crontab from piped text');
      if ((p.program === 'systemctl' && vals.includes('enable')) || (p.program === 'launchctl' && vals.includes('load')) || p.program === 'update-rc.d' || p.program === 'schtasks' && vals.some((v) => /^\/create$/i.test(v)))
        hit('persistence', c, `registers a service or scheduled task (${p.program})`);

      // Credentials and environment going out.
      const cred = vals.map((v) => credentialPath(normaliseHome(v.replace(/^@/, '').replace(/^[a-z]+=@/i, '')))).find(Boolean) ??
        (p.program === 'security' && /^(find-(generic|internet)-password|dump-keychain)$/.test(vals[0] ?? '') ? 'macOS keychain' : undefined);
      const uploaderInPipe = progs.slice(k).some((x) => x.p && isUploader(x.p.program, x.p.args));
      if (cred) {
        if (uploaderInPipe || isUploader(p.program, args)) hit('exfiltration', { start: pipe[0].start, end: pipe[pipe.length - 1].end }, `sends ${cred} to a remote host`);
        else hit('credential-access', c, `reads ${cred}`);
      }
      if (isEnvDump(p.program, args) && progs.slice(k + 1).some((x) => x.p && isUploader(x.p.program, x.p.args)))
        hit('exfiltration', { start: pipe[0].start, end: pipe[pipe.length - 1].end }, 'sends the environment variables to a remote host');
      if (RECON.has(p.program) && progs.slice(k + 1).some((x) => x.p && isUploader(x.p.program, x.p.args)))
        hit('exfiltration', { start: pipe[0].start, end: pipe[pipe.length - 1].end }, `sends system details (${p.program}) to a remote host`);
    }
  }
  return out;

  function checkRedirs(c: Cmd): void {
    for (const r of c.redirs) {
      if (!r.target || !/^(>|>>|>\||&>|&>>)$/.test(r.op)) continue;
      const what = persistencePath(normaliseHome(r.target.value));
      if (what) hit('persistence', c, `${r.op === '>>' || r.op === '&>>' ? 'appends to' : 'writes'} ${r.target.value} (${what})`);
    }
  }
}

/** Programs a command line runs, for judging fixed commands (git, nvcc, pip, …). */
export function classifyPrograms(commands: ShellCommand[]): 'ordinary' | 'installer' | 'other' | 'none' {
  if (!commands.length) return 'none';
  let installer = false;
  for (const c of commands) {
    // sh -c "…" / python -c "…" with known text: the inner commands or code are judged on their own.
    if (knownInline(c)) continue;
    if (ORDINARY_PROGRAMS.has(c.program)) continue;
    if (INSTALLERS.has(c.program)) {
      installer = true;
      continue;
    }
    if (/^python[0-9.]*$/.test(c.program) && c.args[0] === '-m' && INSTALLERS.has(c.args[1] ?? '')) {
      installer = true;
      continue;
    }
    if (/^python[0-9.]*$/.test(c.program) && c.args.length && !c.args.includes('-c') && c.args[0] !== '-') continue;
    return 'other';
  }
  return installer ? 'installer' : 'ordinary';
}


/** Programs that are rarely part of ordinary model tooling and common in intrusions. */
const SUSPICIOUS = new Set([
  'nc', 'ncat', 'netcat', 'socat', 'telnet', 'crontab', 'ssh', 'scp', 'sshpass', 'certutil', 'bitsadmin', 'mshta',
  'rundll32', 'regsvr32', 'powershell', 'pwsh', 'schtasks', 'reg', 'launchctl', 'useradd', 'usermod', 'passwd',
  'iptables', 'nmap', 'chattr', 'base64', 'xxd', 'openssl', 'nohup', 'setsid', 'disown',
]);

function inlineArg(c: ShellCommand): string | undefined {
  const interp = SHELLS.has(c.program) || /^python[0-9.]*$/.test(c.program) || c.program === 'perl' || c.program === 'ruby' || c.program === 'node';
  if (!interp) return undefined;
  const i = c.args.findIndex((a) => a === '-c' || a === '-e' || a === '/c' || /^-[a-z]*c$/.test(a));
  return i < 0 ? undefined : (c.args[i + 1] ?? '…');
}

/** Inline code whose text is fully known (and so analysed in its own right). */
function knownInline(c: ShellCommand): boolean {
  const code = inlineArg(c);
  return code !== undefined && !code.includes('…') && (SHELLS.has(c.program) || /^python/.test(c.program));
}

/** A command worth a look even inside a function: network tools, persistence tools, or inline code that could not be read. */
export function suspiciousCommand(commands: ShellCommand[]): boolean {
  return commands.some((c) => SUSPICIOUS.has(c.program) || (inlineArg(c) !== undefined && !knownInline(c)));
}
