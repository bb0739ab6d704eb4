/**
 * The project config file, `.ptmscope.yaml` (or `.yml` / `.json`): the exit
 * threshold, policy extensions and resource limits. See docs/config.md.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { SEVERITIES, type Severity } from './finding.js';
import { DEFAULT_LIMITS, type Limits } from '../formats/limits.js';
import { DENY_SEVERITIES, isValidPattern } from './policy/policy.js';

export type FailOn = Severity | 'none';

export interface DenyEntry {
  pattern: string;
  severity: Severity;
  reason?: string;
}

export interface ScanConfig {
  /** Exit 1 when a finding is at or above this severity ('none': never). */
  failOn?: FailOn;
  /** Extra allowed globals: dotted paths, exact or ending in `.*`. */
  allow?: string[];
  /** Extra denied globals; can add or raise, never lower, a verdict. */
  deny?: DenyEntry[];
  limits?: Partial<Limits>;
}

/** A config file that is missing, unreadable or invalid. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Looked up in this order in each directory, from the start directory upwards. */
export const CONFIG_FILE_NAMES = ['.ptmscope.yaml', '.ptmscope.yml', '.ptmscope.json'] as const;

const TOP_KEYS = ['failOn', 'allow', 'deny', 'limits'] as const;
const DENY_KEYS = ['pattern', 'severity', 'reason'] as const;
const LIMIT_KEYS = Object.keys(DEFAULT_LIMITS) as Array<keyof Limits>;
const PATTERN_HELP = 'a dotted Python path such as "mypkg.models.Net" or "mypkg.models.*"';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${String(v)}`;
}

function parseSeverityValue(v: unknown, where: string, accepted: readonly string[]): string {
  const up = typeof v === 'string' ? v.toUpperCase() : undefined;
  if (up === undefined || !accepted.map((a) => a.toUpperCase()).includes(up)) {
    throw new ConfigError(`${where} is ${describe(v)}; use one of ${accepted.join(', ')}.`);
  }
  return up;
}

/**
 * Check a parsed config document and return it typed. Throws ConfigError
 * naming `source` (the file), the key, and what is accepted.
 */
export function validateConfig(raw: unknown, source: string): ScanConfig {
  // An empty YAML file parses to null: same as no settings.
  if (raw === null || raw === undefined) return {};
  if (!isPlainObject(raw)) {
    throw new ConfigError(`${source}: the top level must be a mapping of ${TOP_KEYS.join(', ')}; got ${describe(raw)}.`);
  }
  for (const key of Object.keys(raw)) {
    if (!(TOP_KEYS as readonly string[]).includes(key)) {
      throw new ConfigError(`${source}: unknown key "${key}"; accepted keys are ${TOP_KEYS.join(', ')}.`);
    }
  }
  const config: ScanConfig = {};

  if (raw.failOn !== undefined && raw.failOn !== null) {
    const v = parseSeverityValue(raw.failOn, `${source}: "failOn"`, [...SEVERITIES, 'none']);
    config.failOn = (v === 'NONE' ? 'none' : v) as FailOn;
  }

  if (raw.allow !== undefined && raw.allow !== null) {
    if (!Array.isArray(raw.allow)) {
      throw new ConfigError(`${source}: "allow" must be a list of patterns (${PATTERN_HELP}); got ${describe(raw.allow)}.`);
    }
    config.allow = raw.allow.map((p, i) => {
      if (!isValidPattern(p)) {
        throw new ConfigError(`${source}: "allow[${i}]" is ${describe(p)}; use ${PATTERN_HELP}.`);
      }
      return p;
    });
  }

  if (raw.deny !== undefined && raw.deny !== null) {
    if (!Array.isArray(raw.deny)) {
      throw new ConfigError(`${source}: "deny" must be a list of { pattern, severity, reason } entries; got ${describe(raw.deny)}.`);
    }
    config.deny = raw.deny.map((entry, i): DenyEntry => {
      const where = `${source}: "deny[${i}]"`;
      const field = (name: string): string => `${source}: "deny[${i}].${name}"`;
      if (!isPlainObject(entry)) {
        throw new ConfigError(`${where} must be a mapping { pattern, severity, reason }; got ${describe(entry)}.`);
      }
      for (const key of Object.keys(entry)) {
        if (!(DENY_KEYS as readonly string[]).includes(key)) {
          throw new ConfigError(`${where} has unknown key "${key}"; accepted keys are ${DENY_KEYS.join(', ')}.`);
        }
      }
      if (!isValidPattern(entry.pattern)) {
        throw new ConfigError(`${field('pattern')} is ${describe(entry.pattern)}; use ${PATTERN_HELP}.`);
      }
      const severity = parseSeverityValue(entry.severity, field('severity'), DENY_SEVERITIES) as Severity;
      const out: DenyEntry = { pattern: entry.pattern, severity };
      if (entry.reason !== undefined && entry.reason !== null) {
        if (typeof entry.reason !== 'string') {
          throw new ConfigError(`${field('reason')} must be text; got ${describe(entry.reason)}.`);
        }
        out.reason = entry.reason;
      }
      return out;
    });
  }

  if (raw.limits !== undefined && raw.limits !== null) {
    if (!isPlainObject(raw.limits)) {
      throw new ConfigError(`${source}: "limits" must be a mapping of ${LIMIT_KEYS.join(', ')}; got ${describe(raw.limits)}.`);
    }
    const limits: Partial<Limits> = {};
    for (const [key, value] of Object.entries(raw.limits)) {
      if (!(LIMIT_KEYS as string[]).includes(key)) {
        throw new ConfigError(`${source}: unknown limit "limits.${key}"; accepted limits are ${LIMIT_KEYS.join(', ')}.`);
      }
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
        throw new ConfigError(`${source}: "limits.${key}" is ${describe(value)}; use a positive whole number (default ${DEFAULT_LIMITS[key as keyof Limits]}).`);
      }
      limits[key as keyof Limits] = value;
    }
    config.limits = limits;
  }
  return config;
}

/** Parse and validate one config file. */
export async function readConfigFile(path: string): Promise<ScanConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message;
    throw new ConfigError(`cannot read config file ${path}: ${why}. Pass an existing file to --config, or remove the option.`);
  }
  let raw: unknown;
  if (path.endsWith('.json')) {
    try {
      raw = text.trim() === '' ? null : JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`${path}: not valid JSON (${(e as Error).message}).`);
    }
  } else {
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    if (doc.errors.length > 0) {
      const first = doc.errors[0];
      const line = first.linePos?.[0];
      const at = line ? ` at line ${line.line}, column ${line.col}` : '';
      throw new ConfigError(`${path}: not valid YAML${at}: ${first.message.split('\n')[0]}`);
    }
    raw = doc.toJS();
  }
  return validateConfig(raw, path);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The nearest config file at or above `start`, or undefined. */
export async function findConfigFile(start: string): Promise<string | undefined> {
  let dir = resolve(start);
  for (;;) {
    const found: string[] = [];
    for (const name of CONFIG_FILE_NAMES) {
      const candidate = join(dir, name);
      if (await isFile(candidate)) found.push(candidate);
    }
    if (found.length > 1) {
      throw new ConfigError(`${dir} has more than one ptmscope config (${found.map((f) => f.slice(dir.length + 1)).join(', ')}); keep one, or pick one with --config.`);
    }
    if (found.length === 1) return found[0];
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Load the config: `path` when given (relative to `cwd`), else the nearest
 * `.ptmscope.yaml|yml|json` found walking up from `cwd` (default: process.cwd()).
 * No file found: an empty config.
 */
export async function loadConfig(opts: { path?: string; cwd?: string } = {}): Promise<{ config: ScanConfig; path?: string }> {
  const cwd = opts.cwd ?? process.cwd();
  if (opts.path !== undefined) {
    const path = resolve(cwd, opts.path);
    return { config: await readConfigFile(path), path };
  }
  const path = await findConfigFile(cwd);
  if (path === undefined) return { config: {} };
  return { config: await readConfigFile(path), path };
}
