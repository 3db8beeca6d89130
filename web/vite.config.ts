// The dashboard's build: plain TypeScript modules and CSS, served under /dashboard/ (the local runtime and
// CloudFront both put it there). No inline scripts or styles, so the strict CSP holds.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/dashboard/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // A single small module graph: no inline data URLs (CSP), source maps for the browser's debugger.
    assetsInlineLimit: 0,
    sourcemap: true,
  },
  logLevel: 'warn',
});
