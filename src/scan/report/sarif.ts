import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Finding, ScanResult, Severity } from '../finding.js';
import { RULES, fallbackRule, type RuleInfo } from '../rules.js';

/**
 * SARIF 2.1.0 output shaped for GitHub code scanning
 * (docs.github.com: "SARIF support for code scanning"): `$schema`, `version`,
 * one run whose `tool.driver.rules` is the whole rule catalogue, and results
 * with ruleId/ruleIndex/level/message/locations/partialFingerprints.
 *
 * Binary files and regions: the SARIF spec (§3.30.1) says a region in a
 * binary artifact uses byteOffset/byteLength and no line numbers, while
 * GitHub lists `region.startLine` as required and needs it to anchor an
 * alert. By default (`githubRegions: true`) every region therefore carries
 * `startLine: 1` (the alert is anchored on the file as a whole) plus
 * `byteOffset` when the offset is an offset in that file. With
 * `githubRegions: false` the output follows the spec strictly: byteOffset
 * only, and no region when there is no file offset.
 *
 * A finding inside an archive member has an offset into the decompressed
 * member, not into the file on disk, so it never becomes region.byteOffset:
 * the member path goes to `logicalLocations` and the offset to the result's
 * `properties.offset`.
 */

export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';
export const SARIF_VERSION = '2.1.0';
export const SRCROOT = '%SRCROOT%';

export interface SarifOptions {
  /** Directory artifact URIs are made relative to; default process.cwd(). */
  cwd?: string;
  /** Add `startLine: 1` to regions as GitHub requires (default true); false = strict SARIF binary regions. */
  githubRegions?: boolean;
}

export type SarifLevel = 'error' | 'warning' | 'note';

/** GitHub shows this as the alert's security severity (>9 critical, 7–8.9 high, 4–6.9 medium, <4 low). */
export const SECURITY_SEVERITY: Record<Severity, string | undefined> = {
  CRITICAL: '9.5',
  HIGH: '8.0',
  MEDIUM: '5.5',
  LOW: '3.0',
  // INFO is not a security problem: no score, so GitHub does not rank it as one.
  INFO: undefined,
};

export function sarifLevel(s: Severity): SarifLevel {
  if (s === 'CRITICAL' || s === 'HIGH') return 'error';
  if (s === 'MEDIUM') return 'warning';
  return 'note';
}

// Minimal typings for the subset of SARIF written here.
export interface SarifMessage {
  text: string;
  markdown?: string;
}
export interface SarifArtifactLocation {
  uri: string;
  uriBaseId?: string;
}
export interface SarifRegion {
  startLine?: number;
  startColumn?: number;
  endLine?: number;
  endColumn?: number;
  byteOffset?: number;
}
export interface SarifPhysicalLocation {
  artifactLocation: SarifArtifactLocation;
  region?: SarifRegion;
}
export interface SarifLogicalLocation {
  name: string;
  fullyQualifiedName: string;
  kind?: string;
}
export interface SarifLocation {
  physicalLocation: SarifPhysicalLocation;
  logicalLocations?: SarifLogicalLocation[];
}
export interface SarifReportingDescriptor {
  id: string;
  name: string;
  shortDescription: SarifMessage;
  fullDescription: SarifMessage;
  help: SarifMessage;
  defaultConfiguration: { level: SarifLevel };
  properties: { tags: string[]; 'security-severity'?: string; 'ptmscope-severity': Severity };
}
export interface SarifResult {
  ruleId: string;
  ruleIndex: number;
  level: SarifLevel;
  message: SarifMessage;
  locations: SarifLocation[];
  partialFingerprints: Record<string, string>;
  properties: Record<string, unknown>;
}
export interface SarifNotification {
  level: 'error';
  message: SarifMessage;
  locations: SarifLocation[];
}
export interface SarifRun {
  tool: {
    driver: {
      name: string;
      version: string;
      semanticVersion: string;
      informationUri: string;
      rules: SarifReportingDescriptor[];
    };
  };
  originalUriBaseIds: Record<string, { uri: string; description?: SarifMessage }>;
  invocations: {
    executionSuccessful: boolean;
    workingDirectory: { uri: string };
    toolExecutionNotifications: SarifNotification[];
  }[];
  results: SarifResult[];
}
export interface SarifLog {
  $schema: string;
  version: typeof SARIF_VERSION;
  runs: SarifRun[];
}

export function toSarif(result: ScanResult, opts: SarifOptions = {}): SarifLog {
  const cwd = resolve(opts.cwd ?? process.cwd());
  const githubRegions = opts.githubRegions ?? true;
  const infoUri = informationUri();

  // The whole catalogue, in a fixed order, so ruleIndex is stable across runs;
  // ids the catalogue lacks are appended as they are met.
  const rules: RuleInfo[] = [...RULES];
  const ruleIndex = new Map(rules.map((r, i) => [r.id, i]));
  const indexOf = (f: Finding): number => {
    let i = ruleIndex.get(f.ruleId);
    if (i === undefined) {
      i = rules.length;
      rules.push(fallbackRule(f.ruleId, f.severity));
      ruleIndex.set(f.ruleId, i);
    }
    return i;
  };

  const seenFingerprints = new Map<string, number>();
  const results: SarifResult[] = [];
  const notifications: SarifNotification[] = [];

  for (const file of result.files) {
    const artifact = artifactLocation(file.file, cwd);
    for (const f of file.findings) {
      const inner = innerPath(f);
      const location: SarifLocation = { physicalLocation: { artifactLocation: artifact } };
      const fileOffset = inner === undefined ? f.offset : undefined;
      const region: SarifRegion = {};
      if (f.line !== undefined && inner === undefined) {
        // A text file: point at the exact lines, so GitHub shows the alert inline.
        region.startLine = f.line;
        if (f.column !== undefined) region.startColumn = f.column;
        if (f.endLine !== undefined) region.endLine = f.endLine;
        if (f.endColumn !== undefined) region.endColumn = f.endColumn;
      } else {
        if (githubRegions) region.startLine = 1;
        if (fileOffset !== undefined) region.byteOffset = fileOffset;
      }
      if (Object.keys(region).length > 0) location.physicalLocation.region = region;
      if (inner !== undefined) {
        location.logicalLocations = [{ name: inner, fullyQualifiedName: f.location, kind: 'archiveMember' }];
      }

      // Keyed on the artifact URI rather than the path as typed, so
      // "./m.pt" and "m.pt" give the same alert identity.
      const key = [f.ruleId, artifact.uri + (inner !== undefined ? `!${inner}` : ''), f.global ?? ''].join('\u0000');
      const hash = createHash('sha256').update(key).digest('hex');
      const occurrence = (seenFingerprints.get(hash) ?? 0) + 1;
      seenFingerprints.set(hash, occurrence);

      const properties: Record<string, unknown> = { severity: f.severity, location: f.location };
      if (f.offset !== undefined) properties.offset = f.offset;
      if (f.global !== undefined) properties.global = f.global;
      if (f.evidence !== undefined) properties.evidence = f.evidence;

      results.push({
        ruleId: f.ruleId,
        ruleIndex: indexOf(f),
        level: sarifLevel(f.severity),
        message: { text: resultMessage(f) },
        locations: [location],
        partialFingerprints: {
          // GitHub matches alerts across runs on this key only; "<hash>:<n>" mirrors CodeQL's form.
          primaryLocationLineHash: `${hash.slice(0, 16)}:${occurrence}`,
          'ptmscope/v1': hash,
        },
        properties,
      });
    }
    for (const e of file.errors) {
      const loc: SarifLocation = { physicalLocation: { artifactLocation: artifactLocation(e.file, cwd) } };
      const inner = innerOf(e.file, e.location);
      if (inner !== undefined) loc.logicalLocations = [{ name: inner, fullyQualifiedName: e.location, kind: 'archiveMember' }];
      notifications.push({ level: 'error', message: { text: e.message }, locations: [loc] });
    }
  }

  return {
    $schema: SARIF_SCHEMA,
    version: SARIF_VERSION,
    runs: [
      {
        tool: {
          driver: {
            name: result.tool.name,
            version: result.tool.version,
            semanticVersion: result.tool.version,
            informationUri: infoUri,
            rules: rules.map(descriptor),
          },
        },
        originalUriBaseIds: {
          [SRCROOT]: { uri: dirUri(cwd), description: { text: 'The directory ptmscope was run from.' } },
        },
        invocations: [
          {
            executionSuccessful: notifications.length === 0,
            workingDirectory: { uri: dirUri(cwd) },
            toolExecutionNotifications: notifications,
          },
        ],
        results,
      },
    ],
  };
}

export function formatSarif(result: ScanResult, opts: SarifOptions = {}): string {
  return JSON.stringify(toSarif(result, opts), null, 2) + '\n';
}

function descriptor(r: RuleInfo): SarifReportingDescriptor {
  const properties: SarifReportingDescriptor['properties'] = { tags: ['security'], 'ptmscope-severity': r.defaultSeverity };
  const score = SECURITY_SEVERITY[r.defaultSeverity];
  if (score !== undefined) properties['security-severity'] = score;
  return {
    id: r.id,
    name: ruleName(r.id),
    shortDescription: { text: r.shortDescription },
    fullDescription: { text: r.fullDescription },
    help: {
      text: `${r.fullDescription}\n\nWhat to do: ${r.help}`,
      markdown: `**${r.shortDescription}**\n\n${r.fullDescription}\n\n**What to do:** ${r.help}`,
    },
    defaultConfiguration: { level: sarifLevel(r.defaultSeverity) },
    properties,
  };
}

/** "pickle/dangerous-global" → "PickleDangerousGlobal": a readable name distinct from the id. */
export function ruleName(id: string): string {
  return id
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');
}

function resultMessage(f: Finding): string {
  // GitHub titles the alert with the first sentence, so the finding's own message leads.
  const parts = [ensureSentence(f.message)];
  parts.push(`Location: ${f.location}${f.offset !== undefined ? ` at byte offset ${f.offset}` : ''}.`);
  if (f.global) parts.push(`Global: ${f.global}.`);
  if (f.evidence) parts.push(`Evidence: ${clip(f.evidence, 1000)}.`);
  if (f.hint) parts.push(`What to do: ${ensureSentence(f.hint)}`);
  return parts.join(' ');
}

function ensureSentence(s: string): string {
  const t = s.trim();
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length - max} more characters)`;
}

/** The member path inside the file ("archive/data.pkl"), or undefined for a top-level finding. */
function innerPath(f: Finding): string | undefined {
  return innerOf(f.file, f.location);
}

/**
 * "m.pt!archive/data.pkl" → "archive/data.pkl"; a nested pickle
 * "x.pkl@12:pickle.loads" → "@12:pickle.loads"; undefined for the file itself.
 */
function innerOf(file: string, location: string): string | undefined {
  if (!location || location === file) return undefined;
  if (location.startsWith(file)) {
    const rest = location.slice(file.length);
    if (rest.startsWith('!')) return rest.slice(1);
    if (rest.startsWith('@')) return rest;
  }
  // A location that does not start with the file name: keep it whole.
  return location;
}

/**
 * Relative to `cwd` with forward slashes and uriBaseId %SRCROOT% (what GitHub
 * matches against the repository); a file outside `cwd` gets an absolute
 * file: URI instead, since "../" paths cannot match a repository file.
 */
export function artifactLocation(path: string, cwd: string): SarifArtifactLocation {
  // Remote files (hf://org/name@sha/path, https://…) are already absolute URIs.
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) return { uri: encodeURI(path) };
  const abs = resolve(cwd, path);
  const rel = relative(cwd, abs);
  if (rel === '' || rel === '..' || rel.startsWith('..' + sep) || isAbsolute(rel)) {
    return { uri: pathToFileURL(abs).href };
  }
  return { uri: rel.split(sep).map(encodeURIComponent).join('/'), uriBaseId: SRCROOT };
}

function dirUri(dir: string): string {
  const href = pathToFileURL(dir).href;
  return href.endsWith('/') ? href : `${href}/`;
}

let cachedInfoUri: string | undefined;

/** package.json homepage when set, else the npm package page. */
function informationUri(): string {
  if (cachedInfoUri !== undefined) return cachedInfoUri;
  for (const up of ['../../../package.json', '../../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; homepage?: string };
      if (pkg.name === 'ptmscope') {
        return (cachedInfoUri = typeof pkg.homepage === 'string' && pkg.homepage ? pkg.homepage : 'https://www.npmjs.com/package/ptmscope');
      }
    } catch {
      // Try the next level up.
    }
  }
  return (cachedInfoUri = 'https://www.npmjs.com/package/ptmscope');
}
