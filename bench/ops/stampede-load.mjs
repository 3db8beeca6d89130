// Benchmarks — load generator of bench/ops/stampede.ts, in a worker thread so the clients' event loop is not
// the one serving the requests. `users` simulated users arrive evenly over `arrivalSeconds`; each loads the VM
// list, then the page's thumbnails six at a time (a browser's connection limit), waiting out 503 Retry-After
// answers (capped at 1 s). Loopback only; bounded by the user count and a deadline.
import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

const { baseUrl, token, users, arrivalSeconds, listPath, thumbnailPaths, deadlineSeconds } = workerData;
const url = new URL(baseUrl);
if (!['127.0.0.1', 'localhost'].includes(url.hostname)) throw new Error('load goes to loopback only');
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const deadline = performance.now() + deadlineSeconds * 1000;
const statuses = {};
const xcache = {};
const pageMs = [];
let requests = 0;
let gaveUp = 0;

function get(path) {
  return new Promise((resolve) => {
    const req = request(
      { host: url.hostname, port: url.port, path, agent, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: Number(res.headers['retry-after'] ?? 1),
            cache: res.headers['x-cache'],
          }),
        );
      },
    );
    req.on('error', () => resolve({ status: 0, retryAfter: 1 }));
    req.end();
  });
}

async function fetchUntilServed(path) {
  for (let attempt = 0; attempt < 60 && performance.now() < deadline; attempt++) {
    requests++;
    const answer = await get(path);
    statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
    if (answer.cache) xcache[answer.cache] = (xcache[answer.cache] ?? 0) + 1;
    if (answer.status === 200) return true;
    await new Promise((r) => setTimeout(r, Math.min(1000, answer.retryAfter * 1000)));
  }
  gaveUp++;
  return false;
}

async function user() {
  const started = performance.now();
  await fetchUntilServed(listPath);
  let next = 0;
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      while (next < thumbnailPaths.length) await fetchUntilServed(thumbnailPaths[next++]);
    }),
  );
  pageMs.push(performance.now() - started);
}

const began = performance.now();
const running = [];
for (let i = 0; i < users; i++) {
  const at = began + (i * arrivalSeconds * 1000) / users;
  const wait = at - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  running.push(user());
}
const arrivedAfterS = (performance.now() - began) / 1000;
await Promise.all(running);
agent.destroy();
parentPort.postMessage({
  requests,
  statuses,
  xcache,
  pageMs,
  gaveUp,
  arrivedAfterS,
  elapsedS: (performance.now() - began) / 1000,
});
