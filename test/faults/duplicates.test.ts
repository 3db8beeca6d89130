// Fault suite — 10 % of queue messages delivered twice (the local SQS loses every 10th delete once, so that
// message comes back with its id and body, as SQS's at-least-once delivery allows), under a crowd asking for
// thumbnails while the vCenter changes and is synced every 2 s. No side effect happens twice: each VM's screen
// is fetched from the vCenter once, each changed VM row is written once and no other row at all, no queue
// receives the same message twice, and no secret is written.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVcsim, type VcsimService } from '../../infra/local/services/vcsim.ts';
import type { SendMessageInput } from '../../infra/local/sqs/store.ts';
import { VsphereClient } from '../../shared/vsphere/index.ts';
import { type FaultStack, registerVcenter, startFaultStack, until } from './harness.ts';
import { startLoad } from './load.ts';

const vcenterId = 'vc-fault-dup';
const password = 'fault-dup-pass';
let stack: FaultStack;
let vcsim: VcsimService;
let vmIds: string[];

beforeAll(async () => {
  [stack, vcsim] = await Promise.all([
    startFaultStack('duplicates', {
      scheduleOverrides: { 'sync-dispatcher': { everySeconds: 2 } },
      env: { THUMBNAIL_CACHE_TTL: '600', ESXI_MAX_CONCURRENT: '4', ESXI_MIN_INTERVAL: '0.02' },
    }),
    startVcsim({ vms: 30, password }),
  ]);
  stack.runtime.sqsStore.injectDuplicates(10);
  await registerVcenter(
    stack,
    { id: vcenterId, url: vcsim.url, username: vcsim.username, password },
    { syncIntervalSeconds: 2 },
  );
  const list = await stack.call('GET', `/api/v1/vms?vcenter=${vcenterId}&limit=100&power_state=poweredOn`);
  vmIds = (list.json.items as { id: string }[]).map((vm) => vm.id);
  expect(vmIds.length).toBeGreaterThanOrEqual(24);
});

afterAll(async () => {
  await stack?.stop();
  await VsphereClient.closeAll();
  await vcsim?.stop();
});

describe('fault: 10 % of queue messages delivered twice', () => {
  it('no side effect happens twice: vCenter calls, rows written, messages sent, secrets written', async () => {
    // Prepare: count every committed write to the VM rows (an AFTER trigger: rolled-back writes leave no row),
    // every accepted send, and what the secret store holds.
    await stack.pool.query(`CREATE TABLE fault_vm_writes (moid text, op text, at timestamptz DEFAULT now())`);
    // SECURITY DEFINER: the trigger fires in the functions' own database roles, which may not write this table.
    await stack.pool.query(`CREATE FUNCTION fault_vm_write() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
      BEGIN
        INSERT INTO fault_vm_writes (moid, op) VALUES (COALESCE(NEW.moid, OLD.moid), TG_OP);
        RETURN NULL;
      END $$`);
    await stack.pool.query(`CREATE TRIGGER fault_vm_writes AFTER INSERT OR UPDATE OR DELETE ON vms
      FOR EACH ROW EXECUTE FUNCTION fault_vm_write()`);
    const store = stack.runtime.sqsStore;
    const sent: { queue: string; body: string }[] = [];
    const send = store.send.bind(store);
    store.send = (name: string, input: SendMessageInput) => {
      const result = send(name, input);
      if (!result.duplicate) sent.push({ queue: name, body: input.body });
      return result;
    };
    const secretsFile = join(stack.dir, 'secrets.json');
    const secretsBefore = await readFile(secretsFile, 'utf8');
    const before = store.injectedDuplicates().messageIds.length;
    await vcsim.resetStats();

    const thumbnailVms = vmIds.slice(0, 16);
    const changedVms = vmIds.slice(16, 20);
    const load = startLoad({
      baseUrl: stack.runtime.httpUrl,
      token: stack.tokens.viewer,
      loops: 4,
      pauseMs: 50,
      next: (n) =>
        n % 3 === 2
          ? { kind: 'read', method: 'GET', path: `/api/v1/vms?vcenter=${vcenterId}&limit=20` }
          : {
              kind: 'thumbnail',
              method: 'GET',
              path: `/api/v1/vms/${thumbnailVms[n % thumbnailVms.length]}/thumbnail`,
            },
    });
    try {
      // Act: the vCenter changes (4 VMs powered off, one at a time) while the crowd and the sync run.
      const client = await VsphereClient.connect({
        url: vcsim.url,
        username: vcsim.username,
        password,
        insecure: true,
        pooled: false,
      });
      for (const id of changedVms) {
        const moid = id.slice(vcenterId.length + 1);
        await client.waitForTask(await client.powerOffVm({ type: 'VirtualMachine', value: moid }));
        await new Promise((r) => setTimeout(r, 500));
      }
      await client.close();
      await until('the changes visible and every thumbnail served', async () => {
        const served = new Set(load.samples.filter((s) => s.status === 200).map((s) => s.path));
        if (!thumbnailVms.every((vm) => served.has(`/api/v1/vms/${vm}/thumbnail`))) return undefined;
        const off = await stack.call(
          'GET',
          `/api/v1/vms?vcenter=${vcenterId}&limit=100&power_state=poweredOff`,
        );
        const ids = new Set((off.json.items as { id: string }[] | undefined)?.map((vm) => vm.id));
        return changedVms.every((id) => ids.has(id)) ? true : undefined;
      });
      // Enough duplicates delivered and handled (their consumers finished) for the counts to mean something.
      await until(
        'at least 5 duplicate deliveries handled',
        async () =>
          store.injectedDuplicates().messageIds.length - before >= 5 &&
          store.queueAttributes('ops-normal.fifo').ApproximateNumberOfMessagesNotVisible === '0'
            ? true
            : undefined,
        180_000,
      );
    } finally {
      await load.stop();
    }

    // Assess: each VM's screen came from the vCenter once, though some of its jobs were delivered twice.
    const stats = await vcsim.stats();
    expect(stats.screen.served).toBe(thumbnailVms.length);
    // Each changed VM row was written once, and no other VM row at all.
    const { rows } = await stack.pool.query<{ moid: string; n: number }>(
      'SELECT moid, count(*)::int AS n FROM fault_vm_writes GROUP BY moid ORDER BY moid',
    );
    expect(rows).toEqual(
      changedVms
        .map((id) => ({ moid: id.slice(vcenterId.length + 1), n: 1 }))
        .sort((a, b) => (a.moid < b.moid ? -1 : 1)),
    );
    // No queue was sent the same message twice (a redelivered consumer's sends are deduplicated).
    const seen = new Set<string>();
    const repeated = sent.filter(({ queue, body }) => {
      const key = `${queue}\n${body}`;
      const again = seen.has(key);
      seen.add(key);
      return again;
    });
    expect(sent.length).toBeGreaterThan(0);
    expect(repeated).toEqual([]);
    // No secret was written (the queue consumers only read them).
    expect(await readFile(secretsFile, 'utf8')).toBe(secretsBefore);
    const duplicates = store.injectedDuplicates();
    console.info(
      `duplicates: ${duplicates.messageIds.length - before} of ${duplicates.deletes} deliveries delivered twice; ${sent.length} messages sent`,
    );
  });
});
