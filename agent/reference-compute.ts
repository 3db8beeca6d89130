// Node agent — the reference compute service, for dev and tests: it keeps each project's data in a directory
// of its own (so sizes are real bytes on disk) and answers each request with a result that depends on that
// state. Commands (`dsl`): `append <text>` adds a line, `grow <bytes>` adds data, `sleep <ms>` takes time;
// every answer carries the request count and a digest of the project's log.
import { createHash } from 'node:crypto';
import { appendFile, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ReferenceCompute {
  readonly url: string;
  /** While on, requests are accepted and never answered (a hung engine: its agent becomes a zombie). */
  hang(on: boolean): void;
  stop(): Promise<void>;
}

const projectPath = /^\/projects\/([a-z0-9][a-z0-9_-]{0,63})\/compute$/;

async function sizeOf(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir).catch(() => [] as string[]))
    total += (await stat(join(dir, name))).size;
  return total;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function answer(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export async function startReferenceCompute(options: {
  readonly dir: string;
  readonly host?: string;
}): Promise<ReferenceCompute> {
  await mkdir(options.dir, { recursive: true });
  let hung = false;
  const held = new Set<ServerResponse>();

  async function run(projectId: string, dsl: string) {
    const dir = join(options.dir, projectId);
    await mkdir(dir, { recursive: true });
    const [command = '', ...rest] = dsl.trim().split(/\s+/);
    const argument = rest.join(' ');
    if (command === 'grow')
      await appendFile(join(dir, 'data.bin'), Buffer.alloc(Math.min(Number(argument) || 0, 64 * 1024 ** 2)));
    if (command === 'sleep') await sleep(Math.min(Number(argument) || 0, 120_000));
    await appendFile(join(dir, 'log'), `${dsl.replace(/\n/g, ' ')}\n`);
    const log = await readFile(join(dir, 'log'));
    return {
      project: projectId,
      requests: log.toString('utf8').split('\n').length - 1,
      digest: createHash('sha256').update(log).digest('hex').slice(0, 16),
      sizeBytes: await sizeOf(dir),
    };
  }

  const server = createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? '/', 'http://compute');
      if (request.method === 'GET' && url.pathname === '/projects') {
        const ids = await readdir(options.dir).catch(() => [] as string[]);
        return answer(response, 200, {
          items: await Promise.all(
            ids.map(async (id) => ({ id, sizeBytes: await sizeOf(join(options.dir, id)) })),
          ),
        });
      }
      const match = request.method === 'POST' ? projectPath.exec(url.pathname) : null;
      if (!match?.[1]) return answer(response, 404, { error: 'not_found', message: 'No such route' });
      const body = JSON.parse((await readBody(request)) || '{}') as { dsl?: unknown };
      if (typeof body.dsl !== 'string')
        return answer(response, 400, { error: 'bad_request', message: 'dsl is required' });
      if (hung) {
        held.add(response);
        return;
      }
      answer(response, 200, await run(match[1], body.dsl));
    })().catch((error: Error) => {
      if (!response.headersSent) answer(response, 500, { error: 'engine_failed', message: error.message });
    });
  });
  await new Promise<void>((ready) => server.listen(0, options.host ?? '127.0.0.1', ready));
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    hang(on) {
      hung = on;
      if (!on) {
        for (const response of held) response.destroy();
        held.clear();
      }
    },
    async stop() {
      for (const response of held) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
