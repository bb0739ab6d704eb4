/**
 * Hugging Face Hub adapter, read side: repo info (with the Hub's own security
 * scan status), the recursive file tree, repo listings, and resolve URLs, for
 * models, datasets and spaces.
 *
 * The few REST endpoints are called directly through HttpClient rather than
 * through @huggingface/hub: the client already has to own redirects (token
 * stripping), Range fallback, rate limits and counting, so the library would
 * add a dependency and a second HTTP path for five URL templates.
 *
 * Every name and revision is validated before a URL is built from it.
 */
import { HttpClient, HttpError, type HttpClientOptions, type TransferStats } from './http.js';

export type RepoType = 'model' | 'dataset' | 'space';
export const REPO_TYPES: readonly RepoType[] = ['model', 'dataset', 'space'];

export interface RepoRef {
  type: RepoType;
  /** "org/name", or a legacy one-part model/dataset name such as "bert-base-uncased". */
  name: string;
}

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

/** Names and revisions that would be unsafe or meaningless in a URL. */
export class HubNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HubNameError';
  }
}

const NAME_PART = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;
const MAX_NAME = 96;

/**
 * Check a repo name the way the Hub does (huggingface_hub's validate_repo_id):
 * one or two parts of letters, digits, "-", "_" and ".", not starting or ending
 * with "-" or ".", no "--" or "..", at most 96 characters. Spaces always have
 * an owner. Throws HubNameError saying what is wrong.
 */
export function validateRepoName(type: RepoType, name: string): string {
  const what = `${type} name ${JSON.stringify(name)}`;
  if (name === '') throw new HubNameError(`empty ${type} name: name a repo as org/name`);
  if (name.length > MAX_NAME) throw new HubNameError(`${what} is longer than ${MAX_NAME} characters`);
  const parts = name.split('/');
  if (parts.length > 2) throw new HubNameError(`${what} has more than two parts: a repo is named org/name`);
  if (type === 'space' && parts.length !== 2) throw new HubNameError(`${what} needs an owner: spaces are named org/name`);
  for (const p of parts) {
    if (p === '') throw new HubNameError(`${what} has an empty part`);
    if (p === '.' || p === '..' || p.includes('..')) throw new HubNameError(`${what} contains ".."`);
    if (p.includes('--')) throw new HubNameError(`${what} contains "--", which the Hub does not allow`);
    if (!NAME_PART.test(p)) {
      throw new HubNameError(`${what}: use letters, digits, "-", "_" and "." only, not starting or ending with "-" or "."`);
    }
  }
  return name;
}

/**
 * A branch, tag or commit. Letters, digits and "._-/" (refs/pr/1), no "..",
 * no empty path parts, no leading "-", at most 255 characters.
 */
export function validateRevision(rev: string): string {
  const what = `revision ${JSON.stringify(rev)}`;
  if (rev === '') throw new HubNameError('empty revision: leave out "@" or name a branch, tag or commit');
  if (rev.length > 255) throw new HubNameError(`${what} is longer than 255 characters`);
  if (!/^[A-Za-z0-9._\-/]+$/.test(rev)) throw new HubNameError(`${what}: use letters, digits, ".", "_", "-" and "/" only`);
  if (rev.includes('..')) throw new HubNameError(`${what} contains ".."`);
  if (rev.startsWith('/') || rev.endsWith('/') || rev.includes('//')) throw new HubNameError(`${what} has an empty path part`);
  if (rev.startsWith('-')) throw new HubNameError(`${what} starts with "-"`);
  return rev;
}

/** A path inside a repo: relative, "/"-separated, no "." or ".." parts, no control characters. */
export function validateRepoPath(path: string): string {
  const what = `path ${JSON.stringify(path)}`;
  if (path === '' || path.length > 4096) throw new HubNameError(`${what} is empty or too long`);
  if (/[\u0000-\u001f\u007f\\]/.test(path)) throw new HubNameError(`${what} contains control characters or "\\"`);
  for (const part of path.split('/')) {
    if (part === '' || part === '.' || part === '..') throw new HubNameError(`${what} has an empty, "." or ".." part`);
  }
  return path;
}

export function isCommitSha(rev: string): boolean {
  return /^[0-9a-f]{40}$/.test(rev);
}

/** The endpoint as huggingface_hub reads it: HF_ENDPOINT, else https://huggingface.co, without a trailing "/". */
export function hubEndpoint(env: NodeJS.ProcessEnv = process.env, override?: string): string {
  const raw = (override ?? env.HF_ENDPOINT ?? '').trim() || DEFAULT_ENDPOINT;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new HubNameError(`hub endpoint ${JSON.stringify(raw)} is not a URL (set HF_ENDPOINT to e.g. https://huggingface.co)`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new HubNameError(`hub endpoint ${raw} must be an http(s) URL`);
  if (u.username || u.password) throw new HubNameError('hub endpoint must not carry credentials; use HF_TOKEN or --token');
  return raw.replace(/\/+$/, '');
}

/** The token: --token, else HF_TOKEN (or the older HUGGING_FACE_HUB_TOKEN). */
export function hubToken(env: NodeJS.ProcessEnv = process.env, override?: string): string | undefined {
  const t = override ?? env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN;
  return t === undefined || t.trim() === '' ? undefined : t.trim();
}

/** The Hub's own scan summary (GET /api/models/{id}?securityStatus=true). */
export interface SecurityRepoStatus {
  /** False means "not finished / unknown", never "clean". */
  scansDone?: boolean;
  filesWithIssues: { path: string; level: string }[];
}

export interface RepoInfo extends RepoRef {
  /** The commit the revision resolved to. */
  sha: string;
  private?: boolean;
  /** false, "auto" or "manual". */
  gated?: boolean | string;
  disabled?: boolean;
  lastModified?: string;
  securityRepoStatus?: SecurityRepoStatus;
  /** The record as the Hub sent it. */
  raw: Record<string, unknown>;
}

export interface TreeEntry {
  type: 'file' | 'directory';
  path: string;
  size: number;
  /** Git blob id. */
  oid: string;
  /** Present for files stored in LFS: sha256 oid and size of the real content. */
  lfs?: { oid: string; size: number; pointerSize?: number };
  xetHash?: string;
}

export type HubErrorKind =
  | 'invalid-name'
  | 'repo-not-found'
  | 'revision-not-found'
  | 'entry-not-found'
  | 'gated'
  | 'unauthorized'
  | 'forbidden'
  | 'rate-limited'
  | 'network'
  | 'server'
  | 'protocol'
  | 'budget';

/** A hub request that failed, with a message that says what to do. */
export class HubError extends Error {
  constructor(
    message: string,
    readonly kind: HubErrorKind,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'HubError';
  }
}

export interface HubCallOptions {
  stats?: TransferStats;
  signal?: AbortSignal;
}

export interface HfHubOptions {
  endpoint?: string;
  token?: string;
  /** Environment read for HF_ENDPOINT / HF_TOKEN when endpoint / token are not given. */
  env?: NodeJS.ProcessEnv;
  /** HTTP client settings (retries, per-host limit, timeouts). */
  http?: Omit<HttpClientOptions, 'token' | 'tokenOrigins'>;
}

const TYPE_PLURAL: Record<RepoType, string> = { model: 'models', dataset: 'datasets', space: 'spaces' };

export function repoLabel(repo: RepoRef): string {
  return `hf://${repo.type === 'model' ? '' : TYPE_PLURAL[repo.type] + '/'}${repo.name}`;
}

export class HfHub {
  readonly endpoint: string;
  private readonly origin: string;

  constructor(
    readonly client: HttpClient,
    endpoint: string = DEFAULT_ENDPOINT,
  ) {
    this.endpoint = hubEndpoint({}, endpoint);
    this.origin = new URL(this.endpoint).origin;
  }

  /** A hub for HF_ENDPOINT / HF_TOKEN (or the given overrides), whose client sends the token to that endpoint only. */
  static create(o: HfHubOptions = {}): HfHub {
    const env = o.env ?? process.env;
    const endpoint = hubEndpoint(env, o.endpoint);
    const token = hubToken(env, o.token);
    const client = new HttpClient({ ...o.http, ...(token ? { token } : {}), tokenOrigins: [endpoint] });
    return new HfHub(client, endpoint);
  }

  /** https://huggingface.co/org/name, /datasets/org/name, /spaces/org/name */
  webUrl(repo: RepoRef): string {
    return `${this.endpoint}/${repo.type === 'model' ? '' : TYPE_PLURAL[repo.type] + '/'}${encodeName(repo)}`;
  }

  private apiRepo(repo: RepoRef): string {
    return `${this.endpoint}/api/${TYPE_PLURAL[repo.type]}/${encodeName(repo)}`;
  }

  /** The URL that serves `path` at `revision` (redirects to the CDN for LFS files). */
  resolveUrl(repo: RepoRef, revision: string, path: string): string {
    validateRevision(revision);
    validateRepoPath(path);
    const prefix = repo.type === 'model' ? '' : `${TYPE_PLURAL[repo.type]}/`;
    return `${this.endpoint}/${prefix}${encodeName(repo)}/resolve/${encodeURIComponent(revision)}/${encodePath(path)}`;
  }

  /**
   * Repo info at a revision (default: the default branch), with the Hub's
   * security scan status. The answer's `sha` is the exact commit.
   */
  async repoInfo(repo: RepoRef, revision?: string, o: HubCallOptions = {}): Promise<RepoInfo> {
    validateRepoName(repo.type, repo.name);
    if (revision !== undefined) validateRevision(revision);
    const url = `${this.apiRepo(repo)}${revision !== undefined ? `/revision/${encodeURIComponent(revision)}` : ''}?securityStatus=true`;
    let raw: Record<string, unknown>;
    try {
      raw = (await this.client.getJson<Record<string, unknown>>(url, o)).data;
    } catch (e) {
      throw this.describe(e, repo, revision);
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new HubError(`${repoLabel(repo)}: the hub's repo info is not a JSON object`, 'protocol');
    }
    const sha = raw.sha;
    if (typeof sha !== 'string' || !/^[0-9a-f]{40}$/i.test(sha)) {
      throw new HubError(`${repoLabel(repo)}: the hub's repo info has no commit sha, so files cannot be pinned to a commit`, 'protocol');
    }
    const info: RepoInfo = { type: repo.type, name: repo.name, sha: sha.toLowerCase(), raw };
    if (typeof raw.private === 'boolean') info.private = raw.private;
    if (typeof raw.gated === 'boolean' || typeof raw.gated === 'string') info.gated = raw.gated;
    if (typeof raw.disabled === 'boolean') info.disabled = raw.disabled;
    if (typeof raw.lastModified === 'string') info.lastModified = raw.lastModified;
    const sec = normalizeSecurity(raw.securityRepoStatus);
    if (sec) info.securityRepoStatus = sec;
    return info;
  }

  /** Every file and directory at `revision` (recursive), following the Link header's pages. */
  async *tree(repo: RepoRef, revision: string, o: HubCallOptions & { path?: string } = {}): AsyncGenerator<TreeEntry> {
    validateRepoName(repo.type, repo.name);
    validateRevision(revision);
    if (o.path !== undefined) validateRepoPath(o.path);
    let url: string | undefined =
      `${this.apiRepo(repo)}/tree/${encodeURIComponent(revision)}${o.path ? `/${encodePath(o.path)}` : ''}?recursive=true&expand=false`;
    const seen = new Set<string>();
    while (url) {
      if (seen.has(url)) throw new HubError(`${repoLabel(repo)}: the hub's tree pages loop (${url})`, 'protocol');
      seen.add(url);
      let page;
      try {
        page = await this.client.getJson<unknown>(url, o);
      } catch (e) {
        throw this.describe(e, repo, revision);
      }
      if (!Array.isArray(page.data)) throw new HubError(`${repoLabel(repo)}: the hub's file tree is not a JSON array`, 'protocol');
      for (const item of page.data) yield normalizeTreeEntry(item, repo);
      url = this.nextPage(page.headers.get('link'), page.url);
    }
  }

  async listTree(repo: RepoRef, revision: string, o: HubCallOptions & { path?: string } = {}): Promise<TreeEntry[]> {
    const out: TreeEntry[] = [];
    for await (const e of this.tree(repo, revision, o)) out.push(e);
    return out;
  }

  /**
   * Repo listings (GET /api/models?search=…&author=…&limit=…), all pages.
   * Records are yielded as the Hub sends them.
   */
  async *listRepos(type: RepoType, query: Record<string, string | number | boolean> = {}, o: HubCallOptions = {}): AsyncGenerator<Record<string, unknown>> {
    const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString();
    let url: string | undefined = `${this.endpoint}/api/${TYPE_PLURAL[type]}${qs ? `?${qs}` : ''}`;
    const seen = new Set<string>();
    while (url) {
      if (seen.has(url)) throw new HubError(`${url}: the hub's listing pages loop`, 'protocol');
      seen.add(url);
      let page;
      try {
        page = await this.client.getJson<unknown>(url, o);
      } catch (e) {
        throw toHubError(e);
      }
      if (!Array.isArray(page.data)) throw new HubError(`${url}: the hub's listing is not a JSON array`, 'protocol');
      for (const rec of page.data) if (rec && typeof rec === 'object') yield rec as Record<string, unknown>;
      url = this.nextPage(page.headers.get('link'), page.url);
    }
  }

  /** The rel="next" URL of a Link header, only when it stays on the hub. */
  private nextPage(link: string | null, base: string): string | undefined {
    const next = parseLinkHeader(link).next;
    if (!next) return undefined;
    const u = new URL(next, base);
    if (u.origin !== this.origin) throw new HubError(`the hub's next-page link points off the hub (${u.origin})`, 'protocol');
    return u.href;
  }

  /** Turn a failed call into a HubError whose message names the repo and says what to do. */
  describe(e: unknown, repo: RepoRef, revision?: string, path?: string): HubError {
    if (e instanceof HubError) return e;
    if (e instanceof HubNameError) return new HubError(e.message, 'invalid-name');
    if (!(e instanceof HttpError)) return new HubError(`${repoLabel(repo)}: ${(e as Error)?.message ?? String(e)}`, 'network');
    const label = repoLabel(repo);
    const token = this.client.hasToken;
    const code = e.errorCode;
    if (code === 'GatedRepo' || (e.kind === 'forbidden' && /gated/i.test(e.serverMessage ?? ''))) {
      return new HubError(
        token
          ? `${label} is gated and the token given has no access: accept the repo's conditions at ${this.webUrl(repo)} with the token's account`
          : `${label} is gated: accept its conditions at ${this.webUrl(repo)}, then pass a token of that account (HF_TOKEN or --token)`,
        'gated',
        e.status,
      );
    }
    if (code === 'RevisionNotFound') {
      return new HubError(`${label}: revision ${JSON.stringify(revision ?? '')} not found; check the branch, tag or commit`, 'revision-not-found', e.status);
    }
    if (code === 'EntryNotFound') {
      return new HubError(`${label}: file ${JSON.stringify(path ?? '')} not found at ${revision ?? 'the revision'}`, 'entry-not-found', e.status);
    }
    if (code === 'RepoNotFound' || (e.kind === 'not-found' && path === undefined) || (e.kind === 'unauthorized' && !token)) {
      return new HubError(
        token
          ? `${label}: repository not found, or the token given has no access to it; check the name and the token`
          : `${label}: repository not found, or it is private and needs a token; check the name, or set HF_TOKEN / pass --token`,
        'repo-not-found',
        e.status,
      );
    }
    if (e.kind === 'unauthorized') {
      return new HubError(`${label}: the hub rejected the token (401); check HF_TOKEN / --token`, 'unauthorized', e.status);
    }
    if (e.kind === 'forbidden') {
      return new HubError(`${label}: access denied (403)${e.serverMessage ? `: ${e.serverMessage}` : ''}`, 'forbidden', e.status);
    }
    return toHubError(e, label);
  }
}

function toHubError(e: unknown, label?: string): HubError {
  if (e instanceof HubError) return e;
  if (!(e instanceof HttpError)) return new HubError(`${label ? `${label}: ` : ''}${(e as Error)?.message ?? String(e)}`, 'network');
  const kind: HubErrorKind =
    e.kind === 'rate-limited' || e.kind === 'network' || e.kind === 'server' || e.kind === 'budget' || e.kind === 'protocol'
      ? e.kind
      : e.kind === 'not-found'
        ? 'entry-not-found'
        : e.kind === 'unauthorized'
          ? 'unauthorized'
          : e.kind === 'forbidden'
            ? 'forbidden'
            : 'protocol';
  return new HubError(`${label ? `${label}: ` : ''}${e.message}`, kind, e.status);
}

function encodeName(repo: RepoRef): string {
  return validateRepoName(repo.type, repo.name).split('/').map(encodeURIComponent).join('/');
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** rel → URL from an RFC 8288 Link header. */
export function parseLinkHeader(value: string | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!value) return out;
  for (const m of value.matchAll(/<([^>]*)>\s*((?:;\s*[^;,]+)*)/g)) {
    const rel = /;\s*rel\s*=\s*"?([^";,]+)"?/i.exec(m[2]);
    if (rel) for (const r of rel[1].trim().split(/\s+/)) out[r.toLowerCase()] ??= m[1];
  }
  return out;
}

function normalizeSecurity(v: unknown): SecurityRepoStatus | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const o = v as { scansDone?: unknown; filesWithIssues?: unknown };
  const files: { path: string; level: string }[] = [];
  if (Array.isArray(o.filesWithIssues)) {
    for (const f of o.filesWithIssues) {
      if (f && typeof f === 'object' && typeof (f as { path?: unknown }).path === 'string') {
        const level = (f as { level?: unknown }).level;
        files.push({ path: (f as { path: string }).path, level: typeof level === 'string' ? level : 'unknown' });
      }
    }
  }
  return { ...(typeof o.scansDone === 'boolean' ? { scansDone: o.scansDone } : {}), filesWithIssues: files };
}

function normalizeTreeEntry(item: unknown, repo: RepoRef): TreeEntry {
  const bad = (why: string): HubError => new HubError(`${repoLabel(repo)}: the hub's file tree has an invalid entry (${why})`, 'protocol');
  if (!item || typeof item !== 'object') throw bad('not an object');
  const o = item as Record<string, unknown>;
  if (o.type !== 'file' && o.type !== 'directory') throw bad(`type ${JSON.stringify(o.type)}`);
  if (typeof o.path !== 'string') throw bad('no path');
  try {
    validateRepoPath(o.path);
  } catch (e) {
    throw bad((e as Error).message);
  }
  const size = typeof o.size === 'number' && Number.isSafeInteger(o.size) && o.size >= 0 ? o.size : o.type === 'directory' ? 0 : undefined;
  if (size === undefined) throw bad(`file ${JSON.stringify(o.path)} has no valid size`);
  const entry: TreeEntry = { type: o.type, path: o.path, size, oid: typeof o.oid === 'string' ? o.oid : '' };
  const lfs = o.lfs as Record<string, unknown> | undefined;
  if (lfs && typeof lfs === 'object' && typeof lfs.oid === 'string' && typeof lfs.size === 'number') {
    entry.lfs = { oid: lfs.oid, size: lfs.size, ...(typeof lfs.pointerSize === 'number' ? { pointerSize: lfs.pointerSize } : {}) };
    // For LFS files the tree's size is the real content's; trust lfs.size if they disagree.
    entry.size = lfs.size;
  }
  if (typeof o.xetHash === 'string') entry.xetHash = o.xetHash;
  return entry;
}
