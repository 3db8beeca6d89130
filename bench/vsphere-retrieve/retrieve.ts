// Benchmark worker — one retrieval of every VM with the benchmark's ten properties through vfleet's
// vSphere client, in its own process so its peak RSS is the client's. Prints one JSON line:
// {"objects":N,"ms":T,"maxRssKb":K}. Password comes from $VSPHERE_PASSWORD (never argv).

import { VsphereClient } from '#shared/vsphere';

const [url, username, maxObjects, props] = process.argv.slice(2);
if (!url || !username || !maxObjects || !props) {
  throw new Error('usage: retrieve.ts <url> <username> <maxObjects> <comma-separated props>');
}
const client = await VsphereClient.connect({
  url,
  username,
  password: process.env.VSPHERE_PASSWORD ?? '',
  insecure: true, // loopback vcsim with a self-signed certificate
  timeoutMs: 300_000,
});
const started = performance.now();
let objects = 0;
let nameBytes = 0;
// Objects are consumed and dropped as a sync worker would (written out, not kept).
for await (const vm of client.retrieve({
  types: ['VirtualMachine'],
  properties: { VirtualMachine: props.split(',') },
  maxObjects: Number(maxObjects),
})) {
  objects++;
  nameBytes += vm.props.name?.length ?? 0;
}
const ms = performance.now() - started;
await client.close();
process.stdout.write(
  `${JSON.stringify({ objects, ms, nameBytes, maxRssKb: process.resourceUsage().maxRSS })}\n`,
);
