// Host readiness (`sandkasten doctor`) and first-time setup (`sandkasten init`).
export { runDoctor } from './checks.js';
export type { CheckResult, CheckStatus, DoctorOptions, DoctorReport } from './checks.js';
export { formatReport } from './report.js';
export { initHost, formatInit, renderConfig, generateApiKey, InitError, DATA_DIR_LAYOUT } from './init.js';
export type { InitOptions, InitResult } from './init.js';
export { doctorCommand, initCommand, doctorUsage, initUsage } from './cli.js';
export type { NodeAgentFacts } from './host.js';
