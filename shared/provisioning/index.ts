// Provisioning — public surface (`#shared/provisioning`): the provisioning form's hierarchy (datacenters →
// compute resources → pools, networks, datastores, templates) per caller identity, from the inventory or live,
// through the tiered cache, with per-kind deadlines, partial and stale answers and LOW completions.

export {
  CredentialStore,
  type KeyWrapper,
  kmsKeyWrapper,
  localKeyWrapper,
  type PersonalCredential,
} from './credentials.ts';
export { credentialSchema, PersonalSessions, registerCredential, removeCredential } from './identity.ts';
export {
  type ComputeItem,
  type DatacenterItem,
  type DatastoreItem,
  type Kind,
  type KindAnswer,
  type KindStatus,
  kinds,
  moidParam,
  type NetworkItem,
  type PoolItem,
  type ProvisioningAnswer,
  type ResourceKind,
  type ResourcesQuery,
  resourceKinds,
  resourcesQuerySchema,
  type TemplateItem,
} from './kinds.ts';
export { provisioningMetricNames } from './metrics.ts';
export {
  computeOf,
  datacentersOf,
  type ProvisioningDeps,
  type ProvisioningIdentity,
  resourcesOf,
  runProvisioningLoad,
  type ServeOptions,
} from './resources.ts';
export { type ProvisioningService, provisioningService } from './service.ts';
export { loadProvisioningSettings, type ProvisioningSettings } from './settings.ts';
