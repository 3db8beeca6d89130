// Provisioning — secondary adapter (vSphere): the levels of a provisioning form read live, in the caller's
// identity, with one PropertyCollector retrieval per level (a ContainerView over the level's container, or a
// traversal of ComputeResource.network / .datastore), never one call per object. Each call goes out through
// `call` (the service's limiter admission and the kind's AbortSignal).
import type { CallOptions, CollectedObject, MoRef, VimValue, VsphereClient } from '#shared/vsphere';
import { networkType } from './inventory-source.ts';
import {
  byName,
  type ComputeItem,
  type DatastoreItem,
  type KindValue,
  maxTemplates,
  type NetworkItem,
  poolTree,
  type ResourceKind,
  type TemplateItem,
} from './kinds.ts';

/** Runs one vSphere call sequence with the options the service adds (admission, signal). */
export type LiveCall = <R>(work: (options: CallOptions) => Promise<R>) => Promise<R>;

/** A compute resource as a live read knows it: its managed type and its hosts. */
export interface LiveComputeResource {
  readonly type: string;
  readonly hosts: readonly string[];
}

const refs = (value: VimValue | undefined): MoRef[] =>
  (Array.isArray(value) ? value : []).filter(
    (item): item is MoRef => item !== null && typeof item === 'object' && 'value' in item && 'type' in item,
  );
const ref = (value: VimValue | undefined): MoRef | undefined => refs([value ?? null])[0];
const text = (value: VimValue | undefined): string | null =>
  typeof value === 'string' ? value : typeof value === 'number' ? String(value) : null;
const num = (value: VimValue | undefined): number | null =>
  value === undefined || value === null || typeof value === 'object' || value === '' ? null : Number(value);
const bool = (value: VimValue | undefined): boolean | null =>
  typeof value === 'boolean' ? value : value === 'true' ? true : value === 'false' ? false : null;

const live = <T>(items: T[], objects: readonly CollectedObject[], tags: string[], total = items.length) => ({
  items,
  total,
  source: 'live' as const,
  tags,
  ...(objects.some((o) => 'missing' in o) ? { partial: true } : {}),
});

export async function liveDatacenters(
  client: VsphereClient,
  call: LiveCall,
): Promise<KindValue<'datacenters'>> {
  const objects = await call((options) =>
    client.collect({
      ...options,
      from: client.serviceContent.rootFolder,
      view: ['Datacenter'],
      properties: { Datacenter: ['name'] },
    }),
  );
  const items = byName(objects.map((o) => ({ id: o.moid, name: String(o.props.name ?? '') })));
  return live(
    items,
    objects,
    items.map((i) => i.id),
  );
}

export async function liveCompute(
  client: VsphereClient,
  call: LiveCall,
  datacenter: string,
): Promise<KindValue<'compute'>> {
  const objects = await call((options) =>
    client.collect({
      ...options,
      from: { type: 'Datacenter', value: datacenter },
      view: ['ComputeResource'],
      properties: { ComputeResource: ['name', 'host'] },
    }),
  );
  const items: ComputeItem[] = byName(
    objects.map((o) => ({
      id: o.moid,
      name: String(o.props.name ?? ''),
      type: o.type === 'ClusterComputeResource' ? 'cluster' : 'standalone',
      hosts: new Set(refs(o.props.host).map((h) => h.value)).size,
    })),
  );
  return live(items, objects, [datacenter, ...items.map((i) => i.id)]);
}

/** Every compute resource the identity can see, by moid: one view of the root folder. */
export async function liveComputeIndex(
  client: VsphereClient,
  call: LiveCall,
): Promise<Record<string, LiveComputeResource>> {
  const objects = await call((options) =>
    client.collect({
      ...options,
      from: client.serviceContent.rootFolder,
      view: ['ComputeResource'],
      properties: { ComputeResource: ['host'] },
    }),
  );
  return Object.fromEntries(
    objects.map((o) => [
      o.moid,
      { type: o.type, hosts: [...new Set(refs(o.props.host).map((h) => h.value))] },
    ]),
  );
}

/** One kind of one compute resource's resources, read live. */
export async function liveResources(
  client: VsphereClient,
  call: LiveCall,
  moid: string,
  computeResource: LiveComputeResource,
  kind: ResourceKind,
): Promise<KindValue> {
  const from: MoRef = { type: computeResource.type, value: moid };
  switch (kind) {
    case 'pools': {
      const objects = await call((options) =>
        client.collect({
          ...options,
          from,
          view: ['ResourcePool'],
          properties: { ResourcePool: ['name', 'parent'] },
        }),
      );
      const items = poolTree(
        objects.map((o) => ({
          id: o.moid,
          name: String(o.props.name ?? ''),
          parent: ref(o.props.parent)?.value ?? null,
        })),
      );
      return live(items, objects, [moid, ...items.map((i) => i.id)]);
    }
    case 'networks': {
      const networks = await call((options) =>
        client.collect({
          ...options,
          from,
          follow: [{ type: 'ComputeResource', path: 'network' }],
          properties: { Network: ['name'], DistributedVirtualPortgroup: ['config.distributedVirtualSwitch'] },
        }),
      );
      const switchIds = [
        ...new Set(networks.flatMap((o) => ref(o.props['config.distributedVirtualSwitch'])?.value ?? [])),
      ];
      const switchRefs = networks.flatMap((o) => ref(o.props['config.distributedVirtualSwitch']) ?? []);
      // The switches' names: one more retrieval, of exactly those switches.
      const switches =
        switchIds.length === 0
          ? []
          : await call((options) =>
              client.collect({
                ...options,
                from: switchIds.map((id) => switchRefs.find((r) => r.value === id) as MoRef),
                properties: { DistributedVirtualSwitch: ['name'] },
              }),
            );
      const switchName = new Map(switches.map((s) => [s.moid, String(s.props.name ?? '')]));
      const items: NetworkItem[] = byName(
        networks.map((o) => {
          const dvs = ref(o.props['config.distributedVirtualSwitch']);
          return {
            id: o.moid,
            name: String(o.props.name ?? ''),
            type: networkType(o.type),
            switch: dvs ? { id: dvs.value, name: switchName.get(dvs.value) ?? null } : null,
          };
        }),
      );
      return live(items, [...networks, ...switches], [moid, ...items.map((i) => i.id), ...switchIds]);
    }
    case 'datastores': {
      const objects = await call((options) =>
        client.collect({
          ...options,
          from,
          follow: [{ type: 'ComputeResource', path: 'datastore' }],
          properties: {
            Datastore: [
              'name',
              'summary.type',
              'summary.capacity',
              'summary.freeSpace',
              'summary.accessible',
              'summary.maintenanceMode',
            ],
          },
        }),
      );
      const items: DatastoreItem[] = byName(
        objects.map((o) => ({
          id: o.moid,
          name: String(o.props.name ?? ''),
          type: text(o.props['summary.type']),
          capacityBytes: num(o.props['summary.capacity']),
          freeBytes: num(o.props['summary.freeSpace']),
          accessible: bool(o.props['summary.accessible']),
          maintenanceMode: text(o.props['summary.maintenanceMode']),
        })),
      );
      return live(items, objects, [moid, ...items.map((i) => i.id)]);
    }
    case 'templates': {
      const objects = await call((options) =>
        client.collect({
          ...options,
          from,
          view: ['VirtualMachine'],
          properties: {
            VirtualMachine: [
              'name',
              'config.template',
              'config.guestFullName',
              'config.hardware.numCPU',
              'config.hardware.memoryMB',
            ],
          },
        }),
      );
      const all: TemplateItem[] = byName(
        objects
          .filter((o) => bool(o.props['config.template']) === true)
          .map((o) => ({
            id: o.moid,
            name: String(o.props.name ?? ''),
            guestFullName: text(o.props['config.guestFullName']),
            numCpu: num(o.props['config.hardware.numCPU']),
            memoryMb: num(o.props['config.hardware.memoryMB']),
          })),
      );
      const items = all.slice(0, maxTemplates);
      return live(items, objects, [moid, ...computeResource.hosts, ...items.map((i) => i.id)], all.length);
    }
  }
}
