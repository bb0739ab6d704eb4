/**
 * ptmscope's library API. Everything a program needs to scan model files and
 * render the results; the CLI (src/cli) is a thin layer over these.
 */
export {
  SEVERITIES,
  severityRank,
  maxSeverity,
  parseSeverity,
  type Severity,
  type Finding,
  type ScanError,
  type FileReport,
  type ScanSummary,
  type ScanResult,
} from './scan/finding.js';
export { DEFAULT_LIMITS, resolveLimits, LimitExceededError, type Limits } from './formats/limits.js';
export { scanFile, scanBytes, type ScanOptions } from './scan/scanner.js';
export { scanPath, exitCode, toolVersion, type ScanPathOptions } from './scan/scan-path.js';
export { walk, type WalkEntry, type WalkResult } from './scan/walk.js';
export { RULES, getRule, type RuleInfo } from './scan/rules.js';
export {
  loadConfig,
  validateConfig,
  readConfigFile,
  findConfigFile,
  ConfigError,
  CONFIG_FILE_NAMES,
  type ScanConfig,
  type FailOn,
  type DenyEntry,
} from './scan/config.js';
export {
  Policy,
  ECOSYSTEMS,
  DEFAULT_ECOSYSTEMS,
  type Ecosystem,
  type GlobalVerdict,
  type PolicyConfig,
} from './scan/policy/policy.js';
export {
  formatReport,
  formatText,
  formatJson,
  toJson,
  formatSarif,
  toSarif,
  REPORT_FORMATS,
  JSON_SCHEMA_VERSION,
  SARIF_SCHEMA,
  SARIF_VERSION,
  type ReportFormat,
  type ReportOptions,
  type TextOptions,
  type SarifOptions,
  type SarifLog,
  type JsonReport,
} from './scan/report/index.js';

// Hubs: the HTTP client, range reads, and the Hugging Face adapter (read side).
export { HttpClient, HttpError } from './hubs/http.js';
export { HttpSource } from './hubs/http-source.js';
export { HfHub, HubError, HubNameError, validateRepoName, validateRevision } from './hubs/huggingface.js';
export { parseHubTarget, isHubTarget, TargetError, type HubTarget } from './hubs/targets.js';
export { scanRemoteRepo, scanRemoteRepos, type RemoteRepoReport } from './scan/remote.js';
export { scanHfCache, scanTorchHubCache } from './scan/caches.js';
