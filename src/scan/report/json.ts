import type { ScanResult } from '../finding.js';

/** Version of the JSON document layout (docs/json-schema.md). Bumped only for breaking changes. */
export const JSON_SCHEMA_VERSION = 1;

export type JsonReport = { schemaVersion: typeof JSON_SCHEMA_VERSION } & ScanResult;

/** The stable JSON document: the ScanResult as is, with `schemaVersion` first. */
export function toJson(result: ScanResult): JsonReport {
  return { schemaVersion: JSON_SCHEMA_VERSION, tool: result.tool, files: result.files, summary: result.summary };
}

/** toJson, serialised with two-space indentation and a final newline. */
export function formatJson(result: ScanResult): string {
  return JSON.stringify(toJson(result), null, 2) + '\n';
}
