// vSphere adapter — retrieval: property reads of one object, and a container's inventory page by page
// (ContainerView + RetrievePropertiesEx/ContinueRetrievePropertiesEx), in a VsphereClient's session.
// Reached through the client's `readProperties` and `retrieve` methods.

import type { VsphereClient } from './client.ts';
import { childrenNamed, childText, decodeObjectContent, toMoRef, type XNode } from './parse.ts';
import { DEFAULT_PROPERTIES, objectsFilterSpec, propertySpec, viewFilterSpec } from './specs.ts';
import type { CallOptions } from './transport.ts';
import type { AnyInventoryObject, InventoryType, MoRef, VimValue } from './types.ts';
import { el, moRefEl, strings, type Xml } from './xml.ts';

/** What to retrieve: kinds, their property paths, where from, and the page size. */
export interface RetrieveOptions<T extends InventoryType> extends CallOptions {
  types: readonly T[];
  /** Property paths per kind; kinds left out use {@link DEFAULT_PROPERTIES}. */
  properties?: { readonly [K in T]?: readonly string[] };
  /** Container to search (a Folder, Datacenter, ComputeResource …). @default the root folder */
  container?: MoRef;
  /** Search the container's descendants too. @default true */
  recursive?: boolean;
  /** Objects per page (RetrieveOptions.maxObjects). @default 100 */
  maxObjects?: number;
}

/** The kinds a retrieval of T can yield: vim25 containers include subtypes. */
export type WithSubtypes<T extends InventoryType> =
  | T
  | (T extends 'Network' ? 'DistributedVirtualPortgroup' : never);

interface Page<T extends InventoryType> {
  objects: AnyInventoryObject<WithSubtypes<T>>[];
  token: string | undefined;
}

const RETRIEVE_STREAM = new Set(['objects']);

/** See {@link VsphereClient.readProperties}. */
export async function readProperties(
  client: VsphereClient,
  obj: MoRef,
  paths: readonly string[],
  opts: CallOptions = {},
): Promise<Record<string, VimValue>> {
  const [ret] = await client.call(
    'RetrievePropertiesEx',
    client.serviceContent.propertyCollector,
    objectsFilterSpec('specSet', [obj], obj.type, paths) + el('options', ''),
    { ...opts, idempotent: true },
  );
  const objects = childrenNamed(ret, 'objects');
  return objects[0] ? decodeObjectContent(objects[0]).props : {};
}

/** CreateContainerView over the options' container (the root folder by default), recursive by default. */
export async function createContainerView(
  client: VsphereClient,
  opts: Pick<RetrieveOptions<InventoryType>, 'types' | 'container' | 'recursive'>,
  callOpts: CallOptions,
): Promise<MoRef> {
  const sc = client.serviceContent;
  const [viewRet] = await client.call(
    'CreateContainerView',
    sc.viewManager,
    moRefEl('container', opts.container ?? sc.rootFolder) +
      strings('type', opts.types) +
      el('recursive', opts.recursive ?? true),
    callOpts,
  );
  return toMoRef(viewRet!);
}

/** One PropertySpec per kind: the kind's paths from the options, else {@link DEFAULT_PROPERTIES}. */
export function propertySets<T extends InventoryType>(
  opts: Pick<RetrieveOptions<T>, 'types' | 'properties'>,
): Xml[] {
  return opts.types.map((t) => propertySpec(t, opts.properties?.[t] ?? DEFAULT_PROPERTIES[t]));
}

/** See {@link VsphereClient.retrieve}. */
export async function* retrieveObjects<T extends InventoryType>(
  client: VsphereClient,
  opts: RetrieveOptions<T>,
): AsyncGenerator<AnyInventoryObject<WithSubtypes<T>>, void, undefined> {
  const { signal, timeoutMs } = opts;
  const callOpts = { signal, timeoutMs };
  const sc = client.serviceContent;
  const view = await createContainerView(client, opts, callOpts);
  const firstArgs =
    viewFilterSpec('specSet', view, propertySets(opts)) +
    el('options', [el('maxObjects', opts.maxObjects ?? 100)]);
  let next: Promise<Page<T>> | undefined = page<T>(client, 'RetrievePropertiesEx', firstArgs, callOpts);
  try {
    while (next) {
      const current: Page<T> = await next;
      // Pipeline: ask for the next page before handing this one out.
      next = current.token
        ? page<T>(client, 'ContinueRetrievePropertiesEx', el('token', current.token), callOpts)
        : undefined;
      next?.catch(() => {}); // awaited below or in finally; never an unhandled rejection
      for (const o of current.objects) yield o;
    }
  } finally {
    // The caller stopped early: release the server's result set, then the view.
    const pending = await next?.catch(() => undefined);
    if (pending?.token) {
      await client
        .call('CancelRetrievePropertiesEx', sc.propertyCollector, el('token', pending.token), {
          timeoutMs: 10_000,
        })
        .catch(() => {});
    }
    await client.call('DestroyView', view, '', { timeoutMs: 10_000 }).catch(() => {});
  }
}

async function page<T extends InventoryType>(
  client: VsphereClient,
  method: string,
  args: Xml,
  opts: CallOptions,
): Promise<Page<T>> {
  const objects: AnyInventoryObject<WithSubtypes<T>>[] = [];
  const onItem = (n: XNode) => {
    const o = decodeObjectContent(n);
    const obj = { type: o.type, moid: o.moid, props: o.props } as AnyInventoryObject<WithSubtypes<T>>;
    if (o.missing) obj.missing = o.missing;
    objects.push(obj);
  };
  // A continuation is not idempotent (the server advances its cursor), so only the first page retries.
  const [ret] = await client.call(method, client.serviceContent.propertyCollector, args, {
    ...opts,
    idempotent: method === 'RetrievePropertiesEx',
    stream: RETRIEVE_STREAM,
    onItem,
  });
  return { objects, token: childText(ret, 'token') };
}

/** One hop of a traversal: from an object of `type`, follow the reference(s) held in property `path`. */
export interface TraversalStep {
  readonly type: string;
  readonly path: string;
  /** Hops taken from what this one reaches. */
  readonly then?: readonly TraversalStep[];
  /** Take this hop again from what it reaches (a resource pool's child pools, at any depth). */
  readonly recursive?: boolean;
}

/** What {@link collectObjects} reads: where from, which objects, which properties. */
export interface CollectOptions extends CallOptions {
  /** The starting object; a list reads exactly those objects (no view, no traversal). */
  readonly from: MoRef | readonly MoRef[];
  /** The objects read are `from`'s descendants of these types (a ContainerView, destroyed after) … */
  readonly view?: readonly string[];
  /** … or what these hops from `from` reach (no view: one call). */
  readonly follow?: readonly TraversalStep[];
  /** Property paths per type (a type's paths also apply to its subtypes). */
  readonly properties: Readonly<Record<string, readonly string[]>>;
  /** Objects per page. @default 1000 */
  readonly maxObjects?: number;
}

/** An object as {@link collectObjects} reads it: any managed type, its properties decoded. */
export interface CollectedObject {
  readonly type: string;
  readonly moid: string;
  readonly props: Record<string, VimValue>;
  /** Properties the server could not read for this object (e.g. NoPermission). */
  readonly missing?: readonly { path: string; faultType: string }[];
}

const isList = (from: CollectOptions['from']): from is readonly MoRef[] => Array.isArray(from);

let stepNames = 0;
function traversalXml(step: TraversalStep): Xml {
  const name = `hop${++stepNames}`;
  return el(
    'selectSet',
    [
      el('name', name),
      el('type', step.type),
      el('path', step.path),
      el('skip', false),
      ...(step.then ?? []).map(traversalXml),
      ...(step.recursive ? [el('selectSet', [el('name', name)])] : []),
    ],
    { 'xsi:type': 'TraversalSpec' },
  );
}

/**
 * One PropertyCollector retrieval (RetrievePropertiesEx, continued while the server pages) of the objects a
 * ContainerView or a traversal from `from` reaches, with the given properties: never one call per object.
 */
export async function collectObjects(
  client: VsphereClient,
  opts: CollectOptions,
): Promise<CollectedObject[]> {
  const callOpts: CallOptions = {
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    ...(opts.admit ? { admit: opts.admit } : {}),
  };
  const propSets = Object.entries(opts.properties).map(([type, paths]) => propertySpec(type, paths));
  const from = opts.from;
  const view =
    opts.view && !isList(from)
      ? await createContainerView(client, { types: opts.view as never, container: from }, callOpts)
      : undefined;
  try {
    const objectSets = isList(from)
      ? from.map((obj) => el('objectSet', [moRefEl('obj', obj), el('skip', false)]))
      : [el('objectSet', [moRefEl('obj', from), el('skip', true), ...(opts.follow ?? []).map(traversalXml)])];
    const specSet = view
      ? viewFilterSpec('specSet', view, propSets)
      : el('specSet', [...propSets, ...objectSets]);
    const objects: CollectedObject[] = [];
    let current: Page<InventoryType> = await page(
      client,
      'RetrievePropertiesEx',
      specSet + el('options', [el('maxObjects', opts.maxObjects ?? 1000)]),
      callOpts,
    );
    for (;;) {
      for (const o of current.objects) objects.push(o as CollectedObject);
      if (!current.token) return objects;
      current = await page(client, 'ContinueRetrievePropertiesEx', el('token', current.token), callOpts);
    }
  } finally {
    if (view) await client.call('DestroyView', view, '', { timeoutMs: 10_000 }).catch(() => {});
  }
}
