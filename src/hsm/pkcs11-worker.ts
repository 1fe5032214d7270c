/**
 * Worker-thread side of a PKCS#11 lane: one worker owns one session (pkcs11-session.ts)
 * and answers the main thread's requests one at a time.
 */
import { parentPort } from 'node:worker_threads';
import { createPkcs11SessionHandler } from './pkcs11-session.js';
import type { WorkerMessage } from './pkcs11-protocol.js';

const port = parentPort;
if (!port) throw new Error('pkcs11-worker must run as a worker thread');
const handler = createPkcs11SessionHandler();
port.on('message', (msg: WorkerMessage) => port.postMessage(handler.run(msg)));
