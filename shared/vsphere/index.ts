// vSphere adapter — public surface: the vim25 SOAP client the sync engine, VM operations and the
// resource loader use to talk to vCenter/ESXi (imported as `#shared/vsphere`).
//
//   const vc = await VsphereClient.connect({ url, username, password, ca });  // one session per credential
//   for await (const vm of vc.retrieve({ types: ['VirtualMachine'], maxObjects: 100 })) store(vm);
//   const w = await vc.createWatcher({ types: ['VirtualMachine'] });          // incremental sync
//   const { version, objects } = await w.waitForUpdates(lastVersion, { maxWaitSeconds: 20 });
//   saveForNextInvocation(vc.serialize(), w.ref);                              // cookie: store as a secret
//   … later: VsphereClient.resume(saved, { password }), vc.resumeWatcher(ref)
//
// Errors: SoapFault (faultType), NotAuthenticatedError, InvalidVersionError (fall back to a full
// retrieval), TimeoutError, AbortedError, NetworkError, TaskError.

export type { TaskResult, WebMksTicket } from './actions.ts';
export {
  type ClientOptions,
  type InvokeOptions,
  type OpenVcenterOptions,
  openVcenter,
  type SecretReader,
  type SerializedSession,
  type ServiceContentRefs,
  type VcenterEndpointRow,
  VsphereClient,
  vcenterTls,
} from './client.ts';
export {
  AbortedError,
  InvalidVersionError,
  NetworkError,
  NotAuthenticatedError,
  redact,
  SoapFault,
  TaskError,
  TimeoutError,
  toTypedFault,
  VsphereError,
} from './errors.ts';
export { decodeValue, type XNode } from './parse.ts';
export type {
  CollectedObject,
  CollectOptions,
  RetrieveOptions,
  TraversalStep,
  WithSubtypes,
} from './retrieve.ts';
export { DEFAULT_PROPERTIES } from './specs.ts';
export {
  allowedTargetsEnvName,
  parseTargetPolicy,
  type ResolvedAddress,
  setTargetResolver,
  TargetPolicy,
  TargetRefusedError,
  type TargetResolver,
  targetPolicyFromEnv,
  targetRefusal,
} from './targets.ts';
export type { Admission, CallOptions, TransportOptions } from './transport.ts';
export type * from './types.ts';
export {
  type ObjectUpdate,
  type PropertyChange,
  type UpdateBatch,
  UpdateWatcher,
  type WaitOptions,
  type WatcherRef,
} from './watch.ts';
export { el, escapeXml, moRefEl } from './xml.ts';
