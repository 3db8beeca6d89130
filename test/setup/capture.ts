// Test harness — vitest setupFile of the integration and e2e projects: copies everything a test process
// writes (console, process.stdout/stderr: the functions' Powertools logs, the local runtime's lines), every
// error body its fetch calls receive and every WebSocket frame its clients receive (the events pushed to
// dashboards and agents) into one capture file per process, for the secret-leak scan that runs after the
// whole suite (test/setup/leaks.ts, from the globalSetup's teardown).
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';
import WebSocket from 'ws';
import { leakEnv } from './leaks.ts';

const installed = Symbol.for('vfleet.leakCapture');
const captureDir = process.env[leakEnv.captureDir];
const state = globalThis as { [installed]?: boolean };

// Once per process: setup files run again for every test file the process takes.
if (captureDir && !state[installed]) {
  state[installed] = true;
  const file = join(captureDir, `process-${process.pid}.log`);
  const capture = (text: string) => {
    try {
      appendFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
    } catch {
      // The directory is gone once the run's teardown has scanned it; late writes have nowhere to go.
    }
  };

  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      capture(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return write(chunk, ...rest);
    }) as typeof stream.write;
  }

  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]) => {
      capture(format(...args));
      original(...args);
    };
  }

  // The `ws` package is one module for every test file of the process: its prototype sees every client.
  const emit = WebSocket.prototype.emit;
  WebSocket.prototype.emit = function (this: WebSocket, event: string | symbol, ...args: unknown[]) {
    if (event === 'message') {
      const data = args[0];
      const text = Array.isArray(data)
        ? Buffer.concat(data as Buffer[]).toString('utf8')
        : Buffer.isBuffer(data)
          ? data.toString('utf8')
          : data instanceof ArrayBuffer
            ? Buffer.from(data).toString('utf8')
            : String(data);
      // The label names the endpoint only: a client's own URL carries its token (`?token=`), which is the
      // test's input, not something the product wrote. A server-side socket (the local runtime's) has no URL.
      capture(`[ws frame] ${(this.url ?? 'server').split('?')[0]}: ${text}`);
    }
    return emit.call(this, event, ...args);
  } as typeof emit;

  const originalFetch = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const response = await originalFetch(input, init);
    if (response.status >= 400) {
      // A clone, so the test still reads the body; read fully before the test's own read can race it.
      const body = await response
        .clone()
        .text()
        .catch(() => '');
      const url = (input instanceof Request ? input.url : String(input)).split('?')[0];
      capture(`[error body] ${response.status} ${init?.method ?? 'GET'} ${url}: ${body}`);
    }
    return response;
  };
}
