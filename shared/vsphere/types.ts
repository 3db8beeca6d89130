// vSphere adapter — domain types: managed object references, decoded property values, and the typed
// property sets of the inventory object kinds the sync engine reads.

/** A vim25 ManagedObjectReference: `{ type: 'VirtualMachine', value: 'vm-42' }`. */
export interface MoRef {
  readonly type: string;
  readonly value: string;
}

/**
 * A decoded vim25 value. Primitives follow their xsi:type (numbers for int/long/short/byte/float/
 * double, booleans for boolean, strings for strings, enums and dateTime); references become
 * {@link MoRef}; `ArrayOf*` become arrays; data objects become plain objects whose `_type` is their
 * xsi:type when the server sent one.
 */
export type VimValue = string | number | boolean | null | MoRef | VimValue[] | { [field: string]: VimValue };

/** The inventory object kinds this client retrieves with typed property sets. */
export type InventoryType =
  | 'Datacenter'
  | 'Folder'
  | 'ClusterComputeResource'
  | 'HostSystem'
  | 'ResourcePool'
  | 'Datastore'
  | 'Network'
  | 'DistributedVirtualPortgroup'
  | 'VirtualMachine';

/** Properties of a VirtualMachine, by property path. Templates are VMs with `config.template` true. */
export interface VirtualMachineProps {
  name: string;
  parent: MoRef;
  'runtime.powerState': 'poweredOn' | 'poweredOff' | 'suspended';
  'runtime.host': MoRef;
  'config.uuid': string;
  'config.instanceUuid': string;
  'config.template': boolean;
  'config.hardware.numCPU': number;
  'config.hardware.memoryMB': number;
  'config.guestFullName': string;
  'guest.guestFullName': string;
  'guest.ipAddress': string;
  resourcePool: MoRef;
  'summary.storage.committed': number;
  datastore: MoRef[];
  network: MoRef[];
}

/** Properties of a HostSystem, by property path. */
export interface HostSystemProps {
  name: string;
  parent: MoRef;
  'runtime.connectionState': 'connected' | 'disconnected' | 'notResponding';
  'runtime.powerState': 'poweredOn' | 'poweredOff' | 'standBy' | 'unknown';
  'runtime.inMaintenanceMode': boolean;
  'summary.hardware.cpuModel': string;
  'summary.hardware.numCpuCores': number;
  'summary.hardware.cpuMhz': number;
  'summary.hardware.memorySize': number;
  'summary.config.product.fullName': string;
  'summary.quickStats.overallCpuUsage': number;
  'summary.quickStats.overallMemoryUsage': number;
  datastore: MoRef[];
  network: MoRef[];
}

/** Properties of a Datastore, by property path. */
export interface DatastoreProps {
  name: string;
  parent: MoRef;
  'summary.capacity': number;
  'summary.freeSpace': number;
  'summary.uncommitted': number;
  'summary.type': string;
  'summary.url': string;
  'summary.accessible': boolean;
}

/** Properties of a ClusterComputeResource, by property path. */
export interface ClusterComputeResourceProps {
  name: string;
  parent: MoRef;
  resourcePool: MoRef;
  host: MoRef[];
  datastore: MoRef[];
  network: MoRef[];
  'summary.numHosts': number;
  'summary.numEffectiveHosts': number;
  'summary.totalCpu': number;
  'summary.totalMemory': number;
  'summary.effectiveCpu': number;
  'summary.effectiveMemory': number;
  'summary.overallStatus': 'gray' | 'green' | 'yellow' | 'red';
}

/** Properties of a Datacenter, by property path. */
export interface DatacenterProps {
  name: string;
  parent: MoRef;
  vmFolder: MoRef;
  hostFolder: MoRef;
  datastoreFolder: MoRef;
  networkFolder: MoRef;
}

/** Properties of a Folder, by property path. */
export interface FolderProps {
  name: string;
  parent: MoRef;
  childType: string[];
}

/** Properties of a ResourcePool, by property path. */
export interface ResourcePoolProps {
  name: string;
  parent: MoRef;
  owner: MoRef;
  resourcePool: MoRef[];
}

/** Properties of a Network (standard portgroup), by property path. */
export interface NetworkProps {
  name: string;
  parent: MoRef;
  'summary.accessible': boolean;
}

/** Properties of a DistributedVirtualPortgroup, by property path. */
export interface DistributedVirtualPortgroupProps extends NetworkProps {
  key: string;
  'config.distributedVirtualSwitch': MoRef;
}

/** The typed property map of each inventory kind. */
export interface InventoryProps {
  Datacenter: DatacenterProps;
  Folder: FolderProps;
  ClusterComputeResource: ClusterComputeResourceProps;
  HostSystem: HostSystemProps;
  ResourcePool: ResourcePoolProps;
  Datastore: DatastoreProps;
  Network: NetworkProps;
  DistributedVirtualPortgroup: DistributedVirtualPortgroupProps;
  VirtualMachine: VirtualMachineProps;
}

/** A property the server could not read for one object (RetrieveResult missingSet). */
export interface MissingProperty {
  path: string;
  faultType: string;
}

/**
 * One retrieved object. `props` holds the requested properties that are set (vim25 omits unset ones,
 * e.g. `resourcePool` of a template); properties outside the typed set decode as {@link VimValue}.
 */
export interface InventoryObject<T extends InventoryType = InventoryType> {
  type: T;
  moid: string;
  props: Partial<InventoryProps[T]> & Record<string, VimValue | undefined>;
  missing?: MissingProperty[];
}

/** Any retrieved object, typed by its kind (a discriminated union on `type`). */
export type AnyInventoryObject<T extends InventoryType = InventoryType> = T extends InventoryType
  ? InventoryObject<T>
  : never;
