import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseListen } from './cli.js';

test('parses HOST:PORT, bracketed IPv6 and port 0', () => {
  assert.deepEqual(parseListen('127.0.0.1:4599'), { host: '127.0.0.1', port: 4599 });
  assert.deepEqual(parseListen('localhost:0'), { host: 'localhost', port: 0 });
  assert.deepEqual(parseListen('[::1]:8080'), { host: '::1', port: 8080 });
  for (const bad of ['4599', 'host:', ':80', 'host:70000', '::1:80']) assert.throws(() => parseListen(bad), /HOST:PORT/, bad);
});
