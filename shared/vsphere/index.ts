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

export {
  type ClientOptions,
  type InvokeOptions,
  type ObjectUpdate,
  type PropertyChange,
  type RetrieveOptions,
  type SerializedSession,
  type ServiceContentRefs,
  type TaskResult,
  type UpdateBatch,
  UpdateWatcher,
  VsphereClient,
  type WaitOptions,
  type WatcherRef,
  type WebMksTicket,
  type WithSubtypes,
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
export { DEFAULT_PROPERTIES } from './specs.ts';
export type { Admission, CallOptions, TransportOptions } from './transport.ts';
export type * from './types.ts';
export { el, escapeXml, moRefEl } from './xml.ts';
