// Integration tests — the inventory query use cases on real PostgreSQL and Redis: filters, keyset pages,
// the generation-scoped cache, 400s and 404s, and exact summary counts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadRequestError, NotFoundError } from '../../shared/http/errors.ts';
import {
  bumpGeneration,
  createInventoryReader,
  createTieredQueryCache,
  type InventoryReader,
  type ListKind,
  parseListQuery,
  parseSummaryQuery,
} from '../../shared/inventory/index.ts';
import { createListPager, type SearchPlan, type SearchTuning } from '../../shared/inventory/queries.ts';
import { type ExpectedVm, type InventoryFixture, inventoryFixture } from './inventory-fixture.ts';

describe('inventory queries', () => {
  let fx: InventoryFixture;
  let reader: InventoryReader;

  beforeAll(async () => {
    fx = await inventoryFixture('inv_queries');
    reader = createInventoryReader({
      cursorKey: Buffer.alloc(32, 7),
      db: fx.pool,
      cache: createTieredQueryCache({ redis: fx.redis, ttlSeconds: 60 }),
    });
  });
  afterAll(async () => {
    await fx?.dispose();
  });

  /** Every page of a list, following nextCursor. */
  async function everyPage(kind: ListKind, params: Record<string, string>) {
    const ids: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = (
        await reader.list(parseListQuery(kind, { ...params, ...(cursor ? { cursor } : {}) }))
      ).parse();
      ids.push(...page.items.map((item) => (item as { id: string }).id));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor && pages < 1000);
    return { ids, pages };
  }

  const idsOf = (vms: readonly ExpectedVm[]) => vms.map((vm) => vm.id);
  const listed = () => fx.vms.filter((vm) => !vm.template);

  it('pages through every VM exactly once, in (name, vCenter, moid) order', async () => {
    const { ids, pages } = await everyPage('vms', { limit: '7' });

    expect(ids).toEqual(idsOf(listed()));
    expect(new Set(ids).size).toBe(ids.length);
    expect(pages).toBe(Math.ceil(listed().length / 7));
  });

  it.each([
    ['vcenter', { vcenter: 'vc-b' }, (vm: ExpectedVm) => vm.vcenterId === 'vc-b'],
    ['power_state', { power_state: 'suspended' }, (vm: ExpectedVm) => vm.powerState === 'suspended'],
    ['power_state on', { power_state: 'poweredOn' }, (vm: ExpectedVm) => vm.powerState === 'poweredOn'],
    [
      'cluster',
      { cluster: 'vc-a:domain-c8' },
      (vm: ExpectedVm) => vm.vcenterId === 'vc-a' && vm.clusterMoid === 'domain-c8',
    ],
    [
      'host',
      { host: 'vc-b:host-2' },
      (vm: ExpectedVm) => vm.vcenterId === 'vc-b' && vm.hostMoid === 'host-2',
    ],
    ['datacenter', { datacenter: 'vc-a:datacenter-1' }, (vm: ExpectedVm) => vm.vcenterId === 'vc-a'],
    [
      'guest_os',
      { guest_os: 'windows2019srv_64Guest' },
      (vm: ExpectedVm) => vm.guestOs === 'windows2019srv_64Guest',
    ],
    ['q', { q: 'APP-01' }, (vm: ExpectedVm) => vm.name.includes('app-01')],
    [
      'combined',
      { vcenter: 'vc-a', power_state: 'poweredOff', q: 'app' },
      (vm: ExpectedVm) => vm.vcenterId === 'vc-a' && vm.powerState === 'poweredOff',
    ],
  ])('filters by %s, across pages', async (_, params, matches) => {
    const { ids } = await everyPage('vms', { ...params, limit: '9' });

    expect(ids).toEqual(idsOf(listed().filter(matches)));
    expect(ids.length).toBeGreaterThan(0);
  });

  it('lists templates only when asked', async () => {
    const { ids } = await everyPage('vms', { template: 'true' });

    expect(ids).toEqual(idsOf(fx.vms.filter((vm) => vm.template)));
  });

  it('treats LIKE wildcards in a search literally', async () => {
    const page = (await reader.list(parseListQuery('vms', { q: 'app%_' }))).parse();

    expect(page.items).toEqual([]);
  });

  describe('name search plans', () => {
    // "db-0…" matches only vc-b's last 40 VMs, which sort after all 160 "app-…" entries: the case where an
    // ordered walk of the name index must pass everything else before its first match.
    const late = (vm: ExpectedVm) => !vm.template && vm.name.includes('db-0');
    const plans: [string, SearchTuning, SearchPlan][] = [
      ['trigram', { trigramFirst: true }, 'trigram'],
      ['window, then trigram', { trigramFirst: false, windowRows: 20 }, 'window+trigram'],
      ['window, then walk', { trigramFirst: false, windowRows: 20, trigramMaxRows: 0 }, 'window+walk'],
      ['window alone', { trigramFirst: false, windowRows: 1_000 }, 'window'],
    ];

    it.each(plans)('pages a late-sorting term exactly once, in order, by %s', async (_, search, plan) => {
      const pager = createListPager({ cursorKey: Buffer.alloc(32, 7), search });
      const ids: string[] = [];
      const used = new Set<SearchPlan | undefined>();
      let cursor: string | undefined;
      do {
        const query = parseListQuery('vms', { q: 'DB-0', limit: '7', ...(cursor ? { cursor } : {}) });
        const result = await pager.page(fx.pool, query);
        ids.push(...result.page.items.map((item) => (item as { id: string }).id));
        used.add(result.plan);
        cursor = result.page.nextCursor ?? undefined;
      } while (cursor && ids.length < 1000);

      expect(ids).toEqual(idsOf(fx.vms.filter(late)));
      expect(used.has(plan)).toBe(true);
    });

    it.each(plans)('gives the same pages with other filters by %s', async (_, search) => {
      const pager = createListPager({ cursorKey: Buffer.alloc(32, 7), search });
      const query = parseListQuery('vms', {
        q: 'b-0',
        power_state: 'poweredOff',
        vcenter: 'vc-b',
        limit: '4',
      });

      const { page } = await pager.page(fx.pool, query);

      expect(page.items).toHaveLength(4);
      expect(page.items.map((item) => (item as { id: string }).id)).toEqual(
        idsOf(
          fx.vms.filter(
            (vm) =>
              !vm.template &&
              vm.vcenterId === 'vc-b' &&
              vm.powerState === 'poweredOff' &&
              vm.name.includes('b-0'),
          ),
        ).slice(0, 4),
      );
    });
  });

  it('pages hosts, datastores and clusters with their filters', async () => {
    expect((await everyPage('hosts', { limit: '2' })).ids).toHaveLength(6);
    expect((await everyPage('hosts', { cluster: 'vc-a:domain-c8' })).ids).toEqual([
      'vc-a:host-1',
      'vc-a:host-3',
    ]);
    expect((await everyPage('datastores', { vcenter: 'vc-b', q: 'vmfs' })).ids).toEqual([
      'vc-b:datastore-1',
      'vc-b:datastore-2',
    ]);
    expect((await everyPage('clusters', { limit: '3' })).ids).toEqual([
      'vc-a:domain-c7',
      'vc-a:domain-c8',
      'vc-b:domain-c7',
      'vc-b:domain-c8',
    ]);
  });

  it('answers one VM by id, and 404 for an unknown one', async () => {
    const { vm } = (await reader.getVm('vc-b:vm-41')).parse();

    expect(vm).toMatchObject({
      id: 'vc-b:vm-41',
      name: 'db-040',
      hostId: 'vc-b:host-1',
      clusterId: 'vc-b:domain-c7',
    });
    await expect(reader.getVm('vc-b:vm-9999')).rejects.toBeInstanceOf(NotFoundError);
    await expect(reader.getVm('no-colon')).rejects.toBeInstanceOf(BadRequestError);
  });

  it('counts exactly in the summary', async () => {
    const { totals, vcenters, cached } = (await reader.summary(parseSummaryQuery({}))).parse();
    const count = (filter: (vm: ExpectedVm) => boolean) => fx.vms.filter(filter).length;

    expect(cached).toBe(false);
    expect(totals).toEqual({
      vcenters: 2,
      vms: count((vm) => !vm.template),
      templates: count((vm) => Boolean(vm.template)),
      powerState: {
        poweredOn: count((vm) => !vm.template && vm.powerState === 'poweredOn'),
        poweredOff: count((vm) => !vm.template && vm.powerState === 'poweredOff'),
        suspended: count((vm) => !vm.template && vm.powerState === 'suspended'),
      },
      hosts: 6,
      datastores: 4,
      clusters: 4,
    });
    expect(vcenters.find((vc) => vc.id === 'vc-b')).toMatchObject({
      vms: count((vm) => vm.vcenterId === 'vc-b' && !vm.template),
      powerState: {
        suspended: count((vm) => vm.vcenterId === 'vc-b' && !vm.template && vm.powerState === 'suspended'),
      },
    });
  });

  describe('query cache', () => {
    it('answers a repeat from the cache until the vCenter is bumped', async () => {
      const query = async () =>
        (await reader.list(parseListQuery('vms', { vcenter: 'vc-a', limit: '5' }))).parse();

      const first = await query();
      const second = await query();
      await bumpGeneration('vc-a', fx.redis);
      const third = await query();

      expect([first.cached, second.cached, third.cached]).toEqual([false, true, false]);
      expect(second.items).toEqual(first.items);
    });

    it("keeps vCenter A's entries when vCenter B is bumped", async () => {
      const query = () => reader.list(parseListQuery('vms', { vcenter: 'vc-a', power_state: 'poweredOn' }));
      await query();

      await bumpGeneration('vc-b', fx.redis);

      expect((await query()).cached).toBe(true);
    });

    it('invalidates queries across vCenters on any bump', async () => {
      const query = () => reader.list(parseListQuery('vms', { limit: '3' }));
      await query();
      expect((await query()).cached).toBe(true);

      await bumpGeneration('vc-b', fx.redis);

      expect((await query()).cached).toBe(false);
    });

    it('shows a change after the sync writes it and bumps', async () => {
      const before = (await reader.getVm('vc-a:vm-2')).parse();
      expect((await reader.getVm('vc-a:vm-2')).cached).toBe(true);

      await fx.pool.query(
        `UPDATE vms SET power_state = 'suspended' WHERE vcenter_id = 'vc-a' AND moid = 'vm-2'`,
      );
      const stale = (await reader.getVm('vc-a:vm-2')).parse();
      await bumpGeneration('vc-a', fx.redis);
      const fresh = (await reader.getVm('vc-a:vm-2')).parse();

      expect(before.vm.powerState).toBe('poweredOn');
      expect(stale).toMatchObject({ cached: true, vm: { powerState: 'poweredOn' } });
      expect(fresh).toMatchObject({ cached: false, vm: { powerState: 'suspended' } });
    });

    it('keys entries by the normalised query, not its spelling', async () => {
      await reader.list(parseListQuery('vms', { q: 'app-00', vcenter: 'vc-b' }));

      expect((await reader.list(parseListQuery('vms', { vcenter: 'vc-b', q: ' APP-00 ' }))).cached).toBe(
        true,
      );
    });
  });
});
