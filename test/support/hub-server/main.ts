/**
 * Run the test hub by hand: `node dist/test/support/hub-server/main.js [--latency MS]`
 * prints its endpoint; then e.g. `HF_ENDPOINT=<url> ptmscope scan hf://ptmscope-fixtures/evil-torch`.
 * Stops on Ctrl-C.
 */
import { fileURLToPath } from 'node:url';
import { fixtureRepos } from './repos.js';
import { startHubServer, DEFAULT_TOKEN } from './server.js';

const ROOT = fileURLToPath(new URL('../../../..', import.meta.url));
const i = process.argv.indexOf('--latency');
const server = await startHubServer({ repos: fixtureRepos(ROOT), latencyMs: i > 0 ? Number(process.argv[i + 1]) : 0 });
process.stdout.write(`hub ${server.url}\ncdn ${server.cdnUrl}\ntoken ${DEFAULT_TOKEN}\n`);
process.on('SIGINT', () => void server.close().then(() => process.exit(0)));
