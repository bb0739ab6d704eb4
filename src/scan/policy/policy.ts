/**
 * Decides what a pickle global is: allowed, unknown or dangerous.
 *
 * Order (see docs/config.md):
 *  1. deny rules, built-in and from the config, against every dotted suffix of
 *     `module.name` after alias normalisation; the highest severity wins;
 *  2. otherwise allowed when the exact path (or a `prefix.*` entry) is on the
 *     allowlist of one of the requested ecosystems, or on the config's allow list;
 *  3. otherwise unknown (MEDIUM).
 * An allow entry never overrides a deny rule.
 */
import { severityRank, type Severity } from '../finding.js';
import { DENYLIST, type DenyCategory } from './denylist.js';
import allowlistData from './allowlist.json' with { type: 'json' };

export type Ecosystem = 'python' | 'torch' | 'torchscript' | 'numpy' | 'sklearn' | 'joblib';

export const ECOSYSTEMS: readonly Ecosystem[] = ['python', 'torch', 'torchscript', 'numpy', 'sklearn', 'joblib'];

/** TorchScript's `__torch__.*` names are only legitimate inside TorchScript archives. */
export const DEFAULT_ECOSYSTEMS: readonly Ecosystem[] = ECOSYSTEMS.filter((e) => e !== 'torchscript');

export interface GlobalVerdict {
  verdict: 'allowed' | 'unknown' | 'dangerous';
  /** INFO for allowed, MEDIUM or above otherwise. */
  severity: Severity;
  /** Deny category ('process', 'code', ... or 'config' for a user rule). */
  category?: string;
  /** One sentence for the finding message. */
  reason: string;
  /** The deny pattern or allow entry that decided it. */
  matched?: string;
  /** The normalised path the deny rule matched, e.g. 'os.system' for 'posix.system'. */
  canonical?: string;
}

export interface PolicyConfig {
  allow?: string[];
  deny?: Array<{ pattern: string; severity: Severity; reason?: string }>;
}

/** The generated allowlist (scripts/gen-allowlist.py), per ecosystem. */
export const ALLOWLIST: Readonly<Record<Ecosystem, readonly string[]>> = allowlistData.ecosystems;
/** Library versions the allowlist was generated from. */
export const ALLOWLIST_VERSIONS: Readonly<Record<string, string>> = allowlistData.versions;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A dotted path of identifiers, optionally ending in `.*`. */
export function isValidPattern(pattern: unknown): pattern is string {
  if (typeof pattern !== 'string') return false;
  const body = pattern.endsWith('.*') ? pattern.slice(0, -2) : pattern;
  return body.length > 0 && body.split('.').every((part) => IDENTIFIER.test(part));
}

/** Severities a deny rule may carry: a denied global is never below MEDIUM. */
export const DENY_SEVERITIES: readonly Severity[] = ['MEDIUM', 'HIGH', 'CRITICAL'];

// Module spellings that resolve to the same module. Applied to the head of every
// dotted suffix, so `x.posix.system` is also seen as `os.system`.
const ALIASES_ANYWHERE = new Map<string, string>([
  ['posix', 'os'],
  ['nt', 'os'],
  ['__builtin__', 'builtins'],
  ['__builtins__', 'builtins'],
  ['cPickle', 'pickle'],
  ['copy_reg', 'copyreg'],
  ['_socket', 'socket'],
  ['_operator', 'operator'],
  // Private import aliases the stdlib and numpy use (`import os as _os`):
  // `random._os.system`, `tempfile._sys.modules`, `numpy._builtins.eval`.
  ['_os', 'os'],
  ['_sys', 'sys'],
  ['_builtins', 'builtins'],
  // A builtin function's __self__ is the builtins module: `f.__self__.exec`.
  ['__self__', 'builtins'],
]);
// Only where the name is the imported module itself: as inner attributes these
// names are ordinary private submodules (numpy.random._pickle, torch.jit._pickle).
// `exceptions` is Python 2's module that Python 3's unpickler maps to builtins.
const ALIASES_AT_MODULE = new Map<string, string>([
  ...ALIASES_ANYWHERE,
  ['_pickle', 'pickle'],
  ['_io', 'io'],
  ['exceptions', 'builtins'],
  ['_functools', 'functools'],
]);
// Python 2 names that Python 3's unpickler renames (Lib/_compat_pickle.py NAME_MAPPING),
// checked after the module alias, so `__builtin__.reduce` is seen as functools.reduce.
const RENAMED = new Map<string, string>([
  ['builtins.reduce', 'functools.reduce'],
  ['builtins.intern', 'sys.intern'],
  ['builtins.raw_input', 'builtins.input'],
  ['builtins.reload', 'importlib.reload'],
  ['builtins.xrange', 'builtins.range'],
  ['builtins.unicode', 'builtins.str'],
  ['builtins.basestring', 'builtins.str'],
  ['builtins.long', 'builtins.int'],
  ['itertools.imap', 'builtins.map'],
  ['itertools.ifilter', 'builtins.filter'],
  ['itertools.izip', 'builtins.zip'],
]);

interface Rule {
  pattern: string;
  severity: Severity;
  category: DenyCategory | 'config';
  reason: string;
  user: boolean;
  prefix: boolean;
}

interface Hit {
  rule: Rule;
  canonical: string;
}

const USER_BIT = 1 << ECOSYSTEMS.length;

function ecosystemMask(ecosystems: readonly Ecosystem[]): number {
  let mask = 0;
  for (const e of ecosystems) {
    const i = ECOSYSTEMS.indexOf(e);
    if (i >= 0) mask |= 1 << i;
  }
  return mask;
}

const DEFAULT_MASK = ecosystemMask(DEFAULT_ECOSYSTEMS);
// Large scans can see millions of distinct (hostile) names; bound the memo.
const CACHE_LIMIT = 100_000;

function better(a: Hit | undefined, b: Hit): boolean {
  if (!a) return true;
  const d = severityRank(b.rule.severity) - severityRank(a.rule.severity);
  if (d !== 0) return d > 0;
  if (a.rule.prefix !== b.rule.prefix) return !b.rule.prefix; // exact beats namespace
  return b.rule.pattern.length > a.rule.pattern.length;
}

export class Policy {
  private static defaultPolicy: Policy | undefined;

  private readonly denyExact = new Map<string, Rule[]>();
  private readonly denyPrefix = new Map<string, Rule[]>();
  private readonly allowExact = new Map<string, number>();
  private readonly allowPrefix = new Map<string, number>();
  private readonly cache = new Map<string, GlobalVerdict>();

  private constructor(config: PolicyConfig | undefined) {
    for (const r of DENYLIST) this.addDeny({ ...r, user: false, prefix: false });
    ECOSYSTEMS.forEach((eco, i) => {
      for (const entry of ALLOWLIST[eco] ?? []) this.addAllow(entry, 1 << i);
    });
    for (const entry of config?.allow ?? []) {
      if (!isValidPattern(entry)) {
        throw new TypeError(`allow entry ${JSON.stringify(entry)} is not a dotted Python path (optionally ending in ".*").`);
      }
      this.addAllow(entry, USER_BIT);
    }
    for (const d of config?.deny ?? []) {
      if (!isValidPattern(d?.pattern)) {
        throw new TypeError(`deny pattern ${JSON.stringify(d?.pattern)} is not a dotted Python path (optionally ending in ".*").`);
      }
      if (!DENY_SEVERITIES.includes(d.severity)) {
        throw new TypeError(`deny severity for "${d.pattern}" must be one of ${DENY_SEVERITIES.join(', ')}, got ${JSON.stringify(d.severity)}.`);
      }
      this.addDeny({
        pattern: d.pattern,
        severity: d.severity,
        category: 'config',
        reason: d.reason ? `is denied by the ptmscope config: ${d.reason.replace(/[.\s]+$/, '')}` : 'is denied by the ptmscope config',
        user: true,
        prefix: false,
      });
    }
  }

  /** The built-in lists; built once and shared. */
  static default(): Policy {
    return (Policy.defaultPolicy ??= new Policy(undefined));
  }

  /** The built-in lists plus the config's allow and deny entries. */
  static fromConfig(cfg: PolicyConfig | undefined): Policy {
    if (!cfg || (!cfg.allow?.length && !cfg.deny?.length)) return Policy.default();
    return new Policy(cfg);
  }

  private addDeny(rule: Rule): void {
    const prefix = rule.pattern.endsWith('.*');
    const key = prefix ? rule.pattern.slice(0, -2) : rule.pattern;
    const map = prefix ? this.denyPrefix : this.denyExact;
    const list = map.get(key);
    const r = { ...rule, prefix };
    if (list) list.push(r);
    else map.set(key, [r]);
  }

  private addAllow(entry: string, bit: number): void {
    if (entry.endsWith('.*')) {
      const key = entry.slice(0, -2);
      this.allowPrefix.set(key, (this.allowPrefix.get(key) ?? 0) | bit);
    } else {
      this.allowExact.set(entry, (this.allowExact.get(entry) ?? 0) | bit);
    }
  }

  /**
   * Classify the global `module` + `name` (name may itself be dotted, as
   * STACK_GLOBAL allows). `ecosystems` picks the allowlists that apply;
   * default: all but torchscript. The config's allow list always applies.
   */
  classify(module: string, name: string, ecosystems?: readonly Ecosystem[]): GlobalVerdict {
    const mask = (ecosystems ? ecosystemMask(ecosystems) : DEFAULT_MASK) | USER_BIT;
    const key = `${mask}\u0000${module}\u0000${name}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const verdict = this.decide(String(module), String(name), mask);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(key, verdict);
    return verdict;
  }

  private decide(module: string, name: string, mask: number): GlobalVerdict {
    const full = `${module}.${name}`;
    const parts = full.split('.');
    if (!module || !name || !parts.every((p) => IDENTIFIER.test(p))) {
      return {
        verdict: 'unknown',
        severity: 'MEDIUM',
        reason: `Global ${JSON.stringify(module)} ${JSON.stringify(name)} is not a valid dotted Python name, so no legitimate library wrote it.`,
      };
    }

    const hit = this.matchDeny(parts);
    if (hit) {
      const via = hit.canonical !== full ? ` (${hit.canonical})` : '';
      return {
        verdict: 'dangerous',
        severity: hit.rule.severity,
        category: hit.rule.category,
        reason: `${full}${via} ${hit.rule.reason}.`,
        matched: hit.rule.pattern,
        canonical: hit.canonical,
      };
    }

    const allowedBy = this.matchAllow(parts, mask) ?? this.matchAllow(this.normalised(parts), mask);
    if (allowedBy) {
      return { verdict: 'allowed', severity: 'INFO', reason: `${full} is on the allowlist.`, matched: allowedBy };
    }
    const wanted = ECOSYSTEMS.filter((_, i) => mask & (1 << i));
    return {
      verdict: 'unknown',
      severity: 'MEDIUM',
      reason: `${full} is not on the allowlist (${wanted.join(', ') || 'no ecosystems'}); loading it imports ${module} and may run code nobody reviewed.`,
    };
  }

  /** The full path with its module alias and Python 2 renames applied. */
  private normalised(parts: string[]): string[] {
    const alias = ALIASES_AT_MODULE.get(parts[0]);
    const aliased = alias ? [alias, ...parts.slice(1)] : parts;
    const renamed = RENAMED.get(aliased.join('.'));
    return renamed ? renamed.split('.') : aliased;
  }

  private matchDeny(parts: string[]): Hit | undefined {
    let best: Hit | undefined;
    const consider = (cand: string[]): void => {
      const joined = cand.join('.');
      for (const rule of this.denyExact.get(joined) ?? []) {
        const h = { rule, canonical: joined };
        if (better(best, h)) best = h;
      }
      let prefix = '';
      for (let k = 0; k < cand.length - 1; k++) {
        prefix = k === 0 ? cand[0] : `${prefix}.${cand[k]}`;
        for (const rule of this.denyPrefix.get(prefix) ?? []) {
          const h = { rule, canonical: joined };
          if (better(best, h)) best = h;
        }
      }
    };
    for (let i = 0; i < parts.length; i++) {
      const tail = i === 0 ? parts : parts.slice(i);
      const alias = (i === 0 ? ALIASES_AT_MODULE : ALIASES_ANYWHERE).get(tail[0]);
      const aliased = alias ? [alias, ...tail.slice(1)] : tail;
      // The imported module is exactly its canonical spelling; an inner
      // attribute may be either (a real alias, or a private submodule).
      if (i > 0 || !alias) consider(tail);
      if (alias) consider(aliased);
      // Python 2 renames apply to real module.name pairs, i.e. to every suffix
      // of length 2 (`x.__builtin__.reduce` walks to the same function).
      if (aliased.length === 2) {
        const renamed = RENAMED.get(aliased.join('.'));
        if (renamed) consider(renamed.split('.'));
      }
    }
    return best;
  }

  private matchAllow(parts: string[], mask: number): string | undefined {
    const joined = parts.join('.');
    if ((this.allowExact.get(joined) ?? 0) & mask) return joined;
    let prefix = '';
    for (let k = 0; k < parts.length - 1; k++) {
      prefix = k === 0 ? parts[0] : `${prefix}.${parts[k]}`;
      if ((this.allowPrefix.get(prefix) ?? 0) & mask) return `${prefix}.*`;
    }
    return undefined;
  }
}
