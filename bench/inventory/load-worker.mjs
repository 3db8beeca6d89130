// Benchmarks — load generator for bench/inventory/query.ts, in a worker thread so the clients' event loop is
// not the one serving the requests. N concurrent keep-alive clients loop over the given paths until the time
// or request budget runs out (loopback only), then report latencies and counts.
import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

const { baseUrl, token, paths, clients, seconds, maxRequests } = workerData;
const url = new URL(baseUrl);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))
  throw new Error('load goes to loopback only');
const agent = new Agent({ keepAlive: true, maxSockets: clients });
const deadline = performance.now() + seconds * 1000;
const latencies = [];
const statuses = {};
let issued = 0;
let cachedAnswers = 0;

const cachedMark = Buffer.from('"cached":true}');

// Only the body's last bytes are kept (is it a cached answer?): decoding every 70 KB body would spend this
// thread's share of the 2 cores on the client instead of the server under test.
function get(path) {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path, agent, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        let tail = Buffer.alloc(0);
        res.on('data', (chunk) => {
          tail =
            chunk.length >= cachedMark.length
              ? chunk.subarray(chunk.length - cachedMark.length)
              : Buffer.concat([tail, chunk]).subarray(-cachedMark.length);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, cached: tail.equals(cachedMark) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function client(index) {
  let i = index;
  while (performance.now() < deadline && issued < maxRequests) {
    issued++;
    const path = paths[i++ % paths.length];
    const started = performance.now();
    const { status, cached } = await get(path);
    latencies.push(performance.now() - started);
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (cached) cachedAnswers++;
  }
}

const started = performance.now();
await Promise.all(Array.from({ length: clients }, (_, index) => client(index)));
const elapsed = (performance.now() - started) / 1000;
agent.destroy();
parentPort.postMessage({ latencies, statuses, elapsed, cachedAnswers });
