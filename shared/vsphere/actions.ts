// vSphere adapter — VM actions: console tickets, the screen PNG, power and destroy tasks and waiting for a
// task, in a VsphereClient's session. Reached through the client's methods of the same names.

import { setTimeout as sleep } from 'node:timers/promises';
import type { VsphereClient } from './client.ts';
import { NetworkError, TaskError, VsphereError } from './errors.ts';
import { childText, toMoRef } from './parse.ts';
import type { CallOptions } from './transport.ts';
import type { MoRef, VimValue } from './types.ts';
import { el } from './xml.ts';

/** TaskInfo's outcome. */
export interface TaskResult {
  task: MoRef;
  result: VimValue | undefined;
}

/** A WebMKS ticket (VirtualMachineTicket). */
export interface WebMksTicket {
  ticket: string;
  host: string | undefined;
  port: number | undefined;
  sslThumbprint: string | undefined;
  url: string | undefined;
}

/**
 * Key of the client's GET of a non-SOAP path with the session cookie (one re-login on 401/403), which the
 * screenshot needs. A symbol kept out of `index.ts`, so it is no part of the client's public surface.
 */
export const getInSession: unique symbol = Symbol('VsphereClient.getInSession');

/** See {@link VsphereClient.acquireWebMksTicket}. */
export async function acquireWebMksTicket(
  client: VsphereClient,
  vm: MoRef,
  opts: CallOptions = {},
): Promise<WebMksTicket> {
  const [ret] = await client.call('AcquireTicket', vm, el('ticketType', 'webmks'), opts);
  const port = childText(ret, 'port');
  return {
    ticket: childText(ret, 'ticket') ?? '',
    host: childText(ret, 'host'),
    port: port === undefined ? undefined : Number(port),
    sslThumbprint: childText(ret, 'sslThumbprint'),
    url: childText(ret, 'url'),
  };
}

/** See {@link VsphereClient.screenshot}. */
export async function screenshot(client: VsphereClient, vm: MoRef, opts: CallOptions = {}): Promise<Buffer> {
  const res = await client[getInSession](`/screen?id=${encodeURIComponent(vm.value)}`, opts);
  if (res.status !== 200) {
    throw new NetworkError(`GET /screen for ${vm.value}: HTTP ${res.status}`, {
      method: 'GET /screen',
      code: `HTTP_${res.status}`,
      statusCode: res.status,
    });
  }
  return res.body;
}

/** Calls a `*_Task` method on `self` and returns the Task reference. */
export async function startTask(
  client: VsphereClient,
  method: 'PowerOnVM_Task' | 'PowerOffVM_Task' | 'Destroy_Task',
  self: MoRef,
  opts: CallOptions = {},
): Promise<MoRef> {
  return toMoRef((await client.call(method, self, '', opts))[0]!);
}

/** See {@link VsphereClient.waitForTask}. */
export async function waitForTask(
  client: VsphereClient,
  task: MoRef,
  opts: CallOptions & { pollMs?: number } = {},
): Promise<TaskResult> {
  const deadline = Date.now() + (opts.timeoutMs ?? 300_000);
  let delay = opts.pollMs ?? 100;
  for (;;) {
    const props = await client.readProperties(task, ['info.state', 'info.result', 'info.error'], opts);
    const state = props['info.state'];
    if (state === 'success') return { task, result: props['info.result'] };
    if (state === 'error') {
      const err = props['info.error'] as Record<string, VimValue> | undefined;
      const fault = err?.fault as Record<string, VimValue> | undefined;
      throw new TaskError(
        task.value,
        String(fault?._type ?? 'Unknown'),
        String(err?.localizedMessage ?? ''),
        err,
      );
    }
    if (Date.now() > deadline)
      throw new VsphereError(`task ${task.value} still ${String(state)} at its deadline`);
    await sleep(delay, undefined, opts.signal ? { signal: opts.signal } : undefined);
    delay = Math.min(1000, delay * 2);
  }
}
