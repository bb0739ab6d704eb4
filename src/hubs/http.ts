/**
 * The one HTTP client every hub adapter uses (Node's fetch, i.e. undici).
 *
 * - Retries 5xx, 408 and network failures with exponential backoff and jitter.
 * - 429: waits for `Retry-After`, or the reset time in the IETF `RateLimit`
 *   header that Hugging Face sends (`"api";r=0;t=55`), and pauses every
 *   request to that host meanwhile; a response saying r=0 pauses the host
 *   before the 429 happens.
 * - At most `maxPerHost` requests in flight per host.
 * - The token goes only to the hub's own origin. Redirects are followed by
 *   hand so that a hop to a CDN or storage host never carries Authorization.
 * - Range requests; a server that ignores Range (200 with the whole body) is
 *   read only up to the bytes needed, then the body is aborted.
 * - Counts requests and body bytes received, per call and in total.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Request and byte counters; one per scan target, plus the client's own totals. */
export interface TransferStats {
  /** HTTP requests sent (each redirect hop and each retry counts). */
  requests: number;
  /** Response body bytes received, including bytes skipped when a server ignored Range. */
  bytesTransferred: number;
  /** Requests repeated after a failure or a 429. */
  retries: number;
  /** Range requests answered with the whole file (200). */
  rangeIgnored: number;
}

export function newStats(): TransferStats {
  return { requests: 0, bytesTransferred: 0, retries: 0, rangeIgnored: 0 };
}

export type HttpErrorKind =
  /** 401 */
  | 'unauthorized'
  /** 403 */
  | 'forbidden'
  /** 404 / 410 */
  | 'not-found'
  /** 429 that outlasted the retries or the longest wait allowed. */
  | 'rate-limited'
  /** 5xx that outlasted the retries. */
  | 'server'
  /** Connection refused/reset/dropped mid-body, timeouts. */
  | 'network'
  /** A response that breaks HTTP or the request's contract (bad Content-Range, redirect loop). */
  | 'protocol'
  /** Reading would transfer more than the caller allowed. */
  | 'budget'
  /** Any other 4xx. */
  | 'client';

/**
 * URLs without their query: a CDN's presigned URL carries a signature that
 * opens the file (of a private repo, too) to anyone for a while, and error
 * messages end up in shared reports.
 */
export function redactUrls(text: string): string {
  return text.replace(/(https?:\/\/[^\s?#]+)[?#][^\s)]*/g, '$1');
}

export class HttpError extends Error {
  readonly url: string;
  constructor(
    message: string,
    readonly kind: HttpErrorKind,
    url: string,
    readonly status?: number,
    /** Hugging Face's `X-Error-Code` (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo). */
    readonly errorCode?: string,
    /** Hugging Face's `X-Error-Message`, or the start of the error body. */
    readonly serverMessage?: string,
  ) {
    super(redactUrls(message));
    this.url = redactUrls(url);
    this.name = 'HttpError';
  }
}

/** Thrown inside an attempt to ask for another one. */
class RetryableError extends Error {
  constructor(
    readonly error: HttpError,
    /** Server-requested wait (Retry-After / RateLimit t=), when there was one. */
    readonly waitMs?: number,
  ) {
    super(error.message);
  }
}

export interface HttpClientOptions {
  /** Bearer token, sent only to `tokenOrigins`. */
  token?: string;
  /** Origins (scheme://host:port) that may receive the token: the hub endpoint's. */
  tokenOrigins?: string[];
  /** Requests in flight per host (default 8). */
  maxPerHost?: number;
  /** Retries after the first attempt (default 4). */
  retries?: number;
  /** First backoff delay in ms (default 500); doubles per retry, with jitter. */
  baseDelayMs?: number;
  /** Longest backoff delay in ms (default 16 s). */
  maxDelayMs?: number;
  /** Longest wait a 429 may ask for before the request fails instead (default 5 min). */
  maxRateLimitWaitMs?: number;
  /** Abort an attempt after this long without response bytes (default 30 s). */
  idleTimeoutMs?: number;
  /** Redirect hops followed (default 5). */
  maxRedirects?: number;
  /** Largest body accepted by getJson / getWhole when the caller sets no limit (default 64 MiB). */
  maxBodyBytes?: number;
  userAgent?: string;
  /** Random source for jitter (tests pin it). */
  random?: () => number;
  /** Override fetch (never needed in production; kept for embedding). */
  fetch?: typeof fetch;
}

export interface RequestOptions {
  /** Counters for this call (added to as well as the client's totals). */
  stats?: TransferStats;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface RangeResult {
  data: Buffer;
  /** The file's full length when the response said (Content-Range total, or a 200's length). */
  total?: number;
  /** True when the server answered the Range request with the whole file. */
  rangeIgnored: boolean;
  /** The URL that answered, after redirects (a CDN's presigned URL, say). */
  url?: string;
}

export interface JsonResult<T> {
  data: T;
  headers: Headers;
  /** Final URL after redirects. */
  url: string;
}

/** Parsed IETF RateLimit / RateLimit-Policy fields (draft-ietf-httpapi-ratelimit-headers). */
export interface RateLimitInfo {
  /** Policy or quota name, e.g. "api", "resolvers". */
  name?: string;
  /** Requests left in the window (r=, or remaining= in older drafts). */
  remaining?: number;
  /** Seconds until the window resets (t=, or reset= in older drafts). */
  resetSeconds?: number;
  /** Quota per window (q= in RateLimit-Policy, or limit=). */
  quota?: number;
  /** Window length in seconds (w=). */
  windowSeconds?: number;
}

/**
 * Parse a RateLimit or RateLimit-Policy header. Accepts the structured-field
 * list form Hugging Face sends (`"api";r=0;t=55`,
 * `"fixed window";"api";q=500;w=300`) and the older dictionary form
 * (`limit=100, remaining=0, reset=30`). Returns one entry per list item.
 */
export function parseRateLimit(value: string | null | undefined): RateLimitInfo[] {
  if (!value) return [];
  const out: RateLimitInfo[] = [];
  const items = splitOutsideQuotes(value, ',');
  // Old dictionary form: every item is key=value with one of the known keys.
  const dict = items.every((i) => /^\s*(limit|remaining|reset|policy)\s*=/i.test(i));
  if (dict) {
    const info: RateLimitInfo = {};
    for (const item of items) {
      const [k, v] = item.split('=').map((s) => s.trim());
      const n = Number(v);
      if (k.toLowerCase() === 'limit' && Number.isFinite(n)) info.quota = n;
      if (k.toLowerCase() === 'remaining' && Number.isFinite(n)) info.remaining = n;
      if (k.toLowerCase() === 'reset' && Number.isFinite(n)) info.resetSeconds = n;
    }
    return [info];
  }
  for (const item of items) {
    const info: RateLimitInfo = {};
    const names: string[] = [];
    for (const raw of splitOutsideQuotes(item, ';')) {
      const part = raw.trim();
      if (part === '') continue;
      const eq = part.indexOf('=');
      if (eq < 0) {
        names.push(unquote(part));
        continue;
      }
      const key = part.slice(0, eq).trim().toLowerCase();
      const num = Number(unquote(part.slice(eq + 1).trim()));
      if (!Number.isFinite(num)) continue;
      if (key === 'r') info.remaining = num;
      else if (key === 't') info.resetSeconds = num;
      else if (key === 'q') info.quota = num;
      else if (key === 'w') info.windowSeconds = num;
    }
    // HF's policy header carries two names ("fixed window";"api"): the quota's is the last.
    if (names.length) info.name = names[names.length - 1];
    out.push(info);
  }
  return out;
}

function splitOutsideQuotes(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"' && s[i - 1] !== '\\') quoted = !quoted;
    if (c === sep && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.filter((x) => x.trim() !== '');
}

function unquote(s: string): string {
  return s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1).replace(/\\(.)/g, '$1') : s;
}

/** Retry-After as milliseconds: delta-seconds or an HTTP-date. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const when = Date.parse(v);
  return Number.isNaN(when) ? undefined : Math.max(0, when - now);
}

/** A counting semaphore: `acquire` resolves to a release function. */
class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async acquire(): Promise<() => void> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.waiting.shift()?.();
    };
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const RETRY_STATUS = new Set([408, 500, 502, 503, 504]);

export class HttpClient {
  /** Totals over every call made through this client. */
  readonly stats: TransferStats = newStats();
  private readonly hosts = new Map<string, Semaphore>();
  /** Host → time (ms) before which no request is sent (rate-limit pause). */
  private readonly pausedUntil = new Map<string, number>();
  private readonly tokenOrigins: Set<string>;
  private readonly o: Required<Omit<HttpClientOptions, 'token' | 'tokenOrigins' | 'fetch'>>;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: HttpClientOptions = {}) {
    this.tokenOrigins = new Set((options.tokenOrigins ?? []).map((o) => new URL(o).origin));
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    this.o = {
      maxPerHost: options.maxPerHost ?? 8,
      retries: options.retries ?? 4,
      baseDelayMs: options.baseDelayMs ?? 500,
      maxDelayMs: options.maxDelayMs ?? 16_000,
      maxRateLimitWaitMs: options.maxRateLimitWaitMs ?? 5 * 60_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
      maxRedirects: options.maxRedirects ?? 5,
      maxBodyBytes: options.maxBodyBytes ?? 64 * 1024 * 1024,
      userAgent: options.userAgent ?? 'ptmscope',
      random: options.random ?? Math.random,
    };
  }

  /** Whether the token would be sent to this URL. */
  sendsTokenTo(url: string): boolean {
    return this.options.token !== undefined && this.tokenOrigins.has(new URL(url).origin);
  }

  get hasToken(): boolean {
    return this.options.token !== undefined && this.options.token !== '';
  }

  /** GET a JSON document (at most maxBodyBytes). */
  async getJson<T>(url: string, opts: RequestOptions = {}): Promise<JsonResult<T>> {
    return this.send(url, { ...opts, headers: { Accept: 'application/json', ...opts.headers } }, async (res, finalUrl, ctl) => {
      const body = await readBody(res, ctl, this.o.maxBodyBytes, finalUrl);
      try {
        return { data: JSON.parse(body.toString('utf8')) as T, headers: res.headers, url: finalUrl };
      } catch (e) {
        throw new HttpError(`${finalUrl}: the server's answer is not valid JSON (${(e as Error).message})`, 'protocol', finalUrl, res.status);
      }
    });
  }

  /** GET a whole body, refusing more than `maxBytes`. */
  async getWhole(url: string, maxBytes: number = this.o.maxBodyBytes, opts: RequestOptions = {}): Promise<Buffer> {
    return this.send(url, opts, (res, finalUrl, ctl) => readBody(res, ctl, maxBytes, finalUrl));
  }

  /**
   * GET bytes [start, end) with a Range request. A 206 must start at `start`;
   * a 200 (Range ignored) is read only up to `end`, then aborted. A body cut
   * short is retried like any network failure. `maxTransfer` bounds the bytes
   * a range-ignoring server may make us receive.
   */
  async getRange(url: string, start: number, end: number, opts: RequestOptions & { maxTransfer?: number } = {}): Promise<RangeResult> {
    if (end <= start) return { data: Buffer.alloc(0), rangeIgnored: false };
    const headers = { ...opts.headers, Range: `bytes=${start}-${end - 1}`, 'Accept-Encoding': 'identity' };
    return this.send(url, { ...opts, headers }, async (res, finalUrl, ctl) => {
      if (res.status === 416) {
        await cancel(res);
        return { data: Buffer.alloc(0), total: contentRangeTotal(res.headers.get('content-range')), rangeIgnored: false };
      }
      if (res.status === 206) {
        const cr = parseContentRange(res.headers.get('content-range'));
        if (!cr || cr.start !== start) {
          await cancel(res);
          throw new HttpError(
            `${finalUrl}: asked for bytes ${start}-${end - 1} but the server sent ${res.headers.get('content-range') ?? 'no Content-Range'}`,
            'protocol',
            finalUrl,
            206,
          );
        }
        // Less than asked for at the end of the file; more than asked for is cut off.
        const want = Math.min(end, cr.end + 1) - start;
        const data = await readBody(res, ctl, want, finalUrl, { exact: true, stopAt: want });
        return { data, total: cr.total, rangeIgnored: false, url: finalUrl };
      }
      // 200: the server ignored Range. Skip to `start`, keep what we need, abort the rest.
      this.count(opts, 'rangeIgnored', 1);
      const length = contentLength(res.headers);
      if (opts.maxTransfer !== undefined && Math.min(end, length ?? end) > opts.maxTransfer) {
        await cancel(res);
        throw new HttpError(
          `${finalUrl}: the server ignores Range requests, and reading bytes ${start}-${end - 1} would mean downloading ${Math.min(end, length ?? end)} bytes (budget ${opts.maxTransfer})`,
          'budget',
          finalUrl,
          200,
        );
      }
      const data = await readBody(res, ctl, Infinity, finalUrl, { skip: start, stopAt: end - start });
      return { data, total: length, rangeIgnored: true, url: finalUrl };
    });
  }

  /**
   * The retry loop around one logical request. `handle` reads the final
   * response; a network error while it reads makes the whole request retry.
   */
  private async send<T>(
    url: string,
    opts: RequestOptions,
    handle: (res: Response, finalUrl: string, ctl: AbortController) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(url, opts, handle);
      } catch (e) {
        if (!(e instanceof RetryableError)) throw e;
        if (attempt >= this.o.retries) throw e.error;
        const backoff = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** attempt);
        // Our own backoff: half to all of the delay, at random. A server-given wait is kept, plus a little jitter.
        const wait = e.waitMs !== undefined ? e.waitMs + this.o.random() * Math.min(1000, e.waitMs * 0.1 + 50) : backoff * (0.5 + this.o.random() / 2);
        if (wait > this.o.maxRateLimitWaitMs) throw e.error;
        this.stats.retries++;
        if (opts.stats) opts.stats.retries++;
        await sleep(wait, undefined, opts.signal ? { signal: opts.signal } : undefined);
      }
    }
  }

  private limiter(host: string): Semaphore {
    let s = this.hosts.get(host);
    if (!s) this.hosts.set(host, (s = new Semaphore(this.o.maxPerHost)));
    return s;
  }

  private async waitForHost(host: string, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const until = this.pausedUntil.get(host) ?? 0;
      const now = Date.now();
      if (until <= now) return;
      await sleep(until - now, undefined, signal ? { signal } : undefined);
    }
  }

  private pauseHost(host: string, ms: number): void {
    const until = Date.now() + Math.min(ms, this.o.maxRateLimitWaitMs);
    if ((this.pausedUntil.get(host) ?? 0) < until) this.pausedUntil.set(host, until);
  }

  /** One attempt: follow redirects by hand, then hand the final response to `handle`. */
  private async attempt<T>(
    url: string,
    opts: RequestOptions,
    handle: (res: Response, finalUrl: string, ctl: AbortController) => Promise<T>,
  ): Promise<T> {
    let current = url;
    const firstProtocol = new URL(url).protocol;
    for (let hop = 0; hop <= this.o.maxRedirects; hop++) {
      const u = new URL(current);
      if (u.protocol !== 'https:' && u.protocol !== 'http:') {
        throw new HttpError(`${url}: refusing to follow a redirect to ${u.protocol} URL ${current}`, 'protocol', current);
      }
      if (firstProtocol === 'https:' && u.protocol === 'http:') {
        throw new HttpError(`${url}: refusing to follow a redirect from https to plain http (${current})`, 'protocol', current);
      }
      await this.waitForHost(u.host, opts.signal);
      const release = await this.limiter(u.host).acquire();
      const ctl = new AbortController();
      const onAbort = (): void => ctl.abort(opts.signal?.reason);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const timer = new IdleTimer(this.o.idleTimeoutMs, () => ctl.abort(new Error('timeout')));
      (ctl as AbortControllerWithTimer).idle = timer;
      byteSinks.set(ctl, (n) => this.countBytes(opts, n));
      try {
        const headers: Record<string, string> = { 'User-Agent': this.o.userAgent, ...opts.headers };
        // The token goes to the hub's own origin only: never to a CDN or storage host a redirect names.
        if (this.options.token && this.tokenOrigins.has(u.origin)) headers.Authorization = `Bearer ${this.options.token}`;
        let res: Response;
        this.count(opts, 'requests', 1);
        try {
          res = await this.fetchImpl(current, { headers, redirect: 'manual', signal: ctl.signal });
        } catch (e) {
          throw new RetryableError(networkError(current, e, opts.signal));
        }
        timer.touch();
        this.noteRateLimit(u.host, res.headers);

        if (REDIRECTS.has(res.status)) {
          const loc = res.headers.get('location');
          await cancel(res);
          if (!loc) throw new HttpError(`${current}: redirect ${res.status} without a Location`, 'protocol', current, res.status);
          current = new URL(loc, current).href;
          continue;
        }
        if (res.status === 429) {
          const wait = this.rateLimitWait(res.headers);
          await cancel(res);
          this.pauseHost(u.host, wait ?? this.o.baseDelayMs);
          throw new RetryableError(new HttpError(rateLimitMessage(current, res.headers, wait), 'rate-limited', current, 429), wait);
        }
        if (RETRY_STATUS.has(res.status)) {
          const wait = parseRetryAfter(res.headers.get('retry-after'));
          await cancel(res);
          throw new RetryableError(
            new HttpError(`${current}: the server answered ${res.status} ${res.statusText} (after ${this.o.retries} retries)`, 'server', current, res.status),
            wait,
          );
        }
        if (res.status >= 400 || (res.status !== 200 && res.status !== 206 && res.status !== 416)) {
          throw await statusError(res, current);
        }
        try {
          return await handle(res, current, ctl);
        } catch (e) {
          if (e instanceof HttpError || e instanceof RetryableError) throw e;
          throw new RetryableError(networkError(current, e, opts.signal));
        }
      } finally {
        timer.stop();
        opts.signal?.removeEventListener('abort', onAbort);
        release();
      }
    }
    throw new HttpError(`${url}: more than ${this.o.maxRedirects} redirects`, 'protocol', current);
  }

  private count(opts: RequestOptions, key: keyof TransferStats, n: number): void {
    this.stats[key] += n;
    if (opts.stats) opts.stats[key] += n;
  }

  /** Pause a host whose RateLimit header says the window is used up. */
  private noteRateLimit(host: string, headers: Headers): void {
    for (const rl of parseRateLimit(headers.get('ratelimit'))) {
      if (rl.remaining !== undefined && rl.remaining <= 0 && rl.resetSeconds !== undefined && rl.resetSeconds > 0) {
        this.pauseHost(host, Math.min(rl.resetSeconds * 1000, this.o.maxRateLimitWaitMs));
      }
    }
  }

  /** How long a 429 asks us to wait: Retry-After, else the RateLimit reset of an exhausted quota. */
  private rateLimitWait(headers: Headers): number | undefined {
    const ra = parseRetryAfter(headers.get('retry-after'));
    if (ra !== undefined) return ra;
    const resets = parseRateLimit(headers.get('ratelimit'))
      .filter((r) => r.resetSeconds !== undefined && (r.remaining === undefined || r.remaining <= 0))
      .map((r) => r.resetSeconds! * 1000);
    return resets.length ? Math.max(...resets) : undefined;
  }

  /** Body bytes are counted as they arrive (see readBody). */
  private countBytes(opts: RequestOptions | undefined, n: number): void {
    this.stats.bytesTransferred += n;
    if (opts?.stats) opts.stats.bytesTransferred += n;
  }
}

interface AbortControllerWithTimer extends AbortController {
  idle?: IdleTimer;
}

/** Aborts when no bytes arrive for `ms`. */
class IdleTimer {
  private t: NodeJS.Timeout | undefined;
  constructor(
    private readonly ms: number,
    private readonly fire: () => void,
  ) {
    this.touch();
  }
  touch(): void {
    if (this.t) clearTimeout(this.t);
    this.t = setTimeout(this.fire, this.ms);
    this.t.unref?.();
  }
  stop(): void {
    if (this.t) clearTimeout(this.t);
    this.t = undefined;
  }
}

/** Where readBody reports bytes received; set for each attempt's controller by HttpClient.attempt. */
const byteSinks = new WeakMap<AbortController, (n: number) => void>();

/**
 * Read a response body. `skip` bytes are dropped first (a 200 to a Range
 * request); reading stops after `stopAt` kept bytes and the rest of the body
 * is aborted. Without stopAt, more than `max` bytes is an error. `exact`
 * makes a body that ends before `stopAt` a (retryable) network error.
 */
async function readBody(
  res: Response,
  ctl: AbortController,
  max: number,
  url: string,
  o: { skip?: number; stopAt?: number; exact?: boolean } = {},
): Promise<Buffer> {
  const sink = byteSinks.get(ctl);
  const idle = (ctl as AbortControllerWithTimer).idle;
  const declared = contentLength(res.headers);
  if (o.stopAt === undefined && declared !== undefined && declared > max) {
    await cancel(res);
    throw new HttpError(`${url}: the body is ${declared} bytes, more than the ${max} allowed`, 'budget', url, res.status);
  }
  const chunks: Buffer[] = [];
  let kept = 0;
  let toSkip = o.skip ?? 0;
  const stopAt = o.stopAt ?? Infinity;
  let received = 0;
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  let done = false;
  try {
    while (kept < stopAt) {
      const r = await reader.read();
      if (r.done) {
        done = true;
        break;
      }
      idle?.touch();
      let chunk = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
      received += chunk.length;
      sink?.(chunk.length);
      if (toSkip > 0) {
        if (chunk.length <= toSkip) {
          toSkip -= chunk.length;
          continue;
        }
        chunk = chunk.subarray(toSkip);
        toSkip = 0;
      }
      if (chunk.length > stopAt - kept) chunk = chunk.subarray(0, stopAt - kept);
      chunks.push(chunk);
      kept += chunk.length;
      if (o.stopAt === undefined && kept > max) {
        throw new HttpError(`${url}: the body is more than the ${max} bytes allowed`, 'budget', url, res.status);
      }
    }
  } catch (e) {
    await reader.cancel().catch(() => undefined);
    throw e;
  }
  if (!done && declared !== undefined && received >= declared) {
    // Everything declared has arrived: let the stream end so the connection can be reused.
    done = (await reader.read().catch(() => ({ done: false }))).done === true;
  }
  if (!done) {
    // We have what we need: drop the rest of the body (and with it the connection).
    await reader.cancel().catch(() => undefined);
    ctl.abort();
  } else if (o.exact && kept < stopAt) {
    throw new RetryableError(
      new HttpError(`${url}: the connection closed after ${kept} of ${stopAt} bytes`, 'network', url, res.status),
    );
  } else if (declared !== undefined && o.skip === undefined && o.stopAt === undefined && received < declared) {
    throw new RetryableError(new HttpError(`${url}: the connection closed after ${received} of ${declared} bytes`, 'network', url, res.status));
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, kept);
}

async function cancel(res: Response): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    // Nothing to do: the body is being thrown away.
  }
}

function contentLength(headers: Headers): number | undefined {
  const v = headers.get('content-length');
  if (v === null || !/^\d+$/.test(v.trim())) return undefined;
  return Number(v);
}

export function parseContentRange(v: string | null): { start: number; end: number; total?: number } | undefined {
  const m = v && /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(v);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) return undefined;
  return { start, end, ...(m[3] !== '*' ? { total: Number(m[3]) } : {}) };
}

function contentRangeTotal(v: string | null): number | undefined {
  const m = v && /^\s*bytes\s+\*\/(\d+)\s*$/i.exec(v);
  return m ? Number(m[1]) : parseContentRange(v)?.total;
}

function networkError(url: string, e: unknown, signal?: AbortSignal): HttpError {
  if (signal?.aborted) return new HttpError(`${url}: cancelled`, 'network', url);
  const err = e as Error & { cause?: { code?: string; message?: string } };
  const cause = err?.cause?.code ?? err?.cause?.message;
  const what =
    err?.name === 'AbortError' || String(err?.message).includes('timeout')
      ? 'no answer in time'
      : cause === 'UND_ERR_SOCKET' || err?.message === 'terminated'
        ? 'the connection was dropped'
        : `${err?.message ?? String(e)}${cause ? ` (${cause})` : ''}`;
  return new HttpError(`${url}: ${what}`, 'network', url);
}

/** A non-retryable 4xx (or odd status) as an HttpError, with HF's error code and message. */
async function statusError(res: Response, url: string): Promise<HttpError> {
  let text = res.headers.get('x-error-message') ?? '';
  if (!text) {
    try {
      const body = (await res.text()).slice(0, 500);
      try {
        const j = JSON.parse(body) as { error?: unknown };
        text = typeof j.error === 'string' ? j.error : body;
      } catch {
        text = body;
      }
    } catch {
      // The message is only a nicety.
    }
  } else {
    await cancel(res);
  }
  const code = res.headers.get('x-error-code') ?? undefined;
  const kind: HttpErrorKind =
    res.status === 401 ? 'unauthorized' : res.status === 403 ? 'forbidden' : res.status === 404 || res.status === 410 ? 'not-found' : res.status >= 400 ? 'client' : 'protocol';
  const detail = text ? `: ${text.replace(/\s+/g, ' ').trim()}` : '';
  return new HttpError(`${url}: ${res.status} ${res.statusText}${detail}`, kind, url, res.status, code, text || undefined);
}

function rateLimitMessage(url: string, headers: Headers, waitMs: number | undefined): string {
  const rl = parseRateLimit(headers.get('ratelimit'))[0];
  const policy = parseRateLimit(headers.get('ratelimit-policy'))[0];
  const parts: string[] = [];
  if (waitMs !== undefined) parts.push(`retry after ${Math.ceil(waitMs / 1000)} s`);
  if (rl?.remaining !== undefined && policy?.quota !== undefined) {
    parts.push(`${rl.remaining}/${policy.quota} requests left${policy.windowSeconds ? ` in the ${policy.windowSeconds} s window` : ''}`);
  }
  return `${url}: rate limited (429)${parts.length ? `: ${parts.join(', ')}` : ''}. Wait, spread the scan out, or use a token (HF_TOKEN / --token), which has higher limits.`;
}
