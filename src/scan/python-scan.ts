/**
 * Scanner for the code that ships beside the weights: Python files
 * (modeling_*.py run by trust_remote_code, dataset loading scripts, hubconf.py,
 * setup.py, __init__.py), Jupyter notebooks, shell scripts (install.sh), and
 * TorchScript code/ members. Source files have no magic bytes, so this scanner
 * claims them by name (`sniffName`), and by a `#!` line for scripts without
 * an extension.
 *
 * The analysis (src/formats/python) reports sinks reached; this file decides
 * what each one means — rule, severity, message, evidence — and where it is,
 * as 1-based line and column in the scanned file.
 */
import { BufferSource, type ByteSource } from '../formats/source.js';
import { analyzePython, type PyAnalysis, type PyEvent } from '../formats/python/analyze.js';
import { isHubHost, isIpHost, SHELLS } from '../formats/python/catalog.js';
import { readNotebook } from '../formats/python/notebook.js';
import { analyzeShell, classifyPrograms, suspiciousCommand, type ShellHit, type ShellRule } from '../formats/python/shell.js';
import { pyRepr } from '../formats/python/strings.js';
import type { Taint } from '../formats/python/values.js';
import { addFinding, addFormat, type Place, type ScanContext } from './context.js';
import type { FormatScanner } from './format-scanner.js';
import { SEVERITIES, maxSeverity, severityRank, type Severity } from './finding.js';
import { scanPickleStream } from './pickle-scan.js';

/** Python and shell files larger than this are scanned up to this size (generated data files, mostly). */
export const MAX_SOURCE_BYTES = 16 * 1024 * 1024;
/** Notebooks carry their outputs (images as base64), so they may be larger. */
export const MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024;

type Kind = 'python' | 'notebook' | 'shell' | 'torchscript';

const SHEBANG_PY = /^#![^\n]*\bpython[0-9.]*\b/;
const SHEBANG_SH = /^#![^\n]*\b(ba|da|z|k)?sh\b/;

/** The innermost member path ("model.pt!archive/code/m.py" → "archive/code/m.py"). */
function memberName(location: string): string {
  return location.slice(location.lastIndexOf('!') + 1);
}

function baseName(location: string): string {
  return (memberName(location).split(/[\\/]/).pop() ?? '').toLowerCase();
}

function isBinary(head: Buffer): boolean {
  return head.subarray(0, 4096).includes(0);
}

function kindOf(location: string, head: Buffer): Kind {
  const base = baseName(location);
  if (base.endsWith('.ipynb')) return 'notebook';
  if (/\.(sh|bash)$/.test(base)) return 'shell';
  if (location.includes('!') && /(^|\/)code\/.+\.py$/.test(memberName(location))) return 'torchscript';
  const first = head.subarray(0, 200).toString('latin1');
  if (!/\.pyw?$/.test(base) && SHEBANG_SH.test(first) && !SHEBANG_PY.test(first)) return 'shell';
  return 'python';
}

// ------------------------------------------------------------------ text and positions

interface SourceText {
  text: string;
  /** Bytes before the text (a UTF-8 BOM). */
  bom: number;
  latin1: boolean;
  lineStarts: number[];
}

function decodeSource(b: Buffer): SourceText {
  let bom = 0;
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) bom = 3;
  const body = b.subarray(bom);
  // PEP 263: a coding cookie on the first two lines.
  const head = body.subarray(0, 400).toString('latin1').split('\n').slice(0, 2).join('\n');
  const cookie = /^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)/m.exec(head);
  const latin1 = !!cookie && /^(latin[-_]?1|iso[-_]?8859[-_]?1|cp1252|windows[-_]1252|l1)$/i.test(cookie[1]);
  const text = latin1 ? body.toString('latin1') : new TextDecoder('utf-8', { fatal: false }).decode(body);
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
  return { text, bom, latin1, lineStarts };
}

interface Pos {
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  offset: number;
}

function position(src: SourceText, start: number, end: number): Pos {
  const lc = (idx: number) => {
    let lo = 0;
    let hi = src.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (src.lineStarts[mid] <= idx) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: idx - src.lineStarts[lo] + 1 };
  };
  const a = lc(Math.max(0, Math.min(start, src.text.length)));
  const z = lc(Math.max(0, Math.min(Math.max(end, start), src.text.length)));
  const offset = src.bom + (src.latin1 ? start : Buffer.byteLength(src.text.slice(0, start), 'utf8'));
  return { line: a.line, column: a.column, endLine: z.line, endColumn: z.column, offset };
}

// ------------------------------------------------------------------ judging events

interface Verdict {
  ruleId: string;
  severity: Severity;
  message: string;
  hint: string;
  /** Extra evidence lines, before the common ones. */
  detail?: string[];
}

function bump(s: Severity, by = 1): Severity {
  return SEVERITIES[Math.min(SEVERITIES.length - 1, severityRank(s) + by)];
}

function atLeast(s: Severity, min: Severity): Severity {
  return maxSeverity(s, min);
}

const has = (ev: PyEvent, ...kinds: Taint['kind'][]) => ev.taints.some((t) => kinds.includes(t.kind));
const taint = (ev: PyEvent, ...kinds: Taint['kind'][]) => ev.taints.find((t) => kinds.includes(t.kind));
const when = (ev: PyEvent) =>
  ev.importTime ? (ev.via.some((v) => v.includes('setuptools command')) ? 'when the package is installed' : 'when the module is imported') : 'when this code is called';
/** The callable itself was reached through obfuscation (getattr with built names, __dict__, lambdas). */
const calleeHidden = (ev: PyEvent) => ev.calleeObf.length > 0;

const HINT_DO_NOT_RUN =
  'Do not import or run this code (trust_remote_code=True, torch.hub.load, datasets.load_dataset with a script, pip install all run it). Treat the repository as compromised and report it to the hub.';

function shellRuleToPython(rule: ShellRule): string {
  switch (rule) {
    case 'remote-code':
      return 'python/remote-code';
    case 'decode-exec':
      return 'python/obfuscated-exec';
    case 'reverse-shell':
      return 'python/reverse-shell';
    case 'persistence':
      return 'python/persistence';
    case 'exfiltration':
      return 'python/exfiltration';
    case 'credential-access':
      return 'python/credential-access';
  }
}

/** Verdicts for one event (a process call can be both a remote-code and a persistence finding). */
function judge(ev: PyEvent, ctxInfo: { reverseShell: boolean }): Verdict[] {
  const hidden = calleeHidden(ev);
  const obfuscated = ev.obf.length > 0;
  const name = ev.callee;
  switch (ev.kind) {
    case 'reverse-shell':
      return [
        {
          ruleId: 'python/reverse-shell',
          severity: 'CRITICAL',
          message: `Reverse shell: ${name} connects a process's standard input/output to a network socket ${when(ev)}.`,
          hint: HINT_DO_NOT_RUN,
        },
      ];
    case 'code-exec': {
      if (has(ev, 'network', 'netfile')) {
        const src = taint(ev, 'network', 'netfile')!;
        const hub = isHubHost(src.host);
        return [
          {
            ruleId: 'python/remote-code',
            severity: hub ? 'HIGH' : 'CRITICAL',
            message: `${name} runs code downloaded from ${src.host ?? 'the network'} ${when(ev)}.`,
            hint: hub
              ? 'Code fetched at run time is not the code you reviewed, even from a model hub. Vendor the code into the repository, or do not run it.'
              : HINT_DO_NOT_RUN,
          },
        ];
      }
      const built = ev.text !== undefined && ev.obf.some((o) => /chr\(\)|single characters|reversed|escaped|substitution|rot13|bytes built/.test(o));
      if (has(ev, 'decoded') || ev.marshal || built) {
        return [
          {
            ruleId: 'python/obfuscated-exec',
            severity: 'CRITICAL',
            message: `${name} runs code that was ${ev.marshal ? 'shipped as marshalled bytecode' : has(ev, 'decoded') ? 'hidden in an encoded literal' : 'assembled to hide it'} ${when(ev)}.`,
            hint: HINT_DO_NOT_RUN,
            detail: ev.marshal
              ? [`bytecode names: ${ev.marshal.names.slice(0, 30).join(', ')}`, `bytecode strings: ${ev.marshal.strings.filter((s) => s.length > 1).slice(0, 12).map((s) => pyRepr(s, false, 120)).join(', ')}`]
              : undefined,
          },
        ];
      }
      if (has(ev, 'secret')) {
        return [{ ruleId: 'python/code-exec', severity: 'HIGH', message: `${name} runs code taken from ${taint(ev, 'secret')!.what} ${when(ev)}.`, hint: 'Code should not come from credential files. Remove the exec/eval.' }];
      }
      let sev: Severity;
      let what: string;
      if (ev.exact) {
        sev = 'LOW';
        what = 'a constant string (analysed as code too)';
      } else if (has(ev, 'localfile')) {
        sev = 'LOW';
        what = `the text of a file in the repository (${taint(ev, 'localfile')!.what})`;
      } else if (ev.text !== undefined && knownShare(ev.text) >= 0.5) {
        // A code template with a few holes (exec(f"def {name}(x): …")): the known part is analysed as code.
        sev = 'LOW';
        what = 'a code template filled in at run time (the known part is analysed as code too)';
      } else if (has(ev, 'env')) {
        sev = ev.importTime ? 'MEDIUM' : 'LOW';
        what = `code taken from ${taint(ev, 'env')!.what}`;
      } else {
        sev = ev.importTime ? 'MEDIUM' : 'LOW';
        what = 'a value computed at run time';
      }
      if (hidden) sev = atLeast(bump(sev, 2), 'HIGH');
      else if (obfuscated) sev = bump(sev);
      return [
        {
          ruleId: 'python/code-exec',
          severity: sev,
          message: `${name}${hidden ? ', reached through obfuscation,' : ''} runs ${what} ${when(ev)}.`,
          hint: 'exec/eval run any code they are given. Check where the string comes from; replace dynamic code with ordinary imports and calls.',
        },
      ];
    }
    case 'process': {
      const out: Verdict[] = [];
      for (const h of ev.shell?.hits ?? []) {
        const rule = shellRuleToPython(h.rule);
        let sev: Severity = rule === 'python/persistence' ? (ev.importTime ? 'CRITICAL' : 'HIGH') : rule === 'python/credential-access' ? 'MEDIUM' : 'CRITICAL';
        if (rule === 'python/credential-access' && ev.importTime) sev = 'HIGH';
        out.push({ ruleId: rule, severity: sev, message: `${name} runs a command that ${h.detail} ${when(ev)}.`, hint: HINT_DO_NOT_RUN, detail: [`command: ${h.command}`] });
      }
      if (out.length) return out;
      const progs = ev.shell?.commands ?? [];
      const spawnsShell = progs.some((c) => SHELLS.has(c.program)) || name === 'pty.spawn';
      if (ctxInfo.reverseShell && spawnsShell)
        return [{ ruleId: 'python/reverse-shell', severity: 'CRITICAL', message: `${name} starts a shell after the module wired its standard streams to a socket.`, hint: HINT_DO_NOT_RUN }];
      if (has(ev, 'network', 'netfile', 'decoded', 'secret')) {
        const t = taint(ev, 'network', 'netfile', 'decoded', 'secret')!;
        const src = t.kind === 'decoded' ? 'decoded from an encoded literal' : t.kind === 'secret' ? 'built from credentials' : `downloaded from ${t.host ?? 'the network'}`;
        return [{ ruleId: t.kind === 'network' || t.kind === 'netfile' ? 'python/remote-code' : 'python/process-exec', severity: 'CRITICAL', message: `${name} runs a command ${src} ${when(ev)}.`, hint: HINT_DO_NOT_RUN }];
      }
      const known = progs.filter((c) => c.program !== '…' && c.program !== '');
      const cls = classifyPrograms(known);
      let sev: Severity;
      let what: string;
      if (cls === 'ordinary') {
        sev = ev.importTime ? 'LOW' : 'INFO';
        what = `a build or data tool (${[...new Set(known.map((c) => c.program))].join(', ')})`;
      } else if (cls === 'installer') {
        sev = 'LOW';
        what = 'a package installer';
      } else if (cls === 'other') {
        // Fixed commands at import time are what droppers do; inside functions only notable ones count.
        sev = ev.importTime ? 'HIGH' : suspiciousCommand(known) ? 'MEDIUM' : 'LOW';
        what = ev.exact ? 'a fixed command' : 'a command';
      } else {
        sev = ev.importTime ? 'MEDIUM' : 'LOW';
        what = has(ev, 'env') ? 'a command taken from environment variables' : 'a command computed at run time';
      }
      if (hidden) sev = atLeast(bump(sev, 2), 'HIGH');
      else if (obfuscated) sev = bump(sev);
      return [
        {
          ruleId: 'python/process-exec',
          severity: sev,
          message: `${name}${hidden ? ', reached through obfuscation,' : ''} runs ${what} ${when(ev)}${ev.text ? `: ${clipText(ev.text, 120)}` : ''}.`,
          hint: ev.importTime
            ? 'Model code should not run commands on import. Find out what the command is for; remove it or move it behind an explicit, documented step.'
            : 'Check what the command does and where its arguments come from.',
        },
      ];
    }
    case 'deserialize': {
      const picklish = /^(pickle|dill|cloudpickle|marshal|jsonpickle|shelve|yaml)\./.test(name);
      const net = taint(ev, 'network', 'netfile');
      const dec = taint(ev, 'decoded');
      let sev: Severity;
      let from: string;
      if (net) {
        const hub = isHubHost(net.host);
        sev = picklish ? (hub ? 'HIGH' : 'CRITICAL') : hub ? 'MEDIUM' : 'HIGH';
        from = `data downloaded from ${net.host ?? 'the network'}`;
      } else if (dec || ev.bytes) {
        sev = picklish ? (name.startsWith('marshal.') ? 'HIGH' : 'CRITICAL') : 'HIGH';
        from = ev.bytes ? 'bytes embedded in the source' : 'data decoded from an encoded literal';
      } else return [];
      if (ev.importTime && sev !== 'CRITICAL') sev = bump(sev);
      return [
        {
          ruleId: 'python/unsafe-deserialization',
          severity: sev,
          message: `${name} deserialises ${from} ${when(ev)}; ${name.startsWith('marshal.') ? 'marshal yields bytecode that can be run' : 'unpickling runs code chosen by whoever made the data'}.`,
          hint: 'Load only data you have scanned and trust, in a format that cannot carry code (safetensors, JSON).',
          detail: ev.marshal ? [`bytecode names: ${ev.marshal.names.slice(0, 30).join(', ')}`] : undefined,
        },
      ];
    }
    case 'native': {
      // Loading a named shared library is ordinary (CUDA helpers); loading one whose name is computed less so.
      let sev: Severity = ev.argsConst ? (ev.importTime ? 'LOW' : 'INFO') : ev.importTime ? 'MEDIUM' : 'LOW';
      if (has(ev, 'network', 'netfile', 'decoded')) sev = 'CRITICAL';
      // The Windows calls that stage shellcode; CFUNCTYPE and memmove alone are ordinary callback/buffer plumbing.
      else if (/VirtualAlloc|CreateThread|RtlMoveMemory/.test(name)) sev = 'HIGH';
      if (hidden) sev = atLeast(bump(sev, 2), 'HIGH');
      else if (obfuscated) sev = bump(sev);
      return [
        {
          ruleId: 'python/native-code',
          severity: sev,
          message: `${name} loads or calls native code ${when(ev)}${has(ev, 'decoded', 'network') ? ' from hidden or downloaded data' : ''}.`,
          hint: 'Native code bypasses every Python-level check. Make sure the library is a known, shipped dependency; never load code from data.',
        },
      ];
    }
    case 'socket':
    case 'http':
    case 'dns': {
      const secret = taint(ev, 'secret');
      const env = ev.taints.filter((t) => t.kind === 'env');
      const envAll = env.find((t) => t.envAll);
      const sys = taint(ev, 'sysinfo');
      const hub = isHubHost(ev.host);
      const to = ev.host ? `${ev.host}${hub ? ' (a model hub)' : ''}` : 'a remote host';
      if (secret) return [{ ruleId: 'python/exfiltration', severity: 'CRITICAL', message: `${name} sends credentials (${secret.what}) to ${to} ${when(ev)}.`, hint: HINT_DO_NOT_RUN }];
      if (envAll) return [{ ruleId: 'python/exfiltration', severity: 'CRITICAL', message: `${name} sends the process environment (all environment variables, including tokens and keys) to ${to} ${when(ev)}.`, hint: HINT_DO_NOT_RUN }];
      const onlyHeaders = (ev.taintedArgs ?? []).every((a) => a === 'headers' || a === 'arg3');
      if (env.length && !onlyHeaders && !hub) {
        const names = env.map((t) => t.envName ?? '?').join(', ');
        const secretish = env.some((t) => /key|token|secret|pass|credential|auth|aws_|api/i.test(t.envName ?? ''));
        return [
          {
            ruleId: 'python/exfiltration',
            severity: secretish ? (ev.importTime ? 'CRITICAL' : 'HIGH') : ev.importTime ? 'HIGH' : 'MEDIUM',
            message: `${name} sends environment variable(s) ${names} to ${to} ${when(ev)}.`,
            hint: 'Environment variables hold tokens and keys. Check that this host is the service the variable is meant for.',
          },
        ];
      }
      if (sys && !hub) {
        return [
          {
            ruleId: 'python/exfiltration',
            severity: ev.importTime ? 'HIGH' : 'MEDIUM',
            message: `${name} sends details of this machine (${sys.what}) to ${to} ${when(ev)}: reconnaissance.`,
            hint: 'Model code has no reason to report host or user names. Treat as reconnaissance unless documented.',
          },
        ];
      }
      if (ev.kind === 'dns') return [];
      if (ev.kind === 'http') {
        if (hub || !ev.importTime) return [];
        return [{ ruleId: 'python/network-access', severity: 'MEDIUM', message: `${name} sends data to ${to} when the module is imported.`, hint: 'Importing model code should not contact servers. Find out what is sent and why.' }];
      }
      let sev: Severity = ev.importTime ? 'HIGH' : 'LOW';
      if (isIpHost(ev.host) && !ev.importTime) sev = 'MEDIUM';
      if (hidden) sev = atLeast(bump(sev, 2), 'HIGH');
      else if (obfuscated) sev = bump(sev);
      return [
        {
          ruleId: 'python/network-access',
          severity: sev,
          message: `${name} opens or uses a raw network socket${ev.text ? ` to ${ev.text}` : ''} ${when(ev)}.`,
          hint: 'Raw sockets in model code are how reverse shells and beacons start. Find out who the peer is and why.',
        },
      ];
    }
    case 'remote-load': {
      // Ordinary in notebooks and demos; worth a note in model code, more at import time.
      const local = ev.text !== undefined && /^(\.|\/|~)/.test(ev.text);
      if (local) return [];
      return [
        {
          ruleId: 'python/remote-code',
          severity: has(ev, 'network', 'decoded') ? 'HIGH' : ev.importTime ? 'MEDIUM' : 'LOW',
          message: `${name} loads and runs code from another repository${ev.text ? ` (${clipText(ev.text, 100)})` : ''} ${when(ev)}; that code is not part of this scan.`,
          hint: 'Scan the other repository too, and pin it to a commit (revision=…, or "owner/repo:commit" for torch.hub).',
        },
      ];
    }
    case 'credential-read': {
      const browser = /browser|firefox|chromium|keychain|wallet|cookie/i.test(ev.pathWhat ?? '');
      let sev: Severity = browser ? 'HIGH' : 'MEDIUM';
      if (ev.importTime) sev = bump(sev);
      return [
        {
          ruleId: 'python/credential-access',
          severity: sev,
          message: `${name} reads ${ev.pathWhat ?? 'a credential store'}${ev.path ? ` (${ev.path})` : ''} ${when(ev)}.`,
          hint: 'Model, dataset and hub code never needs SSH keys, cloud credentials or browser data. Treat the repository as hostile unless this is explained.',
        },
      ];
    }
    case 'file-write':
    case 'file-copy': {
      const bad = ev.importTime || has(ev, 'network', 'decoded', 'netfile') || (ev.written !== undefined && analyzeShell(ev.written).hits.length > 0);
      return [
        {
          ruleId: 'python/persistence',
          severity: bad ? 'CRITICAL' : 'HIGH',
          message: `${name} writes ${ev.path ?? 'a start-up file'} (${ev.pathWhat ?? 'start-up file'}) ${when(ev)}: what it writes runs again later, outside this program.`,
          hint: 'Code that edits shell start-up files, crontabs, authorized_keys or Python .pth files is installing itself. Do not run it; check those files on machines that did.',
          detail: ev.written !== undefined ? [`writes: ${clipText(ev.written, 300)}`] : undefined,
        },
      ];
    }
  }
  return [];
}

/** Share of a partly known text that is known (unknown parts are "…"). */
function knownShare(s: string): number {
  if (!s.length) return 0;
  const unknown = (s.match(/…/g) ?? []).length * 8;
  return Math.max(0, (s.length - unknown) / s.length);
}

function clipText(s: string, n: number): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > n ? `${t.slice(0, n)}…` : t;
}

function evidence(ev: PyEvent, v: Verdict, line: (offset: number) => number): string {
  const lines: string[] = [`call: ${clipText(ev.call, 400)}`];
  if (v.detail) lines.push(...v.detail);
  // Latest first: for layered encodings the last decode is the code that runs.
  for (const t of [...ev.taints].reverse().filter((x) => x.kind !== 'localfile').slice(0, 3)) {
    const path = t.path.length ? ` → ${t.path.join(' → ')}` : '';
    lines.push(`source: ${t.kind}: ${clipText(t.what, 200)}${ev.nesting === 0 ? ` (line ${line(t.at)})` : ''}${path} → ${ev.callee}(…)`);
    if (t.payload) lines.push(`decoded payload: ${clipText(t.payload, 400)}`);
  }
  if (ev.via.length) lines.push(`via: ${ev.via.join('; ')}`);
  if (ev.obf.length) lines.push(`obfuscation: ${ev.obf.join(', ')}`);
  if (ev.written !== undefined && !v.detail?.some((d) => d.startsWith('writes:'))) lines.push(`writes: ${clipText(ev.written, 300)}`);
  return lines.join('\n');
}

// ------------------------------------------------------------------ shell files

function judgeShellHit(h: ShellHit): Verdict {
  switch (h.rule) {
    case 'remote-code': {
      const risky = h.hosts.length === 0 || h.hosts.some((x) => isIpHost(x)) || /\bhttp:\/\//.test(h.command);
      return {
        ruleId: 'shell/remote-code',
        severity: risky ? 'CRITICAL' : 'HIGH',
        message: `The script ${h.detail}: whatever the server returns runs with your privileges.`,
        hint: 'Download the script, review it, and pin it by checksum; or install from a package manager instead of piping into a shell.',
      };
    }
    case 'decode-exec':
      return { ruleId: 'shell/decode-exec', severity: 'CRITICAL', message: `The script ${h.detail}: a hidden command.`, hint: 'Decode the text yourself and read it. Hidden commands in install scripts are a strong sign of malware.' };
    case 'reverse-shell':
      return { ruleId: 'shell/reverse-shell', severity: 'CRITICAL', message: `Reverse shell: the script ${h.detail}.`, hint: 'Do not run this script; treat the repository as compromised.' };
    case 'persistence':
      return { ruleId: 'shell/persistence', severity: 'HIGH', message: `The script ${h.detail}, so code runs again later.`, hint: 'Install scripts should not edit start-up files, crontabs or authorized_keys. Find out why it does.' };
    case 'exfiltration':
      return { ruleId: 'shell/exfiltration', severity: 'CRITICAL', message: `The script ${h.detail}.`, hint: 'Do not run this script; rotate any credentials on machines where it ran.' };
    case 'credential-access':
      return { ruleId: 'shell/credential-access', severity: 'MEDIUM', message: `The script ${h.detail}.`, hint: 'Install scripts have no reason to read keys, cloud credentials or browser data. Find out why it does.' };
  }
}

// ------------------------------------------------------------------ scanner

interface Reporter {
  src: SourceText;
  place: Place;
  ctx: ScanContext;
  /** Maps an offset in the analysed text to one in the file text (notebooks). */
  toFile(i: number): number;
}

function report(r: Reporter, start: number, end: number, v: Verdict, evidenceText: string | undefined, key: string): void {
  const a = r.toFile(start);
  const z = Math.max(a, r.toFile(Math.max(start, end - 1)) + 1);
  const pos = position(r.src, a, z);
  const dedupe = `py|${r.place.location}|${v.ruleId}|${pos.line}:${pos.column}${key}`;
  const prev = r.ctx.seen.get(dedupe);
  if (prev) {
    // One finding per rule and place: keep the most severe reading.
    if (severityRank(v.severity) > severityRank(prev.severity)) {
      prev.severity = v.severity;
      prev.message = v.message;
      prev.hint = v.hint;
      if (evidenceText) prev.evidence = evidenceText;
    }
    return;
  }
  addFinding(r.ctx, dedupe, {
    ruleId: v.ruleId,
    severity: v.severity,
    location: r.place.location,
    offset: pos.offset,
    line: pos.line,
    column: pos.column,
    endLine: pos.endLine,
    endColumn: pos.endColumn,
    message: v.message,
    ...(evidenceText ? { evidence: evidenceText } : {}),
    hint: v.hint,
  });
}

async function reportPython(r: Reporter, analysis: PyAnalysis): Promise<void> {
  const fileLine = (idx: number) => position(r.src, r.toFile(idx), r.toFile(idx)).line;
  const reverseShell = analysis.events.some((e) => e.kind === 'reverse-shell');
  for (const ev of analysis.events) {
    for (const v of judge(ev, { reverseShell })) report(r, ev.start, ev.end, v, evidence(ev, v, fileLine), '');
    // A pickle embedded as a literal and unpickled: scan it as the pickle it is.
    if (ev.kind === 'deserialize' && ev.bytes && /^(pickle|dill|cloudpickle|joblib|torch|numpy|pandas)\./.test(ev.callee) && r.place.depth < r.ctx.limits.maxDepth) {
      const pos = position(r.src, r.toFile(ev.start), r.toFile(ev.start));
      const location = `${r.place.location}!<literal at line ${pos.line}>`;
      r.ctx.members.push(location);
      await scanPickleStream(new BufferSource(ev.bytes, location), { ...r.place, location, depth: r.place.depth + 1 }, r.ctx);
    }
  }
  if (analysis.flattenedDepth !== undefined) {
    report(
      r,
      0,
      0,
      {
        ruleId: 'python/parse-error',
        severity: 'MEDIUM',
        message: `Indentation is nested ${analysis.flattenedDepth} levels deep, far beyond real code and beyond what the parser handles; the file was analysed with its indentation removed, so block structure (and import time versus call time) is approximate.`,
        hint: 'Nesting this deep is a way to break scanners. Read the file by hand before running it.',
      },
      undefined,
      '|flattened',
    );
  }
  if (analysis.parseErrors.length && analysis.flattenedDepth === undefined) {
    const e = analysis.parseErrors[0];
    report(
      r,
      e.start,
      e.end,
      {
        ruleId: 'python/parse-error',
        severity: 'INFO',
        message: `The Python parser had to recover from ${analysis.parseErrors.length} syntax error(s) (first here); the rest of the file was still scanned.`,
        hint: 'Python 2 code and broken files parse partly. Findings cover what parsed; review the unparsed lines by hand if the file matters.',
      },
      undefined,
      '|parse',
    );
  }
  if (analysis.truncated) {
    report(r, 0, 0, { ruleId: 'python/analysis-limit', severity: 'LOW', message: 'The data-flow analysis of this file stopped at its step budget; calls past that point were not followed.', hint: 'Very large or deeply recursive files hit the budget. Review the file by hand or split it.' }, undefined, '|limit');
  }
}

async function reportShell(r: Reporter, text: string, map: number[] | undefined): Promise<void> {
  const a = analyzeShell(text);
  const to = (i: number) => (map ? (map[Math.min(i, map.length - 1)] ?? 0) : r.toFile(i));
  const sub: Reporter = { ...r, toFile: to };
  for (const h of a.hits) report(sub, h.start, h.end, judgeShellHit(h), `command: ${h.command}${h.hosts.length ? `\nhosts: ${h.hosts.join(', ')}` : ''}`, '');
  for (const p of a.python) {
    const inner = await analyzePython(p.code, { importTime: true, depth: 1 });
    const pinned: PyAnalysis = { ...inner, parseErrors: [], truncated: false, events: inner.events.map((e) => ({ ...e, start: p.start, end: p.end, via: ['in Python code run by the script', ...e.via] })) };
    await reportPython(sub, pinned);
  }
}

export const pythonScanner: FormatScanner = {
  id: 'python',
  // Formats are named by what the file turned out to be: python, ipynb or shell.
  reportsOwnFormats: true,

  sniff(head: Buffer): boolean {
    if (head.length < 3 || head[0] !== 0x23 || head[1] !== 0x21) return false;
    const first = head.subarray(0, 200).toString('latin1').split('\n', 1)[0];
    return (SHEBANG_PY.test(first) || SHEBANG_SH.test(first)) && !isBinary(head);
  },

  sniffName(location: string, head: Buffer): boolean {
    const base = baseName(location);
    if (isBinary(head)) return false;
    if (/\.pyw?$/.test(base) || /\.(sh|bash)$/.test(base)) return true;
    if (base.endsWith('.ipynb')) return /^\s*\{/.test(head.subarray(0, 64).toString('latin1'));
    return false;
  },

  async scan(src: ByteSource, place: Place, ctx: ScanContext): Promise<void> {
    const head = await src.read(0, 4096);
    const kind = kindOf(place.location, head);
    const cap = kind === 'notebook' ? MAX_NOTEBOOK_BYTES : MAX_SOURCE_BYTES;
    if (src.size > cap && kind === 'notebook') {
      addFinding(ctx, `${place.location}|python-size`, {
        ruleId: 'python/analysis-limit',
        severity: 'LOW',
        location: place.location,
        message: `Notebook of ${src.size} bytes is larger than the ${cap}-byte limit and was not scanned.`,
        hint: 'Clear the notebook outputs (jupyter nbconvert --clear-output) and scan again.',
      });
      return;
    }
    const bytes = await src.read(0, Math.min(src.size, cap));
    const text = decodeSource(bytes);
    const r: Reporter = { src: text, place, ctx, toFile: (i) => i };
    if (src.size > cap) {
      report(r, 0, 0, { ruleId: 'python/analysis-limit', severity: 'LOW', message: `File of ${src.size} bytes: only the first ${cap} bytes were scanned.`, hint: 'Source files this large are usually generated data; check what the rest holds.' }, undefined, '|size');
    }
    if (kind === 'shell') {
      addFormat(ctx, 'shell');
      await reportShell(r, text.text, undefined);
      return;
    }
    if (kind === 'notebook') {
      addFormat(ctx, 'ipynb');
      const nb = readNotebook(text.text);
      const lang = nb.language?.toLowerCase();
      if (!lang || lang.startsWith('python') || lang === 'ipython') {
        const analysis = await analyzePython(nb.python.text, { importTime: true });
        const map = nb.python.map;
        await reportPython({ ...r, toFile: (i) => map[Math.min(i, map.length - 1)] ?? 0 }, analysis);
      }
      for (const sh of nb.shell) await reportShell(r, sh.text, sh.map);
      return;
    }
    addFormat(ctx, 'python');
    // TorchScript code is compiled by torch.jit.load and runs when the model is called, not at import.
    const analysis = await analyzePython(text.text, { importTime: kind !== 'torchscript' });
    await reportPython(r, analysis);
  },
};

