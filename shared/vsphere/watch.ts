// vSphere adapter — update watcher: incremental sync over a dedicated PropertyCollector (CreateFilter +
// WaitForUpdatesEx: enter/modify/leave, truncated sets continued), in a VsphereClient's session.
// Reached through the client's `createWatcher` and `resumeWatcher` methods.

import type { VsphereClient } from './client.ts';
import { child, childrenNamed, childText, decodeValue, toMoRef, type XNode } from './parse.ts';
import { createContainerView, propertySets, type RetrieveOptions } from './retrieve.ts';
import { viewFilterSpec } from './specs.ts';
import type { CallOptions } from './transport.ts';
import type { InventoryType, MoRef, VimValue } from './types.ts';
import { el } from './xml.ts';

/** One property change of an object update. */
export interface PropertyChange {
  name: string;
  op: 'add' | 'remove' | 'assign' | 'indirectRemove';
  value: VimValue | undefined;
}

/** One object's update within an update set. */
export interface ObjectUpdate {
  kind: 'enter' | 'modify' | 'leave';
  type: string;
  moid: string;
  changes: PropertyChange[];
}

/** The result of one WaitForUpdatesEx. `truncated`: call again at once with `version` for the rest. */
export interface UpdateBatch {
  version: string;
  truncated: boolean;
  objects: ObjectUpdate[];
}

/** The server-side objects of a watch: serialisable so a later invocation can resume it. */
export interface WatcherRef {
  collector: MoRef;
  filter: MoRef;
  view: MoRef;
}

/** Options of {@link UpdateWatcher.waitForUpdates}. */
export interface WaitOptions extends CallOptions {
  /** Seconds the server may wait for a change; 0 checks once. @default 30 */
  maxWaitSeconds?: number;
  /** Object updates per answer before it is truncated. */
  maxObjectUpdates?: number;
}

/** See {@link VsphereClient.createWatcher}. */
export async function createWatcher<T extends InventoryType>(
  client: VsphereClient,
  opts: Omit<RetrieveOptions<T>, 'maxObjects'>,
): Promise<UpdateWatcher> {
  const callOpts = { signal: opts.signal, timeoutMs: opts.timeoutMs };
  const sc = client.serviceContent;
  const [pcRet] = await client.call('CreatePropertyCollector', sc.propertyCollector, '', callOpts);
  const collector = toMoRef(pcRet!);
  const view = await createContainerView(client, opts, callOpts);
  const [fRet] = await client.call(
    'CreateFilter',
    collector,
    viewFilterSpec('spec', view, propertySets(opts)) + el('partialUpdates', false),
    callOpts,
  );
  return new UpdateWatcher(client, { collector, filter: toMoRef(fRet!), view });
}

/** An incremental-sync watch: WaitForUpdatesEx on a dedicated collector. */
export class UpdateWatcher {
  constructor(
    private readonly client: VsphereClient,
    /** Serialisable references for {@link VsphereClient.resumeWatcher}. */
    readonly ref: WatcherRef,
  ) {}

  /**
   * One WaitForUpdatesEx. Pass `''` first to get the current state of everything (as `enter`
   * updates) and a version; then pass the last version to get changes since. Throws
   * {@link InvalidVersionError} when the collector rejects the version (fall back to a full retrieval).
   */
  async waitForUpdates(version: string, opts: WaitOptions = {}): Promise<UpdateBatch> {
    const maxWait = opts.maxWaitSeconds ?? 30;
    const args =
      el('version', version) +
      el('options', [el('maxWaitSeconds', maxWait), el('maxObjectUpdates', opts.maxObjectUpdates)]);
    const rets = await this.client.call('WaitForUpdatesEx', this.ref.collector, args, {
      signal: opts.signal,
      // The server holds the call for up to maxWaitSeconds; the timeout is on top of that.
      timeoutMs: maxWait * 1000 + (opts.timeoutMs ?? this.client.transport.timeoutMs),
      // Never repeated after a failure once sent: the server may have taken the pending updates off the
      // collector's queue before the answer was lost, and the repeat would then answer "no updates".
      idempotent: false,
    });
    const ret = rets[0];
    if (!ret) return { version, truncated: false, objects: [] }; // waited, nothing changed
    return decodeUpdateSet(ret);
  }

  /**
   * Yields update batches from `version`, continuing truncated sets at once (maxWaitSeconds 0) until
   * the set is complete; the last batch's version is the one to store.
   */
  async *updatesSince(version: string, opts: WaitOptions = {}): AsyncGenerator<UpdateBatch, void, undefined> {
    let batch = await this.waitForUpdates(version, opts);
    yield batch;
    while (batch.truncated) {
      batch = await this.waitForUpdates(batch.version, { ...opts, maxWaitSeconds: 0 });
      yield batch;
    }
  }

  /**
   * Whether the collector still holds this watch's filter, asked in the client's session. A collector
   * without the filter answers every WaitForUpdatesEx with "no updates", so an empty answer proves
   * nothing until this says true. A collector the session cannot see faults (ManagedObjectNotFound).
   */
  async holdsFilter(opts: CallOptions = {}): Promise<boolean> {
    const filters = await this.client.readProperty(this.ref.collector, 'filter', opts);
    const held = Array.isArray(filters) ? filters : filters === undefined ? [] : [filters];
    return held.some(
      (f) =>
        typeof f === 'object' &&
        f !== null &&
        !Array.isArray(f) &&
        (f as Record<string, unknown>).value === this.ref.filter.value,
    );
  }

  /** Destroys the filter, view and collector (best effort). */
  async destroy(): Promise<void> {
    const o = { timeoutMs: 10_000 };
    await this.client.call('DestroyPropertyFilter', this.ref.filter, '', o).catch(() => {});
    await this.client.call('DestroyView', this.ref.view, '', o).catch(() => {});
    await this.client.call('DestroyPropertyCollector', this.ref.collector, '', o).catch(() => {});
  }
}

/** Decodes an UpdateSet (WaitForUpdatesEx returnval). */
export function decodeUpdateSet(ret: XNode): UpdateBatch {
  const objects: ObjectUpdate[] = [];
  for (const fs of childrenNamed(ret, 'filterSet')) {
    for (const os of childrenNamed(fs, 'objectSet')) {
      const obj = child(os, 'obj');
      const changes: PropertyChange[] = childrenNamed(os, 'changeSet').map((cs) => {
        const val = child(cs, 'val');
        return {
          name: childText(cs, 'name') ?? '',
          op: (childText(cs, 'op') ?? 'assign') as PropertyChange['op'],
          value: val ? decodeValue(val) : undefined,
        };
      });
      objects.push({
        kind: (childText(os, 'kind') ?? 'modify') as ObjectUpdate['kind'],
        type: obj?.refType ?? '',
        moid: obj?.text ?? '',
        changes,
      });
    }
  }
  return {
    version: childText(ret, 'version') ?? '',
    truncated: childText(ret, 'truncated') === 'true',
    objects,
  };
}
