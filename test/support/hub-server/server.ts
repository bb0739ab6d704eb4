/**
 * A real HTTP server on 127.0.0.1 that serves the subset of the Hugging Face
 * Hub API ptmscope uses, over fixture repos:
 *
 *   GET /api/{models,datasets,spaces}?search=&author=&limit=   listing, Link-paged
 *   GET /api/{t}/{name}[/revision/{rev}]?securityStatus=true   repo info (sha, siblings, securityRepoStatus)
 *   GET /api/{t}/{name}/tree/{rev}[/{path}]?recursive=true     file tree, Link-paged
 *   GET|HEAD /[datasets/|spaces/]{name}/resolve/{rev}/{path}   file; Range; LFS files redirect to the "CDN"
 *
 * The CDN is a second server on another port (another origin), so a client
 * that forwards Authorization across the redirect is caught: the CDN answers
 * such requests 400, as presigned-URL storage does, and logs them.
 *
 * Private repos need the token (401 RepoNotFound without), gated repos' files
 * need it (401 GatedRepo), missing repos/revisions/files are 404 with HF's
 * X-Error-Code. Faults on demand: 429 with RateLimit headers, any status,
 * dropped connections mid-body, Range ignored (200 with the whole file), and
 * files that are shorter than the size the tree lists. Optional latency per
 * request. Used by the tests and the benchmarks; never touches the internet.
 */
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export type RepoType = 'model' | 'dataset' | 'space';

export interface FixtureFile {
  path: string;
  /** The content, or `file`: a file on disk (big sparse benchmark files). */
  data?: Buffer;
  file?: string;
  /** Stored in LFS and served through the CDN redirect (default: binary content, or anything from `file`). */
  lfs?: boolean;
  /** Serve only this many bytes while the tree lists the full size (a truncated upload). */
  truncateTo?: number;
}

export interface FixtureCommit {
  sha: string;
  files: FixtureFile[];
}

export interface FixtureRepo {
  type: RepoType;
  name: string;
  files: FixtureFile[];
  /** Commit of `files` (default: derived from the content). */
  sha?: string;
  /** More branch or tag names for the head commit ("main" always is one). */
  refs?: string[];
  /** Older commits, reachable by sha and by `historyRefs`. */
  history?: FixtureCommit[];
  historyRefs?: Record<string, string>;
  private?: boolean;
  gated?: false | 'auto' | 'manual';
  /** Gated repos: the tokens whose accounts accepted the conditions (default: every valid token). */
  grantedTokens?: string[];
  securityRepoStatus?: { scansDone: boolean; filesWithIssues: { path: string; level: string }[] };
  /** Extra fields for the info record (e.g. a real model_info record). */
  info?: Record<string, unknown>;
}

export type Fault = {
  /** Substring of the request path (before the query) this fault applies to; default: every request. */
  match?: string;
  /** Which server: default both. */
  server?: 'hub' | 'cdn';
  /** How many requests it hits (default: all). */
  times?: number;
} & (
  | { kind: 'rate-limit'; resetSeconds?: number; retryAfter?: boolean }
  | { kind: 'status'; status: number }
  /** Send the headers and half the body, then drop the connection. */
  | { kind: 'drop-mid-body' }
  /** Answer Range requests with 200 and the whole file. */
  | { kind: 'ignore-range' }
);

export interface RequestRecord {
  server: 'hub' | 'cdn';
  method: string;
  path: string;
  authorization?: string;
  range?: string;
  status: number;
}

export interface HubServerOptions {
  repos?: FixtureRepo[];
  /** Tokens that grant access to private and gated repos (default [DEFAULT_TOKEN]). */
  tokens?: string[];
  /** Entries per page for tree and listings (default 1000, as the Hub). */
  pageSize?: number;
  /** Added before every answer, on both servers. */
  latencyMs?: number;
}

export const DEFAULT_TOKEN = 'hf_ptmscope_test_token';

interface PreparedFile {
  path: string;
  /** Size the tree lists. */
  size: number;
  /** Bytes actually served (less when truncated). */
  served: number;
  lfs: boolean;
  oid: string;
  sha256: string;
  /** Name on the CDN: the sha256, except for a truncated copy (content-addressed storage would not mix them). */
  cdnKey: string;
  data?: Buffer;
  file?: string;
}

interface PreparedCommit {
  sha: string;
  files: Map<string, PreparedFile>;
}

interface PreparedRepo {
  def: FixtureRepo;
  key: string;
  head: PreparedCommit;
  commits: Map<string, PreparedCommit>;
  refs: Map<string, string>;
}

export interface HubServer {
  /** Hub endpoint, e.g. http://127.0.0.1:41234 (use as HF_ENDPOINT). */
  url: string;
  /** The CDN's origin (another port). */
  cdnUrl: string;
  token: string;
  log: RequestRecord[];
  latencyMs: number;
  pageSize: number;
  /** Most requests in flight at once on the hub / the CDN since the last reset. */
  maxInFlight: { hub: number; cdn: number };
  addRepo(repo: FixtureRepo): void;
  /** The head commit sha of a repo. */
  shaOf(type: RepoType, name: string): string;
  addFault(fault: Fault): void;
  clearFaults(): void;
  /** A fixed-window quota on a bucket ("api" for /api/, "resolvers" for /resolve/); 429 beyond it. */
  setQuota(bucket: 'api' | 'resolvers', limit: number, windowSeconds: number): void;
  /** Clear log, faults, quotas and in-flight maxima. */
  reset(): void;
  close(): Promise<void>;
}

const TYPES: Record<string, RepoType> = { models: 'model', datasets: 'dataset', spaces: 'space' };

function sha1(b: Buffer | string): string {
  return createHash('sha1').update(b).digest('hex');
}

function looksBinary(b: Buffer): boolean {
  const head = b.subarray(0, 8000);
  if (head.includes(0)) return true;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head);
    return false;
  } catch {
    return true;
  }
}

function prepareFile(f: FixtureFile): PreparedFile {
  let size: number;
  let sha256: string;
  if (f.data) {
    size = f.data.length;
    sha256 = createHash('sha256').update(f.data).digest('hex');
  } else if (f.file) {
    size = statSync(f.file).size;
    // Hashing a 5 GB sparse file would take seconds and prove nothing here.
    sha256 = createHash('sha256').update(`${f.file}:${size}`).digest('hex');
  } else throw new Error(`fixture file ${f.path} has neither data nor file`);
  const lfs = f.lfs ?? (f.file !== undefined || looksBinary(f.data!));
  const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`;
  const oid = lfs ? sha1(`blob ${pointer.length}\0${pointer}`) : sha1(Buffer.concat([Buffer.from(`blob ${size}\0`), f.data!]));
  return {
    path: f.path,
    size,
    served: f.truncateTo !== undefined ? Math.min(size, f.truncateTo) : size,
    lfs,
    oid,
    sha256,
    cdnKey: f.truncateTo !== undefined ? createHash('sha256').update(`${sha256}:truncated:${f.truncateTo}`).digest('hex') : sha256,
    ...(f.data ? { data: f.data } : { file: f.file! }),
  };
}

function prepareCommit(name: string, files: FixtureFile[], sha?: string): PreparedCommit {
  const prepared = files.map(prepareFile);
  const digest = sha ?? sha1(`${name}\n${prepared.map((p) => `${p.path} ${p.size} ${p.sha256}`).join('\n')}`);
  return { sha: digest, files: new Map(prepared.map((p) => [p.path, p])) };
}

function prepareRepo(def: FixtureRepo): PreparedRepo {
  const head = prepareCommit(`${def.type}/${def.name}`, def.files, def.sha ?? (typeof def.info?.sha === 'string' ? def.info.sha : undefined));
  const commits = new Map([[head.sha, head]]);
  const refs = new Map<string, string>([['main', head.sha]]);
  for (const r of def.refs ?? []) refs.set(r, head.sha);
  for (const c of def.history ?? []) commits.set(c.sha, prepareCommit(`${def.type}/${def.name}`, c.files, c.sha));
  for (const [ref, sha] of Object.entries(def.historyRefs ?? {})) refs.set(ref, sha);
  return { def, key: `${def.type}/${def.name}`, head, commits, refs };
}

export async function startHubServer(opts: HubServerOptions = {}): Promise<HubServer> {
  const repos = new Map<string, PreparedRepo>();
  const blobs = new Map<string, PreparedFile>();
  const tokens = new Set(opts.tokens ?? [DEFAULT_TOKEN]);
  let faults: (Fault & { used: number })[] = [];
  const quotas = new Map<string, { limit: number; windowMs: number; start: number; count: number }>();
  const inFlight = { hub: 0, cdn: 0 };

  const addRepo = (def: FixtureRepo): void => {
    const r = prepareRepo(def);
    repos.set(r.key, r);
    for (const c of r.commits.values()) for (const f of c.files.values()) if (f.lfs) blobs.set(f.cdnKey, f);
  };
  for (const r of opts.repos ?? []) addRepo(r);

  const hub = createServer();
  const cdn = createServer();
  await Promise.all([listen(hub), listen(cdn)]);
  const url = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
  const cdnUrl = `http://127.0.0.1:${(cdn.address() as AddressInfo).port}`;

  const server: HubServer = {
    url,
    cdnUrl,
    token: [...tokens][0],
    log: [],
    latencyMs: opts.latencyMs ?? 0,
    pageSize: opts.pageSize ?? 1000,
    maxInFlight: { hub: 0, cdn: 0 },
    addRepo,
    shaOf(type, name) {
      const r = repos.get(`${type}/${name}`);
      if (!r) throw new Error(`no fixture repo ${type}/${name}`);
      return r.head.sha;
    },
    addFault(f) {
      faults.push({ ...f, used: 0 });
    },
    clearFaults() {
      faults = [];
    },
    setQuota(bucket, limit, windowSeconds) {
      quotas.set(bucket, { limit, windowMs: windowSeconds * 1000, start: Date.now(), count: 0 });
    },
    reset() {
      server.log.length = 0;
      faults = [];
      quotas.clear();
      server.maxInFlight.hub = 0;
      server.maxInFlight.cdn = 0;
    },
    async close() {
      for (const s of [hub, cdn]) s.closeAllConnections();
      await Promise.all([new Promise((r) => hub.close(r)), new Promise((r) => cdn.close(r))]);
    },
  };

  const takeFault = (which: 'hub' | 'cdn', path: string, kinds: Fault['kind'][]): Fault | undefined => {
    for (const f of faults) {
      if (!kinds.includes(f.kind)) continue;
      if (f.server && f.server !== which) continue;
      if (f.match !== undefined && !path.includes(f.match)) continue;
      if (f.times !== undefined && f.used >= f.times) continue;
      f.used++;
      return f;
    }
    return undefined;
  };

  const wrap = (which: 'hub' | 'cdn', handler: (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void>) => {
    return (req: IncomingMessage, res: ServerResponse): void => {
      inFlight[which]++;
      server.maxInFlight[which] = Math.max(server.maxInFlight[which], inFlight[which]);
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        inFlight[which]--;
      };
      res.on('close', finish);
      const path = (req.url ?? '/').split('?')[0];
      const record: RequestRecord = { server: which, method: req.method ?? 'GET', path: req.url ?? '/', status: 0 };
      if (req.headers.authorization) record.authorization = req.headers.authorization;
      if (req.headers.range) record.range = req.headers.range;
      server.log.push(record);
      const origWriteHead = res.writeHead.bind(res);
      res.writeHead = ((status: number, ...rest: unknown[]) => {
        record.status = status;
        return (origWriteHead as (s: number, ...r: unknown[]) => ServerResponse)(status, ...rest);
      }) as typeof res.writeHead;
      void (async () => {
        if (server.latencyMs > 0) await sleep(server.latencyMs);
        const f = takeFault(which, path, ['rate-limit', 'status']);
        if (f?.kind === 'rate-limit') {
          const t = f.resetSeconds ?? 1;
          const headers: Record<string, string> = {
            RateLimit: `"${bucketOf(path)}";r=0;t=${t}`,
            'RateLimit-Policy': `"fixed window";"${bucketOf(path)}";q=500;w=300`,
          };
          if (f.retryAfter) headers['Retry-After'] = String(t);
          return sendJson(res, 429, { error: 'Too many requests' }, headers);
        }
        if (f?.kind === 'status') return sendJson(res, f.status, { error: `injected ${f.status}` });
        if (which === 'hub') {
          const q = quotas.get(bucketOf(path));
          if (q) {
            const now = Date.now();
            if (now - q.start >= q.windowMs) {
              q.start = now;
              q.count = 0;
            }
            q.count++;
            const t = Math.max(1, Math.ceil((q.start + q.windowMs - now) / 1000));
            const rl = { RateLimit: `"${bucketOf(path)}";r=${Math.max(0, q.limit - q.count)};t=${t}`, 'RateLimit-Policy': `"fixed window";"${bucketOf(path)}";q=${q.limit};w=${q.windowMs / 1000}` };
            for (const [k, v] of Object.entries(rl)) res.setHeader(k, v);
            if (q.count > q.limit) return sendJson(res, 429, { error: 'Too many requests' }, rl);
          }
        }
        await handler(req, res, path);
      })().catch((e: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { error: String((e as Error)?.message ?? e) });
        else res.destroy();
      });
    };
  };

  const tokenOf = (req: IncomingMessage): { given: boolean; valid: boolean } => {
    const h = req.headers.authorization;
    if (!h) return { given: false, valid: false };
    const m = /^Bearer\s+(.+)$/i.exec(h);
    return { given: true, valid: !!m && tokens.has(m[1].trim()) };
  };

  /** The repo for a request, or an error answer already sent. */
  const findRepo = (req: IncomingMessage, res: ServerResponse, type: RepoType, name: string): PreparedRepo | undefined => {
    const r = repos.get(`${type}/${name}`);
    const tok = tokenOf(req);
    if (tok.given && !tok.valid) {
      sendJson(res, 401, { error: 'Invalid credentials in Authorization header' });
      return undefined;
    }
    if (!r || (r.def.private && !tok.valid)) {
      // The Hub does not tell "private" from "missing" to someone without access.
      const status = r ? 401 : 404;
      sendJson(res, status, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound', 'X-Error-Message': 'Repository not found' });
      return undefined;
    }
    return r;
  };

  const findCommit = (res: ServerResponse, r: PreparedRepo, rev: string): PreparedCommit | undefined => {
    const sha = r.refs.get(rev) ?? (r.commits.has(rev) ? rev : undefined);
    const c = sha ? r.commits.get(sha) : undefined;
    if (!c) {
      sendJson(res, 404, { error: `Invalid rev id: ${rev}` }, { 'X-Error-Code': 'RevisionNotFound', 'X-Error-Message': 'Invalid rev id' });
      return undefined;
    }
    return c;
  };

  hub.on(
    'request',
    wrap('hub', async (req, res, path) => {
      const u = new URL(req.url ?? '/', url);
      const segs = path.split('/').slice(1).map(decodeURIComponent);
      if (segs[0] === 'api' && TYPES[segs[1]]) {
        const type = TYPES[segs[1]];
        const rest = segs.slice(2);
        if (rest.length === 0 || (rest.length === 1 && rest[0] === '')) return listRepos(req, res, u, type);
        const KEY = new Set(['revision', 'tree']);
        const nameLen = rest.length >= 2 && !KEY.has(rest[1]) ? 2 : 1;
        const name = rest.slice(0, nameLen).join('/');
        const tail = rest.slice(nameLen);
        const r = findRepo(req, res, type, name);
        if (!r) return;
        if (tail.length === 0) return sendInfo(res, u, r, r.head);
        if (tail[0] === 'revision' && tail.length === 2) {
          const c = findCommit(res, r, tail[1]);
          if (c) sendInfo(res, u, r, c);
          return;
        }
        if (tail[0] === 'tree' && tail.length >= 2) {
          const c = findCommit(res, r, tail[1]);
          if (c) sendTree(res, u, r, c, tail.slice(2).join('/'));
          return;
        }
        return sendJson(res, 404, { error: 'Not found' });
      }
      // /[datasets/|spaces/]name/resolve/rev/path
      let type: RepoType = 'model';
      let rest = segs;
      if (segs[0] === 'datasets' || segs[0] === 'spaces') {
        type = TYPES[segs[0]];
        rest = segs.slice(1);
      }
      const ri = rest.indexOf('resolve');
      if (ri < 1 || ri > 2 || rest.length < ri + 3) return sendJson(res, 404, { error: 'Not found' });
      const name = rest.slice(0, ri).join('/');
      const r = findRepo(req, res, type, name);
      if (!r) return;
      const c = findCommit(res, r, rest[ri + 1]);
      if (!c) return;
      const filePath = rest.slice(ri + 2).join('/');
      const tok = tokenOf(req);
      const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
      if (r.def.gated && tok.valid && r.def.grantedTokens && !r.def.grantedTokens.includes(bearer ?? '')) {
        return sendJson(
          res,
          403,
          { error: `Access to model ${name} is restricted and you are not in the authorized list. Visit ${url}/${name} to ask for access.` },
          { 'X-Error-Code': 'GatedRepo', 'X-Error-Message': 'Access to this resource is restricted' },
        );
      }
      if (r.def.gated && !tok.valid) {
        return sendJson(
          res,
          401,
          { error: `Access to model ${name} is restricted. You must have access to it and be authenticated to access it. Please log in.` },
          { 'X-Error-Code': 'GatedRepo', 'X-Error-Message': 'Access to this resource is restricted' },
        );
      }
      const file = c.files.get(filePath);
      if (!file) return sendJson(res, 404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound', 'X-Error-Message': 'Entry not found' });
      const common = { 'X-Repo-Commit': c.sha, ETag: `"${file.lfs ? file.sha256 : file.oid}"` };
      if (file.lfs) {
        const sig = sha1(`${file.sha256}:${Date.now()}`).slice(0, 16);
        res.writeHead(302, {
          ...common,
          Location: `${cdnUrl}/cdn/${file.cdnKey}?expires=${Math.floor(Date.now() / 1000) + 3600}&signature=${sig}`,
          'X-Linked-Size': String(file.size),
          'X-Linked-ETag': `"${file.sha256}"`,
          'Content-Length': '0',
        });
        res.end();
        return;
      }
      await serveBytes(req, res, file, common, 'hub', path);
    }),
  );

  cdn.on(
    'request',
    wrap('cdn', async (req, res, path) => {
      const m = /^\/cdn\/([0-9a-f]{64})$/.exec(path);
      const file = m ? blobs.get(m[1]) : undefined;
      if (!file) return sendJson(res, 404, { error: 'NoSuchKey' });
      if (req.headers.authorization) {
        // Presigned-URL storage refuses a second credential; a leaking client fails loudly.
        return sendJson(res, 400, { error: 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified' });
      }
      await serveBytes(req, res, file, { ETag: `"${file.sha256}"` }, 'cdn', path);
    }),
  );

  async function serveBytes(req: IncomingMessage, res: ServerResponse, file: PreparedFile, headers: Record<string, string>, which: 'hub' | 'cdn', path: string): Promise<void> {
    const total = file.served;
    let start = 0;
    let end = total - 1;
    let status = 200;
    const range = req.headers.range;
    const ignore = range ? takeFault(which, path, ['ignore-range']) : undefined;
    if (range && !ignore) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      if (m && (m[1] !== '' || m[2] !== '')) {
        if (m[1] === '') {
          start = Math.max(0, total - Number(m[2]));
        } else {
          start = Number(m[1]);
          end = m[2] === '' ? total - 1 : Math.min(total - 1, Number(m[2]));
        }
        if (start >= total || start > end) {
          res.writeHead(416, { ...headers, 'Content-Range': `bytes */${total}`, 'Content-Length': '0' });
          res.end();
          return;
        }
        status = 206;
      }
    }
    const length = end - start + 1;
    res.writeHead(status, {
      ...headers,
      'Accept-Ranges': 'bytes',
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(Math.max(0, length)),
      ...(status === 206 ? { 'Content-Range': `bytes ${start}-${end}/${total}` } : {}),
    });
    if (req.method === 'HEAD' || length <= 0) {
      res.end();
      return;
    }
    const drop = takeFault(which, path, ['drop-mid-body']);
    const sendUpTo = drop ? start + Math.floor(length / 2) : end + 1;
    const body: Readable = file.data
      ? Readable.from([file.data.subarray(start, sendUpTo)])
      : sendUpTo > start
        ? createReadStream(file.file!, { start, end: sendUpTo - 1, highWaterMark: 256 * 1024 })
        : Readable.from([]);
    try {
      if (drop) {
        for await (const chunk of body) if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
        // Let the bytes leave, then cut the connection in the middle of the body.
        await new Promise((r) => setTimeout(r, 20));
        res.socket?.destroy();
        return;
      }
      await pipeline(body, res);
    } catch {
      // The client went away (it may abort a body it no longer needs).
      body.destroy();
    }
  }

  function listRepos(req: IncomingMessage, res: ServerResponse, u: URL, type: RepoType): void {
    const tok = tokenOf(req);
    const search = u.searchParams.get('search') ?? '';
    const author = u.searchParams.get('author');
    const limit = Math.max(1, Math.min(server.pageSize, Number(u.searchParams.get('limit') ?? server.pageSize) || server.pageSize));
    const all = [...repos.values()]
      .filter((r) => r.def.type === type && (!r.def.private || tok.valid))
      .filter((r) => r.def.name.toLowerCase().includes(search.toLowerCase()))
      .filter((r) => !author || r.def.name.split('/')[0] === author)
      .sort((a, b) => (a.def.name < b.def.name ? -1 : a.def.name > b.def.name ? 1 : 0));
    const cursor = decodeCursor(u.searchParams.get('cursor'));
    const page = all.slice(cursor, cursor + limit);
    const headers: Record<string, string> = {};
    if (cursor + limit < all.length) headers.Link = `<${nextUrl(u, cursor + limit)}>; rel="next"`;
    sendJson(
      res,
      200,
      page.map((r) => summary(r)),
      headers,
    );
  }

  function summary(r: PreparedRepo): Record<string, unknown> {
    const d = r.def;
    const info = d.info ?? {};
    return {
      _id: sha1(r.key).slice(0, 24),
      id: d.name,
      ...(d.type === 'model' ? { modelId: d.name } : {}),
      ...pick(info, ['author', 'downloads', 'likes', 'tags', 'pipeline_tag', 'library_name', 'lastModified']),
      private: d.private ?? false,
      gated: d.gated ?? false,
      sha: r.head.sha,
    };
  }

  function sendInfo(res: ServerResponse, u: URL, r: PreparedRepo, c: PreparedCommit): void {
    const d = r.def;
    const body: Record<string, unknown> = {
      _id: sha1(r.key).slice(0, 24),
      id: d.name,
      ...(d.type === 'model' ? { modelId: d.name } : {}),
      author: d.name.includes('/') ? d.name.split('/')[0] : undefined,
      lastModified: '2024-06-01T00:00:00.000Z',
      private: d.private ?? false,
      gated: d.gated ?? false,
      disabled: false,
      tags: [],
      downloads: 0,
      likes: 0,
      ...(d.info ?? {}),
      sha: c.sha,
      siblings: [...c.files.values()].map((f) => ({ rfilename: f.path })),
    };
    if (u.searchParams.get('securityStatus') === 'true') {
      body.securityRepoStatus = d.securityRepoStatus ?? { scansDone: true, filesWithIssues: [] };
    }
    sendJson(res, 200, body);
  }

  function sendTree(res: ServerResponse, u: URL, r: PreparedRepo, c: PreparedCommit, under: string): void {
    const recursive = /^(1|true|True)$/.test(u.searchParams.get('recursive') ?? '');
    const entries: Record<string, unknown>[] = [];
    const dirs = new Set<string>();
    const prefix = under ? `${under}/` : '';
    const files = [...c.files.values()].filter((f) => f.path.startsWith(prefix));
    if (under && files.length === 0) {
      return sendJson(res, 404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound', 'X-Error-Message': 'Entry not found' });
    }
    for (const f of files) {
      const rel = f.path.slice(prefix.length).split('/');
      for (let i = 1; i < rel.length; i++) {
        if (!recursive && i > 1) break;
        dirs.add(prefix + rel.slice(0, i).join('/'));
      }
      if (!recursive && rel.length > 1) continue;
      entries.push({
        type: 'file',
        oid: f.oid,
        size: f.size,
        path: f.path,
        ...(f.lfs ? { lfs: { oid: f.sha256, size: f.size, pointerSize: 130 } } : {}),
      });
    }
    for (const d of dirs) entries.push({ type: 'directory', oid: sha1(d), size: 0, path: d });
    entries.sort((a, b) => (String(a.path) < String(b.path) ? -1 : 1));
    const cursor = decodeCursor(u.searchParams.get('cursor'));
    const page = entries.slice(cursor, cursor + server.pageSize);
    const headers: Record<string, string> = {};
    if (cursor + server.pageSize < entries.length) headers.Link = `<${nextUrl(u, cursor + server.pageSize)}>; rel="next"`;
    sendJson(res, 200, page, headers);
  }

  function nextUrl(u: URL, at: number): string {
    const n = new URL(u.href);
    n.searchParams.set('cursor', Buffer.from(JSON.stringify({ i: at })).toString('base64url'));
    return n.href;
  }

  return server;
}

function decodeCursor(c: string | null): number {
  if (!c) return 0;
  try {
    const i = (JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as { i?: unknown }).i;
    return typeof i === 'number' && i >= 0 ? i : 0;
  } catch {
    return 0;
  }
}

function bucketOf(path: string): 'api' | 'resolvers' {
  return path.includes('/resolve/') ? 'resolvers' : 'api';
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

function listen(s: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve());
  });
}
