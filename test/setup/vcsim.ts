// Test harness — a simulated vCenter for tests: `startVcsim` with a random password unless the test names
// one, its passwords and, when it stops, its live session cookies planted for the secret-leak scan
// (test/setup/leaks.ts).
import { randomBytes } from 'node:crypto';
import { startVcsim, type VcsimOptions, type VcsimService } from '../../infra/local/services/vcsim.ts';
import { plantSecret } from './leaks.ts';

export async function startTestVcsim(options: VcsimOptions = {}): Promise<VcsimService> {
  // vcsim's default ('pass') is too short to tell apart from ordinary text.
  const password = options.password ?? `vcsim-${randomBytes(12).toString('base64url')}`;
  plantSecret('vcenter password', password);
  for (const user of Object.values(options.users ?? {})) plantSecret('vcenter password', user.password);
  const vcsim = await startVcsim({ ...options, password });
  let planted = false;
  const plantSessions = async () => {
    if (planted) return;
    planted = true;
    // Best effort: a test may have stopped the simulator's answers (or the process) on purpose.
    const keys = await vcsim.sessionKeys().catch(() => []);
    for (const key of keys) plantSecret('vsphere session cookie', key);
  };
  return {
    ...vcsim,
    stop: async () => {
      await plantSessions();
      await vcsim.stop();
    },
  };
}
