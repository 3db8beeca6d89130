// Unit tests — inventory query parsing: defaults, normalisation, and 400s that name the offending field.
import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../../../shared/http/errors.ts';
import { encodeCursor } from '../../../shared/inventory/cursor.ts';
import { openCursor, parseListQuery, parseSummaryQuery } from '../../../shared/inventory/filters.ts';

function fieldsOf(run: () => unknown): Record<string, string> {
  try {
    run();
  } catch (error) {
    if (error instanceof BadRequestError) return error.fields;
    throw error;
  }
  throw new Error('expected a BadRequestError');
}

describe('VM list query parsing', () => {
  it('defaults to 100 rows, no templates, first page', () => {
    const query = parseListQuery('vms', {});

    expect(query.limit).toBe(100);
    expect(query.after).toBeUndefined();
    expect(query.filters.template).toBe('exclude');
    expect(query.filters.vcenterId).toBeUndefined();
  });

  it('takes the vCenter scope from a cluster or host id', () => {
    const query = parseListQuery('vms', { cluster: 'vc-7:domain-c9', host: 'vc-7:host-3' });

    expect(query.filters).toMatchObject({ vcenterId: 'vc-7', clusterMoid: 'domain-c9', hostMoid: 'host-3' });
  });

  it('refuses references into two different vCenters', () => {
    expect(
      fieldsOf(() => parseListQuery('vms', { vcenter: 'vc-1', cluster: 'vc-2:domain-c7' })),
    ).toHaveProperty('cluster');
  });

  it('says trigram search needs 3 characters', () => {
    const fields = fieldsOf(() => parseListQuery('vms', { q: 'ab' }));

    expect(fields.q).toMatch(/trigram.*3 characters/);
  });

  it('lower-cases and trims the name search', () => {
    expect(parseListQuery('vms', { q: '  Prod-WEB ' }).filters.q).toBe('prod-web');
  });

  it.each([
    ['limit', { limit: '0' }],
    ['limit', { limit: '1001' }],
    ['limit', { limit: 'ten' }],
    ['power_state', { power_state: 'on' }],
    ['template', { template: 'yes' }],
    ['vcenter', { vcenter: 'vc 1' }],
    ['host', { host: 'host-12' }],
    ['cursor', { cursor: 'garbage!' }],
  ])('refuses a bad %s', (field, params) => {
    expect(fieldsOf(() => parseListQuery('vms', params))).toHaveProperty(field);
  });

  it('names unknown parameters instead of ignoring them', () => {
    expect(fieldsOf(() => parseListQuery('vms', { powerstate: 'poweredOn' }))).toHaveProperty('powerstate');
  });

  it('maps template=true to the template list and template=false to the VM list', () => {
    expect(parseListQuery('vms', { template: 'true' }).filters.template).toBe('only');
    expect(parseListQuery('vms', { template: 'false' }).filters.template).toBe('exclude');
  });

  it('gives equal queries equal fingerprints, whatever the parameter order or limit', () => {
    const a = parseListQuery('vms', { power_state: 'poweredOn', vcenter: 'vc-1', limit: '10' });
    const b = parseListQuery('vms', { vcenter: 'vc-1', power_state: 'poweredOn', limit: '500' });
    const c = parseListQuery('vms', { vcenter: 'vc-1', power_state: 'poweredOff' });

    expect(a.fingerprint).toBe(b.fingerprint);
    expect(a.fingerprint).not.toBe(c.fingerprint);
  });

  it('opens a cursor issued for the same filters and refuses it on others, or when unsigned', () => {
    const key = Buffer.alloc(32, 3);
    const first = parseListQuery('vms', { vcenter: 'vc-1' });
    const cursor = encodeCursor(['x', 'vc-1', 'vm-9'], first.fingerprint, key);

    expect(openCursor(parseListQuery('vms', { vcenter: 'vc-1', cursor }), key).after).toEqual([
      'x',
      'vc-1',
      'vm-9',
    ]);
    expect(
      fieldsOf(() => openCursor(parseListQuery('vms', { vcenter: 'vc-2', cursor }), key)),
    ).toHaveProperty('cursor');
    const unsigned = cursor.split('.')[0] as string;
    expect(
      fieldsOf(() => openCursor(parseListQuery('vms', { vcenter: 'vc-1', cursor: unsigned }), key)),
    ).toHaveProperty('cursor');
  });
});

describe('other list and summary parsing', () => {
  it('accepts the filters of each list and refuses the VM-only ones', () => {
    expect(
      parseListQuery('hosts', { cluster: 'vc-1:domain-c7', connection_state: 'connected' }).filters,
    ).toMatchObject({
      vcenterId: 'vc-1',
      connectionState: 'connected',
    });
    expect(parseListQuery('datastores', { type: 'vsan' }).filters.datastoreType).toBe('vsan');
    expect(fieldsOf(() => parseListQuery('clusters', { power_state: 'poweredOn' }))).toHaveProperty(
      'power_state',
    );
  });

  it('scopes the summary to one vCenter when asked', () => {
    expect(parseSummaryQuery({ vcenter: 'vc-3' })).toEqual({ vcenterId: 'vc-3' });
    expect(fieldsOf(() => parseSummaryQuery({ q: 'abc' }))).toHaveProperty('q');
  });
});
