// Placement — secondary adapter: scale-in protection of busy nodes. A node that holds a project is protected
// from scale-in, and the protection is cleared when its last project is released, so the Auto Scaling group
// only ever terminates idle nodes; a node that expired is reported unhealthy, so the group replaces it (a dead
// agent on a running instance passes EC2's own health check). Nodes without an EC2 instance id (local agents)
// have nothing to protect or replace.
import {
  AutoScalingClient,
  SetInstanceHealthCommand,
  SetInstanceProtectionCommand,
} from '@aws-sdk/client-auto-scaling';
import { ConfigError, optionalEnv } from '#shared/config';

/** Sets or clears a node's scale-in protection. */
export interface NodeProtection {
  /** Protects or unprotects the instance according to how many projects it holds now. */
  update(instanceId: string | undefined, projectsHeld: number): Promise<void>;
  /** Reports the instance of an expired node unhealthy, so the group replaces it. */
  replace(instanceId: string | undefined): Promise<void>;
}

/** Protection through the Auto Scaling API, for the instances of group `groupName`. */
export function autoScalingProtection(
  client: AutoScalingClient,
  groupName: string | undefined,
): NodeProtection {
  const group = (instanceId: string) => {
    if (!groupName)
      throw new ConfigError(`NODE_AUTO_SCALING_GROUP is required to manage node instance ${instanceId}`);
    return groupName;
  };
  return {
    async update(instanceId, projectsHeld) {
      if (!instanceId) return;
      await client.send(
        new SetInstanceProtectionCommand({
          AutoScalingGroupName: group(instanceId),
          InstanceIds: [instanceId],
          ProtectedFromScaleIn: projectsHeld > 0,
        }),
      );
    },
    async replace(instanceId) {
      if (!instanceId) return;
      group(instanceId);
      // Scale-in protection does not stop a health replacement; the grace period does not apply to it either.
      await client.send(
        new SetInstanceHealthCommand({
          InstanceId: instanceId,
          HealthStatus: 'Unhealthy',
          ShouldRespectGracePeriod: false,
        }),
      );
    },
  };
}

let processProtection: NodeProtection | undefined;

/** The process's protection: one Auto Scaling client, the group from `NODE_AUTO_SCALING_GROUP`. */
export function nodeProtection(): NodeProtection {
  processProtection ??= autoScalingProtection(
    new AutoScalingClient({}),
    optionalEnv('NODE_AUTO_SCALING_GROUP', '') || undefined,
  );
  return processProtection;
}
