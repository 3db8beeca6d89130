// Infra — the dashboard's (web/) security headers, declared once for both targets: CloudFront's response
// headers policy in AWS (infra/stacks) and the local runtime's static server (infra/local/dashboard.ts).
import type { DashboardConfig } from '../shared/contracts/index.ts';

/** Where the built dashboard is (`npm run build:web`), relative to the repository root. */
export const dashboardDistDir = 'web/dist';
/** The path the dashboard is served under, locally and behind CloudFront. */
export const dashboardBasePath = '/dashboard/';

/**
 * The Content-Security-Policy: the page's own scripts and styles only (Vite emits no inline code), network
 * access to the API, the WebSocket and the issuer's token endpoint, no framing, no plugins, forms only to
 * the issuer. URLs may be CDK tokens: they are listed as given (a CSP source may carry a path).
 */
export function dashboardContentSecurityPolicy(config: DashboardConfig): string {
  const connect = ["'self'", config.apiUrl, config.wsUrl, config.oidc.tokenEndpoint].filter(Boolean);
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src ${[...new Set(connect)].join(' ')}`,
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}

/** The other security headers, with the values both targets send. */
export const dashboardSecurityHeaders = {
  /** Two years, subdomains included (CloudFront only: browsers ignore HSTS over plain HTTP). */
  strictTransportSecuritySeconds: 63_072_000,
  frameOptions: 'DENY',
  referrerPolicy: 'no-referrer',
  contentTypeOptions: 'nosniff',
} as const;
