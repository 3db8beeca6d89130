// Local runtime — the dashboard (web/) at /dashboard/: the built assets with the same security headers as
// CloudFront sends, and `config.json` pointing the page at this runtime's API, WebSocket and dev issuer.
// `buildDashboard` runs Vite's production build, as `npm run build:web` does.
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import type { DashboardConfig } from '#shared/contracts';
import {
  dashboardBasePath,
  dashboardContentSecurityPolicy,
  dashboardDistDir,
  dashboardSecurityHeaders,
} from '../dashboard-site.ts';
import { devIssuerName } from './dev-issuer.ts';
import { dashboardClient, devOidcPath } from './dev-oidc.ts';

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** Builds web/ into web/dist with Vite (its config: web/vite.config.ts). */
export async function buildDashboard(root: string): Promise<void> {
  const { build } = await import('vite');
  await build({ configFile: join(root, 'web/vite.config.ts'), logLevel: 'warn' });
}

/** The config the page reads: this runtime's endpoints, as the browser reaches them. */
function localConfig(req: IncomingMessage, wsUrl: string): DashboardConfig {
  const origin = `http://${req.headers.host ?? '127.0.0.1'}`;
  return {
    apiUrl: '',
    wsUrl,
    oidc: {
      issuer: devIssuerName,
      authorizationEndpoint: `${origin}${devOidcPath}/authorize`,
      tokenEndpoint: `${origin}${devOidcPath}/token`,
      clientId: dashboardClient.clientId,
      scope: 'openid profile',
      idTokenSigningAlg: 'ES256',
    },
  };
}

export interface DashboardSite {
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
}

/** Serves `<root>/web/dist` under /dashboard/; unknown paths get the page (its tabs live in the hash). */
export function dashboardSite(options: { root: string; wsUrl: string }): DashboardSite {
  const dist = resolve(options.root, dashboardDistDir);
  return {
    async handle(req, res, url) {
      if (url.pathname === dashboardBasePath.slice(0, -1)) {
        res.writeHead(308, { location: dashboardBasePath });
        res.end();
        return true;
      }
      if (!url.pathname.startsWith(dashboardBasePath)) return false;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { 'content-type': 'application/json', allow: 'GET, HEAD' });
        res.end(
          JSON.stringify({ error: 'method_not_allowed', message: `${req.method} is not allowed here` }),
        );
        return true;
      }
      const config = localConfig(req, options.wsUrl);
      const headers = {
        'content-security-policy': dashboardContentSecurityPolicy(config),
        'x-frame-options': dashboardSecurityHeaders.frameOptions,
        'referrer-policy': dashboardSecurityHeaders.referrerPolicy,
        'x-content-type-options': dashboardSecurityHeaders.contentTypeOptions,
      };
      const relative = decodeURIComponent(url.pathname.slice(dashboardBasePath.length));
      if (relative === 'config.json') {
        res.writeHead(200, { ...headers, 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify(config));
        return true;
      }
      let file = resolve(dist, relative || 'index.html');
      // No climbing out of the build directory, however the path is spelled.
      if (file !== dist && !file.startsWith(dist + sep)) file = join(dist, 'index.html');
      const found = await stat(file).catch(() => undefined);
      if (!found?.isFile()) {
        // A missing asset is a 404; any other path is the page itself (a deep link).
        if (relative.startsWith('assets/')) {
          res.writeHead(404, { ...headers, 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'not_found', message: `No dashboard asset ${relative}` }));
          return true;
        }
        file = join(dist, 'index.html');
      }
      let body: Buffer;
      try {
        body = await readFile(file);
      } catch {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: 'dashboard_not_built',
            message: 'The dashboard is not built: run `npm run build:web` (npm run dev does it at start).',
          }),
        );
        return true;
      }
      // Hashed assets never change; the page and its config must be re-read on every load.
      const immutable = relative.startsWith('assets/');
      res.writeHead(200, {
        ...headers,
        'content-type': contentTypes[extname(file)] ?? 'application/octet-stream',
        'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    },
  };
}
