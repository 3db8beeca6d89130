// Placement — secondary adapter: scale-in protection of busy nodes. A node that holds a project is protected
// from scale-in, and the protection is cleared when its last project is released, so the Auto Scaling group
// only ever terminates idle nodes. Nodes without an EC2 instance id (local agents) have nothing to protect.
import { AutoScalingClient, SetInstanceProtectionCommand } from '@aws-sdk/client-auto-scaling';
import { ConfigError, optionalEnv } from '#shared/config';

/** Sets or clears a node's scale-in protection. */
export interface NodeProtection {
  /** Protects or unprotects the instance according to how many projects it holds now. */
  update(instanceId: string | undefined, projectsHeld: number): Promise<void>;
}

/** Protection through the Auto Scaling API, for the instances of group `groupName`. */
export function autoScalingProtection(
  client: AutoScalingClient,
  groupName: string | undefined,
): NodeProtection {
  return {
    async update(instanceId, projectsHeld) {
      if (!instanceId) return;
      if (!groupName) {
        throw new ConfigError(`NODE_AUTO_SCALING_GROUP is required to protect node instance ${instanceId}`);
      }
      await client.send(
        new SetInstanceProtectionCommand({
          AutoScalingGroupName: groupName,
          InstanceIds: [instanceId],
          ProtectedFromScaleIn: projectsHeld > 0,
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
