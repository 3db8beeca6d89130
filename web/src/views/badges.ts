// What deserves an operator's eye on a node, as badges both the Overview and the Workers tab show: failed
// services, a node gone silent (expired after 60 s, removed after 10 min) and a missing agent connection.
import { h } from '../dom.ts';
import type { NodeView } from '../protocol.ts';

export interface Badge {
  readonly kind: 'failed' | 'expired' | 'removed' | 'no-agent';
  readonly text: string;
}

export function failedServices(node: NodeView): string[] {
  return Object.entries(node.metrics?.services ?? {})
    .filter(([, state]) => state === 'error')
    .map(([name]) => name);
}

export function badgesOf(node: NodeView): Badge[] {
  const badges: Badge[] = [];
  const failed = failedServices(node);
  if (failed.length > 0) {
    badges.push({
      kind: 'failed',
      text: `${failed.length} failed: ${failed.join(', ')}`,
    });
  }
  if (node.status === 'expired') badges.push({ kind: 'expired', text: 'silent (expired)' });
  if (node.status === 'removed') badges.push({ kind: 'removed', text: 'gone (removed)' });
  if (node.status !== 'removed' && node.agent_connected === false)
    badges.push({ kind: 'no-agent', text: 'no agent connection' });
  return badges;
}

export function badgeList(node: NodeView): HTMLElement {
  const badges = badgesOf(node);
  return h(
    'span',
    { class: 'badges' },
    ...(badges.length > 0
      ? badges.map((badge) =>
          h('span', { class: `badge badge-${badge.kind}`, 'data-badge': badge.kind }, badge.text),
        )
      : [h('span', { class: 'badge badge-ok', 'data-badge': 'ok' }, 'ok')]),
  );
}
