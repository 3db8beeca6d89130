// Test harness — a simulated vCenter for tests: `startVcsim` with a random password unless the test names
// one, its passwords and, when it stops, its live session cookies planted for the secret-leak scan
// (test/setup/leaks.ts).
import { randomBytes } from 'node:crypto';
import { startVcsim, type VcsimOptions, type VcsimService } from '../../infra/local/services/vcsim.ts';
import { plantSecret } from './leaks.ts';

// vcsim's default ('pass') is too short to tell apart from ordinary text. One per process, as 'pass' was for
// every simulator: a test that stops and starts its simulator again logs in with the same password.
const defaultPassword = `vcsim-${randomBytes(12).toString('base64url')}`;

export async function startTestVcsim(options: VcsimOptions = {}): Promise<VcsimService> {
  const password = options.password ?? defaultPassword;
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
