import type { ScanResult } from '../finding.js';
import { formatJson } from './json.js';
import { formatSarif, type SarifOptions } from './sarif.js';
import { formatText, type TextOptions } from './text.js';

export { formatText, safe, formatBytes, type TextOptions } from './text.js';
export { formatJson, toJson, JSON_SCHEMA_VERSION, type JsonReport } from './json.js';
export {
  formatSarif,
  toSarif,
  sarifLevel,
  SECURITY_SEVERITY,
  SARIF_SCHEMA,
  SARIF_VERSION,
  type SarifOptions,
  type SarifLog,
  type SarifResult,
  type SarifRun,
} from './sarif.js';

export const REPORT_FORMATS = ['text', 'json', 'sarif'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export type ReportOptions = TextOptions & SarifOptions;

/** Render `result` in one of the output formats. */
export function formatReport(result: ScanResult, format: ReportFormat, opts: ReportOptions = {}): string {
  switch (format) {
    case 'text':
      return formatText(result, opts);
    case 'json':
      return formatJson(result);
    case 'sarif':
      return formatSarif(result, opts);
  }
}
