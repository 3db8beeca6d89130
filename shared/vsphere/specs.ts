// vSphere adapter — request encoding: PropertyCollector specs (ContainerView traversal, property sets
// per type) and the default property sets of each inventory kind.

import type { InventoryType, MoRef } from './types.ts';
import { el, moRefEl, strings, type Xml } from './xml.ts';

/**
 * Default property paths per inventory kind: what the sync engine stores. Callers may pass their own
 * per type; unknown paths make the server answer InvalidProperty for the whole call, so keep them to
 * paths the vim25 schema defines.
 */
export const DEFAULT_PROPERTIES: { readonly [K in InventoryType]: readonly string[] } = {
  Datacenter: ['name', 'parent', 'vmFolder', 'hostFolder', 'datastoreFolder', 'networkFolder'],
  Folder: ['name', 'parent', 'childType'],
  ClusterComputeResource: [
    'name',
    'parent',
    'resourcePool',
    'host',
    'datastore',
    'network',
    'summary.numHosts',
    'summary.numEffectiveHosts',
    'summary.totalCpu',
    'summary.totalMemory',
    'summary.effectiveCpu',
    'summary.effectiveMemory',
    'summary.overallStatus',
  ],
  HostSystem: [
    'name',
    'parent',
    'runtime.connectionState',
    'runtime.powerState',
    'runtime.inMaintenanceMode',
    'summary.hardware.cpuModel',
    'summary.hardware.numCpuCores',
    'summary.hardware.cpuMhz',
    'summary.hardware.memorySize',
    'summary.config.product.fullName',
    'summary.quickStats.overallCpuUsage',
    'summary.quickStats.overallMemoryUsage',
    'datastore',
    'network',
  ],
  ResourcePool: ['name', 'parent', 'owner', 'resourcePool'],
  Datastore: [
    'name',
    'parent',
    'summary.capacity',
    'summary.freeSpace',
    'summary.uncommitted',
    'summary.type',
    'summary.url',
    'summary.accessible',
  ],
  Network: ['name', 'parent', 'summary.accessible'],
  DistributedVirtualPortgroup: [
    'name',
    'parent',
    'key',
    'config.distributedVirtualSwitch',
    'summary.accessible',
  ],
  VirtualMachine: [
    'name',
    'parent',
    'runtime.powerState',
    'runtime.host',
    'config.uuid',
    'config.instanceUuid',
    'config.template',
    'config.hardware.numCPU',
    'config.hardware.memoryMB',
    'config.guestFullName',
    'guest.guestFullName',
    'guest.ipAddress',
    'resourcePool',
    'summary.storage.committed',
    'datastore',
    'network',
  ],
};

/** A PropertySpec: which paths of which type. */
export function propertySpec(type: string, paths: readonly string[]): Xml {
  return el('propSet', [
    el('type', type),
    el('all', paths.length === 0 ? true : undefined),
    strings('pathSet', paths),
  ]);
}

/** A PropertyFilterSpec over every object of a ContainerView (the view itself skipped). */
export function viewFilterSpec(name: string, view: MoRef, propSets: ReadonlyArray<Xml>): Xml {
  return el(name, [
    ...propSets,
    el('objectSet', [
      moRefEl('obj', view),
      el('skip', true),
      el(
        'selectSet',
        [el('name', 'view'), el('type', 'ContainerView'), el('path', 'view'), el('skip', false)],
        {
          'xsi:type': 'TraversalSpec',
        },
      ),
    ]),
  ]);
}

/** A PropertyFilterSpec over the given objects only. */
export function objectsFilterSpec(
  name: string,
  objects: ReadonlyArray<MoRef>,
  type: string,
  paths: readonly string[],
): Xml {
  return el(name, [
    propertySpec(type, paths),
    ...objects.map((o) => el('objectSet', [moRefEl('obj', o), el('skip', false)])),
  ]);
}
