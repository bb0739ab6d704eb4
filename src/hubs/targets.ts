/**
 * Scan targets that name hub repos rather than local paths:
 *
 *   hf://org/name[@revision]              a model
 *   hf://datasets/org/name[@revision]     a dataset (hf://spaces/… for a space)
 *   https://huggingface.co/org/name[/tree/rev[/dir]]
 *   https://huggingface.co/org/name/blob/rev/path   (one file; also /resolve/)
 *   https://huggingface.co/datasets/org/name…, /spaces/org/name…
 *
 * URLs on hf.co or on the configured endpoint's host (a mirror) are accepted
 * too. Everything is validated before any URL is built from it.
 */
import { HubNameError, validateRepoName, validateRepoPath, validateRevision, type RepoType } from './huggingface.js';

export interface HubTarget {
  /** The target as the user wrote it. */
  input: string;
  type: RepoType;
  /** "org/name" (or a legacy one-part name). */
  name: string;
  /** Branch, tag or commit; undefined means the default branch. */
  revision?: string;
  /** A file or folder inside the repo, from /blob/, /resolve/ or /tree/<rev>/<dir> URLs. */
  path?: string;
}

/** A target that looked like a hub target but cannot be used; the message says why. */
export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

const HF_HOSTS = new Set(['huggingface.co', 'www.huggingface.co', 'hf.co']);

/** Whether this argument is meant as a hub target (hf://… or an http(s) URL) rather than a local path. */
export function isHubTarget(arg: string): boolean {
  return /^hf:\/\//i.test(arg) || /^https?:\/\//i.test(arg);
}

/**
 * Parse a hub target. `endpoint` (the configured HF_ENDPOINT) adds its host to
 * the accepted URL hosts. Throws TargetError with a message naming the target.
 */
export function parseHubTarget(input: string, endpoint?: string): HubTarget {
  try {
    if (/^hf:\/\//i.test(input)) return parseHfUri(input);
    if (/^https?:\/\//i.test(input)) return parseHubUrl(input, endpoint);
  } catch (e) {
    if (e instanceof HubNameError) throw new TargetError(`${input}: ${e.message}`);
    throw e;
  }
  throw new TargetError(`${input}: not a hub target (use hf://org/name or https://huggingface.co/org/name)`);
}

function parseHfUri(input: string): HubTarget {
  let rest = input.slice('hf://'.length);
  if (rest.includes('?') || rest.includes('#')) throw new TargetError(`${input}: hf:// targets take no query or fragment`);
  let type: RepoType = 'model';
  const m = /^(datasets|spaces)\//.exec(rest);
  if (m) {
    type = m[1] === 'datasets' ? 'dataset' : 'space';
    rest = rest.slice(m[0].length);
  }
  const at = rest.indexOf('@');
  const name = at < 0 ? rest : rest.slice(0, at);
  if (name.split('/').some((p) => p === '..' || p === '.')) throw new TargetError(`${input}: "." and ".." are not allowed in hub names`);
  if (name.split('/').some((p) => p === '') && name !== '') throw new TargetError(`${input}: the repo name has an empty part`);
  if (name.split('/').length > 2) {
    throw new TargetError(
      `${input}: hf:// names a repo as [datasets/|spaces/]org/name[@revision]; to scan one file, use its https://…/blob/<revision>/<path> URL`,
    );
  }
  validateRepoName(type, name);
  const target: HubTarget = { input, type, name };
  if (at >= 0) target.revision = validateRevision(decode(rest.slice(at + 1), input));
  return target;
}

function parseHubUrl(input: string, endpoint?: string): HubTarget {
  let u: URL;
  try {
    u = new URL(input);
  } catch {
    throw new TargetError(`${input}: not a valid URL`);
  }
  const hosts = new Set(HF_HOSTS);
  let base = '';
  if (endpoint) {
    const e = new URL(endpoint);
    hosts.add(e.host.toLowerCase());
    // A mirror may live under a path prefix (https://example.com/hf).
    if (e.host.toLowerCase() === u.host.toLowerCase()) base = e.pathname.replace(/\/+$/, '');
  }
  if (!hosts.has(u.host.toLowerCase())) {
    throw new TargetError(`${input}: not a Hugging Face URL (host ${u.host}); set HF_ENDPOINT to scan a mirror`);
  }
  if (u.username || u.password) throw new TargetError(`${input}: URLs must not carry credentials; use HF_TOKEN or --token`);
  let pathname = u.pathname;
  if (base && pathname.startsWith(base + '/')) pathname = pathname.slice(base.length);
  // Raw (still-encoded) segments, so that a revision written as refs%2Fpr%2F1 stays one segment.
  const segs = pathname.split('/').filter((s, i, all) => !(s === '' && (i === 0 || i === all.length - 1)));
  if (segs.some((s) => s === '')) throw new TargetError(`${input}: the URL path has an empty part`);
  let type: RepoType = 'model';
  if (segs[0] === 'datasets' || segs[0] === 'spaces') {
    type = segs[0] === 'datasets' ? 'dataset' : 'space';
    segs.shift();
  }
  if (segs.length === 0) throw new TargetError(`${input}: the URL names no repo`);
  const KEYWORDS = new Set(['tree', 'blob', 'resolve']);
  // A one-part legacy name is followed directly by tree/blob/resolve (or nothing).
  const oneSegment = segs.length === 1 || (KEYWORDS.has(segs[1]) && type !== 'space');
  const nameSegs = oneSegment ? segs.slice(0, 1) : segs.slice(0, 2);
  const name = nameSegs.map((s) => decode(s, input)).join('/');
  validateRepoName(type, name);
  const target: HubTarget = { input, type, name };
  const tail = segs.slice(nameSegs.length);
  if (tail.length === 0) return target;
  const kind = tail[0];
  if (!KEYWORDS.has(kind) || tail.length < 2) {
    throw new TargetError(`${input}: expected /tree/<revision>, /blob/<revision>/<path> or /resolve/<revision>/<path> after the repo name`);
  }
  target.revision = validateRevision(decode(tail[1], input));
  const rest = tail.slice(2).map((s) => decode(s, input));
  if (rest.length) target.path = validateRepoPath(rest.join('/'));
  else if (kind !== 'tree') throw new TargetError(`${input}: /${kind}/<revision> needs a file path after it`);
  return target;
}

function decode(s: string, input: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new TargetError(`${input}: bad %-escape in ${JSON.stringify(s)}`);
  }
}

/** hf://[datasets/|spaces/]org/name[@revision] */
export function formatTarget(t: { type: RepoType; name: string }, revision?: string): string {
  const prefix = t.type === 'model' ? '' : t.type === 'dataset' ? 'datasets/' : 'spaces/';
  return `hf://${prefix}${t.name}${revision !== undefined ? `@${revision}` : ''}`;
}
