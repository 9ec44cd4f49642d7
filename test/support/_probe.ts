import { createServer } from 'node:net';
import { startTemporalDevServer } from '../../src/client/devserver.js';
const blocker = createServer().listen(17299, '127.0.0.1');
const t0 = Date.now();
try { await startTemporalDevServer({ port: 17299, headless: true }); } catch (e) { console.log('ERR after', Date.now() - t0, 'ms:', (e as Error).message.slice(0, 600)); }
blocker.close();
process.env.TEMPORAL_CLI = '/nonexistent';
try { await startTemporalDevServer(); } catch (e) { console.log('ERR', (e as Error).message); }
